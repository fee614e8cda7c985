"""The Triton kernels compile for an H100 (sm_90) without register spills, on a machine with no
GPU: Triton's own compiler and its bundled ptxas, the defaults of `triton_backend` and
`triton_warp`. Catches what the CPU interpreter cannot (a kernel that does not lower, or one
that spills, as the 2-step fused iteration does)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

triton = pytest.importorskip("triton")
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from flowpipe.flow import triton_backend  # noqa: E402
from flowpipe.flow.triton_codegen import iteration_kernel, median_kernel, resident_kernel  # noqa: E402
from flowpipe.flow.triton_warp import BLOCK as WARP_BLOCK  # noqa: E402
from flowpipe.flow.triton_warp import warp_consts_kernel  # noqa: E402

PTXAS = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas"
STATE = {"su", "spx", "spy", "du", "dpx", "dpy"}  # state buffers: float pointers
INT_POINTERS = {"pairs_ptr", "home_ptr"}
INTS = {"home", "row_stride", "height", "width", "outer", "inner"}


def signature(fn, constexprs: dict[str, object]) -> dict[str, str]:
    """Argument types of a kernel, by our naming: *_ptr and state buffers are pointers, the
    sizes and counts ints, other scalars fp32."""
    types = {}
    for name in fn.arg_names:
        if name in constexprs:
            types[name] = "constexpr"
        elif name in INT_POINTERS:
            types[name] = "*i32"
        elif name.endswith("_ptr") or name in STATE:
            types[name] = "*fp32"
        else:
            types[name] = "i32" if name in INTS else "fp32"
    return types


def ptxas_report(fn, constexprs: dict[str, object], tmp: Path) -> str:
    """ptxas's register report of the kernel compiled for sm_90."""
    source = ASTSource(fn=fn, signature=signature(fn, constexprs), constexprs=constexprs)
    kernel = triton.compile(source, target=GPUTarget("cuda", 90, 32))
    ptx = tmp / "kernel.ptx"
    ptx.write_text(kernel.asm["ptx"])
    result = subprocess.run([str(PTXAS), "-v", "--gpu-name", "sm_90a", str(ptx), "-o", os.devnull],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stderr


KERNELS = {
    "iteration": lambda: (
        iteration_kernel(triton_backend.FUSED_STEPS, triton_backend.FUSED_STEPS),
        {"BLOCK": triton_backend.BLOCK},
    ),
    "median": lambda: (
        median_kernel(5, triton_backend.FUSED_STEPS),
        {"BLOCK": triton_backend.BLOCK},
    ),
    "resident": lambda: (resident_kernel(5), {"BLOCK": triton_backend.RESIDENT_BLOCK}),
    "warp_bicubic": lambda: (warp_consts_kernel, {"BLOCK": WARP_BLOCK, "CUBIC": True}),
}


@pytest.mark.skipif(not PTXAS.exists(), reason="Triton without its CUDA backend's ptxas")
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_compiles_for_h100_without_spills(name: str, tmp_path: Path) -> None:
    report = ptxas_report(*KERNELS[name](), tmp_path)
    assert "Used" in report and "registers" in report
    assert "0 bytes spill stores" in report, report
