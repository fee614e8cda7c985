"""One flow service per worker process: frame pairs of several videos, one solver call.

A Dask worker runs several videos at once on its threads; each asks for the flow of a chunk
of its frames. On a GPU the solver is only busy with 128+ pairs per call, more than a short
video's chunk, so the requests of all threads go to one `FlowService`, whose thread merges
requests of the same frame size and parameters into one `tvl1_flow` call and hands each
request its slice of the result. On CUDA it solves on a stream of its own and hands results
over complete, so the callers' copies to the host overlap the next solve.

    service = service_for("cuda", JobTuning())
    future = service.submit(prev, nxt, TVL1Params())   # uint8 [B,H,W] CPU frames
    flow = future.result()                              # float32 [B,2,H,W] on the GPU
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

import torch

from flowpipe.devices import resolve_device
from flowpipe.extraction.settings import JobTuning
from flowpipe.flow import TVL1Params, tvl1_flow

Key = tuple[int, int, TVL1Params]


@dataclass
class _Request:
    """One caller's frame pairs and the future its flow goes to."""

    prev: torch.Tensor
    nxt: torch.Tensor
    key: Key
    future: Future = field(default_factory=Future)
    arrived: float = field(default_factory=time.monotonic)

    @property
    def pairs(self) -> int:
        return self.prev.shape[0]


class FlowService:
    """Merges flow requests from many threads into batched `tvl1_flow` calls on one device.

    A call takes up to `max_pairs` pairs; the service waits up to `linger` seconds for more
    requests of the oldest one's kind before solving (`service_for` lingers on CUDA only: on
    CPU one call already keeps the cores busy). `batches_run` and `pairs_run` count the solver
    calls made and the pairs given to them.
    """

    def __init__(self, device: str, max_pairs: int, linger: float = 0.0) -> None:
        if max_pairs < 1:
            raise ValueError(f"max_pairs must be at least 1, got {max_pairs!r}")
        self.device = _device(device)
        self.max_pairs = max_pairs
        self.linger = linger
        self.batches_run = 0
        self.pairs_run = 0
        # On CUDA the solver runs on a stream of its own: the callers' copies back to the host
        # and quantisation (on their threads' default streams) overlap the next solve.
        self._stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self._pending: deque[_Request] = deque()
        self._ready = threading.Condition()
        threading.Thread(target=self._serve, name="flowpipe-flow-service", daemon=True).start()

    def submit(self, prev: torch.Tensor, nxt: torch.Tensor, params: TVL1Params) -> Future:
        """Queue uint8 [B,H,W] CPU frame pairs; the future gets float32 [B,2,H,W] flow on the
        service's device, or the solver's exception (ValueError for malformed frames)."""
        try:
            request = _Request(prev, nxt, _key(prev, nxt, params))
        except ValueError as err:
            failed: Future = Future()
            failed.set_exception(err)
            return failed
        with self._ready:
            self._pending.append(request)
            self._ready.notify()
        return request.future

    def _serve(self) -> None:
        """The service thread: take a batch, solve it, resolve its futures; forever."""
        while True:
            batch = [r for r in self._next_batch() if r.future.set_running_or_notify_cancel()]
            if batch:
                self._run(batch)

    def _next_batch(self) -> list[_Request]:
        """The oldest request and the later ones of its key, up to max_pairs pairs, once the
        key has max_pairs pairs waiting or the oldest request has lingered long enough."""
        with self._ready:
            while not self._pending:
                self._ready.wait()
            head = self._pending[0]
            deadline = head.arrived + self.linger
            while self._waiting_pairs(head.key) < self.max_pairs:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
            return self._take(head.key)

    def _waiting_pairs(self, key: Key) -> int:
        return sum(r.pairs for r in self._pending if r.key == key)

    def _take(self, key: Key) -> list[_Request]:
        """Remove and return the requests of `key` in arrival order, up to max_pairs pairs (the
        first one always, however large)."""
        taken: list[_Request] = []
        kept: deque[_Request] = deque()
        pairs = 0
        for request in self._pending:
            fits = not taken or pairs + request.pairs <= self.max_pairs
            if request.key == key and fits:
                taken.append(request)
                pairs += request.pairs
            else:
                kept.append(request)
        self._pending = kept
        return taken

    def _run(self, batch: list[_Request]) -> None:
        """One solver call for the batch; each future gets its slice, or the call's error."""
        self.batches_run += 1
        self.pairs_run += sum(r.pairs for r in batch)
        try:
            with _current(self.device), _on(self._stream):
                prev = self._to_device([r.prev for r in batch])
                nxt = self._to_device([r.nxt for r in batch])
                flow = tvl1_flow(prev, nxt, params=batch[0].key[2], device=self.device)
            if self._stream is not None:
                self._stream.synchronize()  # complete before another stream reads it
        except Exception as err:  # handed to every caller of the batch, which raises it
            for request in batch:
                request.future.set_exception(err)
            return
        start = 0
        for request in batch:
            request.future.set_result(flow[start : start + request.pairs])
            start += request.pairs

    def _to_device(self, frames: list[torch.Tensor]) -> torch.Tensor:
        """The frames as one tensor on the device; to CUDA through pinned memory, asynchronously."""
        if self.device.type != "cuda":
            return frames[0] if len(frames) == 1 else torch.cat(frames)
        pinned = torch.empty(
            (sum(len(f) for f in frames), *frames[0].shape[1:]),
            dtype=frames[0].dtype,
            pin_memory=True,
        )
        torch.cat(frames, out=pinned)
        return pinned.to(self.device, non_blocking=True)


def _device(device: str) -> torch.device:
    """The device `device` names, with its index (so "cuda" and "cuda:0" are one device)."""
    current = torch.cuda.current_device() if torch.cuda.is_available() else None
    return resolve_device(device, index=current)


def _current(device: torch.device) -> contextlib.AbstractContextManager:
    """`device` as the thread's current CUDA device (kernels launch there); nothing on CPU."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def _on(stream: torch.cuda.Stream | None) -> contextlib.AbstractContextManager:
    """`stream` as the thread's current CUDA stream; nothing on CPU."""
    return torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()


def _key(prev: torch.Tensor, nxt: torch.Tensor, params: TVL1Params) -> Key:
    """(H, W, params) of a well-formed request: requests merge only when these are equal."""
    for name, frames in (("prev", prev), ("nxt", nxt)):
        if not isinstance(frames, torch.Tensor) or frames.dtype != torch.uint8 or frames.dim() != 3:
            raise ValueError(f"{name}: expected a uint8 [B,H,W] tensor")
        if frames.device.type != "cpu":
            raise ValueError(f"{name}: expected a CPU tensor, got one on {frames.device}")
    if prev.shape != nxt.shape:
        raise ValueError(
            f"prev and nxt differ in shape: {tuple(prev.shape)} vs {tuple(nxt.shape)} ([B,H,W])"
        )
    return prev.shape[1], prev.shape[2], params


_services: dict[tuple[str, int, float], FlowService] = {}
_services_lock = threading.Lock()


def service_for(device: str, tuning: JobTuning) -> FlowService:
    """This process's flow service for `device` with the tuning's batch size and linger, made
    on first use and shared by the videos the process's threads run."""
    dev = _device(device)
    cuda = dev.type == "cuda"
    key = (str(dev), tuning.solver_pairs(cuda), tuning.linger_s if cuda else 0.0)
    with _services_lock:
        if key not in _services:
            _services[key] = FlowService(str(dev), key[1], key[2])
        return _services[key]
