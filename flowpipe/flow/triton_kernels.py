"""The TV-L1 iteration as a Triton kernel: one primal-dual step of BLOCK pixels of one pair.

A launch reads the state (u, px, py) from one buffer set and writes it to the other, so no
program reads what another writes: the dual step at a pixel needs the new u of its right and
lower neighbours, which the program recomputes from the old state (the primal step at three
positions) rather than waiting for them. See `triton_backend` for the launches and the flags
that say which pairs are still going.
"""

from __future__ import annotations

import triton
import triton.language as tl

# Sizes change with every pyramid level: one compiled kernel for all of them.
NOT_SPECIALIZED = ["home", "height", "width"]


@triton.jit
def pair_block(pairs_ptr, prev_ptr, threshold, hw, BLOCK: tl.constexpr):
    """This program's pair, whether it is still going (its change in the previous launch above
    the threshold), its pixel offsets, and their mask (in the frame, and the pair going)."""
    pair = tl.load(pairs_ptr + tl.program_id(1)).to(tl.int64)
    going = tl.load(prev_ptr + pair) > threshold
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    return pair, going, offs, offs < tl.where(going, hw, 0)


@triton.jit
def _field(ptr, at, hw, inside):
    """Both channels of a [2, H, W] field at offsets `at`, 0 outside `inside`."""
    a = tl.load(ptr + at, mask=inside, other=0.0)
    b = tl.load(ptr + hw + at, mask=inside, other=0.0)
    return a, b


@triton.jit
def _data_step(g_ptr, rho_ptr, inv_ptr, flow, plane, hw, at, inside, u_a, u_b, l_t):
    """Wedel's thresholding at offsets `at`: the step of u along the warped gradient g, from
    the residual rho + g . u and 1 / |g|^2, clamped to +-l_t; per flow channel."""
    g_a, g_b = _field(g_ptr + flow, at, hw, inside)
    rho = tl.load(rho_ptr + plane + at, mask=inside, other=0.0)
    inv = tl.load(inv_ptr + plane + at, mask=inside, other=0.0)
    r = rho + g_a * u_a + g_b * u_b
    st = tl.minimum(tl.maximum(-r * inv, -l_t), l_t)
    return st * g_a, st * g_b


@triton.jit
def _primal(u, step, px, px_left, py, py_up, theta):
    """One flow channel after the primal step: the data step plus theta times the duals'
    divergence (backward differences; px_left / py_up are 0 at the left / top border)."""
    return u + step + theta * ((px - px_left) + (py - py_up))


@triton.jit
def _dual(u, u_right, u_down, px, py, x, y, height, width, taut):
    """Chambolle's dual step of one flow channel, from the new u here and at the right and
    lower neighbours (forward differences, 0 on the last column / row)."""
    dx = tl.where(x < width - 1, u_right - u, 0.0)
    dy = tl.where(y < height - 1, u_down - u, 0.0)
    nm = 1.0 / (1.0 + taut * tl.sqrt(dx * dx + dy * dy))  # one division for both duals
    return (px + taut * dx) * nm, (py + taut * dy) * nm


@triton.jit(do_not_specialize=NOT_SPECIALIZED)
def iteration(
    su,
    spx,
    spy,
    du,
    dpx,
    dpy,
    g_ptr,
    rho_ptr,
    inv_ptr,
    pairs_ptr,
    prev_ptr,
    cur_ptr,
    next_ptr,
    home_ptr,
    home,
    threshold,
    height,
    width,
    l_t,
    theta,
    taut,
    BLOCK: tl.constexpr,
):
    """One TV-L1 iteration of BLOCK pixels of pair pairs_ptr[program_id(1)], from (su, spx,
    spy) into (du, dpx, dpy), for a pair still going; its squared flow change summed into
    cur_ptr[pair], next_ptr[pair] cleared for the next launch, home_ptr[pair] = home."""
    hw = height * width
    pair, going, offs, mask = pair_block(pairs_ptr, prev_ptr, threshold, hw, BLOCK)
    first = tl.program_id(0) == 0
    tl.store(next_ptr + pair, 0.0, mask=first)
    tl.store(home_ptr + pair, home, mask=first & going)
    if going:  # a pair that converged costs its programs a flag read, not the stencil
        any_px = tl.sum(mask.to(tl.int32), axis=0) > 0
        x = offs % width
        y = offs // width
        flow = pair * 2 * hw
        plane = pair * hw
        right = mask & (x < width - 1)
        down = mask & (y < height - 1)
        su, spx, spy = su + flow, spx + flow, spy + flow
        # The old state here, at the right neighbour (r) and at the lower one (d), and the
        # duals their divergences read: left of each (l) and above each (u).
        u_a, u_b = _field(su, offs, hw, mask)
        ur_a, ur_b = _field(su, offs + 1, hw, right)
        ud_a, ud_b = _field(su, offs + width, hw, down)
        px_a, px_b = _field(spx, offs, hw, mask)
        py_a, py_b = _field(spy, offs, hw, mask)
        pxl_a, pxl_b = _field(spx, offs - 1, hw, mask & (x > 0))
        pyu_a, pyu_b = _field(spy, offs - width, hw, mask & (y > 0))
        pxr_a, pxr_b = _field(spx, offs + 1, hw, right)
        pyr_a, pyr_b = _field(spy, offs + 1, hw, right)
        pyru_a, pyru_b = _field(spy, offs + 1 - width, hw, right & (y > 0))
        pxd_a, pxd_b = _field(spx, offs + width, hw, down)
        pyd_a, pyd_b = _field(spy, offs + width, hw, down)
        pxdl_a, pxdl_b = _field(spx, offs + width - 1, hw, down & (x > 0))
        # The primal step at the three positions.
        s_a, s_b = _data_step(g_ptr, rho_ptr, inv_ptr, flow, plane, hw, offs, mask, u_a, u_b, l_t)
        sr_a, sr_b = _data_step(
            g_ptr, rho_ptr, inv_ptr, flow, plane, hw, offs + 1, right, ur_a, ur_b, l_t
        )
        sd_a, sd_b = _data_step(
            g_ptr, rho_ptr, inv_ptr, flow, plane, hw, offs + width, down, ud_a, ud_b, l_t
        )
        n_a = _primal(u_a, s_a, px_a, pxl_a, py_a, pyu_a, theta)
        n_b = _primal(u_b, s_b, px_b, pxl_b, py_b, pyu_b, theta)
        nr_a = _primal(ur_a, sr_a, pxr_a, px_a, pyr_a, pyru_a, theta)
        nr_b = _primal(ur_b, sr_b, pxr_b, px_b, pyr_b, pyru_b, theta)
        nd_a = _primal(ud_a, sd_a, pxd_a, pxdl_a, pyd_a, py_a, theta)
        nd_b = _primal(ud_b, sd_b, pxd_b, pxdl_b, pyd_b, py_b, theta)
        # The dual step here, then the pair's squared change and the new state.
        qx_a, qy_a = _dual(n_a, nr_a, nd_a, px_a, py_a, x, y, height, width, taut)
        qx_b, qy_b = _dual(n_b, nr_b, nd_b, px_b, py_b, x, y, height, width, taut)
        d = tl.where(mask, (n_a - u_a) * (n_a - u_a) + (n_b - u_b) * (n_b - u_b), 0.0)
        tl.atomic_add(cur_ptr + pair, tl.sum(d, axis=0), mask=any_px)
        at = flow + offs
        tl.store(du + at, n_a, mask=mask)
        tl.store(du + hw + at, n_b, mask=mask)
        tl.store(dpx + at, qx_a, mask=mask)
        tl.store(dpx + hw + at, qx_b, mask=mask)
        tl.store(dpy + at, qy_a, mask=mask)
        tl.store(dpy + hw + at, qy_b, mask=mask)
