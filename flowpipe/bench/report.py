"""`flowpipe bench report`: how big and how quick to open the report of many videos is.

Writes a dataset of `videos` tiny videos (32x24, `flows` forward + backward flows of smooth
random motion each, a consistency record in meta.json, as extraction writes them), builds
the report, and opens it in headless Chromium (best of `rounds`: from navigation to the
first page of rows drawn). Then serves the dataset (`viz serve`, in this process) and opens
one video's view to its first pair drawn: what on-demand views cost a click.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowpipe.bench.browser import Browser, chromium_path
from flowpipe.storage import DatasetStore, backward_names, flow_names
from flowpipe.storage.codec import encode_jpeg, quantize

READY = "document.body.dataset.status === 'ok'"
SIZE = (32, 24)
BOUND = 20.0


@dataclass(frozen=True)
class ReportBench:
    """What `flowpipe bench report` runs."""

    videos: int = 10_000
    flows: int = 3
    samples: int = 8
    rounds: int = 3
    seed: int = 0
    keep: str | None = None  # build (or reuse) the dataset here, and keep it


def _tiny_files(rng: np.random.Generator, flows: int) -> dict[str, bytes]:
    """flow_/bflow_ JPEGs of smooth random flow (a random affine field per flow)."""
    width, height = SIZE
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    files = {}
    for k in range(1, flows + 1):
        a = rng.normal(0, [2.0, 0.05, 0.05, 2.0, 0.05, 0.05]).astype(np.float32)
        fwd = np.stack([a[0] + a[1] * xs + a[2] * ys, a[3] + a[4] * xs + a[5] * ys])
        for names, flow in ((flow_names, fwd), (backward_names, -fwd)):
            qx, qy = quantize(flow, BOUND)
            name_x, name_y = names(k)
            files[name_x], files[name_y] = encode_jpeg(qx), encode_jpeg(qy)
    return files


def _record(rng: np.random.Generator, flows: int) -> dict:
    """A plausible consistency record (a cut in one video of 50)."""
    inconsistent = rng.uniform(0, 0.02, flows)
    if rng.uniform() < 0.02:
        inconsistent[rng.integers(flows)] = rng.uniform(0.5, 0.9)
    error = inconsistent * 5
    worst = sorted(range(flows), key=lambda i: -inconsistent[i])[:5]
    return {
        "threshold": {"alpha": 0.01, "beta": 0.5},
        "inconsistent": [round(float(v), 4) for v in inconsistent],
        "error": [round(float(v), 3) for v in error],
        "out_of_frame": [0.01] * flows,
        "mean_inconsistent": round(float(inconsistent.mean()), 4),
        "mean_error": round(float(error.mean()), 3),
        "worst": [[i + 1, round(float(inconsistent[i]), 4)] for i in worst],
    }


def write_tiny_dataset(root: Path, bench: ReportBench) -> Path:
    """`bench.videos` tiny finished videos under root (see the module docstring)."""
    rng = np.random.default_rng(bench.seed)
    store = DatasetStore(str(root))
    settings = {"bound": BOUND, "quality": 95, "backward": True, "rgb": False, "fps": None}
    for i in range(bench.videos):
        video_id = f"class_{i % 101:03d}/video_{i:05d}"
        meta = {
            "video_id": video_id,
            "source": f"gone/{video_id}.avi",
            "label": i % 101,
            "frames": bench.flows + 1,
            "flows": bench.flows,
            "fps": 25.0,
            "size": list(SIZE),
            "settings": settings,
            "consistency": _record(rng, bench.flows),
        }
        store.write_video(video_id, _tiny_files(rng, bench.flows), meta)
    store.write_manifest({"settings": settings})
    return root


def open_seconds(browser: Browser, url: str, rounds: int) -> float:
    """Best time of `rounds` openings of url until its page says it is drawn."""
    best = float("inf")
    for _ in range(rounds):
        browser.open("about:blank")
        start = time.perf_counter()
        browser.open(url)
        browser.wait_for(READY, timeout=300)
        best = min(best, time.perf_counter() - start)
    return best


def _served_view_seconds(root: Path, browser: Browser, bench: ReportBench) -> dict:
    """Serve the dataset in a thread: the time until it listens, a view's opening time then
    (while the report is built), the time until the report is built, and its opening time."""
    from flowpipe.viz.serve import ServeOptions, make_server

    start = time.perf_counter()
    server = make_server(str(root), ServeOptions(samples=bench.samples))
    listening_s = time.perf_counter() - start
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        view_s = open_seconds(browser, url + "view?video=class_000/video_00000", bench.rounds)
        server.pages.report.ready()
        ready_s = time.perf_counter() - start
        report_s = open_seconds(browser, url, bench.rounds)
    finally:
        server.shutdown()
        server.server_close()
    return {
        "serve_listening_s": round(listening_s, 2),
        "view_open_s": round(view_s, 3),
        "served_report_built_s": round(ready_s, 1),
        "served_report_open_s": round(report_s, 3),
    }


def run_report_benchmark(bench: ReportBench) -> dict:
    """Build and open the report of a `bench.videos`-video dataset; JSON-ready figures."""
    from flowpipe.viz import write_report

    chromium = chromium_path()
    if chromium is None:
        raise ValueError("bench report needs chromium on PATH (Debian's chromium package)")
    with tempfile.TemporaryDirectory(prefix="flowpipe-bench-report-") as tmp:
        root = Path(bench.keep or Path(tmp) / "flow")
        start = time.perf_counter()
        if DatasetStore(str(root)).read_manifest() is None:
            write_tiny_dataset(root, bench)
        written_s = time.perf_counter() - start
        start = time.perf_counter()
        page = write_report(str(root), Path(tmp) / "report.html", samples=bench.samples)
        build_s = time.perf_counter() - start
        with Browser(chromium) as browser:
            open_s = open_seconds(browser, page.as_uri(), bench.rounds)
            served = _served_view_seconds(root, browser, bench)
            problems = browser.problems()
        return {
            "benchmark": "report",
            "videos": bench.videos,
            "flows_per_video": bench.flows,
            "dataset_write_s": round(written_s, 1),
            "report_build_s": round(build_s, 1),
            "report_bytes": page.stat().st_size,
            "report_open_s": round(open_s, 3),
            **served,
            "console_problems": problems,
        }
