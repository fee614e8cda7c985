"""Middlebury `.flo` files: float32 flow [H, W, 2] (x, y) with a small header.

Layout: float32 magic 202021.25, int32 width, int32 height, then width*height (x, y) float32
pairs row by row, little-endian. Values >= 1e9 mark unknown flow in ground-truth files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

FLO_MAGIC = np.float32(202021.25)
UNKNOWN_FLOW_THRESHOLD = 1e9
_MAX_SIDE = 1 << 16


class FloError(ValueError):
    """A file that is not a valid Middlebury .flo."""


def read_flo(path: str | os.PathLike) -> np.ndarray:
    """Read a .flo file into float32 [H, W, 2]; FloError on a bad magic, size or length."""
    data = Path(path).read_bytes()
    if len(data) < 12:
        raise FloError(f"{path}: too short for a .flo header ({len(data)} bytes)")
    magic = np.frombuffer(data, "<f4", 1)[0]
    if magic != FLO_MAGIC:
        raise FloError(f"{path}: bad .flo magic {magic!r} (expected 202021.25)")
    width, height = (int(v) for v in np.frombuffer(data, "<i4", 2, offset=4))
    if not (0 < width < _MAX_SIDE and 0 < height < _MAX_SIDE):
        raise FloError(f"{path}: implausible .flo size {width}x{height}")
    expected = 12 + 8 * width * height
    if len(data) != expected:
        raise FloError(f"{path}: {len(data)} bytes, expected {expected} for {width}x{height} flow")
    flow = np.frombuffer(data, "<f4", 2 * width * height, offset=12)
    return flow.reshape(height, width, 2).astype(np.float32)


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> None:
    """Write float [H, W, 2] flow as .flo, atomically (temp file, then rename)."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[0] == 0 or flow.shape[1] == 0:
        raise ValueError(f"flow must have shape [H, W, 2], got {flow.shape}")
    height, width = flow.shape[:2]
    header = np.array([FLO_MAGIC], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    write_file_atomic(path, header + np.ascontiguousarray(flow, "<f4").tobytes())


def write_file_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write data to path through a temporary file in the same folder and os.replace, so no
    reader sees a partial file; the file gets the permissions the umask gives a new file
    (mkstemp's own are 0600). FileNotFoundError when the folder does not exist."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder not found: {path.parent} (for {path.name})")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (read by setting it and back: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def known_flow_mask(flow: np.ndarray) -> np.ndarray:
    """[H, W] bool: pixels whose ground-truth flow is known (both components below 1e9)."""
    return (np.abs(flow) < UNKNOWN_FLOW_THRESHOLD).all(axis=-1)


def endpoint_error(flow: np.ndarray, reference: np.ndarray) -> float:
    """Average end-point error (px) of `flow` against `reference` [H, W, 2], on known pixels."""
    mask = known_flow_mask(reference)
    if not mask.any():
        raise ValueError("the reference flow has no known pixels")
    return float(np.linalg.norm(flow - reference, axis=-1)[mask].mean())
