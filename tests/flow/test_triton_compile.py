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
FP, INT, PTR, IPTR = "fp32", "i32", "*fp32", "*i32"
STATE = dict.fromkeys(["su", "spx", "spy", "du", "dpx", "dpy"], PTR)


def spills(fn, signature: dict[str, str], constexprs: dict[str, object], tmp: Path) -> str:
    """ptxas's register report of the kernel compiled for sm_90."""
    signature = {**signature, **dict.fromkeys(constexprs, "constexpr")}
    source = ASTSource(fn=fn, signature=signature, constexprs=constexprs)
    kernel = triton.compile(source, target=GPUTarget("cuda", 90, 32))
    ptx = tmp / "kernel.ptx"
    ptx.write_text(kernel.asm["ptx"])
    result = subprocess.run([str(PTXAS), "-v", "--gpu-name", "sm_90a", str(ptx), "-o", os.devnull],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stderr


KERNELS = {
    "iteration": lambda: (
        iteration_kernel(triton_backend.FUSED_STEPS, triton_backend.FUSED_STEPS),
        {
            **STATE,
            "g_ptr": PTR,
            "rho_ptr": PTR,
            "inv_ptr": PTR,
            "pairs_ptr": IPTR,
            "prev_ptr": PTR,
            "cur_ptr": PTR,
            "next_ptr": PTR,
            "home_ptr": IPTR,
            "home": INT,
            "row_stride": INT,
            "threshold": FP,
            "height": INT,
            "width": INT,
            "l_t": FP,
            "theta": FP,
            "taut": FP,
        },
        {"BLOCK": triton_backend.BLOCK},
    ),  # fmt: skip
    "median": lambda: (
        median_kernel(5, triton_backend.FUSED_STEPS),
        {
            **STATE,
            "pairs_ptr": IPTR,
            "prev_ptr": PTR,
            "home_ptr": IPTR,
            "home": INT,
            "row_stride": INT,
            "threshold": FP,
            "height": INT,
            "width": INT,
        },
        {"BLOCK": triton_backend.BLOCK},
    ),  # fmt: skip
    "resident": lambda: (
        resident_kernel(5),
        {
            "u_ptr": PTR,
            "px_ptr": PTR,
            "py_ptr": PTR,
            "m_ptr": PTR,
            "g_ptr": PTR,
            "rho_ptr": PTR,
            "inv_ptr": PTR,
            "height": INT,
            "width": INT,
            "threshold": FP,
            "l_t": FP,
            "theta": FP,
            "taut": FP,
            "outer": INT,
            "inner": INT,
        },
        {"BLOCK": triton_backend.RESIDENT_BLOCK},
    ),  # fmt: skip
    "warp_bicubic": lambda: (
        warp_consts_kernel,
        {
            "img_ptr": PTR,
            "i0_ptr": PTR,
            "u_ptr": PTR,
            "g_ptr": PTR,
            "rho_ptr": PTR,
            "inv_ptr": PTR,
            "height": INT,
            "width": INT,
            "eps": FP,
            "steps": FP,
        },
        {"BLOCK": WARP_BLOCK, "CUBIC": True},
    ),  # fmt: skip
}


@pytest.mark.skipif(not PTXAS.exists(), reason="Triton without its CUDA backend's ptxas")
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_compiles_for_h100_without_spills(name: str, tmp_path: Path) -> None:
    report = spills(*KERNELS[name](), tmp_path)
    assert "Used" in report and "registers" in report
    assert "0 bytes spill stores" in report, report
