"""glibc malloc settings for processes that allocate the same multi-megabyte buffers over and
over (solver iterations, loader items).

By default glibc serves allocations above 128 KiB-32 MiB with fresh mmap()s and returns freed
memory to the OS, so every new frame-sized tensor page-faults its way in again; Dask's nanny
makes it worse (MALLOC_TRIM_THRESHOLD_=64 KiB). Keeping freed memory for reuse removes that.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
KEEP_BYTES = 1 << 30  # return freed memory to the OS only above 1 GiB of free heap
MMAP_BYTES = 32 << 20  # allocations up to 32 MiB come from the (reused) heap


def keep_freed_memory() -> bool:
    """Have glibc keep freed memory for reuse in this process; False where that is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)) and bool(
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)
        )
    return False
