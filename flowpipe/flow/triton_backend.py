"""The Triton path's settings, and how its kernels are launched.

`TritonSettings` holds the tuning (`default_settings()`: the defaults with the environment's
overrides); `Launcher` launches a kernel through Triton's JIT once and through the compiled
kernel after that. The pool engine is `triton_engine`, its kernel `triton_kernels`. On CPU the
kernels run under TRITON_INTERPRET=1 (tests); the torch path gives the same flow. Measured
speeds, and the variants that lost, are in docs/engine.md.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from flowpipe.tuning import from_environment

# Each setting's environment variable (flowpipe.tuning's FLOWPIPE_<SECTION>_<FIELD>), read
# once, where `default_settings` makes its object.
ENVIRONMENT = {
    "block": "FLOWPIPE_TRITON_BLOCK",
    "warp_block": "FLOWPIPE_TRITON_WARP_BLOCK",
    "check_every": "FLOWPIPE_TRITON_CHECK_EVERY",
}


@dataclass(frozen=True)
class TritonSettings:
    """Tuning of the Triton backend; no setting changes the flow.

    block: pixels per program of the step kernel; warp_block: of the standalone warp kernel
    (`triton_warp.warp_consts_triton`) (both powers of two, 16 to 4096); check_every: launches
    between two looks of the host at the pairs (fewer looks against pairs waiting longer to
    move to their next level or to leave). `default_settings()` is this with the
    environment's overrides.
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
    try:
        return from_environment(TritonSettings, "triton")
    except ValueError as err:
        raise ValueError(f"{err} (set in the environment)") from None


def triton_available(device: torch.device) -> bool:
    """Triton runs on CUDA, or anywhere under TRITON_INTERPRET=1."""
    if importlib.util.find_spec("triton") is None:
        return False
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


# Triton's bundled ptxas (its CUDA backend), which compiles PTX for a GPU this machine lacks.
_TRITON = importlib.util.find_spec("triton")
PTXAS = Path(_TRITON.origin).parent / "backends/nvidia/bin/ptxas" if _TRITON else Path("ptxas")
# Our kernels' argument types by their names (`signature`): these pointers and integers, other
# *_ptr and the arenas float pointers, other scalars fp32.
POINTERS = {"tiles": "*i32", "meta": "*i32", "prev_steps": "*i32", "next_steps": "*i32"}
POINTERS |= {"history": "*i32", "scales": "*fp64", "table": "*i64"}
FLOAT_POINTERS = {"state", "consts", "pyramid", "thresholds", "prev_row", "cur_row", "next_row"}
INTS = {"height", "width", "slots", "plane", "row", "max_iterations", "inner", "warps"}
INTS |= {"launch_parity"}


def signature(fn: Any, constexprs: dict[str, object]) -> dict[str, str]:
    """The argument types of one of our kernels, for compiling it ahead of a launch
    (`compile_ahead`)."""
    types = {}
    for name in fn.arg_names:
        if name in constexprs:
            types[name] = "constexpr"
        elif name in POINTERS:
            types[name] = POINTERS[name]
        elif name.endswith("_ptr") or name in FLOAT_POINTERS:
            types[name] = "*fp32"
        else:
            types[name] = "i32" if name in INTS else "fp32"
    return types


def compile_ahead(fn: Any, constexprs: dict[str, object], target: Any = None) -> Any:
    """One of our kernels compiled by Triton before any launch (not under the interpreter),
    for `target` (a `GPUTarget`; None: this machine's GPU)."""
    import triton
    from triton.compiler import ASTSource

    source = ASTSource(fn=fn, signature=signature(fn, constexprs), constexprs=constexprs)
    return triton.compile(source, target=target)


def ptxas_report(fn: Any, constexprs: dict[str, object], tmp: Path) -> str:
    """ptxas's report (registers, spills) of one of our kernels compiled for an H100 (sm_90)
    by Triton and its bundled ptxas, on any machine (no GPU needed; not under the
    interpreter); `tmp` a folder for the PTX."""
    from triton.backends.compiler import GPUTarget

    kernel = compile_ahead(fn, constexprs, GPUTarget("cuda", 90, 32))
    ptx = tmp / "kernel.ptx"
    ptx.write_text(kernel.asm["ptx"])
    command = [str(PTXAS), "-v", "--gpu-name", "sm_90a", str(ptx), "-o", os.devnull]
    return subprocess.run(command, capture_output=True, text=True, check=True).stderr


class Launcher:
    """A Triton kernel's launches: the first through the JIT (which compiles and specialises
    on these arguments), later ones straight through the compiled kernel, whose
    specialisation holds because the arguments keep their dtypes and alignment (fresh or
    16-byte padded tensors, unspecialised integers). Triton's JIT binds every argument on each
    call, which costs more host time than the GPU work of a small launch. A Triton whose
    compiled kernels refuse these arguments (another calling convention) is launched through
    its JIT for the rest of the process, with one warning."""

    refused = False  # the compiled kernels of this process's Triton refused a launch

    def __init__(self, jit: Any) -> None:
        self.jit = jit
        self.compiled: Any = None

    def __call__(self, grid: tuple[int, ...], *args: Any, **constexprs: Any) -> None:
        if self.compiled is not None and not Launcher.refused:
            try:
                self.compiled[(*grid, *(1,) * (3 - len(grid)))](*args, *constexprs.values())
                return
            except (TypeError, IndexError, ValueError) as err:  # refused before anything ran
                Launcher.refused = True
                logging.getLogger(__name__).warning(
                    "Triton's compiled kernels refused a direct launch (%s); launching through "
                    "its JIT from now on (slower on the host)",
                    err,
                )
        compiled = self.jit[grid](*args, **constexprs)
        if hasattr(compiled, "function"):  # a CompiledKernel (None under the interpreter)
            self.compiled = compiled
