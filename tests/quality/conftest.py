"""Flow pairs for the consistency tests: forward and backward TV-L1 flow of synthetic clips."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from flowpipe.flow import preset, tvl1_flow

SIZE = (64, 48)  # small frames: a whole clip's pairs solve in a fraction of a second
PARAMS = preset("fast")


def to_gray(frames: np.ndarray) -> np.ndarray:
    """RGB frames [T, H, W, 3] -> gray [T, H, W] (float32 kept when given floats)."""
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])


def forward_backward(gray: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward (k -> k+1) and backward (k+1 -> k) flow of every consecutive pair, one batch,
    the way extraction asks for them; [T-1, 2, H, W] each."""
    prev = np.concatenate([gray[:-1], gray[1:]])
    nxt = np.concatenate([gray[1:], gray[:-1]])
    # compile=False: torch.compile's warm-up costs more than it saves on 64x48 frames; one
    # thread: on frames this small, threads only wait for each other (10x slower on 2 busy
    # cores).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        flow = tvl1_flow(prev, nxt, params=PARAMS, device="cpu", compile=False)
    finally:
        torch.set_num_threads(threads)
    pairs = len(gray) - 1
    return flow[:pairs], flow[pairs:]
