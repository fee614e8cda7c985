"""Tests of flowpipe.flow.ops and native_median against references (torch, OpenCV, algebra)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flowpipe.flow.native_median import load_library, native_median
from flowpipe.flow.ops import (
    base_grid,
    centered_gradient,
    divergence,
    forward_gradient,
    gaussian_blur,
    median_filter,
    median_network,
    resize_linear,
    warp,
)

SHAPES = [(1, 1, 2, 3), (1, 1, 5, 7), (2, 3, 16, 11), (1, 2, 33, 40)]


def reference_median(x: torch.Tensor, ksize: int) -> torch.Tensor:
    """ksize x ksize median of [N, C, H, W] with replicated borders: pad, unfold, torch.median."""
    n, c, h, w = x.shape
    r = ksize // 2
    padded = F.pad(x, (r, r, r, r), mode="replicate").reshape(n * c, 1, h + 2 * r, w + 2 * r)
    windows = F.unfold(padded, ksize)
    return windows.median(dim=1).values.reshape(n, c, h, w)


def random_image(shape: tuple[int, ...], ties: bool, seed: int = 0) -> torch.Tensor:
    """float32 noise; integer values 0..3 (many equal neighbours) when `ties`."""
    gen = torch.Generator().manual_seed(seed)
    if ties:
        return torch.randint(0, 4, shape, generator=gen).float()
    return torch.randn(shape, generator=gen)


def native_available() -> None:
    """Skip the test when the C median cannot be built here."""
    if load_library() is None:
        pytest.skip("native median unavailable (no working C compiler)")


@pytest.mark.parametrize("ksize", [3, 5])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ties", [False, True])
def test_median_filter_matches_reference(ksize: int, shape: tuple[int, ...], ties: bool) -> None:
    x = random_image(shape, ties)
    torch.testing.assert_close(median_filter(x, ksize), reference_median(x, ksize), rtol=0, atol=0)


def test_median_filter_ksize_1_is_identity() -> None:
    x = torch.randn(1, 1, 4, 5)
    assert torch.equal(median_filter(x, 1), x)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 16, 24, 25])
def test_median_network_scalar(n: int) -> None:
    network = median_network(n)
    assert all(0 <= a < b < n and (lo or hi) for a, b, lo, hi in network)
    rng = np.random.default_rng(n)
    for trial in range(60):
        values = rng.integers(0, 3, n) if trial % 3 == 0 else rng.normal(size=n)
        wires: list[float | None] = list(values)
        for a, b, need_min, need_max in network:
            lo, hi = min(wires[a], wires[b]), max(wires[a], wires[b])
            wires[a], wires[b] = (lo if need_min else None), (hi if need_max else None)
        assert wires[n // 2] == np.sort(values)[n // 2]


def test_median_network_is_pruned() -> None:
    assert len(median_network(25)) < 140
    assert len(median_network(9)) < 30


@pytest.mark.parametrize("ksize", [3, 5])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ties", [False, True])
def test_native_median_matches_torch(ksize: int, shape: tuple[int, ...], ties: bool) -> None:
    native_available()
    x = random_image(shape, ties, seed=1)
    out = native_median(x, ksize)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert torch.equal(out, median_filter(x, ksize))


@pytest.mark.parametrize("ksize", [3, 5])
def test_native_median_layouts(ksize: int) -> None:
    native_available()
    base = torch.randn(2, 3, 19, 26)
    transposed = base.transpose(-1, -2)
    strided = base[:, 1:, ::2, 1::3]
    for x in (transposed, strided):
        assert not x.is_contiguous()
        assert torch.equal(native_median(x, ksize), median_filter(x.contiguous(), ksize))
    plane = base[0, 0]
    assert torch.equal(native_median(plane, ksize), median_filter(plane[None, None], ksize)[0, 0])
    five = torch.randn(2, 2, 3, 7, 9)
    expected = median_filter(five.reshape(4, 3, 7, 9), ksize).reshape(five.shape)
    assert torch.equal(native_median(five, ksize), expected)
    before = base.clone()
    native_median(base, ksize)
    assert torch.equal(base, before)


def test_native_median_row_split() -> None:
    native_available()
    x = torch.randn(3, 1, 13, 17)
    threads = torch.get_num_threads()
    try:
        for n in (1, 3, 7):
            torch.set_num_threads(n)
            assert torch.equal(native_median(x, 5), median_filter(x, 5))
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize(
    ("ksize", "dtype"), [(7, torch.float32), (1, torch.float32), (3, torch.float64)]
)
def test_native_median_rejects(ksize: int, dtype: torch.dtype) -> None:
    with pytest.raises(ValueError, match="native median unavailable"):
        native_median(torch.zeros(1, 1, 8, 8, dtype=dtype), ksize)


def test_forward_gradient() -> None:
    u = torch.randn(2, 2, 6, 9)
    ux, uy = forward_gradient(u)
    torch.testing.assert_close(ux[..., :-1], u[..., 1:] - u[..., :-1])
    torch.testing.assert_close(uy[..., :-1, :], u[..., 1:, :] - u[..., :-1, :])
    assert not ux[..., -1].any() and not uy[..., -1, :].any()


@pytest.mark.parametrize("shape", [(1, 1, 7, 5), (2, 2, 24, 31)])
def test_divergence_is_negative_adjoint(shape: tuple[int, ...]) -> None:
    """On dual fields with the zero last column / row that forward_gradient (and so the TV-L1
    dual update, started from zero) produces, as in OpenCV's tvl1flow.cpp."""
    gen = torch.Generator().manual_seed(3)
    u, px, py = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(3))
    px[..., -1] = 0
    py[..., -1, :] = 0
    ux, uy = forward_gradient(u)
    lhs = (ux * px + uy * py).sum().item()
    rhs = -(u * divergence(px, py)).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-4)
    u32, px32, py32 = u.float(), px.float(), py.float()
    ux32, uy32 = forward_gradient(u32)
    lhs32 = (ux32 * px32 + uy32 * py32).double().sum().item()
    assert lhs32 == pytest.approx(-(u32 * divergence(px32, py32)).double().sum().item(), rel=1e-4)


def test_divergence_boundary_terms() -> None:
    """For general (px, py) the identity is off by exactly the last-column / last-row terms:
    the divergence is OpenCV's (no special case at the far border), not Chambolle's."""
    gen = torch.Generator().manual_seed(4)
    u, px, py = (torch.randn(2, 1, 8, 11, generator=gen, dtype=torch.float64) for _ in range(3))
    ux, uy = forward_gradient(u)
    gap = (ux * px + uy * py).sum() + (u * divergence(px, py)).sum()
    boundary = (u[..., -1] * px[..., -1]).sum() + (u[..., -1, :] * py[..., -1, :]).sum()
    assert gap.item() == pytest.approx(boundary.item(), rel=1e-9)
    assert abs(boundary.item()) > 1e-3


def test_centered_gradient_of_ramp() -> None:
    a, b = 0.75, -2.0
    ys, xs = torch.meshgrid(torch.arange(6.0), torch.arange(9.0), indexing="ij")
    img = (a * xs + b * ys + 3.0).expand(2, 1, 6, 9)
    grad = centered_gradient(img)
    assert grad.shape == (2, 2, 6, 9)
    dx, dy = grad[:, 0], grad[:, 1]
    torch.testing.assert_close(dx[..., 1:-1], torch.full_like(dx[..., 1:-1], a))
    torch.testing.assert_close(dy[..., 1:-1, :], torch.full_like(dy[..., 1:-1, :], b))
    torch.testing.assert_close(dx[..., [0, -1]], torch.full_like(dx[..., [0, -1]], a / 2))
    torch.testing.assert_close(dy[..., [0, -1], :], torch.full_like(dy[..., [0, -1], :], b / 2))


@pytest.mark.parametrize("hw", [(37, 53), (60, 41)])
def test_resize_linear_downscale_matches_opencv(hw: tuple[int, int]) -> None:
    img = np.random.default_rng(5).random(hw, dtype=np.float32)
    expected = cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
    size = (round(0.8 * hw[0]), round(0.8 * hw[1]))
    out = resize_linear(torch.from_numpy(img)[None, None], size, (1 / 0.8, 1 / 0.8))
    assert out.shape[-2:] == expected.shape
    np.testing.assert_allclose(out[0, 0].numpy(), expected, atol=1e-3)


def test_resize_linear_upscale_matches_opencv() -> None:
    img = np.random.default_rng(6).random((3, 21, 34), dtype=np.float32)
    h, w = 50, 71
    out = resize_linear(torch.from_numpy(img)[None], (h, w), (21 / h, 34 / w))
    assert out.shape == (1, 3, h, w)
    for c in range(3):
        expected = cv2.resize(img[c], (w, h), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(out[0, c].numpy(), expected, atol=1e-3)


def test_gaussian_blur_keeps_constant() -> None:
    x = torch.full((2, 3, 10, 12), 3.7)
    torch.testing.assert_close(gaussian_blur(x, 1.3), x)


@pytest.mark.parametrize("sigma", [0.8, 1.3, 2.0])
def test_gaussian_blur_matches_opencv(sigma: float) -> None:
    img = np.random.default_rng(7).random((2, 29, 41), dtype=np.float32)
    out = gaussian_blur(torch.from_numpy(img)[None], sigma)
    assert out.shape == (1, 2, 29, 41)
    ksize = 2 * int(3 * sigma + 0.5) + 1
    for c in range(2):
        expected = cv2.GaussianBlur(img[c], (ksize, ksize), sigma, borderType=cv2.BORDER_REPLICATE)
        np.testing.assert_allclose(out[0, c].numpy(), expected, atol=1e-4)


def test_base_grid() -> None:
    grid = base_grid(4, 7, torch.device("cpu"))
    assert grid.shape == (1, 2, 4, 7)
    assert grid[0, 0, 2, 5] == 5 and grid[0, 1, 2, 5] == 2
    assert torch.equal(grid[0, 0, 3], torch.arange(7.0))


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_warp_zero_flow_is_identity(mode: str) -> None:
    images = torch.rand(2, 3, 9, 13)
    out = warp(images, torch.zeros(2, 2, 9, 13), base_grid(9, 13, images.device), mode)
    torch.testing.assert_close(out, images, atol=1e-3, rtol=0)


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_warp_integer_shift(mode: str) -> None:
    h, w = 10, 14
    img = torch.rand(1, 1, h, w)
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0], flow[:, 1] = 2.0, -1.0  # sample at (x + 2, y - 1)
    out = warp(img, flow, base_grid(h, w, img.device), mode)[0, 0]
    rolled = torch.from_numpy(np.roll(img[0, 0].numpy(), shift=(1, -2), axis=(0, 1)))
    torch.testing.assert_close(out[1:, :-2], rolled[1:, :-2], atol=1e-3, rtol=0)
    assert out[0].abs().max() < 1e-3 and out[:, -2:].abs().max() < 1e-3


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_warp_outside_reads_zero(mode: str) -> None:
    img = torch.rand(1, 2, 6, 8) + 1.0
    flow = torch.zeros(1, 2, 6, 8)
    flow[:, 0] = 20.0
    out = warp(img, flow, base_grid(6, 8, img.device), mode)
    assert out.abs().max() < 1e-6


def test_warp_bilinear_half_pixel_snapped() -> None:
    img = torch.rand(1, 1, 5, 9)
    grid = base_grid(5, 9, img.device)
    flow = torch.zeros(1, 2, 5, 9)
    flow[:, 0] = 0.5
    out = warp(img, flow, grid, "bilinear")[0, 0]
    torch.testing.assert_close(out[:, :-1], (img[0, 0, :, :-1] + img[0, 0, :, 1:]) / 2)
    flow[:, 0] = 0.51  # snapped to the 1/32 px lattice, as OpenCV 4's remap
    torch.testing.assert_close(warp(img, flow, grid, "bilinear")[0, 0], out)
