"""Tests of flowpipe.viz.clip: side-by-side clips of an extracted video, read back with OpenCV."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowpipe.storage import DatasetStore, flow_names, image_name
from flowpipe.storage.codec import decode_jpeg
from flowpipe.viz import write_clip
from flowpipe.viz.clip import BACKGROUND, CAPTION_HEIGHT, clip_frames, tile_scale
from flowpipe.viz.dataset import locate_video
from flowpipe.viz.key import draw_bar_key
from flowpipe.viz.picture import GAP

VIDEO = "translate_right/translate_right_000"
WIDTH, HEIGHT, FLOWS = 64, 48, 5


def read_back(path: Path) -> list[np.ndarray]:
    """Every frame of a video file, decoded by OpenCV (BGR)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def clip_size(tiles: int) -> tuple[int, int]:
    """(height, width) of a clip frame of `tiles` tiles of the test video."""
    zoom = tile_scale(HEIGHT)
    return HEIGHT * zoom + CAPTION_HEIGHT, tiles * WIDTH * zoom + (tiles - 1) * GAP


def test_mp4_has_every_flow_side_by_side(extracted: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    assert write_clip(extracted / VIDEO, out) == FLOWS
    frames = read_back(out)
    # RGB, colour flow, x, y, backward: five tiles of 64x48 enlarged 3x under a caption.
    assert len(frames) == FLOWS and frames[0].shape[:2] == clip_size(5) == (162, 976)
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0)


def test_gif_every_and_max_frames(extracted: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.gif"
    assert write_clip(extracted / VIDEO, out, every=2, max_frames=2) == 2
    frames = read_back(out)
    assert len(frames) == 2 and frames[0].shape[:2] == clip_size(5)
    assert write_clip(extracted / VIDEO, out, every=2) == 3  # flows 1, 3, 5


def test_frames_show_the_stored_images_and_the_motion(extracted: Path) -> None:
    video = locate_video(str(extracted / VIDEO))
    assert video.video_id == VIDEO and video.store.root == str(extracted)
    frame = next(clip_frames(video, max_magnitude=2.0))
    zoom, top = tile_scale(HEIGHT), CAPTION_HEIGHT
    tile_w = WIDTH * zoom
    rgb_tile = frame[top:, :tile_w:zoom][::zoom]
    stored = decode_jpeg(video.store.read_file(VIDEO, image_name(1)))[..., ::-1]
    np.testing.assert_array_equal(rgb_tile, stored)
    # The sprite moves right: some of the colour tile is red (hue of flow pointing right).
    colour = frame[top:, tile_w + GAP : 2 * tile_w + GAP].astype(int)
    red = (colour[..., 0] > 200) & (colour[..., 1] < 120) & (colour[..., 2] < 120)
    assert red.sum() > 50
    # The colour tiles' caption bars end with the key: the wheel and "max 2 px" beside it.
    for tile in (1, 4):  # forward, backward
        bar = frame[:top, tile * (tile_w + GAP) : tile * (tile_w + GAP) + tile_w]
        expected = np.full_like(bar, BACKGROUND)
        draw_bar_key(expected, 2.0)
        np.testing.assert_array_equal(bar[:, -80:], expected[:, -80:])


def zip_copy(extracted: Path, root: Path, source: str | None) -> Path:
    """The test video's forward flow alone, in the zip layout (no RGB, no backward flow)."""
    store = DatasetStore(str(extracted))
    meta = json.loads(store.read_file(VIDEO, "meta.json"))
    meta["settings"] = {**meta["settings"], "rgb": False, "backward": False}
    meta["source"] = source or meta["source"]
    names = [n for k in range(1, FLOWS + 1) for n in flow_names(k)]
    files = dict(zip(names, store.read_files(VIDEO, names), strict=True))
    DatasetStore(str(root), pack="zip").write_video("v", files, meta)
    return root / "v.zip"


def test_zip_layout_takes_rgb_from_the_source_video(extracted: Path, tmp_path: Path) -> None:
    zipped = zip_copy(extracted, tmp_path, None)
    video = locate_video(str(zipped))
    frame = next(clip_frames(video, max_magnitude=2.0))
    assert frame.shape[:2] == clip_size(4)  # RGB, colour, x, y
    zoom, top = tile_scale(HEIGHT), CAPTION_HEIGHT
    decoded = frame[top:, : WIDTH * zoom : zoom][::zoom].astype(int)
    stored = decode_jpeg(DatasetStore(str(extracted)).read_file(VIDEO, image_name(1)))
    assert np.abs(decoded - stored[..., ::-1]).mean() < 3  # the same frame, JPEG aside
    assert write_clip(tmp_path / "v", tmp_path / "c.mp4", max_frames=3) == 3


def test_without_rgb_or_source_the_rgb_tile_is_left_out(extracted: Path, tmp_path: Path) -> None:
    zip_copy(extracted, tmp_path, str(tmp_path / "gone.mp4"))
    out = tmp_path / "c.mp4"
    assert write_clip(tmp_path / "v", out) == FLOWS
    assert read_back(out)[0].shape[:2] == clip_size(3)


@pytest.mark.parametrize(
    ("video", "output", "kwargs", "message"),
    [
        (VIDEO, "c.avi", {}, ".mp4 or .gif"),
        (VIDEO, "c.mp4", {"every": 0}, "at least 1"),
        ("translate_right", "c.mp4", {}, "not a finished video"),
        ("nothing/here", "c.mp4", {}, "not a finished video"),
    ],
)
def test_bad_arguments(
    extracted: Path, tmp_path: Path, video: str, output: str, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_clip(extracted / video, tmp_path / output, **kwargs)
