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


def _thresholds(records: dict[str, dict]) -> list[dict]:
    """The distinct Sundaram thresholds the records were computed with."""
    found: list[dict] = []
    for record in records.values():
        threshold = record.get("threshold")
        if threshold is not None and threshold not in found:
            found.append(threshold)
    return found


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


def _suspect_pairs(records: dict[str, dict], limit: float) -> list[dict[str, Any]]:
    """Every known pair above `limit`, worst first."""
    pairs = [
        {"id": vid, "k": k, "inconsistent": value, "error": error}
        for vid, record in records.items()
        for k, value, error in _pair_figures(record)
        if value > limit
    ]
    return sorted(pairs, key=lambda p: (-p["inconsistent"], p["id"], p["k"]))


def _suspect_videos(records: dict[str, dict], limit: float) -> list[dict[str, Any]]:
    """Every video whose mean is above `limit`, worst first."""
    videos = [
        {"id": vid, "mean_inconsistent": r["mean_inconsistent"], "mean_error": r["mean_error"]}
        for vid, r in records.items()
        if r["mean_inconsistent"] > limit
    ]
    return sorted(videos, key=lambda v: (-v["mean_inconsistent"], v["id"]))


def consistency_summary(
    done: dict[str, dict], rule: SuspectRule | None = None, listed: int = LISTED
) -> dict[str, Any]:
    """Dataset-level forward-backward consistency of finished videos (id -> meta.json).

    Args:
        done: the finished videos' metas (DatasetStore.list_done()).
        rule: what counts as suspect (default SuspectRule()).
        listed: at most this many suspect videos and pairs are listed, worst first.

    Returns:
        JSON-ready: videos_checked / videos_unchecked, threshold(s) of the test, the rule,
        mean_inconsistent and mean_error over checked videos, suspect_videos and
        suspect_pairs (lists) with their totals, pairs_from_worst (some videos' pairs known
        only through their 5 worst: the index's records).
    """
    rule = rule or SuspectRule()
    records = {vid: r for vid, m in sorted(done.items()) if (r := consistency_of(m))}
    pairs = _suspect_pairs(records, rule.pair_inconsistent)
    videos = _suspect_videos(records, rule.video_inconsistent)
    n = len(records)
    return {
        "videos_checked": n,
        "videos_unchecked": len(done) - n,
        "thresholds": _thresholds(records),
        "rule": rule.as_dict(),
        "mean_inconsistent": sum(r["mean_inconsistent"] for r in records.values()) / n
        if n
        else None,
        "mean_error": sum(r["mean_error"] for r in records.values()) / n if n else None,
        "suspect_videos": videos[:listed],
        "suspect_videos_total": len(videos),
        "suspect_pairs": pairs[:listed],
        "suspect_pairs_total": len(pairs),
        "pairs_from_worst": any(r.get("inconsistent") is None for r in records.values()),
    }


SORT_KEYS = ("inconsistent", "error", "id")


def video_rows(done: dict[str, dict], sort: str = "inconsistent") -> list[dict[str, Any]]:
    """One row per finished video (id, flows, its consistency columns), sorted by `sort`:
    "inconsistent" or "error" (worst first, unchecked videos last) or "id"."""
    if sort not in SORT_KEYS:
        raise ValueError(f"unknown sort key {sort!r}; choose one of {', '.join(SORT_KEYS)}")
    rows = [{"id": vid, "flows": m["flows"], **video_figures(m)} for vid, m in done.items()]
    if sort == "id":
        return sorted(rows, key=lambda r: r["id"])
    key = f"mean_{sort}"
    return sorted(rows, key=lambda r: (r[key] is None, -(r[key] or 0), r["id"]))
