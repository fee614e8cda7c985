"""`flowpipe bench extract`: the extraction job against what users of the C++ tools run today.

On the same frames, in one run: end-to-end frames/s of `flowpipe extract` (a Dask job with
its workers warmed up), of the engine alone, and of a reference script (sequential decode,
OpenCV DualTVL1, cv2.imwrite of each x/y plane); the bytes written against float32 flow and
against cv2.imwrite at the same quality; the end-point error quantisation + JPEG add; and the
per-video overhead of the scheduler on many tiny videos.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from flowpipe.bench.tvl1 import find_data_dir, opencv_tvl1
from flowpipe.cluster import ClusterOptions, connect, run_extraction
from flowpipe.codec import quantize
from flowpipe.extract import ExtractSettings, VideoTask
from flowpipe.flow import preset as preset_params
from flowpipe.flow import tvl1_flow
from flowpipe.info import dataset_summary
from flowpipe.synth import write_dataset
from flowpipe.video import Resize, iter_frames, to_gray

SHARED_CLIPS = ("videos/sample_340x256.mp4", "videos/kinetics_demo.mp4",
                "videos/v_ApplyEyeMakeup_g01_c01.avi")  # fmt: skip


def bench_videos(data_dir: Path | None, work: Path) -> list[Path]:
    """The shared clips when present, else synthetic 340x256 clips."""
    if data_dir is not None and all((data_dir / c).is_file() for c in SHARED_CLIPS):
        return [data_dir / c for c in SHARED_CLIPS]
    root = write_dataset(work / "synth", videos_per_class=1, frames=40, size=(340, 256),
                         classes=["rotate_cw", "translate_left", "zoom_in"])  # fmt: skip
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
                    cv2.imwrite(str(folder / f"{prefix}_{axis}_{k:05d}.jpg"), q[..., c],
                                [cv2.IMWRITE_JPEG_QUALITY, 95])  # fmt: skip
        frames_done += len(frames)
    return frames_done / (time.perf_counter() - start)


def engine_only(videos: list[Path], max_frames: int, batch: int, backward: bool,
                device: str) -> float:  # fmt: skip
    """frames/s of tvl1_flow alone on the decoded frames, in the job's batches."""
    clips = [to_gray(np.stack(list(iter_frames(v, max_frames=max_frames)))) for v in videos]
    start = time.perf_counter()
    for gray in clips:
        for lo in range(0, len(gray) - 1, batch):
            prev, nxt = gray[lo : lo + batch], gray[lo + 1 : lo + batch + 1]
            prev, nxt = prev[: len(nxt)], nxt
            if backward:
                prev, nxt = np.concatenate([prev, nxt]), np.concatenate([nxt, prev])
            tvl1_flow(prev, nxt, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return sum(len(c) for c in clips) / (time.perf_counter() - start)


def run_extract_benchmark(
    max_frames: int = 17, batch: int = 16, workers: int = 1, device: str = "cpu",
    tiny_videos: int = 500, data: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run the benchmark and return its JSON-ready result."""
    work = Path(tempfile.mkdtemp(prefix="flowpipe-bench-"))
    try:
        videos = bench_videos(find_data_dir(data), work)
        settings = ExtractSettings(max_frames=max_frames)
        options = ClusterOptions(workers=workers, device=device, batch=batch)
        tasks = [VideoTask(str(v), v.stem) for v in videos]
        with connect(options) as client:  # warmed up first: workers compile their kernels
            warm = [VideoTask(str(videos[0]), "warmup")]
            run_extraction(warm, str(work / "warm"), ExtractSettings(max_frames=3), options,
                           progress=False, echo=_quiet, client=client)  # fmt: skip
            start = time.perf_counter()
            run_extraction(tasks, str(work / "out"), settings, options, progress=False,
                           echo=_quiet, client=client)  # fmt: skip
            job_wall = time.perf_counter() - start
        info = dataset_summary(str(work / "out"))
        frames = info["frames"]
        ours_fps = frames / job_wall
        engine_fps = engine_only(videos, max_frames, batch, True, device)
        ref_fps = reference_script(videos, work / "ref", max_frames, True)
        ref_bytes = sum(p.stat().st_size for p in (work / "ref").rglob("*.jpg"))
        our_jpeg_bytes = sum(p.stat().st_size for p in (work / "out").rglob("*.jpg"))
        overhead = scheduler_overhead(work, tiny_videos, options)
        return {
            "benchmark": "extract",
            "device": device,
            "videos": [str(v.name) for v in videos],
            "frames": frames,
            "end_to_end_frames_per_s": ours_fps,
            "engine_only_frames_per_s": engine_fps,
            "end_to_end_over_engine": ours_fps / engine_fps,
            "reference_frames_per_s": ref_fps,
            "ratio_vs_reference": ours_fps / ref_fps,
            "bytes": info["bytes"],
            "jpeg_bytes": our_jpeg_bytes,
            "reference_jpeg_bytes": ref_bytes,
            "jpeg_bytes_over_reference": our_jpeg_bytes / ref_bytes,
            "ratio_to_float32": info["ratio_to_float32"],
            "quantization_jpeg_epe_px": info["quantization_jpeg_epe_px"],
            "scheduler": overhead,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scheduler_overhead(work: Path, count: int, options: ClusterOptions) -> dict[str, Any]:
    """Wall time per video of `count` tiny 2-frame videos through a 2-worker local cluster."""
    if count == 0:
        return {"skipped": True}
    root = write_dataset(work / "tiny", videos_per_class=-(-count // 8), frames=2, size=(32, 32))
    clips = sorted((root / "videos").rglob("*.mp4"))[:count]
    tasks = [VideoTask(str(v), v.stem) for v in clips]
    tiny = ExtractSettings(params=preset_params("fast").replace(nscales=1, warps=1),
                           backward=False, resize=Resize())  # fmt: skip
    many = ClusterOptions(workers=2, device=options.device, batch=options.batch)
    start = time.perf_counter()
    run_extraction(tasks, str(work / "tiny-out"), tiny, many, progress=False, echo=_quiet)
    wall = time.perf_counter() - start
    return {"videos": len(tasks), "workers": 2, "wall_s": wall, "per_video_s": wall / len(tasks)}


def _quiet(_: str) -> None:
    """Benchmarks print JSON only."""
