"""Flow stacks: simple stacking and trajectory stacking (Simonyan & Zisserman 2014, sec. 3.1).

Both read a stack's fields as stored codes (`FlowPlanes`: uint8 boxes of the frame, decoded
on demand) through a `View`, and return float32 [n, 2, S, S] displacements in output pixels:

- simple: field k sampled at the view's pixel grid (a plain crop is its box, decoded alone,
  mirrored as uint8 and dequantised, x negated when mirrored);
- trajectory: along each chain of fields, p_1 = the grid point, channel k samples its field at
  p_k (bilinear) and p_{k+1} = p_k + d_k(p_k), clamped to the frame; all points at once, and
  each step decodes only the box its points visit.

Native loops (`native_loader`) do the lookups and chains where a C compiler and libjpeg are
there, OpenCV otherwise, for the same values.

A resized view scales x and y values by its resize factors; a mirrored view mirrors the
stack and negates x.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from flowpipe.data import native_loader
from flowpipe.data.planes import FlowPlanes
from flowpipe.data.transforms import Box, View
from flowpipe.storage.codec import dequantize, dequantize_affine


def _sample(planes: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of float planes [C, H, W] at pixel positions px, py [S, S] -> [C, S, S];
    positions outside the frame take the border's value (clamped)."""
    _, height, width = planes.shape
    gx = px * (2.0 / max(width - 1, 1)) - 1.0
    gy = py * (2.0 / max(height - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)[None]
    out = F.grid_sample(
        planes[None], grid, mode="bilinear", padding_mode="border", align_corners=True
    )
    return out[0]


def _positions(view: View, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    """Source positions (x, y: float32 [S, S]) of the view's output pixels; columns reversed
    when mirrored, so sampling there gives the mirrored box directly."""
    xs, ys = view.grid()
    return np.meshgrid(xs[::-1] if mirrored else xs, ys)


def _sample_at(
    planes: torch.Tensor, view: View, mirrored: bool, origin: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Bilinear samples of float planes [C, H, W] (whose corner is source pixel `origin`) at
    the view's output pixels -> [C, S, S]."""
    px, py = _positions(view, mirrored)
    return _sample(planes, torch.from_numpy(px - origin[0]), torch.from_numpy(py - origin[1]))


def region(planes: torch.Tensor, view: View) -> torch.Tensor:
    """The view's box of planes [C, H, W]: a slice (same dtype) or, when resized, bilinear
    samples (float32). Not mirrored."""
    if not view.resized:
        return planes[:, view.y0 : view.y0 + view.size, view.x0 : view.x0 + view.size]
    return _sample_at(planes.float(), view, False)


@functools.lru_cache(maxsize=8)
def _tables(bound: float) -> tuple[np.ndarray, np.ndarray]:
    """Displacement of each of the 256 codes (codec.dequantize's exact values) and its negation."""
    table = dequantize(np.arange(256, dtype=np.uint8), bound)
    return table, -table


def _centre(stack: np.ndarray) -> np.ndarray:
    """In place: each plane of [n, 2, S, S] minus its mean (the paper's mean flow subtraction)."""
    stack -= stack.mean(axis=(-2, -1), keepdims=True)
    return stack


def _box_values(
    codes: np.ndarray, flip: bool, bound: float, centre: bool, out: np.ndarray
) -> np.ndarray:
    """out[k, c] = square box codes[k, c] dequantised, mirrored and x negated when flip, each
    plane's mean subtracted when centre: one native loop, else a uint8 flip and a LUT call
    per plane."""
    if native_loader.library() is not None:
        native_loader.box_values(codes, flip, bound, centre, out)
        return out
    table, negated = _tables(bound)
    tables = (negated, table) if flip else (table, table)
    for k, c in np.ndindex(*codes.shape[:2]):
        plane = cv2.flip(codes[k, c], 1) if flip else codes[k, c]
        cv2.LUT(plane, tables[c], dst=out[k, c])
    return _centre(out) if centre else out


def _finish_flow(stack: np.ndarray, view: View) -> torch.Tensor:
    """In place: scale values for a resized view; negate x for a mirrored one (its samples are
    already in mirrored order). Both commute with mean subtraction."""
    if view.resized:
        sx, sy = view.scale()
        stack[:, 0] *= sx
        stack[:, 1] *= sy
    if view.flip:
        np.negative(stack[:, 0], out=stack[:, 0])
    return torch.from_numpy(stack)


def _output(n: int, view: View) -> np.ndarray:
    """An uninitialised float32 [n, 2, S, S] stack."""
    return np.empty((n, 2, view.size, view.size), np.float32)


def _covering_box(view: View, frame: tuple[int, int]) -> Box:
    """The view's box grown by a pixel on each side (bilinear neighbours), inside the frame."""
    h, w = frame
    x0, y0 = max(view.x0 - 1, 0), max(view.y0 - 1, 0)
    x1, y1 = min(view.x0 + view.width + 1, w), min(view.y0 + view.height + 1, h)
    return (x0, y0, x1 - x0, y1 - y0)


def simple_stack(
    source: FlowPlanes, bound: float, view: View, centre: bool = False
) -> torch.Tensor:
    """Simple stacking: every field at the same pixels of the view (a resized box is resampled
    first: resampling commutes with the affine dequantisation); centre subtracts each plane's
    mean."""
    if not view.resized:
        codes = source.codes((view.x0, view.y0, view.size, view.size))
        out = _output(len(source), view)
        return torch.from_numpy(_box_values(codes, view.flip, bound, centre, out))
    box = _covering_box(view, source.frame)
    codes = torch.from_numpy(np.ascontiguousarray(source.codes(box)))
    planes = codes.reshape(-1, box[3], box[2]).float()
    values = dequantize(_sample_at(planes, view, view.flip, box[:2]), bound)
    values = values.reshape(-1, 2, view.size, view.size).numpy()
    return _finish_flow(_centre(values) if centre else values, view)


def image_view(image: np.ndarray, view: View) -> torch.Tensor:
    """uint8 [H, W, C] image -> float32 [C, S, S] in 0..1: the view's box, resized, mirrored."""
    out = region(torch.from_numpy(image).permute(2, 0, 1), view).float() / 255.0
    return (out.flip(-1) if view.flip else out).contiguous()


def chains_of(fields: Sequence[tuple[int, bool]]) -> list[list[int]]:
    """Positions of a stack's fields in the order trajectories traverse them: forward fields
    from τ onwards, backward fields from τ-1 back in time (each chain starts at frame τ)."""
    order = sorted(range(len(fields)), key=lambda i: fields[i][0])
    forward = [i for i in order if not fields[i][1]]
    backward = [i for i in reversed(order) if fields[i][1]]
    return [c for c in (forward, backward) if c]


def _chains_with_opencv(
    codes: np.ndarray,
    bound: float,
    chains: Sequence[Sequence[int]],
    view: View,
    out: np.ndarray,
    centre: bool,
) -> None:
    """The chains over decoded codes [n, 2, H, W] with cv2.remap (machines without the native
    loops): every field dequantised by one table lookup, then sampled at the points."""
    n, _, h, w = codes.shape
    fields = cv2.LUT(codes.reshape(-1, w), _tables(bound)[0]).reshape(n, 2, h, w)
    for chain in chains:
        px, py = _start_points(view, (h, w))
        for k in chain:
            for c in range(2):
                cv2.remap(
                    fields[k, c],
                    px,
                    py,
                    cv2.INTER_LINEAR,
                    dst=out[k, c],
                    borderMode=cv2.BORDER_REPLICATE,
                )
            np.clip(np.add(px, out[k, 0], out=px), 0, w - 1, out=px)
            np.clip(np.add(py, out[k, 1], out=py), 0, h - 1, out=py)
    if centre:
        _centre(out)


def _chain_native(
    source: FlowPlanes,
    chain: Sequence[int],
    affine: tuple[float, float],
    points: tuple[np.ndarray, np.ndarray],
    out: np.ndarray,
    centre: bool,
) -> None:
    """The chain in one native call, from the JPEG bytes or the decoded planes."""
    planes = [2 * k + c for k in chain for c in range(2)]
    data, names = source.native_planes(planes)
    outs = [out[p // 2, p % 2] for p in planes]
    native_loader.trajectory_chain(data, names, source.frame, affine, points, outs, centre)


def _start_points(view: View, frame: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The view's grid points (px, py: float32 [S, S]), clamped to the frame (the border's
    value is what bilinear sampling outside it gives)."""
    h, w = frame
    px, py = (np.ascontiguousarray(p, np.float32) for p in _positions(view, view.flip))
    return np.clip(px, 0, w - 1, out=px), np.clip(py, 0, h - 1, out=py)


def trajectory_stack(
    source: FlowPlanes,
    bound: float,
    view: View,
    chains: Sequence[Sequence[int]],
    centre: bool = False,
) -> torch.Tensor:
    """Trajectory stacking: each chain of fields followed from the view's grid points, each
    step decoding only the box of the field its points visit; centre subtracts each plane's
    mean."""
    frame = source.frame
    if min(frame) < 2:
        raise ValueError(f"trajectory stacking needs frames of 2x2 pixels or more, got {frame}")
    out = _output(len(source), view)
    if native_loader.library() is None:
        codes = np.ascontiguousarray(source.codes())
        _chains_with_opencv(codes, bound, chains, view, out, centre)
        return _finish_flow(out, view)
    affine = dequantize_affine(bound)
    for chain in chains:
        _chain_native(source, chain, affine, _start_points(view, frame), out, centre)
    return _finish_flow(out, view)
