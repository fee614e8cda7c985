"""`flowpipe bench extract-sweep`: the extraction job per videos per GPU worker and chunk size.

For each number of videos a GPU worker runs at once (`JobTuning.videos_per_gpu`) and chunk
size (frame pairs per chunk of a video, `--batch` of `flowpipe extract`), the job's end-to-end
frames/s on the shared clips, each extracted `copies` times, against the engine alone on the
same frames, measured once in the same run.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from flowpipe.bench.extract import QUIET, bench_videos, copied_tasks, engine_only, timed_job
from flowpipe.bench.tvl1 import find_data_dir
from flowpipe.devices import names_cuda
from flowpipe.extraction.cluster import ClusterOptions
from flowpipe.extraction.settings import ExtractSettings
from flowpipe.storage.summary import dataset_summary


@dataclass(frozen=True)
class ExtractSweep:
    """The grid: videos per GPU worker, chunk sizes; and the job: copies of each clip, frames
    per clip, device, the folder of the shared clips."""

    videos_per_gpu: tuple[int, ...] = (4, 8)
    batches: tuple[int, ...] = (32,)
    copies: int = 4
    max_frames: int = 300
    device: str = "cuda"
    data: str | None = None


def run_extract_sweep(
    sweep: ExtractSweep, report: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    """Every (videos per GPU, chunk) run, each row also handed to `report` as a JSON line."""
    work = Path(tempfile.mkdtemp(prefix="flowpipe-sweep-"))
    try:
        videos = bench_videos(find_data_dir(sweep.data), work)
        engine = engine_only(videos, sweep.max_frames, 32, sweep.device)
        gpu = torch.cuda.get_device_name() if names_cuda(sweep.device) else None
        out: dict[str, Any] = {
            "benchmark": "extract-sweep",
            "gpu": gpu,
            "copies": sweep.copies,
            "engine_only_frames_per_s": engine,
            "runs": [],
        }
        for count in sweep.videos_per_gpu:
            for batch in sweep.batches:
                fps = _job_rate(videos, work / f"v{count}b{batch}", sweep, count, batch)
                row = {
                    "videos_per_gpu": count,
                    "batch": batch,
                    "end_to_end_frames_per_s": fps,
                    "end_to_end_over_engine": fps / engine,
                }
                out["runs"].append(row)
                report(json.dumps(row))
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _job_rate(videos: list[Path], work: Path, sweep: ExtractSweep, count: int, batch: int) -> float:
    """End-to-end frames/s of one extraction job on a fresh local cluster (warmed up)."""
    cluster = ClusterOptions(device=sweep.device, batch=batch)
    tuning = dataclasses.replace(QUIET.tuning, videos_per_gpu=count)
    options = dataclasses.replace(QUIET, tuning=tuning)
    settings = ExtractSettings(max_frames=sweep.max_frames)
    wall = timed_job(copied_tasks(videos, sweep.copies), work, settings, cluster, options)
    return dataset_summary(str(work / "out"))["frames"] / wall
