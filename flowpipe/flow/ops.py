"""Image operators of the TV-L1 scheme, batched over [N, C, H, W] tensors.

Each follows the discretisation of OpenCV's `tvl1flow.cpp` (the reference), so that the
flow matches it: centred image gradients with replicated borders, forward differences for
the flow gradient, the matching (negative adjoint) divergence, replicated-border median.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


def resize_linear(
    x: torch.Tensor, size: tuple[int, int], scale: tuple[float, float]
) -> torch.Tensor:
    """Bilinear resize to `size` (h, w) with source step `scale` (sy, sx) per output pixel.

    Pixel centres are aligned as OpenCV's INTER_LINEAR does (no antialiasing); passing the
    step explicitly lets the pyramid use OpenCV's exact 1/scale_step mapping.
    """
    out = _resample_axis(x, size[0], scale[0], dim=-2)
    return _resample_axis(out, size[1], scale[1], dim=-1)


def _resample_axis(x: torch.Tensor, out_len: int, step: float, dim: int) -> torch.Tensor:
    in_len = x.shape[dim]
    pos = (torch.arange(out_len, device=x.device, dtype=torch.float64) + 0.5) * step - 0.5
    pos = pos.clamp(0, in_len - 1)
    lo = pos.floor().long().clamp(max=in_len - 1)
    hi = (lo + 1).clamp(max=in_len - 1)
    frac = (pos - lo).to(x.dtype)
    shape = [1] * x.dim()
    shape[dim] = out_len
    frac = frac.view(shape)
    a = x.index_select(dim, lo)
    b = x.index_select(dim, hi)
    return a + (b - a) * frac


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of each channel of [N, C, H, W], replicated border."""
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    out = F.pad(x, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def centered_gradient(img: torch.Tensor) -> torch.Tensor:
    """[N, 1, H, W] image -> [N, 2, H, W] (d/dx, d/dy), central differences, replicated border."""
    padded = F.pad(img, (1, 1, 1, 1), mode="replicate")
    dx = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
    dy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
    return torch.cat([dx, dy], dim=1)


def forward_gradient(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences of each channel, zero on the last column / row."""
    ux = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    uy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return ux, uy


def divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Backward-difference divergence of (px, py), as OpenCV's: minus the adjoint of
    forward_gradient for fields that are zero on the last column (px) / row (py), which the
    dual variables of the solver always are."""
    dx = px - F.pad(px[..., :, :-1], (1, 0))
    dy = py - F.pad(py[..., :-1, :], (0, 0, 1, 0))
    return dx + dy


def median_filter(x: torch.Tensor, ksize: int) -> torch.Tensor:
    """ksize x ksize median of each channel with replicated borders (cv2.medianBlur on floats).

    Exact, computed by a pruned sorting network of min/max operations over the ksize^2
    shifted views, which torch.compile fuses into a single pass over the image.
    """
    if ksize <= 1:
        return x
    r = ksize // 2
    h, w = x.shape[-2:]
    padded = F.pad(x, (r, r, r, r), mode="replicate")
    wires: list[torch.Tensor | None] = [
        padded[..., i : i + h, j : j + w] for i in range(ksize) for j in range(ksize)
    ]
    for a, b, need_min, need_max in MEDIAN_NETWORKS[ksize * ksize]:
        lo = torch.minimum(wires[a], wires[b]) if need_min else None
        hi = torch.maximum(wires[a], wires[b]) if need_max else None
        wires[a], wires[b] = lo, hi
    return wires[ksize * ksize // 2]


@functools.cache
def median_network(n: int) -> tuple[tuple[int, int, bool, bool], ...]:
    """Comparators (a, b, keep min on a, keep max on b) that bring the median of n wires to
    wire n // 2: Batcher's odd-even merge sort, pruned to what the middle wire depends on."""
    need = {n // 2}
    kept = []
    for a, b in reversed(_odd_even_merge_sort(n)):
        need_min, need_max = a in need, b in need
        if need_min or need_max:
            kept.append((a, b, need_min, need_max))
            need |= {a, b}
    return tuple(reversed(kept))


def median_network_code(n: int, lo: str, hi: str, both: str, end: str = "") -> list[str]:
    """The median network as statements of generated code over variables v0..v{n-1}: `lo` and
    `hi` format the min / max of v{a} and v{b}; `both` the statement(s) keeping both."""
    lines = []
    for a, b, need_min, need_max in median_network(n):
        small, large = lo.format(a=a, b=b), hi.format(a=a, b=b)
        if need_min and need_max:
            lines.append(both.format(a=a, b=b, lo=small, hi=large))
        elif need_min:
            lines.append(f"v{a} = {small}{end}")
        else:
            lines.append(f"v{b} = {large}{end}")
    return lines


def _odd_even_merge_sort(n: int) -> list[tuple[int, int]]:
    """Batcher's network for the next power of two >= n; comparators on padding wires dropped."""
    size = 1 << max(n - 1, 1).bit_length()
    pairs = []
    t = 1
    while t < size:
        k = t
        while k >= 1:
            for j in range(k % t, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * t) == b // (2 * t) and b < n:
                        pairs.append((a, b))
            k //= 2
        t *= 2
    return pairs


# Built at import, so torch.compile traces plain data rather than a cached function call.
MEDIAN_NETWORKS = {k * k: median_network(k * k) for k in (3, 5)}


def base_grid(height: int, width: int, device: torch.device) -> torch.Tensor:
    """[1, 2, H, W] pixel coordinates (x, y) of every pixel."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float32),
        torch.arange(width, device=device, dtype=torch.float32),
        indexing="ij",
    )
    return torch.stack([xs, ys]).unsqueeze(0)


# Sample positions are snapped to 1/32 px, as OpenCV 4's remap does (INTER_BITS = 5; OpenCV 5
# samples at float positions, and the flows then differ by about 0.02 px mean on Middlebury).
# It keeps a zero flow zero at the frame border, where the constant border would otherwise
# feed float rounding back into the data term, warp after warp, in static scenes.
REMAP_SUBPIXEL_STEPS = 32.0
FLT_EPSILON = float(torch.finfo(torch.float32).eps)  # below it |grad I|^2 counts as flat


def warp(images: torch.Tensor, flow: torch.Tensor, grid: torch.Tensor, mode: str) -> torch.Tensor:
    """Sample `images` [N, C, H, W] at x + flow(x); outside the frame reads 0 (OpenCV remap's
    default constant border). `mode` is 'bicubic' (Keys, a=-0.75, as OpenCV) or 'bilinear'."""
    _, _, h, w = images.shape
    pos = torch.round((grid + flow) * REMAP_SUBPIXEL_STEPS) / REMAP_SUBPIXEL_STEPS
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=flow.device)
    norm = (pos * scale.view(1, 2, 1, 1) - 1.0).permute(0, 2, 3, 1)
    return F.grid_sample(images, norm, mode=mode, padding_mode="zeros", align_corners=True)
