"""Where stacks start: TSN segments, 25 test stacks, I3D windows, bidirectional ranges and the
short-video policies (loop, pad, error)."""

from __future__ import annotations

import numpy as np
import pytest

from flowpipe.data import sampling
from flowpipe.data.sampling import (
    field_indices,
    stack_fields,
    start_range,
    train_starts,
    window_starts,
)

FORWARD = stack_fields(10, False)
BIDIRECTIONAL = stack_fields(10, True)


def test_stack_fields_order_and_bad_lengths() -> None:
    assert FORWARD == [(k, False) for k in range(10)]
    assert stack_fields(4, True) == [(-2, True), (-1, True), (0, False), (1, False)]
    for length, bidirectional in ((0, False), (3, True)):
        with pytest.raises(ValueError, match="L must be >= 1"):
            stack_fields(length, bidirectional)


def test_start_ranges_keep_every_field_in_the_video() -> None:
    assert start_range(30, FORWARD) == (1, 21)
    assert start_range(30, BIDIRECTIONAL) == (6, 26)
    first, last = start_range(30, BIDIRECTIONAL)
    for tau in (first, last):
        ks = [k for k, _ in field_indices(tau, BIDIRECTIONAL, 30, "error")]
        assert min(ks) == 1 or max(ks) == 30
        assert 1 <= min(ks) and max(ks) <= 30


@pytest.mark.parametrize(("flows", "segments"), [(40, 3), (12, 3), (100, 7)])
def test_train_starts_stay_in_their_segment_and_cover_the_range(flows: int, segments: int) -> None:
    first, last = start_range(flows, FORWARD)
    count = last - first + 1
    rng = np.random.default_rng(0)
    seen: list[set[int]] = [set() for _ in range(segments)]
    for _ in range(400):
        for i, tau in enumerate(train_starts(rng, flows, FORWARD, segments)):
            seen[i].add(tau)
    for i, taus in enumerate(seen):
        lo = first + i * count // segments
        hi = max(lo, first + (i + 1) * count // segments - 1)
        assert taus == set(range(lo, hi + 1)), (i, sorted(taus))
    assert set().union(*seen) == set(range(first, last + 1))


def test_test_starts_are_25_evenly_spaced() -> None:
    starts = sampling.test_starts(100, FORWARD, 25)
    assert len(starts) == 25 and starts[0] == 1 and starts[-1] == 91
    gaps = np.diff(starts)
    assert set(gaps) <= {3, 4} and sorted(starts) == starts
    bidirectional = sampling.test_starts(100, BIDIRECTIONAL, 25)
    assert bidirectional[0] == 6 and bidirectional[-1] == 96


def test_window_starts_cover_the_whole_video() -> None:
    assert window_starts(200, 64) == [1, 65, 129, 137]
    assert window_starts(128, 64) == [1, 65]
    assert window_starts(40, 64) == [1]
    for flows in range(1, 300, 17):
        covered = set()
        for tau in window_starts(flows, 64):
            covered |= set(range(tau, min(tau + 64, flows + 1)))
        assert covered == set(range(1, flows + 1))


def test_short_video_policies() -> None:
    assert train_starts(np.random.default_rng(0), 4, FORWARD, 3) == [1, 1, 1]
    assert sampling.test_starts(4, FORWARD, 25) == [1] * 25
    loop = [k for k, _ in field_indices(1, FORWARD, 4, "loop")]
    assert loop == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]
    pad = [k for k, _ in field_indices(1, FORWARD, 4, "pad")]
    assert pad == [1, 2, 3, 4, 4, 4, 4, 4, 4, 4]
    with pytest.raises(ValueError, match="video 'v' has 4 flows, too few for a stack of 10"):
        field_indices(1, FORWARD, 4, "error", "v")
    with pytest.raises(ValueError, match="short must be one of"):
        field_indices(1, FORWARD, 40, "wrap")


def test_short_bidirectional_stack_starts_after_its_backward_fields() -> None:
    tau = train_starts(np.random.default_rng(0), 7, BIDIRECTIONAL)[0]
    assert tau == 6
    fields = field_indices(tau, BIDIRECTIONAL, 7, "pad")
    assert fields == [
        (1, True),
        (2, True),
        (3, True),
        (4, True),
        (5, True),
        (6, False),
        (7, False),
        (7, False),
        (7, False),
        (7, False),
    ]
    looped = field_indices(tau, BIDIRECTIONAL, 7, "loop")
    assert [k for k, _ in looped[5:]] == [6, 7, 1, 2, 3]
