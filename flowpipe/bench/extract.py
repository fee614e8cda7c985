"""`flowpipe bench extract`: the extraction job against what users of the C++ tools run today.

On the same frames, in one run: end-to-end frames/s of `flowpipe extract` (a Dask job with
its workers warmed up), of the engine alone, and of a reference script (sequential decode,
OpenCV DualTVL1, cv2.imwrite of each x/y plane); the bytes written against float32 flow and
against cv2.imwrite at the same quality; the end-point error quantisation + JPEG add; and the
per-video overhead of the scheduler on many tiny videos. On CUDA also: the GPU, its peak memory
in the engine-only run, per-stage pairs/s from the job's meta.json timings, and nvJPEG against
the job's CPU JPEG encoder on the job's flow planes.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from flowpipe.bench.tvl1 import find_data_dir, opencv_tvl1
from flowpipe.devices import names_cuda
from flowpipe.extraction.cluster import ClusterOptions, connect
from flowpipe.extraction.plan import RunOptions
from flowpipe.extraction.run import run_extraction
from flowpipe.extraction.settings import ExtractSettings, JobTuning
from flowpipe.extraction.tasks import VideoTask
from flowpipe.extraction.video import Resize, iter_frames, to_gray
from flowpipe.extraction.worker import Timings
from flowpipe.flow import preset as preset_params
from flowpipe.flow import tvl1_flow
from flowpipe.storage import DatasetStore
from flowpipe.storage.codec import decode_jpeg, encode_jpeg, quantize
from flowpipe.storage.summary import dataset_summary
from flowpipe.synth import write_dataset

# Timed rounds over the sample planes in the JPEG measurement (after one untimed round that
# pays nvJPEG's start-up).
JPEG_ROUNDS = 5
JPEG_PLANES = 512  # the first planes of the job's output, in name order
TORCH_PATH_FRAMES = 129  # frames of the torch path's engine-only run (it is 10x slower)
SHARED_CLIPS = (
    "videos/sample_340x256.mp4",
    "videos/kinetics_demo.mp4",
    "videos/v_ApplyEyeMakeup_g01_c01.avi",
)
QUIET = RunOptions(progress=False)


@dataclass(frozen=True)
class ExtractBench:
    """What `flowpipe bench extract` runs: frames per clip, chunk size (None: the job's
    default), local workers, times each clip is extracted, the engine's device, tiny videos
    for the scheduler-overhead figure (0: none), and the folder of the shared clips."""

    max_frames: int = 17
    batch: int | None = None
    workers: int = 1
    copies: int = 1
    device: str = "cpu"
    tiny_videos: int = 500
    data: str | None = None
    consistency_cost: bool = False  # time the job again without the consistency figures


def bench_videos(data_dir: Path | None, work: Path) -> list[Path]:
    """The shared clips when present, else synthetic 340x256 clips."""
    if data_dir is not None and all((data_dir / c).is_file() for c in SHARED_CLIPS):
        return [data_dir / c for c in SHARED_CLIPS]
    classes = ["rotate_cw", "translate_left", "zoom_in"]
    root = write_dataset(
        work / "synth", videos_per_class=1, frames=40, size=(340, 256), classes=classes
    )
    return sorted((root / "videos").rglob("*.mp4"))


def reference_script(videos: list[Path], out: Path, max_frames: int, backward: bool) -> float:
    """What users of the C++ tools do: decode, OpenCV DualTVL1, cv2.imwrite; returns frames/s."""
    start = time.perf_counter()
    frames_done = 0
    for video in videos:
        frames = [
            cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in iter_frames(video, max_frames=max_frames)
        ]
        solver = opencv_tvl1(preset_params("opencv"), *frames[0].shape)
        folder = out / video.stem
        folder.mkdir(parents=True)
        for k in range(1, len(frames)):
            pairs = [("flow", frames[k - 1], frames[k])]
            if backward:
                pairs.append(("bflow", frames[k], frames[k - 1]))
            for prefix, a, b in pairs:
                q = quantize(solver.calc(a, b, None), 20.0)
                for c, axis in enumerate("xy"):
                    name = str(folder / f"{prefix}_{axis}_{k:05d}.jpg")
                    cv2.imwrite(name, q[..., c], [cv2.IMWRITE_JPEG_QUALITY, 95])
        frames_done += len(frames)
    return frames_done / (time.perf_counter() - start)


def engine_only(
    videos: list[Path], max_frames: int, batch: int, device: str, backend: str = "auto"
) -> float:
    """frames/s of tvl1_flow alone on the decoded frames (forward and backward), after one
    untimed call that builds the kernels (the job's workers are warmed up likewise). On CPU
    in the job's chunks; on a GPU the pairs of all clips of one frame size in calls as large
    as the job's flow service makes them, as full as it could make them."""
    clips = [to_gray(np.stack(list(iter_frames(v, max_frames=max_frames)))) for v in videos]
    batches = [pair for gray in clips for pair in _engine_batches(gray, batch, True)]
    if names_cuda(device):
        batches = merged_by_size(batches, JobTuning().solver_pairs_gpu)
    tvl1_flow(*batches[0], device=device, backend=backend)
    _synchronize(device)
    start = time.perf_counter()
    for prev, nxt in batches:
        tvl1_flow(prev, nxt, device=device, backend=backend)
    _synchronize(device)
    return sum(len(c) for c in clips) / (time.perf_counter() - start)


def merged_by_size(
    batches: list[tuple[np.ndarray, np.ndarray]], size: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The pairs of all batches of each frame size, regrouped into batches of `size` pairs."""
    shapes = dict.fromkeys(prev.shape[1:] for prev, _ in batches)
    merged = []
    for shape in shapes:
        same = [pair for pair in batches if pair[0].shape[1:] == shape]
        prev, nxt = (np.concatenate(side) for side in zip(*same, strict=True))
        merged += [(prev[lo : lo + size], nxt[lo : lo + size]) for lo in range(0, len(prev), size)]
    return merged


def _engine_batches(
    gray: np.ndarray, batch: int, backward: bool
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(prev, nxt) of each of the job's chunks of one clip, backward pairs after forward ones."""
    for lo in range(0, len(gray) - 1, batch):
        prev, nxt = gray[lo : lo + batch], gray[lo + 1 : lo + batch + 1]
        prev = prev[: len(nxt)]
        if backward:
            prev, nxt = np.concatenate([prev, nxt]), np.concatenate([nxt, prev])
        yield prev, nxt


def reference_figures(
    videos: list[Path], work: Path, max_frames: int, fps: float, jpeg_bytes: float
) -> dict[str, Any]:
    """The reference script's frames/s and JPEG bytes against ours; skipped (with the reason)
    where OpenCV lacks its contrib module, as on a GPU host with plain opencv."""
    if not hasattr(cv2, "optflow"):
        return {"reference": {"skipped": "cv2.optflow missing: opencv-contrib-python-headless"}}
    ref_fps = reference_script(videos, work / "ref", max_frames, True)
    ref_bytes = sum(p.stat().st_size for p in (work / "ref").rglob("*.jpg"))
    return {
        "reference_frames_per_s": ref_fps,
        "ratio_vs_reference": fps / ref_fps,
        "reference_jpeg_bytes": ref_bytes,
        "jpeg_bytes_over_reference": jpeg_bytes / ref_bytes,
    }


def _synchronize(device: str) -> None:
    """Wait for the GPU's queued work, so a timer stops when the work is done."""
    if names_cuda(device):
        torch.cuda.synchronize()


def copied_tasks(videos: list[Path], copies: int) -> list[VideoTask]:
    """Each clip `copies` times, as separate videos (a longer job on the same clips)."""
    return [VideoTask(str(v), f"{v.stem}_{k}") for k in range(copies) for v in videos]


def timed_job(
    tasks: list[VideoTask],
    work: Path,
    settings: ExtractSettings,
    cluster: ClusterOptions,
    options: RunOptions = QUIET,
) -> float:
    """Wall seconds of one extraction job into work/"out", on a cluster warmed up first by a
    job of the first task's video with the same settings (its workers compile their kernels
    for the job's chunk shapes then)."""
    with connect(cluster, options.tuning, _quiet) as client:
        warm = [VideoTask(tasks[0].path, "warmup")]
        run_extraction(warm, str(work / "warm"), settings, cluster, options, client, _quiet)
        start = time.perf_counter()
        run_extraction(tasks, str(work / "out"), settings, cluster, options, client, _quiet)
        return time.perf_counter() - start


def run_extract_benchmark(bench: ExtractBench = ExtractBench()) -> dict[str, Any]:  # noqa: B008
    """Run the benchmark and return its JSON-ready result; the job extracts each clip
    `copies` times (the engine-only and reference runs each clip once: rates compare)."""
    work = Path(tempfile.mkdtemp(prefix="flowpipe-bench-"))
    try:
        videos = bench_videos(find_data_dir(bench.data), work)
        settings = ExtractSettings(max_frames=bench.max_frames)
        cluster = ClusterOptions(workers=bench.workers, device=bench.device, batch=bench.batch)
        batch = cluster.chunk_pairs(QUIET.tuning)
        job_wall = timed_job(copied_tasks(videos, bench.copies), work, settings, cluster)
        info = dataset_summary(str(work / "out"))
        frames = info["frames"]
        ours_fps = frames / job_wall
        cuda = names_cuda(bench.device)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        engine_fps = engine_only(videos, bench.max_frames, batch, bench.device)
        gpu = cuda_figures(work / "out", videos, bench.max_frames, batch, settings) if cuda else {}
        our_jpeg_bytes = sum(p.stat().st_size for p in (work / "out").rglob("*.jpg"))
        per_copy = our_jpeg_bytes / bench.copies
        reference = reference_figures(videos, work, bench.max_frames, ours_fps, per_copy)
        overhead = scheduler_overhead(work, bench.tiny_videos, cluster)
        cost = (
            consistency_cost(copied_tasks(videos, bench.copies), work, settings, cluster, job_wall)
            if bench.consistency_cost
            else {}
        )
        return {
            "benchmark": "extract",
            "device": bench.device,
            "videos": [str(v.name) for v in videos],
            "copies": bench.copies,
            "frames": frames,
            "end_to_end_frames_per_s": ours_fps,
            "engine_only_frames_per_s": engine_fps,
            "end_to_end_over_engine": ours_fps / engine_fps,
            **reference,
            "bytes": info["bytes"],
            "jpeg_bytes": our_jpeg_bytes,
            "ratio_to_float32": info["ratio_to_float32"],
            "quantization_jpeg_epe_px": info["quantization_jpeg_epe_px"],
            "scheduler": overhead,
            **cost,
            **gpu,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cuda_figures(
    out: Path, videos: list[Path], max_frames: int, batch: int, settings: ExtractSettings
) -> dict[str, Any]:
    """The CUDA-only keys: GPU, batch sizes, peak memory of the engine-only run just done, the
    plain torch path's engine-only rate, per-stage pairs/s of the job and the JPEG encoders on
    the job's flow planes."""
    return {
        "gpu_name": torch.cuda.get_device_name(),
        "batch": batch,
        "max_pairs_per_solver_call": QUIET.tuning.solver_pairs_gpu,
        "videos_per_gpu": QUIET.tuning.videos_per_gpu,
        "engine_only_peak_gpu_memory_bytes": torch.cuda.max_memory_allocated(),
        "torch_path": torch_path_rate(videos, max_frames, batch),
        **stage_rates(out, settings),
        "jpeg": jpeg_rates(out, settings.quality),
    }


def torch_path_rate(videos: list[Path], max_frames: int, batch: int) -> dict[str, Any]:
    """Engine-only frames/s of the plain torch backend (no Triton) on the first clip's first
    TORCH_PATH_FRAMES frames, in the same batches as the Triton engine-only run."""
    frames = min(max_frames, TORCH_PATH_FRAMES)
    fps = engine_only(videos[:1], frames, batch, "cuda", backend="torch")
    return {"clip": videos[0].name, "frames": frames, "engine_only_frames_per_s": fps}


def stage_rates(out: Path, settings: ExtractSettings) -> dict[str, Any]:
    """Pairs/s of each stage from the videos' meta.json timings (stage seconds summed over
    videos; stages overlap, and the videos a worker runs at once wait on shared solver calls,
    so these are per-video rates, not the job's throughput). Empty without timings."""
    metas = DatasetStore(str(out)).list_done().values()
    timings = [m["timings"] for m in metas if isinstance(m.get("timings"), dict)]
    if not timings:
        return {}
    pairs = sum(m["flows"] for m in metas) * (2 if settings.backward else 1)
    stages = [f.name for f in dataclasses.fields(Timings) if f.name != "wall"]
    seconds = {stage: sum(t.get(stage, 0.0) for t in timings) for stage in stages}
    return {
        "flow_pairs": pairs,
        "stage_pairs_per_s": {stage: pairs / t if t > 0 else None for stage, t in seconds.items()},
    }


def jpeg_rates(out: Path, quality: int) -> dict[str, Any]:
    """Images/s of nvJPEG (torchvision, on the GPU, all planes in one call per round; each plane
    replicated to 3 channels, as its encoder takes colour input) and of the job's CPU encoder
    (gray, one thread), on the job's stored x planes."""
    from torchvision.io import encode_jpeg as nvjpeg

    stored = sorted(out.rglob("flow_x_*.jpg"))[:JPEG_PLANES]
    planes = [decode_jpeg(p.read_bytes()) for p in stored]
    on_gpu = [torch.from_numpy(p).cuda().expand(3, *p.shape).contiguous() for p in planes]
    nvjpeg(on_gpu, quality=quality)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(JPEG_ROUNDS):
        nvjpeg(on_gpu, quality=quality)
    torch.cuda.synchronize()
    gpu_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(JPEG_ROUNDS):
        for plane in planes:
            encode_jpeg(plane, quality)
    cpu_s = time.perf_counter() - start
    images = JPEG_ROUNDS * len(planes)
    return {
        "images": images,
        "size": list(planes[0].shape[::-1]),
        "nvjpeg_rgb_images_per_s": images / gpu_s,
        "cpu_gray_images_per_s": images / cpu_s,
    }


def consistency_cost(
    tasks: list[VideoTask],
    work: Path,
    settings: ExtractSettings,
    cluster: ClusterOptions,
    with_figures_s: float,
) -> dict[str, Any]:
    """The same job again without the forward-backward consistency figures (same run):
    end-to-end seconds with them over seconds without."""
    tuning = dataclasses.replace(QUIET.tuning, consistency=False)
    options = dataclasses.replace(QUIET, tuning=tuning)
    again = work / "without-consistency"
    again.mkdir()
    without = timed_job(tasks, again, settings, cluster, options)
    return {
        "consistency_cost": {
            "with_s": with_figures_s,
            "without_s": without,
            "with_over_without": with_figures_s / without,
        }
    }


def scheduler_overhead(work: Path, count: int, options: ClusterOptions) -> dict[str, Any]:
    """Wall time per video of `count` tiny 2-frame videos through a 2-worker local cluster."""
    if count == 0:
        return {"skipped": True}
    root = write_dataset(work / "tiny", videos_per_class=-(-count // 8), frames=2, size=(32, 32))
    clips = sorted((root / "videos").rglob("*.mp4"))[:count]
    tasks = [VideoTask(str(v), v.stem) for v in clips]
    params = preset_params("fast").replace(nscales=1, warps=1)
    tiny = ExtractSettings(params=params, backward=False, resize=Resize())
    many = ClusterOptions(workers=2, device=options.device, batch=options.batch)
    start = time.perf_counter()
    run_extraction(tasks, str(work / "tiny-out"), tiny, many, QUIET, echo=_quiet)
    wall = time.perf_counter() - start
    return {"videos": len(tasks), "workers": 2, "wall_s": wall, "per_video_s": wall / len(tasks)}


def _quiet(_: str) -> None:
    """Benchmarks print JSON only."""
