"""Which flow fields a stack holds and where stacks start (τ), in training and at test time.

The samplers bundle these choices per dataset (as pytorchvideo's clip samplers do):
`StackSampler` (two-stream stacks), `ClipSampler` (I3D clips), `FrameSampler` (RGB frames).

A stack starting at τ (1-based, the frame the motion starts from) holds forward fields
d_τ … d_{τ+L-1}; a bidirectional stack holds L/2 backward fields before τ then L/2 forward
fields from τ, in time order: b_{τ-L/2} … b_{τ-1}, d_τ … d_{τ+L/2-1} (b_k: frame k+1 → k).

Videos with fewer fields than a stack needs follow `short`:
- "loop" (default): the field sequence repeats (index k → ((k-1) mod n) + 1);
- "pad": the first/last field repeats at the ends (index clamped to 1..n);
- "error": ValueError naming the video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowpipe.checks import choice, integer

SHORT_POLICIES = ("loop", "pad", "error")
STACKINGS = ("simple", "trajectory")


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


@dataclass(frozen=True, kw_only=True)
class FieldSampler:
    """Which flow fields an item holds and which τ it starts at; `short` is the policy for
    videos with fewer fields than an item needs (see the module docstring); `stacking` how
    the fields are sampled: "simple" (the same pixels) or "trajectory" (along each pixel's
    path)."""

    short: str = "loop"
    stacking: str = "simple"

    def __post_init__(self) -> None:
        choice("short", self.short, SHORT_POLICIES)
        choice("stacking", self.stacking, STACKINGS)

    @property
    def fields(self) -> list[tuple[int, bool]]:
        """(offset from τ, backward) of an item's fields in channel order."""
        raise NotImplementedError

    @property
    def backward(self) -> bool:
        """Whether items hold backward fields."""
        return any(back for _, back in self.fields)

    def check(self, flows: int, video_id: str) -> None:
        """ValueError for a video too short for an item under short="error"."""
        first, last = start_range(flows, self.fields)
        if first > last:
            field_indices(first, self.fields, flows, self.short, video_id)

    def indices(self, start: int, flows: int, video_id: str = "") -> list[tuple[int, bool]]:
        """(1-based index, backward) of each field of the item at τ=start."""
        return field_indices(start, self.fields, flows, self.short, video_id)

    def train_starts(self, rng: np.random.Generator, flows: int) -> list[int]:
        """The τ of one training item (one per segment where there are several)."""
        return train_starts(rng, flows, self.fields)

    def test_starts(self, flows: int) -> list[int]:
        """The τ of a video's test items."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class StackSampler(FieldSampler):
    """Stacks of L fields for the two-stream temporal net: forward fields from τ, or with
    bidirectional=True L/2 backward fields before τ then L/2 forward. Training: one random τ,
    or one per TSN segment with segments=K; test: `test_stacks` evenly spaced τ."""

    L: int = 10
    bidirectional: bool = False
    segments: int = 1
    test_stacks: int = 25

    def __post_init__(self) -> None:
        super().__post_init__()
        integer("L", self.L, minimum=1)
        stack_fields(self.L, self.bidirectional)
        integer("segments", self.segments, minimum=1)
        integer("test_stacks", self.test_stacks, minimum=1)

    @property
    def fields(self) -> list[tuple[int, bool]]:
        return stack_fields(self.L, self.bidirectional)

    def train_starts(self, rng: np.random.Generator, flows: int) -> list[int]:
        return train_starts(rng, flows, self.fields, self.segments)

    def test_starts(self, flows: int) -> list[int]:
        return test_starts(flows, self.fields, self.test_stacks)


@dataclass(frozen=True, kw_only=True)
class ClipSampler(FieldSampler):
    """Clips of T consecutive forward fields (I3D): training from a random τ; test: the whole
    video in consecutive windows."""

    T: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        integer("T", self.T, minimum=1)

    @property
    def fields(self) -> list[tuple[int, bool]]:
        return stack_fields(self.T, False)

    def test_starts(self, flows: int) -> list[int]:
        return window_starts(flows, self.T)


@dataclass(frozen=True, kw_only=True)
class FrameSampler:
    """Single RGB frames: training one random frame; test `test_frames` evenly spaced."""

    test_frames: int = 25

    def __post_init__(self) -> None:
        integer("test_frames", self.test_frames, minimum=1)

    def train_frame(self, rng: np.random.Generator, frames: int) -> int:
        """A random frame (1-based) of a video of `frames` frames."""
        return int(rng.integers(1, frames + 1))

    def test_frames_of(self, frames: int) -> list[int]:
        """The test frames (1-based) of a video of `frames` frames."""
        return [int(round(k)) for k in np.linspace(1, frames, self.test_frames)]
