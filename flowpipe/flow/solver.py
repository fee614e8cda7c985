"""Batched dual TV-L1 optical flow in PyTorch (Zach et al. 2007, Wedel et al. 2009).

The scheme and its stopping rule follow OpenCV's `DualTVL1OpticalFlow` step by step, so the
flow matches that reference; the difference is that whole batches of frame pairs are solved
at once, on CPU or CUDA, and a pair whose iterations have converged leaves the batch, so it
stops costing work (the epsilon rule, applied per batch element).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import shutil
from collections.abc import Callable
from typing import NamedTuple

import torch

from flowpipe.flow.frames import check_pair, resolve_device, to_gray_batch
from flowpipe.flow.native_median import load_library, native_median
from flowpipe.flow.ops import (
    FLT_EPSILON,
    base_grid,
    centered_gradient,
    divergence,
    forward_gradient,
    gaussian_blur,
    median_filter,
    resize_linear,
    warp,
)
from flowpipe.flow.params import MIN_LEVEL_SIZE, TVL1Params
from flowpipe.flow.triton_backend import (
    TritonSettings,
    default_settings,
    iterate_warp_triton,
    triton_available,
)

Tensors = tuple[torch.Tensor, ...]
Iteration = Callable[..., Tensors]
WarpSolver = Callable[[Tensors, Tensors, TVL1Params, float], None]
WarpConsts = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, str], Tensors]
BACKENDS = ("auto", "torch", "triton")


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
    and 1/|grad I|^2 (0 where flat). Returns (u, px, py, squared change of u per element).
    """
    rho = rho_c + (grad_i * u).sum(dim=1, keepdim=True)
    step = (-rho * inv_grad).clamp(-l_t, l_t)
    u_new = u + step * grad_i + theta * divergence(px, py)
    change = (u_new - u).square().sum(dim=(1, 2, 3))
    ux, uy = forward_gradient(u_new)
    norm = 1.0 + taut * torch.sqrt(ux.square() + uy.square())
    return u_new, (px + taut * ux) / norm, (py + taut * uy) / norm, change


class Kernels(NamedTuple):
    """The two hot operations of the solver, eager or fused by torch.compile."""

    iteration: Iteration
    median: Callable[[torch.Tensor, int], torch.Tensor]


class Backend(NamedTuple):
    """How each warp is computed: its constants from the images and the flow, then its loops."""

    consts: WarpConsts
    iterate: WarpSolver


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


def select_backend(
    device: torch.device, backend: str, compile: bool, triton: TritonSettings | None = None
) -> Backend:
    """The warp's kernels for a device: Triton (constants and loops, median included; tuned by
    `triton`, default_settings() if None), or torch ops (the iteration fused by torch.compile
    when `compile`), the median natively on CPU when a C compiler is there."""
    if resolve_backend(device, backend) == "triton":
        from flowpipe.flow.triton_warp import warp_consts_triton

        settings = default_settings() if triton is None else triton
        consts = functools.partial(warp_consts_triton, block=settings.warp_block)
        return Backend(consts, functools.partial(iterate_warp_triton, settings=settings))
    if device.type == "cpu" and load_library() is not None:
        median = native_median
    else:
        median = _compiled(median_filter) if compile else median_filter
    iteration = _compiled(tvl1_iteration) if compile else tvl1_iteration
    kernels = Kernels(iteration, median)
    return Backend(warp_consts, functools.partial(_iterate_warp, kernels=kernels))


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


def _build_pyramid(img: torch.Tensor, sizes: list[tuple[int, int]], params: TVL1Params) -> Tensors:
    """The image at every level size, each level resized (and blurred if asked) from the last."""
    sigma = params.pyramid_blur()
    step = 1 / params.scale_step
    levels = [img]
    for size in sizes[1:]:
        source = gaussian_blur(levels[-1], sigma) if sigma > 0 else levels[-1]
        levels.append(resize_linear(source, size, (step, step)))
    return tuple(levels)


def _iterate_warp(
    state: Tensors, consts: Tensors, params: TVL1Params, threshold: float, kernels: Kernels
) -> None:
    """Run the inner/outer loops of one warp on the batch, in place on `state` (u, px, py).

    Each element stops when its squared flow change falls to `threshold` (OpenCV's rule);
    converged elements are written back and dropped from the working set.
    """
    order = torch.arange(state[0].shape[0], device=state[0].device)  # working row -> pair
    work, consts = state, tuple(t.contiguous() for t in consts)
    constants = params.step_constants()
    for _ in range(params.outer_iterations):
        if params.median_filtering > 1:
            work = (kernels.median(work[0], params.median_filtering), *work[1:])
        for _ in range(params.inner_iterations):
            *work, change = kernels.iteration(*work, *consts, *constants)
            going = change > threshold
            if bool(going.all()):
                continue
            done = ~going
            for full, part in zip(state, work, strict=True):
                full.index_copy_(0, order[done], part[done])
            kept = int(going.sum())
            if kept == 0:
                return
            *work, order = _keep_rows(going, kept, (*work, order))
            consts = _keep_rows(going, kept, consts)
    for full, part in zip(state, work, strict=True):
        full.index_copy_(0, order, part)


def _keep_rows(going: torch.Tensor, kept: int, tensors: Tensors) -> Tensors:
    """The rows where `going`, as the first `kept` rows of each tensor (views): rows still
    going from behind fill the places of finished ones in front, so a pair converging costs
    a copy of its own rows, not of the whole working set."""
    holes = (~going[:kept]).nonzero().flatten()
    movers = going[kept:].nonzero().flatten() + kept
    for t in tensors:
        t.index_copy_(0, holes, t.index_select(0, movers))
    return tuple(t[:kept] for t in tensors)


def _solve_level(
    i0: torch.Tensor, i1: torch.Tensor, u: torch.Tensor, params: TVL1Params, solve: Backend
) -> torch.Tensor:
    """All warps at one pyramid level, starting from flow u; returns the refined flow."""
    h, w = i0.shape[-2:]
    image_and_grad = torch.cat([i1, centered_gradient(i1)], dim=1)
    grid = base_grid(h, w, i0.device)
    px, py = torch.zeros_like(u), torch.zeros_like(u)
    threshold = params.epsilon**2 * h * w
    for _ in range(params.warps):
        consts = solve.consts(i0, image_and_grad, u, grid, params.interpolation)
        solve.iterate((u, px, py), consts, params, threshold)
    return u


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
    solve = select_backend(dev, backend, can_compile(dev) if compile is None else compile)
    return solve_batch(i0, i1, params, solve)


@torch.no_grad()
def solve_batch(
    i0: torch.Tensor, i1: torch.Tensor, params: TVL1Params, solve: Backend
) -> torch.Tensor:
    """`tvl1_flow` past its input checks, with the kernels chosen by the caller (benchmarks
    and tests pick `select_backend`'s settings): i0, i1 float32 [N,1,H,W] gray frames on the
    kernels' device; returns float32 [N,2,H,W] flow."""
    sizes = pyramid_sizes(i0.shape[-2], i0.shape[-1], params)
    pyr0 = _build_pyramid(i0, sizes, params)
    pyr1 = _build_pyramid(i1, sizes, params)
    u = torch.zeros(i0.shape[0], 2, *sizes[-1], device=i0.device)
    for level in range(len(sizes) - 1, -1, -1):
        u = _solve_level(pyr0[level], pyr1[level], u, params, solve)
        if level > 0:
            (h, w), (sh, sw) = sizes[level - 1], sizes[level]
            u = resize_linear(u, (h, w), (sh / h, sw / w)) / params.scale_step
    return u
