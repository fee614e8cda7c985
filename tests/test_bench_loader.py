"""Smoke run of `flowpipe bench loader --quick`: a real extracted dataset, every loader timed."""

from __future__ import annotations

import json

import pytest

from flowpipe.bench.loader import run_loader_benchmark

LOADERS = {"reference", "simple", "trajectory", "simple_zip", "read_decode_only"}


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
