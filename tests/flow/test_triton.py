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
import functools, json, numpy as np, torch
from flowpipe.flow import TVL1Params, tvl1_flow
from flowpipe.flow.frames import to_gray_batch
from flowpipe.flow.native_median import native_median
from flowpipe.flow.ops import base_grid, centered_gradient
from flowpipe.flow.pool import FlowPool
from flowpipe.flow.solver import Backend, Kernels, select_backend, solve_batch, tvl1_iteration
from flowpipe.flow.solver import warp_consts
from flowpipe.flow.triton_backend import TritonSettings
from flowpipe.flow.triton_warp import warp_consts_triton
from flowpipe.synth import render_video

def gray(motion, size, seed):
    frames = render_video(motion, seed=seed, size=size, frames=4).frames.mean(-1)
    return frames.round().astype(np.uint8)

frames = gray("rotate_cw", (48, 40), 3)
frames = np.concatenate([frames, frames[:1]])  # the last pair: identical frames
prev = np.concatenate([frames[:3], frames[4:5]])
nxt = np.concatenate([frames[1:4], frames[4:5]])
pair = [to_gray_batch(f, "frames", torch.device("cpu")) for f in (prev, nxt)]
cpu = torch.device("cpu")
params = TVL1Params(nscales=2, warps=2)
# One program per pair and level under the interpreter (it runs programs one by one).
quick = TritonSettings(block=2048)

def diff(ref, out):
    return {"mean": (ref - out).abs().mean().item(), "max": (ref - out).abs().max().item(),
            "magnitude": ref.abs().max().item(), "identical": out[3].abs().max().item()}

def triton(settings=quick):
    return solve_batch(*pair, params, select_backend(cpu, "triton", triton=settings))

# The torch path's loops on the Triton warp's constants: the Triton path's loops compared alone.
consts = functools.partial(warp_consts_triton, block=64)
loops = solve_batch(*pair, params, Backend(cpu, Kernels(tvl1_iteration, native_median, consts)))
torch_path = tvl1_flow(prev, nxt, params=params, backend="torch", compile=False)
small = TritonSettings(block=512, warp_block=32, check_every=3)

def warp_diff(mode):
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.uniform(0, 255, (2, 1, 20, 24)).astype(np.float32))
    i0 = torch.from_numpy(rng.uniform(0, 255, (2, 1, 20, 24)).astype(np.float32))
    u = torch.from_numpy(rng.normal(0, 3, (2, 2, 20, 24)).astype(np.float32))  # taps outside too
    image_and_grad = torch.cat([image, centered_gradient(image)], dim=1)
    ref = warp_consts(i0, image_and_grad, u, base_grid(20, 24, u.device), mode)
    out = warp_consts_triton(i0, image_and_grad, u, None, mode, block=64)
    return [(a - b).abs().max().item() / a.abs().max().item() for a, b in zip(ref, out)]

def mixed_pool():
    # Chunks of two frame sizes, pairs converging at different speeds (an identical pair at
    # once), through a pool of 2 places refilled as pairs finish; each pair against its solo
    # Triton flow. Looks every 3 launches: pairs enter and change level at odd launches too,
    # where the set a pair's state is in follows the launch's parity and its own.
    other = gray("translate_left", (40, 32), 5)
    chunks = [(prev[:2], nxt[:2]), (other[:3], other[1:4]), (prev[2:], nxt[2:])]
    odd = TritonSettings(block=2048, check_every=3)
    with FlowPool("cpu", params, capacity=2, backend="triton", triton=odd) as pool:
        flows = [f.result() for f in [pool.submit(*c) for c in chunks]]
        figures = pool.stats.as_dict()
    alone = select_backend(cpu, "triton", triton=quick)
    solo = [torch.cat([solve_batch(*[to_gray_batch(f, "f", cpu) for f in (p, n)], params, alone)
                       for p, n in zip(*c)]) for c in chunks]
    equal = all(torch.equal(f, s) for f, s in zip(flows, solo))
    return {"equal": equal, "pairs": figures["pairs"], "share": figures["active_share"]}

def no_median():
    # No median and a bilinear warp: a warp's start then copies the state to the pair's other
    # set (every step but an idle one writes it).
    plain = TVL1Params(nscales=2, warps=2, median_filtering=1, interpolation="bilinear")
    ref = tvl1_flow(prev, nxt, params=plain, backend="torch", compile=False)
    return diff(ref, solve_batch(*pair, plain, select_backend(cpu, "triton", triton=quick)))

flow = triton()
print(json.dumps({"loops": diff(loops, flow),
                  "no_median": no_median(),
                  "small_blocks": diff(loops, triton(small)),
                  "whole": diff(torch_path, flow),
                  "mixed_pool": mixed_pool(),
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


def test_without_median_too(comparison: dict) -> None:
    row = comparison["no_median"]
    assert row["magnitude"] > 0.5
    assert row["mean"] < 1e-3 and row["max"] < 1e-2
    assert row["identical"] == 0.0


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_fused_warp_constants_are_the_torch_ones(comparison: dict, mode: str) -> None:
    # Gradient, rho and 1/|grad|^2, each's largest difference relative to its largest value.
    assert max(comparison["warp"][mode]) < 2e-5


@pytest.mark.parametrize("run", ["loops", "small_blocks"])
def test_the_triton_loops_are_the_torch_loops(comparison: dict, run: str) -> None:
    # The torch path's loops on the Triton warp's constants. Settings (smaller programs, the
    # host looking every 3 launches) change the order of float additions, not the scheme.
    row = comparison[run]
    assert row["magnitude"] > 0.5  # real motion was computed
    assert row["max"] < 1e-5
    assert row["identical"] < 0.01


def test_a_mixed_pool_refilled_mid_run_gives_each_pair_its_solo_flow(comparison: dict) -> None:
    row = comparison["mixed_pool"]
    assert row["equal"] and row["pairs"] == 7
    assert 0 < row["share"] <= 1


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
