"""`flowpipe info OUT`: what an extracted dataset holds and what its storage saves."""

from __future__ import annotations

import posixpath
from typing import Any

import numpy as np

from flowpipe.quality.suspects import LISTED, SuspectRule, consistency_summary, video_rows
from flowpipe.storage.dataset import DatasetStore
from flowpipe.storage.foreign import RawframeStore
from flowpipe.storage.layout import SIDECAR_SUFFIX

FLOAT32_BYTES = 4
FLOW_PREFIXES = ("flow_x_", "flow_y_", "bflow_x_", "bflow_y_")


def dataset_summary(
    root: str | DatasetStore | RawframeStore,
    done: dict[str, dict] | None = None,
    rule: SuspectRule | None = None,
    sort: str | None = None,
) -> dict[str, Any]:
    """What `flowpipe info` shows, JSON-ready.

    Args:
        root: the dataset's path or an opened store (flow another tool wrote:
            foreign.open_store).
        done: the store's list_done(), when the caller has it already (it reads every
            meta.json).
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
    root = store.url
    manifest = store.read_manifest()
    done = store.list_done() if done is None else done
    if manifest is None and not done:
        raise ValueError(f"{root}: not a flowpipe dataset (no flowpipe.json and no finished video)")
    sizes = store.files.walk()
    fields = {vid: m["flows"] * (2 if m["settings"]["backward"] else 1) for vid, m in done.items()}
    float_bytes = sum(
        n * 2 * FLOAT32_BYTES * done[vid]["size"][0] * done[vid]["size"][1]
        for vid, n in fields.items()
    )
    flow_bytes = _flow_bytes(done, sizes)
    errors = [m["quantization_jpeg_epe"] for m in done.values() if m.get("quantization_jpeg_epe")]
    failures = store.read_failures()
    sets = settings_sets(done)
    return {
        "root": root,
        "videos": len(done),
        "frames": sum(m["frames"] for m in done.values()),
        "flows": sum(m["flows"] for m in done.values()),
        "flow_fields": sum(fields.values()),
        "failures": len(failures),
        "failed_inputs": [f"{f['path']}: {f['message']}" for f in failures],
        "bytes": sum(sizes.values()),
        "flow_bytes": flow_bytes,
        "float32_bytes": float_bytes,
        "ratio_to_float32": float_bytes / flow_bytes if flow_bytes else None,
        "quantization_jpeg_epe_px": float(np.mean(errors)) if errors else None,
        "settings": (manifest or {}).get("settings") or _foreign_settings(store, sets),
        "mixed_settings": sets if len(sets) > 1 else None,
        "sizes": _frame_sizes(done),
        "consistency": consistency_summary(done, rule),
        **({"video_rows": video_rows(done, sort)} if sort else {}),
    }


def _flow_bytes(done: dict[str, dict], sizes: dict[str, int]) -> int:
    """Bytes of the flow JPEGs: recorded per video at extraction, else the flow files' sizes
    (folder layout), else the whole zip."""
    total = 0
    flow_files: dict[str, int] | None = None
    for vid, meta in done.items():
        recorded = (meta.get("bytes") or {}).get("flow")
        if recorded is not None:
            total += int(recorded)
        elif f"{vid}.zip" in sizes and f"{vid}{SIDECAR_SUFFIX}" in sizes:
            total += sizes[f"{vid}.zip"]
        else:
            flow_files = _flow_files_per_folder(sizes) if flow_files is None else flow_files
            total += flow_files.get(vid, 0)
    return total


def _flow_files_per_folder(sizes: dict[str, int]) -> dict[str, int]:
    """Folder -> bytes of the flow JPEGs in it, from one pass over the listing (a pass per
    video took 10 minutes at 10,000 videos)."""
    per_folder: dict[str, int] = {}
    for rel, size in sizes.items():
        folder, name = posixpath.split(rel)
        if name.startswith(FLOW_PREFIXES):
            per_folder[folder] = per_folder.get(folder, 0) + size
    return per_folder


def settings_sets(done: dict[str, dict]) -> list[dict[str, Any]]:
    """The distinct settings of the finished videos with their counts, most videos first."""
    groups: dict[str, dict[str, Any]] = {}
    for vid, meta in sorted(done.items()):
        group = groups.setdefault(
            repr(meta.get("settings")), {"settings": meta.get("settings"), "videos": 0, "e.g.": vid}
        )
        group["videos"] += 1
    return sorted(groups.values(), key=lambda g: -g["videos"])


def _foreign_settings(store: DatasetStore | RawframeStore, sets: list[dict]) -> dict | None:
    """A foreign dataset's settings (bound and layout), which it has no manifest to hold."""
    if isinstance(store, RawframeStore) and len(sets) == 1:
        return sets[0]["settings"]
    return None


def _frame_sizes(done: dict[str, dict]) -> dict[str, int]:
    """'WxH' -> number of videos stored at that size."""
    counts: dict[str, int] = {}
    for meta in done.values():
        key = "x".join(str(v) for v in meta["size"])
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


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
    tests = "; ".join(
        f"alpha {t['alpha']:g}, beta {t['beta']:g}" for t in consistency["thresholds"]
    )
    lines = [
        f"  consistency {_pct(consistency['mean_inconsistent'])} of pixels inconsistent, "
        f"{consistency['mean_error']:.3f} px error, mean of {checked:,} videos "
        f"(forward-backward check: {tests}; {unchecked:,} videos unchecked)"
    ]
    rule = consistency["rule"]
    lines.append(
        f"  suspect     {consistency['suspect_pairs_total']:,} pairs over "
        f"{_pct(rule['pair_inconsistent'])} inconsistent, {consistency['suspect_videos_total']:,}"
        f" videos over {_pct(rule['video_inconsistent'])} on average"
    )
    for pair in consistency["suspect_pairs"][:shown]:
        share = _pct(pair["inconsistent"])
        lines.append(
            f"    pair      {pair['id']} flow {pair['k']}: {share} inconsistent, "
            f"{pair['error']:.2f} px"
        )
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
