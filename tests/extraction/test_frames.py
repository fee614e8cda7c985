"""Frame folders as inputs (`extract --frames`), the short side that never enlarges, and I3D's
preprocessing in one switch."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowpipe.extraction.video import Resize, iter_frames
from flowpipe.storage.codec import decode_jpeg
from flowpipe.synth import write_dataset
from tests.extraction.jobs import FAST, run

CPU = ["--workers", "1", "--device", "cpu", "--batch", "4"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    root = write_dataset(
        tmp_path_factory.mktemp("synth"),
        videos_per_class=1,
        frames=8,
        size=(64, 48),
        classes=["rotate_cw", "zoom_in"],
    )
    return root / "videos"


def frame_folders(videos: Path, out: Path, pattern: str = "img_{:05d}.png") -> Path:
    """Each video decoded into a folder of lossless frames (mmaction2's rawframes layout)."""
    for video in sorted(videos.rglob("*.mp4")):
        folder = out / video.parent.name / video.stem
        folder.mkdir(parents=True)
        for k, frame in enumerate(iter_frames(video), start=1):
            cv2.imwrite(str(folder / pattern.format(k)), frame)
    return out


def test_frame_folders_give_the_flow_of_their_video(clips: Path, tmp_path: Path) -> None:
    frames = frame_folders(clips, tmp_path / "frames")
    a, b = tmp_path / "from_videos", tmp_path / "from_frames"
    assert run("extract", str(clips), "-o", str(a), *CPU, *FAST)[0] == 0
    code, stdout, err = run("extract", "--frames", str(frames), "-o", str(b), *CPU, *FAST)
    assert code == 0, err
    assert stdout.startswith("2 extracted")
    for vid in ("rotate_cw/rotate_cw_000", "zoom_in/zoom_in_000"):
        names = sorted(p.name for p in (a / vid).glob("*flow_*.jpg"))
        assert names == sorted(p.name for p in (b / vid).glob("*flow_*.jpg")) and len(names) == 28
        for name in names:
            x = decode_jpeg((a / vid / name).read_bytes()).astype(int)
            y = decode_jpeg((b / vid / name).read_bytes())
            assert np.abs(x - y).max() <= 1
    meta = json.loads((b / "zoom_in/zoom_in_000" / "meta.json").read_text())
    assert meta["frames"] == 8 and meta["source_identity"]["size"] > 0


def test_frame_folders_from_a_list_with_class_names_and_unnatural_numbering(
    clips: Path, tmp_path: Path
) -> None:
    frames = frame_folders(clips, tmp_path / "frames", pattern="frame{}.jpg")  # frame10 > frame9
    (frames / "list.txt").write_text("rotate_cw/rotate_cw_000 Spinning\nzoom_in/zoom_in_000 Zoom\n")
    out = tmp_path / "out"
    args = ["--frames", "--list", str(frames / "list.txt"), "-o", str(out)]
    code, _, err = run("extract", *args, *CPU, *FAST)
    assert code == 0, err
    assert (
        out / "videos.txt"
    ).read_text() == "rotate_cw/rotate_cw_000 7 0\nzoom_in/zoom_in_000 7 1\n"
    args = ["--frames", str(frames / "list.txt"), "-o", str(tmp_path / "x")]
    code, _, err = run("extract", *args, *CPU, *FAST)
    assert code == 2 and "no such folder" in err


def test_the_short_side_never_enlarges_and_i3d_is_one_switch(clips: Path, tmp_path: Path) -> None:
    assert Resize(short_side=256).output_size(160, 120) == (160, 120)
    assert Resize(short_side=96).output_size(160, 120) == (128, 96)
    clip = str(clips / "zoom_in" / "zoom_in_000.mp4")
    out = tmp_path / "out"
    assert run("extract", clip, "-o", str(out), "--i3d", *CPU, *FAST)[0] == 0
    meta = json.loads((out / "zoom_in_000" / "meta.json").read_text())
    assert meta["settings"]["fps"] == 25.0 and meta["settings"]["resize"]["short_side"] == 256
    assert meta["size"] == [64, 48]  # smaller than 256: kept
    args = [clip, "-o", str(tmp_path / "o2"), "--i3d", "--size", "32x24"]
    code, _, err = run("extract", *args, *CPU, *FAST)
    assert code == 2 and "--i3d" in err
