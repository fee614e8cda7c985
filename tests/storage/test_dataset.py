"""flowpipe.storage: the OUT layout (folder and zip), done markers, lists, failures, fsspec URLs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import fsspec
import numpy as np
import pytest
from fsspec.implementations.memory import MemoryFile, MemoryFileSystem
from fsspec.spec import AbstractBufferedFile

from flowpipe.storage import (
    FORMAT_VERSION,
    DatasetStore,
    backward_names,
    flow_names,
    image_name,
)
from flowpipe.storage.codec import decode_jpeg, encode_jpeg, quantize
from flowpipe.storage.dataset import STALE_TEMPORARY_SECONDS

SETTINGS = {"bound": 20.0, "quality": 95, "size": [340, 256], "tvl1": {"tau": 0.25}}


def video_files(n_flows: int = 3, backward: bool = True, seed: int = 0) -> dict[str, bytes]:
    """JPEG members of a small video: forward (and backward) flow planes."""
    rng = np.random.default_rng(seed)
    files = {}
    for k in range(1, n_flows + 1):
        names = [*flow_names(k), *(backward_names(k) if backward else ())]
        for name in names:
            files[name] = encode_jpeg(quantize(rng.normal(0, 3, (24, 32)).astype(np.float32)))
    return files


def meta_for(n_flows: int = 3, settings: dict = SETTINGS) -> dict:
    """A meta.json body."""
    return {"frames": n_flows + 1, "fps": 25.0, "num_flows": n_flows, "settings": settings}


class CrashingFiles(dict):
    """A files mapping whose iteration over items fails after `after` items (a crash)."""

    def __init__(self, files: dict[str, bytes], after: int) -> None:
        super().__init__(files)
        self.after = after

    def items(self):
        for i, item in enumerate(super().items()):
            if i == self.after:
                raise RuntimeError("simulated crash while writing")
            yield item


def listing(folder: Path) -> list[str]:
    """The folder's entries but the dataset's bookkeeping folder (.flowpipe), sorted."""
    return sorted(n for n in os.listdir(folder) if n != ".flowpipe")


def all_files(root: Path) -> dict[str, int]:
    """Relative path -> size of every file under root."""
    return {
        str(p.relative_to(root)).replace(os.sep, "/"): p.stat().st_size
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def memory_url():
    """A unique memory:// root (memory:// is process-global), removed afterwards."""
    url = f"memory://flowpipe-test-{uuid.uuid4().hex}/out"
    yield url
    fs = fsspec.filesystem("memory")
    root = url.removeprefix("memory://").split("/")[0]
    if fs.exists(f"/{root}"):
        fs.rm(f"/{root}", recursive=True)


class UploadFile(AbstractBufferedFile):
    """A file written as an object store does: uploaded in 4 KiB parts, no seeking, visible
    once closed."""

    uploaded = 0  # bytes sent in parts before the final one, by every UploadFile

    def _initiate_upload(self) -> None:
        self.parts: list[bytes] = []

    def _upload_chunk(self, final: bool = False) -> bool:
        self.parts.append(self.buffer.getvalue())
        if final:
            MemoryFile(self.fs, self.path, b"".join(self.parts)).commit()
        else:
            UploadFile.uploaded += len(self.parts[-1])
        return True


class ObjectStoreFS(MemoryFileSystem):
    """objstore://: memory:// (same store) whose files open for writing as UploadFiles."""

    protocol = ("objstore",)

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(str(path).replace("objstore://", "memory://", 1))

    def _open(self, path, mode="rb", **kwargs):
        if mode != "wb":
            return super()._open(path, mode, **kwargs)
        return UploadFile(self, self._strip_protocol(path), mode, block_size=4096)


fsspec.register_implementation("objstore", ObjectStoreFS, clobber=True)


@pytest.fixture
def objstore_url(memory_url):
    """A unique objstore:// root (files kept in memory://), removed afterwards."""
    return memory_url.replace("memory://", "objstore://", 1)


def zip_names(path: Path) -> list[str]:
    """Member names of a zip, in order."""
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_names_are_one_based_and_padded() -> None:
    assert flow_names(1) == ("flow_x_00001.jpg", "flow_y_00001.jpg")
    assert backward_names(12) == ("bflow_x_00012.jpg", "bflow_y_00012.jpg")
    assert image_name(300) == "img_00300.jpg"
    assert flow_names(123456) == ("flow_x_123456.jpg", "flow_y_123456.jpg")
    for bad in (0, -1, 1.0, True):
        with pytest.raises(ValueError, match="1-based"):
            flow_names(bad)


def test_bad_pack() -> None:
    with pytest.raises(ValueError, match="pack"):
        DatasetStore("/tmp/never-written", pack="tar")


def test_folder_layout_names(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    files = video_files(2)
    files[image_name(1)] = files["flow_x_00001.jpg"]
    store.write_video("v_one", files, meta_for(2))
    assert listing(tmp_path) == ["v_one"]
    assert sorted(os.listdir(tmp_path / "v_one")) == sorted([*files, "meta.json"])
    for name, data in files.items():
        assert (tmp_path / "v_one" / name).read_bytes() == data
    assert json.loads((tmp_path / "v_one" / "meta.json").read_text()) == meta_for(2)


def test_zip_layout_names_and_stored_members(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path), pack="zip")
    files = video_files(2)
    store.write_video("v_one", files, meta_for(2))
    assert listing(tmp_path) == ["v_one.meta.json", "v_one.zip"]
    with zipfile.ZipFile(tmp_path / "v_one.zip") as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == [*files, "meta.json"]  # meta.json last
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        assert all(zf.read(n) == d for n, d in files.items())
        sidecar = (tmp_path / "v_one.meta.json").read_bytes()
        assert zf.read("meta.json") == sidecar
    assert json.loads(sidecar) == meta_for(2)


def test_zip_bytes_are_reproducible(tmp_path: Path) -> None:
    a, b = DatasetStore(str(tmp_path / "a"), "zip"), DatasetStore(str(tmp_path / "b"), "zip")
    a.write_video("v", video_files(2), meta_for(2))
    b.write_video("v", video_files(2), meta_for(2))
    assert (tmp_path / "a" / "v.zip").read_bytes() == (tmp_path / "b" / "v.zip").read_bytes()


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_meta_presence_means_done(tmp_path: Path, pack: str) -> None:
    store = DatasetStore(str(tmp_path), pack=pack)
    assert store.read_meta("v") is None and not store.is_done("v", SETTINGS)
    store.write_video("v", video_files(1), meta_for(1))
    assert store.read_meta("v") == meta_for(1)
    assert store.is_done("v", SETTINGS)
    marker = tmp_path / ("v/meta.json" if pack == "folder" else "v.meta.json")
    marker.unlink()
    assert store.read_meta("v") is None
    assert not store.is_done("v", SETTINGS)
    assert store.list_done() == {}


def test_zip_sidecar_without_zip_is_not_done(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path), pack="zip")
    store.write_video("v", video_files(1), meta_for(1))
    (tmp_path / "v.zip").unlink()
    assert store.read_meta("v") is None
    assert store.list_done() == {}


def test_is_done_compares_settings(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    store.write_video("v", video_files(1), meta_for(1))
    assert store.is_done("v", dict(SETTINGS))
    assert store.is_done("v", {**SETTINGS, "size": (340, 256)})  # compared as JSON
    assert not store.is_done("v", {**SETTINGS, "bound": 15.0})
    assert not store.is_done("v", {**SETTINGS, "extra": 1})
    assert not store.is_done("other", SETTINGS)


def test_corrupt_meta_reads_as_not_done(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    store.write_video("v", video_files(1), meta_for(1))
    (tmp_path / "v" / "meta.json").write_text('{"frames": 2, "settin')
    assert store.read_meta("v") is None
    assert not store.is_done("v", SETTINGS)
    assert store.list_done() == {}
    (tmp_path / "v" / "meta.json").write_bytes(b"[1, 2]")
    assert store.read_meta("v") is None


def test_list_done_scans_both_layouts(tmp_path: Path) -> None:
    folder = DatasetStore(str(tmp_path))
    zipped = DatasetStore(str(tmp_path), pack="zip")
    folder.write_video("a/x", video_files(1), meta_for(1))
    zipped.write_video("a/y", video_files(2), meta_for(2))
    zipped.write_video("b", video_files(3), meta_for(3))
    with pytest.raises(RuntimeError):
        folder.write_video("c", CrashingFiles(video_files(1), after=1), meta_for(1))
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "flow_x_00001.jpg").write_bytes(b"x")
    want = {"a/x": meta_for(1), "a/y": meta_for(2), "b": meta_for(3)}
    assert folder.list_done() == want
    assert zipped.list_done() == want
    assert DatasetStore(str(tmp_path / "missing")).list_done() == {}


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_read_file_both_layouts(tmp_path: Path, pack: str) -> None:
    files = video_files(2)
    DatasetStore(str(tmp_path), pack=pack).write_video("v", files, meta_for(2))
    for reader_pack in ("folder", "zip"):  # the loader reads both layouts
        store = DatasetStore(str(tmp_path), pack=reader_pack)
        assert store.read_file("v", "flow_y_00002.jpg") == files["flow_y_00002.jpg"]
        assert json.loads(store.read_file("v", "meta.json")) == meta_for(2)
        names = ["bflow_x_00001.jpg", "flow_x_00002.jpg"]
        assert store.read_files("v", names) == [files[n] for n in names]
        assert decode_jpeg(store.read_file("v", "flow_x_00001.jpg")).shape == (24, 32)
        with pytest.raises(FileNotFoundError, match=r"'v'.*flow_x_00009\.jpg"):
            store.read_file("v", "flow_x_00009.jpg")
        with pytest.raises(FileNotFoundError, match=r"'nope'.*flow_x_00001\.jpg"):
            store.read_file("nope", "flow_x_00001.jpg")


def test_crash_before_meta_leaves_video_not_done_and_redo_succeeds(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    files = video_files(3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.write_video("v", CrashingFiles(files, after=4), meta_for(3))
    left = sorted(os.listdir(tmp_path / "v"))
    assert left == sorted(list(files)[:4])  # whole files only, no temp files, no meta.json
    assert store.read_meta("v") is None and not store.is_done("v", SETTINGS)
    assert store.list_done() == {}
    store.write_video("v", files, meta_for(3))
    assert store.is_done("v", SETTINGS)
    assert sorted(os.listdir(tmp_path / "v")) == sorted([*files, "meta.json"])


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_redo_removes_stale_meta_first(tmp_path: Path, pack: str) -> None:
    store = DatasetStore(str(tmp_path), pack=pack)
    store.write_video("v", video_files(3), meta_for(3))
    assert store.is_done("v", SETTINGS)
    new = {**SETTINGS, "bound": 15.0}
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.write_video("v", CrashingFiles(video_files(3, seed=1), after=2), meta_for(3, new))
    assert store.read_meta("v") is None  # a half-done redo never looks done
    assert not store.is_done("v", SETTINGS) and not store.is_done("v", new)
    assert not [p for p in all_files(tmp_path) if ".tmp-" in p]
    store.write_video("v", video_files(3, seed=1), meta_for(3, new))
    assert store.is_done("v", new)
    assert store.read_file("v", "flow_x_00003.jpg") == video_files(3, seed=1)["flow_x_00003.jpg"]


def test_redo_with_fewer_flows_drops_stale_members(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    store.write_video("v", video_files(3), meta_for(3))
    (tmp_path / "v" / "notes.txt").write_text("a user's file")
    store.write_video("v", video_files(2, backward=False), meta_for(2))
    assert sorted(os.listdir(tmp_path / "v")) == sorted(
        [*video_files(2, backward=False), "meta.json", "notes.txt"]
    )


def test_zip_redo_with_fewer_flows_replaces_the_zip(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path), pack="zip")
    store.write_video("v", video_files(3), meta_for(3))
    store.write_video("v", video_files(2, backward=False), meta_for(2))
    assert zip_names(tmp_path / "v.zip") == [*video_files(2, backward=False), "meta.json"]
    assert listing(tmp_path) == ["v.meta.json", "v.zip"]


def test_folder_files_appear_before_the_marker(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    files = video_files(2)
    with store.video_writer("v") as writer:
        for i, (name, data) in enumerate(files.items()):
            writer.add(name, data)
            assert sorted(os.listdir(tmp_path / "v")) == sorted(list(files)[: i + 1])
            assert (tmp_path / "v" / name).read_bytes() == data
            assert store.read_meta("v") is None and store.list_done() == {}
        writer.finish(meta_for(2))
    assert store.list_done() == {"v": meta_for(2)}


def test_zip_members_go_to_a_temporary_zip_until_finished(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path), pack="zip")
    store.write_video("v", video_files(1), meta_for(1))
    old_zip = (tmp_path / "v.zip").read_bytes()
    with store.video_writer("v") as writer:
        assert store.read_meta("v") is None  # the sidecar goes first
        for name, data in video_files(2).items():
            writer.add(name, data)
        tmp = [n for n in os.listdir(tmp_path / ".flowpipe" / "tmp") if n.startswith("v.zip.tmp-")]
        assert len(tmp) == 1 and (tmp_path / "v.zip").read_bytes() == old_zip
        writer.finish(meta_for(2))
    assert listing(tmp_path) == ["v.meta.json", "v.zip"]
    assert zip_names(tmp_path / "v.zip") == [*video_files(2), "meta.json"]


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_writer_abort_leaves_no_temp_zip_and_no_marker(tmp_path: Path, pack: str) -> None:
    store = DatasetStore(str(tmp_path), pack=pack)
    store.write_video("v", video_files(2), meta_for(2))
    with pytest.raises(RuntimeError, match="encoder died"), store.video_writer("v") as writer:
        writer.add("flow_x_00001.jpg", b"new")
        raise RuntimeError("encoder died")
    writer.abort()  # a second abort is harmless
    assert store.read_meta("v") is None and store.list_done() == {}
    assert not [p for p in all_files(tmp_path) if ".tmp-" in p]
    if pack == "zip":  # the earlier zip stays, not done without its sidecar
        assert listing(tmp_path) == ["v.zip"]
    with pytest.raises(ValueError, match="closed writer"):
        writer.add("flow_y_00001.jpg", b"late")


def test_writer_refuses_a_repeated_member(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path), pack="zip")
    with pytest.raises(ValueError, match="repeat"), store.video_writer("v") as writer:
        writer.add("flow_x_00001.jpg", b"a")
        writer.add("flow_x_00001.jpg", b"b")
    assert listing(tmp_path) == []


KILLED_WRITER = """
import sys
from flowpipe.storage import DatasetStore, flow_names
writer = DatasetStore(sys.argv[1], sys.argv[2]).video_writer("v")
for k in (1, 2):
    for name in flow_names(k):
        writer.add(name, b"new" * 1000)
print("added", flush=True)
sys.stdin.read()  # until killed
"""


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_killed_writer_leaves_video_not_done_and_rerun_redoes_it(tmp_path: Path, pack: str) -> None:
    store = DatasetStore(str(tmp_path), pack=pack)
    store.write_video("v", video_files(3), meta_for(3))
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path), pack],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline() == "added\n"
    child.kill()
    child.wait()
    assert store.read_meta("v") is None and store.list_done() == {}
    temps = [p for p in all_files(tmp_path) if ".tmp-" in p]
    if pack == "folder":  # whole new files, stale ones of the longer run, no meta.json
        assert (tmp_path / "v" / "flow_y_00002.jpg").read_bytes() == b"new" * 1000
        assert (tmp_path / "v" / "flow_x_00003.jpg").is_file() and temps == []
    else:  # the earlier zip untouched, the killed run's temporary zip left beside it
        assert store.read_file("v", "flow_x_00003.jpg") == video_files(3)["flow_x_00003.jpg"]
        assert len(temps) == 1 and temps[0].startswith(".flowpipe/tmp/v.zip.tmp-")
    fewer = video_files(2, backward=False)
    store.write_video("v", fewer, meta_for(2))
    assert store.list_done() == {"v": meta_for(2)}
    if pack == "folder":
        assert sorted(os.listdir(tmp_path / "v")) == sorted([*fewer, "meta.json"])
    else:
        assert zip_names(tmp_path / "v.zip") == [*fewer, "meta.json"]
    assert [p for p in all_files(tmp_path) if ".tmp-" in p] == temps


def test_zip_streams_into_a_write_only_remote_file(objstore_url: str) -> None:
    store = DatasetStore(objstore_url, pack="zip")
    files = video_files(6)
    before = UploadFile.uploaded
    with store.video_writer("cls/v") as writer:
        for name, data in files.items():
            writer.add(name, data)
        streamed = UploadFile.uploaded - before
        assert streamed > 0.8 * sum(map(len, files.values()))  # sent before finish, not held
        writer.finish(meta_for(6))
    assert store.list_done() == {"cls/v": meta_for(6)}
    assert store.read_files("cls/v", list(files)) == list(files.values())
    fs, root = fsspec.url_to_fs(objstore_url)
    data = fs.cat_file(f"{root}/cls/v.zip")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert all(i.flag_bits & 0x08 for i in zf.infolist())  # data descriptors: no seek
    again = DatasetStore(objstore_url + "2", pack="zip")
    again.write_video("cls/v", files, meta_for(6))
    assert fs.cat_file(f"{root}2/cls/v.zip") == data  # same video, same bytes
    with pytest.raises(RuntimeError), again.video_writer("w") as writer:
        writer.add("flow_x_00001.jpg", files["flow_x_00001.jpg"])
        raise RuntimeError("killed")
    assert not [p for p in fs.find(root + "2") if ".tmp-" in p]
    assert again.read_meta("w") is None


def test_finished_videos_are_not_rewritten(tmp_path: Path) -> None:
    for pack in ("folder", "zip"):
        root = tmp_path / pack
        store = DatasetStore(str(root), pack=pack)
        store.write_video("first", video_files(2), meta_for(2))
        before = {}
        for rel in all_files(root):
            os.utime(root / rel, ns=(1_000_000_000, 1_000_000_000))
            st = (root / rel).stat()
            before[rel] = (st.st_mtime_ns, st.st_ino)
        store.write_video("second", video_files(2, seed=3), meta_for(2))
        for rel, stamp in before.items():
            st = (root / rel).stat()
            assert (st.st_mtime_ns, st.st_ino) == stamp, rel


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_video_ids_with_folders_spaces_and_non_ascii(tmp_path: Path, pack: str) -> None:
    store = DatasetStore(str(tmp_path), pack=pack)
    ids = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01", "class A/my vidéo 1", "日本/クリップ ü"]
    for i, vid in enumerate(ids):
        store.write_video(vid, video_files(1, seed=i), meta_for(1))
    assert sorted(store.list_done()) == sorted(ids)
    for i, vid in enumerate(ids):
        assert store.is_done(vid, SETTINGS)
        data = store.read_file(vid, "flow_y_00001.jpg")
        assert data == video_files(1, seed=i)["flow_y_00001.jpg"]
    suffix = "/meta.json" if pack == "folder" else ".meta.json"
    assert (tmp_path / ("class A/my vidéo 1" + suffix)).is_file()


@pytest.mark.parametrize("bad", ["", "/abs/v", "../v", "a/../b", "a//b", "a/", "./v", "a\\b"])
def test_bad_video_ids(tmp_path: Path, bad: str) -> None:
    store = DatasetStore(str(tmp_path))
    with pytest.raises(ValueError, match="video id"):
        store.write_video(bad, video_files(1), meta_for(1))
    assert not any(tmp_path.parent.glob("v")) and listing(tmp_path) == []


def test_meta_json_is_not_a_member(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    with pytest.raises(ValueError, match="reserved"):
        store.write_video("v", {"meta.json": b"{}"}, meta_for(1))
    with pytest.raises(ValueError, match="plain file name"):
        store.write_video("v", {"sub/flow.jpg": b"x"}, meta_for(1))


def test_video_list_round_trip_with_spaces(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    assert store.read_video_list() == []
    rows = [("walk/clip 2", 40, 7), ("class A/vidéo 1", 163, 0), ("b", 5, 12)]
    store.write_video_list(rows)
    text = (tmp_path / "videos.txt").read_text(encoding="utf-8")
    assert text == "b 5 12\nclass A/vidéo 1 163 0\nwalk/clip 2 40 7\n"  # sorted, ids as-is
    assert store.read_video_list() == sorted(rows)
    # mmaction2-style readers must split from the right:
    assert [ln.rsplit(" ", 2)[0] for ln in text.splitlines()] == sorted(r[0] for r in rows)


def test_video_list_without_labels(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    rows = [("my clip", 9, None), ("z", 1, None)]
    store.write_video_list(rows)
    assert (tmp_path / "videos.txt").read_text() == "my clip 9\nz 1\n"
    assert store.read_video_list() == rows
    store.write_video_list([("clip 2", 9, None)])  # ambiguous without being told
    assert store.read_video_list(labelled=False) == [("clip 2", 9, None)]
    store.write_video_list([("c", 3, None)])
    assert store.read_video_list() == [("c", 3, None)]


def test_video_list_rewrite_and_errors(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    store.write_video_list([("a", 1, 0), ("b", 2, 1)])
    store.write_video_list([("c", 3, 2)])
    assert store.read_video_list() == [("c", 3, 2)]
    with pytest.raises(ValueError, match="all have a label"):
        store.write_video_list([("a", 1, 0), ("b", 2, None)])
    with pytest.raises(ValueError, match="num_flows"):
        store.write_video_list([("a", -1, 0)])
    with pytest.raises(ValueError, match="video id"):
        store.write_video_list([("a\nb", 1, 0)])
    assert store.read_video_list() == [("c", 3, 2)]  # failed writes leave the old list
    (tmp_path / "videos.txt").write_text("a 1 0\nbroken\n")
    with pytest.raises(ValueError, match="bad line"):
        store.read_video_list()


def test_failures_append_read_clear(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    assert store.read_failures() == []
    store.clear_failures(lambda r: True)  # no file: nothing to do
    assert not (tmp_path / "failures.jsonl").exists()
    recs = [
        {"path": "videos/a.avi", "error": "VideoError", "message": "cannot decode"},
        {"path": "videos/b é.mp4", "error": "ValueError", "message": "too short"},
        {"path": "videos/c.mp4", "error": "OSError", "message": "gone"},
    ]
    for r in recs:
        store.append_failure(r)
    lines = (tmp_path / "failures.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and [json.loads(ln) for ln in lines] == recs
    assert store.read_failures() == recs
    store.clear_failures(lambda r: r["path"] != "videos/b é.mp4")
    assert store.read_failures() == [recs[0], recs[2]]
    with open(tmp_path / "failures.jsonl", "a") as f:
        f.write('{"path": "torn')  # a crash mid-append
    assert store.read_failures() == [recs[0], recs[2]]
    store.clear_failures(lambda r: False)
    assert store.read_failures() == []


def test_manifest_round_trip(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    assert store.read_manifest() is None
    manifest = {"flowpipe_version": "0.1.0", "bound": 20.0, "quality": 95, "size": [340, 256]}
    store.write_manifest({**manifest, "format_version": 99})
    got = store.read_manifest()
    assert got == {**manifest, "format_version": FORMAT_VERSION}
    assert json.loads((tmp_path / "flowpipe.json").read_text())["format_version"] == 1
    (tmp_path / "flowpipe.json").write_text(json.dumps({"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ValueError, match="format_version"):
        store.read_manifest()
    (tmp_path / "flowpipe.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        store.read_manifest()


def test_no_temp_files_left(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path), pack="zip")
    store.write_video("a/b", video_files(2), meta_for(2))
    store.write_manifest({})
    store.write_video_list([("a/b", 2, None)])
    store.clear_failures(lambda r: True)
    assert not [p for p in all_files(tmp_path) if ".tmp-" in p]


def test_bytes_used(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    assert store.bytes_used() == 0
    store.write_video("x/v", video_files(3), meta_for(3))
    DatasetStore(str(tmp_path), "zip").write_video("w", video_files(2), meta_for(2))
    store.write_manifest({"a": 1})
    store.append_failure({"path": "p"})
    sizes = all_files(tmp_path)
    assert len(sizes) == 3 * 4 + 1 + 2 + 2
    assert store.bytes_used() == sum(sizes.values()) > 0


def test_file_url(tmp_path: Path) -> None:
    store = DatasetStore(f"file://{tmp_path}/out", pack="zip")
    store.write_video("v 1", video_files(1), meta_for(1))
    assert listing(tmp_path / "out") == ["v 1.meta.json", "v 1.zip"]
    assert DatasetStore(str(tmp_path / "out")).is_done("v 1", SETTINGS)


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_memory_url(memory_url: str, pack: str) -> None:
    store = DatasetStore(memory_url, pack=pack)
    files = video_files(2)
    store.write_video("cls/vidéo 1", files, meta_for(2))
    store.write_video("b", video_files(1), meta_for(1))
    store.write_manifest({"bound": 20.0})
    store.write_video_list([("cls/vidéo 1", 2, 3), ("b", 1, 0)])
    store.append_failure({"path": "x.avi", "error": "E", "message": "m"})
    store.append_failure({"path": "y.avi", "error": "E", "message": "m"})
    store.clear_failures(lambda r: r["path"] == "y.avi")

    again = DatasetStore(memory_url, pack=pack)
    assert again.list_done() == {"cls/vidéo 1": meta_for(2), "b": meta_for(1)}
    assert again.is_done("cls/vidéo 1", SETTINGS)
    assert again.read_file("cls/vidéo 1", "bflow_y_00002.jpg") == files["bflow_y_00002.jpg"]
    assert again.read_manifest() == {"bound": 20.0, "format_version": FORMAT_VERSION}
    assert again.read_video_list() == [("b", 1, 0), ("cls/vidéo 1", 2, 3)]
    assert again.read_failures() == [{"path": "y.avi", "error": "E", "message": "m"}]
    fs = fsspec.filesystem("memory")
    listing = fs.find(memory_url.removeprefix("memory:/"), detail=True)
    assert not [p for p in listing if ".tmp-" in p]
    assert again.bytes_used() == sum(i["size"] for i in listing.values())
    with pytest.raises(RuntimeError):
        again.write_video("b", CrashingFiles(video_files(1), after=1), meta_for(1))
    assert again.read_meta("b") is None and "b" not in again.list_done()


def test_failed_move_leaves_no_temp_file(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    (tmp_path / "v" / "flow_y_00001.jpg").mkdir(parents=True)  # the move onto it fails
    with pytest.raises(OSError):
        store.write_video("v", video_files(1), meta_for(1))
    assert sorted(os.listdir(tmp_path / "v")) == ["flow_x_00001.jpg", "flow_y_00001.jpg"]
    assert store.read_meta("v") is None


def test_stale_temporaries_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    store.write_video("a/v", video_files(1), meta_for(1))
    stale = tmp_path / ".flowpipe" / "tmp" / "v.zip.tmp-0123abcd"
    fresh = tmp_path / ".flowpipe" / "tmp" / "flow_x_00002.jpg.tmp-4567ef"
    for path in (stale, fresh):
        path.write_bytes(b"partial")
    old = time.time() - 2 * STALE_TEMPORARY_SECONDS
    os.utime(stale, (old, old))
    assert store.remove_stale_temporaries() == [".flowpipe/tmp/v.zip.tmp-0123abcd"]
    assert not stale.exists() and fresh.exists()
    assert store.list_done().keys() == {"a/v"}
