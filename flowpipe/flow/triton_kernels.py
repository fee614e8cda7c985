"""Triton kernels of the TV-L1 iteration (imported only where Triton is used).

Layout: u, px, py, g [N, 2, H, W] and rho, inv [N, 1, H, W], contiguous float32. Program
(i, j) handles BLOCK pixels of pair pairs[j]; see triton_backend for the flag protocol.
"""

import triton
import triton.language as tl


@triton.jit
def pixel_block(pairs_ptr, prev_ptr, threshold, hw, BLOCK: tl.constexpr):
    """This program's pair, pixel offsets, and mask (in the frame and pair still active)."""
    pair = tl.load(pairs_ptr + tl.program_id(1))
    limit = tl.where(tl.load(prev_ptr + pair) > threshold, hw, 0)
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    return pair, offs, offs < limit


@triton.jit
def primal(u_ptr, px_ptr, py_ptr, g_ptr, rho_ptr, inv_ptr, pairs_ptr, prev_ptr, cur_ptr,
           threshold, height, width, l_t, theta, BLOCK: tl.constexpr):  # fmt: skip
    hw = height * width
    pair, offs, mask = pixel_block(pairs_ptr, prev_ptr, threshold, hw, BLOCK)
    x = offs % width
    y = offs // width
    c1 = pair * 2 * hw + offs
    c2 = c1 + hw
    u1 = tl.load(u_ptr + c1, mask=mask, other=0.0)
    u2 = tl.load(u_ptr + c2, mask=mask, other=0.0)
    g1 = tl.load(g_ptr + c1, mask=mask, other=0.0)
    g2 = tl.load(g_ptr + c2, mask=mask, other=0.0)
    rho = tl.load(rho_ptr + pair * hw + offs, mask=mask, other=0.0) + g1 * u1 + g2 * u2
    inv = tl.load(inv_ptr + pair * hw + offs, mask=mask, other=0.0)
    step = tl.minimum(tl.maximum(-rho * inv, -l_t), l_t)
    left = mask & (x > 0)
    up = mask & (y > 0)
    div1 = (tl.load(px_ptr + c1, mask=mask, other=0.0)
            - tl.load(px_ptr + c1 - 1, mask=left, other=0.0)
            + tl.load(py_ptr + c1, mask=mask, other=0.0)
            - tl.load(py_ptr + c1 - width, mask=up, other=0.0))  # fmt: skip
    div2 = (tl.load(px_ptr + c2, mask=mask, other=0.0)
            - tl.load(px_ptr + c2 - 1, mask=left, other=0.0)
            + tl.load(py_ptr + c2, mask=mask, other=0.0)
            - tl.load(py_ptr + c2 - width, mask=up, other=0.0))  # fmt: skip
    n1 = u1 + step * g1 + theta * div1
    n2 = u2 + step * g2 + theta * div2
    tl.store(u_ptr + c1, n1, mask=mask)
    tl.store(u_ptr + c2, n2, mask=mask)
    change = tl.where(mask, (n1 - u1) * (n1 - u1) + (n2 - u2) * (n2 - u2), 0.0)
    tl.atomic_add(
        cur_ptr + pair, tl.sum(change, axis=0), mask=tl.sum(mask.to(tl.int32), axis=0) > 0
    )


@triton.jit
def dual(u_ptr, px_ptr, py_ptr, pairs_ptr, prev_ptr, next_ptr, threshold, height, width,
         taut, BLOCK: tl.constexpr):  # fmt: skip
    hw = height * width
    pair, offs, mask = pixel_block(pairs_ptr, prev_ptr, threshold, hw, BLOCK)
    tl.store(next_ptr + pair, 0.0, mask=tl.program_id(0) == 0)
    x = offs % width
    y = offs // width
    right = mask & (x < width - 1)
    down = mask & (y < height - 1)
    for comp in tl.static_range(2):
        c = pair * 2 * hw + comp * hw + offs
        u = tl.load(u_ptr + c, mask=mask, other=0.0)
        ux = tl.where(right, tl.load(u_ptr + c + 1, mask=right, other=0.0) - u, 0.0)
        uy = tl.where(down, tl.load(u_ptr + c + width, mask=down, other=0.0) - u, 0.0)
        norm = 1.0 + taut * tl.sqrt(ux * ux + uy * uy)
        px = tl.load(px_ptr + c, mask=mask, other=0.0)
        py = tl.load(py_ptr + c, mask=mask, other=0.0)
        tl.store(px_ptr + c, (px + taut * ux) / norm, mask=mask)
        tl.store(py_ptr + c, (py + taut * uy) / norm, mask=mask)
