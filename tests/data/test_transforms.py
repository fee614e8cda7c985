"""Spatial views: the 10 test crops, TSN multi-scale crops, random crops, View.grid and scale,
and crops that do not fit the frames."""

from __future__ import annotations

import numpy as np
import pytest

from flowpipe.data import transforms
from flowpipe.data.transforms import (
    TSN_SCALES,
    View,
    centre_crop,
    multiscale_crop,
    random_crop,
    ten_crop,
    train_view,
)

WIDTH, HEIGHT = 340, 256


def test_ten_crop_corners_centre_then_mirrored() -> None:
    views = ten_crop(WIDTH, HEIGHT, 224)
    boxes = [(v.x0, v.y0) for v in views]
    corners = [(0, 0), (116, 0), (0, 32), (116, 32), (58, 16)]
    assert boxes == corners + corners
    assert [v.flip for v in views] == [False] * 5 + [True] * 5
    assert all((v.width, v.height, v.size) == (224, 224, 224) and not v.resized for v in views)
    assert (
        transforms.test_views(WIDTH, HEIGHT, 224, 1)
        == [centre_crop(WIDTH, HEIGHT, 224)]
        == [views[4]]
    )


def test_multiscale_crop_sizes_and_positions_follow_tsn() -> None:
    rng = np.random.default_rng(0)
    sides = [int(HEIGHT * s) for s in TSN_SCALES]
    assert sides == [256, 224, 192, 168]
    allowed = {(sides[i], sides[j]) for i in range(4) for j in range(4) if abs(i - j) <= 1}
    seen_sizes, flips = set(), set()
    for _ in range(600):
        v = multiscale_crop(rng, WIDTH, HEIGHT, 224)
        w, h = v.width, v.height
        corners = {
            (0, 0),
            (WIDTH - w, 0),
            (0, HEIGHT - h),
            (WIDTH - w, HEIGHT - h),
            ((WIDTH - w) // 2, (HEIGHT - h) // 2),
        }
        assert (w, h) in allowed and (v.x0, v.y0) in corners and v.size == 224
        seen_sizes.add((w, h))
        flips.add(v.flip)
    assert seen_sizes == allowed and flips == {False, True}


def test_random_crop_positions_span_the_frame() -> None:
    rng = np.random.default_rng(1)
    views = [random_crop(rng, WIDTH, HEIGHT, 224) for _ in range(500)]
    xs, ys = {v.x0 for v in views}, {v.y0 for v in views}
    assert min(xs) >= 0 and max(xs) <= WIDTH - 224 and max(ys) <= HEIGHT - 224
    assert len(xs) > 80 and len(ys) > 25
    assert 0.4 < np.mean([v.flip for v in views]) < 0.6


def test_view_grid_maps_pixel_centres_and_scale() -> None:
    plain = View(10, 20, 4, 4, 4)
    xs, ys = plain.grid()
    np.testing.assert_array_equal(xs, [10, 11, 12, 13])
    np.testing.assert_array_equal(ys, [20, 21, 22, 23])
    assert plain.scale() == (1.0, 1.0) and not plain.resized
    enlarged = View(0, 0, 2, 4, 4)  # 2 wide -> 4: half-pixel steps; 4 high: unchanged
    xs, ys = enlarged.grid()
    np.testing.assert_allclose(xs, [-0.25, 0.25, 0.75, 1.25])
    np.testing.assert_allclose(ys, [0, 1, 2, 3])
    assert enlarged.scale() == (2.0, 1.0) and enlarged.resized
    assert xs.dtype == np.float32


def test_crop_that_does_not_fit_is_a_clear_error() -> None:
    rng = np.random.default_rng(0)
    for make in (
        lambda: ten_crop(200, 150, 224),
        lambda: centre_crop(300, 200, 224),
        lambda: random_crop(rng, 224, 223, 224),
    ):
        with pytest.raises(ValueError, match=r"crop 224 does not fit frames of \d+x\d+"):
            make()
    small = multiscale_crop(rng, 200, 150, 224)  # multi-scale resizes instead
    assert small.size == 224 and small.resized


def test_bad_augment_and_test_crops() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="augment must be one of"):
        train_view(rng, WIDTH, HEIGHT, 224, "jitter")
    with pytest.raises(ValueError, match="test crops must be 1 or 10, got 5"):
        transforms.test_views(WIDTH, HEIGHT, 224, 5)
