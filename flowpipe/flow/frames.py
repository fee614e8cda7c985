"""Checking and converting the gray frames handed to the solver."""

from __future__ import annotations

import numpy as np
import torch

from flowpipe.devices import resolve_device

# Smallest frame side the discretisation is defined for (OpenCV asserts rows, cols > 2).
MIN_FRAME_SIDE = 3


def to_gray_batch(frames: object, name: str, device: torch.device) -> torch.Tensor:
    """[H,W] or [B,H,W] uint8/float gray frames (numpy or torch) -> float32 [B,1,H,W] on device."""
    return gray_frames(frames, name).to(device=device, dtype=torch.float32)


def gray_frames(frames: object, name: str) -> torch.Tensor:
    """[H,W] or [B,H,W] uint8/float gray frames (numpy or torch), checked, as a tensor
    [B,1,H,W] where they are: uint8 kept (a quarter of float32's bytes to move), floats as
    float32. ValueError for what `tvl1_flow` refuses."""
    if isinstance(frames, np.ndarray):
        if frames.dtype != np.uint8 and not np.issubdtype(frames.dtype, np.floating):
            raise ValueError(
                f"{name}: dtype {frames.dtype} not supported; use uint8 or float gray 0..255"
            )
        tensor = torch.from_numpy(np.ascontiguousarray(frames))
    elif isinstance(frames, torch.Tensor):
        if frames.dtype != torch.uint8 and not frames.dtype.is_floating_point:
            raise ValueError(
                f"{name}: dtype {frames.dtype} not supported; use uint8 or float gray 0..255"
            )
        tensor = frames.detach()
    else:
        raise ValueError(
            f"{name}: expected a numpy array or torch tensor, got {type(frames).__name__}"
        )
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 3:
        raise ValueError(
            f"{name}: expected [H,W] or [B,H,W] gray frames, got shape {tuple(tensor.shape)}"
            " (convert colour frames to gray first)"
        )
    b, h, w = tensor.shape
    if b == 0 or h < MIN_FRAME_SIDE or w < MIN_FRAME_SIDE:
        raise ValueError(
            f"{name}: empty or too small frames, shape {tuple(tensor.shape)}"
            f" (need at least one frame of {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} pixels)"
        )
    if tensor.dtype != torch.uint8:
        tensor = tensor.float()
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{name}: frames contain NaN or infinite values")
    return tensor.unsqueeze(1)


def check_pair(prev: torch.Tensor, nxt: torch.Tensor) -> None:
    """Both batches must have the same number and size of frames."""
    if prev.shape != nxt.shape:
        raise ValueError(
            f"prev and nxt differ in shape: {tuple(prev.shape[i] for i in (0, 2, 3))} vs "
            f"{tuple(nxt.shape[i] for i in (0, 2, 3))} ([B,H,W])"
        )


__all__ = ["MIN_FRAME_SIDE", "check_pair", "gray_frames", "resolve_device", "to_gray_batch"]
