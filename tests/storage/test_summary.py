"""`flowpipe info` on datasets with and without consistency records (real processes)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from flowpipe.storage import DatasetStore
from flowpipe.storage.summary import dataset_summary, summary_text


def info(*args: str | Path) -> subprocess.CompletedProcess:
    """`python -m flowpipe info ARGS` as a real process."""
    command = [sys.executable, "-m", "flowpipe", "info", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_info_lists_the_cut_pair_with_the_threshold(checked_dataset: Path) -> None:
    result = info(checked_dataset)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    (line,) = [ln for ln in lines if ln.strip().startswith("consistency")]
    assert "alpha 0.01, beta 0.5" in line and "mean of 4 videos" in line
    assert "1 videos unchecked" in line
    assert "1 pairs over 20.0 % inconsistent, 1 videos over 5.0 % on average" in result.stdout
    (pair,) = [ln for ln in lines if ln.strip().startswith("pair ")]
    assert "cut/cut_000 flow 4:" in pair


def test_info_videos_sorted_and_rule_options(checked_dataset: Path) -> None:
    result = info(checked_dataset, "--per-video", "inconsistent", "--suspect-pair", "0.01")
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("inconsistent  error px")[1].splitlines()[1:]
    ids = [row.split()[-1] for row in table]
    assert ids[0] == "cut/cut_000" and ids[-1] == "nobackward/nobackward_000"
    assert "4: " in table[0]  # the worst pair leads the cut video's worst pairs
    # A 1 % rule also lists the translation's occlusion pairs.
    assert "over 1.0 % inconsistent" in result.stdout
    data = json.loads(info(checked_dataset, "--json", "--per-video", "id").stdout)
    assert [r["id"] for r in data["video_rows"]] == sorted(r["id"] for r in data["video_rows"])
    assert data["consistency"]["suspect_pairs"][0]["k"] == 4
    bad = info(checked_dataset, "--suspect-video", "-0.1")
    assert (
        bad.returncode == 2 and bad.stderr.startswith("error: ") and "--suspect-video" in bad.stderr
    )


def test_a_dataset_without_records_says_so(tmp_path: Path) -> None:
    store = DatasetStore(str(tmp_path))
    meta = {"flows": 2, "frames": 3, "size": [8, 8], "settings": {"backward": False}}
    store.write_video("v", {}, {**meta, "video_id": "v"})
    summary = dataset_summary(str(tmp_path))
    assert summary["consistency"]["videos_checked"] == 0
    assert "consistency none recorded (1 videos" in summary_text(summary)


def test_from_the_dataset_index(checked_dataset: Path, tmp_path: Path) -> None:
    """With an index (what extraction writes), figures come from its entries: the means, the
    5 worst pairs and the threshold of each video."""
    copy = tmp_path / "flow"
    shutil.copytree(checked_dataset, copy)
    rebuilt = subprocess.run(
        [sys.executable, "-m", "flowpipe", "index", str(copy), "--rebuild"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert DatasetStore(str(copy)).index() is not None
    result = info(copy)
    assert result.returncode == 0, result.stderr
    assert "alpha 0.01, beta 0.5" in result.stdout
    assert "1 pairs over 20.0 % inconsistent (among each video's 5 worst)" in result.stdout
    assert "cut/cut_000 flow 4:" in result.stdout
    from flowpipe.viz.report import report_data

    data = report_data(str(copy), samples=1)
    assert data["consistency"]["suspect_pairs"][0]["k"] == 4
    rows = {r["id"]: r for r in data["rows"]}
    assert rows["cut/cut_000"]["worst"][0][0] == 4
