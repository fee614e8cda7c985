"""`flowpipe bench tvl1`: speed and accuracy of the engine against OpenCV's DualTVL1.

Both run on the same frames in the same process: pairs/s of flowpipe at batch 1 and at larger
batches, of OpenCV's CPU DualTVL1 with the same parameters, their ratio, and the end-point
error of both against ground truth (synthetic pairs, and the Middlebury pairs when present).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from flowpipe import __version__
from flowpipe.flow import TVL1Params, tvl1_flow
from flowpipe.flow import preset as preset_params
from flowpipe.flow.frames import resolve_device, to_gray_batch
from flowpipe.flow.pool import FlowPool, solve_all
from flowpipe.flow.solver import resolve_backend, select_backend
from flowpipe.io import endpoint_error, read_flo
from flowpipe.synth import MOTION_CLASSES, render_video

SAMPLE_VIDEO = "videos/sample_340x256.mp4"
# Real UCF-101 frames converge in fewer iterations than the sample clip: reported beside it.
UCF_VIDEO = "videos/v_ApplyEyeMakeup_g01_c01.avi"
MIDDLEBURY = ("Dimetrodon", "RubberWhale", "Grove2")
BENCH_SIZE = (340, 256)
QUICK_SIZE = (160, 120)
CUDA_BATCHES = (1, 32, 128, 256)
# Part of the solver -> a part of its GPU kernels' names: the Triton pool's step kernel (every
# step of the path: level starts, warps, medians, iterations), its hand-back of finished flows.
STAGE_KERNELS = {
    "pool_steps": ("step",),
    "hand_back": ("hand_back",),
}
# Each batch size is timed over at most this many calls, and OpenCV over this many pairs. On
# CUDA the largest batch is timed over at least CUDA_TIMED_CALLS calls.
TIMED_CALLS_PER_BATCH = 8
CUDA_TIMED_CALLS = 2
OPENCV_PAIRS = 8
# Continuous batching's figures: a stream of this many pools' worth of pairs, submitted in
# chunks of a quarter of the pool (as the videos of a flow service submit theirs).
STREAM_POOLS = 2
STREAM_CHUNKS_PER_POOL = 4


def find_data_dir(data: str | None) -> Path | None:
    """The folder of test clips and Middlebury pairs: the option, else $FLOWPIPE_DATA; None
    when neither is given (the benchmarks then use synthetic clips)."""
    for candidate in (data, os.environ.get("FLOWPIPE_DATA")):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    if data:
        raise ValueError(f"{data}: no such data folder")
    return None


def opencv_tvl1(params: TVL1Params, height: int, width: int) -> Any:
    """OpenCV's DualTVL1 with the same settings (it always warps bicubically)."""
    return cv2.optflow.DualTVL1OpticalFlow_create(
        tau=params.tau,
        lambda_=params.lambda_,
        theta=params.theta,
        nscales=params.pyramid_depth(height, width),
        warps=params.warps,
        epsilon=params.epsilon,
        innnerIterations=params.inner_iterations,  # sic: OpenCV's keyword
        outerIterations=params.outer_iterations,
        scaleStep=params.scale_step,
        gamma=0.0,
        medianFiltering=params.median_filtering,
        useInitialFlow=False,
    )


def video_frames(path: Path, count: int) -> np.ndarray:
    """The first `count` frames of a video as uint8 gray [count, H, W]; a short video is played
    forward then backward, so that no pair spans a cut (the wrap from its last frame to its
    first would be the slowest pair of a batch, and a batch waits for its slowest pair)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    cap.release()
    if len(frames) < 2:
        raise ValueError(f"{path}: could not decode frames for the benchmark")
    period = 2 * len(frames) - 2
    return np.stack([frames[min(i % period, period - i % period)] for i in range(count)])


def synthetic_frames(size: tuple[int, int], count: int) -> np.ndarray:
    """`count` gray frames of a synthetic clip (used when the shared sample video is absent)."""
    rgb = render_video("rotate_cw", seed=0, size=size, frames=count).frames
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_flowpipe(
    frames: np.ndarray,
    batch: int,
    params: TVL1Params,
    device: torch.device,
    pairs: int,
    backend: str = "auto",
) -> float:
    """pairs/s of tvl1_flow over `pairs` consecutive pairs, `batch` pairs per call."""
    prev = torch.from_numpy(frames[:-1]).to(device)
    nxt = torch.from_numpy(frames[1:]).to(device)
    _sync(device)
    start = time.perf_counter()
    for lo in range(0, pairs, batch):
        hi = min(lo + batch, pairs)
        tvl1_flow(prev[lo:hi], nxt[lo:hi], params=params, device=device, backend=backend)
    _sync(device)
    return pairs / (time.perf_counter() - start)


def time_opencv(frames: np.ndarray, params: TVL1Params, pairs: int) -> float:
    """pairs/s of OpenCV's DualTVL1 over the same pairs, one after the other."""
    solver = opencv_tvl1(params, *frames.shape[1:])
    start = time.perf_counter()
    for i in range(pairs):
        solver.calc(frames[i], frames[i + 1], None)
    return pairs / (time.perf_counter() - start)


def _aee_pair(
    prev: np.ndarray,
    nxt: np.ndarray,
    truth: np.ndarray,
    params: TVL1Params,
    device: torch.device,
    with_opencv: bool,
) -> dict[str, float]:
    ours = tvl1_flow(prev, nxt, params=params, device=device)
    ours = ours[0].permute(1, 2, 0).cpu().numpy()
    row = {"flowpipe_aee": endpoint_error(ours, truth)}
    if with_opencv:
        ref = opencv_tvl1(params, *prev.shape).calc(prev, nxt, None)
        row["opencv_aee"] = endpoint_error(ref, truth)
        row["epe_to_opencv"] = float(np.linalg.norm(ours - ref, axis=-1).mean())
    return row


def synthetic_accuracy(
    size: tuple[int, int], params: TVL1Params, device: torch.device, with_opencv: bool
) -> dict[str, Any]:
    """Mean AEE over the first pair of one synthetic clip per motion class."""
    rows = []
    for k, motion in enumerate(MOTION_CLASSES):
        video = render_video(motion, seed=k, size=size, frames=2)
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in video.frames]
        rows.append(_aee_pair(gray[0], gray[1], video.flows[0], params, device, with_opencv))
    return {"pairs": len(rows), **{key: float(np.mean([r[key] for r in rows])) for key in rows[0]}}


def middlebury_accuracy(
    data: Path, params: TVL1Params, device: torch.device, with_opencv: bool
) -> dict[str, Any]:
    """AEE on each shared Middlebury pair with ground truth."""
    result = {}
    for name in MIDDLEBURY:
        folder = data / "middlebury" / name
        prev = cv2.imread(str(folder / "frame10.png"), cv2.IMREAD_GRAYSCALE)
        nxt = cv2.imread(str(folder / "frame11.png"), cv2.IMREAD_GRAYSCALE)
        truth = read_flo(folder / "flow10.flo")
        result[name] = _aee_pair(prev, nxt, truth, params, device, with_opencv)
    return result


def run_tvl1_benchmark(
    pairs: int = 8,
    batch: int = 8,
    device: str = "cpu",
    preset: str = "opencv",
    quick: bool = False,
    no_opencv: bool = False,
    data: str | None = None,
    backend: str = "auto",
) -> dict[str, Any]:
    """Run the benchmark and return its JSON-ready result."""
    params = preset_params(preset)
    dev = resolve_device(device)
    data_dir = find_data_dir(data)
    size = QUICK_SIZE if quick else BENCH_SIZE
    batches = sorted({1, batch} | (set(CUDA_BATCHES) if dev.type == "cuda" else set()))
    if quick:
        pairs, batches = min(pairs, 2), [1, min(batch, 2)]
    pairs = max(pairs, *batches)
    if dev.type == "cuda":
        pairs = max(pairs, CUDA_TIMED_CALLS * max(batches))
    streamed = STREAM_POOLS * max(batches)
    frames, source = _bench_frames(data_dir, size, max(pairs, streamed) + 1, quick)
    pool = pool_figures(frames[: streamed + 1], max(batches), params, dev, backend)
    result: dict[str, Any] = {
        "benchmark": "tvl1",
        "flowpipe_version": __version__,
        "torch_version": torch.__version__,
        "device": _device_name(dev),
        "cpu_threads": torch.get_num_threads(),
        "preset": preset,
        "params": dict(vars(params)),
        "frames": {"source": source, "size": [frames.shape[2], frames.shape[1]], "pairs": pairs},
        "backend": resolve_backend(dev, backend),
        "flowpipe": _speed(frames, batches, params, dev, pairs, backend),
        "pool": pool,
    }
    if dev.type == "cuda":
        result.update(_cuda_extras(frames, data_dir, params, dev, batches, pairs, backend))
    if not no_opencv:
        result.update(_opencv_speed(frames, params, result["flowpipe"], batches, pairs))
    accuracy = {"synthetic": synthetic_accuracy(size, params, dev, _has_opencv(no_opencv))}
    if data_dir is not None and not quick:
        accuracy["middlebury"] = middlebury_accuracy(data_dir, params, dev, _has_opencv(no_opencv))
    result["accuracy"] = accuracy
    return result


def _cuda_extras(
    frames: np.ndarray,
    data_dir: Path | None,
    params: TVL1Params,
    dev: torch.device,
    batches: list[int],
    pairs: int,
    backend: str,
) -> dict[str, Any]:
    """On a GPU: the torch path at the largest batch (same run), GPU time per stage of one
    largest-batch call, the Triton settings, and the speed on real UCF-101 frames."""
    top = max(batches)
    extras: dict[str, Any] = {"stages_ms": stage_times(frames[: top + 1], params, dev, backend)}
    if resolve_backend(dev, backend) == "triton":
        from flowpipe.flow.triton_backend import default_settings

        extras["triton"] = dataclasses.asdict(default_settings())
        torch_speed = _speed(frames, [top], params, dev, pairs, "torch")
        extras["torch_path"] = {f"batch_{top}_pairs_per_s": torch_speed[f"batch_{top}_pairs_per_s"]}
    ucf = data_dir / UCF_VIDEO if data_dir is not None else None
    if ucf is not None and ucf.is_file():
        real = video_frames(ucf, pairs + 1)
        real = np.stack([cv2.resize(f, BENCH_SIZE, interpolation=cv2.INTER_AREA) for f in real])
        speed = _speed(real, [top], params, dev, pairs, backend)
        pool = pool_figures(real[: STREAM_POOLS * top + 1], top, params, dev, backend)
        extras["ucf101_340x256"] = {"source": UCF_VIDEO, **speed, "pool": pool}
    return extras


def pool_figures(
    frames: np.ndarray, capacity: int, params: TVL1Params, dev: torch.device, backend: str
) -> dict[str, Any]:
    """Continuous batching's device-independent figures (`PoolStats`: launches per pair, the
    pool's mean share taking a step and iterating): `batch`, the first `capacity` pairs as one
    tvl1_flow call (a pool of their number, nothing refilled); `stream`, every pair of
    `frames` through a pool of `capacity` places fed in chunks, with its pairs/s.

    The stream is timed first, while no other thread of the benchmark has run torch work on
    several CPU threads (torch's OpenMP would then stop spin-waiting: devices.torch_threads),
    as in an extraction worker, after one chunk through another pool, untimed, that compiles
    the kernels."""
    stream = _stream_figures(frames, capacity, params, dev, backend)
    gray = [to_gray_batch(f, "frames", dev) for f in (frames[:capacity], frames[1 : capacity + 1])]
    _, stats = solve_all(*gray, params, select_backend(dev, backend), stats=True)
    return {"batch": stats.as_dict(), "stream": stream}


def _stream_figures(
    frames: np.ndarray, capacity: int, params: TVL1Params, dev: torch.device, backend: str
) -> dict[str, Any]:
    """pool_figures' stream: its pairs/s and the pool's figures, after a pool's warm-up chunk."""
    prev, nxt = torch.from_numpy(frames[:-1]), torch.from_numpy(frames[1:])
    chunk = max(1, capacity // STREAM_CHUNKS_PER_POOL)
    chunks = [(prev[lo : lo + chunk], nxt[lo : lo + chunk]) for lo in range(0, len(prev), chunk)]
    with FlowPool(dev, params, capacity, backend) as pool:  # compiles the kernels
        pool.submit(*chunks[0]).result()
    with FlowPool(dev, params, capacity, backend) as pool:
        start = time.perf_counter()
        for _ in pool.map(chunks, ahead=len(chunks)):  # every chunk submitted, then waited for
            pass
        seconds = time.perf_counter() - start
        streamed = pool.stats.as_dict()
    _progress(f"{backend} pool of {capacity}: {len(prev) / seconds:.2f} pairs/s streamed")
    return {"pairs_per_s": len(prev) / seconds, "chunk": chunk, **streamed}


def stage_times(
    frames: np.ndarray, params: TVL1Params, dev: torch.device, backend: str
) -> dict[str, float]:
    """GPU milliseconds per stage of one call on all pairs of `frames`, from the profiler:
    the pool's step kernel, its hand-back, and every other kernel and copy."""
    from torch.profiler import ProfilerActivity, profile

    prev = torch.from_numpy(frames[:-1]).to(dev)
    nxt = torch.from_numpy(frames[1:]).to(dev)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        tvl1_flow(prev, nxt, params=params, device=dev, backend=backend)
        _sync(dev)
    stages = dict.fromkeys((*STAGE_KERNELS, "other"), 0.0)
    for event in prof.key_averages():
        name = event.key.lower()
        if name.startswith("aten::"):  # an operator: its kernels and copies count alone
            continue
        matches = (s for s, parts in STAGE_KERNELS.items() if any(p in name for p in parts))
        stage = next(matches, "other")
        stages[stage] += event.device_time_total / 1e3
    return {"pairs": len(frames) - 1, **stages}


def _has_opencv(no_opencv: bool) -> bool:
    return not no_opencv and hasattr(cv2, "optflow")


def _speed(
    frames: np.ndarray,
    batches: list[int],
    params: TVL1Params,
    dev: torch.device,
    pairs: int,
    backend: str,
) -> dict[str, Any]:
    """pairs/s at each batch size, after a warm-up call per size (compilation excluded)."""
    start = time.perf_counter()
    for b in batches:
        tvl1_flow(frames[:b], frames[1 : b + 1], params=params, device=dev, backend=backend)
    speed: dict[str, Any] = {"warmup_s": time.perf_counter() - start}
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    for b in batches:
        timed = min(pairs, max(b, TIMED_CALLS_PER_BATCH * b))
        speed[f"batch_{b}_pairs_per_s"] = time_flowpipe(frames, b, params, dev, timed, backend)
        _progress(f"{backend} batch {b}: {speed[f'batch_{b}_pairs_per_s']:.2f} pairs/s")
    if dev.type == "cuda":
        speed["peak_memory_gb"] = torch.cuda.max_memory_allocated(dev) / 1e9
    return speed


def _opencv_speed(
    frames: np.ndarray, params: TVL1Params, speed: dict[str, Any], batches: list[int], pairs: int
) -> dict[str, Any]:
    """OpenCV's pairs/s on the same frames and flowpipe's ratio to it at each batch size."""
    if not hasattr(cv2, "optflow"):
        reason = "cv2.optflow missing: install opencv-contrib-python-headless"
        return {"opencv_dualtvl1": {"skipped": reason}}
    timed = min(pairs, OPENCV_PAIRS)
    cv_speed = time_opencv(frames, params, timed)
    _progress(f"opencv: {cv_speed:.2f} pairs/s")
    ratios = {f"batch_{b}": speed[f"batch_{b}_pairs_per_s"] / cv_speed for b in batches}
    return {
        "opencv_dualtvl1": {
            "pairs_per_s": cv_speed,
            "pairs": timed,
            "threads": cv2.getNumThreads(),
        },
        "ratio_vs_opencv": ratios,
    }


def _progress(message: str) -> None:
    print(f"[bench tvl1] {message}", file=sys.stderr, flush=True)


def _bench_frames(
    data_dir: Path | None, size: tuple[int, int], count: int, quick: bool
) -> tuple[np.ndarray, str]:
    video = data_dir / SAMPLE_VIDEO if data_dir is not None else None
    if video is not None and video.is_file() and not quick:
        return video_frames(video, count), str(SAMPLE_VIDEO)
    return synthetic_frames(size, count), f"synthetic rotate_cw {size[0]}x{size[1]}"


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({os.cpu_count()} cores)"
