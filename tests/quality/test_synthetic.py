"""The consistency figures mean something: on TV-L1 flow of synthetic clips with known flow.

- clean motion: no inconsistent pixel away from motion boundaries and the frame border;
- a hard cut (two unrelated clips joined): the cut pair is the video's worst by far;
- Gaussian noise of rising strength: the consistency error ranks videos as the true
  end-point error does (Spearman's rho printed; docs/inspection.md records it).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from flowpipe.quality.consistency import INCONSISTENT, consistency_figures, consistency_mask
from flowpipe.synth import render_video
from tests.quality.conftest import SIZE, forward_backward, to_gray

CUT_MARGIN = 10  # the cut pair's inconsistent fraction over the next worst pair's, at least
MIN_RHO = 0.8
EDGE_STEP = 0.25  # px of ground-truth flow change between neighbours that marks a boundary


def occlusion_band(truth: np.ndarray) -> np.ndarray:
    """[H, W] bool: pixels near a motion boundary of the true flow [H, W, 2] (where pixels
    get covered or uncovered), or near the frame border; the band is as wide as the motion
    plus 3 px (TV-L1 smooths across boundaries)."""
    step_y = np.abs(np.diff(truth, axis=0, prepend=truth[:1])).sum(-1)
    step_x = np.abs(np.diff(truth, axis=1, prepend=truth[:, :1])).sum(-1)
    edges = ((step_x > EDGE_STEP) | (step_y > EDGE_STEP)).astype(np.uint8)
    margin = int(np.ceil(np.abs(truth).max())) + 3
    band = cv2.dilate(edges, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0
    band[:margin], band[-margin:], band[:, :margin], band[:, -margin:] = True, True, True, True
    return band


@pytest.mark.parametrize("motion", ["translate_right", "translate_down", "rotate_cw", "zoom_out"])
def test_clean_motion_is_consistent_away_from_occlusions(motion: str) -> None:
    clip = render_video(motion, seed=5, size=SIZE, frames=6)
    fwd, bwd = forward_backward(to_gray(clip.frames))
    figures = consistency_figures(fwd, bwd)
    assert figures.inconsistent.max() < 0.03  # all pixels, occlusions included
    mask = consistency_mask(fwd, bwd).numpy()
    for k, truth in enumerate(clip.flows):
        away = ~occlusion_band(truth)
        assert away.mean() > 0.3  # the test looks at a good part of the frame
        assert (mask[k][away] == INCONSISTENT).mean() < 0.005, f"pair {k + 1}"


def test_a_hard_cut_is_the_worst_pair_by_far() -> None:
    first = render_video("translate_right", seed=1, size=SIZE, frames=5)
    second = render_video("rotate_cw", seed=7, size=SIZE, frames=5)
    frames = np.concatenate([first.frames, second.frames])  # pair 5: frame 5 -> 6 is the cut
    fwd, bwd = forward_backward(to_gray(frames))
    figures = consistency_figures(fwd, bwd)
    inconsistent, error = figures.inconsistent.tolist(), figures.error.tolist()
    ranked = sorted(range(len(inconsistent)), key=lambda i: -inconsistent[i])
    cut, runner_up = inconsistent[ranked[0]], inconsistent[ranked[1]]
    print(f"\ncut pair: {cut:.3f} inconsistent, {error[4]:.2f} px; next worst: {runner_up:.3f}")
    assert ranked[0] == 4  # pair 5
    assert cut > 0.5 and cut > CUT_MARGIN * runner_up
    assert max(error[:4] + error[5:]) * CUT_MARGIN < error[4]


def noisy_clip_figures(motion: str, seed: int, sigma: float) -> tuple[float, float]:
    """(true mean end-point error, mean consistency error) of a clip with noise of `sigma`
    gray levels added to every frame."""
    clip = render_video(motion, seed=seed, size=SIZE, frames=4)
    gray = to_gray(clip.frames).astype(np.float32)
    rng = np.random.default_rng(seed * 1000 + int(sigma))
    noisy = np.clip(gray + rng.normal(0.0, sigma, gray.shape), 0, 255).astype(np.float32)
    fwd, bwd = forward_backward(noisy)
    epe = np.linalg.norm(fwd.permute(0, 2, 3, 1).numpy() - clip.flows, axis=-1).mean()
    return float(epe), float(consistency_figures(fwd, bwd).error.mean())


def test_consistency_error_rises_with_the_true_error() -> None:
    motions = ["translate_right", "rotate_cw", "zoom_in", "translate_up"]
    sigmas = [0.0, 4.0, 8.0, 16.0, 32.0]
    figures = [noisy_clip_figures(m, 10 + i, s) for i, m in enumerate(motions) for s in sigmas]
    true_error, fb_error = np.array(figures).T
    rho = spearmanr(true_error, fb_error).statistic
    print(f"\nSpearman rho (consistency error vs true EPE, {len(figures)} clips): {rho:.3f}")
    assert rho > MIN_RHO
    # Within each clip, more noise: more consistency error.
    for rows in np.split(fb_error, len(motions)):
        assert np.all(np.diff(rows) > 0), rows
