"""`flowpipe extract` on real Dask processes: an external scheduler with two workers on
loopback (one SIGKILLed mid-job), the embedded LocalCluster, a client killed and re-run, and
bad inputs mixed with good ones."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flowpipe.storage import DatasetStore
from flowpipe.storage.codec import decode_jpeg
from flowpipe.storage.reindex import check_index
from flowpipe.synth import write_dataset
from tests.extraction.jobs import FAST, dask_cluster, finish, flowpipe, wait_for


def assert_complete(root: Path, video_id: str, flows: int) -> None:
    """Every flow file of a finished video exists and decodes."""
    folder = root / video_id
    for prefix in ("flow_x", "flow_y", "bflow_x", "bflow_y"):
        for k in range(1, flows + 1):
            assert decode_jpeg((folder / f"{prefix}_{k:05d}.jpg").read_bytes()).ndim == 2


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = write_dataset(
        tmp_path_factory.mktemp("synth"), videos_per_class=1, frames=10, size=(96, 72), seed=1
    )
    return root / "videos"


@pytest.fixture()
def scheduler(tmp_path: Path):
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1."""
    with dask_cluster(tmp_path) as cluster:
        yield cluster


def test_external_cluster_survives_a_killed_worker(videos: Path, scheduler, tmp_path) -> None:
    file, workers = scheduler
    out = tmp_path / "out"
    proc = flowpipe(
        "extract",
        str(videos),
        "-o",
        str(out),
        "--scheduler-file",
        str(file),
        "--device",
        "cpu",
        *FAST,
    )
    wait_for(lambda: any(out.rglob("meta.json")), what="a first finished video")
    workers[0].send_signal(signal.SIGKILL)
    code, stdout, stderr = finish(proc)
    assert code == 0, stderr
    done = DatasetStore(str(out)).list_done()
    assert len(done) == 8
    for video_id, meta in done.items():
        assert meta["flows"] == 9
        assert_complete(out, video_id, 9)
    assert len((out / "videos.txt").read_text().splitlines()) == 8


def test_gpu_job_on_a_cluster_without_gpu_workers_is_refused(
    videos: Path, scheduler, tmp_path: Path
) -> None:
    file, _ = scheduler
    out = tmp_path / "out"
    code, _, stderr = finish(
        flowpipe(
            "extract",
            str(videos),
            "-o",
            str(out),
            "--scheduler-file",
            str(file),
            "--device",
            "cuda",
            *FAST,
        )
    )
    assert code == 2
    assert "no worker of the cluster declares a GPU resource" in stderr
    assert "Traceback" not in stderr
    assert not list(out.rglob("meta.json"))


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_local_gpu_job_without_cuda_is_refused(videos: Path, tmp_path: Path) -> None:
    code, _, stderr = finish(
        flowpipe("extract", str(videos), "-o", str(tmp_path / "out"), "--device", "cuda", *FAST)
    )
    assert code == 2
    assert "CUDA is not available" in stderr and len(stderr.strip().splitlines()) == 1


def test_killed_client_rerun_redoes_only_unfinished(videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = flowpipe(
        "extract",
        str(videos),
        "-o",
        str(out),
        "--workers",
        "1",
        "--device",
        "cpu",
        *FAST,
        start_new_session=True,
    )
    wait_for(lambda: len(list(out.rglob("meta.json"))) >= 2, timeout=300, what="two videos")
    os.killpg(proc.pid, signal.SIGKILL)  # the client and its local cluster, mid-job
    proc.wait()
    first = DatasetStore(str(out)).list_done()
    assert 2 <= len(first) < 8
    for video_id, meta in first.items():  # nothing partial is listed as done
        assert_complete(out, video_id, meta["flows"])
    check = check_index(DatasetStore(str(out)))  # the index claims only finished videos
    assert check.consistent and check.claimed + len(check.unclaimed) == len(first)
    stamps = {p: p.stat().st_mtime_ns for v in first for p in (out / v).iterdir()}
    code, stdout, stderr = finish(
        flowpipe("extract", str(videos), "-o", str(out), "--workers", "1", "--device", "cpu", *FAST)
    )
    assert code == 0, stderr
    assert f"{8 - len(first)} extracted, {len(first)} already done, 0 failed" in stdout
    assert all(p.stat().st_mtime_ns == stamp for p, stamp in stamps.items())
    assert len(DatasetStore(str(out)).list_done()) == 8
    check = check_index(DatasetStore(str(out)))  # the killed run's videos are claimed now
    assert check.consistent and check.claimed == 8 and not check.unclaimed


def test_bad_inputs_fail_alone_and_exit_1(videos: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = sorted(videos.rglob("*.mp4"))
    shutil.copy(good[0], inputs / "clip één.mp4")  # spaces and non-ASCII letters
    data = good[1].read_bytes()
    (inputs / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (inputs / "empty.mp4").write_bytes(b"")
    (inputs / "notes.mp4").write_text("not a video")
    out = tmp_path / "out"
    (tmp_path / "list.txt").write_text(
        "# a list file's entries are not checked up front\nmissing.avi\n"
    )
    code, stdout, stderr = finish(
        flowpipe(
            "extract",
            str(inputs),
            "--list",
            str(tmp_path / "list.txt"),
            "-o",
            str(out),
            "--workers",
            "1",
            "--device",
            "cpu",
            *FAST,
        )
    )
    assert code == 1, stderr
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    failed = {Path(f["path"]).name for f in failures}
    assert {"empty.mp4", "notes.mp4", "missing.avi"} <= failed
    assert "clip één.mp4" not in failed
    assert "Traceback" not in stderr
    for name in failed:
        assert sum(name in line for line in stderr.splitlines()) == 1  # one line on screen each
    done = DatasetStore(str(out)).list_done()
    assert "clip één" in done
    assert_complete(out, "clip één", done["clip één"]["flows"])
    command = [sys.executable, "-m", "flowpipe", "info", "--json", str(out)]
    info = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    assert info["videos"] == len(done) and info["failures"] == len(failures)
    assert info["ratio_to_float32"] > 10 and 0 < info["quantization_jpeg_epe_px"] < 0.16


def test_duplicate_video_ids_are_refused_before_starting(videos: Path, tmp_path: Path) -> None:
    clip = sorted(videos.rglob("*.mp4"))[0]
    (tmp_path / "a").mkdir()
    shutil.copy(clip, tmp_path / "a" / "same.mp4")
    shutil.copy(clip, tmp_path / "same.avi")
    code, stdout, stderr = finish(
        flowpipe(
            "extract",
            str(tmp_path / "a" / "same.mp4"),
            str(tmp_path / "same.avi"),
            "-o",
            str(tmp_path / "out"),
            *FAST,
        )
    )
    assert code == 2 and "two inputs map to video id 'same'" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_log_gets_plain_progress_lines_with_totals(videos: Path, tmp_path: Path) -> None:
    """stderr not a terminal (a SLURM log): plain lines, no escape codes, frames counted as the
    workers report them, the total from the headers, and a last line when all are done."""
    clips = sorted(videos.rglob("*.mp4"))[:2]
    env = {**os.environ, "FLOWPIPE_JOB_PROGRESS_SECONDS": "0.05"}
    args = ["extract", *map(str, clips), "-o", str(tmp_path / "out"), "--workers", "1"]
    code, stdout, stderr = finish(flowpipe(*args, "--device", "cpu", "--batch", "4", env=env))
    assert code == 0, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("progress: ")]
    assert "\x1b" not in stderr and "\r" not in stderr
    assert len(lines) >= 3
    assert lines[-1].startswith("progress: 2/2 videos, 20 frames,") and "0 failed" in lines[-1]
    frames = [int(ln.split(", ")[1].split()[0]) for ln in lines]
    assert frames == sorted(frames) and 0 < frames[1] < 20  # counted as chunks finish
    assert any("ETA 0:" in ln for ln in lines[1:-1])


def test_chunk_size_defaults_per_device_and_yields_to_the_users() -> None:
    from flowpipe.extraction.cluster import ClusterOptions
    from flowpipe.extraction.settings import JobTuning

    tuning = JobTuning()
    assert ClusterOptions(device="cpu").chunk_pairs(tuning) == tuning.chunk_pairs_cpu == 16
    assert ClusterOptions(device="cuda").chunk_pairs(tuning) == tuning.chunk_pairs_gpu == 64
    assert ClusterOptions(device="cuda:0", batch=8).chunk_pairs(tuning) == 8
