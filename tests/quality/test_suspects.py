"""Tests of flowpipe.quality.suspects: reading consistency records back, suspects, rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowpipe.quality.suspects import SuspectRule, consistency_summary, video_rows
from flowpipe.storage import DatasetStore


def record(inconsistent: list[float]) -> dict:
    """A consistency record with these per-pair fractions (error = 10 x fraction)."""
    return {
        "threshold": {"alpha": 0.01, "beta": 0.5},
        "inconsistent": inconsistent,
        "error": [10 * v for v in inconsistent],
        "out_of_frame": [0.0] * len(inconsistent),
        "mean_inconsistent": sum(inconsistent) / len(inconsistent),
        "mean_error": 10 * sum(inconsistent) / len(inconsistent),
        "worst": [],
    }


def meta(inconsistent: list[float] | None, flows: int = 4) -> dict:
    """A finished video's meta.json, with a consistency record when given fractions."""
    out = {"flows": flows, "frames": flows + 1}
    if inconsistent is not None:
        out["consistency"] = record(inconsistent)
    return out


def test_the_cut_pair_and_its_video_are_suspect(checked_dataset: Path) -> None:
    done = DatasetStore(str(checked_dataset)).list_done()
    summary = consistency_summary(done)
    assert json.loads(json.dumps(summary)) == summary
    assert summary["videos_checked"] == 4 and summary["videos_unchecked"] == 1
    assert summary["thresholds"] == [{"alpha": 0.01, "beta": 0.5}]
    assert summary["rule"] == {"pair_inconsistent": 0.2, "video_inconsistent": 0.05}
    (pair,) = summary["suspect_pairs"]
    assert pair["id"] == "cut/cut_000" and pair["k"] == 4 and pair["inconsistent"] > 0.5
    assert [v["id"] for v in summary["suspect_videos"]] == ["cut/cut_000"]
    assert summary["suspect_pairs_total"] == summary["suspect_videos_total"] == 1


def test_rule_and_listing() -> None:
    done = {
        "a": meta([0.1, 0.3, 0.5, 0.0]),
        "b": meta([0.25, 0.0, 0.0, 0.0]),
        "c": meta(None),
        "d": {**meta(None), "consistency": {"inconsistent": "garbled"}},  # tolerated
    }
    summary = consistency_summary(done, SuspectRule(pair_inconsistent=0.2, video_inconsistent=0.1))
    assert summary["videos_checked"] == 2 and summary["videos_unchecked"] == 2
    pairs = [(p["id"], p["k"], p["inconsistent"]) for p in summary["suspect_pairs"]]
    assert pairs == [("a", 3, 0.5), ("a", 2, 0.3), ("b", 1, 0.25)]
    assert summary["suspect_pairs"][0]["error"] == 5.0
    assert [v["id"] for v in summary["suspect_videos"]] == ["a"]  # mean 0.225; b: 0.0625
    assert summary["mean_inconsistent"] == pytest.approx((0.225 + 0.0625) / 2)
    short = consistency_summary(done, listed=1)
    assert len(short["suspect_pairs"]) == 1 and short["suspect_pairs_total"] == 3


def test_a_dataset_without_records() -> None:
    summary = consistency_summary({"a": meta(None)})
    assert summary["videos_checked"] == 0 and summary["mean_inconsistent"] is None
    assert summary["suspect_pairs"] == [] and summary["thresholds"] == []


def test_rows_sort_worst_first_unchecked_last() -> None:
    done = {"a": meta([0.1, 0.1]), "b": meta(None), "c": meta([0.3, 0.0]), "d": meta([0.0])}
    assert [r["id"] for r in video_rows(done)] == ["c", "a", "d", "b"]
    assert [r["id"] for r in video_rows(done, "error")] == ["c", "a", "d", "b"]
    assert [r["id"] for r in video_rows(done, "id")] == ["a", "b", "c", "d"]
    b = video_rows(done, "id")[1]
    assert b == {
        "id": "b",
        "flows": 4,
        "mean_inconsistent": None,
        "mean_error": None,
        "worst": None,
    }
    with pytest.raises(ValueError, match="sort key"):
        video_rows(done, "size")


@pytest.mark.parametrize("field", ["pair_inconsistent", "video_inconsistent"])
def test_bad_rule_raises(field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("_", " ")):
        SuspectRule(**{field: 1.5})
