"""One flow service per worker process: the frame pairs of every video it runs, solved together.

A Dask worker runs several videos at once on its threads; each asks for the flow of a chunk of
its frames. The service hands the chunks to a `FlowPool` (flowpipe.flow.pool: continuous
batching) per TV-L1 parameter set on the worker's device: the chunks' pairs take the pool's
places as they free up, pairs of different videos and frame sizes share the solver's steps,
and each chunk's future is resolved as soon as its own pairs are done. On CUDA the pool solves
on a stream of its own and hands results over complete, so the callers' copies to the host
overlap the next steps.

    service = service_for("cuda", JobTuning())
    future = service.submit(prev, nxt, TVL1Params())   # uint8 [B,H,W] CPU frames
    flow = future.result()                              # float32 [B,2,H,W] on the GPU
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import torch

from flowpipe.devices import resolve_device
from flowpipe.extraction.settings import JobTuning
from flowpipe.flow import TVL1Params
from flowpipe.flow.pool import FlowPool


class FlowService:
    """The pools of one device, one per TV-L1 parameter set, made on first use; each keeps
    `capacity` pairs in flight and runs its torch operations on `threads` CPU threads
    (default: torch's count in the thread that makes the service)."""

    def __init__(self, device: str, capacity: int, threads: int | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity!r}")
        self.device = _device(device)
        self.capacity = capacity
        self.threads = torch.get_num_threads() if threads is None else threads
        self._pools: dict[TVL1Params, FlowPool] = {}
        self._lock = threading.Lock()

    def submit(self, prev: torch.Tensor, nxt: torch.Tensor, params: TVL1Params) -> Future:
        """Queue uint8 [B,H,W] CPU frame pairs; the future gets float32 [B,2,H,W] flow on the
        service's device, or the solver's exception (ValueError for malformed frames)."""
        try:
            _check_frames(prev, nxt)
        except ValueError as err:
            failed: Future = Future()
            failed.set_exception(err)
            return failed
        return self.pool(params).submit(prev, nxt)

    def pool(self, params: TVL1Params) -> FlowPool:
        """The pool that solves pairs with these parameters."""
        with self._lock:
            if params not in self._pools:
                self._pools[params] = FlowPool(
                    self.device, params=params, capacity=self.capacity, threads=self.threads
                )
            return self._pools[params]

    def stats(self) -> dict[str, Any]:
        """Each pool's figures (launches per pair, the share of the pool that works per step)."""
        with self._lock:
            pools = list(self._pools.items())
        return {repr(params): pool.stats.as_dict() for params, pool in pools}


def _device(device: str) -> torch.device:
    """The device `device` names, with its index (so "cuda" and "cuda:0" are one device)."""
    current = torch.cuda.current_device() if torch.cuda.is_available() else None
    return resolve_device(device, index=current)


def _check_frames(prev: torch.Tensor, nxt: torch.Tensor) -> None:
    """ValueError unless both are uint8 [B,H,W] CPU tensors of one shape."""
    for name, frames in (("prev", prev), ("nxt", nxt)):
        if not isinstance(frames, torch.Tensor) or frames.dtype != torch.uint8 or frames.dim() != 3:
            raise ValueError(f"{name}: expected a uint8 [B,H,W] tensor")
        if frames.device.type != "cpu":
            raise ValueError(f"{name}: expected a CPU tensor, got one on {frames.device}")
    if prev.shape != nxt.shape:
        raise ValueError(
            f"prev and nxt differ in shape: {tuple(prev.shape)} vs {tuple(nxt.shape)} ([B,H,W])"
        )


_services: dict[tuple[str, int], FlowService] = {}
_services_lock = threading.Lock()


def service_for(device: str, tuning: JobTuning, threads: int | None = None) -> FlowService:
    """This process's flow service for `device`, its pools as large as the tuning says, made on
    first use (solving on `threads` CPU threads) and shared by the videos the process's threads
    run."""
    dev = _device(device)
    key = (str(dev), tuning.solver_pairs(dev.type == "cuda"))
    with _services_lock:
        if key not in _services:
            _services[key] = FlowService(str(dev), key[1], threads)
        return _services[key]
