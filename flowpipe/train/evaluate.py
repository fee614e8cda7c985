"""Video-level scores with the papers' test protocols: 25 stacks × 10 crops for the 2-D
streams, the whole video in T-frame windows for I3D; softmax averaged over each video's views."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from flowpipe.data.datasets import VideoDataset, worker_init
from flowpipe.train.checkpoint import checkpoint_config, load_checkpoint
from flowpipe.train.config import TrainConfig
from flowpipe.train.metrics import confusion_matrix, save_confusion_png, summarize
from flowpipe.train.scores import VideoScores, save_scores
from flowpipe.train.streams import stream_dataset, stream_model


@torch.no_grad()
def predict_videos(
    model: nn.Module,
    dataset: VideoDataset,
    device: torch.device,
    batch_size: int = 8,
    workers: int = 0,
) -> np.ndarray:
    """[videos, classes] softmax scores averaged over every view of each video (test mode)."""
    model.eval()
    num = len(dataset.records)
    sums = torch.zeros(num, dataset.num_classes, dtype=torch.float64)
    counts = torch.zeros(num, dtype=torch.float64)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        worker_init_fn=worker_init,
    )
    is_3d = any(isinstance(m, nn.Conv3d) for m in model.modules())
    index = 0
    for x, _ in loader:
        probs = _view_probabilities(model, x.to(device), is_3d)
        videos = torch.tensor([dataset.video_of(i) for i in range(index, index + len(x))])
        sums.index_add_(0, videos, probs.sum(dim=1).double().cpu())
        counts.index_add_(
            0, videos, torch.full((len(x),), float(probs.shape[1]), dtype=torch.float64)
        )
        index += len(x)
    if (counts == 0).any():
        raise ValueError("some videos got no test view")
    return (sums / counts[:, None]).float().numpy()


def _view_probabilities(model: nn.Module, x: torch.Tensor, is_3d: bool) -> torch.Tensor:
    """[B, V, classes] softmax of each view: 2-D items are [B, V, C, H, W], I3D [B, C, T, H, W]."""
    if is_3d:
        return model(x).softmax(dim=-1)[:, None]
    b, v = x.shape[:2]
    return model(x.flatten(0, 1)).softmax(dim=-1).view(b, v, -1)


@dataclass(frozen=True)
class EvalOptions:
    """What `evaluate` scores and how: the data (default: the dataset the run trained on), the
    split and its subset and fold (default: the run's), the views per video, and the batch,
    DataLoader workers and device it runs with."""

    data: str | None = None
    split: str | None = None
    subset: str = "test"
    fold: int | None = None
    test_stacks: int = 25
    test_crops: int = 10
    batch_size: int = 4
    workers: int = 2
    device: str = "cpu"


def evaluate(
    checkpoint: str | Path, options: EvalOptions | None = None, **changes: Any
) -> VideoScores:
    """Scores of a trained checkpoint on a split (default: the dataset it was trained on).

    Args:
        checkpoint: a run's last.pt or best.pt.
        options: what to score and how (EvalOptions); keywords change single fields of it
            (`evaluate(path, test_stacks=5)`).

    Returns:
        Video-level scores (softmax averaged over each video's views).
    """
    options = dataclasses.replace(options or EvalOptions(), **changes)
    data, split, subset, fold = options.data, options.split, options.subset, options.fold
    test_stacks, test_crops, device = options.test_stacks, options.test_crops, options.device
    batch_size, workers = options.batch_size, options.workers
    state = load_checkpoint(checkpoint)
    cfg = checkpoint_config(state)
    overrides = {"data": data or cfg.data, "fold": fold or cfg.fold}
    cfg = TrainConfig.from_dict({**cfg.as_dict(), **overrides})
    dataset = stream_dataset(cfg, "test", split, subset, test_stacks, test_crops)
    if dataset.class_names != state["class_names"]:
        raise ValueError(
            f"{checkpoint}: trained on classes {state['class_names'][:3]}..., the split has "
            f"{dataset.class_names[:3]}... ({dataset.num_classes} classes)"
        )
    model = stream_model(
        TrainConfig.from_dict({**cfg.as_dict(), "init_from": None}), dataset.num_classes
    )
    model.load_state_dict(state["model"])
    target = torch.device(device)
    scores = predict_videos(model.to(target), dataset, target, batch_size, workers)
    return VideoScores(
        dataset.video_ids, scores, np.array(dataset.labels), dataset.class_names, cfg.stream, subset
    )


def write_evaluation(scores: VideoScores, output: str | Path) -> dict[str, Any]:
    """Save the scores (.npz) and the confusion matrix (.png beside it); return the summary."""
    output = Path(output)
    save_scores(output, scores)
    cm = confusion_matrix(scores.scores, scores.labels, scores.num_classes)
    picture = output.with_suffix(".png")
    save_confusion_png(cm, scores.class_names, picture, title=f"{scores.stream} ({scores.split})")
    return {**summarize(scores), "scores": str(output), "confusion_png": str(picture)}
