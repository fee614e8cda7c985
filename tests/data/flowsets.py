"""Flow datasets with known answers, written in the on-disk format v1 (tests of the loaders)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from flowpipe.storage import DatasetStore, backward_names, flow_names, image_name
from flowpipe.storage.codec import dequantize, encode_jpeg, encode_rgb_jpeg, quantize


def affine_field(matrix: np.ndarray, size: tuple[int, int], centre: tuple[float, float]):
    """[H, W, 2] displacement d(p) = M (p - c) at every pixel p = (x, y)."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    rel = np.stack([xs - centre[0], ys - centre[1]], axis=-1)
    return (rel @ np.asarray(matrix, np.float64).T).astype(np.float32)


def rotation_field(angle: float, size: tuple[int, int]) -> np.ndarray:
    """Displacement of a rotation by `angle` (radians) about the frame centre."""
    c, s = np.cos(angle), np.sin(angle)
    return affine_field(np.array([[c - 1, -s], [s, c - 1]]), size, _centre(size))


def zoom_field(rate: float, size: tuple[int, int]) -> np.ndarray:
    """Displacement of a zoom by 1 + rate about the frame centre."""
    return affine_field(np.eye(2) * rate, size, _centre(size))


def constant_field(u: float, v: float, size: tuple[int, int]) -> np.ndarray:
    """The same displacement (u, v) at every pixel."""
    width, height = size
    return np.broadcast_to(np.array([u, v], np.float32), (height, width, 2)).copy()


def _centre(size: tuple[int, int]) -> tuple[float, float]:
    return (size[0] - 1) / 2, (size[1] - 1) / 2


def stored(field: np.ndarray, bound: float) -> np.ndarray:
    """The field as the format stores it (quantised, before JPEG)."""
    return dequantize(quantize(field, bound), bound)


def _planes(field: np.ndarray, bound: float) -> tuple[bytes, bytes]:
    q = quantize(field, bound)
    return encode_jpeg(q[..., 0]), encode_jpeg(q[..., 1])


def write_video(
    root: Path,
    video_id: str,
    forward: list[np.ndarray],
    backward: list[np.ndarray] | None = None,
    label: int = 0,
    bound: float = 20.0,
    frames: list[np.ndarray] | None = None,
    pack: str = "folder",
) -> None:
    """One finished video: forward (and backward) fields [H, W, 2], RGB frames if given."""
    height, width = forward[0].shape[:2]
    files = {}
    for k, field in enumerate(forward, 1):
        files.update(zip(flow_names(k), _planes(field, bound), strict=True))
    for k, field in enumerate(backward or [], 1):
        files.update(zip(backward_names(k), _planes(field, bound), strict=True))
    for k, rgb in enumerate(frames or [], 1):
        files[image_name(k)] = encode_rgb_jpeg(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    meta = {
        "video_id": video_id,
        "label": label,
        "frames": len(forward) + 1,
        "flows": len(forward),
        "size": [width, height],
        "settings": {"bound": bound, "backward": backward is not None, "rgb": frames is not None},
    }
    DatasetStore(str(root), pack).write_video(video_id, files, meta)


def write_labels(root: Path, rows: list[tuple[str, int, int]]) -> None:
    """videos.txt of the dataset ("<id> <flows> <label>")."""
    DatasetStore(str(root)).write_video_list(rows)
