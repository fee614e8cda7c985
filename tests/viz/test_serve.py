"""`flowpipe viz serve`: the report and per-video views served by a real process, read-only."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowpipe.storage import DatasetStore
from flowpipe.synth import render_video
from tests.quality.conftest import SIZE
from tests.quality.datasets import write_checked_video, write_source
from tests.viz.conftest import serving

CUT = "cut/cut_000"


def get(url: str, method: str = "GET") -> tuple[int, bytes]:
    """(status, body) of one request."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def report(url: str) -> bytes:
    """The served report, once built (until then `/` is a page that reloads itself)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, body = get(url)
        assert status == 200
        if b'data-status="building"' not in body:
            return body
        time.sleep(0.2)
    raise TimeoutError("the report was not built in 120 s")


def picture(uri: str) -> np.ndarray:
    """A data: URI picture decoded to RGB."""
    data = base64.b64decode(uri.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]


def test_report_views_and_pairs(checked_dataset: Path) -> None:
    meta = DatasetStore(str(checked_dataset)).read_meta(CUT)
    with serving(checked_dataset, "--samples", "2") as url:
        status, view = get(url + "view?video=cut/cut_000")  # ready while the report is built
        assert status == 200 and b'"id": "cut/cut_000"' in view
        status, body = get(url + "api/pair?video=cut/cut_000&k=4")
        assert status == 200
        pair = json.loads(body)
        page = report(url)
        assert b'"views": true' in page and b"cut/cut_000" in page
    recorded = meta["consistency"]
    assert pair["k"] == 4
    assert pair["recorded"] == {
        name: recorded[name][3] for name in ("inconsistent", "error", "out_of_frame")
    }
    # Recomputed from the stored flow (clipped, JPEG): close to what extraction recorded.
    assert pair["stored"]["inconsistent"] == pytest.approx(recorded["inconsistent"][3], abs=0.05)
    panels = {name: picture(uri) for name, uri in pair["panels"].items()}
    height, width = SIZE[1], SIZE[0]
    assert all(p.shape == (height, width, 3) for p in panels.values())
    red = (panels["mask"] == (220, 30, 30)).all(axis=-1).mean()
    assert red == pytest.approx(pair["stored"]["inconsistent"], abs=0.1)  # the cut: mostly red
    stored_rgb = DatasetStore(str(checked_dataset)).read_file(CUT, "img_00004.jpg")
    expected = cv2.imdecode(np.frombuffer(stored_rgb, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert np.abs(panels["rgb"].astype(int) - expected).mean() < 3  # re-encoded at q 90


def test_a_video_without_backward_flow_or_record(checked_dataset: Path) -> None:
    with serving(checked_dataset, "--samples", "1") as url:
        status, body = get(url + "api/pair?video=nobackward/nobackward_000&k=1")
    pair = json.loads(body)
    assert status == 200 and pair["recorded"] is None and pair["stored"] is None
    assert pair["panels"]["backward"] is None and pair["panels"]["mask"] is None
    assert pair["panels"]["rgb"] is None  # no img_ files, and its source is gone
    assert pair["panels"]["colour"].startswith("data:image/png;base64,")


def test_rgb_decoded_from_the_source_video(tmp_path: Path) -> None:
    clip = render_video("translate_down", seed=3, size=SIZE, frames=5)
    source = write_source(tmp_path / "clip.avi", clip.frames)
    store = DatasetStore(str(tmp_path / "flow"))
    write_checked_video(store, "clip", clip.frames, rgb=False, source=str(source))
    with serving(tmp_path / "flow", "--samples", "1") as url:
        # Out of order, as a slider moves: frame 3, then 1.
        third = json.loads(get(url + "api/pair?video=clip&k=3")[1])
        first = json.loads(get(url + "api/pair?video=clip&k=1")[1])
    for pair, k in ((third, 3), (first, 1)):
        rgb = picture(pair["panels"]["rgb"]).astype(int)
        assert np.abs(rgb - clip.frames[k - 1]).mean() < 6  # MJPG source, JPEG panel
    assert np.abs(picture(third["panels"]["rgb"]).astype(int) - clip.frames[0]).mean() > 6


def test_read_only_and_errors(checked_dataset: Path) -> None:
    before = sorted(p.name for p in checked_dataset.rglob("*"))
    with serving(checked_dataset, "--samples", "1") as url:
        assert url.startswith("http://127.0.0.1:")
        assert get(url, "POST")[0] == 405 and get(url, "PUT")[0] == 405
        assert get(url, "DELETE")[0] == 405
        assert get(url, "HEAD")[0] == 200  # the report, or the page saying it is being built
        assert get(url + "view?video=../etc/passwd")[0] == 404
        assert get(url + "view")[0] == 404
        assert get(url + "nothing")[0] == 404
        assert get(url + "api/pair?video=cut/cut_000&k=99")[0] == 400
        assert get(url + "api/pair?video=cut/cut_000&k=one")[0] == 400
        assert get(url + "favicon.ico")[0] == 204
        report(url)
    assert sorted(p.name for p in checked_dataset.rglob("*")) == before


def test_not_a_dataset_is_one_error_line(tmp_path: Path) -> None:
    from tests.viz.conftest import assert_one_line_error, run_flowpipe

    (tmp_path / "plain").mkdir()
    assert_one_line_error(
        run_flowpipe("viz", "serve", tmp_path / "plain"), "not a flowpipe dataset"
    )
    DatasetStore(str(tmp_path / "empty")).write_manifest({"settings": {}})
    assert_one_line_error(run_flowpipe("viz", "serve", tmp_path / "empty"), "empty dataset")
    result = run_flowpipe("viz", "serve", tmp_path, "--port", "70000")
    assert_one_line_error(result, "--port")
