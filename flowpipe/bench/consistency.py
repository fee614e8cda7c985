"""`flowpipe bench consistency`: what the forward-backward figures cost beside the solver.

In one run, on the same frame pairs and device: TV-L1 forward + backward flow of `pairs`
pairs in one batch (what an extraction chunk asks the engine for), then the consistency
figures of that flow (flowpipe.quality.consistency, what the worker adds per chunk). Best of
`rounds` each; the ratio is the figures' share of the engine's time. The job's end-to-end
share is smaller still (decoding, JPEG and writing also take time); `flowpipe bench extract`
measures that once the worker computes the figures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from flowpipe.bench.tvl1 import SAMPLE_VIDEO, find_data_dir, synthetic_frames, video_frames
from flowpipe.devices import resolve_device
from flowpipe.flow import preset, tvl1_flow
from flowpipe.quality.consistency import consistency_figures


@dataclass(frozen=True)
class ConsistencyBench:
    """What `flowpipe bench consistency` runs."""

    pairs: int = 16
    device: str = "cpu"
    preset: str = "opencv"
    rounds: int = 3
    data: str | None = None


def _frames(bench: ConsistencyBench) -> tuple[np.ndarray, str]:
    """pairs + 1 gray frames: the shared sample clip when present, else synthetic."""
    data_dir = find_data_dir(bench.data)
    if data_dir is not None:
        return video_frames(data_dir / SAMPLE_VIDEO, bench.pairs + 1), SAMPLE_VIDEO
    return synthetic_frames((160, 120), bench.pairs + 1), "synthetic 160x120"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best(run: Callable[[], object], rounds: int, device: torch.device) -> float:
    """Best wall time of `rounds` calls of run() (device synchronised around each)."""
    times = []
    for _ in range(rounds):
        _sync(device)
        start = time.perf_counter()
        run()
        _sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def consistency_cost(bench: ConsistencyBench) -> dict:
    """Time TV-L1 forward + backward flow of a chunk and the consistency figures of it.

    Args:
        bench: pairs per chunk, device, TV-L1 preset, rounds, shared-data folder.

    Returns:
        JSON-ready: the frames used, seconds for the flow and for the figures (best of
        rounds), the figures' time as a fraction of the flow's, and the figures themselves.
    """
    device = resolve_device(bench.device)
    frames, source = _frames(bench)
    gray = torch.from_numpy(frames).to(device)
    prev, nxt = torch.cat([gray[:-1], gray[1:]]), torch.cat([gray[1:], gray[:-1]])
    params = preset(bench.preset)
    flow = tvl1_flow(prev, nxt, params=params, device=device)  # warm-up (compilation)
    flow_s = _best(lambda: tvl1_flow(prev, nxt, params=params, device=device), bench.rounds, device)
    fwd, bwd = flow[: bench.pairs], flow[bench.pairs :]
    consistency_figures(fwd, bwd)  # warm-up
    figures_s = _best(lambda: consistency_figures(fwd, bwd), bench.rounds * 5, device)
    figures = consistency_figures(fwd, bwd)
    return {
        "benchmark": "consistency",
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({os.cpu_count()} cores)",
        "frames": source,
        "size": [int(frames.shape[2]), int(frames.shape[1])],
        "pairs": bench.pairs,
        "preset": bench.preset,
        "flow_forward_backward_s": round(flow_s, 5),
        "consistency_figures_s": round(figures_s, 6),
        "figures_over_flow": round(figures_s / flow_s, 6),
        "mean_inconsistent": round(float(figures.inconsistent.mean()), 4),
        "mean_error_px": round(float(figures.error.mean()), 3),
    }
