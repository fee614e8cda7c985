"""The Triton kernels compile for an H100 (sm_90) without register spills, on a machine with no
GPU: Triton's own compiler and its bundled ptxas, at the default `TritonSettings`. Catches what
the CPU interpreter cannot (a kernel that does not lower, or one that spills), and a change
that makes a kernel need more registers than recorded (fewer programs per SM).

The kernels are compiled in a process of their own without TRITON_INTERPRET (under the
interpreter `triton.jit` gives functions that do not compile), so this runs beside the
interpreter tests: `python tests/flow/test_triton_compile.py` prints the reports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

triton = pytest.importorskip("triton")
from flowpipe.flow.triton_backend import PTXAS, TritonSettings, ptxas_report  # noqa: E402
from flowpipe.flow.triton_kernels import hand_back, step, step_constexprs  # noqa: E402
from flowpipe.flow.triton_warp import warp_consts_kernel  # noqa: E402

# Registers per thread at the defaults, recorded with Triton 3.8.0 (docs/engine.md): a kernel
# may not need more without a reason written there.
RECORDED_TRITON = "3.8.0"
REGISTERS = {"step": 96, "step_bilinear": 96, "warp_bicubic": 109, "warp_bilinear": 40}
REGISTERS |= {"hand_back": 22}


DEFAULTS = TritonSettings()
KERNELS = {
    # The opencv preset (5x5 median, bicubic warp), and a bilinear warp without a median.
    "step": lambda: (step, step_constexprs(DEFAULTS.block, 5, True)),
    "step_bilinear": lambda: (step, step_constexprs(DEFAULTS.block, 0, False)),
    "hand_back": lambda: (hand_back, {"BLOCK": DEFAULTS.block}),
    "warp_bicubic": lambda: (warp_consts_kernel, {"BLOCK": DEFAULTS.warp_block, "CUBIC": True}),
    "warp_bilinear": lambda: (warp_consts_kernel, {"BLOCK": DEFAULTS.warp_block, "CUBIC": False}),
}


def reports() -> dict[str, str]:
    """ptxas's report of every kernel, by name."""
    with tempfile.TemporaryDirectory() as tmp:
        return {name: ptxas_report(*make(), Path(tmp)) for name, make in KERNELS.items()}


@pytest.fixture(scope="module")
def compiled() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    command = [sys.executable, __file__]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(not PTXAS.exists(), reason="Triton without its CUDA backend's ptxas")
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_compiles_for_h100_without_spills(name: str, compiled: dict[str, str]) -> None:
    report = compiled[name]
    used = re.search(r"Used (\d+) registers", report)
    assert used is not None, report
    assert "0 bytes spill stores" in report, report
    if triton.__version__ == RECORDED_TRITON:
        assert int(used.group(1)) <= REGISTERS[name], report


if __name__ == "__main__":
    print(json.dumps(reports()))
