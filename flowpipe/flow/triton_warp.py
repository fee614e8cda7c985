"""The start of a warp as one Triton kernel: the second image and its gradient sampled at
x + u(x), and the constants of the linearised data term, per pixel.

The torch path does this in a dozen ops (sample positions, their 1/32 px snap, grid_sample,
the products, the guarded reciprocal), each a launch and a pass over memory; here one
program reads the flow and the 3 image planes around its pixels and writes the 4 constant
planes. Sampling follows grid_sample's (Keys a = -0.75 bicubic, or bilinear, zero outside
the frame), at the same snapped positions, so the flow is the torch path's.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from flowpipe.flow.ops import FLT_EPSILON, REMAP_SUBPIXEL_STEPS


@triton.jit
def _round_even(v):
    """v rounded to an integer, ties to even (torch.round), exact for |v| < 2**22."""
    r = tl.floor(v + 0.5)
    odd = (r - 2.0 * tl.floor(r * 0.5)) != 0.0
    return tl.where(((r - v) == 0.5) & odd, r - 1.0, r)


@triton.jit
def _cubic_weights(t):
    """Keys' weights (a = -0.75) of the taps at -1, 0, 1, 2 for fraction t, as grid_sample."""
    a = -0.75
    s = t + 1.0
    w0 = ((a * s - 5.0 * a) * s + 8.0 * a) * s - 4.0 * a
    w1 = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    r = 1.0 - t
    w2 = ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0
    s = 2.0 - t
    w3 = ((a * s - 5.0 * a) * s + 8.0 * a) * s - 4.0 * a
    return w0, w1, w2, w3


@triton.jit
def _tap(ptr, xi, yi, width, height, mask):
    """Value at integer (xi, yi), 0 outside the frame."""
    inside = mask & (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
    return tl.load(ptr + yi * width + xi, mask=inside, other=0.0)


@triton.jit
def _row(ptr, x0, yi, width, height, mask, w0, w1, w2, w3):
    """One row of a bicubic sample: taps x0 - 1 .. x0 + 2 weighted along x."""
    return (
        _tap(ptr, x0 - 1, yi, width, height, mask) * w0
        + _tap(ptr, x0, yi, width, height, mask) * w1
        + _tap(ptr, x0 + 1, yi, width, height, mask) * w2
        + _tap(ptr, x0 + 2, yi, width, height, mask) * w3
    )


@triton.jit
def _sample(ptr, px, py, width, height, mask, CUBIC: tl.constexpr):
    """grid_sample's value of the plane at (px, py): bicubic or bilinear, zeros padding."""
    xf = tl.floor(px)
    yf = tl.floor(py)
    tx = px - xf
    ty = py - yf
    x0 = xf.to(tl.int32)
    y0 = yf.to(tl.int32)
    if CUBIC:
        a0, a1, a2, a3 = _cubic_weights(tx)
        b0, b1, b2, b3 = _cubic_weights(ty)
        return (
            _row(ptr, x0, y0 - 1, width, height, mask, a0, a1, a2, a3) * b0
            + _row(ptr, x0, y0, width, height, mask, a0, a1, a2, a3) * b1
            + _row(ptr, x0, y0 + 1, width, height, mask, a0, a1, a2, a3) * b2
            + _row(ptr, x0, y0 + 2, width, height, mask, a0, a1, a2, a3) * b3
        )
    top = (
        _tap(ptr, x0, y0, width, height, mask) * (1.0 - tx)
        + _tap(ptr, x0 + 1, y0, width, height, mask) * tx
    )
    bottom = (
        _tap(ptr, x0, y0 + 1, width, height, mask) * (1.0 - tx)
        + _tap(ptr, x0 + 1, y0 + 1, width, height, mask) * tx
    )
    return top * (1.0 - ty) + bottom * ty


@triton.jit
def warp_consts_at(
    image,
    i0_ptr,
    x,
    y,
    ua,
    ub,
    offs,
    mask,
    width,
    height,
    hw,
    eps,
    steps,
    g_ptr,
    g_at,
    g_b,
    rho_ptr,
    inv_ptr,
    plane_at,
    CUBIC,
):
    """At pixels `offs` (x, y: their coordinates, float) of one pair: the image (planes I1,
    dI1/dx, dI1/dy at image, image + hw, image + 2 hw) sampled at the snapped x + u, and the
    data term's constants stored: the warped gradient g (planes g_ptr + g_at and + g_b),
    rho = warped I1 - g . u - I0 and inv = 1 / |g|^2, 0 where |g|^2 <= eps (planes rho_ptr
    + plane_at, inv_ptr + plane_at; I0 read from i0_ptr + plane_at)."""
    px = _round_even((x + ua) * steps) / steps
    py = _round_even((y + ub) * steps) / steps
    i1 = _sample(image, px, py, width, height, mask, CUBIC)
    gx = _sample(image + hw, px, py, width, height, mask, CUBIC)
    gy = _sample(image + 2 * hw, px, py, width, height, mask, CUBIC)
    grad_sq = gx * gx + gy * gy
    i0 = tl.load(i0_ptr + plane_at + offs, mask=mask, other=0.0)
    tl.store(g_ptr + g_at + offs, gx, mask=mask)
    tl.store(g_ptr + g_at + g_b + offs, gy, mask=mask)
    tl.store(rho_ptr + plane_at + offs, (i1 - (gx * ua + gy * ub)) - i0, mask=mask)
    flat = grad_sq <= eps
    inv = tl.where(flat, 0.0, 1.0 / tl.where(flat, 1.0, grad_sq))
    tl.store(inv_ptr + plane_at + offs, inv, mask=mask)


@triton.jit(do_not_specialize=["height", "width"])
def warp_consts_kernel(
    img_ptr,
    i0_ptr,
    u_ptr,
    g_ptr,
    rho_ptr,
    inv_ptr,
    height,
    width,
    eps,
    steps,
    BLOCK: tl.constexpr,
    CUBIC: tl.constexpr,
):
    """`warp_consts_at` for BLOCK pixels of pair program_id(1), from [N,3,H,W] images,
    [N,1,H,W] I0 and [N,2,H,W] flow into g [N,2,H,W], rho and inv [N,1,H,W]."""
    pair = tl.program_id(1).to(tl.int64)
    hw = height * width
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < hw
    x = (offs % width).to(tl.float32)
    y = (offs // width).to(tl.float32)
    flow = pair * 2 * hw
    ua = tl.load(u_ptr + flow + offs, mask=mask, other=0.0)
    ub = tl.load(u_ptr + flow + hw + offs, mask=mask, other=0.0)
    image = img_ptr + pair * 3 * hw
    plane = pair * hw
    warp_consts_at(
        image,
        i0_ptr,
        x,
        y,
        ua,
        ub,
        offs,
        mask,
        width,
        height,
        hw,
        eps,
        steps,
        g_ptr,
        flow,
        hw,
        rho_ptr,
        inv_ptr,
        plane,
        CUBIC,
    )


def warp_consts_triton(
    i0: torch.Tensor,
    image_and_grad: torch.Tensor,
    u: torch.Tensor,
    grid: torch.Tensor,
    mode: str,
    block: int,
) -> tuple[torch.Tensor, ...]:
    """(warped gradient [N,2,H,W], rho_c [N,1,H,W], inv_grad [N,1,H,W]) of one warp, as
    solver.warp_consts computes them (the kernel knows the pixel coordinates: grid unused),
    with `block` pixels per program."""
    n, _, h, w = u.shape
    image_and_grad, i0, u = (t.contiguous() for t in (image_and_grad, i0, u))
    g = torch.empty_like(u)
    rho, inv = torch.empty_like(i0), torch.empty_like(i0)
    launch = (triton.cdiv(h * w, block), n)
    cubic = mode == "bicubic"
    sizes = (h, w, FLT_EPSILON, REMAP_SUBPIXEL_STEPS)
    warp_consts_kernel[launch](image_and_grad, i0, u, g, rho, inv, *sizes, BLOCK=block, CUBIC=cubic)
    return g, rho, inv
