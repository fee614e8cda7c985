"""`flowpipe info --system`, and the C kernels' fallback said once with its reason and cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHECK = """
import warnings
from flowpipe import native
from flowpipe.flow.native_median import load_library
from flowpipe.data.native_loader import library
assert load_library() is None and library() is None
load_library(); library()  # asked again: said once only (cached)
print(native.status())
"""


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )


def test_info_system_says_which_paths_are_active() -> None:
    done = run(sys.executable, "-m", "flowpipe", "info", "--system", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    paths = report["paths"]
    assert set(paths) >= {
        "c_median",
        "c_loader_libjpeg_turbo",
        "torch_compile_cpu",
        "triton",
        "cuda",
    }
    for path in paths.values():
        assert path["active"] or path["why_not"]
    text = run(sys.executable, "-m", "flowpipe", "info", "--system")
    assert text.returncode == 0 and "c_median" in text.stdout


def test_a_kernel_that_cannot_build_is_said_once_with_reason_and_cost(tmp_path) -> None:
    done = run(
        sys.executable, "-c", CHECK, CC=str(tmp_path / "no-cc"), XDG_CACHE_HOME=str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "NativeFallbackWarning" in line]
    assert len(lines) == 2  # median and loader, once each
    assert "median C kernel is not available" in lines[0] and "14x slower" in lines[0]
    assert "the build failed" in done.stdout
    forced = run(sys.executable, "-c", CHECK, FLOWPIPE_NO_NATIVE="1", XDG_CACHE_HOME=str(tmp_path))
    assert forced.returncode == 0 and "NativeFallbackWarning" not in forced.stderr  # asked for
    command = (sys.executable, "-m", "flowpipe", "info", "--system", "--json")
    report = run(*command, FLOWPIPE_NO_NATIVE="1")
    assert json.loads(report.stdout)["paths"]["c_median"]["why_not"] == "FLOWPIPE_NO_NATIVE=1"
