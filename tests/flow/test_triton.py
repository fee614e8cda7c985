"""The Triton backend gives the torch path's flow (run on CPU under TRITON_INTERPRET=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from flowpipe.flow.solver import resolve_backend
from flowpipe.flow.triton_codegen import (
    halo_sets,
    iteration_source,
    median_source,
    resident_source,
)

pytest.importorskip("triton")

COMPARE = """
import json, numpy as np, torch
from flowpipe.flow import TVL1Params, tvl1_flow
from flowpipe.flow import triton_backend
from flowpipe.flow.frames import to_gray_batch
from flowpipe.flow.ops import base_grid, centered_gradient
from flowpipe.flow import triton_warp
from flowpipe.flow.triton_warp import warp_consts_triton
from flowpipe.flow.solver import Backend, _solve, warp_consts
from flowpipe.flow.triton_backend import iterate_warp_triton
from flowpipe.synth import render_video
frames = render_video("rotate_cw", seed=3, size=(48, 40), frames=4).frames.mean(-1)
frames = frames.round().astype(np.uint8)
frames = np.concatenate([frames, frames[:1]])  # the last pair: identical frames
prev = np.concatenate([frames[:3], frames[4:5]])
nxt = np.concatenate([frames[1:4], frames[4:5]])
pair = [to_gray_batch(f, "frames", torch.device("cpu")) for f in (prev, nxt)]

def diff(params, steps=1, resident=0, warp="torch", half=False):
    # warp="torch": the Triton loops on the torch path's warp constants (the loops compared
    # alone); "triton": the whole Triton path, its fused warp included (half: float16
    # constants).
    triton_backend.FUSED_STEPS, triton_backend.RESIDENT_PIXELS = steps, resident
    triton_warp.HALF_CONSTANTS = half
    ref = tvl1_flow(prev, nxt, params=params, backend="torch", compile=False)
    if warp == "torch":
        fused = _solve(*pair, params, Backend(warp_consts, iterate_warp_triton))
    else:
        fused = tvl1_flow(prev, nxt, params=params, backend="triton")
    return {"mean": (ref - fused).abs().mean().item(), "max": (ref - fused).abs().max().item(),
            "magnitude": ref.abs().max().item(), "identical": fused[3].abs().max().item()}

def warp_diff(mode):
    triton_warp.HALF_CONSTANTS = False
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.uniform(0, 255, (2, 1, 20, 24)).astype(np.float32))
    i0 = torch.from_numpy(rng.uniform(0, 255, (2, 1, 20, 24)).astype(np.float32))
    u = torch.from_numpy(rng.normal(0, 3, (2, 2, 20, 24)).astype(np.float32))  # taps outside too
    image_and_grad = torch.cat([image, centered_gradient(image)], dim=1)
    ref = warp_consts(i0, image_and_grad, u, base_grid(20, 24, u.device), mode)
    out = warp_consts_triton(i0, image_and_grad, u, None, mode)
    return [(a - b).abs().max().item() / a.abs().max().item() for a, b in zip(ref, out)]

opencv_rule = TVL1Params(nscales=2, warps=2)
never_converging = TVL1Params(nscales=1, warps=2, epsilon=1e-9, inner_iterations=5,
                              outer_iterations=2)
print(json.dumps({"exact": diff(opencv_rule), "fused": diff(opencv_rule, 2),
                  "fused_fixed": diff(never_converging, 2),
                  "resident": diff(opencv_rule, resident=10**9),
                  "resident_fixed": diff(never_converging, resident=10**9),
                  "resident_coarse": diff(opencv_rule, resident=1500),
                  "whole": diff(opencv_rule, warp="triton"),
                  "whole_half": diff(opencv_rule, warp="triton", half=True),
                  "resident_half": diff(opencv_rule, resident=10**9, warp="triton", half=True),
                  "warp": {mode: warp_diff(mode) for mode in ("bicubic", "bilinear")}}))
"""


@pytest.fixture(scope="module")
def comparison() -> dict[str, dict[str, float]]:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run([sys.executable, "-c", COMPARE], capture_output=True, text=True,
                            env=env, timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_triton_path_is_the_torch_path(comparison: dict) -> None:
    # The fused warp samples at the snapped positions exactly; grid_sample's normalised
    # coordinates are off by float rounding (identical frames: 4e-4 px of flow, here 0).
    row = comparison["whole"]
    assert row["magnitude"] > 0.5
    assert row["mean"] < 1e-3 and row["max"] < 1e-2
    assert row["identical"] == 0.0


@pytest.mark.parametrize("run", ["whole_half", "resident_half"])
def test_float16_constants_stay_within_the_issue_bound(comparison: dict, run: str) -> None:
    # The warp's constants stored as float16, read by the iteration or the resident kernel.
    row = comparison[run]
    assert row["magnitude"] > 0.5
    assert 0.0 < row["mean"] < 1e-2  # rounded, so not the torch path's flow exactly
    assert row["identical"] == 0.0


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_fused_warp_constants_are_the_torch_ones(comparison: dict, mode: str) -> None:
    # Gradient, rho and 1/|grad|^2, each's largest difference relative to its largest value.
    assert max(comparison["warp"][mode]) < 2e-5


def test_one_step_per_launch_is_the_torch_path(comparison: dict) -> None:
    row = comparison["exact"]
    assert row["magnitude"] > 0.5  # real motion was computed
    assert row["max"] < 1e-5
    assert row["identical"] < 0.01


def test_fused_steps_match_within_the_stopping_slack(comparison: dict) -> None:
    row = comparison["fused"]
    assert row["mean"] < 1e-2
    assert row["identical"] < 0.01


def test_fused_steps_are_exact_when_no_pair_converges(comparison: dict) -> None:
    # 5 iterations per outer loop: launches of 2, 2 and 1 step(s), medians between them.
    assert comparison["fused_fixed"]["magnitude"] > 0.1
    assert comparison["fused_fixed"]["max"] < 1e-5


@pytest.mark.parametrize("run", ["resident", "resident_fixed", "resident_coarse"])
def test_resident_warps_are_the_torch_path(comparison: dict, run: str) -> None:
    # All levels (48x40, 38x32) one launch per warp, or only the coarse one (<= 1500 pixels).
    row = comparison[run]
    assert row["magnitude"] > 0.1
    assert row["max"] < 1e-5
    assert row["identical"] < 0.01


def test_halo_grows_with_fused_steps() -> None:
    need_u, need_p = halo_sets(2)
    assert need_u[2] == {(0, 0), (1, 0), (0, 1)}
    assert len(need_p[1]) == 7 and len(need_u[1]) == 12
    assert need_u[0] == need_u[1]  # each u_1 is computed from the u_0 at its own position
    compile(iteration_source(3, 3), "iteration", "exec")
    compile(median_source(3, 2), "median", "exec")
    compile(resident_source(0), "resident", "exec")


def test_backend_choice() -> None:
    cpu = torch.device("cpu")
    assert resolve_backend(cpu, "auto") == "torch"
    assert resolve_backend(cpu, "torch") == "torch"
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend(cpu, "cuda-graphs")
    if os.environ.get("TRITON_INTERPRET") != "1":
        with pytest.raises(ValueError, match="needs CUDA"):
            resolve_backend(cpu, "triton")
