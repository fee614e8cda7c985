"""The TV-L1 inner loop on Triton kernels, with the stopping rule kept on the device.

One launch of `triton_kernels.iteration` runs one iteration (thresholding, divergence, primal
and dual updates) for every pair in flight, reading the state from one buffer set and writing
it to the other; the median at the start of each outer iteration is a launch of its own
(`triton_median`). A pair is going while its change in the previous launch exceeds the
threshold; the kernels read that flag from a ring of three change rows (previous, current,
next: each launch clears the next), so no launch waits on the host. Every
`TritonSettings.check_every` iterations the host reads the flags once, stops when all pairs
have converged, and launches only the pairs still going from then on. Each pair records
which buffer set holds its latest state; the warp ends by gathering every pair's state back
into the caller's tensors. This is OpenCV's per-pair stopping rule exactly.

On CPU the kernels run under TRITON_INTERPRET=1 (tests); the torch path gives the same flow.
Measured speeds, and the variants that lost, are in docs/engine.md.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
import os
from dataclasses import dataclass
from typing import Any

import torch

from flowpipe.flow.params import TVL1Params

CONVERGED_FLAG = 1.0e30  # a change row that a launch did not use: never below a threshold
# Each setting's environment variable, read once, where `default_settings` makes its object.
ENVIRONMENT = {
    "block": "FLOWPIPE_TRITON_BLOCK",
    "warp_block": "FLOWPIPE_TRITON_WARP_BLOCK",
    "check_every": "FLOWPIPE_TRITON_CHECK_EVERY",
}


@dataclass(frozen=True)
class TritonSettings:
    """Tuning of the Triton backend; no setting changes the flow.

    block: pixels per program of the iteration and median kernels; warp_block: of the warp
    kernel (both powers of two, 16 to 4096); check_every: iterations launched between two
    reads of the stopping flags by the host (fewer reads against more launches of pairs that
    have converged). `default_settings()` is this with the environment's overrides.
    """

    block: int = 256
    warp_block: int = 256
    check_every: int = 8

    def __post_init__(self) -> None:
        for name in ("block", "warp_block"):
            value = getattr(self, name)
            if not (_is_int(value) and 16 <= value <= 4096 and value & (value - 1) == 0):
                raise ValueError(
                    f"TritonSettings.{name} must be a power of two from 16 to 4096, got {value!r}"
                )
        if not (_is_int(self.check_every) and self.check_every >= 1):
            raise ValueError(
                f"TritonSettings.check_every must be an int >= 1, got {self.check_every!r}"
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@functools.cache
def default_settings() -> TritonSettings:
    """TritonSettings() with each field set by its environment variable (ENVIRONMENT) where
    that is set; read once per process. ValueError naming the variable for a bad value."""
    changes: dict[str, int] = {}
    for name, variable in ENVIRONMENT.items():
        text = os.environ.get(variable)
        if text is None:
            continue
        try:
            changes[name] = int(text)
        except ValueError:
            raise ValueError(f"{variable}={text!r}: expected an integer") from None
    try:
        return dataclasses.replace(TritonSettings(), **changes)
    except ValueError as err:
        raise ValueError(f"{err} (set in the environment)") from None


def triton_available(device: torch.device) -> bool:
    """Triton runs on CUDA, or anywhere under TRITON_INTERPRET=1."""
    if importlib.util.find_spec("triton") is None:
        return False
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


class _Loop:
    """The launch state of one warp: buffers, change ring, pairs in flight."""

    def __init__(self, state: tuple[torch.Tensor, ...]) -> None:
        self.sets = (state, tuple(torch.empty_like(t) for t in state))
        # Argument tuples made once: the host's work per launch is what bounds the solver on a
        # GPU (docs/engine.md).
        self.orders = ((*self.sets[0], *self.sets[1]), (*self.sets[1], *self.sets[0]))
        n = state[0].shape[0]
        dev = state[0].device
        # Rows padded to 16 bytes: every ring view is equally aligned, so a kernel compiled for
        # one of them (specialised on its alignment) launches with all of them.
        stride = -(-n // 4) * 4
        self.change = torch.zeros(3, stride, dtype=torch.float32, device=dev)
        self.change[2] = CONVERGED_FLAG
        self.ring = self.change.unbind(0)
        self.home = torch.zeros(n, dtype=torch.int32, device=dev)
        self.alive = torch.ones(n, dtype=torch.bool, device=dev)
        self.pairs = torch.arange(n, dtype=torch.int32, device=dev)
        self.current = 0  # the buffer set the pairs in flight read from
        self.launches = 0

    def rows(self, offset: int) -> torch.Tensor:
        """The change row of the launch `offset` launches from the next one."""
        return self.ring[(self.launches + offset) % 3]

    def buffers(self) -> tuple[torch.Tensor, ...]:
        """Source then destination state, for the next launch."""
        return self.orders[self.current]

    def swap(self) -> None:
        """A launch went out: the other buffer set is the source now."""
        self.current = 1 - self.current

    def iterated(self) -> None:
        """An iteration launch went out: the buffers swap and the change ring moves on."""
        self.swap()
        self.launches += 1

    def still_going(self, threshold: float) -> bool:
        """Drop the pairs whose last launch converged; False once none are left."""
        self.alive &= self.rows(-1)[: len(self.alive)] > threshold
        pairs = self.alive.nonzero().flatten().to(torch.int32)
        if len(pairs) != len(self.pairs):
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
    settings: TritonSettings,
) -> None:
    """One warp's inner/outer loops on the whole batch, in place on state (u, px, py): a
    median launch per outer iteration, then the inner iterations in chunks of
    `settings.check_every`, the host looking at the flags after each chunk."""
    loop = _Loop(state)
    launcher = _Launcher(loop, tuple(t.contiguous() for t in consts), params, threshold, settings)
    _run(loop, launcher, params, threshold, settings.check_every)
    loop.gather()


def _run(
    loop: _Loop, launcher: _Launcher, params: TVL1Params, threshold: float, check_every: int
) -> None:
    for _ in range(params.outer_iterations):
        if params.median_filtering > 1:
            launcher.median()
        inner = 0
        while inner < params.inner_iterations:
            chunk = min(check_every, params.inner_iterations - inner)
            for _ in range(chunk):
                launcher.iteration()
            inner += chunk
            if not loop.still_going(threshold):
                return


class _Kernel:
    """A Triton kernel for the launches of one warp: the first through the JIT (which compiles
    and specialises on these arguments), later ones straight through the compiled kernel,
    whose specialisation holds because a warp's arguments keep their dtypes and alignment
    (fresh or 16-byte padded tensors, unspecialised integers). Triton's JIT binds every
    argument on each call, which costs more host time than the GPU work of a launch once most
    pairs have converged. A Triton whose compiled kernels refuse these arguments (another
    calling convention) is launched through its JIT for the rest of the process, with one
    warning."""

    refused = False  # the compiled kernels of this process's Triton refused a launch

    def __init__(self, jit: Any) -> None:
        self.jit = jit
        self.compiled: Any = None

    def __call__(self, grid: tuple[int, int], *args: Any, BLOCK: int) -> None:
        if self.compiled is not None and not _Kernel.refused:
            try:
                self.compiled[(*grid, 1)](*args, BLOCK)
                return
            except (TypeError, IndexError, ValueError) as err:  # refused before anything ran
                _Kernel.refused = True
                logging.getLogger(__name__).warning(
                    "Triton's compiled kernels refused a direct launch (%s); launching through "
                    "its JIT from now on (slower on the host)",
                    err,
                )
        compiled = self.jit[grid](*args, BLOCK=BLOCK)
        if hasattr(compiled, "function"):  # a CompiledKernel (None under the interpreter)
            self.compiled = compiled


class _Launcher:
    """The kernel launches of one warp."""

    def __init__(
        self,
        loop: _Loop,
        consts: tuple[torch.Tensor, ...],
        params: TVL1Params,
        threshold: float,
        settings: TritonSettings,
    ) -> None:
        from flowpipe.flow.triton_kernels import iteration
        from flowpipe.flow.triton_median import median_kernel

        h, w = loop.sets[0][0].shape[-2:]
        self.loop, self.consts = loop, consts
        self.iteration_kernel = _Kernel(iteration)
        if params.median_filtering > 1:
            self.median_kernel = _Kernel(median_kernel(params.median_filtering))
        self.block = settings.block
        self.grid_x = -(-h * w // self.block)
        self.sizes = (threshold, h, w)
        self.scalars = params.step_constants()

    def median(self) -> None:
        """The median launch at the start of an outer iteration."""
        loop = self.loop
        grid = (self.grid_x, len(loop.pairs))
        flags = (loop.pairs, loop.rows(-1), loop.home, 1 - loop.current)
        self.median_kernel(grid, *loop.buffers(), *flags, *self.sizes, BLOCK=self.block)
        loop.swap()  # the flags stay those of the last iteration

    def iteration(self) -> None:
        """One iteration of every pair in flight that is still going."""
        loop = self.loop
        grid = (self.grid_x, len(loop.pairs))
        rows = (loop.rows(-1), loop.rows(0), loop.rows(1))
        flags = (loop.pairs, *rows, loop.home, 1 - loop.current)
        args = (*loop.buffers(), *self.consts, *flags, *self.sizes, *self.scalars)
        self.iteration_kernel(grid, *args, BLOCK=self.block)
        loop.iterated()
