"""The loader's native loops against OpenCV and numpy: JPEG boxes, box values, trajectory
chains (also through the public stacking functions, native vs the pure path)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
import torch

from flowpipe.data import View, native_loader
from flowpipe.data.planes import EncodedFlow
from flowpipe.data.stacking import simple_stack, trajectory_stack
from flowpipe.storage.codec import CodecError, decode_jpeg, dequantize, encode_jpeg

pytestmark = pytest.mark.skipif(native_loader.library() is None, reason="no compiler or libjpeg")

FRAME = (48, 64)  # h, w
BOUND = 8.0


def smooth_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """uint8 [n, 2, H, W] codes of smooth random flow (what extracted flow looks like)."""
    coarse = rng.uniform(40, 215, size=(n * 2, 6, 8)).astype(np.float32)
    planes = [cv2.resize(p, FRAME[::-1], interpolation=cv2.INTER_CUBIC) for p in coarse]
    return np.clip(np.stack(planes), 0, 255).astype(np.uint8).reshape(n, 2, *FRAME)


def encoded(codes: np.ndarray) -> EncodedFlow:
    """The codes as a stack of JPEG planes (x, y of each field)."""
    planes = codes.reshape(-1, *FRAME)
    names = [f"plane_{i}.jpg" for i in range(len(planes))]
    return EncodedFlow([encode_jpeg(p) for p in planes], names, FRAME)


@pytest.fixture
def stack() -> EncodedFlow:
    return encoded(smooth_codes(np.random.default_rng(0), 4))


def with_opencv(run: Callable[[], torch.Tensor]) -> torch.Tensor:
    """run() on the pure (OpenCV) paths, as on a machine without a compiler or libjpeg."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLOWPIPE_NO_NATIVE", "1")
        native_loader.library.cache_clear()
        try:
            assert native_loader.library() is None
            return run()
        finally:
            native_loader.library.cache_clear()


@pytest.mark.parametrize("box", [(0, 0, 64, 48), (9, 5, 24, 24), (40, 24, 24, 24), (3, 47, 60, 1)])
def test_decoded_boxes_equal_opencv_decoding(stack: EncodedFlow, box: tuple) -> None:
    x0, y0, bw, bh = box
    out = native_loader.decode_boxes(stack.datas, stack.names, FRAME, box)
    expected = np.stack([decode_jpeg(d)[y0 : y0 + bh, x0 : x0 + bw] for d in stack.datas])
    np.testing.assert_array_equal(out, expected)


def test_decode_failures_name_the_file(stack: EncodedFlow) -> None:
    good = stack.datas[0]
    corrupt = good[:400] + bytes(range(256)) * 2 + good[912:]
    small = encode_jpeg(np.zeros((32, 32), np.uint8))
    cases = [
        (corrupt, "corrupt JPEG data"),
        (small, "unexpected image .*32x32"),
        (good[: len(good) // 2], "truncated JPEG"),
        (b"", "empty"),
    ]
    for data, message in cases:
        with pytest.raises(CodecError, match=f"bad.jpg: {message}"):
            native_loader.decode_boxes([good, data], ["good.jpg", "bad.jpg"], FRAME, (0, 0, 64, 48))


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("centre", [False, True])
def test_box_values_dequantise_mirror_and_centre(flip: bool, centre: bool) -> None:
    codes = smooth_codes(np.random.default_rng(1), 3)
    box = codes[:, :, 4:36, 7:39]
    out = np.empty((3, 2, 32, 32), np.float32)
    native_loader.box_values(box, flip, BOUND, centre, out)
    expected = dequantize(box[..., ::-1] if flip else box, BOUND)
    if flip:
        expected[:, 0] *= -1
    if centre:
        expected -= expected.mean(axis=(-2, -1), keepdims=True)
        np.testing.assert_allclose(out, expected, atol=2e-6)
    else:
        np.testing.assert_array_equal(out, expected)


VIEWS = [View(8, 6, 32, 32, 32), View(30, 14, 32, 32, 32, True), View(0, 4, 42, 40, 24, True)]


def chains() -> list[list[int]]:
    return [[1, 2, 3], [0]]


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("centre", [False, True])
def test_trajectory_chain_equals_the_opencv_path(stack: EncodedFlow, view: View, centre: bool):
    expected = with_opencv(lambda: trajectory_stack(stack, BOUND, view, chains(), centre))
    out = trajectory_stack(stack, BOUND, view, chains(), centre)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-4)
    decoded = trajectory_stack(stack.decoded(), BOUND, view, chains(), centre)
    np.testing.assert_array_equal(decoded.numpy(), out.numpy())


@pytest.mark.parametrize("view", VIEWS)
def test_simple_stack_equals_the_opencv_path(stack: EncodedFlow, view: View) -> None:
    expected = with_opencv(lambda: simple_stack(stack, BOUND, view, centre=True))
    out = simple_stack(stack, BOUND, view, centre=True)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)


def test_a_corrupt_plane_in_a_chain_is_named(stack: EncodedFlow) -> None:
    stack.datas[5] = stack.datas[5][:300] + bytes(range(256)) * 2 + stack.datas[5][812:]
    with pytest.raises(CodecError, match="plane_5.jpg: corrupt JPEG data"):
        trajectory_stack(stack, BOUND, VIEWS[0], chains())
