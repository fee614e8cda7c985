"""Small C kernels built on first use with the system C compiler and cached per machine.

Used where a fused loop in registers beats library calls by a wide margin (the median
network of the solver, the loaders' stack assembly and JPEG boxes). Each caller keeps a pure
Python/torch/OpenCV path for machines without a compiler: `build` returns None there, and
also when FLOWPIPE_NO_NATIVE=1 (to compare or debug the pure paths).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ("-O3", "-march=native", "-shared", "-fPIC")


def cache_dir() -> Path:
    """flowpipe's per-machine cache of built kernels ($XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "flowpipe"


def build(name: str, source: str, libraries: tuple[str, ...] = ()) -> ctypes.CDLL | None:
    """The shared library compiled from `source` and linked with `libraries` (once per machine
    and source), loaded; None when there is no C compiler or the build fails (a missing header
    or library included)."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None or os.environ.get("FLOWPIPE_NO_NATIVE") == "1":
        return None
    links = tuple(f"-l{lib}" for lib in libraries)
    key = hashlib.sha256((source + " ".join(FLAGS + links) + _cpu()).encode()).hexdigest()
    target = cache_dir() / f"{name}-{key[:16]}.so"
    if not target.exists():
        try:
            _compile(compiler, source, target, links)
        except (OSError, subprocess.CalledProcessError):
            return None
    try:
        return ctypes.CDLL(str(target))
    except OSError:  # e.g. a library the kernel links against is missing at run time
        return None


@functools.cache
def _cpu() -> str:
    """What -march=native builds for: the CPU model and its flags (a cache directory shared by
    machines with different CPUs, e.g. a cluster's home, keeps a build per CPU)."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith(("model name", "flags"))][:2]
    except OSError:
        lines = []
    return platform.machine() + platform.processor() + "".join(lines)


def _compile(compiler: str, source: str, target: Path, links: tuple[str, ...]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        c_file = Path(tmp) / "source.c"
        c_file.write_text(source)
        built = Path(tmp) / target.name
        command = [compiler, *FLAGS, str(c_file), "-o", str(built), *links]
        subprocess.run(command, check=True, capture_output=True)
        os.replace(built, target)
