"""Flow quantisation (float <-> uint8) and the JPEG codec of the on-disk format (v1).

Quantisation: ``q = round((clip(v, -b, b) + b) * 255 / (2b))``, decoded as
``v = q * 2b / 255 - b``. Both numpy arrays and torch tensors (any device) are handled, in
float32 with the same operation order, and ``round`` is round-half-to-even for both kinds
(numpy ``rint`` and ``torch.round`` agree), so ``v = 0`` maps to 128 (127.5 -> 128) and
numpy and torch give identical codes. NaN is stored as 0 flow (code 128 for the default
bound); +-inf clip to the bound.

JPEG: 8-bit gray via ``cv2.imencode`` (libjpeg-turbo), so the bytes equal ``cv2.imwrite``'s.
``decode_jpeg`` checks the end-of-image marker itself: depending on the OpenCV build, libjpeg
may silently decode a truncated file (filling the missing rows with gray); OpenCV 5 refuses it.
"""

from __future__ import annotations

from typing import TypeVar

import cv2
import numpy as np
import torch

from flowpipe.checks import integer, positive_number

DEFAULT_BOUND = 20.0
DEFAULT_QUALITY = 95

_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


class CodecError(ValueError):
    """Data that cannot be decoded as the JPEG it should be (one-line message)."""


def _check_bound(bound: float) -> float:
    """Return bound as a float; ValueError unless it is finite and > 0."""
    return positive_number("bound", bound)


def quantization_step(bound: float = DEFAULT_BOUND) -> float:
    """Flow difference between two neighbouring codes: 2b/255."""
    return 2.0 * _check_bound(bound) / 255.0


def quantize(flow: ArrayT, bound: float = DEFAULT_BOUND) -> ArrayT:
    """Clip flow to [-b, b] and map it to uint8 codes 0..255 (same kind and device)."""
    b = _check_bound(bound)
    if isinstance(flow, torch.Tensor):
        v = flow.detach().to(torch.float32)
        v = torch.nan_to_num(v, nan=0.0).clamp(-b, b)
        # A tensor divisor: CUDA turns division by a Python scalar into a multiplication by
        # its reciprocal, which moves exact ties (v = 0 -> 127.5) off .5.
        two_b = torch.tensor(2.0 * b, dtype=torch.float32, device=v.device)
        q = torch.div((v + b) * 255.0, two_b).round_().clamp_(0, 255)
        return q.to(torch.uint8)
    v = np.asarray(flow, dtype=np.float32)
    v = np.clip(np.nan_to_num(v, nan=0.0), np.float32(-b), np.float32(b))
    q = np.rint((v + np.float32(b)) * np.float32(255.0) / np.float32(2.0 * b))
    return np.clip(q, 0, 255).astype(np.uint8)


def dequantize(q: ArrayT, bound: float = DEFAULT_BOUND) -> ArrayT:
    """Map uint8 codes back to float32 flow: q * 2b / 255 - b (same kind and device)."""
    b = _check_bound(bound)
    if isinstance(q, torch.Tensor):
        denom = torch.tensor(255.0, dtype=torch.float32, device=q.device)
        return torch.div(q.detach().to(torch.float32) * (2.0 * b), denom) - b
    v = np.asarray(q).astype(np.float32)
    return v * np.float32(2.0 * b) / np.float32(255.0) - np.float32(b)


def dequantize_affine(bound: float = DEFAULT_BOUND) -> tuple[float, float]:
    """(scale, offset): dequantize(q) = q * scale + offset up to float rounding. The map is
    affine, so it commutes with interpolation: codes may be interpolated first."""
    b = _check_bound(bound)
    return 2.0 * b / 255.0, -b


def _check_quality(quality: int) -> int:
    """Return quality as an int; ValueError unless it is an integer in 1..100."""
    return integer("JPEG quality", quality, 1, 100)


def _check_image(img: np.ndarray, channels: int) -> np.ndarray:
    """Validate a uint8 [H,W] (channels 1) or [H,W,C] image; return it C-contiguous."""
    if not isinstance(img, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(img).__name__}")
    want = "[H, W]" if channels == 1 else f"[H, W, {channels}]"
    ok_shape = img.ndim == 2 if channels == 1 else img.ndim == 3 and img.shape[2] == channels
    if not ok_shape or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"image must have shape {want}, got {list(img.shape)}")
    if img.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {img.dtype}")
    return np.ascontiguousarray(img)


def _imencode(img: np.ndarray, quality: int) -> bytes:
    """cv2.imencode to JPEG at the given quality; CodecError when OpenCV refuses."""
    params = [cv2.IMWRITE_JPEG_QUALITY, _check_quality(quality)]
    try:
        ok, buf = cv2.imencode(".jpg", img, params)
    except cv2.error as exc:
        raise CodecError(f"JPEG encoding failed for a {list(img.shape)} image: {exc}") from None
    if not ok:
        raise CodecError(f"JPEG encoding failed for a {list(img.shape)} image")
    return buf.tobytes()


def encode_jpeg(gray: np.ndarray, quality: int = DEFAULT_QUALITY) -> bytes:
    """Encode a uint8 [H, W] plane as an 8-bit gray JPEG."""
    return _imencode(_check_image(gray, 1), quality)


def encode_rgb_jpeg(bgr: np.ndarray, quality: int = DEFAULT_QUALITY) -> bytes:
    """Encode a uint8 [H, W, 3] BGR image (OpenCV order) as a colour JPEG."""
    return _imencode(_check_image(bgr, 3), quality)


def check_jpeg_bytes(data: bytes, name: str = "<bytes>") -> None:
    """CodecError naming `name` unless data holds a whole JPEG stream (start and end markers)."""
    if not data:
        raise CodecError(f"{name}: empty JPEG data")
    if not data.startswith(_SOI):
        raise CodecError(f"{name}: not a JPEG (no start-of-image marker)")
    if not data.rstrip(b"\x00").endswith(_EOI):
        raise CodecError(f"{name}: truncated JPEG (no end-of-image marker)")


def decode_jpeg(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode JPEG bytes to uint8 [H, W] (gray) or [H, W, 3] (BGR); CodecError naming `name`."""
    data = bytes(data)
    check_jpeg_bytes(data, name)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is None:
        raise CodecError(f"{name}: corrupt JPEG data ({len(data)} bytes)")
    return img
