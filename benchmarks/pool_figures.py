"""Continuous batching's device-independent figures at a GPU's scale, on a CPU (a developer tool).

`record` runs the torch path on the pairs of a shared clip, one pair at a time, and writes how
many iterations each warp of each pair took (the pairs' convergence; one JSON per clip).
`replay` computes from such a record, for each pool or batch size asked:

- today: the batch solver before the pool (commit 5a0e2c9): the Triton path launched one
  iteration for the pairs still going at the last look, looked every 8 iterations (4 device
  ops), and per warp set up and gathered its buffers (12 ops), per level made its images and
  grid (12 ops) and upsampled the flow (35 ops); launches per pair and the mean share of the
  batch taking each iteration launch;
- pool: `triton_engine`'s schedule and counters replayed: the same rules as its kernel and
  its looks (`Pool`, `TritonEngine.step`), fed a stream of the recorded pairs in chunks of a
  quarter of the pool, repeated to `--stream` pairs; the shares over all steps (the stream's
  end included, when the pool empties) and over the steps while chunks were still waiting
  (`_fed`: the steady state of a long extraction).

The pyramid, built per batch or chunk either way, is left out of both. The replay reproduces
the engine's own counters exactly when fed the Triton path's iteration counts (checked under
TRITON_INTERPRET=1 on UCF-101 frames at 68x52); the torch path's counts, recorded here, differ
from the Triton path's by a few iterations in some warps (float rounding near the stopping
threshold). Prints one JSON object.

    python benchmarks/pool_figures.py record ucf101 --pairs 256 --data ../shared/data > ucf.json
    python benchmarks/pool_figures.py replay ucf.json --sizes 16,64,256 --stream 2048
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from flowpipe.bench.tvl1 import video_frames
from flowpipe.flow import TVL1Params, preset
from flowpipe.flow.frames import to_gray_batch
from flowpipe.flow.solver import Backend, Kernels, select_backend, solve_batch

CLIPS = {"sample": "videos/sample_340x256.mp4", "ucf101": "videos/v_ApplyEyeMakeup_g01_c01.avi"}
IDLE, LEVEL, WARP, MEDIAN, ITERATE, ENTER, ADVANCE = range(7)  # triton_engine.Step
TAKING_A_STEP = (LEVEL, WARP, MEDIAN, ITERATE)
NOT_SENT = np.iinfo(np.int64).max  # a request the device has not had yet (triton_engine)
# Device ops of the batch solver before the pool (commit 5a0e2c9), per occasion.
TODAY_OPS = {"look": 4, "warp": 12, "level": 12, "upsample": 35}


def record(clip: str, pairs: int, size: tuple[int, int], data: Path) -> dict[str, Any]:
    """Iterations of each warp of each pair (coarsest level first), from solo torch solves."""
    frames = video_frames(data / CLIPS[clip], pairs + 1)
    frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    cpu = torch.device("cpu")
    base = select_backend(cpu, "torch")
    warps: list[int] = []

    def consts(*args: Any) -> Any:  # each warp starts with its constants
        warps.append(0)
        return base.kernels.consts(*args)

    def iteration(*args: Any) -> Any:
        warps[-1] += 1
        return base.kernels.iteration(*args)

    counting = Backend(cpu, Kernels(iteration, base.kernels.median, consts))
    its = []
    start = time.perf_counter()
    for i in range(pairs):
        warps.clear()
        pair = (to_gray_batch(f, "frames", cpu) for f in (frames[i : i + 1], frames[i + 1 : i + 2]))
        solve_batch(*pair, preset("opencv"), counting)
        its.append(list(warps))
    seconds = time.perf_counter() - start
    return {"clip": clip, "size": list(size), "pairs": pairs, "seconds": seconds, "its": its}


def today(its: list[list[int]], batch: int, params: TVL1Params, look: int = 8) -> dict[str, Any]:
    """The batch solver's launches on the Triton path for batches of `batch` pairs."""
    per_warp = np.array(its).T  # [warps, pairs]
    levels = per_warp.shape[0] // params.warps
    launches: Counter = Counter()
    active = carried = iteration_launches = 0
    for lo in range(0, per_warp.shape[1], batch):
        for warp in per_warp[:, lo : lo + batch]:
            launches["warp"] += 1
            launches["bookkeeping"] += TODAY_OPS["warp"]
            alive, done = np.ones(len(warp), bool), 0
            for _ in range(params.outer_iterations):
                if not alive.any():
                    break
                launches["median"] += 1
                inner = 0
                while inner < params.inner_iterations and alive.any():
                    chunk = min(look, params.inner_iterations - inner)
                    for _ in range(chunk):
                        iteration_launches += 1
                        carried += int(alive.sum())
                        active += int((warp > done).sum())
                        done += 1
                    inner += chunk
                    alive = warp > done
                    launches["bookkeeping"] += TODAY_OPS["look"]
        ops = levels * TODAY_OPS["level"] + (levels - 1) * TODAY_OPS["upsample"]
        launches["bookkeeping"] += ops
    launches["iteration"] = iteration_launches
    pairs = per_warp.shape[1]
    return {
        "batch": batch,
        "launches": dict(sorted(launches.items())),
        "launches_per_pair": sum(launches.values()) / pairs,
        "kernel_launches_per_pair": sum(launches[k] for k in ("iteration", "median", "warp"))
        / pairs,
        "active_share": active / (iteration_launches * batch),
        "carried_share": carried / (iteration_launches * batch),
    }


def pool(
    its: list[list[int]],
    capacity: int,
    stream: int,
    params: TVL1Params,
    look: int = 8,
    chunk: int | None = None,
) -> dict[str, Any]:
    """`triton_engine`'s schedule and counters for `stream` pairs (the record repeated) fed in
    chunks of `chunk` pairs (a quarter of the pool by default) to a pool of `capacity`: runs
    of `look` steps, each queued before the host looks at the run before (its requests reach
    the device before the next run; a look skips slots whose last request came later)."""
    traces = [its[i % len(its)] for i in range(stream)]
    chunk = max(1, capacity // 4) if chunk is None else chunk
    waiting = deque([list(range(lo, min(lo + chunk, stream))) for lo in range(0, stream, chunk)])
    c, warps, median = capacity, params.warps, params.median_filtering > 1
    pair, left = np.full(c, -1), np.zeros(c, int)  # levels still to go after this one
    kind, done, warp, index = (np.zeros(c, int) for _ in range(4))  # index: the trace's warp
    requested = np.full(c, -1)  # the run from which the slot's last request is in effect
    pending: dict[int, tuple[int, int, int, int]] = {}  # requests not yet sent
    launches: Counter = Counter()
    steps = active = iterating = looks = finished = runs = 0
    fed = fed_active = fed_iterating = 0  # steps while chunks were waiting, and their pairs
    reserved, changed = False, True
    most = params.outer_iterations * params.inner_iterations
    before = None  # the last run's (records, steps taken, run, chunks waiting)
    while finished < stream:
        free = list(np.flatnonzero(pair < 0))
        while free and waiting:  # Pool._admit
            take = waiting[0][: len(free)]
            del waiting[0][: len(take)]
            launches["reserve"] += 0 if reserved else 6
            reserved = True
            launches["admit"] += 2
            for p in take:
                s = free.pop(0)
                pair[s], left[s] = p, len(traces[p]) // warps - 1
                pending[s], requested[s] = (ENTER, 0, 0, 0), NOT_SENT
            if not waiting[0]:
                waiting.popleft()
        occupied = np.flatnonzero(pair >= 0)
        if pending or changed:  # TritonEngine._upload
            for s, record in pending.items():
                kind[s], done[s], warp[s], index[s] = record
                requested[s] = runs
            pending.clear()
            launches["upload"] += 1
        changed = False
        history = []
        for _ in range(look):
            for s in occupied:
                kind[s], done[s], warp[s], index[s] = _next(
                    kind[s], done[s], warp[s], index[s], traces[pair[s]], params, median, most
                )
            history.append(kind.copy())
        launches["step"] += look
        launches["read"] += 1
        run, runs = runs, runs + 1
        last, before = before, (kind.copy(), history, run, bool(waiting))
        if last is None:
            continue
        records, taken, seen_run, fed_run = last
        looks += 1
        seen = np.flatnonzero((pair >= 0) & (requested <= seen_run))
        for row in taken:
            taking = int(np.isin(row[seen], TAKING_A_STEP).sum())
            going = int((row[seen] == ITERATE).sum())
            steps, active, iterating = steps + 1, active + taking, iterating + going
            if fed_run:
                fed, fed_active, fed_iterating = fed + 1, fed_active + taking, fed_iterating + going
        idle = seen[records[seen] == IDLE]
        out = idle[left[idle] == 0]
        for s in idle[left[idle] > 0]:
            left[s] -= 1
            pending[s], requested[s] = (ADVANCE, 0, 0, index[s] + 1), NOT_SENT
        if len(out):
            launches["finish"] += 2  # TritonEngine.hand_back
            finished += len(out)
            pair[out] = -1
            changed = True
    return {
        "capacity": capacity,
        "pairs": stream,
        "chunk": chunk,
        "launches": dict(sorted(launches.items())),
        "launches_per_pair": sum(launches.values()) / stream,
        "steps_per_pair": steps / stream,
        "active_share": active / (steps * capacity),
        "iterating_share": iterating / (steps * capacity),
        "fed_steps": fed,
        "active_share_fed": fed_active / (fed * capacity) if fed else None,
        "iterating_share_fed": fed_iterating / (fed * capacity) if fed else None,
        "looks": looks,
    }


def _next(
    kind: int,
    done: int,
    warp: int,
    index: int,
    trace: list[int],
    params: TVL1Params,
    median: bool,
    most: int,
) -> tuple[int, int, int, int]:
    """triton_kernels.next_step, a warp ending where the record says it ended."""
    if kind in (ENTER, ADVANCE):
        step, done, warp = LEVEL, 0, 0
    elif kind == LEVEL:
        step = MEDIAN if median else ITERATE
    elif kind in (WARP, MEDIAN):
        step = ITERATE
    elif kind == ITERATE:
        if done >= trace[index] or done >= most:
            step = IDLE if warp + 1 >= params.warps else WARP
            if step == WARP:
                warp, done, index = warp + 1, 0, index + 1
        elif median and done % params.inner_iterations == 0:
            step = MEDIAN
        else:
            step = ITERATE
    else:
        step = IDLE
    return step, done + (step == ITERATE), warp, index


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record")
    rec.add_argument("clip", choices=sorted(CLIPS))
    rec.add_argument("--pairs", type=int, default=256)
    rec.add_argument("--size", default="340x256")
    rec.add_argument("--data", type=Path, required=True)
    rep = commands.add_parser("replay")
    rep.add_argument("records", nargs="+", type=Path)
    rep.add_argument("--sizes", default="16,64,128,256")
    rep.add_argument("--stream", type=int, default=2048)
    args = parser.parse_args()
    if args.command == "record":
        size = tuple(int(v) for v in args.size.split("x"))
        print(json.dumps(record(args.clip, args.pairs, size, args.data)))
        return
    params = preset("opencv")
    out: dict[str, Any] = {}
    for path in args.records:
        trace = json.loads(path.read_text())
        sizes = [int(v) for v in args.sizes.split(",")]
        its = trace["its"]
        out[trace["clip"]] = {
            "recorded_pairs": trace["pairs"],
            "iterations_per_pair": float(np.mean([sum(p) for p in its])),
            "today": [today(its, b, params) for b in sizes],
            "pool": [pool(its, c, max(args.stream, c), params) for c in sizes],
        }
        print(f"[pool figures] {trace['clip']} done", file=sys.stderr)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
