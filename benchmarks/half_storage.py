"""Would half-precision storage keep the flow? (a developer tool, not `flowpipe bench`).

Runs the torch path on the shared Middlebury pairs with its stored values rounded as a
float16 or bfloat16 buffer would hold them: the warp's constants (gradient, rho, 1/|grad|^2),
the state (flow and duals) after each iteration, or both. Prints, per pair and variant, the
AEE against ground truth and the mean end-point difference to the float32 flow, as one JSON
object. CPU is enough: rounding is rounding.

    python benchmarks/half_storage.py --data ../shared/data > half.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from flowpipe.bench.tvl1 import MIDDLEBURY
from flowpipe.flow import preset
from flowpipe.flow.frames import to_gray_batch
from flowpipe.flow.ops import median_filter
from flowpipe.flow.solver import Backend, Kernels, solve_batch, tvl1_iteration, warp_consts
from flowpipe.io import read_flo

VARIANTS = {
    "float32": (None, None),
    "constants_float16": (torch.float16, None),
    "constants_bfloat16": (torch.bfloat16, None),
    "state_float16": (None, torch.float16),
    "all_float16": (torch.float16, torch.float16),
    "all_bfloat16": (torch.bfloat16, torch.bfloat16),
}


def rounded(fn: Callable, dtype: torch.dtype | None, count: int) -> Callable:
    """fn with its first `count` outputs rounded through `dtype` (unchanged for None)."""
    if dtype is None:
        return fn

    def wrapped(*args: object) -> tuple[torch.Tensor, ...]:
        out = fn(*args)
        return tuple(t.to(dtype).float() if k < count else t for k, t in enumerate(out))

    return wrapped


def solve(
    prev: np.ndarray, nxt: np.ndarray, constants: torch.dtype | None, state: torch.dtype | None
) -> np.ndarray:
    """The torch path's flow [H, W, 2] with the stored values rounded as asked."""
    cpu = torch.device("cpu")
    consts = rounded(warp_consts, constants, 3)
    backend = Backend(cpu, Kernels(rounded(tvl1_iteration, state, 3), median_filter, consts))
    i0, i1 = (to_gray_batch(f, "frame", cpu) for f in (prev, nxt))
    return solve_batch(i0, i1, preset("opencv"), backend)[0].permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in MIDDLEBURY:
        folder = args.data / "middlebury" / name
        prev, nxt = (
            cv2.imread(str(folder / f), cv2.IMREAD_GRAYSCALE)
            for f in ("frame10.png", "frame11.png")
        )
        truth = read_flo(folder / "flow10.flo")
        valid = np.abs(truth).max(axis=-1) < 1e9
        reference = None
        for variant, (constants, state) in VARIANTS.items():
            flow = solve(prev, nxt, constants, state)
            reference = flow if reference is None else reference
            out.setdefault(name, {})[variant] = {
                "aee": float(np.linalg.norm(flow - truth, axis=-1)[valid].mean()),
                "epe_to_float32": float(np.linalg.norm(flow - reference, axis=-1).mean()),
            }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
