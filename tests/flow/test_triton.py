"""The Triton backend gives the torch path's flow (run on CPU under TRITON_INTERPRET=1)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from flowpipe.flow.solver import resolve_backend

pytest.importorskip("triton")

COMPARE = """
import numpy as np, torch
from flowpipe.flow import TVL1Params, tvl1_flow
from flowpipe.synth import render_video
frames = render_video("rotate_cw", seed=3, size=(48, 40), frames=4).frames.mean(-1)
frames = frames.round().astype(np.uint8)
frames = np.concatenate([frames, frames[:1]])  # the last pair: identical frames
prev = np.concatenate([frames[:3], frames[4:5]])
nxt = np.concatenate([frames[1:4], frames[4:5]])
params = TVL1Params(nscales=2, warps=2)
ref = tvl1_flow(prev, nxt, params=params, backend="torch", compile=False)
fused = tvl1_flow(prev, nxt, params=params, backend="triton")
print((ref - fused).abs().mean().item(), ref.abs().max().item(), fused[3].abs().max().item())
"""


def test_triton_matches_torch_under_interpreter() -> None:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run([sys.executable, "-c", COMPARE], capture_output=True, text=True,
                            env=env, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    diff, magnitude, identical = (float(v) for v in result.stdout.split())
    assert magnitude > 0.5  # real motion was computed
    assert diff < 1e-2
    assert identical < 0.01


def test_backend_choice() -> None:
    cpu = torch.device("cpu")
    assert resolve_backend(cpu, "auto") == "torch"
    assert resolve_backend(cpu, "torch") == "torch"
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend(cpu, "cuda-graphs")
    if os.environ.get("TRITON_INTERPRET") != "1":
        with pytest.raises(ValueError, match="needs CUDA"):
            resolve_backend(cpu, "triton")
