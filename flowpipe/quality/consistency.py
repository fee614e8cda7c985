"""Forward-backward consistency of flow pairs (Sundaram, Brox & Keutzer, ECCV 2010).

For forward flow w_f (frame k -> k+1) and backward flow w_b (frame k+1 -> k), a pixel x whose
forward target x' = x + w_f(x) lies inside frame k+1 is *inconsistent* when

    |w_f(x) + w_b(x')|^2 > alpha (|w_f(x)|^2 + |w_b(x')|^2) + beta

with w_b(x') sampled bilinearly (alpha 0.01, beta 0.5 px^2 in the paper). Its *consistency
error* is |w_f(x) + w_b(x')| in pixels. A pixel whose target leaves the frame (x' outside
[0, W-1] x [0, H-1], pixel centres at integers) cannot be checked: it is counted apart as
*out of frame*, neither consistent nor inconsistent. So, per pair:

- `inconsistent`: inconsistent pixels / in-frame pixels (0 when no pixel is in frame),
- `error`: mean consistency error over in-frame pixels, px (0 when none),
- `out_of_frame`: out-of-frame pixels / all pixels.

Everything runs on the flows' device, a whole batch of pairs at once: one `grid_sample` and a
few elementwise ops (`flowpipe bench consistency` times it against the solver).

    acc = ConsistencyAccumulator()
    for fwd, bwd in chunks:           # [B, 2, H, W] each, pairs in order
        acc.add(fwd, bwd)
    meta["consistency"] = acc.record()
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

WORST_PAIRS = 5
# Pixel classes of consistency_mask.
CONSISTENT, INCONSISTENT, OUT_OF_FRAME = 0, 1, 2


@dataclass(frozen=True)
class ConsistencyThreshold:
    """Sundaram's test: inconsistent where |w_f + w_b|^2 > alpha (|w_f|^2 + |w_b|^2) + beta."""

    alpha: float = 0.01
    beta: float = 0.5

    def __post_init__(self) -> None:
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"ConsistencyThreshold.{name} must be a number >= 0, got {value}")

    def as_dict(self) -> dict[str, float]:
        """The JSON form stored in meta.json."""
        return {"alpha": self.alpha, "beta": self.beta}


@dataclass(frozen=True)
class ConsistencyFigures:
    """Per-pair figures of a batch, float32 tensors [B] on the flows' device."""

    inconsistent: torch.Tensor
    error: torch.Tensor
    out_of_frame: torch.Tensor

    def to_lists(self) -> tuple[list[float], list[float], list[float]]:
        """(inconsistent, error, out_of_frame) as Python floats (one device-to-host copy)."""
        stacked = torch.stack([self.inconsistent, self.error, self.out_of_frame]).cpu()
        return tuple(row.tolist() for row in stacked)


@dataclass(frozen=True)
class _Check:
    """Per-pixel outcome of the test: [B, H, W] each."""

    inconsistent: torch.Tensor  # bool, only where in frame
    in_frame: torch.Tensor  # bool
    error: torch.Tensor  # float32 px, 0 out of frame


def _check_flows(fwd: torch.Tensor, bwd: torch.Tensor) -> None:
    """ValueError unless fwd and bwd are float tensors [B, 2, H, W] of one shape and device."""
    for name, flow in (("forward", fwd), ("backward", bwd)):
        if not isinstance(flow, torch.Tensor) or not flow.is_floating_point():
            raise ValueError(f"{name} flow must be a float torch tensor, got {type(flow).__name__}")
        if flow.ndim != 4 or flow.shape[1] != 2 or min(flow.shape[2:]) < 2:
            raise ValueError(
                f"{name} flow must have shape [B, 2, H, W] (H, W >= 2), got {tuple(flow.shape)}"
            )
    if fwd.shape != bwd.shape or fwd.device != bwd.device:
        raise ValueError(
            f"forward flow {tuple(fwd.shape)} on {fwd.device} and backward flow "
            f"{tuple(bwd.shape)} on {bwd.device} must match"
        )


def _targets(fwd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x + w_f(x) as grid_sample's normalised grid [B, H, W, 2], and whether it is in frame."""
    height, width = fwd.shape[-2:]
    ys = torch.arange(height, device=fwd.device, dtype=fwd.dtype).view(1, height, 1)
    xs = torch.arange(width, device=fwd.device, dtype=fwd.dtype).view(1, 1, width)
    tx, ty = xs + fwd[:, 0], ys + fwd[:, 1]
    in_frame = (tx >= -0.5) & (tx <= width - 0.5) & (ty >= -0.5) & (ty <= height - 0.5)
    grid = torch.stack([tx * (2 / (width - 1)) - 1, ty * (2 / (height - 1)) - 1], dim=-1)
    return grid, in_frame


def _check(fwd: torch.Tensor, bwd: torch.Tensor, threshold: ConsistencyThreshold) -> _Check:
    """Sundaram's test at every pixel of every pair."""
    _check_flows(fwd, bwd)
    fwd, bwd = fwd.float(), bwd.float()
    grid, in_frame = _targets(fwd)
    back = F.grid_sample(bwd, grid, mode="bilinear", padding_mode="border", align_corners=True)
    residual = (fwd + back).square().sum(1)
    scale = fwd.square().sum(1) + back.square().sum(1)
    inconsistent = (residual > threshold.alpha * scale + threshold.beta) & in_frame
    return _Check(inconsistent, in_frame, torch.where(in_frame, residual.sqrt(), 0.0))


def consistency_figures(
    fwd: torch.Tensor, bwd: torch.Tensor, threshold: ConsistencyThreshold | None = None
) -> ConsistencyFigures:
    """Per-pair figures of a batch of flow pairs.

    Args:
        fwd: forward flows [B, 2, H, W] (float, px, x then y): pair k is frame k -> k+1.
        bwd: backward flows of the same pairs, frame k+1 -> k, same shape and device.
        threshold: the test's alpha and beta (default Sundaram's 0.01 and 0.5).

    Returns:
        ConsistencyFigures on the flows' device (see the module docstring).
    """
    check = _check(fwd, bwd, threshold or ConsistencyThreshold())
    pixels = check.in_frame[0].numel()
    checked = check.in_frame.sum((1, 2)).float()
    per_checked = checked.clamp(min=1)
    return ConsistencyFigures(
        inconsistent=check.inconsistent.sum((1, 2)).float() / per_checked,
        error=check.error.sum((1, 2)) / per_checked,
        out_of_frame=1 - checked / pixels,
    )


def consistency_mask(
    fwd: torch.Tensor, bwd: torch.Tensor, threshold: ConsistencyThreshold | None = None
) -> torch.Tensor:
    """Per-pixel classes [B, H, W] uint8: CONSISTENT (0), INCONSISTENT (1), OUT_OF_FRAME (2).

    Args:
        fwd: forward flows [B, 2, H, W], as for consistency_figures.
        bwd: backward flows, same shape and device.
        threshold: the test's alpha and beta (default Sundaram's).

    Returns:
        uint8 tensor [B, H, W] on the flows' device.
    """
    check = _check(fwd, bwd, threshold or ConsistencyThreshold())
    mask = check.inconsistent.to(torch.uint8)
    return mask.masked_fill(~check.in_frame, OUT_OF_FRAME)


def consistency_record(
    figures: list[ConsistencyFigures], threshold: ConsistencyThreshold | None = None
) -> dict:
    """The JSON-ready meta["consistency"] of one video from its chunks' figures, in pair order.

    Args:
        figures: per-chunk figures, chunk 1 first (pairs numbered from 1 across chunks).
        threshold: the threshold they were computed with (default Sundaram's).

    Returns:
        {"threshold", "inconsistent", "error", "out_of_frame", "mean_inconsistent",
        "mean_error", "worst"}: fractions to 4 decimals, px to 3; "worst" holds up to
        WORST_PAIRS [k, inconsistent_k], worst first (ties: lower k first).
    """
    threshold = threshold or ConsistencyThreshold()
    if not figures:
        raise ValueError("a consistency record needs the figures of at least one pair")
    rows = [f.to_lists() for f in figures]
    inconsistent, error, out = ([v for row in rows for v in row[i]] for i in range(3))
    worst = sorted(range(len(inconsistent)), key=lambda i: (-inconsistent[i], i))[:WORST_PAIRS]
    return {
        "threshold": threshold.as_dict(),
        "inconsistent": [round(v, 4) for v in inconsistent],
        "error": [round(v, 3) for v in error],
        "out_of_frame": [round(v, 4) for v in out],
        "mean_inconsistent": round(sum(inconsistent) / len(inconsistent), 4),
        "mean_error": round(sum(error) / len(error), 3),
        "worst": [[i + 1, round(inconsistent[i], 4)] for i in worst],
    }


@dataclass
class ConsistencyAccumulator:
    """Collects a video's figures chunk by chunk (on the device; copied once, in record())."""

    threshold: ConsistencyThreshold = field(default_factory=ConsistencyThreshold)
    chunks: list[ConsistencyFigures] = field(default_factory=list)

    def add(self, fwd: torch.Tensor, bwd: torch.Tensor) -> ConsistencyFigures:
        """Figures of the next chunk of pairs (fwd, bwd [B, 2, H, W]); returns them."""
        figures = consistency_figures(fwd, bwd, self.threshold)
        self.chunks.append(figures)
        return figures

    @property
    def pairs(self) -> int:
        """Pairs added so far."""
        return sum(len(f.inconsistent) for f in self.chunks)

    def record(self) -> dict:
        """The video's meta["consistency"] (see consistency_record)."""
        return consistency_record(self.chunks, self.threshold)
