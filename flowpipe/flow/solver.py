"""Dual TV-L1 optical flow (Zach et al. 2007, Wedel et al. 2009), OpenCV's scheme step by step.

One pair's path through the solver, as OpenCV's `DualTVL1OpticalFlow` computes it, so that
the flow matches that reference:

    the pyramid of both frames                                  pyramid_sizes, build_pyramid
    for each level, the coarsest first:
        u = the coarser level's flow, upsampled (0 at the coarsest); duals p = 0   level_flow
        for each of `warps` warps:
            the data term linearised at u: I1 and its gradient at x + u         warp_consts
            for each of `outer_iterations` outer loops:
                u = the median of u                                         ops.median_filter
                for each of `inner_iterations` inner loops:
                    one primal-dual step                                     tvl1_iteration
                    the warp ends once a step changed u by <= epsilon^2 * pixels  Cursor
    the finest level's u is the flow

Pairs are solved in a pool (`flow/pool.py`): each pair is at its own point of this path (a
`Cursor` per pool keeps where), and one step of every pair in flight runs at once. A pair that
finishes a warp goes on with the next one, and one that finishes its finest level leaves its
place to the next pair, so a pool stays full whatever its pairs' stragglers do. The torch path
steps pairs with the functions below, grouped by level size (`torch_engine`); the Triton path
steps all of them in one kernel launch per step (`triton_engine`).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from flowpipe.flow.frames import check_pair, resolve_device, to_gray_batch
from flowpipe.flow.native_median import load_library, native_median
from flowpipe.flow.ops import (
    FLT_EPSILON,
    divergence,
    forward_gradient,
    gaussian_blur,
    median_filter,
    resize_linear,
    warp,
)
from flowpipe.flow.params import MIN_LEVEL_SIZE, TVL1Params
from flowpipe.flow.triton_backend import TritonSettings, default_settings, triton_available

if TYPE_CHECKING:
    from flowpipe.flow.pool import Engine

Tensors = tuple[torch.Tensor, ...]
BACKENDS = ("auto", "torch", "triton")


def tvl1_flow(
    prev: object,
    nxt: object,
    params: TVL1Params | None = None,
    device: str | torch.device = "cpu",
    compile: bool | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """Dense TV-L1 flow from `prev` to `nxt`.

    prev, nxt: [H,W] or [B,H,W] gray frames, uint8 or float (0..255), numpy or torch.
    Returns float32 [B,2,H,W] flow (x then y, in pixels) on `device`. `backend` is "torch",
    "triton" (fused kernels, CUDA) or "auto" (Triton on CUDA, torch elsewhere). `compile`
    fuses the torch iteration with torch.compile (default: on where a compiler is available;
    the first call in a process pays the compile time, cached on disk across processes).
    Raises ValueError for frames of different sizes, empty frames, unsupported dtypes or
    shapes, non-finite values, an unknown device or backend.
    """
    params = TVL1Params() if params is None else params
    dev = resolve_device(device)
    i0 = to_gray_batch(prev, "prev", dev)
    i1 = to_gray_batch(nxt, "nxt", dev)
    check_pair(i0, i1)
    return solve_batch(i0, i1, params, select_backend(dev, backend, compile))


@torch.no_grad()
def solve_batch(
    i0: torch.Tensor, i1: torch.Tensor, params: TVL1Params, backend: Backend
) -> torch.Tensor:
    """`tvl1_flow` past its input checks, with the backend chosen by the caller (benchmarks
    and tests pick `select_backend`'s settings): i0, i1 float32 [N,1,H,W] gray frames on the
    backend's device, solved in a pool of N places; returns float32 [N,2,H,W] flow."""
    from flowpipe.flow.pool import solve_all

    return solve_all(i0, i1, params, backend)


# The steps of the path.


def pyramid_sizes(height: int, width: int, params: TVL1Params) -> list[tuple[int, int]]:
    """(h, w) of each level, finest first; OpenCV's rounding and its 16 px floor."""
    sizes = [(height, width)]
    for _ in range(1, params.pyramid_depth(height, width)):
        h, w = sizes[-1]
        nh, nw = round(h * params.scale_step), round(w * params.scale_step)
        if nh < MIN_LEVEL_SIZE or nw < MIN_LEVEL_SIZE:
            break
        sizes.append((nh, nw))
    return sizes


def build_pyramid(img: torch.Tensor, sizes: list[tuple[int, int]], params: TVL1Params) -> Tensors:
    """The image at every level size, finest first, each level resized (and blurred if asked)
    from the last."""
    sigma = params.pyramid_blur()
    step = 1 / params.scale_step
    levels = [img]
    for size in sizes[1:]:
        source = gaussian_blur(levels[-1], sigma) if sigma > 0 else levels[-1]
        levels.append(resize_linear(source, size, (step, step)))
    return tuple(levels)


def level_flow(u: torch.Tensor, size: tuple[int, int], params: TVL1Params) -> torch.Tensor:
    """The flow u [N,2,h,w] of a coarser level as the start of the next one, of `size`:
    resized with OpenCV's mapping and scaled by 1 / scale_step."""
    (h, w), (sh, sw) = size, u.shape[-2:]
    return resize_linear(u, (h, w), (sh / h, sw / w)) / params.scale_step


def warp_consts(
    i0: torch.Tensor, image_and_grad: torch.Tensor, u: torch.Tensor, grid: torch.Tensor, mode: str
) -> Tensors:
    """The linearised data term of a warp: I1 and its gradient sampled at x + u (grid: the
    pixel coordinates), then (warped gradient, rho_c = I1(x+u) - grad . u - I0, 1/|grad|^2
    or 0 where flat)."""
    warped = warp(image_and_grad, u, grid, mode)
    grad_i = warped[:, 1:]
    grad_sq = grad_i.square().sum(dim=1, keepdim=True)
    rho_c = warped[:, :1] - (grad_i * u).sum(dim=1, keepdim=True) - i0
    inv_grad = torch.where(grad_sq > FLT_EPSILON, 1.0 / grad_sq, torch.zeros_like(grad_sq))
    return grad_i, rho_c, inv_grad


def tvl1_iteration(
    u: torch.Tensor,
    px: torch.Tensor,
    py: torch.Tensor,
    grad_i: torch.Tensor,
    rho_c: torch.Tensor,
    inv_grad: torch.Tensor,
    l_t: float,
    theta: float,
    taut: float,
) -> Tensors:
    """One primal-dual step: Wedel's thresholding, the primal update, Chambolle's dual update.

    u [N,2,H,W] is the flow, (px, py) [N,2,H,W] its dual variables, grad_i [N,2,H,W] the
    warped image gradient, rho_c and inv_grad [N,1,H,W] the constant part of the residual
    and 1/|grad I|^2 (0 where flat). Returns (u, px, py, squared change of u per image row
    [N,2,H]); `pair_change` sums the rows.
    """
    rho = rho_c + (grad_i * u).sum(dim=1, keepdim=True)
    step = (-rho * inv_grad).clamp(-l_t, l_t)
    u_new = u + step * grad_i + theta * divergence(px, py)
    row_change = (u_new - u).square().sum(dim=3)
    ux, uy = forward_gradient(u_new)
    norm = 1.0 + taut * torch.sqrt(ux.square() + uy.square())
    return u_new, (px + taut * ux) / norm, (py + taut * uy) / norm, row_change


def pair_change(row_change: torch.Tensor) -> torch.Tensor:
    """Each pair's squared change [N] from its rows' [N,2,H]. Summed in two stages so that a
    pair's sum does not depend on how many pairs share the call: a single [2,H,W] reduction
    is split over threads when it is the only one (ATen's and Inductor's reductions), and
    would stop a pair one iteration apart from where it stops among others."""
    return row_change.sum(dim=(1, 2))


class Cursor:
    """Where each pair of a pool is in the loops of the path, per place (slot) of the pool:
    pyramid level (counting down to 0, the finest), warp, and the iterations done in the warp,
    kept as the step of the pool its warp's first iteration is (the torch path iterates every
    pair in flight at every step). On the host: the torch path steps by it; the Triton path's
    kernel keeps the same counters on the device (`triton_kernels.next_step`, the same
    rules)."""

    def __init__(self, capacity: int, params: TVL1Params) -> None:
        self.params = params
        self.level = np.zeros(capacity, np.int64)
        self.warp = np.zeros(capacity, np.int64)
        self.start = np.zeros(capacity, np.int64)
        self.median_due = np.zeros(capacity, bool)  # the next step starts an outer loop
        self.median = params.median_filtering > 1

    def enter(self, slots: np.ndarray, level: int | np.ndarray, first: int) -> None:
        """Pairs at the start of a level (warp 0, its first outer loop), iterating from step
        `first` on."""
        self.level[slots] = level
        self.warp[slots] = 0
        self.start[slots] = first
        self.median_due[slots] = self.median

    def iterated(self, slots: np.ndarray, converged: np.ndarray, now: int) -> np.ndarray:
        """After iteration `now` of `slots`, `converged` where it changed u by no more than the
        level's threshold: which of them ended their warp (converged, or the last of
        outer x inner iterations); the others that completed an outer loop start the next
        with a median."""
        p = self.params
        done = now + 1 - self.start[slots]
        ended = converged | (done >= p.outer_iterations * p.inner_iterations)
        self.median_due[slots] = self.median & ~ended & (done % p.inner_iterations == 0)
        return ended

    def next_warp(self, slots: np.ndarray, now: int) -> np.ndarray:
        """Pairs that ended a warp at step `now` start the next (its first outer loop);
        returns which of them ended their level's last warp instead."""
        warp = self.warp[slots] + 1
        level_done = warp >= self.params.warps
        self.warp[slots] = np.where(level_done, self.warp[slots], warp)
        self.start[slots] = now + 1
        self.median_due[slots] = self.median & ~level_done
        return level_done

    def quiet_until(self, slots: np.ndarray, now: int) -> int:
        """The first step after `now` at which one of `slots` completes an outer loop (or its
        last iteration): before it, a step changes nothing for pairs that did not converge."""
        inner = self.params.inner_iterations
        done = now + 1 - self.start[slots]
        return int((self.start[slots] - 1 + (done // inner + 1) * inner).min())


# Backends.


class Kernels(NamedTuple):
    """The torch path's operations: the iteration (eager or fused by torch.compile), the
    median (native C on CPU), and the warp's constants."""

    iteration: Callable[..., Tensors]
    median: Callable[[torch.Tensor, int], torch.Tensor]
    consts: Callable[..., Tensors] = warp_consts


@dataclass(frozen=True)
class Backend:
    """What steps the pairs of a pool on a device: torch ops (`kernels`) or Triton kernels
    tuned by `triton`. `engine` makes a pool's state."""

    device: torch.device
    kernels: Kernels | None = None
    triton: TritonSettings | None = None

    @property
    def name(self) -> str:
        return "torch" if self.triton is None else "triton"

    def engine(self, params: TVL1Params, capacity: int) -> Engine:
        if self.triton is not None:
            from flowpipe.flow.triton_engine import TritonEngine

            return TritonEngine(self.device, params, capacity, self.triton)
        from flowpipe.flow.torch_engine import TorchEngine

        return TorchEngine(self.device, params, capacity, self.kernels)


def select_backend(
    device: torch.device,
    backend: str = "auto",
    compile: bool | None = None,
    triton: TritonSettings | None = None,
) -> Backend:
    """The backend for a device: Triton (tuned by `triton`, default_settings() if None), or
    torch ops (the iteration fused by torch.compile when `compile`, by default where a
    compiler is available), the median natively on CPU when a C compiler is there."""
    if resolve_backend(device, backend) == "triton":
        return Backend(device, triton=default_settings() if triton is None else triton)
    compile = can_compile(device) if compile is None else compile
    if device.type == "cpu" and load_library() is not None:
        median = native_median
    else:
        median = _compiled(median_filter) if compile else median_filter
    iteration = _compiled(tvl1_iteration) if compile else tvl1_iteration
    return Backend(device, kernels=Kernels(iteration, median))


def resolve_backend(device: torch.device, backend: str) -> str:
    """'auto' is Triton on CUDA when it is installed, else torch; ValueError if impossible."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "triton" if device.type == "cuda" and triton_available(device) else "torch"
    if backend == "triton" and not triton_available(device):
        raise ValueError("the triton backend needs CUDA and triton (or TRITON_INTERPRET=1)")
    return backend


@functools.cache
def _compiled(fn: Callable) -> Callable:
    """`fn` fused by torch.compile, built once per process for all shapes."""
    # Inductor warns on every CPU-only machine that it found no CUDA runtime; that is expected.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    return torch.compile(fn, dynamic=True)


def can_compile(device: torch.device) -> bool:
    """torch.compile needs a C++ compiler on CPU and Triton on CUDA."""
    if device.type == "cuda":
        return importlib.util.find_spec("triton") is not None
    return any(shutil.which(cc) for cc in ("c++", "g++", "clang++"))
