"""Tests of flowpipe.quality.consistency on flows whose figures are known exactly."""

from __future__ import annotations

import json

import pytest
import torch

from flowpipe.quality.consistency import (
    CONSISTENT,
    INCONSISTENT,
    OUT_OF_FRAME,
    ConsistencyAccumulator,
    ConsistencyThreshold,
    consistency_figures,
    consistency_mask,
    consistency_record,
)

H, W = 10, 12


def uniform(fx: float, fy: float, batch: int = 1) -> torch.Tensor:
    """[batch, 2, H, W] flow of one vector everywhere."""
    flow = torch.empty(batch, 2, H, W)
    flow[:, 0], flow[:, 1] = fx, fy
    return flow


def test_a_translation_and_its_inverse_are_consistent() -> None:
    figures = consistency_figures(uniform(2.0, 0.0), uniform(-2.0, 0.0))
    assert figures.inconsistent.tolist() == [0.0] and figures.error.tolist() == [0.0]
    # x + 2 leaves [-0.5, W - 0.5] for the last two columns only.
    assert figures.out_of_frame.item() == pytest.approx(2 / W)
    mask = consistency_mask(uniform(2.0, 0.0), uniform(-2.0, 0.0))[0]
    assert (mask[:, -2:] == OUT_OF_FRAME).all() and (mask[:, :-2] == CONSISTENT).all()


def test_within_half_a_pixel_of_the_edge_is_in_frame() -> None:
    figures = consistency_figures(uniform(0.5, -0.5), uniform(-0.5, 0.5))
    assert figures.out_of_frame.item() == 0.0 and figures.error.item() == pytest.approx(0, abs=1e-6)


def test_a_missing_return_is_inconsistent_with_its_error_in_pixels() -> None:
    # |w_f + w_b|^2 = 4 > 0.01 * 4 + 0.5 at every in-frame pixel.
    mask = consistency_mask(uniform(0.0, -2.0), uniform(0.0, 0.0))[0]
    assert (mask[:2] == OUT_OF_FRAME).all() and (mask[2:] == INCONSISTENT).all()
    figures = consistency_figures(uniform(0.0, -2.0), uniform(0.0, 0.0))
    assert figures.inconsistent.item() == 1.0 and figures.error.item() == pytest.approx(2.0)
    assert figures.out_of_frame.item() == pytest.approx(2 / H)


@pytest.mark.parametrize(
    ("back", "inconsistent"),
    [
        (-0.5, False),  # residual 0.25 <= 0.01 * (1 + 0.25) + 0.5
        (-0.28, True),  # residual 0.5184 > 0.01 * (1 + 0.0784) + 0.5 = 0.510784
        (-0.3, False),  # residual 0.49 <= 0.5109
    ],
)
def test_the_threshold_is_sundarams(back: float, inconsistent: bool) -> None:
    figures = consistency_figures(uniform(1.0, 0.0), uniform(back, 0.0))
    assert figures.inconsistent.item() == (1.0 if inconsistent else 0.0)
    loose = ConsistencyThreshold(alpha=0.01, beta=1.0)
    assert consistency_figures(uniform(1.0, 0.0), uniform(back, 0.0), loose).inconsistent == 0


def test_backward_flow_is_sampled_bilinearly_at_the_forward_target() -> None:
    # w_b(x) = -0.5 - 0.1 x (a ramp); at x + 0.5 it is -0.55 - 0.1 x, so the residual is
    # -0.05 - 0.1 x: it tells where (x + w_f, not x - w_f) and how (linearly) w_b was read.
    fwd = uniform(0.5, 0.0)
    bwd = uniform(0.0, 0.0)
    bwd[:, 0] = -0.5 - 0.1 * torch.arange(W, dtype=torch.float32)
    inner = 0.05 + 0.1 * torch.arange(W - 1, dtype=torch.float32)
    # The last column's target W - 0.5 lies in frame, past the last pixel centre: w_b there
    # is the edge pixel's, -0.5 - 0.1 (W - 1), so its residual is 0.1 (W - 1).
    expected = (inner.sum() + 0.1 * (W - 1)) / W
    figures = consistency_figures(fwd, bwd)
    assert figures.error.item() == pytest.approx(expected.item(), abs=1e-5)
    assert figures.out_of_frame.item() == 0.0


def test_pairs_of_a_batch_are_independent() -> None:
    fwd = torch.cat([uniform(2.0, 0.0), uniform(0.0, -2.0), uniform(1.0, 1.0)])
    bwd = torch.cat([uniform(-2.0, 0.0), uniform(0.0, 0.0), uniform(-1.0, -1.0)])
    figures = consistency_figures(fwd, bwd)
    assert figures.inconsistent.tolist() == [0.0, 1.0, 0.0]
    assert figures.error.tolist() == pytest.approx([0.0, 2.0, 0.0])
    assert consistency_mask(fwd, bwd).shape == (3, H, W)
    assert consistency_figures(fwd.double(), bwd.double()).inconsistent.dtype == torch.float32


def test_everything_out_of_frame_checks_nothing() -> None:
    figures = consistency_figures(uniform(50.0, 0.0), uniform(0.0, 0.0))
    assert figures.out_of_frame.item() == 1.0
    assert figures.inconsistent.item() == 0.0 and figures.error.item() == 0.0


def test_record_of_chunks_numbers_pairs_across_them() -> None:
    acc = ConsistencyAccumulator()
    acc.add(
        torch.cat([uniform(2.0, 0.0), uniform(0.0, -2.0)]),
        torch.cat([uniform(-2.0, 0.0), uniform(0.0, 0.0)]),
    )
    acc.add(uniform(0.0, 1.0, 3), torch.cat([uniform(0.0, -1.0, 2), uniform(0.0, 0.0)]))
    assert acc.pairs == 5
    record = acc.record()
    assert record == json.loads(json.dumps(record))  # JSON-ready, no NaN
    assert record["threshold"] == {"alpha": 0.01, "beta": 0.5}
    assert record["inconsistent"] == [0.0, 1.0, 0.0, 0.0, 1.0]
    assert record["error"] == [0.0, 2.0, 0.0, 0.0, 1.0]
    assert record["out_of_frame"] == [round(2 / W, 4), round(2 / H, 4)] + [0.1] * 3
    assert record["mean_inconsistent"] == 0.4 and record["mean_error"] == 0.6
    assert record["worst"] == [[2, 1.0], [5, 1.0], [1, 0.0], [3, 0.0], [4, 0.0]]
    assert consistency_record(acc.chunks) == record


def test_record_rounds_and_keeps_five_worst() -> None:
    bwd = uniform(0.0, 0.0, 7)
    fwd = uniform(0.0, 0.0, 7)
    fwd[:, 0, :, : W // 3] = torch.arange(7).view(7, 1, 1) * 0.3  # error grows with k
    acc = ConsistencyAccumulator(ConsistencyThreshold(alpha=0.0, beta=0.01))
    acc.add(fwd, bwd)
    record = acc.record()
    assert record["threshold"] == {"alpha": 0.0, "beta": 0.01}
    assert [k for k, _ in record["worst"]] == [2, 3, 4, 5, 6]  # ties: lower k first
    assert all(len(str(v).split(".")[-1]) <= 4 for v in record["inconsistent"])
    assert all(len(str(v).split(".")[-1]) <= 3 for v in record["error"])


@pytest.mark.parametrize(
    ("fwd", "bwd", "message"),
    [
        (torch.zeros(1, 3, H, W), torch.zeros(1, 3, H, W), r"\[B, 2, H, W\]"),
        (torch.zeros(2, H, W), torch.zeros(2, H, W), r"\[B, 2, H, W\]"),
        (torch.zeros(1, 2, H, W), torch.zeros(2, 2, H, W), "must match"),
        (torch.zeros(1, 2, H, W, dtype=torch.uint8), torch.zeros(1, 2, H, W), "float"),
        ([[0.0]], torch.zeros(1, 2, H, W), "float torch tensor"),
        (torch.zeros(1, 2, 1, W), torch.zeros(1, 2, 1, W), "H, W >= 2"),
    ],
)
def test_bad_flows_raise(fwd: object, bwd: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        consistency_figures(fwd, bwd)


def test_bad_threshold_and_empty_record_raise() -> None:
    with pytest.raises(ValueError, match="alpha"):
        ConsistencyThreshold(alpha=-1.0)
    with pytest.raises(ValueError, match="at least one pair"):
        consistency_record([])
