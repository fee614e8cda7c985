"""Flow that other tools wrote: layout detection (rawframes 0-/1-based, two-stream), what a
RawframeStore reads, list files, the errors, and `flowpipe info --bound`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flowpipe.storage import DatasetStore, RawframeStore, open_store
from flowpipe.storage.foreign import RAWFRAMES, detect_layout
from tests.conftest import run_flowpipe
from tests.data.flowsets import constant_field, write_video
from tests.storage.foreign_copies import rawframes_copy, two_stream_copy

SIZE = (40, 32)


@pytest.fixture
def original(tmp_path: Path) -> Path:
    """A flowpipe dataset: a/one (4 flows, RGB frames), b/two (3 flows, RGB frames)."""
    root = tmp_path / "flow"
    frames = [np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)] * 5
    write_video(root, "a/one", [constant_field(k, 0, SIZE) for k in range(4)], frames=frames)
    write_video(root, "b/two", [constant_field(0, k, SIZE) for k in range(3)], frames=frames[:4])
    (root / "flowpipe.json").write_text(
        json.dumps({"format_version": 1, "settings": {"bound": 20}})
    )
    return root


@pytest.mark.parametrize(
    ("start", "name"), [(0, "rawframes (0-based)"), (1, "rawframes (1-based)")]
)
def test_rawframes_detected_with_their_first_index(
    original: Path, tmp_path: Path, start: int, name: str
) -> None:
    store = open_store(rawframes_copy(original, tmp_path / "raw", start), bound=20)
    assert isinstance(store, RawframeStore) and store.layout.description == name
    metas = store.list_done()
    assert sorted(metas) == ["a/one", "b/two"]
    assert (metas["a/one"]["flows"], metas["a/one"]["frames"], metas["a/one"]["size"]) == (
        4,
        5,
        [40, 32],
    )
    assert metas["a/one"]["settings"] == {
        "bound": 20.0,
        "backward": False,
        "rgb": True,
        "layout": name,
    }
    assert store.member_path("a/one", "flow_y_00004.jpg") == f"a/one/flow_y_{3 + start:05d}.jpg"
    assert store.member_path("b/two", "img_00001.jpg") == f"b/two/img_{start:05d}.jpg"
    ours = DatasetStore(str(original)).read_files("a/one", ["flow_x_00004.jpg", "img_00005.jpg"])
    assert store.read_files("a/one", ["flow_x_00004.jpg", "img_00005.jpg"]) == ours


def test_two_stream_layout_and_incomplete_videos(original: Path, tmp_path: Path) -> None:
    root = two_stream_copy(original, tmp_path / "tvl1")
    (root / "v" / "a" / "one" / "frame000004.jpg").unlink()  # the last flow lacks its y file
    (root / "u" / "b" / "two" / "frame000001.jpg").unlink()  # no first flow: not a video
    store = open_store(root, bound=15)
    assert store.layout.description == "two-stream (1-based)"
    assert {v: m["flows"] for v, m in store.list_done().items()} == {"a/one": 3}
    assert store.read_meta("a/one")["settings"]["rgb"] is False
    assert store.member_path("a/one", "flow_y_00002.jpg") == "v/a/one/frame000002.jpg"
    with pytest.raises(FileNotFoundError, match="a two-stream dataset has no RGB"):
        store.read_files("a/one", ["img_00001.jpg"])
    with pytest.raises(FileNotFoundError, match="has no backward flow"):
        store.read_files("a/one", ["bflow_x_00001.jpg"])


def test_list_file_names_the_videos_and_their_labels(original: Path, tmp_path: Path) -> None:
    root = rawframes_copy(original, tmp_path / "raw", 1)
    listed = tmp_path / "tsn_flow_train.txt"  # TSN: absolute frame dirs
    listed.write_text(f"{root}/b/two 3 1\n{root}/c/never 5 0\n")
    store = open_store(root, bound=20, video_list=listed)
    assert list(store.list_done()) == ["b/two"] and store.read_video_list() == [("b/two", 3, 1)]
    (root / "b" / "two" / "flow_x_00002.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"'b/two/flow_x_00002.jpg' not found"):
        store.read_files("b/two", ["flow_x_00002.jpg"])


def test_errors_say_what_was_looked_for_and_what_is_needed(original: Path, tmp_path: Path) -> None:
    (tmp_path / "junk" / "x").mkdir(parents=True)
    (tmp_path / "junk" / "x" / "frame_1.png").write_bytes(b"")
    with pytest.raises(
        ValueError,
        match=r"junk: not a flowpipe dataset .* looked for .*flow_x_00000.jpg.*u/<video>/frame",
    ):
        open_store(tmp_path / "junk", bound=20)
    raw = rawframes_copy(original, tmp_path / "raw", 0)
    with pytest.raises(
        ValueError, match=r"rawframes \(0-based\) flow without flowpipe.json .*--bound 20"
    ):
        open_store(raw)
    with pytest.raises(ValueError, match="bound must be finite and > 0"):
        open_store(raw, bound=-1)
    assert isinstance(open_store(original, bound=20), DatasetStore)
    with pytest.raises(ValueError, match="stored with bound 20, not 15"):
        open_store(original, bound=15)
    assert detect_layout(["a/flow_x_00003.jpg", "a/flow_x_00004.jpg"]) == RAWFRAMES


def test_info_reads_foreign_flow_with_its_bound(original: Path, tmp_path: Path) -> None:
    raw = rawframes_copy(original, tmp_path / "raw", 1)
    text = run_flowpipe("info", str(raw), "--bound", "20")
    assert text.returncode == 0, text.stderr
    assert "2 done, 0 failed" in text.stdout and "7 flows of 9 frames" in text.stdout
    assert "bound 20 px, rawframes (1-based) layout" in text.stdout
    summary = json.loads(run_flowpipe("info", str(raw), "--bound", "20", "--json").stdout)
    assert summary["videos"] == 2 and summary["flow_bytes"] > 0 and summary["ratio_to_float32"] > 1
    bare = run_flowpipe("info", str(raw))
    assert bare.returncode == 2 and "give the bound" in bare.stderr
    assert len(bare.stderr.strip().splitlines()) == 1
