"""Running `flowpipe extract` and Dask processes for real in tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

DASK = str(Path(sys.executable).parent / "dask")
FAST = ["--nscales", "3", "--warps", "2", "--no-progress"]


def flowpipe(*args: str, **kwargs) -> subprocess.Popen:
    """`python -m flowpipe ARGS` started, stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "flowpipe", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) once the process ends."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def run(*args: str, **kwargs) -> tuple[int, str, str]:
    """`python -m flowpipe ARGS` to its end."""
    return finish(flowpipe(*args, **kwargs))


def wait_for(predicate: Callable[[], object], timeout: float = 120, what: str = "it") -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextmanager
def dask_cluster(folder: Path, workers: int = 2, cwd: Path | None = None, env=None):
    """A real `dask scheduler` and `dask worker` processes on 127.0.0.1 started in `cwd`;
    yields (scheduler file, worker processes)."""
    file = folder / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": cwd, "env": env}
    scheduler = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    procs = [subprocess.Popen([*scheduler, "--scheduler-file", str(file)], **quiet)]
    try:
        wait_for(file.exists, what="the scheduler file")
        worker = [DASK, "worker", "--scheduler-file", str(file), "--nthreads", "1"]
        worker += ["--no-nanny", "--no-dashboard", "--host", "127.0.0.1"]
        started = [subprocess.Popen(worker, **quiet) for _ in range(workers)]
        procs += started
        from distributed import Client

        with Client(scheduler_file=str(file), timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield file, started
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> content)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def environ(**changes: str) -> dict[str, str]:
    return {**os.environ, **changes}
