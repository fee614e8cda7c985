"""`flowpipe bench scale`: what knowing a dataset costs at Kinetics scale.

Generates a dataset of N finished videos (one real 3-frame extraction, replicated under 400
class folders in the zip layout: the zip hard-linked, each video its own .meta.json sidecar
and its own source file, a hard link too), then times, each in a fresh process with its peak
memory above the process's baseline (the memory after its imports):

- the resume decision of `flowpipe extract --list` over all N, every one finished (the plan,
  with the source checks, and the dataset files written; no cluster starts);
- `flowpipe info` (the summary); `FlowStackDataset` construction and its pickled size;
- the per-meta.json path those used before the index, on the same dataset (`list_done`: one
  read per video), as the same-run reference;
- optionally (`--job-videos 2000,20000`) whole jobs of tiny videos through a real scheduler
  and two worker processes: the client's peak memory per job size.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLASSES = 400
FRAMES = 3
SIZE = (48, 32)


@dataclass(frozen=True)
class ScaleBench:
    """N videos for the dataset figures, the job sizes for the client-memory figure (none:
    skipped), and a folder to keep the generated data in (default: a temporary one)."""

    videos: int = 200_000
    job_videos: tuple[int, ...] = ()
    keep: str | None = None


def run_scale_benchmark(bench: ScaleBench = ScaleBench()) -> dict[str, Any]:  # noqa: B008
    """Generate, measure, return the JSON-ready result."""
    work = Path(bench.keep or tempfile.mkdtemp(prefix="flowpipe-scale-"))
    try:
        start = time.perf_counter()
        generate(work, bench.videos)
        result: dict[str, Any] = {
            "benchmark": "scale",
            "videos": bench.videos,
            "layout": "zip, hard-linked zips, a sidecar per video",
            "generate_s": time.perf_counter() - start,
        }
        for op in ("list_done", "index_rebuild", "resume", "info", "dataset"):
            result[op] = measure(op, work)
        reference = result["list_done"]["seconds"]
        for op in ("resume", "info", "dataset"):
            result[op]["per_meta_reference_over_this"] = reference / result[op]["seconds"]
        if bench.job_videos:
            result["jobs"] = [job_memory(work, n) for n in bench.job_videos]
        return result
    finally:
        if bench.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def generate(work: Path, count: int) -> None:
    """work/out: `count` finished videos (zip layout); work/videos: their sources; work/list.txt:
    the extraction's list file; the template extraction in work/template."""
    from flowpipe.extraction.tasks import VideoTask
    from flowpipe.extraction.worker import VideoJob, extract_video
    from flowpipe.storage.dataset import DatasetStore, StoreSpec
    from flowpipe.synth import write_dataset

    synth = write_dataset(
        work / "synth", videos_per_class=1, frames=FRAMES, size=SIZE, classes=["rotate_cw"]
    )
    source = next((synth / "videos").rglob("*.mp4"))
    template = work / "template"
    job = VideoJob(VideoTask(str(source), "t"), settings(), StoreSpec(str(template), "zip"), "cpu")
    meta = extract_video(job)
    meta.pop("status")
    out, videos = work / "out", work / "videos"
    lines, rows = [], []
    for i in range(count):
        label = i % CLASSES
        vid = f"class_{label:03d}/video_{i:07d}"
        video = videos / f"{vid}.mp4"
        if i < CLASSES:
            (out / vid).parent.mkdir(parents=True, exist_ok=True)
            video.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, video)
        os.link(template / "t.zip", out / f"{vid}.zip")
        sidecar = {**meta, "video_id": vid, "source": str(video), "label": label}
        (out / f"{vid}.meta.json").write_text(json.dumps(sidecar))
        lines.append(f"{vid}.mp4 {label}\n")
        rows.append(f"{vid} {meta['flows']} {label}\n")
    (videos / "list.txt").write_text("".join(lines))
    (out / "videos.txt").write_text("".join(rows))
    manifest = {"settings": meta["settings"], "counts": {"videos": count}, "adopted": False}
    DatasetStore(str(out), "zip").write_manifest(manifest)


def settings() -> Any:
    """The settings of the generated dataset (a cheap preset: the template is one real job)."""
    from flowpipe.extraction.settings import ExtractSettings
    from flowpipe.flow import preset

    return ExtractSettings(params=preset("fast").replace(nscales=1, warps=1))


def measure(op: str, work: Path) -> dict[str, Any]:
    """One operation in a fresh process: its seconds and peak memory above its baseline."""
    code = f"from flowpipe.bench.scale import _operation; _operation({op!r}, {str(work)!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"bench scale {op}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _operation(op: str, work: str) -> None:
    """Runs in the measuring process: imports, baseline, the operation, the figures."""
    import pickle

    from flowpipe.data import FlowStackDataset
    from flowpipe.extraction.cluster import ClusterOptions
    from flowpipe.extraction.plan import RunOptions
    from flowpipe.extraction.run import run_extraction
    from flowpipe.extraction.tasks import collect_tasks
    from flowpipe.storage import DatasetStore
    from flowpipe.storage.reindex import rebuild_index
    from flowpipe.storage.summary import dataset_summary

    out = str(Path(work) / "out")
    Path("/proc/self/clear_refs").write_text("5")  # the peak from here on, not the imports'
    baseline = _rss()
    start = time.perf_counter()
    extra: dict[str, Any] = {}
    if op == "list_done":
        extra["videos"] = len(DatasetStore(out, "zip").list_done())
    elif op == "index_rebuild":
        extra["videos"] = rebuild_index(DatasetStore(out, "zip"))
    elif op == "resume":
        tasks = collect_tasks([], str(Path(work) / "videos" / "list.txt"))
        options = RunOptions(pack="zip", progress=False)
        cluster = ClusterOptions(workers=1, device="cpu")
        summary = run_extraction(tasks, out, settings(), cluster, options, echo=lambda _: None)
        extra = {"skipped": len(summary.skipped), "extracted": len(summary.done)}
    elif op == "info":
        extra["videos"] = dataset_summary(out)["videos"]
    elif op == "dataset":
        dataset = FlowStackDataset(out, L=2, crop=16, mode="train")
        extra = {"items": len(dataset), "pickled_bytes": len(pickle.dumps(dataset))}
    seconds = time.perf_counter() - start
    above = (_peak_rss() - baseline) / 1e6
    figures = {"seconds": seconds, "peak_mb_above_baseline": above, "baseline_mb": baseline / 1e6}
    print(json.dumps({**figures, **extra}))


def job_memory(work: Path, count: int) -> dict[str, Any]:
    """A job of `count` tiny videos (sources from the generated set) through a real scheduler
    and two worker processes on 127.0.0.1: wall time and the client's peak memory."""
    folder = work / f"job{count}"
    folder.mkdir()
    lines = (work / "videos" / "list.txt").read_text().splitlines(keepends=True)[:count]
    (work / "videos" / f"job{count}.txt").write_text("".join(lines))
    with _cluster(folder) as scheduler_file:
        code = (
            "from flowpipe.bench.scale import _job; "
            f"_job({str(work)!r}, {count}, {str(scheduler_file)!r})"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"bench scale job of {count}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _job(work: str, count: int, scheduler_file: str) -> None:
    """Runs in the measuring client: the job, then its figures."""
    from flowpipe.extraction.cluster import ClusterOptions
    from flowpipe.extraction.plan import RunOptions
    from flowpipe.extraction.run import run_extraction
    from flowpipe.extraction.tasks import collect_tasks

    Path("/proc/self/clear_refs").write_text("5")
    baseline = _rss()
    start = time.perf_counter()
    tasks = collect_tasks([], str(Path(work) / "videos" / f"job{count}.txt"))
    cluster = ClusterOptions(scheduler_file=scheduler_file, device="cpu")
    out = str(Path(work) / f"job{count}" / "out")
    options = RunOptions(progress=False)
    summary = run_extraction(tasks, out, settings(), cluster, options, echo=lambda _: None)
    figures = {
        "videos": count,
        "extracted": len(summary.done),
        "failed": len(summary.failed),
        "wall_s": time.perf_counter() - start,
        "client_peak_mb_above_baseline": (_peak_rss() - baseline) / 1e6,
        "client_baseline_mb": baseline / 1e6,
    }
    print(json.dumps(figures))


@contextlib.contextmanager
def _cluster(folder: Path) -> Iterator[Path]:
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1."""
    dask = str(Path(sys.executable).parent / "dask")
    file = folder / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    procs = [subprocess.Popen([*scheduler, "--scheduler-file", str(file)], **quiet)]
    worker = [dask, "worker", "--scheduler-file", str(file), "--nthreads", "1", "--no-dashboard"]
    try:
        while not file.exists():
            time.sleep(0.2)
        procs += [subprocess.Popen([*worker, "--host", "127.0.0.1"], **quiet) for _ in range(2)]
        yield file
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _rss() -> int:
    return _status_kb("VmRSS") * 1024


def _peak_rss() -> int:
    return _status_kb("VmHWM") * 1024


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0
