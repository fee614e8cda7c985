"""Shared fixtures: the shared test data (skipped with a reason when absent)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowpipe.io import read_flo

DATA = Path(os.environ.get("FLOWPIPE_DATA", Path(__file__).resolve().parents[1] / "../shared/data"))
MIDDLEBURY = ("Dimetrodon", "RubberWhale", "Grove2")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (or $FLOWPIPE_DATA)."""
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA} (set FLOWPIPE_DATA)")
    return DATA.resolve()


def load_middlebury(root: Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame10 gray, frame11 gray, ground-truth flow) of one Middlebury sequence."""
    folder = root / "middlebury" / name
    prev = cv2.imread(str(folder / "frame10.png"), cv2.IMREAD_GRAYSCALE)
    nxt = cv2.imread(str(folder / "frame11.png"), cv2.IMREAD_GRAYSCALE)
    return prev, nxt, read_flo(folder / "flow10.flo")


def run_flowpipe(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m flowpipe ARGS` in a child process (one OpenMP thread), output captured."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "flowpipe", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def cli_extracted(tmp_path_factory) -> tuple[Path, Path]:
    """(synth folder, dataset): `flowpipe synth` (2 classes x 3 videos of 8 frames, 64x48, a
    UCF-101-style split: classInd.txt, trainlist01.txt, testlist01.txt) then `flowpipe
    extract --rgb` through the CLI (one CPU worker, fast TV-L1)."""
    work = tmp_path_factory.mktemp("cli_extracted")
    synth, out = work / "synth", work / "flow"
    made = run_flowpipe(
        "synth",
        str(synth),
        "--videos-per-class",
        "3",
        "--frames",
        "8",
        "--size",
        "64x48",
        "--classes",
        "translate_right,rotate_cw",
    )
    assert made.returncode == 0, made.stderr
    done = run_flowpipe(
        "extract",
        str(synth / "videos"),
        "-o",
        str(out),
        "--rgb",
        "--workers",
        "1",
        "--device",
        "cpu",
        "--preset",
        "fast",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    return synth, out


@pytest.fixture(scope="session")
def checked_dataset(tmp_path_factory) -> Path:
    """A dataset whose videos carry consistency records (tests/quality/datasets.py): three
    clean clips, one with a hard cut at pair 4, one without backward flow."""
    from tests.quality.datasets import write_checked_dataset

    return write_checked_dataset(tmp_path_factory.mktemp("checked") / "flow")
