"""Smoke run of `flowpipe bench loader --quick` (a real extracted dataset, every loader timed), and
the reference loader computing the same stacks as flowpipe."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from flowpipe.bench.loader import ReferenceLoader, run_loader_benchmark
from flowpipe.data import FlowStackDataset, View
from tests.data.flowsets import constant_field, rotation_field, write_video

LOADERS = {"reference", "simple", "trajectory", "simple_zip", "read_decode_whole"}


def test_quick_loader_benchmark_reports_every_loader() -> None:
    result = run_loader_benchmark(quick=True)
    assert json.loads(json.dumps(result)) == result
    assert result["benchmark"] == "loader" and len(result["videos"]) == 2
    assert set(result["stacks_per_s"]) == LOADERS == set(result["ms_per_stack"])
    assert all(rate > 0 for rate in result["stacks_per_s"].values())
    rates = result["stacks_per_s"]
    assert result["speedup_vs_reference"] == pytest.approx(rates["simple"] / rates["reference"])
    assert result["trajectory_cost"] == pytest.approx(rates["simple"] / rates["trajectory"])
    assert set(result["targets"]) == {"speedup_vs_reference", "trajectory_cost"}
    assert all(isinstance(t["met"], bool) for t in result["targets"].values())
    assert "skipped" in result["gpu_decode"] or result["gpu_decode"]["stacks_per_s"] > 0
    assert result["machine"]["cpu_count"] >= 1 and result["machine"]["torch"]


def test_reference_loader_computes_flowpipe_stacks(tmp_path: Path) -> None:
    fields = [
        rotation_field(0.02 * k, (48, 40)) + constant_field(k, -1, (48, 40)) for k in range(6)
    ]
    write_video(tmp_path, "v", fields)
    ds = FlowStackDataset(tmp_path, L=4, crop=32)
    rec = ds.records[0]
    reference = ReferenceLoader(tmp_path, ds.records, 4, 32)
    flips = set()
    for seed in range(8):
        random.seed(seed)
        start, y0, x0 = random.randint(1, 3), random.randint(0, 8), random.randint(0, 16)
        flip = random.random() < 0.5
        random.seed(seed)
        expected = ds.stacks(rec, start, [View(x0, y0, 32, 32, 32, flip)])[0]
        torch.testing.assert_close(reference[0], expected, atol=1e-5, rtol=0)
        flips.add(flip)
    assert flips == {False, True}
