"""Continuous batching: a pool of frame pairs in flight, each at its own point of the solver.

The solver's steps (`flow/solver.py`) run for all pairs in flight at once. In a fixed batch the
slowest pair of each warp sets its length: after most pairs have converged the device keeps
working for a few. A pool instead keeps `capacity` places (slots): a pair that finishes a warp
goes on with its next one, and a pair that finishes its finest level hands its flow back and
leaves its slot to the next pair waiting, so every step carries as many pairs as the pool
holds for as long as pairs keep coming. Pairs of different sizes share a pool. What each pair
computes is what solving it alone computes: only which pairs share a step changes.

`Pool` is the scheduler (slots, the queue of requests waiting, results); an `Engine` (the
torch path's `torch_engine`, the Triton path's `triton_engine`) holds the pairs' data and runs
the steps. `FlowPool` is the service: a thread that runs a pool for requests submitted from
any thread. `solve_all` runs one batch through a pool of its size (`tvl1_flow`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from flowpipe.flow.frames import check_pair, gray_frames, resolve_device
from flowpipe.flow.params import TVL1Params
from flowpipe.flow.triton_backend import TritonSettings


class Engine(Protocol):
    """A pool's pairs on a device: their data, and the steps that advance them."""

    def prepare(self, i0: torch.Tensor, i1: torch.Tensor) -> Any:
        """What the engine needs of a request's frames [B,1,H,W] (their pyramids)."""

    def admit(self, slots: np.ndarray, prepared: Any, rows: np.ndarray, stats: PoolStats) -> None:
        """Pairs `rows` of a prepared request into the free `slots`."""

    def step(self, stats: PoolStats) -> np.ndarray:
        """Advance the pairs in flight (one step, or a run of them between two looks of the
        host); the slots of the pairs that finished."""

    def hand_back(
        self, slots: np.ndarray, destinations: list[torch.Tensor], stats: PoolStats
    ) -> None:
        """The flows of finished pairs into their destinations (contiguous float32 [2,H,W]
        tensors on the device); their slots free from then on."""


@dataclass
class PoolStats:
    """What a pool did, device-independent: launches per kind (a launch of a kernel, or on
    the torch path a call of a step over one group of pairs), steps (one step advances every
    pair in flight once: one launch of the Triton path's step kernel, one call per group of
    the torch path) and the pairs taking part in them. `as_dict` derives the figures:
    launches per pair, and the mean share of the pool taking a step and iterating per step."""

    capacity: int
    pairs: int = 0
    steps: int = 0
    active: int = 0  # summed over steps: pairs taking a step (iteration, median, start)
    iterating: int = 0  # summed over steps: pairs iterating
    checks: int = 0  # the host reading the device's state (Triton path)
    launches: Counter = field(default_factory=Counter)
    threads: int | None = None  # CPU threads of the torch operations of a FlowPool's thread

    def launch(self, kind: str, count: int = 1) -> None:
        self.launches[kind] += count

    def step(self, active: int, iterating: int) -> None:
        self.steps += 1
        self.active += active
        self.iterating += iterating

    def as_dict(self) -> dict[str, Any]:
        total = sum(self.launches.values())
        steps = max(self.steps, 1)
        return {
            "capacity": self.capacity,
            "pairs": self.pairs,
            "steps": self.steps,
            "launches": dict(sorted(self.launches.items())),
            "launches_per_pair": total / self.pairs if self.pairs else None,
            "steps_per_pair": self.steps / self.pairs if self.pairs else None,
            "active_share": self.active / (steps * self.capacity),
            "iterating_share": self.iterating / (steps * self.capacity),
            "checks": self.checks,
            "threads": self.threads,
        }

    def copy(self) -> PoolStats:
        return dataclasses.replace(self, launches=Counter(self.launches))


@dataclass
class _Request:
    """Frame pairs [B,1,H,W] on the device, their flow as it is finished, and the future."""

    i0: torch.Tensor
    i1: torch.Tensor
    future: Future
    out: torch.Tensor | None = None
    prepared: Any = None
    admitted: int = 0  # pairs given a slot so far, in order
    left: int = 0  # pairs not finished

    @property
    def size(self) -> int:
        return self.i0.shape[0]


class Pool:
    """The scheduler: requests wait in order, their pairs take free slots as they come, the
    engine steps the slots, finished flows go back to their requests. Single-threaded."""

    def __init__(
        self, backend: Any, params: TVL1Params, capacity: int, stats: PoolStats | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError(f"a pool needs a capacity of at least 1, got {capacity!r}")
        self.device = backend.device
        self.engine: Engine = backend.engine(params, capacity)
        self.stats = PoolStats(capacity) if stats is None else stats
        self.free = deque(range(capacity))
        self.owner: list[tuple[_Request, int] | None] = [None] * capacity
        self.waiting: deque[_Request] = deque()
        self.in_flight = 0

    def add(self, request: _Request) -> None:
        request.out = torch.empty(request.size, 2, *request.i0.shape[-2:], device=self.device)
        request.left = request.size
        self.waiting.append(request)

    @property
    def busy(self) -> bool:
        return self.in_flight > 0 or bool(self.waiting)

    def step(self) -> list[_Request]:
        """Fill the free slots, advance the engine once; the requests now complete."""
        self._admit()
        finished = self.engine.step(self.stats)
        return self._deliver(finished)

    def _admit(self) -> None:
        while self.free and self.waiting:
            request = self.waiting[0]
            if request.prepared is None:
                request.prepared = self.engine.prepare(request.i0, request.i1)
            count = min(len(self.free), request.size - request.admitted)
            slots = np.array([self.free.popleft() for _ in range(count)])
            rows = np.arange(request.admitted, request.admitted + count)
            self.engine.admit(slots, request.prepared, rows, self.stats)
            for slot, row in zip(slots, rows, strict=True):
                self.owner[slot] = (request, int(row))
            request.admitted += count
            self.in_flight += count
            if request.admitted == request.size:
                self.waiting.popleft()
                request.prepared = None

    def _deliver(self, slots: np.ndarray) -> list[_Request]:
        """The flows of finished pairs into their requests' outputs; the requests now done."""
        if len(slots) == 0:
            return []
        owners = [self.owner[slot] for slot in slots]
        self.engine.hand_back(slots, [request.out[row] for request, row in owners], self.stats)
        complete = []
        for slot, (request, _) in zip(slots, owners, strict=True):
            self.owner[slot] = None
            self.free.append(int(slot))
            request.left -= 1
            if request.left == 0:
                complete.append(request)
        self.in_flight -= len(slots)
        self.stats.pairs += len(slots)
        return complete


def solve_all(
    i0: torch.Tensor, i1: torch.Tensor, params: TVL1Params, backend: Any, stats: bool = False
) -> torch.Tensor | tuple[torch.Tensor, PoolStats]:
    """The flow [N,2,H,W] of frames [N,1,H,W], solved in a pool of N places on the calling
    thread; with `stats`, the pool's PoolStats too."""
    pool = Pool(backend, params, i0.shape[0])
    request = _Request(i0, i1, Future())
    pool.add(request)
    while pool.busy:
        pool.step()
    return (request.out, pool.stats) if stats else request.out


class FlowPool:
    """A TV-L1 solver that keeps `capacity` frame pairs in flight, fed from any thread.

    Callers submit chunks of frame pairs and get a future per chunk; a thread of the pool
    solves them with continuous batching: the chunks' pairs take the pool's places as places
    free up, pairs of different chunks (and sizes) share the solver's steps, and a chunk's
    future is resolved as soon as its last pair is done, while others go on. Each pair's flow
    is what `tvl1_flow` gives for it. Chunks are started in the order they were submitted.

    Example (a flow service shared by the videos a worker runs)::

        pool = FlowPool("cuda", params=preset("opencv"), capacity=256)
        futures = [pool.submit(prev, nxt) for prev, nxt in chunks]  # uint8 [B,H,W] each
        flows = [f.result() for f in futures]                      # float32 [B,2,H,W] each
        print(pool.stats.as_dict())                                # launches per pair, ...
        pool.close()

    `map(chunks)` does the same as a generator, in order. Errors: frames that `tvl1_flow`
    would refuse fail their own future (ValueError) at `submit`; an error inside the solver
    fails the futures of the chunks the pool held (in flight or waiting for a place), and it
    goes on with the chunks submitted after.
    On CUDA a chunk's flow is complete on the device when its future is resolved.
    `threads`: the CPU threads of the pool's own torch operations (default: those of the
    thread that makes the pool; a new thread would otherwise start with torch's default). A
    count other than torch's default becomes, as with torch.set_num_threads, the default of
    threads that start torch work later.
    """

    def __init__(
        self,
        device: str | torch.device = "cpu",
        params: TVL1Params | None = None,
        capacity: int = 64,
        backend: str = "auto",
        compile: bool | None = None,
        triton: TritonSettings | None = None,
        threads: int | None = None,
    ) -> None:
        from flowpipe.flow.solver import select_backend

        if threads is not None and threads < 1:
            raise ValueError(f"a pool needs at least 1 thread, got {threads!r}")

        self.params = TVL1Params() if params is None else params
        self.device = resolve_device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.backend = select_backend(self.device, backend, compile, triton)
        self.capacity = capacity
        self.threads = torch.get_num_threads() if threads is None else threads
        self._pool = Pool(self.backend, self.params, capacity)
        self._inbox: deque[_Request] = deque()
        self._ready = threading.Condition()  # guards the inbox and closing
        self._stepping = threading.Lock()  # held by the pool's thread during a step
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="flowpipe-pool", daemon=True)
        self._thread.start()

    def submit(self, prev: object, nxt: object) -> Future:
        """Queue frame pairs ([H,W] or [B,H,W] gray frames, uint8 or float 0..255, numpy or
        torch); the future gets their float32 [B,2,H,W] flow on the pool's device."""
        future: Future = Future()
        try:
            i0, i1 = gray_frames(prev, "prev"), gray_frames(nxt, "nxt")
            check_pair(i0, i1)
        except ValueError as err:
            future.set_exception(err)
            return future
        with self._ready:
            if self._closed:
                raise RuntimeError("this FlowPool is closed")
            self._inbox.append(_Request(i0, i1, future))
            self._ready.notify()
        return future

    def map(
        self, chunks: Iterable[tuple[object, object]], ahead: int = 4
    ) -> Iterator[torch.Tensor]:
        """The flow of each (prev, nxt) chunk, in order, keeping up to `ahead` chunks submitted
        beyond the one being waited for."""
        futures: deque[Future] = deque()
        for chunk in chunks:
            futures.append(self.submit(*chunk))
            if len(futures) > ahead:
                yield futures.popleft().result()
        while futures:
            yield futures.popleft().result()

    @property
    def stats(self) -> PoolStats:
        """A copy of the pool's figures so far."""
        with self._stepping:
            return self._pool.stats.copy()

    def close(self) -> None:
        """Finish the chunks submitted, then stop the thread."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()

    def __enter__(self) -> FlowPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        # On CUDA the pool runs on a stream of its own: the callers' work on their results (on
        # their threads' streams) overlaps the pool's next steps.
        stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        self._pool.stats.threads = torch.get_num_threads()
        with _on_device(self.device, stream), torch.no_grad():
            while True:
                with self._ready:
                    while not self._inbox and not self._pool.busy and not self._closed:
                        self._ready.wait()
                    if self._closed and not self._inbox and not self._pool.busy:
                        return
                    arrived = [r for r in self._inbox if r.future.set_running_or_notify_cancel()]
                    self._inbox.clear()
                for request in arrived:
                    request.i0 = _to_pool(request.i0, self.device)
                    request.i1 = _to_pool(request.i1, self.device)
                    self._pool.add(request)
                self._step()

    def _step(self) -> None:
        """One step of the pool; complete requests resolved. An error fails the requests in
        flight and starts a fresh pool (those still waiting go on)."""
        try:
            with self._stepping:
                complete = self._pool.step()
            if complete and self.device.type == "cuda":
                torch.cuda.current_stream(self.device).synchronize()  # results complete
        except Exception as err:  # handed to the callers, whose result() raises it
            self._fail_in_flight(err)
            return
        for request in complete:
            request.future.set_result(request.out)

    def _fail_in_flight(self, err: Exception) -> None:
        """Every request the pool held fails with `err`; a fresh pool takes the next ones."""
        old = self._pool
        failed = {id(o[0]): o[0] for o in old.owner if o is not None}
        failed.update({id(r): r for r in old.waiting})
        for request in failed.values():
            request.future.set_exception(err)
        self._pool = Pool(self.backend, self.params, self.capacity, old.stats)


def _to_pool(frames: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Submitted frames as the engines take them: float32 on the pool's device (uint8 frames
    from the host cross through pinned memory, converted there)."""
    if device.type == "cuda" and frames.device.type == "cpu":
        frames = frames.pin_memory()
    return frames.to(device, non_blocking=True).float()


def _on_device(
    device: torch.device, stream: torch.cuda.Stream | None
) -> contextlib.AbstractContextManager:
    """`device` as the thread's current CUDA device and `stream` its stream; nothing on CPU."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    both = contextlib.ExitStack()
    both.enter_context(torch.cuda.device(device))
    both.enter_context(torch.cuda.stream(stream))
    return both
