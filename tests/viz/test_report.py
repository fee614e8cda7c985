"""Tests of flowpipe.viz.report: per-video statistics, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from flowpipe.quality.suspects import SuspectRule
from flowpipe.storage import DatasetStore
from flowpipe.storage.codec import dequantize
from flowpipe.viz import write_report
from flowpipe.viz.report import report_data
from tests.viz.conftest import BOUND, block_codes, write_block_video

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH: `make install` installs Debian's chromium package (needs apt)",
)


def block_magnitude(saturated_blocks: int, size=(32, 24)) -> float:
    """Mean |v| of block_codes(size, saturated_blocks), from the codes."""
    qx, qy = block_codes(size, saturated_blocks)
    return float(np.hypot(dequantize(qx, BOUND), dequantize(qy, BOUND)).mean())


def test_rows_have_the_known_statistics(block_dataset: Path) -> None:
    data = report_data(str(block_dataset), samples=2)
    rows = data["rows"]
    assert len(rows) == 250 and data["summary"]["videos"] == 250
    for row in rows:
        blocks = row["label"]
        assert row["saturated_percent"] == 25.0 * blocks
        assert row["mean_magnitude"] == pytest.approx(block_magnitude(blocks), abs=1e-4)
        assert row["flows"] == 3 and row["size"] == "32x24" and row["bytes"] > 0
        assert row["thumb"].startswith("data:image/jpeg;base64,")
    assert sum(r["bytes"] for r in rows) < data["summary"]["bytes"]  # + the dataset files
    saturation = data["histograms"]["saturation"]["counts"]
    assert [i for i, c in enumerate(saturation) if c] == [0, 5, 10, 15, 19]
    assert set(saturation) == {0, 50}
    # 2 sampled flows x 32 x 24 px x 250 videos
    assert sum(data["histograms"]["magnitude"]["counts"]) == 2 * 32 * 24 * 250
    assert json.dumps(data)  # JSON-ready


def test_zip_layout_and_corrupt_videos(tmp_path: Path) -> None:
    zipped, folder = DatasetStore(str(tmp_path), pack="zip"), DatasetStore(str(tmp_path))
    write_block_video(zipped, "a", flows=4, saturated_blocks=1)
    write_block_video(zipped, "b", flows=4, saturated_blocks=2)
    write_block_video(folder, "c", flows=4, saturated_blocks=3)
    bad_zip = tmp_path / "b.zip"
    bad_zip.write_bytes(bad_zip.read_bytes().replace(b"\xff\xd9", b"\x00\x00"))  # CRC fails
    bad_jpeg = tmp_path / "c" / "flow_x_00001.jpg"
    bad_jpeg.write_bytes(bad_jpeg.read_bytes()[:-40])
    rows = {r["id"]: r for r in report_data(str(tmp_path))["rows"]}
    assert rows["a"]["saturated_percent"] == 25.0 and "thumb" in rows["a"]
    a_files = (tmp_path / "a.zip", tmp_path / "a.meta.json")
    assert rows["a"]["bytes"] == sum(p.stat().st_size for p in a_files)
    assert "corrupt zip" in rows["b"]["error"] and "thumb" not in rows["b"]
    assert "truncated JPEG" in rows["c"]["error"] and "c/flow_x_00001.jpg" in rows["c"]["error"]
    assert rows["b"]["saturated_percent"] == rows["c"]["saturated_percent"] == 0.0


def test_fsspec_url() -> None:
    store = DatasetStore("memory://viz-report-test")
    write_block_video(store, "a/b", flows=2, saturated_blocks=3)
    store.write_manifest({"settings": {"bound": BOUND}})
    (row,) = report_data("memory://viz-report-test")["rows"]
    assert row["id"] == "a/b" and row["saturated_percent"] == 75.0 and row["bytes"] > 0


def test_bad_arguments(block_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.html"):
        write_report(str(block_dataset), tmp_path / "r.txt")
    with pytest.raises(ValueError, match="samples"):
        report_data(str(block_dataset), samples=0)
    with pytest.raises(ValueError, match="not a flowpipe dataset"):
        report_data(str(tmp_path))
    DatasetStore(str(tmp_path / "empty")).write_manifest({"settings": {}})
    with pytest.raises(ValueError, match="empty dataset"):
        report_data(str(tmp_path / "empty"))


class _Rows(HTMLParser):
    """Cell texts of the <tr class="video"> rows of a page, and the body's data-status."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.status = None
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "body":
            self.status = attrs.get("data-status")
        elif tag == "tr" and attrs.get("class") == "video":
            self.rows.append([])
        elif tag == "td" and self.rows:
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None


def chromium(url: str, *flags: str) -> subprocess.CompletedProcess:
    """Headless Chromium on url with console messages logged to stderr."""
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        *flags,
        url,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def console_lines(result: subprocess.CompletedProcess) -> list[str]:
    """Messages the page wrote to its console (the report writes none unless it fails)."""
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


@needs_chromium
def test_page_renders_pages_of_rows_sorted(block_dataset: Path, tmp_path: Path) -> None:
    page = write_report(str(block_dataset), tmp_path / "report.html", samples=2)
    first = chromium(page.as_uri(), "--dump-dom")
    dom = _Rows(first.stdout)
    assert console_lines(first) == [] and dom.status == "ok"
    assert len(dom.rows) == 100 and dom.rows[0][1] == "class_0/video_000"
    assert "videos 1\u2013100 of 250" in first.stdout
    # The view in the hash: sorted by % saturated, descending, third page = the 0 % videos.
    third = chromium(page.as_uri() + "#sort=saturated_percent&desc=1&page=3", "--dump-dom")
    dom = _Rows(third.stdout)
    assert console_lines(third) == [] and dom.status == "ok"
    assert len(dom.rows) == 50 and {r[7] for r in dom.rows} == {"0.00"}
    assert all(r[1].startswith("class_0/") for r in dom.rows)
    ids = [r[1] for r in dom.rows]
    assert ids == sorted(ids)  # ties keep the id order of the data


@needs_chromium
def test_report_of_an_extraction_in_chromium(extracted: Path, tmp_path: Path) -> None:
    page = write_report(str(extracted), tmp_path / "report.html")
    shot = tmp_path / "report.png"
    result = chromium(page.as_uri(), f"--screenshot={shot}", "--window-size=1280,1600")
    assert console_lines(result) == []
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    dom = _Rows(chromium(page.as_uri(), "--dump-dom").stdout)
    assert dom.status == "ok" and len(dom.rows) == 2
    assert [r[1] for r in dom.rows] == [
        "rotate_cw/rotate_cw_000",
        "translate_right/translate_right_000",
    ]
    text = page.read_text()
    assert "broken.mp4" in text and re.search(r'"failures": 1\b', text)


def test_rows_and_section_carry_the_consistency_records(checked_dataset: Path) -> None:
    done = DatasetStore(str(checked_dataset)).list_done()
    data = report_data(str(checked_dataset), samples=2)
    rows = {r["id"]: r for r in data["rows"]}
    cut = done["cut/cut_000"]["consistency"]
    assert rows["cut/cut_000"]["inconsistent"] == cut["mean_inconsistent"]
    assert rows["cut/cut_000"]["fb_error"] == cut["mean_error"]
    assert rows["cut/cut_000"]["worst"] == cut["worst"][:3] and cut["worst"][0][0] == 4
    unchecked = rows["nobackward/nobackward_000"]
    assert unchecked["inconsistent"] is unchecked["fb_error"] is unchecked["worst"] is None
    assert all(r["thumb_scale"] > 0 for r in rows.values())
    section = data["consistency"]
    assert section["suspect_pairs"][0]["id"] == "cut/cut_000" and section["videos_checked"] == 4
    assert data["views"] is False and data["wheel"].startswith("data:image/png;base64,")
    strict = report_data(str(checked_dataset), samples=1, rule=SuspectRule(0.01, 0.5))
    assert strict["consistency"]["rule"] == {"pair_inconsistent": 0.01, "video_inconsistent": 0.5}
    assert strict["consistency"]["suspect_pairs_total"] > 1
    assert strict["consistency"]["suspect_videos_total"] == 0
