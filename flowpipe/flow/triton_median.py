"""The Triton median kernel, generated from the sorting network the torch and C paths use.

The median of a ksize x ksize window is a pruned sorting network (`ops.median_network`: 113
comparators for 5x5) over the window's values held in registers: long, regular, straight-line
code that one generator writes for torch (`ops.median_filter`), C (`native_median`) and, here,
Triton. The kernel computes the flow's replicated-border median of BLOCK pixels of one pair,
from one buffer set into the other (the duals copied along), for the pairs still going; its
flag protocol is the iteration kernel's (`triton_kernels.pair_block`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import tempfile
from types import ModuleType

from flowpipe.flow.ops import median_network_code
from flowpipe.native import cache_dir

_SOURCE = '''import triton
import triton.language as tl

from flowpipe.flow.triton_kernels import NOT_SPECIALIZED, pair_block


@triton.jit(do_not_specialize=NOT_SPECIALIZED)
def median(su, spx, spy, du, dpx, dpy, pairs_ptr, prev_ptr, home_ptr, home, threshold, height,
           width, BLOCK: tl.constexpr):
    """The {ksize}x{ksize} median of BLOCK pixels of one pair's flow."""
    hw = height * width
    pair, going, offs, mask = pair_block(pairs_ptr, prev_ptr, threshold, hw, BLOCK)
    tl.store(home_ptr + pair, home, mask=(tl.program_id(0) == 0) & going)
    if going:
        x = offs % width
        y = offs // width
        flow = pair * 2 * hw
        {body}
'''


def _suffix(v: int) -> str:
    return f"m{-v}" if v < 0 else str(v)


def median_source(ksize: int) -> str:
    """Source of `median` for a ksize x ksize window: rows and columns clamped to the frame,
    then per flow channel the window's values loaded, the network, the middle value stored;
    then the duals copied."""
    r = ksize // 2
    lines = [
        f"row_{_suffix(d)} = tl.minimum(tl.maximum(y + {d}, 0), height - 1) * width"
        for d in range(-r, r + 1)
    ]
    lines += [
        f"col_{_suffix(d)} = tl.minimum(tl.maximum(x + {d}, 0), width - 1)"
        for d in range(-r, r + 1)
    ]
    taps = [(dx, dy) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    for channel in ("", " + hw"):
        for n, (dx, dy) in enumerate(taps):
            at = f"row_{_suffix(dy)} + col_{_suffix(dx)}"
            lines.append(f"v{n} = tl.load(su + flow{channel} + {at}, mask=mask, other=0.0)")
        lines += median_network_code(
            len(taps),
            "tl.minimum(v{a}, v{b})",
            "tl.maximum(v{a}, v{b})",
            "lo = {lo}; v{b} = {hi}; v{a} = lo",
        )
        lines.append(f"tl.store(du + flow{channel} + offs, v{len(taps) // 2}, mask=mask)")
    for channel in ("", " + hw"):
        for dual in ("px", "py"):
            at = f"flow{channel} + offs"
            lines.append(f"tl.store(d{dual} + {at}, tl.load(s{dual} + {at}, mask=mask), mask=mask)")
    return _SOURCE.replace("{ksize}", str(ksize)).replace("{body}", "\n        ".join(lines))


@functools.cache
def median_kernel(ksize: int):  # noqa: ANN201 (a triton JITFunction)
    """The `median` kernel for a ksize x ksize window, built once per process."""
    return _import(f"tvl1_median{ksize}", median_source(ksize)).median


def _import(name: str, source: str) -> ModuleType:
    """Import generated source from a file in the cache (Triton reads kernels' source)."""
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    path = cache_dir() / "triton" / f"{name}_{key}.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
            f.write(source)
        os.replace(f.name, path)
    spec = importlib.util.spec_from_file_location(f"flowpipe_generated.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
