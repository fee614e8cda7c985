"""The Triton path's pool engine: every pair of the pool in one kernel launch per step.

The pairs' data live in arenas with one row per slot, sized for the largest frame seen:
state [2 sets, slots, 6 planes] (u, px, py; two channels each), the warp's constants
[slots, 4 planes] and the pyramid [slots, levels x 4 planes] (I0, I1 and I1's gradient per
level). Each launch of `triton_kernels.step` advances every pair in flight by one step of its
own (a level's start, a warp's start, a median or an iteration), deciding it on the device
from the pair's record and change, so launches follow each other without the host.

Every `TritonSettings.check_every` launches the host looks (`step`): it reads the records and
the steps taken (the pool's figures); pairs that finished their level's last warp start the
next level (or, at the finest, hand their flow back and free their slot); slots filled since
the last look start the pair's coarsest level; the tile table (which pair's pixels each
program works on) follows the pairs' level sizes.
"""

from __future__ import annotations

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


class TritonEngine:
    """A pool's pairs on the Triton path: see the module's docstring."""

    def __init__(
        self, device: torch.device, params: TVL1Params, capacity: int, settings: TritonSettings
    ) -> None:
        from flowpipe.flow.triton_kernels import hand_back, step

        self.device, self.params, self.settings = device, params, settings
        self.capacity = capacity
        self.kernel = Launcher(step)
        self.copier = Launcher(hand_back)
        self.ksize = params.median_filtering if params.median_filtering > 1 else 0
        # The host's copies of what the next launch reads, per slot.
        self.records = np.zeros((capacity, 4), np.int32)  # step, iterations, warp, home
        self.meta = np.zeros((capacity, 5), np.int32)  # h, w, level offset, coarser h, w
        self.thresholds = np.zeros(capacity, np.float32)
        self.scales = np.zeros((capacity, 2), np.float64)  # coarser / this level, y and x
        self.level = np.full(capacity, -1)  # the slot's level (0: the finest), -1: free
        self.layout: list[_Prepared | None] = [None] * capacity
        self.changed = True  # records, meta or levels to upload before the next launch
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
        # What the host sends before a run, in one buffer (one copy): the records the run
        # starts from, meta, thresholds, scales and the tile table (`_upload`).
        self.sent: tuple[torch.Tensor, ...] = ()
        self.fresh = False  # the next launch reads the records just sent
        self.tiles = torch.zeros(0, 2, dtype=torch.int32, device=device)
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
        into = torch.from_numpy(slots).to(self.device)
        first = int(rows[0])  # the pool admits a request's pairs in order
        self.pyramid[:, :row].index_copy_(0, into, prepared.packed[first : first + len(rows)])
        stats.launch("admit", 2)  # the slots to the device, a copy
        for slot in slots:
            self.layout[slot] = prepared
            self._at_level(slot, len(prepared.sizes) - 1)
            self.records[slot] = (Step.ENTER, 0, 0, 0)
        self.changed = True

    def step(self, stats: PoolStats) -> np.ndarray:
        """`check_every` launches, then a look: the pool's figures, pairs moved to their next
        level; returns the slots of the pairs that finished."""
        occupied = np.flatnonzero(self.level >= 0)
        if len(occupied) == 0:
            return np.zeros(0, np.int64)
        if self.changed:
            self._upload(occupied, stats)
        for k in range(self.settings.check_every):
            self._launch(k)
        stats.launch("step", self.settings.check_every)
        book = self.book.cpu().numpy()
        stats.launch("read")
        stats.checks += 1
        records = book[: self.steps.numel()].reshape(self.steps.shape)
        self.records = records[self.launches % 2].copy()
        taken = book[self.steps.numel() :].reshape(self.history.shape)[:, occupied]
        for row in taken:
            stats.step(int(np.isin(row, TAKING_A_STEP).sum()), int((row == Step.ITERATE).sum()))
        idle = occupied[self.records[occupied, 0] == Step.IDLE]
        finished = idle[self.level[idle] == 0]
        for slot in idle[self.level[idle] > 0]:
            self._at_level(slot, self.level[slot] - 1, advance=True)
            self.records[slot, :3] = (Step.ADVANCE, 0, 0)
        self.changed |= len(idle) > 0
        return finished

    def _launch(self, k: int) -> None:
        """Launch k of a run: every pair in the tile table takes its next step."""
        grid, args, constexprs = self.arguments(k)
        self.kernel(grid, *args, **constexprs)
        self.fresh = False
        self.launches += 1

    def arguments(self, k: int) -> tuple[tuple[int], tuple, dict[str, object]]:
        """The grid, arguments and constexprs of launch k of a run."""
        t = self.launches
        ring = (self.ring[(t - 1) % 3], self.ring[t % 3], self.ring[(t + 1) % 3])
        records, meta, thresholds, scales, tiles = self.sent
        prev = records if self.fresh else self.steps[t % 2]
        args = (
            self.state,
            self.consts,
            self.pyramid,
            meta,
            thresholds,
            scales,
            prev,
            self.steps[(t + 1) % 2],
            *ring,
            self.history[k],
            tiles,
            self.capacity,
            self.plane,
            self.row,
            *self.scalars,
            *self.counts,
        )
        cubic = self.params.interpolation == "bicubic"
        constexprs = {"BLOCK": self.settings.block, "KSIZE": self.ksize, "CUBIC": cubic}
        return (len(tiles),), args, constexprs

    def _at_level(self, slot: int, level: int, advance: bool = False) -> None:
        """The slot's pair at `level` of its pyramid (from the coarser one if `advance`)."""
        layout = self.layout[slot]
        h, w = layout.sizes[level]
        ch, cw = layout.sizes[level + 1] if advance else (0, 0)
        self.level[slot] = level
        self.meta[slot] = (h, w, layout.offsets[level], ch, cw)
        self.thresholds[slot] = self.params.epsilon**2 * h * w
        self.scales[slot] = (ch / h, cw / w)

    def _upload(self, occupied: np.ndarray, stats: PoolStats) -> None:
        """The host's changes before a run, in one copy: the records the run starts from,
        meta, thresholds, scales, and the tile table (the pairs' tiles at their level size)."""
        hw = self.meta[occupied, 0].astype(np.int64) * self.meta[occupied, 1]
        counts = -(-hw // self.settings.block)
        slots = np.repeat(occupied, counts)
        tiles = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        table = np.stack([slots, tiles], axis=1).astype(np.int32)
        arrays = [self.records, self.meta, self.thresholds, self.scales, table]
        packed, places = _pack(arrays)
        sent = torch.from_numpy(packed).to(self.device)
        views = [sent[place] for place in places]
        self.sent = (
            views[0].view(self.capacity, 4),
            views[1],
            views[2].view(torch.float32),
            views[3].view(torch.float64),
            views[4].view(-1, 2),
        )
        self.fresh = True
        stats.launch("upload")
        self.changed = False

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
        sent = torch.from_numpy(table).to(self.device)
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
