"""Shared fixtures: the shared test data (skipped with a reason when absent)."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def checked_dataset(tmp_path_factory) -> Path:
    """A dataset whose videos carry consistency records (tests/quality/datasets.py): three
    clean clips, one with a hard cut at pair 4, one without backward flow."""
    from tests.quality.datasets import write_checked_dataset

    return write_checked_dataset(tmp_path_factory.mktemp("checked") / "flow")
