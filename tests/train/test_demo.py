"""The end-to-end demonstration (slow): synth -> extract -> three streams -> eval -> fuse,
reaching the issue's figures on the synthetic motion classes; and DDP training by torchrun."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowpipe.train.checkpoint import load_checkpoint
from flowpipe.train.demo import run_demo
from tests.train.test_trainer import dataset  # noqa: F401  (the module's fixture)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # ~7 minutes on 2 idle cores, ~20 when shared
def test_demo_reaches_the_figures(tmp_path: Path) -> None:
    results = run_demo(tmp_path)
    assert results["temporal_test_top1"] >= 0.9
    assert results["i3d_test_top1"] >= 0.9
    assert results["spatial_test_top1"] <= 2 * results["chance"]
    assert results["fused_average_test_top1"] >= results["temporal_test_top1"]


@pytest.mark.slow
def test_torchrun_ddp_on_cpu(dataset: Path, tmp_path: Path) -> None:  # noqa: F811
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun comes with torch"
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "flowpipe",
        "train",
        "temporal",
        str(dataset),
        "-o",
        str(tmp_path / "run"),
        "-L",
        "4",
        "--crop",
        "32",
        "--epochs",
        "2",
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 2
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 3
