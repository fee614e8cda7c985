"""Pool against solo solves on a GPU (a developer check for `benchmarks/gpu_run.sh`).

Chunks of three frame sizes (the sample clip at 340x256, the UCF-101 clip at its own 320x240,
and the sample clip at 160x120), with pairs that converge at different speeds (identical
frames among them), go through a pool smaller than their number, refilled as pairs finish;
each pair's flow is compared with solving it alone on the same backend, and the Triton flow
with the torch path's. The CPU tests assert the same under TRITON_INTERPRET=1
(tests/flow/test_triton.py); this prints what a GPU gives as one JSON object.

    python benchmarks/gpu_exactness.py --data ../shared/data --device cuda
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from flowpipe.bench.tvl1 import SAMPLE_VIDEO, UCF_VIDEO, video_frames
from flowpipe.flow import preset
from flowpipe.flow.frames import to_gray_batch
from flowpipe.flow.pool import FlowPool
from flowpipe.flow.solver import select_backend, solve_batch


def chunks(data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Chunks of pairs of three frame sizes; the last pair of the first chunk is identical
    frames (converges at once)."""
    sample = video_frames(data / SAMPLE_VIDEO, 9)
    ucf = video_frames(data / UCF_VIDEO, 7)
    small = np.stack([cv2.resize(f, (160, 120), interpolation=cv2.INTER_AREA) for f in sample])
    first = (np.concatenate([sample[:3], sample[3:4]]), np.concatenate([sample[1:4], sample[3:4]]))
    return [first, (ucf[:6], ucf[1:7]), (small[:5], small[1:6]), (sample[4:8], sample[5:9])]


def compare(data: Path, device: torch.device, backend: str, capacity: int) -> dict:
    """Each chunk's pool flow against its pairs solved alone: bitwise equal, largest difference."""
    params = preset("opencv")
    parts = chunks(data)
    with FlowPool(device, params, capacity=capacity, backend=backend) as pool:
        pooled = [f.result() for f in [pool.submit(*c) for c in parts]]
        figures = pool.stats.as_dict()
    alone = select_backend(device, backend)
    solo = []
    for prev, nxt in parts:
        pairs = zip(prev, nxt, strict=True)
        rows = [solve_batch(*_gray(p, n, device), params, alone) for p, n in pairs]
        solo.append(torch.cat(rows))
    diffs = [(p - s).abs().max().item() for p, s in zip(pooled, solo, strict=True)]
    return {
        "backend": backend,
        "capacity": capacity,
        "pairs": figures["pairs"],
        "bitwise_equal": all(torch.equal(p, s) for p, s in zip(pooled, solo, strict=True)),
        "max_abs_diff_px": max(diffs),
        "flow": [p.cpu() for p in pooled],
    }


def _gray(prev: np.ndarray, nxt: np.ndarray, device: torch.device) -> list[torch.Tensor]:
    return [to_gray_batch(f[None], "frames", device) for f in (prev, nxt)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--capacity", type=int, default=4)
    args = parser.parse_args()
    device = torch.device(args.device)
    backends = ["triton", "torch"] if device.type == "cuda" else ["torch"]
    rows = [compare(args.data, device, b, args.capacity) for b in backends]
    runs = [{k: v for k, v in r.items() if k != "flow"} for r in rows]
    out: dict = {"device": str(device), "runs": runs}
    if len(rows) == 2:
        pairs = zip(rows[0]["flow"], rows[1]["flow"], strict=True)
        out["triton_vs_torch_mean_abs_px"] = float(
            np.mean([(a - b).abs().mean().item() for a, b in pairs])
        )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
