"""The TV-L1 inner loop as Triton kernels, with the stopping rule kept on the device.

One kernel launch runs FUSED_STEPS iterations (thresholding, divergence, primal update, dual
update) for every active pair, reading the state from one buffer set and writing it to the
other; the median at the start of each outer iteration is a launch of its own. A pair is
active while every change of its previous launch exceeds the threshold; the kernels read
that flag from a ring of three change blocks (previous, current, next: each launch clears the
next), so no launch waits on the host. Every CHECK_EVERY iterations the host reads the flags
once, stops when all pairs have converged, and launches only the pairs still active from
then on. Each pair records which buffer set holds its latest state; the warp ends by
gathering every pair's state back into the caller's tensors.

With FUSED_STEPS = 1 (the default) this is OpenCV's per-pair rule exactly. With more, a pair that
converges inside a launch finishes that launch's remaining iterations (at most
FUSED_STEPS - 1 extra ones, each changing the flow by less than the stopping threshold).
Levels of at most RESIDENT_PIXELS pixels instead run each warp as one `resident` launch: a
program per pair loops over the pair's tiles, in place with barriers between the half-steps,
and applies the stopping rule itself (OpenCV's rule exactly, no host involved).
On CPU the kernels run under TRITON_INTERPRET=1 (tests); the torch path gives the same flow.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import torch

from flowpipe.flow.params import TVL1Params

# Measured on an H100 (benchmarks/triton_sweep.py, 128 pairs at 340x256): one step per
# launch at 256 pixels per program was fastest; two steps recompute a 12-position halo and
# ran 0.6x as fast at 256 pixels, 0.08x at 512 (register spills).
BLOCK = 256
FUSED_STEPS = 1
CHECK_EVERY = 8
# Replay chunks of launches as CUDA graphs while the pairs in flight stay the same. Off: on an
# H100 each new set of pairs costs a capture, and it ran at 0.5x (sample clip) and 0.85x
# (UCF-101 frames) of plain launches (benchmarks/triton_sweep.py).
CUDA_GRAPHS = False
CONVERGED_FLAG = 1.0e30  # a change row that a launch did not use: never below a threshold
# Pyramid levels of at most this many pixels run each warp as one `resident` launch (one
# program per pair, the stopping rule on the device): small levels cost the host as many
# launches and flag checks as large ones for a fraction of the GPU work. 0 (off): with the
# two coarsest levels resident an H100 ran at 0.70x (sample clip) and 0.87x (UCF-101 frames),
# all levels 0.4x: one program per pair leaves most of the GPU idle (benchmarks/triton_sweep.py).
RESIDENT_PIXELS = 0
RESIDENT_BLOCK = 512
# Launch through the compiled kernel's handle after a warp's first launch of each kernel.
# Triton's JIT binds and specialises every argument on each call, which costs more host time
# per launch than the GPU work of a launch once most pairs have converged: on an H100 this
# ran 1.12x (sample clip) and 1.04x (UCF-101 frames) as fast (benchmarks/triton_sweep.py).
# Turned off for the process if the handle refuses the arguments (another Triton version's
# calling convention).
FAST_LAUNCH = True


def triton_available(device: torch.device) -> bool:
    """Triton runs on CUDA, or anywhere under TRITON_INTERPRET=1."""
    if importlib.util.find_spec("triton") is None:
        return False
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


class _Loop:
    """The launch state of one warp: buffers, change ring, pairs in flight."""

    def __init__(self, state: tuple[torch.Tensor, ...], steps: int) -> None:
        self.sets = (state, tuple(torch.empty_like(t) for t in state))
        # Argument tuples and row views made once: the host's work per launch is what bounds
        # the solver on a GPU (H100 profile: 240 ms of kernels in 410-650 ms of wall time).
        self.orders = ((*self.sets[0], *self.sets[1]), (*self.sets[1], *self.sets[0]))
        n = state[0].shape[0]
        dev = state[0].device
        self.steps = steps
        # Rows padded to 16 bytes: every ring view is equally aligned, so the kernels compile
        # once for all of them (a compile inside a graph capture would fail).
        self.stride = -(-n // 4) * 4
        self.change = torch.zeros(3, steps, self.stride, dtype=torch.float32, device=dev)
        self.change[2] = CONVERGED_FLAG
        self.ring = self.change.unbind(0)
        self.home = torch.zeros(n, dtype=torch.int32, device=dev)
        self.alive = torch.ones(n, dtype=torch.bool, device=dev)
        self.pairs = torch.arange(n, dtype=torch.int32, device=dev)
        self.current = 0  # the buffer set the pairs in flight read from
        self.launches = 0
        self.stable = False  # the pairs in flight were the same at the last two checks

    def rows(self, offset: int) -> torch.Tensor:
        return self.ring[(self.launches + offset) % 3]

    def buffers(self) -> tuple[torch.Tensor, ...]:
        """Source then destination state, for the next launch."""
        return self.orders[self.current]

    def swap(self) -> None:
        self.current = 1 - self.current

    def still_going(self, threshold: float) -> bool:
        """Drop the pairs whose last launch converged; False once none are left. The pairs
        tensor is kept (and `stable` set) when no pair left."""
        self.alive &= (self.rows(-1)[:, : len(self.alive)] > threshold).all(dim=0)
        pairs = self.alive.nonzero().flatten().to(torch.int32)
        self.stable = len(pairs) == len(self.pairs)
        if not self.stable:
            self.pairs = pairs
        return len(pairs) > 0

    def gather(self) -> None:
        """Every pair's latest state into the caller's tensors (set 0)."""
        there = (self.home == 1).view(-1, 1, 1, 1)
        for mine, other in zip(*self.sets, strict=True):
            mine.copy_(torch.where(there, other, mine))


def iterate_warp_triton(
    state: tuple[torch.Tensor, ...],
    consts: tuple[torch.Tensor, ...],
    params: TVL1Params,
    threshold: float,
) -> None:
    """One warp's inner/outer loops on the whole batch, in place on state (u, px, py)."""
    height, width = state[0].shape[-2:]
    consts = tuple(t.contiguous() for t in consts)
    if height * width <= RESIDENT_PIXELS:
        _run_resident(state, consts, params, threshold)
        return
    loop = _Loop(state, FUSED_STEPS)
    _run(loop, consts, params, threshold)
    loop.gather()


def _run_resident(state: tuple[torch.Tensor, ...], consts: tuple[torch.Tensor, ...],
                  params: TVL1Params, threshold: float) -> None:  # fmt: skip
    """The warp as one launch of one program per pair, in place on contiguous copies of the
    state when it is not contiguous itself."""
    from flowpipe.flow.triton_codegen import resident_kernel

    work = tuple(t.contiguous() for t in state)
    n, _, height, width = work[0].shape
    kernel = resident_kernel(params.median_filtering)
    scalars = (*params.step_constants(), params.outer_iterations, params.inner_iterations)
    kernel[(n,)](*work, torch.empty_like(work[0]), *consts, height, width, threshold, *scalars,
                 BLOCK=RESIDENT_BLOCK)  # fmt: skip
    for mine, done in zip(state, work, strict=True):
        if mine is not done:
            mine.copy_(done)


def _run(loop: _Loop, consts: tuple[torch.Tensor, ...], params: TVL1Params, threshold: float):
    """The outer loops: a median launch, then the inner iterations in chunks of CHECK_EVERY,
    the host looking at the flags after each chunk."""
    launcher = _Launcher(loop, consts, params, threshold)
    for _ in range(params.outer_iterations):
        if params.median_filtering > 1:
            launcher.median()
        inner = 0
        while inner < params.inner_iterations:
            chunk = min(CHECK_EVERY, params.inner_iterations - inner)
            launcher.iterations(chunk)
            inner += chunk
            if not loop.still_going(threshold):
                return


class _Kernel:
    """A Triton kernel for the launches of one warp: the first through the JIT (which
    compiles and specialises on these arguments), later ones straight through the compiled
    kernel, whose specialisation holds because a warp's arguments keep their dtypes and
    alignment (fresh or 16-byte padded tensors, unspecialised integers)."""

    def __init__(self, jit: Any) -> None:
        self.jit = jit
        self.compiled: Any = None

    def __call__(self, grid: tuple[int, int], *args: Any, BLOCK: int) -> None:
        global FAST_LAUNCH
        if self.compiled is not None and FAST_LAUNCH:
            try:
                self.compiled[(*grid, 1)](*args, BLOCK)
                return
            except (TypeError, IndexError, ValueError):  # refused before anything ran
                FAST_LAUNCH = False
        compiled = self.jit[grid](*args, BLOCK=BLOCK)
        if hasattr(compiled, "function"):  # a CompiledKernel (None under the interpreter)
            self.compiled = compiled


class _Launcher:
    """Kernel launches of one warp. With CUDA_GRAPHS, a chunk of iterations launched while the
    pairs in flight stay the same (the long tail of a few slow pairs, where the host's launch
    work rather than the GPU sets the pace) is captured once as a CUDA graph and replayed."""

    def __init__(self, loop: _Loop, consts: tuple[torch.Tensor, ...], params: TVL1Params,
                 threshold: float) -> None:  # fmt: skip
        from flowpipe.flow.triton_codegen import iteration_kernel, median_kernel

        h, w = loop.sets[0][0].shape[-2:]
        self.loop, self.consts = loop, consts
        self.iteration_kernels = {
            n: _Kernel(iteration_kernel(n, loop.steps)) for n in range(1, loop.steps + 1)
        }
        if params.median_filtering > 1:
            self.median_kernel = _Kernel(median_kernel(params.median_filtering, loop.steps))
        self.grid_x = -(-h * w // BLOCK)
        self.sizes = (loop.stride, threshold, h, w)
        self.scalars = params.step_constants()
        self.graphs: dict[tuple[int, int, int], tuple[torch.cuda.CUDAGraph, int]] = {}
        self.graph_pairs: torch.Tensor | None = None
        self.use_graphs = CUDA_GRAPHS and loop.pairs.is_cuda

    def median(self) -> None:
        """The median launch at the start of an outer iteration."""
        loop = self.loop
        grid = (self.grid_x, len(loop.pairs))
        self.median_kernel(grid, *loop.buffers(), loop.pairs, loop.rows(-1), loop.home,
                           1 - loop.current, *self.sizes, BLOCK=BLOCK)  # fmt: skip
        loop.swap()

    def iterations(self, count: int) -> None:
        """`count` iterations, replayed from a graph when the pairs in flight are stable."""
        loop = self.loop
        if not (self.use_graphs and loop.stable):
            self._launch(count)
            return
        if self.graph_pairs is not loop.pairs:
            self.graphs.clear()  # graphs read the pairs tensor they were captured with
            self.graph_pairs = loop.pairs
        key = (count, loop.current, loop.launches % 3)
        if key not in self.graphs:
            graph, start = torch.cuda.CUDAGraph(), (loop.current, loop.launches)
            with torch.cuda.graph(graph):
                launches = self._launch(count)
            loop.current, loop.launches = start
            self.graphs[key] = graph, launches
        graph, launches = self.graphs[key]
        graph.replay()
        for _ in range(launches):
            loop.swap()
            loop.launches += 1

    def _launch(self, count: int) -> int:
        """Launch `count` iterations, FUSED_STEPS per kernel; returns the number of launches."""
        loop = self.loop
        launches = 0
        while count > 0:
            steps = min(loop.steps, count)
            self.iteration_kernels[steps]((self.grid_x, len(loop.pairs)), *loop.buffers(),
                                          *self.consts, loop.pairs, loop.rows(-1), loop.rows(0),
                                          loop.rows(1), loop.home, 1 - loop.current,
                                          *self.sizes, *self.scalars, BLOCK=BLOCK)  # fmt: skip
            loop.swap()
            loop.launches += 1
            launches += 1
            count -= steps
        return launches
