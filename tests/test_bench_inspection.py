"""`flowpipe bench consistency` and `flowpipe bench report` as real processes, at smoke size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowpipe.bench.browser import chromium_path


def bench(*args: str, cwd: Path) -> dict:
    """`python -m flowpipe bench ARGS`'s JSON (the engine eager: no compile warm-up)."""
    env = {**os.environ, "TORCHDYNAMO_DISABLE": "1", "FLOWPIPE_DATA": str(cwd / "none")}
    command = [sys.executable, "-m", "flowpipe", "bench", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_consistency_cost_is_timed_against_the_flow(tmp_path: Path) -> None:
    result = bench("consistency", "--pairs", "2", "--preset", "fast", "--rounds", "1", cwd=tmp_path)
    assert result["frames"] == "synthetic 160x120" and result["pairs"] == 2
    assert 0 < result["consistency_figures_s"] < result["flow_forward_backward_s"]
    assert result["figures_over_flow"] == pytest.approx(
        result["consistency_figures_s"] / result["flow_forward_backward_s"], rel=0.01
    )
    assert 0 <= result["mean_inconsistent"] < 0.05  # a clean synthetic rotation


@pytest.mark.skipif(chromium_path() is None, reason="no chromium on PATH (make install)")
def test_report_benchmark_builds_opens_and_serves(tmp_path: Path) -> None:
    keep = tmp_path / "flow"
    result = bench("report", "--videos", "12", "--rounds", "1", "--keep", str(keep), cwd=tmp_path)
    assert result["videos"] == 12 and result["report_bytes"] > 12 * 500
    assert 0 < result["report_open_s"] < 30 and 0 < result["view_open_s"] < 30
    assert result["console_problems"] == []
    assert len(list(keep.glob("class_*/video_*/meta.json"))) == 12
