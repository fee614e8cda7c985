"""`flowpipe bench loader`: stacks/s of the flow-stack loader against a reference loader.

One process, one thread (as in a DataLoader worker), on a dataset extracted from the shared
clips (or synthetic clips): L=10 stacks at 224x224 in train mode (random crop, mirror with x
negated, mean subtracted) from FlowStackDataset with simple and trajectory stacking, from the
zip layout, and from a reference loader written the way popular two-stream repos do it (PIL
per file, ToTensor, torch.cat, crop / flip / mean on the float tensors). On CUDA also batched
GPU JPEG decoding of the same files. Reading a stack's JPEGs and decoding their whole planes
is timed too (simple stacking decodes only the crop's box, so it can beat that). Loaders run
in interleaved rounds; each one's best round counts (the machine is shared).
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.transforms import ToTensor

from flowpipe.bench.extract import bench_videos
from flowpipe.bench.tvl1 import find_data_dir
from flowpipe.data import FlowStackDataset, VideoRecord, load_records, native_loader
from flowpipe.data.datasets import item_rng
from flowpipe.data.sampling import field_indices, stack_fields, train_starts
from flowpipe.extraction.settings import ExtractSettings
from flowpipe.extraction.tasks import VideoTask
from flowpipe.extraction.video import Resize
from flowpipe.extraction.worker import VideoJob, extract_video
from flowpipe.flow import preset
from flowpipe.memory import keep_freed_memory
from flowpipe.storage import DatasetStore, flow_names
from flowpipe.storage.dataset import StoreSpec
from flowpipe.synth import write_dataset

SPEEDUP_TARGET = 3.0
TRAJECTORY_COST_TARGET = 1.5
FRAME_SIZE = (340, 256)
QUICK_SIZE = (96, 72)
GPU_BATCH_STACKS = 16


def build_dataset(videos: list[Path], root: Path, size: tuple[int, int], frames: int) -> None:
    """Extract the clips (preset "fast", forward flow, fixed size) into a folder dataset."""
    settings = ExtractSettings(
        params=preset("fast"), backward=False, resize=Resize(size=size), max_frames=frames
    )
    for label, video in enumerate(videos):
        task = VideoTask(str(video), video.stem, label)
        meta = extract_video(VideoJob(task, settings, StoreSpec(str(root)), "cpu"))
        if meta.get("status") == "failed":
            raise ValueError(f"{video}: extraction failed: {meta['message']}")


def repack_zip(records: list[VideoRecord], folder: Path, root: Path) -> None:
    """The same videos in the zip layout (one stored zip per video)."""
    source, target = DatasetStore(str(folder)), DatasetStore(str(root), "zip")
    for rec in records:
        names = [n for k in range(1, rec.flows + 1) for n in flow_names(k)]
        files = dict(zip(names, source.read_files(rec.video_id, names), strict=True))
        target.write_video(rec.video_id, files, source.read_meta(rec.video_id) or {})


class ReferenceLoader:
    """Flow stacks loaded the way popular two-stream repos do it (deliberately not flowpipe):
    PIL per file, ToTensor, torch.cat, then crop, flip (x negated) and mean on floats."""

    def __init__(self, root: Path, records: list[VideoRecord], L: int, crop: int) -> None:
        self.root, self.records, self.L, self.crop = root, records, L, crop
        self.to_tensor = ToTensor()

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> torch.Tensor:
        rec = self.records[index]
        start = random.randint(1, max(1, rec.flows - self.L + 1))
        planes = []
        for k in range(start, start + self.L):
            k = (k - 1) % rec.flows + 1
            for axis in ("x", "y"):
                path = self.root / rec.video_id / f"flow_{axis}_{k:05d}.jpg"
                planes.append(self.to_tensor(Image.open(path).convert("L")))
        stack = torch.cat(planes)
        y0 = random.randint(0, rec.height - self.crop)
        x0 = random.randint(0, rec.width - self.crop)
        stack = stack[:, y0 : y0 + self.crop, x0 : x0 + self.crop]
        stack = stack * (2 * rec.bound) - rec.bound
        if random.random() < 0.5:
            stack = stack.flip(-1)
            stack[0::2] = -stack[0::2]
        return stack - stack.mean(dim=(1, 2), keepdim=True)


def read_decode_whole(ds: FlowStackDataset) -> Callable[[int], np.ndarray]:
    """A random stack's files read and their whole planes decoded, nothing else."""

    def load(index: int) -> np.ndarray:
        rec = ds.records[index]
        start = ds.sampler.train_starts(item_rng(), rec.flows)[0]
        return ds.reader.flow_codes(rec, ds.sampler.indices(start, rec.flows))

    return load


def time_stacks(load: Callable[[int], Any], count: int, videos: int) -> float:
    """Seconds per stack of `count` calls load(i) over the videos (after one warm-up call)."""
    load(0)
    start = time.perf_counter()
    for i in range(count):
        load(i % videos)
    return (time.perf_counter() - start) / count


def gpu_decode_rate(records: list[VideoRecord], root: Path, L: int, count: int) -> dict[str, Any]:
    """Stacks/s of torchvision.io.decode_jpeg on CUDA, batches of stacks, same files (decode
    only: the bytes are read beforehand)."""
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device"}
    from torchvision.io import decode_jpeg

    rng, offsets, store = np.random.default_rng(0), stack_fields(L, False), DatasetStore(str(root))
    stacks = []
    for i in range(count):
        rec = records[i % len(records)]
        start = train_starts(rng, rec.flows, offsets)[0]
        names = [
            n for k, _ in field_indices(start, offsets, rec.flows, "loop") for n in flow_names(k)
        ]
        data = store.read_files(rec.video_id, names)
        stacks.append([torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in data])
    batches = [sum(stacks[i : i + GPU_BATCH_STACKS], []) for i in range(0, count, GPU_BATCH_STACKS)]
    decode_jpeg(batches[0], device="cuda")
    torch.cuda.synchronize()
    start = time.perf_counter()
    for batch in batches:
        decode_jpeg(batch, device="cuda")
    torch.cuda.synchronize()
    rate = count / (time.perf_counter() - start)
    return {
        "stacks_per_s": rate,
        "stacks_per_call": GPU_BATCH_STACKS,
        "device": torch.cuda.get_device_name(),
    }


def measure(
    folder: Path, zipped: Path, L: int, crop: int, stacks: int, rounds: int
) -> dict[str, float]:
    """Best seconds per stack over interleaved rounds, per loader."""
    records, _ = load_records(str(folder))
    simple = FlowStackDataset(folder, L=L, crop=crop)
    loaders: dict[str, Callable[[int], Any]] = {
        "reference": ReferenceLoader(folder, records, L, crop).__getitem__,
        "simple": simple.__getitem__,
        "trajectory": FlowStackDataset(folder, L=L, crop=crop, stacking="trajectory").__getitem__,
        "simple_zip": FlowStackDataset(zipped, L=L, crop=crop).__getitem__,
        "read_decode_whole": read_decode_whole(simple),
    }
    best = dict.fromkeys(loaders, float("inf"))
    for r in range(rounds):
        for name, load in loaders.items():
            torch.manual_seed(r)
            random.seed(r)
            best[name] = min(best[name], time_stacks(load, stacks, len(records)))
    return best


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "opencv": cv2.__version__,
        "threads_per_process": 1,
        "native_loader_loops": native_loader.library() is not None,
    }


def _clips(data: str | None, work: Path, quick: bool) -> tuple[list[Path], tuple[int, int], int]:
    """(videos, frame size, frames per clip): the shared clips or synthetic ones; tiny if quick."""
    if quick:
        synth = write_dataset(
            work / "synth",
            videos_per_class=1,
            frames=8,
            size=QUICK_SIZE,
            classes=["rotate_cw", "translate_left"],
        )
        return sorted((synth / "videos").rglob("*.mp4")), QUICK_SIZE, 8
    return bench_videos(find_data_dir(data), work), FRAME_SIZE, 40


def run_loader_benchmark(
    data: str | None = None,
    stacks: int = 200,
    rounds: int = 3,
    L: int = 10,
    crop: int = 224,
    quick: bool = False,
    keep_memory: bool = True,
) -> dict[str, Any]:
    """Run the benchmark and return its JSON-ready result. keep_memory applies, to both
    loaders alike, the malloc setting flowpipe's DataLoader workers use (`worker_init`)."""
    if quick:
        stacks, rounds, L, crop = min(stacks, 4), 1, min(L, 4), 64
    work = Path(tempfile.mkdtemp(prefix="flowpipe-bench-loader-"))
    threads = torch.get_num_threads()
    try:
        videos, size, frames = _clips(data, work, quick)
        build_dataset(videos, work / "folder", size, frames)
        records, _ = load_records(str(work / "folder"))
        repack_zip(records, work / "folder", work / "zip")
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        if keep_memory:
            keep_freed_memory()
        best = measure(work / "folder", work / "zip", L, crop, stacks, rounds)
        gpu = gpu_decode_rate(records, work / "folder", L, stacks)
        return {
            **_result(best, records, size, L, crop, stacks, rounds, gpu),
            "malloc_keeps_freed_memory": keep_memory,
        }
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(work, ignore_errors=True)


def _result(
    best: dict[str, float],
    records: list[VideoRecord],
    size: tuple[int, int],
    L: int,
    crop: int,
    stacks: int,
    rounds: int,
    gpu: dict[str, Any],
) -> dict[str, Any]:
    """The JSON object the command prints."""
    speedup = best["reference"] / best["simple"]
    cost = best["trajectory"] / best["simple"]
    return {
        "benchmark": "loader",
        "videos": [r.video_id for r in records],
        "flows_per_video": [r.flows for r in records],
        "frame_size": list(size),
        "L": L,
        "crop": crop,
        "mode": "train: random crop, mirror (x negated), mean subtracted",
        "stacks_per_round": stacks,
        "rounds": rounds,
        "stacks_per_s": {name: 1.0 / s for name, s in best.items()},
        "ms_per_stack": {name: 1e3 * s for name, s in best.items()},
        "speedup_vs_reference": speedup,
        "trajectory_cost": cost,
        "targets": {
            "speedup_vs_reference": {"target": SPEEDUP_TARGET, "met": speedup >= SPEEDUP_TARGET},
            "trajectory_cost": {
                "target": TRAJECTORY_COST_TARGET,
                "met": cost <= TRAJECTORY_COST_TARGET,
            },
        },
        "gpu_decode": gpu,
        "machine": machine(),
    }
