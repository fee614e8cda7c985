"""Tests of flowpipe.viz.colour: the Middlebury wheel, saturation, dimming, robust maximum, key."""

from __future__ import annotations

import numpy as np
import pytest

from flowpipe.viz import colour_wheel, flow_to_colour, robust_max_magnitude, wheel_legend


def colour_of(fx: float, fy: float, max_magnitude: float | None = 1.0) -> np.ndarray:
    """RGB (int) of a single flow vector."""
    flow = np.array([[[fx, fy]]], np.float32)
    return flow_to_colour(flow, max_magnitude)[0, 0].astype(int)


def test_wheel_has_55_smooth_hues() -> None:
    wheel = colour_wheel()
    assert wheel.shape == (55, 3)
    assert wheel.min() >= 0.0 and wheel.max() <= 1.0
    np.testing.assert_array_equal(wheel[0], [1.0, 0.0, 0.0])
    steps = np.abs(np.diff(wheel, axis=0, append=wheel[:1]))
    assert steps.max() <= 0.25 + 1e-12
    # One channel moves at a time, and every step moves one.
    np.testing.assert_array_equal((steps > 0).sum(axis=1), np.ones(55))


def test_zero_flow_is_white() -> None:
    np.testing.assert_array_equal(colour_of(0.0, 0.0), [255, 255, 255])


def test_right_is_red() -> None:
    np.testing.assert_array_equal(colour_of(1.0, 0.0), [255, 0, 0])


@pytest.mark.parametrize(
    ("fx", "fy", "name"), [(-1.0, 0.0, "cyan"), (0.0, 1.0, "yellow"), (0.0, -1.0, "violet")]
)
def test_directions(fx: float, fy: float, name: str) -> None:
    r, g, b = colour_of(fx, fy)
    if name == "cyan":
        assert r < 30 and g > 180 and b > 180
    elif name == "yellow":
        assert r > 230 and g > 200 and b < 30
    else:
        assert b > 230 and g < 30 and 50 < r < 130


def test_magnitude_is_saturation() -> None:
    r, g, b = colour_of(0.5, 0.0)
    assert r == 255 and abs(g - 128) <= 1 and abs(b - 128) <= 1
    greens = [colour_of(m, 0.0)[1] for m in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert greens == sorted(greens, reverse=True) and len(set(greens)) == 5


def test_beyond_max_is_dimmed() -> None:
    for fx, fy in [(2.0, 0.0), (-3.0, 0.5), (0.0, -1.5)]:
        rgb = colour_of(fx, fy)
        assert rgb.max() <= 0.75 * 255 and rgb.max() > 150
    np.testing.assert_array_equal(colour_of(2.0, 0.0), [191, 0, 0])


def test_non_finite_is_black() -> None:
    flow = np.ones((2, 3, 2), np.float32)
    flow[0, 0, 0] = np.nan
    flow[1, 2, 1] = np.inf
    flow[0, 1] = -np.inf
    picture = flow_to_colour(flow)
    assert picture.shape == (2, 3, 3) and picture.dtype == np.uint8
    bad = np.zeros((2, 3), bool)
    bad[0, 0] = bad[1, 2] = bad[0, 1] = True
    assert not picture[bad].any()
    assert (picture[~bad] > 0).any(axis=-1).all()


def test_robust_max_ignores_outliers() -> None:
    rng = np.random.default_rng(0)
    flow = rng.uniform(-0.7, 0.7, (100, 100, 2))
    flow[:5, :10] = 1e6
    flow[5, :3] = np.nan
    assert 0.9 < robust_max_magnitude(flow) < 1.0
    assert robust_max_magnitude(np.zeros((4, 4, 2))) == 1e-6
    # With the default (robust) maximum the bulk of the flow is saturated, not washed out.
    picture = flow_to_colour(flow).astype(int)
    assert np.median(picture.min(axis=-1)) < 170


@pytest.mark.parametrize("shape", [(3, 4, 3), (3, 4), (2, 3, 4, 2)])
def test_bad_shape_raises(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="shape"):
        flow_to_colour(np.zeros(shape, np.float32))


@pytest.mark.parametrize("max_magnitude", [0.0, -1.0])
def test_bad_max_raises(max_magnitude: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        flow_to_colour(np.zeros((2, 2, 2)), max_magnitude)


def test_legend_is_the_coding_on_a_disc() -> None:
    legend = wheel_legend(65).astype(int)
    assert legend.shape == (65, 65, 3)
    assert legend[32, 32].min() >= 250  # centre: zero flow, white
    np.testing.assert_array_equal(legend[0, 0], [255, 255, 255])  # outside the disc
    right, left, down, up = legend[32, 63], legend[32, 1], legend[63, 32], legend[1, 32]
    assert right[0] > 230 and right[1:].max() < 40  # right: red
    assert left[0] < 40 and left[1:].min() > 180  # left: cyan
    assert down[0] > 220 and down[2] < 40  # down (image y): yellow
    assert up[2] > 220 and up[1] < 40  # up: violet
    with pytest.raises(ValueError, match="legend size"):
        wheel_legend(4)


def test_key_shows_the_magnitude_at_full_saturation() -> None:
    from flowpipe.viz.key import LABEL_HEIGHT, flow_key, magnitude_text

    assert magnitude_text(4.8321) == "max 4.83 px" and magnitude_text(20.0) == "max 20 px"
    key = flow_key(60, 4.8321)
    wheel = 60 - LABEL_HEIGHT
    assert key.shape[0] == 60 and key.shape[1] >= wheel
    left = (key.shape[1] - wheel) // 2
    np.testing.assert_array_equal(
        key[wheel // 2, left + wheel - 2], wheel_legend(wheel)[wheel // 2, -2]
    )
    label = key[wheel:]
    assert (label.min(axis=-1) < 100).sum() > 20  # dark text under the wheel
    # Another magnitude, another label; the same wheel.
    other = flow_key(60, 0.5)
    assert not np.array_equal(other[wheel:], label[:, : other.shape[1]])
    assert flow_key(8, 1.0).shape[0] == 16 + LABEL_HEIGHT  # the wheel stays >= 16 px
