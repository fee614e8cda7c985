"""The dataset and network of each stream, built from a TrainConfig."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from flowpipe.data import (
    ClipSampler,
    FlowClipDataset,
    FlowStackDataset,
    FrameDataset,
    FrameSampler,
    SplitOptions,
    StackSampler,
    ViewPolicy,
)
from flowpipe.data.datasets import CLIP_VIEW, VideoDataset
from flowpipe.models import build_model, load_pretrained, load_pytorch_i3d
from flowpipe.storage import open_store
from flowpipe.train.config import TrainConfig


def stream_dataset(
    cfg: TrainConfig,
    mode: str,
    split: str | None,
    subset: str | None = None,
    test_stacks: int = 25,
    test_crops: int = 10,
) -> VideoDataset:
    """The stream's dataset over `split` (train: augmented samples; test: the test views)."""
    root = open_store(cfg.data, cfg.bound)
    crops = dict(crop=cfg.crop, augment=cfg.augment, flip=cfg.flip)
    common = dict(mode=mode, split=SplitOptions(fold=cfg.fold, subset=subset or mode))
    if cfg.stream == "temporal":
        sampler = StackSampler(
            L=cfg.L,
            stacking=cfg.stacking,
            bidirectional=cfg.bidirectional,
            segments=cfg.segments,
            test_stacks=test_stacks,
        )
        view = ViewPolicy(test_crops=test_crops, **crops)
        return FlowStackDataset(root, split, sampler=sampler, view=view, **common)
    if cfg.stream == "i3d":
        view = dataclasses.replace(CLIP_VIEW, **crops)
        return FlowClipDataset(root, split, sampler=ClipSampler(T=cfg.T), view=view, **common)
    sampler = FrameSampler(test_frames=test_stacks)
    view = ViewPolicy(test_crops=test_crops, **crops)
    return FrameDataset(root, split, sampler=sampler, view=view, **common)


def stream_model(cfg: TrainConfig, num_classes: int) -> nn.Module:
    """The stream's network, initialised from `cfg.init_from` when given; a ValueError when
    the architecture cannot take the configured input size."""
    model = build_model(cfg.model_arch, cfg.in_channels, num_classes, cfg.dropout, cfg.i3d_padding)
    if cfg.init_from and cfg.init_format == "pytorch-i3d":
        load_pytorch_i3d(model, cfg.init_from)
    elif cfg.init_from:
        load_pretrained(model, cfg.init_from, cfg.model_arch)
    _check_input_size(model, cfg)
    return model


def _check_input_size(model: nn.Module, cfg: TrainConfig) -> None:
    """One forward pass of a zero sample of the stream's shape (the net's own size check)."""
    time = (cfg.T,) if cfg.stream == "i3d" else ()
    sample = torch.zeros(1, cfg.in_channels, *time, cfg.crop, cfg.crop)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(sample)
    except RuntimeError as err:
        reason = str(err).strip().splitlines()[0]
        raise ValueError(
            f"architecture {cfg.model_arch} cannot take {cfg.crop}x{cfg.crop} crops: {reason}"
        ) from None
    finally:
        model.train(was_training)
