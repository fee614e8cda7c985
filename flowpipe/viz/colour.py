"""Flow pictures: the Middlebury colour coding (Baker et al., IJCV 2011).

Hue gives the direction (right red, down yellow, left cyan, up violet; image y down), and
saturation the magnitude relative to a maximum: zero flow is white, the maximum full colour.
"""

from __future__ import annotations

import functools

import numpy as np

# Number of hues between the primary and secondary colours of the wheel (Baker et al.).
_WHEEL_SEGMENTS = (("RY", 15), ("YG", 6), ("GC", 4), ("CB", 11), ("BM", 13), ("MR", 6))
ROBUST_PERCENTILE = 99.0


@functools.cache
def colour_wheel() -> np.ndarray:
    """[55, 3] float RGB colours in 0..1 around the wheel, starting at red (flow pointing right)."""
    ramps = []
    colour = np.array([1.0, 0.0, 0.0])
    # Each segment ramps one channel up or down: R->Y raises G, Y->G lowers R, and so on.
    moves = ((1, +1), (0, -1), (2, +1), (1, -1), (0, +1), (2, -1))
    for (_, count), (channel, sign) in zip(_WHEEL_SEGMENTS, moves, strict=True):
        for i in range(count):
            c = colour.copy()
            c[channel] = i / count if sign > 0 else 1 - i / count
            ramps.append(c)
        colour[channel] = 1.0 if sign > 0 else 0.0
    return np.array(ramps)


def robust_max_magnitude(flow: np.ndarray) -> float:
    """The 99th percentile of |flow| over finite pixels (ignores a few outliers); >= 1e-6."""
    mag = np.linalg.norm(flow, axis=-1)
    mag = mag[np.isfinite(mag)]
    return max(float(np.percentile(mag, ROBUST_PERCENTILE)) if mag.size else 0.0, 1e-6)


def flow_to_colour(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """[H, W, 2] flow -> [H, W, 3] uint8 RGB picture; beyond `max_magnitude` the colour is dimmed.

    `max_magnitude` defaults to the robust maximum of this flow. Non-finite pixels are black.
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"flow must have shape [H, W, 2], got {flow.shape}")
    scale = robust_max_magnitude(flow) if max_magnitude is None else float(max_magnitude)
    if not scale > 0:
        raise ValueError(f"max_magnitude must be positive, got {max_magnitude!r}")
    finite = np.isfinite(flow).all(axis=-1)
    fx, fy = (np.where(finite, flow[..., k], 0.0) / scale for k in (0, 1))
    radius = np.hypot(fx, fy)
    wheel = colour_wheel()
    n = len(wheel)
    pos = (np.arctan2(-fy, -fx) / np.pi + 1) / 2 * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = (lo + 1) % n
    frac = (pos - lo)[..., None]
    colour = (1 - frac) * wheel[lo] + frac * wheel[hi]
    inside = (radius <= 1)[..., None]
    r = radius[..., None]
    colour = np.where(inside, 1 - r * (1 - colour), colour * 0.75)
    colour[~finite] = 0.0
    return np.clip(np.round(colour * 255), 0, 255).astype(np.uint8)


def wheel_legend(size: int = 96) -> np.ndarray:
    """[size, size, 3] uint8 RGB key of the coding: a disc of flows up to the maximum (rim).

    The centre is zero flow (white), the rim a flow of the normalising magnitude; the corners
    outside the disc are white background.
    """
    if size < 8:
        raise ValueError(f"legend size must be at least 8 px, got {size}")
    axis = (np.arange(size) + 0.5) / size * 2 - 1
    flow = np.stack(np.meshgrid(axis, axis), axis=-1)
    legend = flow_to_colour(flow, max_magnitude=1.0)
    legend[np.hypot(flow[..., 0], flow[..., 1]) > 1] = 255
    return legend
