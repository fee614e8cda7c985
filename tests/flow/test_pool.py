"""Continuous batching: a pool's flow is each pair's solo flow, bit for bit on the torch path,
with pairs of different sizes and convergence speeds mixed and the pool refilled mid-run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from flowpipe.devices import torch_threads
from flowpipe.flow import TVL1Params, tvl1_flow
from flowpipe.flow.pool import FlowPool, solve_all
from flowpipe.flow.solver import select_backend
from flowpipe.synth import render_video

SMALL = TVL1Params(nscales=3, warps=2)
WAIT = 300  # seconds a result may take


def gray(motion: str, size: tuple[int, int], frames: int, seed: int) -> np.ndarray:
    rgb = render_video(motion, seed=seed, size=size, frames=frames).frames
    return rgb.mean(axis=-1).round().astype(np.uint8)


def chunks() -> list[tuple[np.ndarray, np.ndarray]]:
    """Chunks of pairs of two frame sizes: a rotation (slow to converge), a translation, and
    an identical pair (converges at once)."""
    a = gray("rotate_cw", (48, 40), 4, seed=3)
    b = gray("translate_left", (40, 32), 4, seed=5)
    still = np.stack([a[0], a[0]])
    return [(a[:2], a[1:3]), (b[:3], b[1:4]), (still[:1], still[1:]), (a[2:3], a[3:4])]


def solo(prev: np.ndarray, nxt: np.ndarray, params: TVL1Params = SMALL) -> torch.Tensor:
    pairs = zip(prev, nxt, strict=True)
    return torch.cat([tvl1_flow(p, n, params=params, compile=False) for p, n in pairs])


def test_a_pool_refilled_mid_run_gives_each_pair_its_solo_flow() -> None:
    work = chunks()
    with FlowPool("cpu", SMALL, capacity=3, compile=False) as pool:
        futures = [pool.submit(prev, nxt) for prev, nxt in work]
        flows = [future.result(timeout=WAIT) for future in futures]
        stats = pool.stats
    for (prev, nxt), flow in zip(work, flows, strict=True):
        assert flow.shape == (len(prev), 2, *prev.shape[1:]) and flow.dtype == torch.float32
        assert torch.equal(flow, solo(prev, nxt))
    assert stats.pairs == sum(len(prev) for prev, _ in work) == 7
    figures = stats.as_dict()
    assert 0 < figures["active_share"] <= 1 and figures["launches_per_pair"] > 0


def test_pairs_submitted_from_several_threads() -> None:
    work = chunks() * 2
    start = threading.Barrier(len(work))
    with FlowPool("cpu", SMALL, capacity=4, compile=False) as pool:

        def ask(chunk: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
            start.wait()
            return pool.submit(*chunk).result(timeout=WAIT)

        with ThreadPoolExecutor(len(work)) as callers:
            flows = list(callers.map(ask, work))
    for (prev, nxt), flow in zip(work, flows, strict=True):
        assert torch.equal(flow, solo(prev, nxt))


def test_map_keeps_the_order_and_bad_chunks_fail_alone() -> None:
    work = chunks()
    with FlowPool("cpu", SMALL, capacity=2, compile=False) as pool:
        flows = list(pool.map(work, ahead=2))
        bad = pool.submit(work[0][0], work[1][1])  # different sizes
        assert isinstance(bad.exception(timeout=WAIT), ValueError)
        again = pool.submit(*work[2]).result(timeout=WAIT)
    assert [len(f) for f in flows] == [len(prev) for prev, _ in work]
    assert torch.equal(flows[1], solo(*work[1]))
    assert torch.equal(again, solo(*work[2]))
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(*work[2])


def test_a_batch_through_a_pool_of_its_size_is_tvl1_flow() -> None:
    prev, nxt = chunks()[0]
    cpu = torch.device("cpu")
    i0, i1 = (torch.from_numpy(f).float().unsqueeze(1) for f in (prev, nxt))
    flow, stats = solve_all(i0, i1, SMALL, select_backend(cpu, "torch", False), stats=True)
    assert torch.equal(flow, tvl1_flow(prev, nxt, params=SMALL, compile=False))
    figures = stats.as_dict()
    assert figures["pairs"] == 2 and figures["capacity"] == 2
    assert figures["launches"]["iteration"] >= stats.steps  # a call per level size per step


@pytest.mark.skipif(torch.get_num_threads() < 2, reason="one torch thread: 1 and 2 look alike")
def test_the_pool_thread_solves_on_the_cpu_threads_asked_for() -> None:
    # A new thread starts with torch's default count, not its maker's: the pool sets its own.
    prev, nxt = chunks()[0]
    with torch_threads(1):
        for threads, expected in ((None, 1), (2, 2)):
            with FlowPool("cpu", SMALL, capacity=2, compile=False, threads=threads) as pool:
                assert torch.equal(pool.submit(prev, nxt).result(timeout=WAIT), solo(prev, nxt))
                assert pool.stats.as_dict()["threads"] == expected
    with pytest.raises(ValueError, match="at least 1 thread"):
        FlowPool("cpu", SMALL, threads=0)
