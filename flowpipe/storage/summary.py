"""`flowpipe info OUT`: what an extracted dataset holds and what its storage saves."""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowpipe.quality.suspects import LISTED, ConsistencyTotals, SuspectRule, VideoRows
from flowpipe.storage.dataset import DatasetStore
from flowpipe.storage.foreign import RawframeStore
from flowpipe.storage.layout import SIDECAR_SUFFIX

FLOAT32_BYTES = 4
FLOW_PREFIXES = ("flow_x_", "flow_y_", "bflow_x_", "bflow_y_")


def dataset_summary(
    root: str | DatasetStore | RawframeStore,
    done: Mapping[str, dict] | None = None,
    rule: SuspectRule | None = None,
    sort: str | None = None,
) -> dict[str, Any]:
    """What `flowpipe info` shows, JSON-ready.

    Args:
        root: the dataset's path or an opened store (flow another tool wrote:
            foreign.open_store).
        done: the finished videos' figures, when the caller has them already (else the
            store's `finished()`: its index, or every meta.json of a dataset without one).
        rule: which pairs and videos the consistency section lists as suspect.
        sort: also give one row per video ("video_rows"), sorted by this key of
            flowpipe.quality.suspects.video_rows; None: no rows.

    Returns:
        Videos, flows, failures, bytes on disk, the flow's ratio to float32, the end-point
        error that quantisation + JPEG add (measured by extraction on one field per video),
        the settings (every set, when a dataset mixes them) and the forward-backward
        consistency ("consistency": flowpipe.quality.suspects.consistency_summary).
    """
    store = DatasetStore(root) if isinstance(root, str) else root
    manifest = store.read_manifest()
    done = store.finished() if done is None else done
    if manifest is None and not done:
        raise ValueError(
            f"{store.url}: not a flowpipe dataset (no flowpipe.json and no finished video)"
        )
    totals, consistency = DatasetTotals(), ConsistencyTotals(rule)
    rows = VideoRows(sort) if sort else None
    for vid, meta in done.items():  # one pass, one decoded entry at a time
        totals.add(vid, meta)
        consistency.add(vid, meta)
        if rows is not None:
            rows.add(vid, meta)
    if totals.unrecorded:  # videos from before per-video bytes: their files are measured
        totals.measure(store.files.walk())
    failures = store.read_failures()
    sets = totals.settings_sets()
    return {
        "root": store.url,
        "videos": totals.videos,
        "frames": totals.frames,
        "flows": totals.flows,
        "flow_fields": totals.fields,
        "failures": len(failures),
        "failed_inputs": [f"{f['path']}: {f['message']}" for f in failures],
        "bytes": totals.bytes,
        "flow_bytes": totals.flow_bytes,
        "float32_bytes": totals.float_bytes,
        "ratio_to_float32": totals.float_bytes / totals.flow_bytes if totals.flow_bytes else None,
        "quantization_jpeg_epe_px": totals.mean_epe(),
        "settings": (manifest or {}).get("settings") or _foreign_settings(store, sets),
        "mixed_settings": sets if len(sets) > 1 else None,
        "sizes": dict(sorted(totals.sizes.items(), key=lambda kv: -kv[1])),
        "consistency": consistency.summary(),
        **({"video_rows": rows.sorted()} if rows is not None else {}),
    }


@dataclass
class DatasetTotals:
    """What `flowpipe info` adds up, in one pass over the finished videos."""

    videos: int = 0
    frames: int = 0
    flows: int = 0
    fields: int = 0
    float_bytes: int = 0
    flow_bytes: int = 0
    bytes: int = 0
    epe_sum: float = 0.0
    epe_count: int = 0
    sizes: Counter = field(default_factory=Counter)
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    unrecorded: list[str] = field(default_factory=list)

    def add(self, video_id: str, meta: dict) -> None:
        settings = meta.get("settings") or {}
        fields = meta["flows"] * (2 if settings.get("backward") else 1)
        width, height = meta["size"]
        self.videos += 1
        self.frames += meta["frames"]
        self.flows += meta["flows"]
        self.fields += fields
        self.float_bytes += fields * 2 * FLOAT32_BYTES * width * height
        self.sizes[f"{width}x{height}"] += 1
        recorded = meta.get("bytes") or {}
        if recorded.get("flow") is None:
            self.unrecorded.append(video_id)
        else:
            self.flow_bytes += int(recorded["flow"])
            self.bytes += int(recorded["flow"]) + int(recorded.get("images") or 0)
        if meta.get("quantization_jpeg_epe"):
            self.epe_sum += meta["quantization_jpeg_epe"]
            self.epe_count += 1
        key = repr(settings)
        group = self.sets.setdefault(key, {"settings": settings, "videos": 0, "e.g.": video_id})
        group["videos"] += 1
        group["e.g."] = min(group["e.g."], video_id)

    def measure(self, sizes: dict[str, int]) -> None:
        """Bytes from the files themselves (a dataset whose meta.json files record none)."""
        self.bytes = sum(sizes.values())
        self.flow_bytes = _flow_bytes(self.unrecorded, sizes, self.flow_bytes)

    def mean_epe(self) -> float | None:
        return self.epe_sum / self.epe_count if self.epe_count else None

    def settings_sets(self) -> list[dict[str, Any]]:
        return sorted(self.sets.values(), key=lambda g: -g["videos"])


def _flow_bytes(unrecorded: list[str], sizes: dict[str, int], recorded: int) -> int:
    """`recorded` plus the bytes of the flow files of the videos that record none: their flow
    files' sizes (folder layout), else the whole zip."""
    by_folder: dict[str, int] = {}
    for rel, size in sizes.items():
        if posixpath.basename(rel).startswith(FLOW_PREFIXES):
            folder = posixpath.dirname(rel)
            by_folder[folder] = by_folder.get(folder, 0) + size
    total = recorded
    for vid in unrecorded:
        if f"{vid}.zip" in sizes and f"{vid}{SIDECAR_SUFFIX}" in sizes:
            total += sizes[f"{vid}.zip"]
        else:
            total += by_folder.get(vid, 0)
    return total


def settings_sets(done: Mapping[str, dict]) -> list[dict[str, Any]]:
    """The distinct settings of the finished videos with their counts, most videos first."""
    totals = DatasetTotals()
    for vid, meta in done.items():
        totals.add(vid, meta)
    return totals.settings_sets()


def _foreign_settings(store: DatasetStore | RawframeStore, sets: list[dict]) -> dict | None:
    """A foreign dataset's settings (bound and layout), which it has no manifest to hold."""
    if isinstance(store, RawframeStore) and len(sets) == 1:
        return sets[0]["settings"]
    return None


def summary_text(summary: dict[str, Any]) -> str:
    """`flowpipe info`'s summary as lines for a person."""
    lines = [summary["root"]]
    add = lines.append
    add(f"  videos      {summary['videos']:,} done, {summary['failures']:,} failed")
    add(
        f"  flow        {summary['flows']:,} flows of {summary['frames']:,} frames "
        f"({summary['flow_fields']:,} fields with backward flow)"
    )
    if summary["sizes"]:
        add("  frames      " + ", ".join(f"{k} ({n:,})" for k, n in summary["sizes"].items()))
    add("  settings    " + _describe_settings(summary))
    ratio = summary["ratio_to_float32"]
    storage = f"{_mb(summary['bytes'])} in all, flow {_mb(summary['flow_bytes'])}"
    if ratio:
        storage += f": {ratio:.1f}x smaller than float32 flow"
    add(f"  storage     {storage}")
    if summary["quantization_jpeg_epe_px"] is not None:
        epe = summary["quantization_jpeg_epe_px"]
        add(f"  JPEG error  {epe:.3f} px mean end-point error (quantisation + JPEG)")
    lines += consistency_lines(summary["consistency"])
    for failure in summary["failed_inputs"][:10]:
        add(f"  failed      {failure}")
    if len(summary["failed_inputs"]) > 10:
        add(f"  ...         {len(summary['failed_inputs']) - 10} more in failures.jsonl")
    return "\n".join(lines)


def consistency_lines(consistency: dict[str, Any], shown: int = 10) -> list[str]:
    """The forward-backward consistency lines of `flowpipe info`: the figures over checked
    videos with the test's threshold, then the suspect pairs and videos (worst first)."""
    checked, unchecked = consistency["videos_checked"], consistency["videos_unchecked"]
    if not checked:
        return [
            f"  consistency none recorded ({unchecked:,} videos without backward flow or figures)"
        ]
    tests = (
        "; ".join(f"alpha {t['alpha']:g}, beta {t['beta']:g}" for t in consistency["thresholds"])
        or "threshold not recorded"
    )
    lines = [
        f"  consistency {_pct(consistency['mean_inconsistent'])} of pixels inconsistent, "
        f"{consistency['mean_error']:.3f} px error, mean of {checked:,} videos "
        f"(forward-backward check: {tests}; {unchecked:,} videos unchecked)"
    ]
    rule = consistency["rule"]
    among = " (among each video's 5 worst)" if consistency["pairs_from_worst"] else ""
    lines.append(
        f"  suspect     {consistency['suspect_pairs_total']:,} pairs over "
        f"{_pct(rule['pair_inconsistent'])} inconsistent{among}, "
        f"{consistency['suspect_videos_total']:,} videos over "
        f"{_pct(rule['video_inconsistent'])} on average"
    )
    for pair in consistency["suspect_pairs"][:shown]:
        share = _pct(pair["inconsistent"])
        error = "" if pair["error"] is None else f", {pair['error']:.2f} px"
        lines.append(f"    pair      {pair['id']} flow {pair['k']}: {share} inconsistent{error}")
    for video in consistency["suspect_videos"][:shown]:
        lines.append(
            f"    video     {video['id']}: {_pct(video['mean_inconsistent'])} inconsistent, "
            f"{video['mean_error']:.3f} px (mean of its pairs)"
        )
    more = max(0, consistency["suspect_pairs_total"] - shown)
    more_videos = max(0, consistency["suspect_videos_total"] - shown)
    if more or more_videos:
        where = f"--json lists up to {LISTED} of each"
        lines.append(f"    ...       {more:,} more pairs, {more_videos:,} more videos ({where})")
    return lines


def videos_text(rows: list[dict[str, Any]]) -> str:
    """One line per video: mean inconsistent fraction, mean error, worst pairs (k: fraction)."""
    lines = [
        f"{'inconsistent':>12} {'error px':>9}  {'worst pairs (flow: inconsistent)':<40} video"
    ]
    for row in rows:
        if row["mean_inconsistent"] is None:
            lines.append(f"{'-':>12} {'-':>9}  {'(no consistency figures)':<40} {row['id']}")
            continue
        worst = ", ".join(f"{k}: {_pct(f)}" for k, f in row["worst"][:3])
        share = _pct(row["mean_inconsistent"])
        lines.append(f"{share:>12} {row['mean_error']:>9.3f}  {worst:<40} {row['id']}")
    return "\n".join(lines)


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.1f} %"


def _describe_settings(summary: dict[str, Any]) -> str:
    sets = summary["mixed_settings"]
    if not sets:
        return _settings_words(summary["settings"])
    parts = [
        f"{_settings_words(s['settings'])} ({_videos(s['videos'])}, e.g. {s['e.g.']})" for s in sets
    ]
    return f"MIXED, {len(sets)} sets: " + "; ".join(parts)


def _settings_words(settings: dict[str, Any] | None) -> str:
    if not settings:
        return "unknown"
    words = [f"bound {settings['bound']:g} px"]
    if "layout" in settings:
        words.append(f"{settings['layout']} layout")
    if "quality" in settings:
        words.append(f"JPEG quality {settings['quality']}")
    resize = settings.get("resize") or {}
    if resize.get("size"):
        words.append("size {}x{}".format(*resize["size"]))
    if resize.get("short_side"):
        words.append(f"short side {resize['short_side']}")
    words += [w for w, on in (("backward", settings["backward"]), ("rgb", settings["rgb"])) if on]
    params = settings.get("params") or {}
    if params:
        words.append(f"{params.get('warps')} warps, {params.get('nscales')} scales")
    return ", ".join(words)


def _videos(n: int) -> str:
    return f"{n:,} video{'' if n == 1 else 's'}"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"
