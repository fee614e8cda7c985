"""Reading the consistency records of a dataset back: per-video rows, suspect videos and pairs.

A video extracted with backward flow carries meta["consistency"] (flowpipe.quality.consistency);
one extracted without it, or by an older flowpipe, simply has none and is left out here. A
*suspect pair* has more than `SuspectRule.pair_inconsistent` of its checked pixels
inconsistent (a hard cut, a flash, a failed flow); a *suspect video* has a mean over its pairs
above `SuspectRule.video_inconsistent` (noise, motion too large for the flow). No torch here:
`flowpipe info` stays quick to start.

Readers get either the whole meta.json (every pair's figures) or the dataset index's entry
(flowpipe.storage.index: the means and the 5 worst pairs, and the threshold). From an entry,
suspect pairs are found among each video's 5 worst, so a video with more than 5 suspect pairs
counts 5 (`pairs_from_worst` says when that applies).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LISTED = 200  # suspects kept in a summary (the counts are of all of them)


@dataclass(frozen=True)
class SuspectRule:
    """Which pairs and videos are listed as suspect (fractions of checked pixels).

    Defaults from measured figures (docs/inspection.md): consecutive pairs of the shared
    UCF-101 / Kinetics clips stay under 1 % but for one at 14 %; a hard cut between two
    synthetic clips reached 83 %.
    """

    pair_inconsistent: float = 0.2
    video_inconsistent: float = 0.05

    def __post_init__(self) -> None:
        for name in ("pair_inconsistent", "video_inconsistent"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise ValueError(f"suspect {name.replace('_', ' ')} must be in [0, 1], got {value}")

    def as_dict(self) -> dict[str, float]:
        """JSON form."""
        return {
            "pair_inconsistent": self.pair_inconsistent,
            "video_inconsistent": self.video_inconsistent,
        }


def consistency_of(meta: dict) -> dict | None:
    """The video's consistency record (meta.json's, or the index's shorter one), or None when
    it has none or a malformed one."""
    record = meta.get("consistency")
    if not isinstance(record, dict):
        return None
    means = [record.get(k) for k in ("mean_inconsistent", "mean_error")]
    if not all(isinstance(v, (int, float)) for v in means):
        return None
    per_pair = record.get("inconsistent")
    if per_pair is not None and not isinstance(per_pair, list):
        return None
    return record


def video_figures(meta: dict) -> dict[str, Any]:
    """A video's consistency columns: mean_inconsistent, mean_error, worst ([[k, f], ...]);
    all None without a record."""
    record = consistency_of(meta)
    if record is None:
        return {"mean_inconsistent": None, "mean_error": None, "worst": None}
    return {
        "mean_inconsistent": record["mean_inconsistent"],
        "mean_error": record["mean_error"],
        "worst": record.get("worst") or [],
    }


def _pair_figures(record: dict) -> list[tuple[int, float, float | None]]:
    """(k, inconsistent, error) of every pair the record knows: all of them in meta.json's,
    the 5 worst (no error) in the index's."""
    if record.get("inconsistent") is None:
        return [(int(k), float(f), None) for k, f in record.get("worst") or []]
    errors = record.get("error") or []
    return [
        (k, value, errors[k - 1] if k <= len(errors) else None)
        for k, value in enumerate(record["inconsistent"], start=1)
    ]


class ConsistencyTotals:
    """The dataset-level consistency figures, gathered one video at a time: sums, counts, and
    the `listed` worst suspect videos and pairs (a bounded heap each), so a summary of 650,000
    videos holds a few hundred of them, not all."""

    def __init__(self, rule: SuspectRule | None = None, listed: int = LISTED) -> None:
        self.rule = rule or SuspectRule()
        self.listed = listed
        self.checked = self.unchecked = 0
        self.sum_inconsistent = self.sum_error = 0.0
        self.thresholds: list[dict] = []
        self.from_worst = False
        self.videos = _Worst(listed)
        self.pairs = _Worst(listed)

    def add(self, video_id: str, meta: dict) -> None:
        """One finished video (its meta.json, or the index's entry)."""
        record = consistency_of(meta)
        if record is None:
            self.unchecked += 1
            return
        self.checked += 1
        self.sum_inconsistent += record["mean_inconsistent"]
        self.sum_error += record["mean_error"]
        threshold = record.get("threshold")
        if threshold is not None and threshold not in self.thresholds:
            self.thresholds.append(threshold)
        self.from_worst |= record.get("inconsistent") is None
        if record["mean_inconsistent"] > self.rule.video_inconsistent:
            means = {k: record[k] for k in ("mean_inconsistent", "mean_error")}
            self.videos.add((-record["mean_inconsistent"], video_id), {"id": video_id, **means})
        for k, value, error in _pair_figures(record):
            if value > self.rule.pair_inconsistent:
                row = {"id": video_id, "k": k, "inconsistent": value, "error": error}
                self.pairs.add((-value, video_id, k), row)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: videos_checked / videos_unchecked, threshold(s) of the test, the rule,
        mean_inconsistent and mean_error over checked videos, suspect_videos and
        suspect_pairs (the worst `listed`, worst first) with their totals, pairs_from_worst
        (some videos' pairs known only through their 5 worst: the index's records)."""
        n = self.checked
        return {
            "videos_checked": n,
            "videos_unchecked": self.unchecked,
            "thresholds": self.thresholds,
            "rule": self.rule.as_dict(),
            "mean_inconsistent": self.sum_inconsistent / n if n else None,
            "mean_error": self.sum_error / n if n else None,
            "suspect_videos": self.videos.rows(),
            "suspect_videos_total": self.videos.total,
            "suspect_pairs": self.pairs.rows(),
            "suspect_pairs_total": self.pairs.total,
            "pairs_from_worst": self.from_worst,
        }


class _Worst:
    """The `size` rows of smallest key seen (and how many were offered)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.total = 0
        self._heap: list[tuple[Any, int, dict]] = []

    def add(self, key: Any, row: dict) -> None:
        self.total += 1
        item = (_Reversed(key), self.total, row)
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, item)
        elif item[0] > self._heap[0][0]:
            heapq.heapreplace(self._heap, item)

    def rows(self) -> list[dict]:
        return [row for _, _, row in sorted(self._heap, key=lambda i: i[0].key)]


class _Reversed:
    """Orders keys backwards: the heap's top is then the largest kept key (dropped first)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return other.key < self.key

    def __gt__(self, other: _Reversed) -> bool:
        return self.key < other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.key == other.key


def consistency_summary(
    done: Mapping[str, dict], rule: SuspectRule | None = None, listed: int = LISTED
) -> dict[str, Any]:
    """Dataset-level forward-backward consistency of finished videos (id -> meta.json or
    index entry): ConsistencyTotals over all of them, in id order."""
    totals = ConsistencyTotals(rule, listed)
    for video_id in sorted(done):
        totals.add(video_id, done[video_id])
    return totals.summary()


SORT_KEYS = ("inconsistent", "error", "id")


class VideoRows:
    """One row per finished video (id, flows, its consistency columns), gathered one video at
    a time and sorted by `sort`: "inconsistent" or "error" (worst first, unchecked videos
    last) or "id"."""

    def __init__(self, sort: str = "inconsistent") -> None:
        if sort not in SORT_KEYS:
            raise ValueError(f"unknown sort key {sort!r}; choose one of {', '.join(SORT_KEYS)}")
        self.sort = sort
        self.rows: list[dict[str, Any]] = []

    def add(self, video_id: str, meta: dict) -> None:
        self.rows.append({"id": video_id, "flows": meta["flows"], **video_figures(meta)})

    def sorted(self) -> list[dict[str, Any]]:
        if self.sort == "id":
            return sorted(self.rows, key=lambda r: r["id"])
        key = f"mean_{self.sort}"
        return sorted(self.rows, key=lambda r: (r[key] is None, -(r[key] or 0), r["id"]))


def video_rows(done: Mapping[str, dict], sort: str = "inconsistent") -> list[dict[str, Any]]:
    """VideoRows over all finished videos."""
    rows = VideoRows(sort)
    for video_id, meta in done.items():
        rows.add(video_id, meta)
    return rows.sorted()
