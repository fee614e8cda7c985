"""Which device code runs on: one place that reads 'cpu', 'cuda', 'cuda:N' and 'auto', and
how many CPU threads a thread's torch operations use."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

DEVICE_HELP = "cpu, cuda, cuda:N or auto"


def resolve_device(device: str | torch.device, index: int | None = None) -> torch.device:
    """A torch.device from 'cpu', 'cuda', 'cuda:N' or 'auto'; a clear ValueError otherwise
    (CUDA asked for on a machine without it included). `index` gives a CUDA device without
    one its number (e.g. the current device, or a process's local rank)."""
    if isinstance(device, str) and device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}: use {DEVICE_HELP}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for, but CUDA is not available here")
    if dev.type == "cuda" and dev.index is None and index is not None:
        dev = torch.device("cuda", index)
    return dev


def names_cuda(device: str | torch.device) -> bool:
    """Whether `device` means a GPU: a CUDA name (whether or not this machine has one: workers
    elsewhere may), or 'auto' on a machine with CUDA."""
    if isinstance(device, torch.device):
        return device.type == "cuda"
    if device == "auto":
        return torch.cuda.is_available()
    return device.startswith("cuda")


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """The calling thread's torch operations on `count` CPU threads, for the block; the count
    before is restored after it.

    Torch's OpenMP runtime (libgomp) keeps a team of threads for each thread that has run a
    parallel operation, and once those teams hold more threads than the machine has cores, it
    stops spin-waiting between parallel regions: every short operation then pays for waking
    its team (docs/cluster.md). Threads whose torch work is light run it on one thread, leaving
    the cores to the solver's.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
