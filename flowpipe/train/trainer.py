"""The training loop shared by the temporal, I3D and spatial streams.

Each epoch reseeds torch from (seed, epoch) before drawing its shuffle, its DataLoader worker
seeds and its dropout masks, so a run resumed from an epoch's checkpoint continues exactly as
an unbroken run would (bit for bit on CPU).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from flowpipe.data import worker_init
from flowpipe.train import ddp
from flowpipe.train.checkpoint import (
    BEST,
    LAST,
    checkpoint_config,
    load_checkpoint,
    save_checkpoint,
)
from flowpipe.train.config import TrainConfig
from flowpipe.train.evaluate import predict_videos
from flowpipe.train.metrics import topk_accuracy
from flowpipe.train.streams import stream_dataset, stream_model

METRICS_FILE = "metrics.csv"
METRICS_COLUMNS = ("epoch", "lr", "train_loss", "train_top1", "val_top1", "seconds")


def _epoch_seed(cfg: TrainConfig, epoch: int) -> int:
    return cfg.seed * 100_003 + epoch


def _loader(dataset: Any, cfg: TrainConfig, epoch: int, ctx: ddp.Context) -> DataLoader:
    """This epoch's shuffled batches (this rank's share under DDP)."""
    if ctx.world_size > 1:
        sampler = DistributedSampler(dataset, shuffle=True, seed=cfg.seed)
        sampler.set_epoch(epoch)
    else:
        sampler = RandomSampler(
            dataset, generator=torch.Generator().manual_seed(_epoch_seed(cfg, epoch))
        )
    # A last batch of one sample breaks BatchNorm in training: drop the incomplete last batch
    # unless it is the only one.
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        pin_memory=ctx.device.type == "cuda",
        worker_init_fn=worker_init,
        drop_last=len(sampler) > cfg.batch_size,
    )


def _memory_format(cfg: TrainConfig, device: torch.device) -> torch.memory_format:
    """channels-last on CUDA (faster convolutions with AMP), contiguous on CPU."""
    if device.type != "cuda":
        return torch.contiguous_format
    return torch.channels_last_3d if cfg.stream == "i3d" else torch.channels_last


def forward_logits(model: nn.Module, x: torch.Tensor, segments: int) -> torch.Tensor:
    """Logits of a batch; TSN segments [B, K, C, H, W] are averaged (segmental consensus)."""
    if segments > 1 and x.dim() == 5 and x.shape[1] == segments:
        b, k = x.shape[:2]
        return model(x.flatten(0, 1)).view(b, k, -1).mean(dim=1)
    return model(x)


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig,
    device: torch.device,
) -> tuple[float, float]:
    """One pass of SGD; (mean loss, top-1 on the training samples)."""
    model.train()
    amp = cfg.amp and device.type == "cuda"
    fmt = _memory_format(cfg, device)
    losses, hits, seen = 0.0, 0, 0
    for step, (x, y) in enumerate(loader):
        if cfg.max_batches is not None and step >= cfg.max_batches:
            break
        x = x.to(device, non_blocking=True)
        x = (
            x.contiguous(memory_format=fmt)
            if x.dim() in (4, 5) and fmt != torch.contiguous_format
            else x
        )
        y = y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = forward_logits(model, x, cfg.segments)
            loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses += float(loss.detach()) * len(y)
        hits += int((logits.argmax(dim=1) == y).sum())
        seen += len(y)
    return losses / max(seen, 1), hits / max(seen, 1)


def _append_metrics(out: Path, row: dict[str, Any]) -> None:
    """One epoch's row of metrics.csv (header written with the first row)."""
    path = out / METRICS_FILE
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRICS_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def _tensorboard(out: Path) -> Any:
    """A TensorBoard writer when tensorboard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _resume_state(cfg: TrainConfig, out: Path) -> dict[str, Any] | None:
    """The last checkpoint of this run, checked to match the config."""
    state = load_checkpoint(out / LAST)
    saved = checkpoint_config(state)
    free = ("epochs", "workers", "device", "out")
    wanted = cfg.as_dict()
    differs = [k for k, v in saved.as_dict().items() if k not in free and wanted[k] != v]
    if differs:
        raise ValueError(
            f"{out / LAST}: cannot resume with different settings: {', '.join(differs)}"
        )
    return state


def _state(model: nn.Module, optimizer, scheduler, cfg, epoch, best, class_names) -> dict[str, Any]:
    """What a checkpoint holds."""
    net = _unwrapped(model)
    return {
        "config": cfg.as_dict(),
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "best_val_top1": best,
        "class_names": class_names,
    }


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train the stream of `cfg`; checkpoints, metrics.csv and the summary go to cfg.out."""
    ctx = ddp.setup(cfg.device)
    try:
        return _train(cfg, resume, ctx)
    finally:
        ddp.teardown()


def _unwrapped(model: nn.Module) -> nn.Module:
    """The network inside a DDP wrapper (or the model itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def _epoch_row(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_set: Any,
    val_set: Any,
    cfg: TrainConfig,
    epoch: int,
    ctx: ddp.Context,
) -> dict[str, Any]:
    """Train one epoch (seeded by (seed, epoch)), validate on the main process; its metrics."""
    began = time.perf_counter()
    torch.manual_seed(_epoch_seed(cfg, epoch))
    lr = optimizer.param_groups[0]["lr"]
    loader = _loader(train_set, cfg, epoch, ctx)
    loss, top1 = train_one_epoch(model, loader, optimizer, cfg, ctx.device)
    val = ""
    if val_set is not None and ctx.is_main:
        net = _unwrapped(model)
        scores = predict_videos(net, val_set, ctx.device, cfg.batch_size, cfg.workers)
        val = round(topk_accuracy(scores, np.array(val_set.labels), 1), 6)
    return {
        "epoch": epoch + 1,
        "lr": lr,
        "train_loss": round(loss, 6),
        "train_top1": round(top1, 6),
        "val_top1": val,
        "seconds": round(time.perf_counter() - began, 3),
    }


def _build(cfg: TrainConfig, ctx: ddp.Context) -> tuple[Any, Any, nn.Module]:
    """(train set, validation set or None, model on the device) of the run."""
    torch.manual_seed(cfg.seed)
    train_set = stream_dataset(cfg, "train", cfg.split)
    val_set = None
    if cfg.val_split:
        val_set = stream_dataset(cfg, "test", cfg.val_split, "test", cfg.val_stacks, 1)
    model = stream_model(cfg, train_set.num_classes).to(ctx.device)
    return train_set, val_set, model.to(memory_format=_memory_format(cfg, ctx.device))


def _train(cfg: TrainConfig, resume: bool, ctx: ddp.Context) -> dict[str, Any]:
    out = Path(cfg.out)
    state = _resume_state(cfg, out) if resume else None
    train_set, val_set, model = _build(cfg, ctx)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(cfg.lr_steps), cfg.lr_gamma)
    start, best = 0, None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, best = state["epoch"], state["best_val_top1"]
    if ctx.world_size > 1:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids)
    out.mkdir(parents=True, exist_ok=True)
    writer = _tensorboard(out) if ctx.is_main else None
    history = []
    for epoch in range(start, cfg.epochs):
        row = _epoch_row(model, optimizer, train_set, val_set, cfg, epoch, ctx)
        scheduler.step()
        history.append(row)
        if not ctx.is_main:
            continue
        improved = row["val_top1"] != "" and (best is None or row["val_top1"] > best)
        best = row["val_top1"] if improved else best
        snapshot = _state(model, optimizer, scheduler, cfg, epoch + 1, best, train_set.class_names)
        if improved or val_set is None:
            save_checkpoint(out / BEST, snapshot)
        save_checkpoint(out / LAST, snapshot)
        _append_metrics(out, row)
        if writer is not None:
            for key in ("train_loss", "train_top1", "lr", "val_top1"):
                if row[key] != "":
                    writer.add_scalar(key, row[key], epoch + 1)
    if writer is not None:
        writer.close()
    return {
        "out": str(out),
        "epochs": history,
        "best_val_top1": best,
        "classes": train_set.class_names,
    }
