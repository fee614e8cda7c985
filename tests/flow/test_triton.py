"""The Triton backend gives the torch path's flow (run on CPU under TRITON_INTERPRET=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from flowpipe.flow.solver import resolve_backend
from flowpipe.flow.triton_backend import ENVIRONMENT, TritonSettings, default_settings

pytest.importorskip("triton")

COMPARE = """
import json, numpy as np, torch
from flowpipe.flow import TVL1Params, tvl1_flow
from flowpipe.flow.frames import to_gray_batch
from flowpipe.flow.ops import base_grid, centered_gradient
from flowpipe.flow.solver import Backend, select_backend, solve_batch, warp_consts
from flowpipe.flow.triton_backend import TritonSettings
from flowpipe.flow.triton_warp import warp_consts_triton
from flowpipe.synth import render_video
frames = render_video("rotate_cw", seed=3, size=(48, 40), frames=4).frames.mean(-1)
frames = frames.round().astype(np.uint8)
frames = np.concatenate([frames, frames[:1]])  # the last pair: identical frames
prev = np.concatenate([frames[:3], frames[4:5]])
nxt = np.concatenate([frames[1:4], frames[4:5]])
pair = [to_gray_batch(f, "frames", torch.device("cpu")) for f in (prev, nxt)]
cpu = torch.device("cpu")

def diff(params, warp="torch", settings=TritonSettings()):
    # warp="torch": the Triton loops on the torch path's warp constants (the loops compared
    # alone); "triton": the whole Triton path, its fused warp included.
    ref = tvl1_flow(prev, nxt, params=params, backend="torch", compile=False)
    triton = select_backend(cpu, "triton", False, settings)
    if warp == "torch":
        triton = Backend(warp_consts, triton.iterate)
    fused = solve_batch(*pair, params, triton)
    return {"mean": (ref - fused).abs().mean().item(), "max": (ref - fused).abs().max().item(),
            "magnitude": ref.abs().max().item(), "identical": fused[3].abs().max().item()}

def warp_diff(mode):
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.uniform(0, 255, (2, 1, 20, 24)).astype(np.float32))
    i0 = torch.from_numpy(rng.uniform(0, 255, (2, 1, 20, 24)).astype(np.float32))
    u = torch.from_numpy(rng.normal(0, 3, (2, 2, 20, 24)).astype(np.float32))  # taps outside too
    image_and_grad = torch.cat([image, centered_gradient(image)], dim=1)
    ref = warp_consts(i0, image_and_grad, u, base_grid(20, 24, u.device), mode)
    out = warp_consts_triton(i0, image_and_grad, u, None, mode, block=64)
    return [(a - b).abs().max().item() / a.abs().max().item() for a, b in zip(ref, out)]

opencv_rule = TVL1Params(nscales=2, warps=2)
small_blocks = TritonSettings(block=64, warp_block=32, check_every=3)
print(json.dumps({"exact": diff(opencv_rule),
                  "small_blocks": diff(opencv_rule, settings=small_blocks),
                  "whole": diff(opencv_rule, warp="triton"),
                  "warp": {mode: warp_diff(mode) for mode in ("bicubic", "bilinear")}}))
"""


@pytest.fixture(scope="module")
def comparison() -> dict[str, dict[str, float]]:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    command = [sys.executable, "-c", COMPARE]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_triton_path_is_the_torch_path(comparison: dict) -> None:
    # The fused warp samples at the snapped positions exactly; grid_sample's normalised
    # coordinates are off by float rounding (identical frames: 4e-4 px of flow, here 0).
    row = comparison["whole"]
    assert row["magnitude"] > 0.5
    assert row["mean"] < 1e-3 and row["max"] < 1e-2
    assert row["identical"] == 0.0


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_fused_warp_constants_are_the_torch_ones(comparison: dict, mode: str) -> None:
    # Gradient, rho and 1/|grad|^2, each's largest difference relative to its largest value.
    assert max(comparison["warp"][mode]) < 2e-5


@pytest.mark.parametrize("run", ["exact", "small_blocks"])
def test_the_triton_loops_are_the_torch_loops(comparison: dict, run: str) -> None:
    # Default settings, and smaller programs with the flags read every 3 iterations: the
    # settings change the order of float additions, not the scheme.
    row = comparison[run]
    assert row["magnitude"] > 0.5  # real motion was computed
    assert row["max"] < 1e-5
    assert row["identical"] < 0.01


def test_settings_are_checked_and_read_from_the_environment(monkeypatch) -> None:
    assert TritonSettings() == TritonSettings(block=256, warp_block=256, check_every=8)
    for bad in ({"block": 100}, {"warp_block": 8}, {"check_every": 0}, {"block": True}):
        with pytest.raises(ValueError, match="TritonSettings"):
            TritonSettings(**bad)
    monkeypatch.setenv(ENVIRONMENT["block"], "128")
    monkeypatch.setenv(ENVIRONMENT["check_every"], "4")
    read = default_settings.__wrapped__()  # the cached default reads the environment once
    assert read == TritonSettings(block=128, check_every=4)
    monkeypatch.setenv(ENVIRONMENT["block"], "big")
    with pytest.raises(ValueError, match="FLOWPIPE_TRITON_BLOCK='big'"):
        default_settings.__wrapped__()
    monkeypatch.setenv(ENVIRONMENT["block"], "100")
    with pytest.raises(ValueError, match="power of two"):
        default_settings.__wrapped__()


def test_backend_choice() -> None:
    cpu = torch.device("cpu")
    assert resolve_backend(cpu, "auto") == "torch"
    assert resolve_backend(cpu, "torch") == "torch"
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend(cpu, "cuda-graphs")
    if os.environ.get("TRITON_INTERPRET") != "1":
        with pytest.raises(ValueError, match="needs CUDA"):
            resolve_backend(cpu, "triton")
