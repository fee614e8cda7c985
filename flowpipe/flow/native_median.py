"""A native CPU median filter, built on first use from C generated out of the same network.

torch.compile cannot fuse a 113-comparator median network into one vectorised pass, and
eager torch runs it as 200 full-image passes; this C loop runs it in registers, one image
row at a time, vectorised by the compiler across x. It is compiled once per machine with the
system C compiler and cached; without a compiler the torch network in `ops` is used instead.
"""

from __future__ import annotations

import ctypes
import functools
from concurrent.futures import ThreadPoolExecutor

import torch

from flowpipe.flow.ops import median_network_code
from flowpipe.native import build

KSIZES = (3, 5)


def _network_code(ksize: int, load: str) -> str:
    n = ksize * ksize
    lines = [
        f"float v{k} = {load.format(dy=k // ksize, dx=k % ksize - ksize // 2)};" for k in range(n)
    ]
    lines += median_network_code(
        n,
        "(v{a} < v{b} ? v{a} : v{b})",
        "(v{a} < v{b} ? v{b} : v{a})",
        "{{ float t = {lo}; v{b} = {hi}; v{a} = t; }}",
        end=";",
    )
    lines.append(f"out[x] = v{n // 2};")
    return "\n            ".join(lines)


def _function_code(ksize: int) -> str:
    r = ksize // 2
    rows = "\n        ".join(
        f"const float *row{dy} = plane + (int64_t)clampi(y + {dy - r}, h) * w;"
        for dy in range(ksize)
    )
    interior = _network_code(ksize, "row{dy}[x + ({dx})]")
    border = _network_code(ksize, "row{dy}[clampi(x + ({dx}), w)]")
    return f"""
void median{ksize}(const float *src, float *dst, int64_t h, int64_t w,
                   int64_t row0, int64_t row1) {{
    for (int64_t r = row0; r < row1; ++r) {{
        const int64_t y = r % h;
        const float *plane = src + (r - y) * w;
        float *out = dst + r * w;
        {rows}
        int64_t x = 0;
        for (; x < w && x < {r}; ++x) {{
            {border}
        }}
        for (; x < w - {r}; ++x) {{
            {interior}
        }}
        for (; x < w; ++x) {{
            {border}
        }}
    }}
}}
"""


def c_source() -> str:
    """The generated C source: one function per supported kernel size."""
    head = "#include <stdint.h>\nstatic inline int64_t clampi(int64_t v, int64_t n) "
    head += "{ return v < 0 ? 0 : (v >= n ? n - 1 : v); }\n"
    return head + "".join(_function_code(k) for k in KSIZES)


@functools.cache
def load_library() -> ctypes.CDLL | None:
    """The compiled C median (built once per machine); None without a C compiler."""
    lib = build(
        "median",
        c_source(),
        fallback="the solver's median runs as a sorting network in torch (14x slower "
        "than the C kernel, docs/engine.md)",
    )
    if lib is None:
        return None
    for k in KSIZES:
        fn = getattr(lib, f"median{k}")
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_int64] * 4
        fn.restype = None
    return lib


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, thread_name_prefix="flowpipe-median")


def native_median(x: torch.Tensor, ksize: int) -> torch.Tensor:
    """ksize x ksize (3 or 5) replicated-border median of a CPU float32 [..., H, W] tensor,
    rows split over torch's thread count (ctypes releases the GIL). Needs `load_library()`."""
    lib = load_library()
    if lib is None or ksize not in KSIZES or x.device.type != "cpu" or x.dtype != torch.float32:
        raise ValueError(f"native median unavailable for ksize={ksize}, {x.device}, {x.dtype}")
    src = x.contiguous()
    dst = torch.empty_like(src)
    h, w = src.shape[-2:]
    rows = src.numel() // w
    fn = getattr(lib, f"median{ksize}")
    workers = max(1, torch.get_num_threads())
    bounds = [rows * i // workers for i in range(workers + 1)]
    jobs = [
        _pool(workers).submit(fn, src.data_ptr(), dst.data_ptr(), h, w, lo, hi)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        if hi > lo
    ]
    for job in jobs:
        job.result()
    return dst
