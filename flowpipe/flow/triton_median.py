"""The Triton median, generated from the sorting network the torch and C paths use.

The median of a ksize x ksize window is a pruned sorting network (`ops.median_network`: 113
comparators for 5x5) over the window's values held in registers: long, regular, straight-line
code that one generator writes for torch (`ops.median_filter`), C (`native_median`) and, here,
Triton: `median3` and `median5`, `@triton.jit` functions giving the replicated-border median
of one plane at a block of pixels, called by the solver's step kernel (`triton_kernels`).
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

KSIZES = (3, 5)

_HEAD = """import triton
import triton.language as tl
"""

_FUNCTION = '''

@triton.jit
def median{ksize}(src, x, y, mask, height, width):
    """The {ksize}x{ksize} median of the plane src (height x width, replicated border) at pixels
    (x, y)."""
    {body}
'''


def _suffix(v: int) -> str:
    return f"m{-v}" if v < 0 else str(v)


def median_source(ksize: int) -> str:
    """Source of `median{ksize}`: rows and columns clamped to the frame, the window's values
    loaded, the network, the middle value returned."""
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
    for n, (dx, dy) in enumerate(taps):
        at = f"row_{_suffix(dy)} + col_{_suffix(dx)}"
        lines.append(f"v{n} = tl.load(src + {at}, mask=mask, other=0.0)")
    lines += median_network_code(
        len(taps),
        "tl.minimum(v{a}, v{b})",
        "tl.maximum(v{a}, v{b})",
        "lo = {lo}; v{b} = {hi}; v{a} = lo",
    )
    lines.append(f"return v{len(taps) // 2}")
    body = "\n    ".join(lines)
    return _FUNCTION.replace("{ksize}", str(ksize)).replace("{body}", body)


@functools.cache
def medians() -> ModuleType:
    """The module of `median3` and `median5`, generated once per process (and cached on disk:
    Triton reads a kernel's source from its file)."""
    return _import("tvl1_medians", _HEAD + "".join(median_source(k) for k in KSIZES))


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
