"""The Triton path's pool engine: every pair of the pool in one kernel launch per step.

The pairs' data live in arenas with one row per slot, sized for the largest frame seen:
state [2 sets, slots, 6 planes] (u, px, py; two channels each), the warp's constants
[slots, 4 planes] and the pyramid [slots, levels x 4 planes] (I0, I1 and I1's gradient per
level). Each launch of `triton_kernels.step` advances every pair in flight by one step of its
own (a level's start, a warp's start, a median or an iteration), deciding it on the device
from the pair's record and change, so launches follow each other without the host.

The host works in runs of `TritonSettings.check_every` launches. After queueing a run it looks
at the one before (`step`), whose records and steps taken (the pool's figures) were copied to
pinned host memory behind it, so the GPU works on a run while the host looks at the last: pairs
that finished their level's last warp start the next level (or, at the finest, hand their flow
back and free their slot); slots filled since start the pair's coarsest level. These requests
reach the device before the next run, as patches of the records it reads, with the meta and the
tile table (which pair's pixels each program works on, at the pair's level size, and the parity
of the set its state is in). A look skips the slots whose last request came after the run it
looks at.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import torch

from flowpipe.flow.ops import FLT_EPSILON, REMAP_SUBPIXEL_STEPS, centered_gradient
from flowpipe.flow.params import TVL1Params
from flowpipe.flow.pool import PoolStats
from flowpipe.flow.solver import build_pyramid, pyramid_sizes
from flowpipe.flow.triton_backend import Launcher, TritonSettings


class Step(IntEnum):
    """A pair's step in a launch (the numbers of `triton_kernels`)."""

    IDLE = 0
    LEVEL = 1
    WARP = 2
    MEDIAN = 3
    ITERATE = 4
    ENTER = 5  # the host's request: start the coarsest level from zero flow
    ADVANCE = 6  # the host's request: start the next level from the coarser one's flow


TAKING_A_STEP = (Step.LEVEL, Step.WARP, Step.MEDIAN, Step.ITERATE)
NOT_SENT = np.iinfo(np.int64).max  # a slot's request the device has not had yet


@dataclass
class _Prepared:
    """A request's pyramids packed per pair: [B, row] with, per level (finest first), the
    planes I0, I1, dI1/dx, dI1/dy; `offsets[level]` where a level starts in a row."""

    packed: torch.Tensor
    sizes: list[tuple[int, int]]
    offsets: list[int]


def _padded(n: int, multiple: int = 4) -> int:
    """n rounded up: int32 arrays of a multiple of 4 keep the next one 16-byte aligned (the
    kernel, compiled for aligned pointers, launches with every such view)."""
    return -(-n // multiple) * multiple


def _pack(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[slice]]:
    """Arrays as one int32 array (each from a 16-byte boundary), and where each lies."""
    words = [np.ascontiguousarray(a).reshape(-1).view(np.int32) for a in arrays]
    places, at = [], 0
    for w in words:
        places.append(slice(at, at + len(w)))
        at += _padded(len(w))
    packed = np.zeros(at, np.int32)
    for w, place in zip(words, places, strict=True):
        packed[place] = w
    return packed, places


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host array on the device, through pinned memory on CUDA (the copy does not wait)."""
    tensor = torch.from_numpy(array)
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


class _Fetches:
    """The book's copies on the host, each fetched behind the run that wrote it: two pinned
    buffers on CUDA (a copy waits only on its own event when taken)."""

    def __init__(self, book: torch.Tensor) -> None:
        cuda = book.device.type == "cuda"
        self.buffers = [torch.empty_like(book, device="cpu", pin_memory=cuda) for _ in range(2)]
        self.events = [torch.cuda.Event() if cuda else None for _ in range(2)]
        self.pending: deque[tuple[int, int, int]] = deque()  # buffer, run, launches after it
        self.count = 0

    def fetch(self, book: torch.Tensor, run: int, launches: int) -> None:
        i = self.count % 2
        self.buffers[i].copy_(book, non_blocking=True)
        if self.events[i] is not None:
            self.events[i].record()
        self.pending.append((i, run, launches))
        self.count += 1

    def take(self) -> tuple[np.ndarray, int, int]:
        """The oldest fetched copy (its run and the launches after it)."""
        i, run, launches = self.pending.popleft()
        if self.events[i] is not None:
            self.events[i].synchronize()
        return self.buffers[i].numpy(), run, launches


class TritonEngine:
    """A pool's pairs on the Triton path: see the module's docstring."""

    def __init__(
        self, device: torch.device, params: TVL1Params, capacity: int, settings: TritonSettings
    ) -> None:
        from flowpipe.flow.triton_kernels import hand_back, step, step_constexprs

        self.device, self.params, self.settings = device, params, settings
        self.capacity = capacity
        self.kernel = Launcher(step)
        self.copier = Launcher(hand_back)
        self.ksize = params.median_filtering if params.median_filtering > 1 else 0
        cubic = params.interpolation == "bicubic"
        self.constexprs = step_constexprs(settings.block, self.ksize, cubic)
        # The host's copies of what the next launch reads, per slot.
        self.records = np.zeros((capacity, 4), np.int32)  # step, iterations, warp, home
        self.meta = np.zeros((capacity, 5), np.int32)  # h, w, level offset, coarser h, w
        self.thresholds = np.zeros(capacity, np.float32)
        self.scales = np.zeros((capacity, 2), np.float64)  # coarser / this level, y and x
        self.level = np.full(capacity, -1)  # the slot's level (0: the finest), -1: free
        # The slot's pair's state is in set (launch + parity) % 2 while it steps.
        self.parity = np.zeros(capacity, np.int32)
        self.layout: list[_Prepared | None] = [None] * capacity
        self.changed = True  # requests, meta or levels to upload before the next run
        # The host's requests (records it set) not yet sent, and per slot the run from which
        # its last request is in effect (NOT_SENT until sent).
        self.requests: set[int] = set()
        self.requested = np.full(capacity, -1, np.int64)
        self.runs = 0
        # Device arenas, grown to the largest frame seen (`_reserve`).
        self.plane = self.row = 0
        self.state = self.consts = self.pyramid = torch.zeros(0, device=device)
        # What the kernel writes and the host reads at a look, in one buffer (one copy): the
        # records of the last two launches and the steps of a run's launches.
        records, history = 2 * capacity * 4, settings.check_every * _padded(capacity)
        self.book = torch.zeros(records + history, dtype=torch.int32, device=device)
        self.steps = self.book[:records].view(2, capacity, 4)
        self.history = self.book[records:].view(settings.check_every, _padded(capacity))
        self.ring = torch.zeros(3, _padded(capacity), device=device)  # change rows
        self.fetches = _Fetches(self.book)
        # What the host sends before a run, in one buffer (one copy): meta, thresholds,
        # scales, the tile table, and the requests (`_upload`).
        self.sent: tuple[torch.Tensor, ...] = ()
        self.launches = 0
        l_t, theta, taut = params.step_constants()
        p = params
        self.scalars = (l_t, theta, taut, FLT_EPSILON, REMAP_SUBPIXEL_STEPS, p.scale_step)
        self.counts = (p.outer_iterations * p.inner_iterations, p.inner_iterations, p.warps)

    def prepare(self, i0: torch.Tensor, i1: torch.Tensor) -> _Prepared:
        """The pyramids of a request's frames [B,1,H,W], built together and packed."""
        sizes = pyramid_sizes(i0.shape[-2], i0.shape[-1], self.params)
        first, second = build_pyramid(i0, sizes, self.params), build_pyramid(i1, sizes, self.params)
        planes = [
            torch.cat([a, b, centered_gradient(b)], dim=1).flatten(1)
            for a, b in zip(first, second, strict=True)
        ]
        offsets = np.cumsum([0] + [p.shape[1] for p in planes[:-1]]).tolist()
        return _Prepared(torch.cat(planes, dim=1), sizes, offsets)

    def admit(
        self, slots: np.ndarray, prepared: _Prepared, rows: np.ndarray, stats: PoolStats
    ) -> None:
        """Pairs `rows` of a prepared request into free `slots`: their pyramids copied into
        the slots' rows, their coarsest level requested."""
        h, w = prepared.sizes[0]
        row = prepared.packed.shape[1]
        self._reserve(h * w, row, stats)
        into = _to_device(slots, self.device)
        first = int(rows[0])  # the pool admits a request's pairs in order
        self.pyramid[:, :row].index_copy_(0, into, prepared.packed[first : first + len(rows)])
        stats.launch("admit", 2)  # the slots to the device, a copy
        for slot in slots:
            self.layout[slot] = prepared
            self._at_level(slot, len(prepared.sizes) - 1)
            self._request(slot, (Step.ENTER, 0, 0, 0))

    def step(self, stats: PoolStats) -> np.ndarray:
        """A run of `check_every` launches queued, then a look at the run before: the pool's
        figures, pairs moved to their next level; returns the slots of the pairs that
        finished."""
        if not np.any(self.level >= 0):
            return np.zeros(0, np.int64)
        if self.changed:
            self._upload(stats)
        for k in range(self.settings.check_every):
            self._launch(k)
        stats.launch("step", self.settings.check_every)
        self.fetches.fetch(self.book, self.runs, self.launches)
        stats.launch("read")
        self.runs += 1
        if len(self.fetches.pending) < 2:  # the first run: nothing to look at yet
            return np.zeros(0, np.int64)
        return self._look(*self.fetches.take(), stats)

    def _look(self, book: np.ndarray, run: int, launches: int, stats: PoolStats) -> np.ndarray:
        """What run `run` did (its copy of the book): the figures, each pair that finished its
        level's last warp moved on; returns the slots of those that finished their finest."""
        stats.checks += 1
        occupied = np.flatnonzero(self.level >= 0)
        seen = occupied[self.requested[occupied] <= run]  # the run had the host's last word
        records = book[: self.steps.numel()].reshape(self.steps.shape)[launches % 2]
        self.records[seen] = records[seen]
        taken = book[self.steps.numel() :].reshape(self.history.shape)[:, seen]
        for row in taken:
            stats.step(int(np.isin(row, TAKING_A_STEP).sum()), int((row == Step.ITERATE).sum()))
        idle = seen[self.records[seen, 0] == Step.IDLE]
        finished = idle[self.level[idle] == 0]
        for slot in idle[self.level[idle] > 0]:
            self._at_level(slot, self.level[slot] - 1, advance=True)
            self._request(slot, (Step.ADVANCE, 0, 0, self.records[slot, 3]))
        return finished

    def _request(self, slot: int, record: tuple[int, int, int, int]) -> None:
        """The slot's record set by the host, sent before the next run."""
        self.records[slot] = record
        self.requests.add(int(slot))
        self.requested[slot] = NOT_SENT
        self.changed = True

    def _launch(self, k: int) -> None:
        """Launch k of a run: every pair in the tile table takes its next step."""
        grid, args, constexprs = self.arguments(k)
        self.kernel(grid, *args, **constexprs)
        self.launches += 1

    def arguments(self, k: int) -> tuple[tuple[int], tuple, dict[str, object]]:
        """The grid, arguments and constexprs of launch k of a run."""
        t = self.launches
        ring = (self.ring[(t - 1) % 3], self.ring[t % 3], self.ring[(t + 1) % 3])
        meta, thresholds, scales, tiles = self.sent
        args = (
            self.state,
            self.consts,
            self.pyramid,
            meta,
            thresholds,
            scales,
            self.steps[t % 2],
            self.steps[(t + 1) % 2],
            *ring,
            self.history[k],
            tiles,
            self.capacity,
            self.plane,
            self.row,
            *self.scalars,
            *self.counts,
            t % 2,
        )
        return (len(tiles),), args, self.constexprs

    def _at_level(self, slot: int, level: int, advance: bool = False) -> None:
        """The slot's pair at `level` of its pyramid (from the coarser one if `advance`)."""
        layout = self.layout[slot]
        h, w = layout.sizes[level]
        ch, cw = layout.sizes[level + 1] if advance else (0, 0)
        self.level[slot] = level
        self.meta[slot] = (h, w, layout.offsets[level], ch, cw)
        self.thresholds[slot] = self.params.epsilon**2 * h * w
        self.scales[slot] = (ch / h, cw / w)

    def _upload(self, stats: PoolStats) -> None:
        """The host's changes before a run, in one copy: meta, thresholds, scales, the tile
        table (the pairs' tiles at their level size), and the requests, patched into the
        records the run's first launch reads."""
        asked = np.array(sorted(self.requests), np.int32)
        # A request takes effect at the run's first launch, where the pair's state is in the
        # set its record names.
        self.parity[asked] = (self.records[asked, 3] - self.launches) % 2
        table = self._tile_table()
        arrays = [self.meta, self.thresholds, self.scales, table, asked, self.records[asked]]
        packed, places = _pack(arrays)
        sent = _to_device(packed, self.device)
        views = [sent[place] for place in places]
        self.sent = (
            views[0],
            views[1].view(torch.float32),
            views[2].view(torch.float64),
            views[3].view(-1, 4),
        )
        if len(asked):
            records = self.steps[self.launches % 2]
            records.index_copy_(0, views[4].long(), views[5].view(-1, 4))
        self.requested[asked] = self.runs
        self.requests.clear()
        stats.launch("upload")
        self.changed = False

    def _tile_table(self) -> np.ndarray:
        """A row per tile of the pairs in flight at their level's size: (slot, 2 x tile + the
        slot's parity, height, width), int32."""
        occupied = np.flatnonzero(self.level >= 0)
        hw = self.meta[occupied, 0].astype(np.int64) * self.meta[occupied, 1]
        counts = -(-hw // self.settings.block)
        slots = np.repeat(occupied, counts)
        tiles = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        h, w = self.meta[slots, 0], self.meta[slots, 1]
        return np.stack([slots, 2 * tiles + self.parity[slots], h, w], axis=1).astype(np.int32)

    def hand_back(
        self, slots: np.ndarray, destinations: list[torch.Tensor], stats: PoolStats
    ) -> None:
        """The finished pairs' flows (their finest level's u, in their home set) into their
        destinations, in one launch; their slots freed."""
        table = np.zeros((len(slots), 4), np.int64)
        table[:, 0] = slots
        table[:, 1] = self.records[slots, 3]
        table[:, 2] = [d.data_ptr() for d in destinations]
        table[:, 3] = self.meta[slots, 0].astype(np.int64) * self.meta[slots, 1]
        block = self.settings.block
        grid = (-(-int(table[:, 3].max()) // block), len(slots))
        sent = _to_device(table, self.device)
        self.copier(grid, self.state, sent, self.capacity, self.plane, BLOCK=block)
        stats.launch("finish", 2)  # the table to the device, a launch
        self.level[slots] = -1
        for slot in slots:
            self.layout[slot] = None
        self.changed = True

    def _reserve(self, plane: int, row: int, stats: PoolStats) -> None:
        """Arenas large enough for a frame of `plane` pixels and a pyramid row of `row`."""
        if plane <= self.plane and row <= self.row:
            return
        plane, row = max(plane, self.plane), max(row, self.row)
        c = self.capacity
        state = torch.zeros(2, c, 6, plane, device=self.device)
        consts = torch.zeros(c, 4, plane, device=self.device)
        pyramid = torch.zeros(c, row, device=self.device)
        if self.plane:
            state[..., : self.plane] = self.state
            consts[..., : self.plane] = self.consts
            pyramid[:, : self.row] = self.pyramid
        self.state, self.consts, self.pyramid = state, consts, pyramid
        self.plane, self.row = plane, row
        stats.launch("reserve", 6)
