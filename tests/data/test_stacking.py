"""Simple and trajectory stacking on flows with known answers (translation, rotation, zoom)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flowpipe.data import FlowStackDataset, View
from flowpipe.data.planes import DecodedFlow
from flowpipe.data.stacking import chains_of, simple_stack
from flowpipe.storage.codec import dequantize, quantization_step
from tests.data.flowsets import (
    constant_field,
    rotation_field,
    stored,
    write_labels,
    write_video,
    zoom_field,
)

SIZE = (64, 64)
BOUND = 5.0
L = 10
FLOWS = 12
STEP = quantization_step(BOUND)


def one_video_dataset(root: Path, field: np.ndarray, video_id: str = "v") -> Path:
    """A dataset of one video whose every forward flow is `field`."""
    write_video(root, video_id, [field] * FLOWS, bound=BOUND)
    write_labels(root, [(video_id, FLOWS, 0)])
    return root


def whole_frame_stack(root: Path, stacking: str, flip: bool = False) -> torch.Tensor:
    """[L, 2, H, W] pixels: the stack at τ=1 over the whole frame, no mean subtraction."""
    ds = FlowStackDataset(
        root, L=L, stacking=stacking, mode="test", crop=SIZE[0], subtract_mean=False, test_crops=1
    )
    view = View(0, 0, SIZE[0], SIZE[1], SIZE[0], flip)
    return ds.stacks(ds.records[0], 1, [view])[0].reshape(L, 2, SIZE[1], SIZE[0])


def end_points(stack: torch.Tensor) -> np.ndarray:
    """[H, W, 2] where each pixel's trajectory ends: p_1 + the sum of its displacements."""
    ys, xs = np.mgrid[0 : SIZE[1], 0 : SIZE[0]].astype(np.float64)
    total = stack.sum(dim=0).numpy().astype(np.float64)
    return np.stack([xs + total[0], ys + total[1]], axis=-1)


def analytic_end(matrix_power: np.ndarray) -> np.ndarray:
    """[H, W, 2] c + A^L (p - c): where an affine flow's trajectories end after L steps."""
    c = np.array([(SIZE[0] - 1) / 2, (SIZE[1] - 1) / 2])
    ys, xs = np.mgrid[0 : SIZE[1], 0 : SIZE[0]].astype(np.float64)
    rel = np.stack([xs, ys], axis=-1) - c
    return rel @ matrix_power.T + c


def inner(radius: float) -> np.ndarray:
    """Mask of the pixels within `radius` of the centre (their trajectories stay inside)."""
    ys, xs = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    return np.hypot(xs - (SIZE[0] - 1) / 2, ys - (SIZE[1] - 1) / 2) < radius


def test_rotation_trajectories_are_circles(tmp_path: Path) -> None:
    angle = 0.05
    root = one_video_dataset(tmp_path, rotation_field(angle, SIZE))
    ends = end_points(whole_frame_stack(root, "trajectory"))
    c, s = np.cos(angle * L), np.sin(angle * L)
    expected = analytic_end(np.array([[c, -s], [s, c]]))
    err = np.linalg.norm(ends - expected, axis=-1)[inner(26)]
    assert err.max() < 0.5, err.max()
    # Simple stacking sums the field at the start pixel: off the circle by far more.
    simple_err = np.linalg.norm(end_points(whole_frame_stack(root, "simple")) - expected, axis=-1)
    assert simple_err[inner(26)].max() > 2.0


def test_zoom_trajectories_follow_the_zoom(tmp_path: Path) -> None:
    rate = 0.02
    root = one_video_dataset(tmp_path, zoom_field(rate, SIZE))
    ends = end_points(whole_frame_stack(root, "trajectory"))
    expected = analytic_end(np.eye(2) * (1 + rate) ** L)
    err = np.linalg.norm(ends - expected, axis=-1)[inner(24)]
    assert err.max() < 0.5, err.max()


def test_translation_trajectories_and_clamping(tmp_path: Path) -> None:
    root = one_video_dataset(tmp_path, constant_field(1.5, -0.75, SIZE))
    stack = whole_frame_stack(root, "trajectory")
    u, v = stored(constant_field(1.5, -0.75, (1, 1)), BOUND)[0, 0]
    # Every channel samples the constant field, also where trajectories leave and are clamped.
    np.testing.assert_allclose(stack[:, 0].numpy(), u, atol=1e-5)
    np.testing.assert_allclose(stack[:, 1].numpy(), v, atol=1e-5)


def test_simple_stacking_returns_the_fields(tmp_path: Path) -> None:
    field = rotation_field(0.08, SIZE)
    root = one_video_dataset(tmp_path, field)
    stack = whole_frame_stack(root, "simple").numpy()
    err = np.abs(stack - field.transpose(2, 0, 1)[None])
    assert err.mean() < STEP / 2 and err.max() <= 2 * STEP


@pytest.mark.parametrize("stacking", ["simple", "trajectory"])
def test_flip_mirrors_and_negates_x(tmp_path: Path, stacking: str) -> None:
    field = rotation_field(0.05, SIZE) + constant_field(0.7, 0.2, SIZE)
    mirrored = field[:, ::-1].copy()
    mirrored[..., 0] *= -1
    one_video_dataset(tmp_path / "a", field)
    one_video_dataset(tmp_path / "b", mirrored)
    flipped = whole_frame_stack(tmp_path / "a", stacking, flip=True)
    plain = whole_frame_stack(tmp_path / "a", stacking)
    torch.testing.assert_close(flipped[:, 0], -plain[:, 0].flip(-1))
    torch.testing.assert_close(flipped[:, 1], plain[:, 1].flip(-1))
    # The flipped stack is the stack of the mirrored motion (up to quantisation).
    of_mirror = whole_frame_stack(tmp_path / "b", stacking)
    err = (flipped - of_mirror).abs()
    assert err.mean() < STEP and err.max() < 0.5


def test_resized_view_scales_the_displacements(tmp_path: Path) -> None:
    root = one_video_dataset(tmp_path, constant_field(2.0, 1.0, SIZE))
    u, v = stored(constant_field(2.0, 1.0, (1, 1)), BOUND)[0, 0]
    view = View(8, 20, 16, 8, 32)  # 16 x 8 box -> 32 x 32: x scaled by 2, y by 4
    for stacking in ("simple", "trajectory"):
        ds = FlowStackDataset(
            root, L=2, stacking=stacking, mode="test", crop=32, subtract_mean=False, test_crops=1
        )
        stack = ds.stacks(ds.records[0], 1, [view])[0]
        np.testing.assert_allclose(stack[0::2].numpy(), 2 * u, atol=1e-4)
        np.testing.assert_allclose(stack[1::2].numpy(), 4 * v, atol=1e-4)


def test_resized_box_equals_bilinear_resize_of_the_dequantised_flow() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (3, 2, 20, 30), dtype=np.uint8)
    view = View(0, 0, 30, 20, 12)  # the whole frame, shrunk: resample, then scale the values
    out = simple_stack(DecodedFlow(codes), BOUND, view)
    pixels = torch.from_numpy(dequantize(codes, BOUND))
    expected = F.interpolate(pixels, size=(12, 12), mode="bilinear", align_corners=False)
    expected *= torch.tensor([12 / 30, 12 / 20])[None, :, None, None]
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


def test_chains_start_at_tau() -> None:
    fields = [(-2, True), (-1, True), (0, False), (1, False)]
    assert chains_of(fields) == [[2, 3], [1, 0]]
