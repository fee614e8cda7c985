"""Pictures of one flow field: colour coding with its wheel key, x/y gray planes, arrows."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from flowpipe.io import known_flow_mask, read_flo
from flowpipe.viz.colour import flow_to_colour, robust_max_magnitude
from flowpipe.viz.key import flow_key

GAP = 4  # px of white between the panels of a picture
ARROW_COLOUR = (0, 0, 0)


def hstack(images: list[np.ndarray], gap: int = GAP, fill: int = 255) -> np.ndarray:
    """RGB images side by side, top-aligned, `gap` px apart on a `fill` background."""
    height = max(im.shape[0] for im in images)
    width = sum(im.shape[1] for im in images) + gap * (len(images) - 1)
    out = np.full((height, width, 3), fill, np.uint8)
    x = 0
    for im in images:
        out[: im.shape[0], x : x + im.shape[1]] = im
        x += im.shape[1] + gap
    return out


def gray_plane(component: np.ndarray, max_magnitude: float) -> np.ndarray:
    """One flow component as an RGB gray picture: mid-gray 0, white +max, black -max."""
    level = np.clip(127.5 + np.nan_to_num(component) * 127.5 / max_magnitude, 0, 255)
    return np.repeat(np.round(level).astype(np.uint8)[..., None], 3, axis=-1)


def draw_quiver(picture: np.ndarray, flow: np.ndarray, step: int, max_magnitude: float) -> None:
    """Draw an arrow every `step` px onto picture (in place); a flow of max_magnitude spans step."""
    scale = step / max_magnitude
    height, width = flow.shape[:2]
    for y in range(step // 2, height, step):
        for x in range(step // 2, width, step):
            fx, fy = flow[y, x]
            if not (np.isfinite(fx) and np.isfinite(fy)) or np.hypot(fx, fy) * scale < 1:
                continue
            tip = (int(round(x + fx * scale)), int(round(y + fy * scale)))
            cv2.arrowedLine(picture, (x, y), tip, ARROW_COLOUR, 1, cv2.LINE_AA, tipLength=0.3)


def flow_picture(
    flow: np.ndarray,
    max_magnitude: float | None = None,
    planes: bool = False,
    quiver: int = 0,
    legend: bool = True,
) -> np.ndarray:
    """RGB picture of a flow [H, W, 2]: the colour coding (arrows every `quiver` px if > 0),
    then x and y gray planes if asked, then the key (the wheel with the magnitude at full
    saturation, in px); unknown (>= 1e9) flow is black."""
    flow = np.where(known_flow_mask(flow)[..., None], flow, np.nan).astype(np.float32)
    scale = robust_max_magnitude(flow) if max_magnitude is None else float(max_magnitude)
    colour = flow_to_colour(flow, scale)
    if quiver:
        draw_quiver(colour, flow, quiver, scale)
    panels = [colour]
    if planes:
        panels += [gray_plane(flow[..., 0], scale), gray_plane(flow[..., 1], scale)]
    if legend:
        panels.append(flow_key(flow.shape[0], scale))
    return hstack(panels)


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write an RGB picture to a PNG file (parent folders made); ValueError when it cannot."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: the picture must be a .png file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise ValueError(f"{path}: could not write the picture")
    return path


def render_flo(
    flo: str | os.PathLike,
    output: str | os.PathLike,
    max_magnitude: float | None = None,
    planes: bool = False,
    quiver: int = 0,
    legend: bool = True,
) -> Path:
    """A .flo file -> its picture (see flow_picture) written to a .png; returns the path."""
    if max_magnitude is not None and not max_magnitude > 0:
        raise ValueError(f"max magnitude must be positive, got {max_magnitude}")
    if quiver < 0:
        raise ValueError(f"quiver step must be >= 0 px, got {quiver}")
    picture = flow_picture(read_flo(flo), max_magnitude, planes, quiver, legend)
    return write_png(output, picture)
