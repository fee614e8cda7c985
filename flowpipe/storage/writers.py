"""Writing one video into a dataset, streaming: files go out one at a time as they are made,
so nothing holds a whole video in memory.

Folder layout: each file goes into place (atomically) as soon as it is added. Zip layout:
members are appended to a temporary zip in ``OUT/.flowpipe/tmp/``, opened once; on a remote
file system that is a write-only stream (zipfile then writes data descriptors instead of
seeking back, so such a zip differs in bytes from a local one, and is the same from run to run
on the same file system). Opening a writer removes the video's done markers; `finish` writes
them last. A killed writer leaves the video not done (folder: whole files, no meta.json; zip:
at most a temporary file, which an abort removes and a later run removes once stale).
"""

from __future__ import annotations

import contextlib
import zipfile
from abc import ABC, abstractmethod

from flowpipe.storage.files import Files, temporary_name
from flowpipe.storage.layout import (
    MEMBER_PATTERN,
    META_NAME,
    VideoPaths,
    check_member_name,
    member_names,
)
from flowpipe.storage.lists import dump_json
from flowpipe.storage.markers import DoneMarkers

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same video gives the same bytes


class VideoWriter(ABC):
    """One video on its way into a dataset: add() its files as they are made, then
    finish(meta). Leaving a `with` block unfinished calls abort(). Not thread-safe: add from
    one thread.

    Files of an earlier run of the video that this one does not write are removed by finish():
    those its meta.json recorded, and with `prune_pattern` (a dataset only flowpipe writes to)
    any flow or image file left in the folder, such as a killed run's."""

    def __init__(self, files: Files, video_id: str, prune_pattern: bool = True) -> None:
        self.files = files
        self.paths = VideoPaths(video_id)
        self.video_id = video_id
        self.names: set[str] = set()
        self._closed = False
        self._prune_pattern = prune_pattern
        markers = DoneMarkers(files, "folder")
        self._recorded = _recorded_members(markers.read(video_id))
        markers.remove(video_id)

    def add(self, name: str, data: bytes) -> None:
        """Write one member file now (each name once per video)."""
        check_member_name(name)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{self.video_id}/{name}: file content must be bytes")
        if self._closed or name in self.names:
            raise ValueError(f"{self.video_id}: cannot add {name!r} (closed writer or repeat)")
        self._add(name, bytes(data))
        self.names.add(name)

    def finish(self, meta: dict) -> None:
        """Complete the video, its meta.json / sidecar written last: the video is then done."""
        self._finish(dump_json(meta))
        self._closed = True

    def abort(self) -> None:
        """Give up on the video, which stays not done; temporary files are removed."""
        self._closed = True

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        """Abort unless finish() succeeded."""
        if not self._closed:
            self.abort()

    def _stale_members(self) -> list[str]:
        """Members an earlier run left in the video's folder that this one did not write."""
        present = set(self.files.list_files(self.paths.folder))
        stale = self._recorded & present
        if self._prune_pattern:
            stale |= {n for n in present if MEMBER_PATTERN.match(n)}
        return sorted(stale - self.names)

    @abstractmethod
    def _add(self, name: str, data: bytes) -> None:
        """Store one checked member."""

    @abstractmethod
    def _finish(self, meta: bytes) -> None:
        """Put the members in their final place, then the done marker."""


def _recorded_members(meta: dict | None) -> set[str]:
    """The members an earlier finished run of the video wrote, by its meta.json."""
    try:
        settings = meta["settings"]  # type: ignore[index]
        return set(member_names(int(meta["flows"]), settings["backward"], settings["rgb"]))
    except (TypeError, KeyError, ValueError):
        return set()


class FolderWriter(VideoWriter):
    """Folder layout: each file moved into the video's folder as soon as it is added; files
    left by an abort or a kill are harmless (no meta.json) and a redo replaces them."""

    def _add(self, name: str, data: bytes) -> None:
        self.files.write_atomic(self.paths.member(name), data)

    def _finish(self, meta: bytes) -> None:
        """Remove members of an earlier, longer run that this one did not write, then meta.json."""
        for stale in self._stale_members():
            self.files.remove(self.paths.member(stale))
        self.files.write_atomic(self.paths.meta, meta)


class ZipWriter(VideoWriter):
    """Zip layout: members appended to a temporary zip, opened once, ZIP_STORED with fixed
    dates; finish() moves it into place and writes the sidecar."""

    def __init__(self, files: Files, video_id: str, prune_pattern: bool = True) -> None:
        super().__init__(files, video_id, prune_pattern)
        self.tmp = temporary_name(self.paths.zip)
        files.makedirs(_parent(self.paths.zip))
        files.makedirs(_parent(self.tmp))
        self._file = files.open_write(self.tmp)
        self._zip = zipfile.ZipFile(self._file, "w", zipfile.ZIP_STORED)

    def _add(self, name: str, data: bytes) -> None:
        """Append one stored member (no compression, fixed date: reproducible bytes)."""
        info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, data)

    def _finish(self, meta: bytes) -> None:
        """meta.json as the last member, the zip moved into place, then the sidecar."""
        self._add(META_NAME, meta)
        self._close()
        self.files.move(self.tmp, self.paths.zip)
        self.files.write_atomic(self.paths.sidecar, meta)

    def abort(self) -> None:
        """Close and delete the temporary zip; a finished zip of an earlier run stays."""
        with contextlib.suppress(Exception):
            self._close()
        with contextlib.suppress(OSError):
            self.files.remove(self.tmp)
        super().abort()

    def _close(self) -> None:
        """Write the zip's central directory and close the temporary file."""
        try:
            self._zip.close()
        finally:
            self._file.close()


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""
