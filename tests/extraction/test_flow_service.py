"""The per-process flow service: chunks of several threads sharing a pool of pairs in flight,
each caller getting exactly its own flow; frame sizes and parameters; bad requests failing alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from flowpipe.extraction.flow_service import FlowService, service_for
from flowpipe.extraction.settings import JobTuning
from flowpipe.flow import preset, tvl1_flow

FAST = preset("fast")
WAIT = 300  # seconds a result may take (the first solver call compiles its kernels)


def textured_frames(count: int, height: int = 24, width: int = 32, seed: int = 0) -> torch.Tensor:
    """uint8 [count,H,W]: a smooth random texture moving a pixel or so per frame, plus noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 1, height // 4, width // 4, generator=g) * 255
    texture = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic")[0, 0]
    frames = [
        torch.roll(texture, shifts=(k % 3, k), dims=(0, 1))
        + torch.rand(height, width, generator=g) * 20
        for k in range(count)
    ]
    return torch.stack(frames).clamp(0, 255).to(torch.uint8)


def assert_exact(got: torch.Tensor, prev: torch.Tensor, nxt: torch.Tensor) -> None:
    """The pool's flow is what solving the pairs alone gives, bit for bit (torch path)."""
    assert torch.equal(got, tvl1_flow(prev, nxt, params=FAST))


def test_requests_of_several_threads_share_the_pool_each_getting_its_own_flow() -> None:
    frames = textured_frames(13)
    requests = [(frames[3 * i : 3 * i + 3], frames[3 * i + 1 : 3 * i + 4]) for i in range(4)]
    service = FlowService("cpu", capacity=8)  # fewer places than pairs: refilled as they finish
    start = threading.Barrier(len(requests))

    def ask(request: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        start.wait()
        return service.submit(*request, FAST).result(timeout=WAIT)

    with ThreadPoolExecutor(len(requests)) as pool:
        flows = list(pool.map(ask, requests))
    stats = service.stats()[repr(FAST)]
    assert stats["pairs"] == 12
    for (prev, nxt), flow in zip(requests, flows, strict=True):
        assert flow.shape == (3, 2, 24, 32) and flow.dtype == torch.float32
        assert_exact(flow, prev, nxt)


def test_frame_sizes_share_the_pool() -> None:
    small, large = textured_frames(3), textured_frames(3, height=30, width=40, seed=1)
    service = FlowService("cpu", capacity=64)
    futures = [service.submit(f[:-1], f[1:], FAST) for f in (small, large)]
    flows = [future.result(timeout=WAIT) for future in futures]
    assert flows[0].shape == (2, 2, 24, 32) and flows[1].shape == (2, 2, 30, 40)
    for frames, flow in zip((small, large), flows, strict=True):
        assert_exact(flow, frames[:-1], frames[1:])


def test_a_request_larger_than_the_pool_is_solved_whole() -> None:
    frames = textured_frames(8)
    service = FlowService("cpu", capacity=4)
    futures = [
        service.submit(frames[:6], frames[1:7], FAST),
        service.submit(frames[:2], frames[1:3], FAST),
    ]
    big, small = (future.result(timeout=WAIT) for future in futures)
    assert_exact(big, frames[:6], frames[1:7])
    assert_exact(small, frames[:2], frames[1:3])


def test_other_parameters_get_their_own_pool() -> None:
    frames = textured_frames(3)
    service = FlowService("cpu", capacity=8)
    accurate = FAST.replace(warps=2)
    a = service.submit(frames[:-1], frames[1:], FAST).result(timeout=WAIT)
    b = service.submit(frames[:-1], frames[1:], accurate).result(timeout=WAIT)
    assert set(service.stats()) == {repr(FAST), repr(accurate)}
    assert torch.equal(b, tvl1_flow(frames[:-1], frames[1:], params=accurate))
    assert not torch.equal(a, b)


def test_bad_requests_fail_their_futures_and_the_service_goes_on() -> None:
    frames = textured_frames(4)
    service = FlowService("cpu", capacity=2)
    mismatched = service.submit(frames[:2], frames[:3], FAST)
    assert isinstance(mismatched.exception(timeout=WAIT), ValueError)
    not_uint8 = service.submit(frames[:2].float(), frames[1:3].float(), FAST)
    assert isinstance(not_uint8.exception(timeout=WAIT), ValueError)
    tiny = torch.zeros(1, 2, 2, dtype=torch.uint8)  # too small for the solver
    failing = [service.submit(tiny, tiny, FAST) for _ in range(2)]
    for future in failing:
        assert isinstance(future.exception(timeout=WAIT), ValueError)
    good = service.submit(frames[:2], frames[1:3], FAST)
    later = service.submit(frames[1:3], frames[2:4], FAST)
    assert_exact(good.result(timeout=WAIT), frames[:2], frames[1:3])
    assert_exact(later.result(timeout=WAIT), frames[1:3], frames[2:4])


def pairs(n: int) -> JobTuning:
    return JobTuning(solver_pairs_cpu=n, solver_pairs_gpu=n)


def test_service_for_is_one_service_per_device_and_size() -> None:
    assert service_for("cpu", pairs(32)) is service_for("cpu", pairs(32))
    assert service_for("cpu", pairs(32)) is not service_for("cpu", pairs(64))
    if not torch.cuda.is_available():
        assert service_for("auto", pairs(32)) is service_for("cpu", pairs(32))
        with pytest.raises(ValueError, match="CUDA is not available"):
            service_for("cuda", pairs(32))
