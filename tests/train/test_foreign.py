"""`flowpipe train temporal FOREIGN --bound 20 --split list.txt`: a training step on flow that
another tool wrote (denseflow rawframes, 0-based, no flowpipe.json)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_flowpipe
from tests.data.flowsets import rotation_field, write_video
from tests.storage.foreign_copies import rawframes_copy

SIZE = (48, 40)


def test_train_temporal_on_denseflow_rawframes(tmp_path: Path) -> None:
    lines = []
    for label, angle in enumerate((0.05, -0.05)):
        for k in range(2):
            vid = f"class{label}/v{k}"
            write_video(tmp_path / "flow", vid, [rotation_field(angle, SIZE)] * 6)
            lines.append(f"{vid} 6 {label}\n")
    raw = rawframes_copy(tmp_path / "flow", tmp_path / "raw", 0)
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "train.txt").write_text("".join(lines))
    (tmp_path / "lists" / "classes.txt").write_text("cw\nccw\n")
    result = run_flowpipe(
        "train",
        "temporal",
        str(raw),
        "--bound",
        "20",
        "--split",
        str(tmp_path / "lists" / "train.txt"),
        "-o",
        str(tmp_path / "run"),
        "-L",
        "4",
        "--crop",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--max-batches",
        "1",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["classes"] == ["cw", "ccw"] and summary["epochs"][0]["train_loss"] > 0
    assert (tmp_path / "run" / "last.pt").is_file()
    bare = run_flowpipe("train", "temporal", str(raw), "-o", str(tmp_path / "r2"))
    assert bare.returncode == 2 and "give the bound" in bare.stderr
