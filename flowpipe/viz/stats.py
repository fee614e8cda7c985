"""Magnitude and saturation statistics of stored (quantised) flow, on a bounded sample.

A stored code of 0 or 255 means the flow component was clipped at -bound or +bound during
extraction; a pixel is *saturated* when its x or its y code is. The statistics of a video are
computed on a few flow fields spread evenly over it, so a report over 10,000 videos decodes a
bounded number of JPEGs per video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowpipe.storage.codec import dequantize

MAGNITUDE_BINS = 40
SATURATION_BINS = 20


def sample_indices(flows: int, samples: int) -> list[int]:
    """Up to `samples` 1-based flow indices spread evenly over 1..flows (both ends included)."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    if flows < 1:
        return []
    return sorted({int(round(k)) for k in np.linspace(1, flows, min(samples, flows))})


def saturated_mask(qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
    """[H, W] bool: pixels whose x or y code is 0 or 255 (clipped at -bound or +bound)."""
    return (qx == 0) | (qx == 255) | (qy == 0) | (qy == 255)


def codes_to_flow(qx: np.ndarray, qy: np.ndarray, bound: float) -> np.ndarray:
    """Stored x and y codes -> float32 flow [H, W, 2] in pixels."""
    return np.stack([dequantize(qx, bound), dequantize(qy, bound)], axis=-1)


def magnitude_edges(bound: float) -> np.ndarray:
    """Bin edges of the magnitude histogram: 0 .. bound * sqrt(2), the largest storable |v|."""
    return np.linspace(0.0, bound * np.sqrt(2.0), MAGNITUDE_BINS + 1)


def saturation_edges() -> np.ndarray:
    """Bin edges (percent of pixels) of the per-video saturation histogram."""
    return np.linspace(0.0, 100.0, SATURATION_BINS + 1)


@dataclass
class FlowStats:
    """Pixel statistics accumulated over flow fields stored with one bound.

    `edges` are the magnitude histogram's bin edges (default: magnitude_edges(bound)); a
    dataset report passes common edges so histograms of videos add up.
    """

    bound: float
    edges: np.ndarray | None = None
    pixels: int = 0
    magnitude_sum: float = 0.0
    saturated: int = 0

    def __post_init__(self) -> None:
        if self.edges is None:
            self.edges = magnitude_edges(self.bound)
        self.histogram = np.zeros(len(self.edges) - 1, np.int64)

    def add(self, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
        """Count one field given by its stored codes; returns its float flow [H, W, 2]."""
        flow = codes_to_flow(qx, qy, self.bound)
        magnitude = np.hypot(flow[..., 0], flow[..., 1])
        self.pixels += magnitude.size
        self.magnitude_sum += float(magnitude.sum(dtype=np.float64))
        self.saturated += int(saturated_mask(qx, qy).sum())
        clipped = np.minimum(magnitude, self.edges[-1])
        self.histogram += np.histogram(clipped, self.edges)[0]
        return flow

    @property
    def mean_magnitude(self) -> float:
        """Mean |v| in pixels over the counted pixels (0 when none)."""
        return self.magnitude_sum / self.pixels if self.pixels else 0.0

    @property
    def saturated_percent(self) -> float:
        """Percent of counted pixels saturated at +-bound in x or y (0 when none)."""
        return 100.0 * self.saturated / self.pixels if self.pixels else 0.0
