"""Several processes, one per GPU (or CPU processes with gloo), started by torchrun."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """This process's place in the run: rank, world size and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """The process that writes checkpoints, metrics and logs."""
        return self.rank == 0


def resolve_train_device(name: str, local_rank: int = 0) -> torch.device:
    """cpu, cuda[:N] or auto (the local GPU when there is one)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device cuda asked for, but no CUDA GPU is available")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    elif device.type != "cpu":
        raise ValueError(f"device must be cpu, cuda or auto, got {name!r}")
    return device


def setup(device_name: str) -> Context:
    """Join the torchrun process group when WORLD_SIZE > 1, else a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_train_device(device_name, local_rank)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(dist.get_rank() if world > 1 else 0, world, device)


def teardown() -> None:
    """Leave the process group, if any."""
    if dist.is_initialized():
        dist.destroy_process_group()
