"""Solver behaviour: batching, per-element stopping, presets, devices, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flowpipe.flow import PRESETS, TVL1Params, preset, tvl1_flow
from flowpipe.flow.solver import pyramid_sizes
from flowpipe.synth import render_video, translation_pair

SMALL = TVL1Params(nscales=3, warps=2)


def clip(motion: str = "rotate_cw", frames: int = 4, size=(64, 48)) -> np.ndarray:
    """uint8 gray frames [T, H, W] of a synthetic clip."""
    rgb = render_video(motion, seed=3, size=size, frames=frames).frames
    return rgb.mean(axis=-1).round().astype(np.uint8)


def test_output_shape_dtype_and_direction() -> None:
    prev, nxt, truth = translation_pair(2.0, -1.0, size=(64, 48), seed=0)
    flow = tvl1_flow(prev, nxt, compile=False)
    assert flow.shape == (1, 2, 48, 64) and flow.dtype == torch.float32
    centre = flow[0, :, 12:-12, 12:-12].mean(dim=(1, 2))
    assert torch.allclose(centre, torch.tensor([2.0, -1.0]), atol=0.1)


def test_batch_equals_one_by_one_with_per_element_stopping() -> None:
    frames = clip()
    # An identical pair converges at once; it must not change the others' results.
    prev = np.concatenate([frames[:-1], frames[:1]])
    nxt = np.concatenate([frames[1:], frames[:1]])
    batched = tvl1_flow(prev, nxt, params=SMALL, compile=False)
    for i in range(len(prev)):
        single = tvl1_flow(prev[i], nxt[i], params=SMALL, compile=False)
        assert torch.allclose(batched[i], single[0], atol=1e-4)
    assert batched[-1].abs().max() < 0.01  # identical frames: (almost exactly) no motion


def test_inputs_numpy_torch_uint8_float_agree() -> None:
    frames = clip()
    a = tvl1_flow(frames[0], frames[1], params=SMALL, compile=False)
    b = tvl1_flow(
        torch.from_numpy(frames[:1]).float(),
        torch.from_numpy(frames[1:2]).double(),
        params=SMALL,
        compile=False,
    )
    assert torch.allclose(a, b)


def test_compiled_matches_eager() -> None:
    frames = clip()
    eager = tvl1_flow(frames[:-1], frames[1:], params=SMALL, compile=False)
    fused = tvl1_flow(frames[:-1], frames[1:], params=SMALL, compile=True)
    assert (eager - fused).abs().mean() < 1e-3


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_run_and_differ(name: str) -> None:
    frames = clip(size=(48, 40))
    flow = tvl1_flow(frames[0], frames[1], params=preset(name), compile=False)
    assert torch.isfinite(flow).all()
    assert PRESETS["opencv"] == TVL1Params()
    assert name == "opencv" or PRESETS[name] != TVL1Params()


def test_pyramid_sizes_follow_opencv_and_auto() -> None:
    assert pyramid_sizes(256, 340, TVL1Params()) == [
        (256, 340),
        (205, 272),
        (164, 218),
        (131, 174),
        (105, 139),
    ]
    assert len(pyramid_sizes(20, 20, TVL1Params())) == 2  # 16 px floor
    auto = pyramid_sizes(256, 340, TVL1Params(nscales="auto"))
    assert 28 <= min(auto[-1]) <= 40 and len(auto) == 10


@pytest.mark.parametrize(
    "prev, nxt, message",
    [
        (np.zeros((10, 12), np.uint8), np.zeros((10, 13), np.uint8), "differ in shape"),
        (np.zeros((0, 12), np.uint8), np.zeros((0, 12), np.uint8), "empty"),
        (np.zeros((10, 12), np.int32), np.zeros((10, 12), np.int32), "dtype"),
        (np.zeros((1, 1, 10, 12), np.uint8), np.zeros((1, 1, 10, 12), np.uint8), "shape"),
        (np.full((10, 12), np.nan, np.float32), np.zeros((10, 12), np.float32), "NaN"),
        ([[1, 2], [3, 4]], [[1, 2], [3, 4]], "numpy array or torch tensor"),
    ],
)
def test_bad_input_is_a_clear_value_error(prev, nxt, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tvl1_flow(prev, nxt, compile=False)


@pytest.mark.parametrize(
    "changes",
    [
        {"tau": 0},
        {"warps": 0},
        {"nscales": "deep"},
        {"scale_step": 1.5},
        {"median_filtering": 4},
        {"interpolation": "nearest"},
        {"pyramid_sigma": -1.0},
    ],
)
def test_bad_params_are_rejected(changes: dict) -> None:
    with pytest.raises(ValueError, match="TVL1Params"):
        TVL1Params(**changes)


def test_unknown_preset_and_device() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        preset("fastest")
    with pytest.raises(ValueError, match="device"):
        tvl1_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            tvl1_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), device="cuda")
