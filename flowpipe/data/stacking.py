"""Flow stacks: simple stacking and trajectory stacking (Simonyan & Zisserman 2014, sec. 3.1).

Both take a stack's fields as stored codes (uint8 [n, 2, H, W]) and a `View`, and return
float32 [n, 2, S, S] displacements in output pixels:

- simple: field k sampled at the view's pixel grid (a plain crop is a slice, no resampling);
- trajectory: along each chain of fields, p_1 = the grid point, channel k samples its field at
  p_k (bilinear) and p_{k+1} = p_k + d_k(p_k), clamped to the frame; all points at once.

A resized view scales x and y values by its resize factors; a mirrored view mirrors the
stack and negates x.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from flowpipe.codec import dequantize
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


def _grid(view: View) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel positions [S, S] of the view's output pixels (x, y)."""
    xs, ys = (torch.from_numpy(a) for a in view.grid())
    return xs[None, :].expand(view.size, -1), ys[:, None].expand(-1, view.size)


def region(planes: torch.Tensor, view: View) -> torch.Tensor:
    """The view's box of planes [C, H, W]: a slice (same dtype) or, when resized, bilinear
    samples (float32). Not mirrored."""
    if not view.resized:
        return planes[:, view.y0 : view.y0 + view.size, view.x0 : view.x0 + view.size]
    return _sample(planes.float(), *_grid(view))


def _finish_flow(stack: torch.Tensor, view: View) -> torch.Tensor:
    """Scale values for a resized view; mirror and negate x for a flipped one."""
    if view.resized:
        sx, sy = view.scale()
        stack[:, 0] *= sx
        stack[:, 1] *= sy
    if view.flip:
        stack = stack.flip(-1)
        stack[:, 0].neg_()
    return stack.contiguous()


def simple_stack(codes: np.ndarray, bound: float, view: View) -> torch.Tensor:
    """Simple stacking: every field at the same pixels of the view (dequantised after the
    crop; resampling commutes with the affine dequantisation)."""
    n, _, height, width = codes.shape
    planes = torch.from_numpy(codes).reshape(n * 2, height, width)
    values = dequantize(region(planes, view), bound)
    return _finish_flow(values.reshape(n, 2, view.size, view.size), view)


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
    """Trajectory stacking: each chain of fields followed from the view's grid points."""
    n, _, height, width = codes.shape
    fields = dequantize(torch.from_numpy(codes), bound)
    out = torch.empty(n, 2, view.size, view.size)
    start_x, start_y = _grid(view)
    for chain in chains:
        px, py = start_x, start_y
        for k in chain:
            d = _sample(fields[k], px, py)
            out[k] = d
            px = (px + d[0]).clamp_(0, width - 1)
            py = (py + d[1]).clamp_(0, height - 1)
    return _finish_flow(out, view)
