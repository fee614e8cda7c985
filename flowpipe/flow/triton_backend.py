"""The TV-L1 inner loop as Triton kernels, with the stopping rule kept on the device.

Two kernels per iteration, each one pass over memory and in place: the primal step
(thresholding, divergence, flow update, and the per-pair squared change summed atomically)
and the dual step (forward gradient and Chambolle's update). A per-pair `active` flag, updated
on the device after each iteration, masks converged pairs out of both kernels, so the host
only synchronises every CHECK_EVERY iterations to stop early: the per-pair semantics of
OpenCV's rule are kept exactly, without a host round trip per iteration. On CPU the kernels run
under TRITON_INTERPRET=1 (tests); the pure-torch path gives the same flow.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable

import torch

from flowpipe.flow.params import TVL1Params

BLOCK = 1024
CHECK_EVERY = 8


def triton_available(device: torch.device) -> bool:
    """Triton runs on CUDA, or anywhere under TRITON_INTERPRET=1."""
    if importlib.util.find_spec("triton") is None:
        return False
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


@functools.cache
def _kernels() -> tuple[Callable, Callable]:
    """Define the kernels on first use (importing triton is slow and optional)."""
    import triton
    import triton.language as tl

    @triton.jit
    def primal(u_ptr, px_ptr, py_ptr, g_ptr, rho_ptr, inv_ptr, active_ptr, change_ptr,
               height, width, l_t, theta, BLOCK: tl.constexpr):  # fmt: skip
        pair = tl.program_id(1)
        hw = height * width
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = (offs < hw) & (tl.load(active_ptr + pair) != 0)
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
        tl.atomic_add(change_ptr + pair, tl.sum(change, axis=0))

    @triton.jit
    def dual(u_ptr, px_ptr, py_ptr, active_ptr, height, width, taut, BLOCK: tl.constexpr):
        pair = tl.program_id(1)
        hw = height * width
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = (offs < hw) & (tl.load(active_ptr + pair) != 0)
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

    return primal, dual


def iterate_warp_triton(
    state: tuple[torch.Tensor, ...],
    consts: tuple[torch.Tensor, ...],
    params: TVL1Params,
    threshold: float,
    median: Callable[[torch.Tensor, int], torch.Tensor],
) -> None:
    """One warp's inner/outer loops on the whole batch, in place on state (u, px, py)."""
    primal, dual = _kernels()
    u, px, py = state
    grad_i, rho_c, inv_grad = (t.contiguous() for t in consts)
    n, _, h, w = u.shape
    grid = (triton_cdiv(h * w, BLOCK), n)
    active = torch.ones(n, dtype=torch.int32, device=u.device)
    change = torch.zeros(n, dtype=torch.float32, device=u.device)
    l_t = params.lambda_ * params.theta
    taut = params.tau / params.theta
    for _ in range(params.outer_iterations):
        if params.median_filtering > 1:
            u.copy_(
                torch.where(active.view(n, 1, 1, 1) != 0, median(u, params.median_filtering), u)
            )
        for inner in range(params.inner_iterations):
            primal[grid](u, px, py, grad_i, rho_c, inv_grad, active, change, h, w, l_t,
                         params.theta, BLOCK=BLOCK)  # fmt: skip
            dual[grid](u, px, py, active, h, w, taut, BLOCK=BLOCK)
            active.mul_((change > threshold).to(torch.int32))
            change.zero_()
            if (inner + 1) % CHECK_EVERY == 0 and not bool(active.any()):
                return
        if not bool(active.any()):
            return


def triton_cdiv(a: int, b: int) -> int:
    """Ceiling division."""
    return -(-a // b)
