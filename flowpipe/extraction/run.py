"""Running extraction on Dask: an embedded LocalCluster or an existing scheduler.

One task per video. A worker that dies takes its task to another worker (Dask reschedules
it); an input that cannot be read comes back as a failure record and is not retried. The client
owns the dataset-level files (videos.txt, failures.jsonl, flowpipe.json); workers write only
their videos' files. Re-running skips videos whose meta.json matches the settings.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm import tqdm

from flowpipe import SPINCOUNT, __version__
from flowpipe.extraction.worker import (
    CUDA_DEFAULT_BATCH,
    DEFAULT_BATCH,
    PROGRESS_TOPIC,
    TORCH_THREADS_ENV,
    ExtractSettings,
    VideoTask,
    extract_video,
    failure_record,
)
from flowpipe.flow.frames import resolve_device
from flowpipe.storage.dataset import DatasetStore

# Videos a GPU worker runs at once (its threads), so that its FlowBatcher has chunks of several
# videos to merge into one solver call; each task holds 1/VIDEOS_PER_GPU of the worker's GPU.
VIDEOS_PER_GPU = 4


@dataclass(frozen=True)
class ClusterOptions:
    """Where the tasks run: an existing scheduler (address or file), else a LocalCluster."""

    scheduler: str | None = None
    scheduler_file: str | None = None
    workers: int | None = None
    device: str = "auto"
    batch: int | None = None
    retries: int = 2

    def chunk_pairs(self) -> int:
        """Frame pairs per chunk of a video: `batch`, else the default of the workers' device."""
        if self.batch is not None:
            return self.batch
        return CUDA_DEFAULT_BATCH if use_gpu(self.device) else DEFAULT_BATCH


@dataclass
class RunSummary:
    """What a run did: videos finished now, skipped as already done, and failures."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


def use_gpu(device: str) -> bool:
    """Whether the workers run the engine on CUDA."""
    return device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())


# Dask's statistical profiler takes the GIL every 10 ms to sample every thread's stack, and
# the solver's Python loop (thousands of small launches per call) waits for it each time.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


@contextlib.contextmanager
def connect(options: ClusterOptions) -> Iterator[Any]:
    """A distributed.Client on the scheduler asked for, or on a new LocalCluster."""
    import dask
    from distributed import Client, LocalCluster

    if options.scheduler or options.scheduler_file:
        with Client(options.scheduler, scheduler_file=options.scheduler_file) as client:
            yield client
        return
    if options.device != "auto":
        resolve_device(options.device)  # a clear error for a bad name or CUDA missing here
    gpus = torch.cuda.device_count() if use_gpu(options.device) else 0
    workers = options.workers or gpus or max(1, min(4, (os.cpu_count() or 2) // 2))
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    # Dask's nanny pins OpenMP to one thread per worker; the engine's kernels need the cores,
    # and its two OpenMP runtimes a short spin (see flowpipe/__init__.py), set before they load.
    env = {"OMP_NUM_THREADS": threads, TORCH_THREADS_ENV: threads, "GOMP_SPINCOUNT": SPINCOUNT}
    with (
        dask.config.set(WORKER_CONFIG),
        LocalCluster(n_workers=workers, threads_per_worker=VIDEOS_PER_GPU if gpus else 1,
                     processes=True, env=env, resources={"GPU": 1} if gpus else None,
                     dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        yield client


def run_extraction(
    tasks: list[VideoTask],
    root: str,
    settings: ExtractSettings,
    options: ClusterOptions,
    pack: str = "folder",
    overwrite: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    client: Any = None,
    on_frames: Callable[[int], None] = lambda frames: None,
) -> RunSummary:
    """Extract every task not already done; write videos.txt, failures.jsonl, flowpipe.json.
    Runs on `client` when given, else on the cluster `options` names; `on_frames` hears
    the frames the workers finish, as they go (the frame progress bar shows the same)."""
    store = DatasetStore(root, pack)
    store.remove_stale_temporaries()  # left by writers killed in an earlier run
    wanted = settings.as_dict()
    finished = {} if overwrite else store.list_done()
    summary = RunSummary()
    todo = []
    for task in tasks:
        meta = finished.get(task.video_id)
        if meta is not None and meta.get("settings") == wanted:
            summary.skipped.append(task.video_id)
        else:
            todo.append(task)
    ids = {t.video_id for t in tasks}
    store.clear_failures(keep=lambda r: r.get("video_id") not in ids)
    if todo:
        with contextlib.nullcontext(client) if client else connect(options) as active:
            _submit_all(active, todo, store, settings, options, summary, progress, echo,
                        on_frames)  # fmt: skip
    _write_dataset_files(store, settings)
    return summary


def _submit_all(
    client: Any, todo: list[VideoTask], store: DatasetStore, settings: ExtractSettings,
    options: ClusterOptions, summary: RunSummary, progress: bool,
    echo: Callable[[str], None], on_frames: Callable[[int], None],
) -> None:  # fmt: skip
    from distributed import as_completed

    resources = {"GPU": 1 / VIDEOS_PER_GPU} if use_gpu(options.device) else None
    if resources:
        check_gpu_workers(client, echo)
    echo(f"dashboard: {client.dashboard_link}")
    futures = {
        client.submit(extract_video, task, settings, store.url, store.pack, options.device,
                      options.chunk_pairs(),
                      key=f"extract-{task.video_id}", retries=options.retries,
                      resources=resources, pure=False): task
        for task in todo
    }  # fmt: skip
    bar = tqdm(total=len(futures), unit="video", disable=not progress, position=0)
    frames = tqdm(unit="frame", disable=not progress, position=1)
    client.subscribe_topic(PROGRESS_TOPIC, lambda event: _count_frames(event, frames, on_frames))
    try:
        for future in as_completed(futures):
            task = futures[future]
            result = _result(future, task)
            if result["status"] == "done":
                summary.done.append(task.video_id)
            else:
                summary.failed.append(result)
                store.append_failure(result)
                echo(f"failed: {result['path']}: {result['message']}")
            bar.update()
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        client.unsubscribe_topic(PROGRESS_TOPIC)
        frames.close()
        bar.close()


def check_gpu_workers(client: Any, echo: Callable[[str], None]) -> None:
    """GPU tasks run only on workers that declare a GPU resource: with workers but none such,
    the job would wait forever, so it is refused; with no worker yet, it waits for them."""
    workers = client.scheduler_info()["workers"].values()
    if not workers:
        echo("waiting for workers (GPU tasks need workers started with --resources GPU=1)")
    elif not any(w.get("resources", {}).get("GPU") for w in workers):
        raise ValueError(
            "GPU extraction asked for, but no worker of the cluster declares a GPU resource:"
            " start GPU workers with `--resources GPU=1`, or use --device cpu"
        )


def _count_frames(event: tuple[float, int], bar: Any, on_frames: Callable[[int], None]) -> None:
    """A worker's progress event: (time, frames done since its last event)."""
    bar.update(event[1])
    on_frames(event[1])


def _result(future: Any, task: VideoTask) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as err:  # a task that crashed its workers retries times
        return failure_record(task, err)


def _write_dataset_files(store: DatasetStore, settings: ExtractSettings) -> None:
    """videos.txt and flowpipe.json from the finished videos (their meta.json is the truth)."""
    finished = store.list_done()
    rows = [(vid, int(meta["flows"]), meta.get("label")) for vid, meta in sorted(finished.items())]
    store.write_video_list(rows)
    store.write_manifest({
        "flowpipe_version": __version__,
        "settings": settings.as_dict(),
        "counts": {"videos": len(finished), "flows": sum(r[1] for r in rows),
                   "failures": len(store.read_failures())},
    })  # fmt: skip
