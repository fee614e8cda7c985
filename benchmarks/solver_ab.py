"""The torch path's speed before and after the pool, in one process (a developer tool).

Loads `flowpipe/flow/solver.py` as it was at a commit before the pool (default 5a0e2c9, the
batch solver; its Triton import is dropped, the torch path does not use it) beside today's,
and times `tvl1_flow` of both on the same pairs of a shared clip at 340x256, in alternating
rounds, after a warm-up (compilation) call of each. Reports the CPU time of each call (the
process's, least disturbed by other work on a shared machine) and its wall time; one thread
by default, so that the CPU time is the work. Prints one JSON object.

    python benchmarks/solver_ab.py --data ../shared/data --clip ucf101 --start 40 --batch 16
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import types
from pathlib import Path

import cv2
import numpy as np
import torch

from flowpipe.bench.tvl1 import video_frames
from flowpipe.flow import preset, tvl1_flow

CLIPS = {"sample": "videos/sample_340x256.mp4", "ucf101": "videos/v_ApplyEyeMakeup_g01_c01.avi"}
TRITON_IMPORT = """from flowpipe.flow.triton_backend import (
    TritonSettings,
    default_settings,
    iterate_warp_triton,
    triton_available,
)
"""


def old_solver(commit: str) -> types.ModuleType:
    """solver.py at `commit` as a module (its Triton import dropped)."""
    source = subprocess.run(
        ["git", "show", f"{commit}:flowpipe/flow/solver.py"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    ).stdout
    if TRITON_IMPORT not in source:
        raise SystemExit(f"solver.py at {commit} does not import Triton as expected")
    module = types.ModuleType("old_solver")
    module.__file__ = f"<solver.py at {commit}>"
    sys.modules["old_solver"] = module
    code = compile(source.replace(TRITON_IMPORT, "TritonSettings = object\n"), "old_solver", "exec")
    exec(code, module.__dict__)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--clip", choices=sorted(CLIPS), default="sample")
    parser.add_argument("--start", type=int, default=0, help="first frame")
    parser.add_argument("--batch", type=int, default=8, help="pairs per call")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--commit", default="5a0e2c9")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    frames = video_frames(args.data / CLIPS[args.clip], args.start + args.batch + 1)
    frames = np.stack([cv2.resize(f, (340, 256), interpolation=cv2.INTER_AREA) for f in frames])
    prev, nxt = frames[args.start : -1], frames[args.start + 1 :]
    params = preset("opencv")
    solvers = {"before": old_solver(args.commit).tvl1_flow, "after": tvl1_flow}
    flows = {name: solve(prev, nxt, params=params) for name, solve in solvers.items()}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in solvers}
    for k in range(args.rounds):
        for name in sorted(solvers, reverse=k % 2 == 1):
            wall, cpu = time.perf_counter(), time.process_time()
            solvers[name](prev, nxt, params=params)
            times[name].append((time.process_time() - cpu, time.perf_counter() - wall))
    out = {"clip": args.clip, "frames_from": args.start, "batch": args.batch}
    out |= {"threads": args.threads, "rounds": args.rounds, "commit_before": args.commit}
    out["same_flow"] = bool(torch.equal(flows["before"], flows["after"]))
    for name, runs in times.items():
        cpu, wall = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
        out[name] = {
            "cpu_s_min": cpu[0],
            "cpu_s_median": cpu[len(cpu) // 2],
            "wall_s_min": wall[0],
            "wall_s_median": wall[len(wall) // 2],
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
