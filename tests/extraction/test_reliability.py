"""A run that exits 0 has done what it says: one writer per video across concurrent runs,
paths that mean the same on every worker, a foreign or mixed OUT refused, replaced sources
redone, and every mistake caught before a cluster starts. Real processes and files."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from flowpipe.storage import DatasetStore
from flowpipe.storage.codec import decode_jpeg
from flowpipe.storage.reindex import check_index
from flowpipe.synth import write_dataset
from tests.extraction.jobs import FAST, dask_cluster, finish, flowpipe, run, tree, wait_for

CPU = ["--workers", "1", "--device", "cpu", "--batch", "4"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    classes = ["rotate_cw", "zoom_in", "translate_left", "translate_up"]
    root = write_dataset(
        tmp_path_factory.mktemp("synth"),
        videos_per_class=1,
        frames=9,
        size=(64, 48),
        classes=classes,
        seed=3,
    )
    return root / "videos"


@pytest.fixture(scope="module")
def references(videos: Path, tmp_path_factory) -> dict[float, Path]:
    """The videos extracted alone with bound 20 and with bound 5."""
    out = {}
    for bound in (20.0, 5.0):
        root = tmp_path_factory.mktemp(f"ref{bound:g}")
        code, _, err = run(
            "extract", str(videos), "-o", str(root), "--bound", str(bound), *CPU, *FAST
        )
        assert code == 0, err
        out[bound] = root
    return out


def codes(root: Path, video_id: str) -> dict[str, np.ndarray]:
    return {p.name: decode_jpeg(p.read_bytes()) for p in sorted((root / video_id).glob("*.jpg"))}


def assert_one_writer(out: Path, references: dict[float, Path]) -> None:
    """Every finished video's files are those its own meta.json's settings give (one run), and
    the index claims no video whose meta.json is absent or different."""
    done = DatasetStore(str(out)).list_done()
    assert done
    assert check_index(DatasetStore(str(out))).consistent
    for vid, meta in done.items():
        expected = codes(references[meta["settings"]["bound"]], vid)
        got = codes(out, vid)
        assert got.keys() == expected.keys(), vid
        for name in got:
            diff = np.abs(got[name].astype(int) - expected[name])
            assert diff.max() <= 2 and diff.mean() < 0.05, (vid, name)


def test_concurrent_runs_with_other_settings_are_refused_or_keep_one_writer_per_video(
    videos: Path, references: dict[float, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = flowpipe("extract", str(videos), "-o", str(out), *CPU, *FAST)
    wait_for(lambda: (out / "flowpipe.json").exists(), what="the first run's manifest")
    code, _, err = run("extract", str(videos), "-o", str(out), "--bound", "5", *CPU, *FAST)
    assert code == 2 and err.startswith("error: ") and "bound 20.0 -> 5.0" in err
    assert len(err.strip().splitlines()) == 1
    second = flowpipe(
        "extract", str(videos), "-o", str(out), "--bound", "5", "--overwrite", *CPU, *FAST
    )
    results = [finish(first), finish(second)]
    assert all(code in (0, 1) for code, _, _ in results), results
    assert_one_writer(out, references)
    listed = (out / "videos.txt").read_text().split()
    assert len((out / "videos.txt").read_text().splitlines()) == 4 and listed


def test_concurrent_runs_with_equal_settings_compute_each_video_once(
    videos: Path, references: dict[float, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    procs = [flowpipe("extract", str(videos), "-o", str(out), *CPU, *FAST) for _ in range(2)]
    results = [finish(p) for p in procs]
    extracted = [int(stdout.split()[0]) for _, stdout, _ in results]
    assert sum(extracted) == 4, results  # each video computed by one of them
    for code, stdout, err in results:
        assert code in (0, 1) and "Traceback" not in err
        if code == 1:
            assert "being written by another run" in stdout
    code, stdout, _ = run("extract", str(videos), "-o", str(out), *CPU, *FAST)
    assert code == 0 and stdout.startswith("0 extracted, 4 already done")
    assert_one_writer(out, references)


def test_relative_paths_mean_the_client_folder_on_a_cluster_started_elsewhere(
    videos: Path, tmp_path: Path
) -> None:
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    shutil.copytree(videos, here / "videos")
    with dask_cluster(tmp_path, workers=1, cwd=elsewhere) as (file, _):
        args = ["extract", "videos", "-o", "out", "--scheduler-file", str(file), "--device", "cpu"]
        code, stdout, err = finish(flowpipe(*args, *FAST, cwd=here))
    assert code == 0, err
    assert stdout.startswith("4 extracted")
    assert len(DatasetStore(str(here / "out")).list_done()) == 4
    assert not (elsewhere / "out").exists()


def test_workers_writing_where_the_client_cannot_see_is_an_error(videos: Path) -> None:
    """memory:// is each process's own: the workers' videos are not in the client's OUT."""
    clip = str(sorted(videos.rglob("*.mp4"))[0])
    code, _, err = run("extract", clip, "-o", "memory://flowpipe-unseen/out", *CPU, *FAST)
    assert code == 2 and "does not see them" in err and "Traceback" not in err


def mmaction_tree(root: Path) -> None:
    """Another tool's rawframes: class/video/img_ and flow_x_ files, its own videos.txt."""
    for k in range(1, 4):
        folder = root / "rotate_cw" / "rotate_cw_000"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"img_{k:05d}.jpg").write_bytes(b"their image")
        (folder / f"flow_x_{k:05d}.jpg").write_bytes(b"their flow")
    (root / "notes.txt").write_text("their notes\n")


def test_a_foreign_out_is_refused_and_left_untouched(videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "rawframes"
    mmaction_tree(out)
    (out / "videos.txt").write_text("rotate_cw/rotate_cw_000 3 0\n")
    before = tree(out)
    code, _, err = run("extract", str(videos), "-o", str(out), *CPU, *FAST)
    assert code == 2 and "not a flowpipe dataset" in err and len(err.splitlines()) == 1
    code, _, err = run("extract", str(videos), "-o", str(out), "--force", *CPU, *FAST)
    assert code == 2 and "videos.txt" in err  # theirs would be overwritten: refused
    assert tree(out) == before


def test_force_writes_beside_foreign_files_and_keeps_them(videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "rawframes"
    mmaction_tree(out)
    clip = videos / "rotate_cw" / "rotate_cw_000.mp4"
    code, _, err = run("extract", str(videos), "-o", str(out), "--force", *CPU, *FAST)
    assert code == 0, err
    folder = out / "rotate_cw" / "rotate_cw_000"
    assert (folder / "img_00002.jpg").read_bytes() == b"their image"
    assert (out / "notes.txt").read_text() == "their notes\n"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["flows"] == 8 and clip.exists()
    again = out / "again"
    assert not again.exists()


def test_a_replaced_source_is_redone_and_a_touched_one_is_not(videos: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    shutil.copytree(videos / "rotate_cw", src)
    out = tmp_path / "out"
    assert run("extract", str(src), "-o", str(out), *CPU, *FAST)[0] == 0
    longer = write_dataset(
        tmp_path / "long", videos_per_class=1, frames=14, size=(64, 48), classes=["zoom_in"]
    )
    os.utime(src / "rotate_cw_000.mp4")  # same bytes, new time: not redone
    code, stdout, _ = run("extract", str(src), "-o", str(out), *CPU, *FAST)
    assert code == 0 and stdout.startswith("0 extracted, 1 already done")
    shutil.copy(longer / "videos" / "zoom_in" / "zoom_in_000.mp4", src / "rotate_cw_000.mp4")
    code, stdout, err = run("extract", str(src), "-o", str(out), *CPU, *FAST)
    assert code == 0 and stdout.startswith("1 extracted") and "changed since extracted" in err
    assert DatasetStore(str(out)).read_meta("rotate_cw_000")["flows"] == 13


def test_other_settings_are_refused_unless_overwrite_which_says_mixed(
    videos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert run("extract", str(videos), "-o", str(out), *CPU, *FAST)[0] == 0
    subset = videos / "subset.txt"  # ids relative to the list's folder, as the first run's
    subset.write_text("rotate_cw/rotate_cw_000.mp4\n")
    code, _, err = run(
        "extract", "--list", str(subset), "-o", str(out), "--bound", "5", *CPU, *FAST
    )
    assert code == 2 and "--overwrite" in err
    again = ["--bound", "5", "--overwrite", *CPU, *FAST]
    code, _, err = run("extract", "--list", str(subset), "-o", str(out), *again)
    assert code == 0, err
    manifest = json.loads((out / "flowpipe.json").read_text())
    sets = manifest["mixed_settings"]
    assert [(s["settings"]["bound"], s["videos"]) for s in sets] == [(20.0, 3), (5.0, 1)]
    assert manifest["settings"]["bound"] == 5.0  # the last run's, beside the sets
    code, text, _ = run("info", str(out))
    assert code == 0 and "MIXED, 2 sets: bound 20 px" in text and "scales (1 video, e.g." in text
    from flowpipe.data import FlowClipDataset

    clips = FlowClipDataset(str(out), T=4, crop=32, mode="test")
    bounds = {r.video_id: r.bound for r in clips.records}
    assert bounds["rotate_cw/rotate_cw_000"] == 5.0  # each video decoded with its own bound
    assert bounds["zoom_in/zoom_in_000"] == 20.0


def test_ids_and_labels_are_checked_before_any_work(videos: Path, tmp_path: Path) -> None:
    clip = sorted(videos.rglob("*.mp4"))[0]
    spaced = tmp_path / "in" / "clip .mp4"
    spaced.parent.mkdir()
    shutil.copy(clip, spaced)
    out = tmp_path / "out"
    code, _, err = run("extract", str(spaced.parent), "-o", str(out), *CPU, *FAST)
    assert code == 2 and "'clip '" in err and "spaces" in err
    assert not out.exists() or not any(out.rglob("*.jpg"))
    labelled = tmp_path / "labelled.txt"
    labelled.write_text(f"{clip} 3\n")
    assert run("extract", "--list", str(labelled), "-o", str(out), *CPU, *FAST)[0] == 0
    other = sorted(videos.rglob("*.mp4"))[1]
    start = time.monotonic()
    code, _, err = run("extract", str(other), "-o", str(out), *CPU, *FAST)
    assert code == 2 and "has none" in err, err
    assert other.stem in err and time.monotonic() - start < 20
    assert "starting" not in err  # refused before a cluster started
    assert (out / "videos.txt").read_text().split() == [clip.stem, "8", "3"]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["{missing}"], "no such file or folder"),
        (["{empty}"], "no videos found in"),
        (["{clip}", "--bound", "inf"], "bound must be a finite number"),
        (["{clip}", "--size", "100000x100000"], "at most 8192 px"),
        (["{clip}", "-o", "{file}"], "OUT is a file"),
        (["{clip}", "-o", "{readonly}"], "cannot write there"),
    ],
)
def test_mistakes_are_one_line_before_a_cluster_starts(
    videos: Path, tmp_path: Path, args: list[str], text: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no video here")
    (tmp_path / "afile").write_text("x")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.access(readonly, os.W_OK):  # root writes anywhere: sysfs refuses even root
        readonly = Path("/sys/flowpipe-test")
    names = {
        "missing": str(tmp_path / "missing.mp4"),
        "empty": str(tmp_path / "empty"),
        "clip": str(sorted(videos.rglob("*.mp4"))[0]),
        "file": str(tmp_path / "afile"),
        "readonly": str(readonly / "out"),
    }
    args = [a.format(**names) for a in args]
    out = [] if "-o" in args else ["-o", str(tmp_path / "out")]
    start = time.monotonic()
    code, stdout, err = run("extract", *args, *out, *CPU, *FAST)
    assert code == 2 and err.startswith("error: ") and text in err, err
    assert len(err.strip().splitlines()) == 1 and "starting" not in err
    assert time.monotonic() - start < 20


def test_info_counts_flow_alone_against_float32_and_meta_has_the_wall_time(
    videos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    clip = str(videos / "zoom_in" / "zoom_in_000.mp4")
    assert run("extract", clip, "-o", str(out), "--rgb", *CPU, *FAST)[0] == 0
    code, text, _ = run("info", "--json", str(out))
    info = json.loads(text)
    images = sum(p.stat().st_size for p in out.rglob("img_*.jpg"))
    assert images > 0 and info["flow_bytes"] < info["bytes"] - images + 1
    assert info["ratio_to_float32"] == pytest.approx(info["float32_bytes"] / info["flow_bytes"])
    meta = json.loads((out / "zoom_in_000" / "meta.json").read_text())
    assert meta["timings"]["wall"] > 0 and meta["bytes"]["images"] == images
    code, text, _ = run("info", str(out))
    assert code == 0 and "smaller than float32 flow" in text and not text.startswith("{")
