"""`flowpipe viz serve OUT`: the report and per-video views of a dataset on a local server.

Read-only (GET and HEAD only; nothing under OUT is written), on 127.0.0.1 only, on a port
given or chosen by the system. Routes:

    /                          the dataset report (viz report's page, its rows linking views)
    /view?video=ID             the video's view: a slider over its flows (flowpipe.viz.view)
    /api/pair?video=ID&k=K     flow pair K's pictures and figures as JSON (what the slider asks)

The report is built once, in the background from the start (until it is ready `/` says so
and reloads itself); views and pictures are rendered when asked for, from the start, so the
report stays the size `viz report` writes whatever the number of videos (docs/inspection.md).
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from flowpipe.quality.suspects import SuspectRule
from flowpipe.storage import DatasetStore
from flowpipe.viz.dataset import Video
from flowpipe.viz.report import DEFAULT_SAMPLES, render_html, report_data, wheel_uri
from flowpipe.viz.view import VideoView, render_view_html

HOST = "127.0.0.1"
CACHED_VIEWS = 8  # videos whose scale and decoded source frames stay in memory


@dataclass(frozen=True)
class ServeOptions:
    """How `viz serve` builds its report and where it listens (port 0: the system picks)."""

    port: int = 0
    samples: int = DEFAULT_SAMPLES
    rule: SuspectRule = field(default_factory=SuspectRule)
    workers: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")


class NotFound(LookupError):
    """A request for something the dataset does not have (404)."""


class BadRequest(ValueError):
    """A request the server cannot read (400)."""


_BUILDING = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="2"><title>flowpipe report: building</title></head>
<body data-status="building" style="font: 14px system-ui, sans-serif; margin: 24px">
<p>Building the report of {videos:,} videos (this page reloads itself). A video's view is
ready now: <code>/view?video=ID</code>.</p></body></html>"""


class ReportBuild:
    """The dataset's report, built in a background thread so the server answers meanwhile."""

    def __init__(self, root: str, options: ServeOptions) -> None:
        self.page: bytes | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._build, args=(root, options), daemon=True)
        self.thread.start()

    def _build(self, root: str, options: ServeOptions) -> None:
        try:
            data = report_data(root, options.samples, options.workers, options.rule)
            self.page = render_html({**data, "views": True}).encode()
        except (ValueError, OSError) as err:
            self.error = f"the report could not be built: {err}"
            sys.stderr.write(f"error: {self.error}\n")

    def ready(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` s (None: until done) for the build; whether the page is there."""
        self.thread.join(timeout)
        return self.page is not None


class DatasetPages:
    """The pages of one dataset: its report (built in the background) and its videos' views
    (on demand). ValueError at once for a path that is not a dataset or an empty one."""

    def __init__(self, root: str, options: ServeOptions) -> None:
        self.store = DatasetStore(root)
        self.rule = options.rule
        self.done = self.store.finished()  # the index's figures (or every meta.json)
        if not self.done and self.store.read_manifest() is None:
            raise ValueError(
                f"{root}: not a flowpipe dataset (no flowpipe.json, no finished video)"
            )
        if not self.done and not self.store.read_failures():
            raise ValueError(f"{root}: empty dataset (no finished video and no failed input)")
        self.report = ReportBuild(root, options)
        self._lock = threading.Lock()
        self._view = functools.lru_cache(maxsize=CACHED_VIEWS)(self._make_view)

    def report_page(self) -> bytes:
        """The report, or a page saying it is being built; OSError if its build failed."""
        if self.report.page is not None:
            return self.report.page
        if self.report.error is not None:
            raise OSError(self.report.error)
        return _BUILDING.format(videos=len(self.done)).encode()

    def _make_view(self, video_id: str) -> VideoView:
        meta = self.store.read_meta(video_id)  # the whole of it: every pair's figures
        if meta is None:
            raise NotFound(f"video {video_id!r} of {self.store.root} has no meta.json any more")
        return VideoView(Video(self.store, video_id, meta))

    def view(self, video_id: str | None) -> VideoView:
        """The view of a finished video; NotFound for any other id."""
        if video_id not in self.done:
            raise NotFound(f"no finished video {video_id!r} in {self.store.root}")
        with self._lock:
            return self._view(video_id)

    def view_page(self, video_id: str | None) -> bytes:
        """The view's HTML page."""
        data = {
            **self.view(video_id).page_data(),
            "rule": self.rule.as_dict(),
            "wheel": wheel_uri(),
        }
        return render_view_html(data).encode()

    def pair_json(self, video_id: str | None, k: str | None) -> bytes:
        """Pair k's pictures and figures as JSON; ValueError for a bad k."""
        view = self.view(video_id)
        flows = int(self.done[view.video.video_id]["flows"])
        try:
            index = int(k or "")
        except ValueError:
            raise BadRequest(f"k must be a flow number, got {k!r}") from None
        if not 1 <= index <= flows:
            raise BadRequest(f"flow {index} outside 1..{flows} of {view.video.video_id}")
        return json.dumps(view.pair(index), allow_nan=False).encode()


def _handler(pages: DatasetPages) -> type[BaseHTTPRequestHandler]:
    """A request handler class serving `pages`."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "flowpipe"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(send_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(send_body=False)

        def _refuse(self) -> None:
            self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "read-only: GET and HEAD only")

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

        def _answer(self, send_body: bool) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                kind, body = self._route(url.path, query)
            except NotFound as err:
                self.send_error(HTTPStatus.NOT_FOUND, str(err))
                return
            except BadRequest as err:
                self.send_error(HTTPStatus.BAD_REQUEST, str(err))
                return
            except (ValueError, OSError) as err:  # an unreadable file of the dataset
                sys.stderr.write(f"error: {self.path}: {err}\n")
                self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, str(err))
                return
            self.send_response(HTTPStatus.OK if body else HTTPStatus.NO_CONTENT)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def _route(self, path: str, query: dict[str, str]) -> tuple[str, bytes]:
            html = "text/html; charset=utf-8"
            if path in ("/", "/index.html"):
                return html, pages.report_page()
            if path == "/view":
                return html, pages.view_page(query.get("video"))
            if path == "/api/pair":
                return "application/json", pages.pair_json(query.get("video"), query.get("k"))
            if path == "/favicon.ico":
                return "image/x-icon", b""
            raise NotFound(f"no page {path}")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Quiet: a slider asks for many pairs."""

    return Handler


def make_server(root: str, options: ServeOptions | None = None) -> ThreadingHTTPServer:
    """A server for the dataset at root, bound to 127.0.0.1 (not yet serving).

    Args:
        root: the dataset (folder, zip layout or fsspec URL).
        options: port, the report's samples per video and suspect rule.

    Returns:
        The server (its report being built); `server.server_address[1]` is its port,
        `server.pages` its DatasetPages, `serve_forever()` runs it.
    """
    options = options or ServeOptions()
    pages = DatasetPages(root, options)
    try:
        server = ThreadingHTTPServer((HOST, options.port), _handler(pages))
    except OSError as err:
        raise OSError(f"cannot listen on {HOST}:{options.port}: {err.strerror or err}") from None
    server.pages = pages
    return server
