"""The `flowpipe` command line, run as a real process: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowpipe.io import endpoint_error, read_flo
from flowpipe.viz import flow_to_colour, robust_max_magnitude
from flowpipe.viz.key import flow_key
from flowpipe.viz.picture import GAP

FLOWPIPE = [sys.executable, "-m", "flowpipe"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*FLOWPIPE, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and text in lines[0]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    result = run(
        "synth",
        str(root),
        "--videos-per-class",
        "1",
        "--frames",
        "3",
        "--size",
        "64x48",
        "--classes",
        "translate_right,zoom_in",
        "--png",
    )
    assert result.returncode == 0, result.stderr
    return root


def test_synth_writes_videos_flows_frames_and_labels(synth_root: Path) -> None:
    assert sorted(p.name for p in (synth_root / "videos").iterdir()) == [
        "classInd.txt",
        "labels.txt",
        "testlist01.txt",
        "trainlist01.txt",
        "translate_right",
        "zoom_in",
    ]
    labels = (synth_root / "videos" / "labels.txt").read_text().splitlines()
    assert labels == ["translate_right/translate_right_000.mp4 0", "zoom_in/zoom_in_000.mp4 1"]
    assert len(list((synth_root / "flow").rglob("*.flo"))) == 4
    assert len(list((synth_root / "frames").rglob("*.png"))) == 6


def test_flow_command_writes_flo_and_picture(synth_root: Path, tmp_path: Path) -> None:
    frames = synth_root / "frames" / "translate_right" / "translate_right_000"
    out = tmp_path / "sub" / "pair.flo"
    result = run(
        "flow",
        str(frames / "img_00001.png"),
        str(frames / "img_00002.png"),
        "-o",
        str(out),
        "--png",
        "--device",
        "cpu",
        "--nscales",
        "3",
    )
    assert result.returncode == 0, result.stderr
    flow = read_flo(out)
    truth = read_flo(
        synth_root / "flow" / "translate_right" / "translate_right_000" / "flow_00001.flo"
    )
    assert flow.shape == (48, 64, 2)
    assert endpoint_error(flow, truth) < 0.3
    picture = cv2.imread(str(out.with_suffix(".png")))[..., ::-1]
    # The colour coding, then its key: the wheel over the magnitude at full saturation.
    scale = robust_max_magnitude(flow)
    np.testing.assert_array_equal(picture[:, :64], flow_to_colour(flow, scale))
    np.testing.assert_array_equal(picture[:, 64 + GAP :], flow_key(48, scale))


@pytest.mark.parametrize(
    "args, text",
    [
        (["flow", "missing0.png", "missing1.png", "-o", "x.flo"], "no such file"),
        (["flow", "small.png", "big.png", "-o", "x.flo"], "same size"),
        (["flow", "notes.png", "big.png", "-o", "x.flo"], "not a readable image"),
        (["flow", "big.png", "big.png", "-o", "x.txt"], "must be a .flo"),
        (["flow", "big.png", "big.png", "-o", "x.flo", "--warps", "0"], "warps"),
        (["flow", "big.png", "big.png", "-o", "x.flo", "--nscales", "deep"], "--nscales"),
        (["flow", "big.png", "big.png", "-o", "x.flo", "--device", "tpu"], "device"),
        (["flow", "big.png", "big.png", "-o", "x.flo", "--preset", "fastest"], "--preset"),
        (["synth", "out", "--size", "12"], "--size"),
        (["synth", "out", "--classes", "jump"], "jump"),
        (["bogus"], "No such command"),
        (["info", "nodata"], "not a flowpipe dataset"),
        (["extract", "-o", "out"], "give at least one video"),
        (["extract", "big.png", "-o", "out", "--bound", "-1"], "--bound"),
        (["extract", "big.png", "-o", "out", "--quality", "101"], "--quality"),
        (["extract", "big.png", "-o", "out", "--list", "nolist.txt"], "no such list file"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, args: list[str], text: str) -> None:
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((20, 30), np.uint8))
    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((24, 30), np.uint8))
    (tmp_path / "notes.png").write_text("not an image")
    assert_one_line_error(run(*args, cwd=tmp_path), 2, text)
    assert not (tmp_path / "x.flo").exists() and not (tmp_path / "out").exists()


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("flow", "synth", "bench", "extract", "info"):
        assert command in result.stdout


def test_bench_tvl1_quick_prints_json() -> None:
    result = run("bench", "tvl1", "--quick")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    speed = report["flowpipe"]
    assert speed["batch_1_pairs_per_s"] > 0 and speed["batch_2_pairs_per_s"] > 0
    assert report["opencv_dualtvl1"]["pairs_per_s"] > 0
    assert report["ratio_vs_opencv"]["batch_2"] > 0
    stream = report["pool"]["stream"]  # the warm-up pool's pairs left out
    assert stream["pairs_per_s"] > 0 and stream["pairs"] == 2 * stream["capacity"]
    assert stream["threads"] == report["cpu_threads"]
    synthetic = report["accuracy"]["synthetic"]
    assert synthetic["flowpipe_aee"] < 0.2 and synthetic["opencv_aee"] < 0.2
