"""Videos per GPU sweep of `flowpipe extract` (a developer tool, not `flowpipe bench`).

For each number of videos a GPU worker runs at once (cluster.VIDEOS_PER_GPU) and chunk size
(frame pairs per chunk of a video, `--batch` of `flowpipe extract`), the job's
end-to-end frames/s on the shared clips, each extracted `--copies` times, against the engine
alone on the same frames, measured once in the same run. Prints one JSON object.

    python benchmarks/extract_sweep.py --data ../shared/data --videos-per-gpu 4,8 \
        --batches 32,64 > sweep.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch

from flowpipe import cluster
from flowpipe.bench.extract import bench_videos, copied_tasks, engine_only, timed_job
from flowpipe.bench.tvl1 import find_data_dir
from flowpipe.extraction.worker import ExtractSettings
from flowpipe.storage.summary import dataset_summary


def job_rate(videos: list[Path], work: Path, copies: int, max_frames: int, batch: int,
             device: str) -> float:  # fmt: skip
    """End-to-end frames/s of one extraction job on a fresh local cluster (warmed up)."""
    options = cluster.ClusterOptions(device=device, batch=batch)
    settings = ExtractSettings(max_frames=max_frames)
    wall = timed_job(copied_tasks(videos, copies), work, settings, options)
    return dataset_summary(str(work / "out"))["frames"] / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--videos-per-gpu", default="4,8")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--max-frames", type=int, default=300)
    parser.add_argument("--batches", default="32", help="frame pairs per chunk of a video")
    parser.add_argument("--device", default="cuda", help="cpu: a smoke run of this script")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flowpipe-sweep-"))
    try:
        videos = bench_videos(find_data_dir(args.data), work)
        engine = engine_only(videos, args.max_frames, 32, True, args.device)
        gpu = torch.cuda.get_device_name() if args.device == "cuda" else None
        out = {"gpu": gpu, "copies": args.copies, "engine_only_frames_per_s": engine, "runs": []}
        runs = [(int(c), int(b)) for c in args.videos_per_gpu.split(",")
                for b in args.batches.split(",")]  # fmt: skip
        for count, batch in runs:
            cluster.VIDEOS_PER_GPU = count
            fps = job_rate(videos, work / f"v{count}b{batch}", args.copies, args.max_frames,
                           batch, args.device)  # fmt: skip
            row = {"videos_per_gpu": count, "batch": batch, "end_to_end_frames_per_s": fps,
                   "end_to_end_over_engine": fps / engine}  # fmt: skip
            out["runs"].append(row)
            print(json.dumps(row), flush=True)
        print(json.dumps(out))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
