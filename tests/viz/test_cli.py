"""`flowpipe viz flo|video|report` run as real processes: outputs, and one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowpipe.io import write_flo
from flowpipe.storage import DatasetStore
from tests.viz.conftest import assert_one_line_error, run_flowpipe


def test_viz_flo_writes_the_picture(tmp_path: Path) -> None:
    flow = np.zeros((40, 60, 2), np.float32)
    flow[10:30, 20:40, 0] = 3.0
    write_flo(tmp_path / "a.flo", flow)
    result = run_flowpipe(
        "viz",
        "flo",
        tmp_path / "a.flo",
        "-o",
        tmp_path / "a.png",
        "--planes",
        "--quiver",
        "10",
        "--max-magnitude",
        "3",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "a.png")
    picture = cv2.imread(str(tmp_path / "a.png"))
    assert picture.shape[0] == 40 and picture.shape[1] > 3 * 60  # colour, x, y, key
    assert tuple(picture[20, 30]) != (255, 255, 255) and tuple(picture[0, 0]) == (255, 255, 255)


def test_viz_video_and_report(extracted: Path, tmp_path: Path) -> None:
    video = extracted / "rotate_cw" / "rotate_cw_000"
    result = run_flowpipe(
        "viz", "video", video, "-o", tmp_path / "c.mp4", "--every", "2", "--max-frames", "2"
    )
    assert result.returncode == 0, result.stderr
    assert "(2 frames)" in result.stdout
    cap = cv2.VideoCapture(str(tmp_path / "c.mp4"))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 2
    result = run_flowpipe("viz", "report", extracted, "-o", tmp_path / "r.html", "--samples", "2")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "r.html").read_text()
    assert "rotate_cw/rotate_cw_000" in page and "data:image/jpeg;base64," in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # self-contained


@pytest.fixture
def bad_inputs(tmp_path: Path) -> Path:
    """A plain folder, a truncated .flo, an empty dataset (manifest only)."""
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("not a dataset")
    write_flo(tmp_path / "bad.flo", np.zeros((4, 5, 2), np.float32))
    (tmp_path / "bad.flo").write_bytes((tmp_path / "bad.flo").read_bytes()[:-8])  # cut short
    DatasetStore(str(tmp_path / "empty")).write_manifest({"settings": {"bound": 20.0}})
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "plain", "-o", "r.html"), "not a flowpipe dataset"),
        (("report", "empty", "-o", "r.html"), "empty dataset"),
        (("flo", "bad.flo", "-o", "b.png"), "164 bytes, expected 172 for 5x4 flow"),
    ],
)
def test_bad_input_is_one_error_line(bad_inputs: Path, args: tuple, message: str) -> None:
    paths = [bad_inputs / a if i in (1, 3) else a for i, a in enumerate(args)]
    assert_one_line_error(run_flowpipe("viz", *paths), message)
