"""Where the extraction runs: an embedded Dask LocalCluster, or an existing scheduler."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from flowpipe import SPINCOUNT
from flowpipe.devices import names_cuda, resolve_device
from flowpipe.extraction.settings import JobTuning
from flowpipe.extraction.worker import TORCH_THREADS_ENV

# Dask's statistical profiler takes the GIL every 10 ms to sample every thread's stack, and
# the solver's Python loop (thousands of small launches per call) waits for it each time.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


@dataclass(frozen=True)
class ClusterOptions:
    """Where the tasks run: an existing scheduler (address or file), else a LocalCluster of
    `workers` processes; `device` is the engine's device on the workers, `batch` the frame
    pairs per chunk of a video (None: the tuning's default for the device)."""

    scheduler: str | None = None
    scheduler_file: str | None = None
    workers: int | None = None
    device: str = "auto"
    batch: int | None = None
    retries: int = 2

    @property
    def remote(self) -> bool:
        """Whether the job runs on an existing cluster."""
        return bool(self.scheduler or self.scheduler_file)

    @property
    def on_gpu(self) -> bool:
        """Whether the workers run the engine on CUDA."""
        return names_cuda(self.device)

    def chunk_pairs(self, tuning: JobTuning) -> int:
        """Frame pairs per chunk of a video: `batch`, else the tuning's for the device."""
        return self.batch if self.batch is not None else tuning.chunk_pairs(self.on_gpu)

    def check(self) -> None:
        """ValueError for a device this machine cannot give its local workers."""
        if not self.remote and self.device != "auto":
            resolve_device(self.device)


def dashboard_available() -> bool:
    """Whether Dask's dashboard can be served here (it needs bokeh)."""
    return importlib.util.find_spec("bokeh") is not None


@contextlib.contextmanager
def connect(
    options: ClusterOptions, tuning: JobTuning, echo: Callable[[str], None] = print
) -> Iterator[Any]:
    """A distributed.Client on the scheduler asked for, or on a new LocalCluster (its workers
    quiet: only errors of Dask itself reach the terminal)."""
    import dask
    from distributed import Client, LocalCluster

    if options.remote:
        echo(f"connecting to {options.scheduler or options.scheduler_file}")
        with Client(options.scheduler, scheduler_file=options.scheduler_file) as client:
            yield client
        return
    options.check()
    gpus = torch.cuda.device_count() if options.on_gpu else 0
    workers = options.workers or gpus or max(1, min(4, (os.cpu_count() or 2) // 2))
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    # Dask's nanny pins OpenMP to one thread per worker; the engine's kernels need the cores,
    # and its two OpenMP runtimes a short spin (see flowpipe/__init__.py), set before they load.
    env = {"OMP_NUM_THREADS": threads, TORCH_THREADS_ENV: threads, "GOMP_SPINCOUNT": SPINCOUNT}
    kind = f"{gpus} GPU" if gpus else "CPU"
    echo(f"starting {workers} local {kind} worker{'s' if workers > 1 else ''}")
    dashboard = dashboard_available()
    with (
        dask.config.set(WORKER_CONFIG),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=tuning.videos_per_gpu if gpus else 1,
            processes=True,
            env=env,
            resources={"GPU": 1} if gpus else None,
            dashboard_address=":0" if dashboard else None,
            scheduler_kwargs={"dashboard": dashboard},
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


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
