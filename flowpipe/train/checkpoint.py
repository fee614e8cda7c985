"""Training checkpoints: model, optimiser and schedule state plus the run's config, written
atomically so a run killed at any moment leaves the previous checkpoint intact."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from flowpipe import __version__
from flowpipe.io import write_file_atomic
from flowpipe.train.config import TrainConfig

LAST = "last.pt"
BEST = "best.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save `state` (with flowpipe's version) to path, atomically."""
    buffer = io.BytesIO()
    torch.save({**state, "flowpipe_version": __version__}, buffer)
    write_file_atomic(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by save_checkpoint; one-line errors for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a file that is not a checkpoint
        raise ValueError(f"{path}: not a flowpipe checkpoint ({type(err).__name__})") from None
    if not isinstance(state, dict) or not {"config", "model", "epoch"} <= state.keys():
        raise ValueError(f"{path}: not a flowpipe training checkpoint (no config/model/epoch)")
    return state


def checkpoint_config(state: dict[str, Any]) -> TrainConfig:
    """The TrainConfig a checkpoint was trained with."""
    return TrainConfig.from_dict(state["config"])
