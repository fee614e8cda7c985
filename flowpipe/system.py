"""`flowpipe info --system`: which of flowpipe's paths this machine runs, and why not the
others (C kernels, libjpeg-turbo, torch.compile, Triton, CUDA, the cluster's packages)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
from typing import Any


def system_report() -> dict[str, Any]:
    """JSON-ready: versions, and for each optional path whether it is active and why not."""
    import torch

    from flowpipe import __version__, native
    from flowpipe.data.native_loader import library
    from flowpipe.flow.native_median import load_library
    from flowpipe.flow.solver import can_compile

    load_library()
    library()
    kernels = native.status()
    cuda = torch.cuda.is_available()
    return {
        "flowpipe": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "paths": {
            "c_median": _path(kernels.get("median") is None, kernels.get("median")),
            "c_loader_libjpeg_turbo": _path(kernels.get("loader") is None, kernels.get("loader")),
            "torch_compile_cpu": _path(
                can_compile(torch.device("cpu")), "no C++ compiler (c++, g++ or clang++)"
            ),
            "triton": _path(_installed("triton"), "Triton is not installed", _version("triton")),
            "cuda": _path(cuda, "no CUDA device", _gpus() if cuda else None),
            "dask_cluster": _path(
                _installed("distributed"),
                "pip install 'flowpipe-tvl1[cluster]'",
                _version("distributed"),
            ),
            "s3": _path(_installed("s3fs"), "pip install 'flowpipe-tvl1[s3]'", _version("s3fs")),
            "dashboard": _path(_installed("bokeh"), "pip install bokeh", _version("bokeh")),
        },
        "native_cache": str(native.cache_dir()),
        "no_native": os.environ.get("FLOWPIPE_NO_NATIVE") == "1",
        "c_compiler": os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc"),
    }


def report_text(report: dict[str, Any]) -> str:
    """The report as lines for a person."""
    lines = [
        f"flowpipe {report['flowpipe']}, Python {report['python']}, torch {report['torch']}, "
        f"{report['cpu_threads']} CPU threads"
    ]
    for name, path in report["paths"].items():
        state = "on " if path["active"] else "off"
        detail = path.get("detail") or path.get("why_not") or ""
        lines.append(f"  {state}  {name:<24} {detail}")
    lines.append(f"  C kernels cached in {report['native_cache']}")
    return "\n".join(lines)


def _path(active: bool, why_not: str | None, detail: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"active": bool(active)}
    if active and detail:
        out["detail"] = detail
    if not active:
        out["why_not"] = why_not
    return out


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _gpus() -> str:
    import torch

    return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
