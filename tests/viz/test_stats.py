"""Tests of flowpipe.viz.stats: sampling, saturation and magnitude of quantised flow."""

from __future__ import annotations

import numpy as np
import pytest

from flowpipe.storage.codec import dequantize, quantize
from flowpipe.viz.stats import FlowStats, magnitude_edges, sample_indices, saturated_mask


@pytest.mark.parametrize(
    ("flows", "samples", "expected"),
    [(10, 3, [1, 6, 10]), (3, 8, [1, 2, 3]), (1, 8, [1]), (0, 8, []), (100, 1, [1])],
)
def test_sample_indices_spread_over_the_video(flows: int, samples: int, expected: list) -> None:
    assert sample_indices(flows, samples) == expected


def test_sample_indices_bounded() -> None:
    ks = sample_indices(10_000, 8)
    assert len(ks) == 8 and ks[0] == 1 and ks[-1] == 10_000 and ks == sorted(ks)
    with pytest.raises(ValueError, match="samples"):
        sample_indices(10, 0)


@pytest.mark.parametrize("fraction", [0.0, 0.013, 0.25, 0.5, 1.0])
@pytest.mark.parametrize("bound", [20.0, 5.0])
def test_saturation_of_flow_beyond_the_bound(fraction: float, bound: float) -> None:
    rng = np.random.default_rng(1)
    shape = (60, 50)
    n = round(fraction * shape[0] * shape[1])
    # Inside the bound with a margin of one code step; beyond it by up to 3x, either sign,
    # in x or in y (the other component stays inside).
    flow = rng.uniform(-0.95 * bound, 0.95 * bound, (*shape, 2)).astype(np.float32)
    beyond = rng.choice(shape[0] * shape[1], n, replace=False)
    rows, cols = np.unravel_index(beyond, shape)
    component = rng.integers(0, 2, n)
    flow[rows, cols, component] = rng.choice([-1, 1], n) * rng.uniform(1.0, 3.0, n) * bound
    qx, qy = quantize(flow[..., 0], bound), quantize(flow[..., 1], bound)

    stats = FlowStats(bound)
    decoded = stats.add(qx, qy)
    assert saturated_mask(qx, qy).sum() == n
    assert stats.saturated_percent == pytest.approx(100 * n / flow[..., 0].size)
    clipped = np.clip(flow, -bound, bound)
    truth = np.hypot(clipped[..., 0], clipped[..., 1]).mean()
    assert stats.mean_magnitude == pytest.approx(truth, abs=bound / 255)
    np.testing.assert_allclose(decoded, clipped, atol=bound / 255 + 1e-5)
    assert stats.histogram.sum() == stats.pixels == flow[..., 0].size


def test_stats_accumulate_over_fields() -> None:
    bound = 20.0
    full = np.full((8, 8), 255, np.uint8)
    zero = np.full((8, 8), 128, np.uint8)
    stats = FlowStats(bound)
    stats.add(full, zero)  # all saturated at +bound
    stats.add(zero, zero)  # none: zero flow
    assert stats.saturated_percent == 50.0
    v0 = float(dequantize(np.uint8(128), bound))  # the code nearest 0 px
    assert stats.mean_magnitude == pytest.approx((np.hypot(bound, v0) + np.hypot(v0, v0)) / 2)
    # |v| of a code pair (255, 255) is the largest storable magnitude: the last bin.
    corner = FlowStats(bound)
    corner.add(full, full)
    assert corner.histogram[-1] == 64 and corner.histogram.sum() == 64


def test_empty_stats_are_zero_and_edges_cover_the_storable_range() -> None:
    stats = FlowStats(10.0)
    assert stats.mean_magnitude == 0.0 and stats.saturated_percent == 0.0
    edges = magnitude_edges(10.0)
    assert edges[0] == 0.0 and edges[-1] == pytest.approx(10.0 * np.sqrt(2))
