"""The pool's step kernel as an H100/H200 would hold it, on a machine without a GPU (a
developer tool): for each block size, the registers per thread and bytes spilled that Triton
and its bundled ptxas give for sm_90, and from them the programs of 128 threads an SM holds
and the pixels they work on at once. Device-independent: it says how many programs wait on
memory together, not how fast they go. Prints one JSON object.

    python benchmarks/step_registers.py --blocks 128,256,512
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

import triton

from flowpipe.flow.triton_backend import ptxas_report
from flowpipe.flow.triton_kernels import step, step_constexprs

# An H100/H200 SM: its register file, the unit registers are allocated in per warp, the most
# warps and programs it holds; Triton's default program is 4 warps of 32 threads.
REGISTERS_PER_SM = 65536
ALLOCATION_UNIT = 256
MAX_WARPS, MAX_PROGRAMS, WARPS_PER_PROGRAM = 64, 32, 4
KERNELS = {"opencv": (5, True), "bilinear_no_median": (0, False)}  # median, bicubic


def programs_per_sm(registers: int) -> int:
    """Programs of WARPS_PER_PROGRAM warps an SM holds at `registers` per thread."""
    per_warp = -(-registers * 32 // ALLOCATION_UNIT) * ALLOCATION_UNIT
    by_registers = REGISTERS_PER_SM // (per_warp * WARPS_PER_PROGRAM)
    return min(by_registers, MAX_WARPS // WARPS_PER_PROGRAM, MAX_PROGRAMS)


def figures(block: int, median: int, cubic: bool, tmp: Path) -> dict[str, int]:
    report = ptxas_report(step, step_constexprs(block, median, cubic), tmp)
    registers = int(re.search(r"Used (\d+) registers", report).group(1))
    spilled = int(re.search(r"(\d+) bytes spill stores", report).group(1))
    programs = programs_per_sm(registers)
    return {
        "registers": registers,
        "spilled_bytes": spilled,
        "programs_per_sm": programs,
        "pixels_per_sm": programs * block,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", default="128,256,512")
    args = parser.parse_args()
    out = {"triton": triton.__version__, "target": "sm_90a (ptxas bundled with Triton)"}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (median, cubic) in KERNELS.items():
            out[name] = {
                block: figures(block, median, cubic, Path(tmp))
                for block in map(int, args.blocks.split(","))
            }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
