"""The TV-L1 inner loop as Triton kernels, with the stopping rule kept on the device.

Two kernels per iteration, each one pass over memory and in place: the primal step
(thresholding, divergence, flow update, and the per-pair squared change summed atomically)
and the dual step (forward gradient and Chambolle's update). A pair is active while the
change of its previous iteration exceeds the threshold; the kernels read that flag from a
ring of three change rows (previous, current, next: the dual step clears the next), so an
iteration is two launches and no host round trip. Every CHECK_EVERY iterations the host
reads the flags once, stops when all pairs have converged, and launches only the pairs still
active from then on: OpenCV's per-pair rule is kept exactly. On CPU the kernels run under
TRITON_INTERPRET=1 (tests); the pure-torch path gives the same flow.
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
    """The kernels, imported on first use (importing triton is slow and optional)."""
    from flowpipe.flow.triton_kernels import dual, primal

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
    blocks = triton_cdiv(h * w, BLOCK)
    # change[k % 3] collects iteration k; the previous row (+inf before the first) gives the flags.
    change = torch.zeros(3, n, dtype=torch.float32, device=u.device)
    change[2] = float("inf")
    alive = torch.ones(n, dtype=torch.bool, device=u.device)
    pairs = torch.arange(n, dtype=torch.int32, device=u.device)
    l_t = params.lambda_ * params.theta
    taut = params.tau / params.theta
    k = 0
    for _ in range(params.outer_iterations):
        if params.median_filtering > 1:
            flags = (change[(k - 1) % 3] > threshold).view(n, 1, 1, 1)
            u.copy_(torch.where(flags, median(u, params.median_filtering), u))
        for inner in range(params.inner_iterations):
            prev, cur, nxt = change[(k - 1) % 3], change[k % 3], change[(k + 1) % 3]
            grid = (blocks, len(pairs))
            primal[grid](u, px, py, grad_i, rho_c, inv_grad, pairs, prev, cur, threshold, h, w,
                         l_t, params.theta, BLOCK=BLOCK)  # fmt: skip
            dual[grid](u, px, py, pairs, prev, nxt, threshold, h, w, taut, BLOCK=BLOCK)
            k += 1
            if (inner + 1) % CHECK_EVERY == 0:
                pairs = _still_active(alive, change[(k - 1) % 3], threshold)
                if len(pairs) == 0:
                    return
        pairs = _still_active(alive, change[(k - 1) % 3], threshold)
        if len(pairs) == 0:
            return


def _still_active(alive: torch.Tensor, last: torch.Tensor, threshold: float) -> torch.Tensor:
    """Update `alive` from the last iteration's change; the indices of the pairs still going
    (pairs left out of earlier launches keep stale rows, hence the running `alive` mask)."""
    alive &= last > threshold
    return alive.nonzero().flatten().to(torch.int32)


def triton_cdiv(a: int, b: int) -> int:
    """Ceiling division."""
    return -(-a // b)
