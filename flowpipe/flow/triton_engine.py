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


def _padded(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


class TritonEngine:
    """A pool's pairs on the Triton path: see the module's docstring."""

    def __init__(
        self, device: torch.device, params: TVL1Params, capacity: int, settings: TritonSettings
    ) -> None:
        from flowpipe.flow.triton_kernels import step

        self.device, self.params, self.settings = device, params, settings
        self.capacity = capacity
        self.kernel = Launcher(step)
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
        self.steps = torch.zeros(2, capacity, 4, dtype=torch.int32, device=device)
        # Rows padded to 16 bytes: every row view is equally aligned, so the kernel compiled
        # for one launch (specialised on alignment) launches with all of them.
        self.ring = torch.zeros(3, _padded(capacity, 4), device=device)
        self.history = torch.zeros(
            settings.check_every, _padded(capacity, 16), dtype=torch.int8, device=device
        )
        self.device_meta: tuple[torch.Tensor, ...] = ()
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
        self._reserve(h * w, prepared.packed.shape[1], stats)
        index = torch.from_numpy(rows).to(self.device)
        into = torch.from_numpy(slots).to(self.device)
        self.pyramid[into, : prepared.packed.shape[1]] = prepared.packed.index_select(0, index)
        stats.launch("admit", 4)  # two index copies to the device, a gather, a scatter
        for slot in slots:
            self.layout[slot] = prepared
            self._at_level(slot, len(prepared.sizes) - 1)
            self.records[slot] = (Step.ENTER, 0, 0, 0)
        self.changed = True

    def step(self, stats: PoolStats) -> list[tuple[int, torch.Tensor]]:
        """`check_every` launches, then a look: the pool's figures, pairs moved to their next
        level, finished ones handed back as (slot, flow [2,H,W])."""
        occupied = np.flatnonzero(self.level >= 0)
        if len(occupied) == 0:
            return []
        if self.changed:
            self._upload(occupied, stats)
        for k in range(self.settings.check_every):
            self._launch(k)
        stats.launch("step", self.settings.check_every)
        parity = self.launches % 2
        self.records = self.steps[parity].cpu().numpy().copy()
        taken = self.history[:, : self.capacity].cpu().numpy()[:, occupied]
        stats.launch("read", 2)
        stats.checks += 1
        for row in taken:
            stats.step(int(np.isin(row, TAKING_A_STEP).sum()), int((row == Step.ITERATE).sum()))
        idle = occupied[self.records[occupied, 0] == Step.IDLE]
        finished = idle[self.level[idle] == 0]
        for slot in idle[self.level[idle] > 0]:
            self._at_level(slot, self.level[slot] - 1, advance=True)
            self.records[slot, :3] = (Step.ADVANCE, 0, 0)
        self.changed |= len(idle) > 0
        return self._hand_back(finished, stats)

    def _launch(self, k: int) -> None:
        """Launch k of a run: every pair in the tile table takes its next step."""
        t = self.launches
        ring = (self.ring[(t - 1) % 3], self.ring[t % 3], self.ring[(t + 1) % 3])
        records = (self.steps[t % 2], self.steps[(t + 1) % 2])
        args = (
            self.state,
            self.consts,
            self.pyramid,
            *self.device_meta,
            *records,
            *ring,
            self.history[k],
            self.tiles,
            self.capacity,
            self.plane,
            self.row,
            *self.scalars,
            *self.counts,
        )
        cubic = self.params.interpolation == "bicubic"
        grid = (len(self.tiles),)
        self.kernel(grid, *args, BLOCK=self.settings.block, KSIZE=self.ksize, CUBIC=cubic)
        self.launches += 1

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
        """The host's changes to the device before a run: records, meta, the tile table."""
        self.steps[self.launches % 2].copy_(torch.from_numpy(self.records))
        self.device_meta = tuple(
            torch.from_numpy(a).to(self.device) for a in (self.meta, self.thresholds, self.scales)
        )
        hw = self.meta[occupied, 0].astype(np.int64) * self.meta[occupied, 1]
        counts = -(-hw // self.settings.block)
        slots = np.repeat(occupied, counts)
        tiles = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        table = np.stack([slots, tiles], axis=1).astype(np.int32)
        self.tiles = torch.from_numpy(table).to(self.device)
        stats.launch("upload", 5)
        self.changed = False

    def _hand_back(self, slots: np.ndarray, stats: PoolStats) -> list[tuple[int, torch.Tensor]]:
        """The flows of finished pairs (their finest level's u, in their home set); their
        slots freed."""
        if len(slots) == 0:
            return []
        homes = torch.from_numpy(self.records[slots, 3].astype(np.int64)).to(self.device)
        index = torch.from_numpy(slots).to(self.device)
        flows = self.state[homes, index, :2]
        stats.launch("finish", 3 + len(slots))  # two index copies, a gather, a copy per pair
        out = []
        for k, slot in enumerate(slots):
            h, w = self.meta[slot, :2]
            out.append((int(slot), flows[k, :, : h * w].reshape(2, h, w)))
            self.level[slot] = -1
            self.layout[slot] = None
        self.changed = True
        return out

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
