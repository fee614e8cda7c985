"""flowpipe.storage.codec: the quantisation formula, numpy/torch agreement, JPEG and its errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from flowpipe.storage.codec import (
    DEFAULT_BOUND,
    DEFAULT_QUALITY,
    CodecError,
    decode_jpeg,
    dequantize,
    encode_jpeg,
    encode_rgb_jpeg,
    quantization_step,
    quantize,
)


def smooth_flow(h: int = 256, w: int = 340, amp: float = 12.0) -> np.ndarray:
    """A smooth float32 flow component [H, W] within +-amp pixels."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return (amp * np.sin(xx / 37.0) * np.cos(yy / 23.0)).astype(np.float32)


def both(values, bound: float = DEFAULT_BOUND) -> tuple[np.ndarray, np.ndarray]:
    """quantize() of the same float32 values as a numpy array and as a torch tensor."""
    arr = np.asarray(values, dtype=np.float32)
    return quantize(arr, bound), quantize(torch.from_numpy(arr.copy()), bound).numpy()


def test_formula_end_points_and_zero() -> None:
    b = DEFAULT_BOUND
    for q in both([-b, 0.0, b]):
        assert q.tolist() == [0, 128, 255]  # 0 -> 127.5 -> 128 (half to even)


def test_round_half_to_even_in_numpy_and_torch() -> None:
    # With b = 127.5 the code is v + 127.5 exactly, so these are exact ties.
    values = [-127.0, -126.0, 0.0, 1.0, 126.0]
    for q in both(values, bound=127.5):
        assert q.tolist() == [0, 2, 128, 128, 254]


def test_exact_formula_values() -> None:
    b = 20.0
    v = np.array([-20.0, -10.0, -1.0, 0.5, 3.0, 10.0, 19.9], np.float32)
    expected = np.rint((np.clip(v, -b, b) + b) * 255.0 / (2 * b)).astype(np.uint8)
    for q in both(v, b):
        np.testing.assert_array_equal(q, expected)
    assert quantize(np.float32([-10.0]), b).item() == 64  # 10 * 6.375 = 63.75


def test_clipping_and_non_finite() -> None:
    for q in both([-1000.0, -20.5, 20.5, 1e9, -np.inf, np.inf, np.nan]):
        assert q.tolist() == [0, 0, 255, 255, 0, 255, 128]


def test_round_trip_error_at_most_half_a_step() -> None:
    rng = np.random.default_rng(1)
    for b in (20.0, 7.0, 3.3):
        v = rng.uniform(-b, b, 200_000).astype(np.float32)
        back = dequantize(quantize(v, b), b)
        assert back.dtype == np.float32
        err = np.abs(back - v).max()
        assert err <= quantization_step(b) / 2 + 1e-5 * b


def test_numpy_and_torch_agree_including_ties() -> None:
    rng = np.random.default_rng(2)
    for b in (20.0, 7.0, 13.7, 0.5):
        ties = ((np.arange(256) + 0.5) * 2 * b / 255 - b).astype(np.float32)
        v = np.concatenate([ties, rng.uniform(-1.5 * b, 1.5 * b, 50_000).astype(np.float32)])
        qn, qt = both(v, b)
        np.testing.assert_array_equal(qn, qt)
        dn = dequantize(qn, b)
        dt = dequantize(torch.from_numpy(qn), b)
        assert dt.dtype == torch.float32
        np.testing.assert_array_equal(dn, dt.numpy())


def test_kinds_dtypes_and_shapes_are_kept() -> None:
    t = torch.zeros(2, 2, 3, 4, dtype=torch.float64)
    q = quantize(t)
    assert isinstance(q, torch.Tensor) and q.dtype == torch.uint8 and q.shape == t.shape
    a = quantize(np.zeros((3, 4), np.float16))
    assert isinstance(a, np.ndarray) and a.dtype == np.uint8 and a.shape == (3, 4)
    assert quantize(torch.zeros(3, requires_grad=True)).dtype == torch.uint8


def test_dequantize_formula() -> None:
    q = np.array([0, 128, 255], np.uint8)
    np.testing.assert_allclose(dequantize(q), [-20.0, 128 * 40 / 255 - 20, 20.0], atol=1e-5)
    np.testing.assert_allclose(dequantize(torch.from_numpy(q), 5.0).numpy(), [-5, 0.0196, 5], 1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_cuda_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    ties = ((np.arange(256) + 0.5) * 2 * 7.0 / 255 - 7.0).astype(np.float32)
    v = np.concatenate([ties, rng.uniform(-10, 10, 100_000).astype(np.float32)])
    q = quantize(torch.from_numpy(v).cuda(), 7.0)
    assert q.device.type == "cuda" and q.dtype == torch.uint8
    np.testing.assert_array_equal(q.cpu().numpy(), quantize(v, 7.0))
    back = dequantize(q, 7.0)
    assert back.device.type == "cuda"
    np.testing.assert_array_equal(back.cpu().numpy(), dequantize(quantize(v, 7.0), 7.0))


@pytest.mark.parametrize("bound", [0.0, -1.0, float("nan"), float("inf"), "20", True])
def test_bad_bound(bound) -> None:
    with pytest.raises(ValueError, match="bound"):
        quantize(np.zeros(3, np.float32), bound)
    with pytest.raises(ValueError, match="bound"):
        dequantize(np.zeros(3, np.uint8), bound)
    with pytest.raises(ValueError, match="bound"):
        quantization_step(bound)


def test_quantization_step() -> None:
    assert quantization_step(20.0) == pytest.approx(40 / 255)
    assert quantization_step() == pytest.approx(2 * DEFAULT_BOUND / 255)


def test_jpeg_round_trip_of_smooth_plane() -> None:
    q = quantize(smooth_flow())
    data = encode_jpeg(q, 95)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    back = decode_jpeg(data)
    assert back.dtype == np.uint8 and back.shape == q.shape  # gray stays 2-D
    assert np.abs(back.astype(int) - q.astype(int)).mean() < 1.0


def test_jpeg_bytes_match_cv2_imwrite(tmp_path) -> None:
    q = quantize(smooth_flow(256, 340))
    path = tmp_path / "flow_x_00001.jpg"
    assert cv2.imwrite(str(path), q, [cv2.IMWRITE_JPEG_QUALITY, 95])
    ours = encode_jpeg(q, DEFAULT_QUALITY)
    theirs = path.read_bytes()
    assert abs(len(ours) - len(theirs)) <= 16
    assert ours == theirs  # the same encoder and settings
    np.testing.assert_array_equal(decode_jpeg(ours), cv2.imread(str(path), cv2.IMREAD_UNCHANGED))


def test_quality_changes_size() -> None:
    q = quantize(smooth_flow() * 1.5 + np.random.default_rng(4).normal(0, 1, (256, 340)))
    assert len(encode_jpeg(q, 50)) < len(encode_jpeg(q, 95)) < len(encode_jpeg(q, 100))


def test_rgb_jpeg_round_trip() -> None:
    img = np.zeros((64, 80, 3), np.uint8)
    img[..., 0] = 200  # blue in BGR
    img[:, 40:, 2] = 180  # red on the right half
    back = decode_jpeg(encode_rgb_jpeg(img))
    assert back.shape == (64, 80, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - img.astype(int)).mean() < 3.0
    assert back[32, 10, 0] > 150 and back[32, 10, 2] < 60 and back[32, 70, 2] > 130


@pytest.mark.parametrize("quality", [0, 101, -5, 95.5, True, "95"])
def test_bad_quality(quality) -> None:
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(np.zeros((8, 8), np.uint8), quality)


@pytest.mark.parametrize(
    "img",
    [
        np.zeros((8, 8, 3), np.uint8),
        np.zeros((8, 8), np.float32),
        np.zeros((0, 8), np.uint8),
        np.zeros(8, np.uint8),
        [[0, 1], [2, 3]],
    ],
)
def test_encode_jpeg_rejects_bad_images(img) -> None:
    with pytest.raises(ValueError, match="image"):
        encode_jpeg(img)


def test_encode_rgb_jpeg_rejects_gray() -> None:
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        encode_rgb_jpeg(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        encode_rgb_jpeg(np.zeros((8, 8, 3), np.uint16))


def test_truncated_jpeg_names_the_file() -> None:
    data = encode_jpeg(quantize(smooth_flow()))
    for cut in (data[:-100], data[:-2], data[: len(data) // 2]):
        with pytest.raises(CodecError, match=r"vid/flow_x_00007\.jpg.*truncated"):
            decode_jpeg(cut, "vid/flow_x_00007.jpg")


def test_empty_jpeg() -> None:
    with pytest.raises(CodecError, match="a.jpg: empty"):
        decode_jpeg(b"", "a.jpg")


def test_garbage_bytes() -> None:
    with pytest.raises(CodecError, match="b.jpg: not a JPEG"):
        decode_jpeg(b"this is not a jpeg at all" * 10, "b.jpg")
    png = cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1].tobytes()
    with pytest.raises(CodecError, match="not a JPEG"):
        decode_jpeg(png)


def test_corrupt_body_with_valid_markers() -> None:
    junk = b"\xff\xd8" + np.random.default_rng(5).bytes(500) + b"\xff\xd9"
    with pytest.raises(CodecError, match="c.jpg: corrupt"):
        decode_jpeg(junk, "c.jpg")


def test_codec_error_is_value_error() -> None:
    assert issubclass(CodecError, ValueError)
    with pytest.raises(ValueError):
        decode_jpeg(b"")
