"""Datasets for the viz tests: one real extraction (built once), and stores of known flow."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from flowpipe.storage import DatasetStore, flow_names
from flowpipe.storage.codec import encode_jpeg
from flowpipe.synth import write_dataset

FLOWPIPE = [sys.executable, "-m", "flowpipe"]
BOUND = 20.0
BLOCK = 8  # JPEG block: flat, block-aligned regions survive JPEG exactly
FLAT_X, FLAT_Y = 134, 124  # codes of about (+1.0, -0.55) px


def run_flowpipe(*args: str | Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m flowpipe ARGS` as a real process (env: extra environment variables)."""
    cmd = [*FLOWPIPE, *map(str, args)]
    environ = {**os.environ, **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=environ)


def assert_one_line_error(result: subprocess.CompletedProcess, text: str) -> None:
    """Exit code 2 and exactly one 'error: ...' line on stderr that contains text."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert text in lines[0], lines[0]


@pytest.fixture(scope="session")
def extracted(tmp_path_factory) -> Path:
    """Two 6-frame synthetic clips through `flowpipe extract --rgb`, plus one broken input."""
    root = tmp_path_factory.mktemp("viz_extracted")
    synth = write_dataset(
        root / "synth",
        videos_per_class=1,
        frames=6,
        size=(64, 48),
        classes=["translate_right", "rotate_cw"],
    )
    (synth / "videos" / "broken.mp4").write_bytes(b"this is not a video")
    dataset = root / "flow"
    # TORCHDYNAMO_DISABLE (torch's own switch) runs the engine eagerly: on 64x48 clips the
    # ~20 s torch.compile warm-up of the fused iteration costs more than it saves.
    result = run_flowpipe(
        "extract",
        synth / "videos",
        "-o",
        dataset,
        "--workers",
        "1",
        "--device",
        "cpu",
        "--rgb",
        "--preset",
        "fast",
        "--no-progress",
        env={"TORCHDYNAMO_DISABLE": "1"},
    )
    assert result.returncode == 1, result.stderr  # 1: finished, one input failed
    return dataset


def block_codes(size: tuple[int, int], saturated_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """x, y codes [H, W]: the first `saturated_blocks` 8-px columns at x = +bound (255)."""
    width, height = size
    qx = np.full((height, width), FLAT_X, np.uint8)
    qy = np.full((height, width), FLAT_Y, np.uint8)
    qx[:, : saturated_blocks * BLOCK] = 255
    return qx, qy


def write_block_video(
    store: DatasetStore, video_id: str, flows: int, saturated_blocks: int, size=(32, 24)
) -> None:
    """A finished video (no backward flow, no RGB) whose every flow is block_codes(...)."""
    qx, qy = block_codes(size, saturated_blocks)
    files = {}
    for k in range(1, flows + 1):
        name_x, name_y = flow_names(k)
        files[name_x], files[name_y] = encode_jpeg(qx), encode_jpeg(qy)
    meta = {
        "video_id": video_id,
        "source": "gone.mp4",
        "label": saturated_blocks,
        "fps": 25.0,
        "frames": flows + 1,
        "flows": flows,
        "size": list(size),
        "settings": {"bound": BOUND, "backward": False, "rgb": False},
    }
    store.write_video(video_id, files, meta)


@pytest.fixture(scope="session")
def block_dataset(tmp_path_factory) -> Path:
    """250 videos of known flow: video i has (i % 5) saturated 8-px columns out of 4 (+ none).

    Columns saturated 0..3 of 4 give 0, 25, 50, 75 % saturated pixels; i % 5 == 4 is 100 %.
    """
    root = tmp_path_factory.mktemp("viz_blocks") / "ds"
    store = DatasetStore(str(root))
    for i in range(250):
        write_block_video(store, f"class_{i % 5}/video_{i:03d}", flows=3, saturated_blocks=i % 5)
    store.write_manifest({"settings": {"bound": BOUND, "backward": False, "rgb": False}})
    return root


@contextlib.contextmanager
def serving(dataset: Path, *options: str) -> Iterator[str]:
    """`flowpipe viz serve DATASET --port 0 OPTIONS` as a real process; yields its base URL
    (from the line it prints) and stops it afterwards."""
    command = [*FLOWPIPE, "viz", "serve", str(dataset), "--port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line + process.stderr.read() if process.poll() is not None else line
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
