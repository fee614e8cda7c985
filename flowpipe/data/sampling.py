"""Which flow fields a stack holds and where stacks start (τ), in training and at test time.

A stack starting at τ (1-based, the frame the motion starts from) holds forward fields
d_τ … d_{τ+L-1}; a bidirectional stack holds L/2 backward fields before τ then L/2 forward
fields from τ, in time order: b_{τ-L/2} … b_{τ-1}, d_τ … d_{τ+L/2-1} (b_k: frame k+1 → k).

Videos with fewer fields than a stack needs follow `short`:
- "loop" (default): the field sequence repeats (index k → ((k-1) mod n) + 1);
- "pad": the first/last field repeats at the ends (index clamped to 1..n);
- "error": ValueError naming the video.
"""

from __future__ import annotations

import numpy as np

SHORT_POLICIES = ("loop", "pad", "error")


def stack_fields(length: int, bidirectional: bool) -> list[tuple[int, bool]]:
    """(offset from τ, backward) of a stack's fields in channel order."""
    if length < 1 or (bidirectional and length % 2):
        raise ValueError(f"L must be >= 1 (and even when bidirectional), got {length}")
    if not bidirectional:
        return [(k, False) for k in range(length)]
    half = length // 2
    return [(k, True) for k in range(-half, 0)] + [(k, False) for k in range(half)]


def start_range(flows: int, offsets: list[tuple[int, bool]]) -> tuple[int, int]:
    """(first, last) τ whose fields all lie in 1..flows; first > last when the video is short."""
    lo = min(off for off, _ in offsets)
    hi = max(off for off, _ in offsets)
    return 1 - lo, flows - hi


def _fallback_start(flows: int, offsets: list[tuple[int, bool]]) -> int:
    """τ for a short video: as early as the backward fields allow, within 1..flows."""
    return min(max(1, start_range(flows, offsets)[0]), flows)


def field_indices(
    start: int, offsets: list[tuple[int, bool]], flows: int, short: str, video_id: str = ""
) -> list[tuple[int, bool]]:
    """(1-based index, backward) of each field of the stack at τ=start, under the policy."""
    if short not in SHORT_POLICIES:
        raise ValueError(f"short must be one of {SHORT_POLICIES}, got {short!r}")
    out = []
    for off, backward in offsets:
        k = start + off
        if not 1 <= k <= flows:
            if short == "error":
                raise ValueError(
                    f"video {video_id!r} has {flows} flows, too few for a stack of "
                    f"{len(offsets)} (short='loop' or 'pad' accept it)"
                )
            k = (k - 1) % flows + 1 if short == "loop" else min(max(k, 1), flows)
        out.append((k, backward))
    return out


def train_starts(
    rng: np.random.Generator, flows: int, offsets: list[tuple[int, bool]], segments: int = 1
) -> list[int]:
    """One random τ per TSN segment: the valid range cut into `segments` equal parts."""
    first, last = start_range(flows, offsets)
    if first > last:
        return [_fallback_start(flows, offsets)] * segments
    count = last - first + 1
    starts = []
    for i in range(segments):
        lo = first + i * count // segments
        hi = max(lo, first + (i + 1) * count // segments - 1)
        starts.append(int(rng.integers(lo, hi + 1)))
    return starts


def test_starts(flows: int, offsets: list[tuple[int, bool]], count: int) -> list[int]:
    """`count` evenly spaced τ over the valid range (the paper's 25 test stacks)."""
    first, last = start_range(flows, offsets)
    if first > last:
        return [_fallback_start(flows, offsets)] * count
    return [int(round(t)) for t in np.linspace(first, last, count)]


def window_starts(flows: int, length: int) -> list[int]:
    """τ of consecutive windows of `length` fields covering the whole video (I3D testing);
    the last window ends at the last field (overlapping its neighbour) when needed."""
    if flows <= length:
        return [1]
    starts = list(range(1, flows - length + 2, length))
    if starts[-1] + length - 1 < flows:
        starts.append(flows - length + 1)
    return starts
