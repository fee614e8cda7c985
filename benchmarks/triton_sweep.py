"""Tuning sweep of the Triton TV-L1 backend on a GPU (a developer tool, not `flowpipe bench`).

Times batches of 340x256 pairs through the torch path and the Triton path for each block size
and look interval (`TritonSettings`: 128 sample-clip pairs, 512 UCF-101 pairs), with each
setting's mean difference to the torch flow, then the best setting (on UCF-101 at 512, the
target's figure) at larger batches, a stream of pairs through a pool (continuous batching,
`FlowPool`) with its figures, the cost of one launch through the JIT and through the compiled
kernel, a kernel-time profile, and the step kernel's registers as this GPU's Triton compiles it
at each block. Prints one JSON object. The variants measured before (fused steps, resident
warps, CUDA graphs, float16 constants) are recorded in docs/engine.md and kept at the git tag
`triton-variants`.

    python benchmarks/triton_sweep.py --data ../shared/data > sweep.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import triton

from flowpipe.bench.tvl1 import video_frames
from flowpipe.flow import preset
from flowpipe.flow.pool import FlowPool, PoolStats
from flowpipe.flow.solver import select_backend, solve_batch
from flowpipe.flow.triton_backend import TritonSettings, compile_ahead

CLIPS = {"sample": "videos/sample_340x256.mp4", "ucf101": "videos/v_ApplyEyeMakeup_g01_c01.avi"}
SIZE = (340, 256)
REPEATS = 3


def clip(data: Path, name: str, count: int) -> torch.Tensor:
    """`count` gray frames of a shared clip at 340x256, on the GPU, as float32 [N,1,H,W]."""
    frames = video_frames(data / CLIPS[name], count)
    frames = np.stack([cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for f in frames])
    return torch.from_numpy(frames).cuda().float().unsqueeze(1)


def timed(
    frames: torch.Tensor, batch: int, backend_name: str, settings: TritonSettings | None = None
) -> tuple[float, torch.Tensor]:
    """pairs/s of the best of REPEATS calls on `batch` pairs (after a warm-up call), and the
    flow; the Triton path with `settings` (its defaults if None), the torch path eager."""
    params = preset("opencv")
    prev, nxt = frames[:batch], frames[1 : batch + 1]
    kernels = select_backend(frames.device, backend_name, False, settings)
    flow = solve_batch(prev, nxt, params, kernels)
    best = float("inf")
    for _ in range(REPEATS):
        torch.cuda.synchronize()
        start = time.perf_counter()
        solve_batch(prev, nxt, params, kernels)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return batch / best, flow


def log(message: str) -> None:
    print(f"[sweep] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--blocks", default="128,256,512")
    parser.add_argument("--check-every", default="4,8,16")
    parser.add_argument("--large", default="256,512")
    parser.add_argument("--stream", type=int, default=1024, help="pairs streamed through a pool")
    parser.add_argument("--pool", type=int, default=256, help="the streaming pool's capacity")
    args = parser.parse_args()
    largest = max([512, args.stream, *map(int, args.large.split(","))])
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
    blocks = sorted({int(b) for b in args.blocks.split(",")})
    for block in blocks:
        for check_every in map(int, args.check_every.split(",")):
            settings = TritonSettings(block=block, check_every=check_every)
            speed, flow = timed(clips["sample"], 128, "triton", settings)
            row = {
                "block": block,
                "check_every": check_every,
                "sample_batch128": speed,
                "ucf101_batch512": timed(clips["ucf101"], 512, "triton", settings)[0],
                "mean_diff_to_torch": (flow - ref).abs().mean().item(),
            }
            variants.append(row)
            log(json.dumps(row))
    out["variants"] = variants
    best = max(variants, key=lambda r: r["ucf101_batch512"])  # the target's figure
    settings = TritonSettings(block=best["block"], check_every=best["check_every"])
    out["best"] = dict(best)
    for name, frames in clips.items():
        for batch in [128, *map(int, args.large.split(","))]:
            torch.cuda.reset_peak_memory_stats()
            speed, _ = timed(frames, batch, "triton", settings)
            out["best"][f"{name}_batch{batch}"] = speed
            out["best"][f"{name}_batch{batch}_peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
            log(f"best on {name} batch {batch}: {speed:.1f} pairs/s")
    out["stream"] = {
        name: streamed(frames[: args.stream + 1], args.pool, settings)
        for name, frames in clips.items()
    }
    log(json.dumps(out["stream"]))
    out["profile"] = kernel_profile(clips["sample"])
    # Last: each compile takes seconds, and the timings above are logged as they come.
    out["registers"] = {block: step_registers(block) for block in blocks}
    print(json.dumps(out, indent=2))


def streamed(
    frames: torch.Tensor, capacity: int, settings: TritonSettings, chunk: int = 64
) -> dict[str, Any]:
    """pairs/s of every pair of `frames` through a pool of `capacity` places, submitted in
    chunks of `chunk` pairs (the flow service's way), after a warm-up; the pool's figures."""
    prev, nxt = frames[:-1, 0].byte().cpu(), frames[1:, 0].byte().cpu()
    params = preset("opencv")
    with FlowPool(frames.device, params, capacity, backend="triton", triton=settings) as pool:
        pool.submit(prev[:chunk], nxt[:chunk]).result()
        before = pool.stats
        chunks = [
            (prev[lo : lo + chunk], nxt[lo : lo + chunk]) for lo in range(0, len(prev), chunk)
        ]
        start = time.perf_counter()
        for _ in pool.map(chunks, ahead=len(chunks)):  # every chunk submitted, then waited for
            pass
        seconds = time.perf_counter() - start
        after = pool.stats
    figures = _difference(after, before).as_dict()
    return {"pairs": len(prev), "capacity": capacity, "pairs_per_s": len(prev) / seconds, **figures}


def _difference(after: PoolStats, before: PoolStats) -> PoolStats:
    """The figures of what a pool did between two copies of its stats."""
    return PoolStats(
        after.capacity,
        after.pairs - before.pairs,
        after.steps - before.steps,
        after.active - before.active,
        after.iterating - before.iterating,
        after.checks - before.checks,
        after.launches - before.launches,
    )


def step_registers(block: int) -> dict[str, Any]:
    """Registers per thread and bytes spilled of the step kernel (`opencv` preset) compiled by
    this machine's Triton for this GPU at `block`."""
    from flowpipe.flow.triton_kernels import step, step_constexprs

    try:
        kernel = compile_ahead(step, step_constexprs(block, 5, True))
        kernel._init_handles()
        return {"registers": kernel.n_regs, "spilled_bytes": kernel.n_spills}
    except Exception as err:  # noqa: BLE001 (a probe of Triton's internals)
        return {"registers_error": repr(err)[:300]}


def launch_overhead(
    pairs: int = 128, launches: int = 2000, device: str = "cuda", size: tuple[int, int] = SIZE
) -> dict[str, float]:
    """Microseconds per launch of the step kernel when every pair of a full pool is idle (the
    programs exit at once): host time to issue, and wall time with the GPU included, through
    the JIT and through the compiled kernel. Drives the engine's internals (a probe)."""
    from flowpipe.flow.triton_engine import Step, TritonEngine
    from flowpipe.flow.triton_kernels import step

    device = torch.device(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    params = preset("opencv")
    engine = TritonEngine(device, params, pairs, TritonSettings())
    stats = PoolStats(pairs)
    zeros = torch.zeros(pairs, 1, size[1], size[0], device=device)
    engine.admit(np.arange(pairs), engine.prepare(zeros, zeros), np.arange(pairs), stats)
    engine.step(stats)  # compiled, tile table made
    for slot in range(pairs):
        engine._request(slot, (Step.IDLE, 0, 0, 0))
    engine._upload(stats)

    def jit() -> None:  # what the engine's launcher does on its first launch, every time
        grid, args, constexprs = engine.arguments(0)
        step[grid](*args, **constexprs)
        engine.launches += 1

    result = {}
    for name, run in {"jit": jit, "compiled": lambda: engine._launch(0)}.items():
        try:
            run()
        except Exception as err:  # noqa: BLE001 (a probe of Triton's internals)
            result[f"{name}_error"] = repr(err)[:300]
            continue
        sync()
        start = time.perf_counter()
        for _ in range(launches):
            run()
        issued = time.perf_counter() - start
        sync()
        done = time.perf_counter() - start
        result[f"{name}_host_issue"] = 1e6 * issued / launches
        result[f"{name}_wall"] = 1e6 * done / launches
    result["compiled_refused"] = engine.kernel.refused
    return result


def kernel_profile(frames: torch.Tensor) -> list[dict[str, Any]]:
    """GPU time per kernel name of one 128-pair call, the largest first."""
    from torch.profiler import ProfilerActivity, profile

    kernels = select_backend(frames.device, "triton", False)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        solve_batch(frames[:128], frames[1:129], preset("opencv"), kernels)
        torch.cuda.synchronize()
    rows = sorted(prof.key_averages(), key=lambda e: -e.device_time_total)[:12]
    return [{"name": e.key[:60], "calls": e.count, "ms": e.device_time_total / 1e3} for e in rows]


if __name__ == "__main__":
    main()
