"""The file-system adapter under a dataset: one folder on a local disk or behind any fsspec URL.

Atomicity: every file is written to ``OUT/.flowpipe/tmp/<name>.tmp-<uuid>`` and then moved onto
its final name (``os.replace`` on local disks, ``fs.mv`` elsewhere), so a reader never sees a
half-written file under a final name, and what killed writers leave is in one small folder
that a run clears of stale files without listing the dataset. Files are not fsynced: the
guarantee covers a killed process, not a power cut. On object stores a file opened for
writing is a write-only stream.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import time
import uuid
from collections.abc import Mapping
from typing import IO, Any

from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from flowpipe.storage.layout import TEMPORARY_DIR, TEMPORARY_MARK

MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


def temporary_name(path: str) -> str:
    """A unique temporary name for a file on its way to path (in the temporary folder)."""
    return f"{TEMPORARY_DIR}/{posixpath.basename(path)}{TEMPORARY_MARK}{uuid.uuid4().hex}"


def _file_system(url: str, options: dict[str, Any]) -> tuple[Any, str]:
    """(fsspec file system, path) for url. Object stores without listing caches: other
    processes write the dataset, and a cached listing made some reads and removals of s3fs
    miss files written since (a sidecar read as absent, a temporary left after a move)."""
    fs, path = url_to_fs(url, **options)
    if isinstance(fs, LocalFileSystem) or "use_listings_cache" in options:
        return fs, path
    try:
        return url_to_fs(url, **options, use_listings_cache=False)
    except TypeError:  # a file system that takes no such option
        return fs, path


class Files:
    """Files under `root` (a local path or an fsspec URL); paths given to methods are relative
    to it ('a/b.jpg'), '' being the root itself. `storage_options` go to fsspec."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = str(url)
        self.fs, path = _file_system(self.url, dict(storage_options or {}))
        self.root = path.rstrip("/") or "/"
        self.local = isinstance(self.fs, LocalFileSystem)
        self._made_dirs: set[str] = set()

    def path(self, rel: str = "") -> str:
        """The file system's own path of `rel`."""
        return posixpath.join(self.root, rel) if rel else self.root

    def makedirs(self, rel: str) -> None:
        """Create the folder rel and its parents (remote file systems: once per Files)."""
        folder = self.path(rel)
        if self.local:
            os.makedirs(folder, exist_ok=True)
        elif folder not in self._made_dirs:
            self.fs.makedirs(folder, exist_ok=True)
            self._made_dirs.add(folder)

    def write_atomic(self, rel: str, data: bytes) -> None:
        """Write data to rel via a temporary name and a move; no partial file on error."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{rel}: file content must be bytes, got {type(data).__name__}")
        self.makedirs(TEMPORARY_DIR)
        tmp = temporary_name(rel)
        try:
            with self.open_write(tmp) as f:
                f.write(data)
            self._move_into(tmp, rel)
        except BaseException:
            with contextlib.suppress(OSError):
                self.remove(tmp)
            raise

    def _move_into(self, tmp: str, rel: str) -> None:
        """Move tmp onto rel, making rel's folder: again if it vanished meanwhile (another
        process removes a lease folder it left empty just as this one writes a claim there)."""
        for attempt in range(3):
            try:
                self.makedirs(posixpath.dirname(rel))
                self.move(tmp, rel)
                return
            except FileNotFoundError:
                if attempt == 2 or not self.exists(tmp):
                    raise

    def open_write(self, rel: str) -> IO[bytes]:
        """A new file at rel opened for writing (a write-only stream on object stores)."""
        path = self.path(rel)
        return open(path, "wb") if self.local else self.fs.open(path, "wb")

    def open_read(self, rel: str) -> IO[bytes]:
        """The file at rel opened for reading; FileNotFoundError when missing."""
        path = self.path(rel)
        return open(path, "rb") if self.local else self.fs.open(path, "rb")

    def move(self, src: str, dst: str) -> None:
        """Move a finished file onto its final name, replacing what is there."""
        if self.local:
            os.replace(self.path(src), self.path(dst))
        else:
            self.fs.mv(self.path(src), self.path(dst))

    def remove(self, rel: str) -> None:
        """Delete a file if it exists."""
        try:
            if self.local:
                os.remove(self.path(rel))
            else:
                self.fs.rm_file(self.path(rel))
        except (FileNotFoundError, NotADirectoryError):
            pass

    def remove_empty_folders(self, rel: str, stop: str) -> None:
        """Remove folder rel and its parents up to (not including) `stop` while they are empty
        (local disks; object stores have no folders)."""
        while self.local and rel and rel != stop and rel.startswith(stop + "/"):
            try:
                os.rmdir(self.path(rel))
            except OSError:
                return
            rel = posixpath.dirname(rel)

    def read(self, rel: str) -> bytes:
        """Whole file content; FileNotFoundError when missing."""
        if self.local:
            with open(self.path(rel), "rb") as f:
                return f.read()
        return self.fs.cat_file(self.path(rel))

    def read_or_none(self, rel: str) -> bytes | None:
        """Whole file content, or None when it is missing or not a file."""
        try:
            return self.read(rel)
        except MISSING:
            return None

    def exists(self, rel: str = "") -> bool:
        """Whether a file or folder exists at rel."""
        path = self.path(rel)
        return os.path.exists(path) if self.local else self._fresh(path).exists(path)

    def _fresh(self, path: str) -> Any:
        """The file system, its cached listings of path dropped: other processes (workers,
        other runs) write here, so what this one listed before may be out of date."""
        self.fs.invalidate_cache(path)
        return self.fs

    def walk(self, rel: str = "") -> dict[str, int]:
        """Every file under rel, recursively (path relative to the root -> size in bytes)."""
        top = self.path(rel)
        if not self.exists(rel):
            return {}
        prefix = self.root.rstrip("/") + "/"
        found = self._fresh(top).find(top, withdirs=False, detail=True)
        return {
            name[len(prefix) :]: int(info.get("size") or 0)
            for name, info in found.items()
            if name.startswith(prefix) and info.get("type", "file") == "file"
        }

    def list_files(self, rel: str) -> list[str]:
        """Names of the files directly in folder rel ([] when it does not exist)."""
        try:
            if self.local:
                return [e.name for e in os.scandir(self.path(rel)) if e.is_file()]
            listing = self._fresh(self.path(rel)).ls(self.path(rel), detail=True)
        except MISSING:
            return []
        return [posixpath.basename(e["name"]) for e in listing if e["type"] == "file"]

    def list_entries(self) -> list[str]:
        """Names of the files and folders directly under the root ([] when it is absent)."""
        try:
            if self.local:
                return [e.name for e in os.scandir(self.root)]
            listing = self._fresh(self.root).ls(self.root, detail=False)
            return [posixpath.basename(p.rstrip("/")) for p in listing]
        except MISSING:
            return []

    def modified(self, rel: str) -> float | None:
        """Last modification time (seconds since the epoch), None when unknown or missing."""
        try:
            if self.local:
                return os.stat(self.path(rel)).st_mtime
            return self.fs.modified(self.path(rel)).timestamp()
        except (NotImplementedError, OSError, AttributeError, ValueError):
            return None

    def remove_stale_temporaries(self, older_than: float) -> list[str]:
        """Delete temporary files that killed writers left, unmodified for more than
        `older_than` seconds (a live writer's are fresh); return their paths. Only the
        temporary folder is listed, not the dataset."""
        now = time.time()
        removed = []
        for rel in self.walk(TEMPORARY_DIR):
            if TEMPORARY_MARK not in posixpath.basename(rel):
                continue
            mtime = self.modified(rel)
            if mtime is not None and now - mtime > older_than:
                self.remove(rel)
                removed.append(rel)
        return removed


class StorageOptions(Mapping[str, Any]):
    """fsspec storage options (endpoint, credentials, ...) that never show their values: repr and
    str name the keys only, so options passed to tasks or logged leak no secret."""

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self._options = dict(options or {})

    def __getitem__(self, key: str) -> Any:
        return self._options[key]

    def __iter__(self):  # noqa: ANN204 (Mapping protocol)
        return iter(self._options)

    def __len__(self) -> int:
        return len(self._options)

    def __repr__(self) -> str:
        return f"StorageOptions({', '.join(sorted(self._options))})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._options)))

    def __reduce__(self) -> tuple:
        return (StorageOptions, (self._options,))
