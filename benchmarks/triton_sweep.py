"""Tuning sweep of the Triton TV-L1 backend on a GPU (a developer tool, not `flowpipe bench`).

Times batches of 340x256 pairs through the torch path and the Triton path for each fused
step count and block size, with each variant's mean difference to the torch flow, then the
best variant at larger batches, launched through the JIT every time, with float16 warp
constants, with small pyramid levels run resident (one launch per warp) and with CUDA
graphs, and a kernel-time profile. Prints one JSON object.

    python benchmarks/triton_sweep.py --data ../shared/data > sweep.json
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import torch
import triton

from flowpipe.bench.tvl1 import video_frames
from flowpipe.flow import preset, triton_warp, tvl1_flow
from flowpipe.flow import triton_backend as backend

CLIPS = {"sample": "videos/sample_340x256.mp4", "ucf101": "videos/v_ApplyEyeMakeup_g01_c01.avi"}
SIZE = (340, 256)
REPEATS = 3


def clip(data: Path, name: str, count: int) -> torch.Tensor:
    """`count` gray frames of a shared clip at 340x256, on the GPU."""
    frames = video_frames(data / CLIPS[name], count)
    frames = np.stack([cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for f in frames])
    return torch.from_numpy(frames).cuda()


def timed(frames: torch.Tensor, batch: int, backend_name: str) -> tuple[float, torch.Tensor]:
    """pairs/s of the best of REPEATS calls on `batch` pairs (after a warm-up call), and the
    flow."""
    params = preset("opencv")
    prev, nxt = frames[:batch], frames[1 : batch + 1]
    solve = functools.partial(
        tvl1_flow, params=params, device="cuda", backend=backend_name, compile=False
    )  # the Triton path compiles nothing; torch: eager
    flow = solve(prev, nxt)
    best = float("inf")
    for _ in range(REPEATS):
        torch.cuda.synchronize()
        start = time.perf_counter()
        solve(prev, nxt)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return batch / best, flow


def log(message: str) -> None:
    print(f"[sweep] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", default="1,2,3")
    parser.add_argument("--blocks", default="256,512,1024")
    parser.add_argument("--large", default="256,512")
    parser.add_argument(
        "--resident",
        default="6000,25000,100000",
        help="RESIDENT_PIXELS thresholds to time (pyramid levels run resident)",
    )
    args = parser.parse_args()
    largest = max([128, *map(int, args.large.split(","))])
    clips = {name: clip(args.data, name, largest + 1) for name in CLIPS}
    out: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
    }
    out["launch_us"] = launch_overhead()
    log(json.dumps(out))
    speed, ref = timed(clips["sample"], 128, "torch")
    out["torch_eager_batch128_sample"] = speed
    log(f"torch path (eager): {speed:.1f} pairs/s")
    variants = []
    for steps in map(int, args.steps.split(",")):
        for block in map(int, args.blocks.split(",")):
            backend.FUSED_STEPS, backend.BLOCK = steps, block
            speed, flow = timed(clips["sample"], 128, "triton")
            row = {
                "steps": steps,
                "block": block,
                "sample_batch128": speed,
                "mean_diff_to_torch": (flow - ref).abs().mean().item(),
            }
            variants.append(row)
            log(json.dumps(row))
    out["variants"] = variants
    best = max(variants, key=lambda r: r["sample_batch128"])
    backend.FUSED_STEPS, backend.BLOCK = best["steps"], best["block"]
    out["best"] = dict(best)
    for name, frames in clips.items():
        for batch in [128, *map(int, args.large.split(","))]:
            torch.cuda.reset_peak_memory_stats()
            speed, _ = timed(frames, batch, "triton")
            out["best"][f"{name}_batch{batch}"] = speed
            out["best"][f"{name}_batch{batch}_peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
            log(f"best on {name} batch {batch}: {speed:.1f} pairs/s")
    out["jit_launch"] = jit_launch_speeds(clips)
    out["half_constants"] = half_constant_speeds(clips, ref)
    out["resident"] = resident_speeds(clips, ref, map(int, args.resident.split(",")))
    fastest = max(out["resident"], key=lambda r: r["sample_batch128"] + r["ucf101_batch128"])
    out["cuda_graphs"] = [graph_speeds(clips, pixels) for pixels in (0, fastest["resident_pixels"])]
    out["profile"] = kernel_profile(clips["sample"])
    print(json.dumps(out, indent=2))


@contextlib.contextmanager
def setting(module: ModuleType, **values: object) -> Iterator[None]:
    """Module constants set to `values` for the block, restored after it."""
    saved = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def variant_row(
    clips: dict[str, torch.Tensor], against: torch.Tensor, label: dict[str, float]
) -> dict[str, float]:
    """The backend as set now: pairs/s at batch 128 per clip, and the mean and largest
    difference of the sample clip's flow to `against`; logged, after `label`."""
    row = dict(label)
    for name, frames in clips.items():
        speed, flow = timed(frames, 128, "triton")
        row[f"{name}_batch128"] = speed
        if name == "sample":
            row["mean_diff"] = (flow - against).abs().mean().item()
            row["max_diff"] = (flow - against).abs().max().item()
    log(json.dumps(row))
    return row


def jit_launch_speeds(clips: dict[str, torch.Tensor]) -> dict[str, float]:
    """Launched through Triton's JIT every time (FAST_LAUNCH off), against the flow of fast
    launches (expected: the same)."""
    _, fast = timed(clips["sample"], 128, "triton")
    with setting(backend, FAST_LAUNCH=False):
        return variant_row(clips, fast, {})


def half_constant_speeds(clips: dict[str, torch.Tensor], ref: torch.Tensor) -> dict[str, float]:
    """The warp's constants stored as float16, against the torch path's flow."""
    with setting(triton_warp, HALF_CONSTANTS=True):
        return variant_row(clips, ref, {})


def resident_speeds(
    clips: dict[str, torch.Tensor], ref: torch.Tensor, thresholds: Iterable[int]
) -> list[dict[str, float]]:
    """Pyramid levels of at most each threshold's pixels run as one resident launch per warp,
    against the torch path's flow."""
    rows = []
    for threshold in thresholds:
        with setting(backend, RESIDENT_PIXELS=threshold):
            rows.append(variant_row(clips, ref, {"resident_pixels": threshold}))
    return rows


def graph_speeds(clips: dict[str, torch.Tensor], resident: int) -> dict[str, float]:
    """CUDA graphs for the stable tail, levels of at most `resident` pixels run resident,
    against the flow without graphs (the same launches: expected the same)."""
    with setting(backend, RESIDENT_PIXELS=resident):
        _, plain = timed(clips["sample"], 128, "triton")
        with setting(backend, CUDA_GRAPHS=True):
            return variant_row(clips, plain, {"resident_pixels": resident})


def launch_overhead(pairs: int = 128, launches: int = 2000) -> dict[str, float]:
    """Microseconds per launch of the iteration kernel when every pair has converged (the
    programs exit at once): host time to issue, and wall time with the GPU included."""
    from flowpipe.flow.triton_codegen import iteration_kernel

    h, w = SIZE[1], SIZE[0]
    state = [torch.zeros(pairs, 2, h, w, device="cuda") for _ in range(6)]
    consts = [torch.zeros(pairs, c, h, w, device="cuda") for c in (2, 1, 1)]
    rows = torch.zeros(3, 1, pairs, device="cuda")  # every change 0: all pairs converged
    home = torch.zeros(pairs, dtype=torch.int32, device="cuda")
    ids = torch.arange(pairs, dtype=torch.int32, device="cuda")
    kernel = iteration_kernel(1, 1)
    grid = (-(-h * w // backend.BLOCK), pairs)

    def launch() -> None:
        kernel[grid](
            *state,
            *consts,
            ids,
            rows[0],
            rows[1],
            rows[2],
            home,
            1,
            pairs,
            1.0,
            h,
            w,
            0.045,
            0.3,
            0.83,
            BLOCK=backend.BLOCK,
        )

    args = (
        *state,
        *consts,
        ids,
        rows[0],
        rows[1],
        rows[2],
        home,
        1,
        pairs,
        1.0,
        h,
        w,
        0.045,
        0.3,
        0.83,
    )
    compiled = kernel[grid](*args, BLOCK=backend.BLOCK)
    result = {}
    runners = {"jit": launch, "compiled": lambda: compiled[(*grid, 1)](*args, backend.BLOCK)}
    for name, run in runners.items():
        try:
            run()
        except Exception as err:  # noqa: BLE001 (a probe of Triton's internals)
            result[f"{name}_error"] = repr(err)[:300]
            continue
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(launches):
            run()
        issued = time.perf_counter() - start
        torch.cuda.synchronize()
        done = time.perf_counter() - start
        result[f"{name}_host_issue"] = 1e6 * issued / launches
        result[f"{name}_wall"] = 1e6 * done / launches
    return result


def kernel_profile(frames: torch.Tensor) -> list[dict[str, Any]]:
    """GPU time per kernel name of one 128-pair call, the largest first."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        tvl1_flow(frames[:128], frames[1:129], params=preset("opencv"), device="cuda")
        torch.cuda.synchronize()
    rows = sorted(prof.key_averages(), key=lambda e: -e.device_time_total)[:12]
    return [{"name": e.key[:60], "calls": e.count, "ms": e.device_time_total / 1e3} for e in rows]


if __name__ == "__main__":
    main()
