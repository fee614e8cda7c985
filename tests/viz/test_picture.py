"""Tests of flowpipe.viz.picture: flow pictures, gray planes, arrows, .flo -> .png."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from flowpipe.io import write_flo
from flowpipe.viz import flow_picture, flow_to_colour, render_flo
from flowpipe.viz.key import flow_key
from flowpipe.viz.picture import GAP, gray_plane


def uniform(fx: float, fy: float, shape=(40, 60)) -> np.ndarray:
    """A flow field of one vector everywhere."""
    return np.broadcast_to(np.array([fx, fy], np.float32), (*shape, 2)).copy()


def test_plain_picture_is_the_colour_coding() -> None:
    rng = np.random.default_rng(0)
    flow = rng.normal(0, 2, (40, 60, 2)).astype(np.float32)
    picture = flow_picture(flow, 3.0, legend=False)
    np.testing.assert_array_equal(picture, flow_to_colour(flow, 3.0))


def test_panels_and_legend_sizes() -> None:
    picture = flow_picture(uniform(1, 0), 2.0, planes=True)
    # colour, x, y (60 px each) and the key (wheel over "max 2 px"), GAP apart.
    key = flow_key(40, 2.0)
    assert picture.shape == (40, 3 * 60 + key.shape[1] + 3 * GAP, 3)
    np.testing.assert_array_equal(picture[:, 3 * (60 + GAP) :], key)
    colour, x_plane, y_plane = (picture[:, i * (60 + GAP) : i * (60 + GAP) + 60] for i in range(3))
    assert colour[..., 0].min() == 255 and abs(int(colour[0, 0, 1]) - 128) <= 1  # half red
    assert (x_plane == 191).all() and (y_plane == 128).all()  # +1/2 of max, and 0


def test_gray_plane_levels() -> None:
    plane = gray_plane(np.array([[-4.0, 0.0, 4.0, 8.0, np.nan]]), 4.0)
    np.testing.assert_array_equal(plane[0, :, 0], [0, 128, 255, 255, 128])
    assert plane.shape == (1, 5, 3)


def test_quiver_draws_arrows_along_the_flow() -> None:
    flow = uniform(3.0, 0.0, (64, 64))
    plain = flow_picture(flow, 3.0, legend=False)
    arrows = flow_picture(flow, 3.0, quiver=16, legend=False)
    drawn = (arrows != plain).any(axis=-1)
    assert drawn.sum() > 4 * 4 * 10  # 16 arrows of >= 10 px each
    rows = np.nonzero(drawn.any(axis=1))[0]
    assert all(any(abs(r - (8 + 16 * i)) <= 4 for i in range(4)) for r in rows)  # horizontal
    # No flow, no arrows.
    still = uniform(0.0, 0.0, (64, 64))
    assert (flow_picture(still, 1.0, quiver=16, legend=False) == 255).all()


def test_unknown_flow_is_black() -> None:
    flow = uniform(1.0, 1.0)
    flow[:5, :5] = 1e10
    picture = flow_picture(flow, legend=False)
    assert (picture[:5, :5] == 0).all() and (picture[10:, 10:].max(axis=-1) > 0).all()


def test_render_flo_writes_a_png(tmp_path: Path) -> None:
    write_flo(tmp_path / "a.flo", uniform(-2.0, 0.0))
    out = render_flo(tmp_path / "a.flo", tmp_path / "sub" / "a.png", max_magnitude=2.0)
    picture = cv2.imread(str(out))[..., ::-1]
    assert picture.shape == (40, 60 + GAP + flow_key(40, 2.0).shape[1], 3)
    np.testing.assert_array_equal(picture[0, 0], flow_to_colour(uniform(-2, 0, (1, 1)), 2)[0, 0])


@pytest.mark.parametrize(
    ("output", "kwargs", "message"),
    [
        ("a.jpg", {}, ".png"),
        ("a.png", {"max_magnitude": 0.0}, "positive"),
        ("a.png", {"quiver": -1}, "quiver"),
    ],
)
def test_render_flo_bad_arguments(tmp_path: Path, output: str, kwargs: dict, message: str) -> None:
    write_flo(tmp_path / "a.flo", uniform(1.0, 0.0))
    with pytest.raises(ValueError, match=message):
        render_flo(tmp_path / "a.flo", tmp_path / output, **kwargs)
