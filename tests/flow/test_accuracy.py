"""The engine against OpenCV's DualTVL1 (the reference) and against ground truth."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from flowpipe.bench.tvl1 import opencv_tvl1
from flowpipe.flow import TVL1Params, tvl1_flow
from flowpipe.io import endpoint_error
from flowpipe.synth import MOTION_CLASSES, render_video, translation_pair
from tests.conftest import MIDDLEBURY, load_middlebury


def hwc(flow) -> np.ndarray:
    """[1, 2, H, W] tensor -> [H, W, 2] numpy."""
    return flow[0].permute(1, 2, 0).cpu().numpy()


@pytest.mark.parametrize("name", MIDDLEBURY)
def test_middlebury_matches_opencv(shared_data, name: str) -> None:
    prev, nxt, truth = load_middlebury(shared_data, name)
    params = TVL1Params()
    ours = hwc(tvl1_flow(prev, nxt, params=params))
    reference = opencv_tvl1(params, *prev.shape).calc(prev, nxt, None)
    ours_aee, ref_aee = endpoint_error(ours, truth), endpoint_error(reference, truth)
    assert ours_aee <= ref_aee + 0.02, (ours_aee, ref_aee)
    assert np.linalg.norm(ours - reference, axis=-1).mean() <= 0.15
    assert ours_aee < 0.3  # the published-quality range, not just "close to OpenCV"


def _gray_pair(motion: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    video = render_video(motion, seed=seed, size=(160, 120), frames=2)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in video.frames]
    return gray[0], gray[1], video.flows[0]


def test_synthetic_aee_within_ten_percent_of_opencv() -> None:
    pairs = [_gray_pair(m, k) for k, m in enumerate(MOTION_CLASSES)]
    prev = np.stack([p[0] for p in pairs])
    nxt = np.stack([p[1] for p in pairs])
    flows = tvl1_flow(prev, nxt).permute(0, 2, 3, 1).numpy()
    solver = opencv_tvl1(TVL1Params(), *prev.shape[1:])
    ours = np.mean([endpoint_error(f, p[2]) for f, p in zip(flows, pairs, strict=True)])
    ref = np.mean([endpoint_error(solver.calc(p[0], p[1], None), p[2]) for p in pairs])
    assert ours <= 1.10 * ref, (ours, ref)
    assert ours < 0.2


@pytest.mark.parametrize("dx, dy", [(-30, 0), (25, 20), (0, -24)])
def test_auto_pyramid_recovers_large_motion(dx: float, dy: float) -> None:
    prev, nxt, truth = translation_pair(dx, dy, size=(340, 256), seed=1)
    default = endpoint_error(hwc(tvl1_flow(prev, nxt)), truth)
    auto = endpoint_error(hwc(tvl1_flow(prev, nxt, params=TVL1Params(nscales="auto"))), truth)
    assert default > 5.0  # the 5-level pyramid cannot reach this far
    assert auto < 0.5
