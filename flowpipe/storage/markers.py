"""Done markers: a video is finished when its meta.json (folder layout) or .meta.json sidecar
beside its zip (zip layout) exists. The marker is written last and removed first on a redo, so
its presence means the video's files are complete; its content (the meta) says how they were
made. Both layouts are read; the store's own pack wins when a video has both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flowpipe.storage.files import Files
from flowpipe.storage.layout import PACKS, VideoPaths, done_marker_video
from flowpipe.storage.lists import load_json_dict


def normalised(obj: Any) -> Any:
    """obj as it reads back from JSON (tuples become lists, ...)."""
    return json.loads(json.dumps(obj))


class DoneMarkers:
    """The done markers of a dataset whose writers use `pack`."""

    def __init__(self, files: Files, pack: str) -> None:
        self.files = files
        self.pack = pack

    def _layouts(self) -> tuple[str, ...]:
        """Both layouts, this store's first."""
        return PACKS if self.pack == "folder" else PACKS[::-1]

    def find(self, video_id: str) -> tuple[str, bytes] | None:
        """(layout, marker bytes) of a finished video, else None."""
        paths = VideoPaths(video_id)
        for layout in self._layouts():
            if layout == "folder":
                data = self.files.read_or_none(paths.meta)
            else:
                data = self.files.read_or_none(paths.sidecar)
                if data is not None and not self.files.exists(paths.zip):
                    data = None
            if data is not None:
                return layout, data
        return None

    def read(self, video_id: str) -> dict | None:
        """The video's meta if it is done (either layout), else None."""
        found = self.find(video_id)
        return None if found is None else load_json_dict(found[1])

    def remove(self, video_id: str) -> None:
        """Remove both markers, so a redo never looks done half-way."""
        paths = VideoPaths(video_id)
        self.files.remove(paths.meta)
        self.files.remove(paths.sidecar)

    def list_all(self) -> dict[str, dict]:
        """video_id -> meta of every finished video, by one walk of the dataset."""
        return {vid: meta for vid, (_, meta) in self.list_with_layouts().items()}

    def list_with_layouts(self) -> dict[str, tuple[str, dict]]:
        """video_id -> (layout, meta) of every finished video, by one walk of the dataset."""
        return {vid: (layout, meta) for vid, layout, meta in self.each()}

    def each(self) -> Iterator[tuple[str, str, dict]]:
        """(video_id, layout, meta) of every finished video, by id, each meta read when its
        turn comes (one walk of the dataset, then one read per video)."""
        files = self.files.walk()
        chosen: dict[str, tuple[str, str]] = {}
        for rel in files:
            found = done_marker_video(rel)
            if found is None:
                continue
            vid, layout = found
            if layout == "zip" and VideoPaths(vid).zip not in files:
                continue
            if vid not in chosen or layout == self.pack:
                chosen[vid] = (layout, rel)
        for vid, (layout, rel) in sorted(chosen.items()):
            meta = load_json_dict(self.files.read_or_none(rel) or b"")
            if meta is not None:
                yield vid, layout, meta
