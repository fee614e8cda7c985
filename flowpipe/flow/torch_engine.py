"""The torch path's pool engine: the pairs in flight grouped by level size, stepped with torch ops.

Every step (`TorchEngine.step`) runs, per group of pairs at one level size: the median of the
pairs starting an outer loop, then one iteration of all of them (one call, on the group's
tensors as they are); then per pair what the solver's `Cursor` says comes next: the next warp's
constants, the next level (the flow upsampled, the pair moved to that size's group), or the
end (its flow handed back). A pair's operations are those of solving it alone, element by
element: the only reduction, each pair's change, is summed the same way whatever else shares
the call (`solver.pair_change`), so a pool's flow is bit for bit a solo solve's.

Groups keep exactly their pairs' rows: the iteration's results replace the group's tensors,
a pair entering is concatenated, a pair leaving is replaced by the group's last row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from flowpipe.flow.ops import base_grid, centered_gradient
from flowpipe.flow.params import TVL1Params
from flowpipe.flow.pool import PoolStats
from flowpipe.flow.solver import (
    Cursor,
    Kernels,
    Tensors,
    build_pyramid,
    level_flow,
    pair_change,
    pyramid_sizes,
)


@dataclass
class _Pyramids:
    """A request's frames at every level, finest first: [B,1,h,w] per level."""

    i0: Tensors
    i1: Tensors
    sizes: list[tuple[int, int]]


@dataclass
class _Pair:
    """A slot's pair: its pyramids (views of its request's) and level sizes."""

    i0: Tensors
    i1: Tensors
    sizes: list[tuple[int, int]]


STATE = ("u", "px", "py")
CONSTS = ("grad", "rho", "inv")
IMAGES = ("i0", "image")
FIELDS = STATE + CONSTS + IMAGES


@dataclass
class _Group:
    """The pairs at one level size: u, px, py [n,2,h,w], the warp's constants grad [n,2,h,w],
    rho and inv [n,1,h,w], the level's I0 [n,1,h,w] and I1 with its gradient [n,3,h,w]; one
    row per pair, `slots[row]` its slot."""

    size: tuple[int, int]
    grid: torch.Tensor
    threshold: float
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    slots: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quiet_until: int = 0  # before this step nothing but convergence can happen to its pairs
    medians: bool = False  # some pair starts an outer loop at the next step

    def __len__(self) -> int:
        return len(self.slots)

    def add(self, slots: np.ndarray, rows: dict[str, torch.Tensor]) -> None:
        for name in FIELDS:
            mine = self.tensors.get(name)
            self.tensors[name] = rows[name] if mine is None else torch.cat([mine, rows[name]])
        self.slots = np.concatenate([self.slots, slots])

    def remove(self, rows: np.ndarray) -> None:
        """Drop `rows`: the group's last rows that stay take their places."""
        kept = len(self) - len(rows)
        holes = rows[rows < kept]
        movers = np.setdiff1d(np.arange(kept, len(self)), rows)
        if len(holes):
            device = self.grid.device
            to, src = (torch.from_numpy(a).to(device) for a in (holes, movers))
            for name in FIELDS:
                t = self.tensors[name]
                t.index_copy_(0, to, t.index_select(0, src))
            self.slots[holes] = self.slots[movers]
        self.tensors = {name: t[:kept] for name, t in self.tensors.items()}
        self.slots = self.slots[:kept]


class TorchEngine:
    """A pool's pairs on the torch path: see the module's docstring."""

    def __init__(
        self, device: torch.device, params: TVL1Params, capacity: int, kernels: Kernels
    ) -> None:
        self.device, self.params, self.kernels = device, params, kernels
        self.cursor = Cursor(capacity, params)
        self.pairs: list[_Pair | None] = [None] * capacity
        self.groups: dict[tuple[int, int], _Group] = {}
        self.finished: dict[int, torch.Tensor] = {}  # slot -> its flow, until handed back
        self.constants = params.step_constants()
        self.now = 0  # the step being taken

    def prepare(self, i0: torch.Tensor, i1: torch.Tensor) -> _Pyramids:
        """The pyramids of a request's frames [B,1,H,W], built together."""
        sizes = pyramid_sizes(i0.shape[-2], i0.shape[-1], self.params)
        return _Pyramids(
            build_pyramid(i0, sizes, self.params), build_pyramid(i1, sizes, self.params), sizes
        )

    def admit(
        self, slots: np.ndarray, pyramids: _Pyramids, rows: np.ndarray, stats: PoolStats
    ) -> None:
        """Pairs `rows` of a request into free `slots`, at their coarsest level."""
        index = torch.from_numpy(rows).to(self.device)
        i0 = tuple(level.index_select(0, index) for level in pyramids.i0)
        i1 = tuple(level.index_select(0, index) for level in pyramids.i1)
        for k, slot in enumerate(slots):
            pick = slice(k, k + 1)
            self.pairs[slot] = _Pair(
                tuple(t[pick] for t in i0), tuple(t[pick] for t in i1), pyramids.sizes
            )
        coarsest = len(pyramids.sizes) - 1
        h, w = pyramids.sizes[coarsest]
        u = torch.zeros(len(slots), 2, h, w, device=self.device)
        stats.launch("admit")
        self._enter(slots, np.full(len(slots), coarsest), u, stats, self.now)

    def step(self, stats: PoolStats) -> np.ndarray:
        """One step of every pair in flight; returns the slots of the pairs done."""
        entering: list[tuple[np.ndarray, np.ndarray, torch.Tensor]] = []
        done: list[int] = []
        active = 0
        for group in list(self.groups.values()):
            if len(group) == 0:
                continue
            active += len(group)
            if group.medians:
                self._medians(group, stats)
            going = self._iterate(group, stats)
            if self.now < group.quiet_until and bool(going.all()):
                continue  # every pair goes on with its outer loop
            ended = self.cursor.iterated(group.slots, ~going.cpu().numpy(), self.now)
            self._after_warps(group, np.flatnonzero(ended), entering, done, stats)
            self._plan(group, self.now)
        for slots, levels, u in entering:
            self._enter(slots, levels, u, stats, self.now + 1)
        stats.step(active, active)
        self.now += 1
        return np.array(done, np.int64)

    def _plan(self, group: _Group, completed: int) -> None:
        """When the group's pairs next need more than an iteration, after step `completed`."""
        if len(group):
            group.quiet_until = self.cursor.quiet_until(group.slots, completed)
            group.medians = bool(self.cursor.median_due[group.slots].any())

    def hand_back(
        self, slots: np.ndarray, destinations: list[torch.Tensor], stats: PoolStats
    ) -> None:
        """The finished pairs' flows copied out."""
        for slot, destination in zip(slots, destinations, strict=True):
            destination.copy_(self.finished.pop(int(slot)))
        stats.launch("finish", len(slots))

    def _medians(self, group: _Group, stats: PoolStats) -> None:
        """The median of the pairs of `group` that start an outer loop."""
        rows = np.flatnonzero(self.cursor.median_due[group.slots])
        group.medians = False
        self.cursor.median_due[group.slots[rows]] = False
        if len(rows) == 0:
            return
        stats.launch("median")
        u, ksize = group.tensors["u"], self.params.median_filtering
        if len(rows) == len(group):
            group.tensors["u"] = self.kernels.median(u, ksize)
            return
        index = torch.from_numpy(rows).to(self.device)
        u.index_copy_(0, index, self.kernels.median(u.index_select(0, index), ksize))

    def _iterate(self, group: _Group, stats: PoolStats) -> torch.Tensor:
        """One iteration of every pair of the group; which of them go on (did not converge)."""
        stats.launch("iteration")
        t = group.tensors
        args = (t["u"], t["px"], t["py"], t["grad"], t["rho"], t["inv"], *self.constants)
        t["u"], t["px"], t["py"], row_change = self.kernels.iteration(*args)
        return pair_change(row_change) > group.threshold

    def _after_warps(
        self,
        group: _Group,
        rows: np.ndarray,
        entering: list[tuple[np.ndarray, np.ndarray, torch.Tensor]],
        done: list[int],
        stats: PoolStats,
    ) -> None:
        """Pairs of `group` (rows) that ended a warp: the next warp's constants, or out of the
        group to the next level (`entering`, applied after the step) or to `done`."""
        if len(rows) == 0:
            return
        slots = group.slots[rows]
        level_done = self.cursor.next_warp(slots, self.now)
        self._consts(group, rows[~level_done], stats)
        leaving = rows[level_done]
        if len(leaving) == 0:
            return
        u = group.tensors["u"].index_select(0, torch.from_numpy(leaving).to(self.device))
        levels = self.cursor.level[group.slots[leaving]] - 1
        finished = levels < 0
        for k in np.flatnonzero(finished):
            slot = int(group.slots[leaving[k]])
            self.finished[slot] = u[k]
            self.pairs[slot] = None
            done.append(slot)
        going_on = np.flatnonzero(~finished)
        sizes = [self.pairs[group.slots[leaving[k]]].sizes[levels[k]] for k in going_on]
        for size in dict.fromkeys(sizes):  # pairs of different frames may part here
            pick = going_on[[s == size for s in sizes]]
            stats.launch("level")
            u_next = level_flow(u[torch.from_numpy(pick).to(self.device)], size, self.params)
            entering.append((group.slots[leaving[pick]], levels[pick], u_next))
        group.remove(leaving)

    def _consts(self, group: _Group, rows: np.ndarray, stats: PoolStats) -> None:
        """The warp's constants of `rows` of `group`, from their flow now."""
        if len(rows) == 0:
            return
        stats.launch("warp")
        t = group.tensors
        mode = self.params.interpolation
        if len(rows) == len(group):
            consts = self.kernels.consts(t["i0"], t["image"], t["u"], group.grid, mode)
            t.update(zip(CONSTS, (c.contiguous() for c in consts), strict=True))
            return
        index = torch.from_numpy(rows).to(self.device)
        picked = (t[name].index_select(0, index) for name in ("i0", "image", "u"))
        consts = self.kernels.consts(*picked, group.grid, mode)
        for name, value in zip(CONSTS, consts, strict=True):
            t[name].index_copy_(0, index, value)

    def _enter(
        self,
        slots: np.ndarray,
        levels: np.ndarray,
        u: torch.Tensor,
        stats: PoolStats,
        first: int,
    ) -> None:
        """Pairs (all of one level size) start a level with flow u, iterating from step
        `first` on: duals 0, the level's images, the first warp's constants; into their size's
        group."""
        size = self.pairs[slots[0]].sizes[levels[0]]
        group = self.groups.get(size)
        if group is None:
            h, w = size
            threshold = self.params.epsilon**2 * h * w
            group = _Group(size, base_grid(h, w, self.device), threshold)
            self.groups[size] = group
        pairs = [self.pairs[s] for s in slots]
        i0 = torch.cat([p.i0[k] for p, k in zip(pairs, levels, strict=True)])
        i1 = torch.cat([p.i1[k] for p, k in zip(pairs, levels, strict=True)])
        rows = {"u": u, "px": torch.zeros_like(u), "py": torch.zeros_like(u), "i0": i0}
        rows["image"] = torch.cat([i1, centered_gradient(i1)], dim=1)
        consts = self.kernels.consts(i0, rows["image"], u, group.grid, self.params.interpolation)
        rows.update(zip(CONSTS, (c.contiguous() for c in consts), strict=True))
        stats.launch("warp")
        self.cursor.enter(slots, levels, first)
        group.add(slots, rows)
        self._plan(group, first - 1)
