"""Flow stacks: simple stacking and trajectory stacking (Simonyan & Zisserman 2014, sec. 3.1).

Both take a stack's fields as stored codes (uint8 [n, 2, H, W]) and a `View`, and return
float32 [n, 2, S, S] displacements in output pixels:

- simple: field k sampled at the view's pixel grid (a plain crop is a slice, no resampling:
  each plane's box is mirrored as uint8 and dequantised by a 256-entry table, x negated by a
  negated table);
- trajectory: along each chain of fields, p_1 = the grid point, channel k samples its field at
  p_k (bilinear, cv2.remap) and p_{k+1} = p_k + d_k(p_k), clamped to the frame; all points
  at once.

A plain box is looked up in one native loop (`native_stacks`) where a C compiler is there.

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

from flowpipe.codec import dequantize
from flowpipe.data import native_stacks
from flowpipe.data.transforms import View


def _sample(planes: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of float planes [C, H, W] at pixel positions px, py [S, S] -> [C, S, S];
    positions outside the frame take the border's value (clamped)."""
    _, height, width = planes.shape
    gx = px * (2.0 / max(width - 1, 1)) - 1.0
    gy = py * (2.0 / max(height - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)[None]
    out = F.grid_sample(planes[None], grid, mode="bilinear", padding_mode="border",
                        align_corners=True)  # fmt: skip
    return out[0]


def _positions(view: View, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    """Source positions (x, y: float32 [S, S]) of the view's output pixels; columns reversed
    when mirrored, so sampling there gives the mirrored box directly."""
    xs, ys = view.grid()
    return np.meshgrid(xs[::-1] if mirrored else xs, ys)


def _sample_at(planes: torch.Tensor, view: View, mirrored: bool) -> torch.Tensor:
    """Bilinear samples of float planes [C, H, W] at the view's output pixels -> [C, S, S]."""
    return _sample(planes, *(torch.from_numpy(a) for a in _positions(view, mirrored)))


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


def _box_values(
    codes: np.ndarray, view: View, tables: tuple[np.ndarray, np.ndarray], out: np.ndarray
) -> np.ndarray:
    """out[k, c] = the view's box (not resized) of plane [k, c] of codes, mirrored when the view
    is, looked up in tables[c]: one native loop, else a uint8 flip and a LUT call per plane."""
    if native_stacks.library() is not None:
        native_stacks.box_values(np.ascontiguousarray(codes), (view.x0, view.y0, view.size),
                                 view.flip, tables, out)  # fmt: skip
        return out
    box = codes[:, :, view.y0 : view.y0 + view.size, view.x0 : view.x0 + view.size]
    for k, c in np.ndindex(*box.shape[:2]):
        plane = cv2.flip(box[k, c], 1) if view.flip else box[k, c]
        cv2.LUT(plane, tables[c], dst=out[k, c])
    return out


def _finish_flow(stack: np.ndarray, view: View) -> torch.Tensor:
    """In place: scale values for a resized view; negate x for a mirrored one (its samples are
    already in mirrored order)."""
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


def simple_stack(codes: np.ndarray, bound: float, view: View) -> torch.Tensor:
    """Simple stacking: every field at the same pixels of the view (a resized box is resampled
    first: resampling commutes with the affine dequantisation)."""
    n, _, height, width = codes.shape
    if not view.resized:
        table, negated = _tables(bound)
        tables = (negated, table) if view.flip else (table, table)
        return torch.from_numpy(_box_values(codes, view, tables, _output(n, view)))
    planes = torch.from_numpy(codes).reshape(n * 2, height, width).float()
    values = dequantize(_sample_at(planes, view, view.flip), bound)
    return _finish_flow(values.reshape(n, 2, view.size, view.size).numpy(), view)


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


def trajectory_stack(
    codes: np.ndarray, bound: float, view: View, chains: Sequence[Sequence[int]]
) -> torch.Tensor:
    """Trajectory stacking: each chain of fields followed from the view's grid points (the
    first field of a chain at the grid of a plain crop is its box: looked up, not sampled)."""
    n, _, height, width = codes.shape
    table = _tables(bound)[0]
    fields = cv2.LUT(codes.reshape(-1, width), table).reshape(n, 2, height, width)  # one call
    out = _output(n, view)
    for chain in chains:
        px, py = _positions(view, view.flip)
        for step, k in enumerate(chain):
            if step == 0 and not view.resized:
                _box_values(codes[k : k + 1], view, (table, table), out[k : k + 1])
            else:
                for c in range(2):
                    cv2.remap(fields[k, c], px, py, cv2.INTER_LINEAR, dst=out[k, c],
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
            np.clip(np.add(px, out[k, 0], out=px), 0, width - 1, out=px)
            np.clip(np.add(py, out[k, 1], out=py), 0, height - 1, out=py)
    return _finish_flow(out, view)
