"""Flow datasets that other tools wrote, read as flowpipe reads its own: the layouts, in one place.

- flowpipe (v1): `<video>/flow_x_00001.jpg` ... + `meta.json` (or `<video>.zip`), and
  `flowpipe.json`; RGB `img_00001.jpg`. Read by `DatasetStore`.
- rawframes (denseflow, mmaction2, TSN): `<video>/flow_x_%05d.jpg`, `flow_y_%05d.jpg`, RGB
  `img_%05d.jpg`; first index 0 (denseflow) or 1 (TSN), detected.
- two-stream: `u/<video>/frame%06d.jpg`, `v/<video>/frame%06d.jpg`; no RGB; first index 1
  (0 detected too).

A foreign dataset has no flowpipe.json and no meta.json, so the bound its flow was quantised
with is given (`bound`, `--bound 20`), the videos come from a list file (mmaction2/TSN
`<frame_dir> <frames> <label>` lines) or from the folders, a video's flow count from its files
(the run of consecutive x and y pairs from the first index) and its size from its first JPEG.
`RawframeStore` answers what the loaders, `flowpipe info` and `flowpipe viz` ask a
`DatasetStore`: `list_done()` (a meta per video, in meta.json's shape) and `read_files()` with
flowpipe's member names (`flow_x_00001.jpg` is the first flow whatever the layout's index).

    store = open_store("rawframes/", bound=20)          # DatasetStore or RawframeStore
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowpipe.checks import positive_number
from flowpipe.storage.codec import decode_jpeg
from flowpipe.storage.dataset import DatasetStore
from flowpipe.storage.files import MISSING, Files
from flowpipe.storage.layout import MANIFEST_NAME, done_marker_video

_MEMBER = re.compile(r"^(?P<kind>b?flow|img)_(?:(?P<channel>[xy])_)?(?P<k>\d+)\.jpg$")


@dataclass(frozen=True)
class Layout:
    """Where a foreign layout keeps a video's flow (and RGB) files: templates over `video`,
    channel `c` and the file index `k` (= flow index - 1 + `start`), and the regexes that
    recognise them (groups `video`, `c`, `k`)."""

    name: str
    flow: str
    channels: tuple[str, str]
    flow_re: str
    image: str | None = None
    image_re: str | None = None
    start: int = 1

    @property
    def description(self) -> str:
        """The layout's name and first index, for messages."""
        return f"{self.name} ({self.start}-based)"

    def flow_path(self, video_id: str, channel: int, k: int) -> str:
        """The path (relative to the root) of flow k's (1-based) channel 0 (x) or 1 (y)."""
        return self.flow.format(video=video_id, c=self.channels[channel], k=k - 1 + self.start)

    def image_path(self, video_id: str, k: int) -> str | None:
        """The path of RGB frame k (1-based), None when the layout stores none."""
        if self.image is None:
            return None
        return self.image.format(video=video_id, k=k - 1 + self.start)

    def folders(self, video_id: str) -> set[str]:
        """The folders holding a video's files."""
        return {posixpath.dirname(self.flow_path(video_id, c, 1)) for c in (0, 1)}

    def parse_flow(self, rel: str) -> tuple[str, int, int] | None:
        """(video id, channel 0/1, file index) when `rel` is a flow file of this layout."""
        found = re.fullmatch(self.flow_re, rel)
        if found is None:
            return None
        return found["video"], self.channels.index(found["c"]), int(found["k"])

    def parse_image(self, rel: str) -> tuple[str, int] | None:
        """(video id, file index) when `rel` is an RGB frame of this layout."""
        found = None if self.image_re is None else re.fullmatch(self.image_re, rel)
        return None if found is None else (found["video"], int(found["k"]))


RAWFRAMES = Layout(
    "rawframes",
    "{video}/flow_{c}_{k:05d}.jpg",
    ("x", "y"),
    r"(?P<video>.+)/flow_(?P<c>[xy])_(?P<k>\d{5,})\.jpg",
    "{video}/img_{k:05d}.jpg",
    r"(?P<video>.+)/img_(?P<k>\d{5,})\.jpg",
)
TWO_STREAM = Layout(
    "two-stream",
    "{c}/{video}/frame{k:06d}.jpg",
    ("u", "v"),
    r"(?P<c>[uv])/(?P<video>.+)/frame(?P<k>\d{6,})\.jpg",
)
FOREIGN_LAYOUTS = (TWO_STREAM, RAWFRAMES)
LOOKED_FOR = (
    "flowpipe.json or <video>/meta.json (flowpipe), <video>/flow_x_00000.jpg or "
    "flow_x_00001.jpg (rawframes: denseflow 0-based, TSN/mmaction2 1-based), "
    "u/<video>/frame000001.jpg with v/... (two-stream)"
)


def no_layout_error(url: str) -> ValueError:
    """The one error for a folder that matches no layout, saying what was looked for."""
    return ValueError(
        f"{url}: not a flowpipe dataset (no flowpipe.json, no finished video) nor flow another "
        f"tool wrote; looked for {LOOKED_FOR}"
    )


def detect_layout(paths: Iterable[str]) -> Layout | None:
    """The foreign layout of a dataset's files (relative paths), its first index detected
    (0 when any video has a file of index 0); None when they match none."""
    paths = list(paths)
    for layout in FOREIGN_LAYOUTS:
        indices = [found[2] for found in map(layout.parse_flow, paths) if found is not None]
        if indices:
            return dataclasses.replace(layout, start=0 if min(indices) == 0 else 1)
    return None


@dataclass
class _Found:
    """What a scan found of one video: flow file sizes per channel and index, RGB indices."""

    flows: tuple[dict[int, int], dict[int, int]] = field(default_factory=lambda: ({}, {}))
    images: set[int] = field(default_factory=set)

    def flow_count(self, start: int) -> int:
        """How many flows there are: the run of indices start, start + 1, ... with x and y."""
        count = 0
        while all(start + count in channel for channel in self.flows):
            count += 1
        return count

    def flow_bytes(self, start: int, count: int) -> int:
        """Bytes of the flows' x and y files (0 where sizes are unknown)."""
        return sum(ch[k] for ch in self.flows for k in range(start, start + count))


def scan(layout: Layout, files: dict[str, int]) -> dict[str, _Found]:
    """video id -> what its files are, from paths (relative to the root) and sizes."""
    found: dict[str, _Found] = {}
    for rel, size in files.items():
        flow = layout.parse_flow(rel)
        if flow is not None:
            video, channel, k = flow
            found.setdefault(video, _Found()).flows[channel][k] = size
            continue
        image = layout.parse_image(rel)
        if image is not None:
            found.setdefault(image[0], _Found()).images.add(image[1])
    return found


class RawframeStore:
    """A flow dataset in a foreign layout (see the module docstring), read-only.

    Args:
        root: the dataset's folder (a local path or an fsspec URL).
        bound: the bound its flow was stored with (q = (v + b) * 255 / 2b).
        layout: one of FOREIGN_LAYOUTS with its first index (None: detected).
        videos: (video id, label or None) of its videos, e.g. from a list file (list_rows);
            None: every video its folders hold.
    """

    def __init__(
        self,
        root: str,
        bound: float,
        layout: Layout | None = None,
        videos: list[tuple[str, int | None]] | None = None,
    ) -> None:
        self.files = Files(str(root))
        self.url = self.files.url
        self.bound = positive_number("bound", bound)
        self._rows = None if videos is None else list(videos)
        files = self.files.walk() if self._rows is None else None
        self.layout = layout or self._detect(files)
        if files is None:
            files = self._listing([vid for vid, _ in self._rows or []])
        self._metas = self._index(scan(self.layout, files))

    def __repr__(self) -> str:
        return f"RawframeStore({self.url!r}, bound={self.bound:g}, {self.layout.description})"

    @property
    def root(self) -> str:
        """The dataset's folder on its file system."""
        return self.files.root

    @property
    def fs(self) -> Any:
        """The fsspec file system."""
        return self.files.fs

    # -- what the readers ask a DatasetStore ----------------------------------------------

    def list_done(self) -> dict[str, dict]:
        """video_id -> meta (meta.json's shape) of every video with at least one flow."""
        return dict(self._metas)

    def finished(self) -> dict[str, dict]:
        """The same as list_done() (a foreign dataset has no index: it is listed once)."""
        return self._metas

    def read_meta(self, video_id: str) -> dict | None:
        """The video's meta, None when the dataset has no such video."""
        return self._metas.get(video_id)

    def read_manifest(self) -> None:
        """A foreign dataset has no manifest."""
        return None

    def read_failures(self) -> list[dict]:
        """A foreign dataset records no failures."""
        return []

    def read_video_list(self, labelled: bool | None = None) -> list[tuple[str, int, int | None]]:
        """The list file's rows (video id, flows, label) of the videos found; [] without one."""
        rows = self._rows or []
        return [(v, self._metas[v]["flows"], label) for v, label in rows if v in self._metas]

    def read_file(self, video_id: str, name: str) -> bytes:
        """One member (flowpipe's name); FileNotFoundError naming the file when missing."""
        return self.read_files(video_id, [name])[0]

    def read_files(self, video_id: str, names: Iterable[str]) -> list[bytes]:
        """Members by flowpipe's names (`flow_x_00001.jpg`: the first flow), read from this
        layout's paths; FileNotFoundError naming the first missing file."""
        out = []
        for name in names:
            rel = self.member_path(video_id, name)
            try:
                out.append(self.files.read(rel))
            except MISSING:
                raise FileNotFoundError(
                    f"video {video_id!r}: file {rel!r} not found in {self.url}"
                ) from None
        return out

    def bytes_used(self) -> int:
        """Total size in bytes of all files under root."""
        return sum(self.files.walk().values())

    def member_path(self, video_id: str, name: str) -> str:
        """The path (relative to the root) of flowpipe's member `name` of a video."""
        found = _MEMBER.match(name)
        if found is None or found["kind"] == "bflow":
            what = "backward flow" if found else f"file {name!r}"
            raise FileNotFoundError(
                f"video {video_id!r}: a {self.layout.name} dataset has no {what}"
            )
        k = int(found["k"])
        if found["kind"] == "flow":
            return self.layout.flow_path(video_id, "xy".index(found["channel"]), k)
        path = self.layout.image_path(video_id, k)
        if path is None:
            raise FileNotFoundError(f"video {video_id!r}: a {self.layout.name} dataset has no RGB")
        return path

    # -- building the index ---------------------------------------------------------------

    def _detect(self, files: dict[str, int] | None) -> Layout:
        """The layout, from every file (no list) or from the first listed video's folders."""
        if files is None:
            vid = self._rows[0][0] if self._rows else ""
            files = self._listing([vid], [RAWFRAMES, TWO_STREAM])
        layout = detect_layout(files)
        if layout is None:
            raise no_layout_error(self.url)
        return layout

    def _listing(self, videos: list[str], layouts: Iterable[Layout] = ()) -> dict[str, int]:
        """The files of the videos' folders (in this store's layout, or in `layouts`), sizes
        unknown (0)."""
        folders = {
            d for layout in layouts or [self.layout] for v in videos for d in layout.folders(v)
        }
        return {f"{d}/{n}": 0 for d in sorted(folders) for n in self.files.list_files(d)}

    def _index(self, found: dict[str, _Found]) -> dict[str, dict]:
        """video id -> meta of every video with at least one complete flow."""
        labels = dict(self._rows or [])
        metas = {}
        for vid, what in sorted(found.items()):
            meta = self._meta(vid, what)
            if meta is not None:
                metas[vid] = {**meta, "label": labels.get(vid)}
        return metas

    def _meta(self, video_id: str, found: _Found) -> dict | None:
        """A video's meta from its files: flows, frames, size (first JPEG), bytes."""
        start = self.layout.start
        flows = found.flow_count(start)
        if not flows:
            return None
        rgb = self.layout.image is not None and all(
            start + k in found.images for k in range(flows + 1)
        )
        settings = {"bound": self.bound, "backward": False, "rgb": rgb}
        return {
            "video_id": video_id,
            "frames": flows + 1,
            "flows": flows,
            "size": list(self._size(video_id)),
            "bytes": {"flow": found.flow_bytes(start, flows)},
            "settings": {**settings, "layout": self.layout.description},
        }

    def _size(self, video_id: str) -> tuple[int, int]:
        """(width, height) of the video's first flow JPEG."""
        rel = self.layout.flow_path(video_id, 0, 1)
        plane = decode_jpeg(self.files.read(rel), f"{self.url}/{rel}")
        return int(plane.shape[1]), int(plane.shape[0])


def list_rows(path: str | Path, root: str) -> list[tuple[str, int | None]]:
    """(video id relative to `root`, label) of an mmaction2/TSN list file's lines (a TSN
    frame_dir holding the root's path is made relative to it)."""
    from flowpipe.data.splits import read_list_file

    prefix = Files(root).root.rstrip("/") + "/"
    return [
        (vid[len(prefix) :] if vid.startswith(prefix) else vid, label)
        for vid, label in read_list_file(Path(path)).entries
    ]


def open_store(
    root: str | Path, bound: float | None = None, video_list: str | Path | None = None
) -> DatasetStore | RawframeStore:
    """The flow dataset at `root`: a DatasetStore when flowpipe wrote it, else a RawframeStore
    in the layout its files show (ValueError naming what was looked for when none matches).

    Args:
        root: the dataset's folder (a local path or an fsspec URL).
        bound: the bound a foreign dataset's flow was stored with (required for one; for a
            flowpipe dataset it must equal the stored bound when given).
        video_list: a foreign dataset's mmaction2/TSN list file (None: its folders).

    Returns:
        The store the loaders, `flowpipe info` and `flowpipe viz` read.
    """
    files = Files(str(root))
    if files.exists(MANIFEST_NAME):
        return _flowpipe_store(str(root), bound)
    walked = {} if video_list is not None else files.walk()
    if any(done_marker_video(rel) for rel in walked):
        return _flowpipe_store(str(root), bound)
    layout = None
    if video_list is None:
        layout = detect_layout(walked)
        if layout is None:
            raise no_layout_error(files.url)
    if bound is None:
        what = f"{layout.description} flow" if layout else "flow"
        raise ValueError(
            f"{files.url}: {what} without flowpipe.json (another tool's layout): give the "
            "bound it was stored with (--bound 20; bound=20 in Python)"
        )
    videos = None if video_list is None else list_rows(video_list, str(root))
    return RawframeStore(str(root), bound, layout, videos)


def _flowpipe_store(root: str, bound: float | None) -> DatasetStore:
    """The flowpipe dataset at root; ValueError when `bound` contradicts its manifest."""
    store = DatasetStore(root)
    stored = ((store.read_manifest() or {}).get("settings") or {}).get("bound")
    if bound is not None and stored is not None and float(stored) != float(bound):
        raise ValueError(
            f"{store.url}: a flowpipe dataset stored with bound {stored:g}, not {bound:g} "
            "(--bound is for flow other tools wrote)"
        )
    return store


def as_store(source: str | Path | DatasetStore | RawframeStore) -> DatasetStore | RawframeStore:
    """`source` itself when it is an opened store, else open_store(source) (no bound: a
    foreign dataset must be opened with its bound first)."""
    if isinstance(source, (DatasetStore, RawframeStore)):
        return source
    return open_store(source)
