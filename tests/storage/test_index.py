"""The dataset index: shards merged on read (latest entry wins, removals), concurrent writers,
compaction that keeps shards written meanwhile, a rebuild equal to the meta.json files, and
`flowpipe index --check` catching claims that are not true any more."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowpipe.storage import DatasetStore
from flowpipe.storage.index import DatasetIndex, IndexWriter, compact, meta_digest, shard_paths
from flowpipe.storage.reindex import check_index, rebuild_index

SETTINGS = {"bound": 20.0, "backward": True, "rgb": False, "quality": 95}


def meta(video_id: str, flows: int = 3, label: int | None = 1, **settings) -> dict:
    return {
        "video_id": video_id,
        "flows": flows,
        "frames": flows + 1,
        "size": [8, 6],
        "settings": {**SETTINGS, **settings},
        "label": label,
        "bytes": {"flow": 100 * flows, "images": 0},
        "quantization_jpeg_epe": 0.08,
    }


def write_finished(root: Path, video_id: str, **kw) -> dict:
    """A finished video (its files and meta.json) and its index entry."""
    m = meta(video_id, **kw)
    DatasetStore(str(root)).write_video(video_id, {"flow_x_00001.jpg": b"x"}, m)
    return m


def test_latest_entry_wins_and_removals_unclaim(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    first = IndexWriter(store.files, "run-a")
    first.add(meta("a", flows=2), "folder")
    first.add(meta("b"), "folder")
    first.flush()
    second = IndexWriter(store.files, "run-b")
    second.remove(["b"])
    second.add(meta("a", flows=5, bound=5.0), "zip")
    second.flush()
    index = DatasetIndex.load(store.files)
    assert index.ids() == ["a"] and "b" not in index
    metas = index.metas()
    assert metas["a"]["flows"] == 5 and metas["a"]["settings"]["bound"] == 5.0
    assert metas["a"]["layout"] == "zip" and metas["a"]["digest"] == meta_digest(
        meta("a", 5, bound=5.0)
    )
    assert len(shard_paths(store.files)) == 3


def test_compaction_keeps_what_others_wrote_meanwhile(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    for k in range(5):
        writer = IndexWriter(store.files, f"run-{k}")
        writer.add(meta(f"v{k}"), "folder")
        writer.flush()
    before = dict(DatasetIndex.load(store.files).metas())
    new = compact(store.files, "run-c")
    assert shard_paths(store.files) == [new]
    assert dict(DatasetIndex.load(store.files).metas()) == before
    late = IndexWriter(store.files, "run-late")
    late.add(meta("v9"), "folder")
    late.flush()
    assert "v9" in DatasetIndex.load(store.files)


def test_rebuild_gives_the_dataset_the_meta_files_describe(tmp_path: Path) -> None:
    for k in range(4):
        write_finished(tmp_path, f"class{k % 2}/video{k}", label=k % 2)
    store = DatasetStore(str(tmp_path))
    assert store.index() is None and len(store.finished()) == 4  # read from meta.json
    assert rebuild_index(store) == 4
    finished = store.finished()
    truth = store.list_done()
    assert sorted(finished) == sorted(truth)
    for vid, m in truth.items():
        got = finished[vid]
        for key in ("flows", "frames", "size", "settings", "label", "bytes"):
            assert got[key] == m[key], (vid, key)
        assert got["digest"] == meta_digest(m)
    assert check_index(store).consistent


def test_check_finds_claims_that_are_not_true_any_more(tmp_path: Path) -> None:
    for k in range(3):
        write_finished(tmp_path, f"v{k}")
    store = DatasetStore(str(tmp_path))
    rebuild_index(store)
    shutil.rmtree(tmp_path / "v0")  # deleted by hand
    write_finished(tmp_path, "v1", flows=7)  # changed by hand, index not told
    write_finished(tmp_path, "v3")  # finished, not indexed
    check = check_index(store)
    assert (check.absent, check.different, check.unclaimed) == (["v0"], ["v1"], ["v3"])
    assert not check.consistent
    command = [sys.executable, "-m", "flowpipe", "index", str(tmp_path), "--check", "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 1 and json.loads(done.stdout)["absent"] == ["v0"]
    command = [sys.executable, "-m", "flowpipe", "index", str(tmp_path), "--rebuild"]
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
    assert check_index(store).consistent and len(store.finished()) == 3


def test_a_shard_that_is_not_one_is_one_clear_error(tmp_path: Path) -> None:
    write_finished(tmp_path, "v0")
    store = DatasetStore(str(tmp_path))
    rebuild_index(store)
    shard = tmp_path / shard_paths(store.files)[0]
    shard.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="flowpipe index --rebuild"):
        store.finished()
