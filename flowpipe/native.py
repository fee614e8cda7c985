"""Small C kernels built on first use with the system C compiler and cached per machine.

Used where a fused loop in registers beats library calls by a wide margin (the median
network of the solver, the loaders' stack assembly and JPEG boxes). Each caller keeps a pure
Python/torch/OpenCV path for machines without a compiler: `build` returns None there, and
also when FLOWPIPE_NO_NATIVE=1 (to compare or debug the pure paths). A kernel that cannot be
built says so once per process (a `NativeFallbackWarning` naming the reason and what the
fallback costs); `status()` says which kernels this process has.
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
import warnings
from pathlib import Path

FLAGS = ("-O3", "-march=native", "-shared", "-fPIC")


def cache_dir() -> Path:
    """flowpipe's per-machine cache of built kernels ($XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "flowpipe"


class NativeFallbackWarning(RuntimeWarning):
    """A C kernel could not be built or loaded: the slower pure path runs instead."""


_STATUS: dict[str, str | None] = {}  # kernel -> None (built) or why it is not


def status() -> dict[str, str | None]:
    """The kernels this process asked for: None when built and loaded, else the reason."""
    return dict(_STATUS)


def build(
    name: str, source: str, libraries: tuple[str, ...] = (), fallback: str = ""
) -> ctypes.CDLL | None:
    """The shared library compiled from `source` and linked with `libraries` (once per machine
    and source), loaded; None when there is no C compiler or the build fails (a missing header
    or library included), said once with the reason and `fallback` (what runs instead, at
    what cost) unless FLOWPIPE_NO_NATIVE=1 asked for it."""
    if os.environ.get("FLOWPIPE_NO_NATIVE") == "1":
        _STATUS[name] = "FLOWPIPE_NO_NATIVE=1"
        return None
    try:
        lib = _built(name, source, libraries)
    except _NotBuilt as err:
        _STATUS[name] = str(err)
        warnings.warn(
            f"flowpipe: the {name} C kernel is not available ({err}); {fallback}".rstrip("; "),
            NativeFallbackWarning,
            stacklevel=3,
        )
        return None
    _STATUS[name] = None
    return lib


class _NotBuilt(Exception):
    """Why a kernel is not built (one line)."""


def _built(name: str, source: str, libraries: tuple[str, ...]) -> ctypes.CDLL:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise _NotBuilt("no C compiler found (cc, gcc or $CC)")
    links = tuple(f"-l{lib}" for lib in libraries)
    key = hashlib.sha256((source + " ".join(FLAGS + links) + _cpu()).encode()).hexdigest()
    target = cache_dir() / f"{name}-{key[:16]}.so"
    if not target.exists():
        try:
            _compile(compiler, source, target, links)
        except subprocess.CalledProcessError as err:
            raise _NotBuilt(f"the build failed: {_first_error(err.stderr)}") from None
        except OSError as err:
            raise _NotBuilt(f"the build failed: {err}") from None
    try:
        return ctypes.CDLL(str(target))
    except OSError as err:  # e.g. a library the kernel links against is missing at run time
        raise _NotBuilt(f"it does not load: {err}") from None


def _first_error(stderr: bytes | str | None) -> str:
    """The compiler's first error line (e.g. a missing header)."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else (stderr or "")
    errors = [line.strip() for line in text.splitlines() if "error" in line]
    return (errors or [line.strip() for line in text.splitlines() if line.strip()] or ["?"])[0]


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
