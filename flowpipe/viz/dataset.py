"""Reading an extracted dataset for pictures: finding a video, decoding its flow and frames."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowpipe.data.reader import VideoReader
from flowpipe.data.records import VideoRecord, record_from_meta
from flowpipe.extraction.video import Resize, iter_frames
from flowpipe.storage import DatasetStore, RawframeStore
from flowpipe.storage.foreign import TWO_STREAM


@dataclass(frozen=True)
class Video:
    """One finished video of a dataset: where it is and its meta.json."""

    store: DatasetStore | RawframeStore
    video_id: str
    meta: dict

    @functools.cached_property
    def record(self) -> VideoRecord:
        """Its sizes, bound and stored parts, as the loaders see them."""
        return record_from_meta(self.video_id, -1, self.meta)

    @functools.cached_property
    def reader(self) -> VideoReader:
        """The loaders' decoder for this video's dataset."""
        return VideoReader(self.store)

    @property
    def bound(self) -> float:
        """The clipping bound its flow was stored with."""
        return self.record.bound

    @property
    def has_backward(self) -> bool:
        """Whether backward flow (bflow_*) was stored."""
        return self.record.backward

    @property
    def has_rgb(self) -> bool:
        """Whether RGB frames (img_*) were stored."""
        return self.record.rgb

    def read_codes(self, ks: list[int], backward: bool = False) -> list[tuple[np.ndarray, ...]]:
        """Stored (x, y) uint8 codes of flows ks (1-based), from one read of the video."""
        codes = self.reader.flow_codes(self.record, [(k, backward) for k in ks])
        return [(c[0], c[1]) for c in codes]

    def read_rgb(self, ks: list[int]) -> np.ndarray:
        """Stored RGB frames ks (1-based) [n, H, W, 3]; the video must have been extracted with
        --rgb."""
        return self.reader.frames(self.record, ks)

    def source_frames(self) -> Iterator[np.ndarray]:
        """BGR frames decoded again from the source video, at the size and rate of the flow;
        ValueError when no source video is recorded (flow another tool wrote)."""
        if "source" not in self.meta:
            raise ValueError(f"video {self.video_id!r}: no source video recorded")
        resize = Resize(size=tuple(self.meta["size"]))
        fps = self.meta["settings"].get("fps")
        return iter_frames(self.meta["source"], resize, fps, self.meta["frames"])


def locate_video(path: str, bound: float | None = None) -> Video:
    """The finished video at OUT/<video_id> (folder, or .zip in the zip layout).

    OUT is the nearest parent folder holding flowpipe.json under which the rest of the path
    names a finished video (without a manifest: the nearest such parent). With `bound`, a
    folder of flow another tool wrote (rawframes `flow_x_*.jpg`, or two-stream
    `u/<video>`) is read too. ValueError if none.
    """
    target = Path(path).absolute()
    if target.suffix == ".zip" and target.is_file():
        target = target.with_suffix("")
    found = []
    for root in target.parents:
        store, video_id = DatasetStore(str(root)), target.relative_to(root).as_posix()
        meta = store.read_meta(video_id)
        if meta is not None:
            found.append((store.read_manifest() is not None, Video(store, video_id, meta)))
    if found:
        return next((v for has_manifest, v in found if has_manifest), found[0][1])
    if bound is not None and target.is_dir():
        return _foreign_video(target, bound)
    hint = " (flow another tool wrote: give its --bound)" if bound is None else ""
    raise ValueError(f"{path}: not a finished video of a flowpipe dataset (no meta.json){hint}")


def _foreign_video(folder: Path, bound: float) -> Video:
    """The video in `folder` of flow another tool wrote: a rawframes folder, or a two-stream
    u/<video> (or v/<video>) folder."""
    rawframes = any(folder.glob("flow_x_*.jpg"))
    channels = (p for p in folder.parents if p.name in TWO_STREAM.channels)
    channel = None if rawframes else next(channels, None)
    root = folder.parent if channel is None else channel.parent
    video_id = folder.name if channel is None else folder.relative_to(channel).as_posix()
    store = RawframeStore(str(root), bound, videos=[(video_id, None)])
    meta = store.read_meta(video_id)
    if meta is None:
        raise ValueError(f"{folder}: no flow files of a known layout in it")
    return Video(store, video_id, meta)
