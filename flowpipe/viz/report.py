"""`flowpipe viz report`: one self-contained HTML page about an extracted dataset.

The page embeds its data as JSON (settings, counts, failures, one row per video with a
data:-URI thumbnail strip and its colour scale, two histograms, the forward-backward
consistency: per video from meta.json, suspect videos and pairs) and renders it with inline
JS a page of rows at a time, so 10,000 videos stay usable. Per-video statistics come from
`samples` flow fields spread evenly over each video (forward flow, read through
DatasetStore: folder or zip). Served by `flowpipe viz serve`, its rows open per-video views.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import posixpath
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from flowpipe.quality.suspects import SuspectRule, consistency_summary, video_figures
from flowpipe.storage import DatasetStore
from flowpipe.storage.summary import dataset_summary
from flowpipe.viz.colour import flow_to_colour, robust_max_magnitude, wheel_legend
from flowpipe.viz.dataset import Video
from flowpipe.viz.picture import hstack
from flowpipe.viz.stats import FlowStats, magnitude_edges, sample_indices, saturation_edges

DEFAULT_SAMPLES = 8
THUMBS = 4
THUMB_HEIGHT = 36
THUMB_QUALITY = 80
PAGE_SIZE = 100
_TEMPLATE = "report_template.html"
_DATA_MARK = "__FLOWPIPE_REPORT_DATA__"


def thumbnail_strip(flows: list[np.ndarray]) -> tuple[str, float]:
    """Colour pictures of a few flows (one shared scale), THUMB_HEIGHT px high, as a JPEG URI,
    and that scale (px at full saturation)."""
    scale = robust_max_magnitude(np.stack(flows))
    tiles = []
    for flow in flows:
        height, width = flow.shape[:2]
        size = (max(1, round(width * THUMB_HEIGHT / height)), THUMB_HEIGHT)
        tiles.append(cv2.resize(flow_to_colour(flow, scale), size, interpolation=cv2.INTER_AREA))
    strip = cv2.cvtColor(hstack(tiles, gap=1), cv2.COLOR_RGB2BGR)
    _, jpeg = cv2.imencode(".jpg", strip, [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode(), scale


def wheel_uri(size: int = 2 * THUMB_HEIGHT) -> str:
    """The colour wheel as a PNG data: URI (the report's keys; white outside the disc)."""
    _, png = cv2.imencode(".png", cv2.cvtColor(wheel_legend(size), cv2.COLOR_RGB2BGR))
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()


def video_row(video: Video, samples: int, edges: np.ndarray) -> tuple[dict[str, Any], FlowStats]:
    """One table row (stats of `samples` forward flows, thumbnails of THUMBS of them, the
    consistency figures of meta.json)."""
    meta = video.meta
    row = {
        "id": video.video_id,
        "label": meta.get("label"),
        "frames": meta["frames"],
        "flows": meta["flows"],
        "size": "x".join(str(v) for v in meta["size"]),
        **_consistency_columns(meta),
    }
    stats = FlowStats(video.bound, edges)
    try:
        ks = sample_indices(meta["flows"], samples)
        flows = [stats.add(qx, qy) for qx, qy in video.read_codes(ks)]
        picks = sample_indices(len(flows), THUMBS)
        row["thumb"], scale = thumbnail_strip([flows[i - 1] for i in picks])
        row["thumb_scale"] = round(scale, 3)
    except (ValueError, OSError) as err:
        row["error"] = str(err)
        stats = FlowStats(video.bound, edges)
    row["mean_magnitude"] = round(stats.mean_magnitude, 4)
    row["saturated_percent"] = round(stats.saturated_percent, 4)
    return row, stats


def _consistency_columns(meta: dict) -> dict[str, Any]:
    """The row's consistency columns: mean inconsistent fraction, mean error, worst 3 pairs."""
    figures = video_figures(meta)
    worst = figures["worst"]
    return {
        "inconsistent": figures["mean_inconsistent"],
        "fb_error": figures["mean_error"],
        "worst": None if worst is None else worst[:3],
    }


def video_bytes(store: DatasetStore, video_ids: set[str]) -> dict[str, int]:
    """Bytes on disk per video (its folder, or its zip and sidecar), from one listing."""
    prefix = store.root.rstrip("/") + "/"
    found = store.fs.find(store.root, withdirs=False, detail=True)
    sizes = dict.fromkeys(video_ids, 0)
    for name, info in found.items():
        rel = name[len(prefix) :] if name.startswith(prefix) else name
        owner = posixpath.dirname(rel)
        for suffix in (".zip", ".meta.json"):
            if owner not in sizes and rel.endswith(suffix):
                owner = rel[: -len(suffix)]
        if owner in sizes:
            sizes[owner] += int(info.get("size") or 0)
    return sizes


def _histogram(edges: np.ndarray, counts: np.ndarray) -> dict[str, list]:
    """JSON form of a histogram."""
    return {"edges": [round(float(e), 4) for e in edges], "counts": [int(c) for c in counts]}


def report_data(
    root: str,
    samples: int = DEFAULT_SAMPLES,
    workers: int | None = None,
    rule: SuspectRule | None = None,
) -> dict:
    """Everything the page shows, as JSON-ready data.

    Args:
        root: the dataset (folder, zip layout or fsspec URL).
        samples: forward flows read per video for its statistics and thumbnails.
        workers: decoding threads (default: up to 8, the cores).
        rule: which pairs and videos the consistency section lists as suspect.

    Returns:
        The page's data (see the module docstring). ValueError for a non-dataset or an
        empty one.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    store = DatasetStore(root)
    done = store.finished()
    summary = dataset_summary(root, done)
    failures = store.read_failures()
    if not done and not failures:
        raise ValueError(f"{root}: empty dataset (no finished video and no failed input)")
    bound = max([float(m["settings"]["bound"]) for m in done.values()] or [1.0])
    edges = magnitude_edges(bound)
    sizes = video_bytes(store, set(done))
    with ThreadPoolExecutor(workers or min(8, os.cpu_count() or 1)) as pool:
        videos = [Video(store, vid, meta) for vid, meta in done.items()]
        results = list(pool.map(lambda v: video_row(v, samples, edges), videos))
    rows = [{**row, "bytes": sizes[row["id"]]} for row, _ in results]
    magnitude = sum((s.histogram for _, s in results), np.zeros(len(edges) - 1, np.int64))
    saturation = np.histogram([r["saturated_percent"] for r in rows], saturation_edges())[0]
    return {
        "root": root,
        "generated": datetime.datetime.now().isoformat(timespec="seconds"),
        "summary": {k: v for k, v in summary.items() if k not in ("failed_inputs", "settings")},
        "manifest": store.read_manifest(),
        "samples": samples,
        "page_size": PAGE_SIZE,
        "failures": [{k: f.get(k) for k in ("path", "error", "message")} for f in failures],
        "rows": rows,
        "consistency": consistency_summary(done, rule),
        "wheel": wheel_uri(),
        "views": False,  # True when viz serve serves the page: rows link per-video views
        "histograms": {
            "magnitude": _histogram(edges, magnitude),
            "saturation": _histogram(saturation_edges(), saturation),
        },
    }


def render_html(data: dict) -> str:
    """The page: the template with the data embedded as JSON (safe inside <script>)."""
    template = resources.files("flowpipe.viz").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    payload = json.dumps(data, ensure_ascii=True, allow_nan=False).replace("</", "<\\/")
    return template.replace(_DATA_MARK, payload)


def write_report(
    root: str,
    output: str | os.PathLike,
    samples: int = DEFAULT_SAMPLES,
    workers: int | None = None,
    rule: SuspectRule | None = None,
) -> Path:
    """The HTML report of the dataset at root written to `output` (.html); returns the path.
    Args as for report_data."""
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"{output}: the report must be an .html file")
    page = render_html(report_data(root, samples, workers, rule))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output
