"""The OUT layout of an extracted flow dataset (on-disk format v1), on any fsspec file system.

Layout (see DESIGN.md, "On-disk format (v1)")::

    OUT/flowpipe.json            manifest (with "format_version")
    OUT/videos.txt               "<video_id> <num_flows> [<label>]", one finished video a line
    OUT/failures.jsonl           one JSON object a line per failed input
    OUT/<video_id>/flow_x_00001.jpg ... meta.json        pack="folder"
    OUT/<video_id>.zip + OUT/<video_id>.meta.json         pack="zip" (members ZIP_STORED)

Atomicity: every file is written to ``<name>.tmp-<uuid>`` beside its final name and then
moved into place (``os.replace`` on local disks, ``fs.mv`` elsewhere), so a reader never sees
a half-written file under a final name. A video's ``meta.json`` (folder) or ``.meta.json``
sidecar (zip) is written last and removed first on a redo: its presence means "done".

Streaming: ``video_writer`` takes a video's files one at a time as they are made, so nothing
holds a whole video in memory. Folder layout: each file goes into place as soon as it is added.
Zip layout: members are appended to ``<video_id>.zip.tmp-<uuid>``, opened once; on a remote
file system that is ``fs.open(tmp, "wb")``, a write-only stream (zipfile then writes data
descriptors instead of seeking back, so such a zip differs in bytes from a local one, and
is the same from run to run on the same file system); no local spool file is needed.
A killed writer leaves the video not done (folder: whole files, no meta.json; zip: at most a
``.tmp-`` file, which an abort removes and a finished redo of the video ignores).
Files are not fsynced: the guarantee covers a killed process, not a power cut (a JPEG cut
short by one is still caught by ``codec.decode_jpeg``).

``videos.txt`` writes ids as they are, spaces included; mmaction2 splits lines on whitespace,
so a reader must split from the right (``rsplit``), as ``read_video_list`` does. A file is
either fully labelled or not labelled at all; ``read_video_list`` detects which (or is told).
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import time
import uuid
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

FORMAT_VERSION = 1
PACKS = ("folder", "zip")
META_NAME = "meta.json"
MANIFEST_NAME = "flowpipe.json"
VIDEO_LIST_NAME = "videos.txt"
FAILURES_NAME = "failures.jsonl"

_ZIP_SUFFIX = ".zip"
_SIDECAR_SUFFIX = ".meta.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same video gives the same bytes
STALE_TEMPORARY_SECONDS = 3600.0  # a temporary file untouched this long has no live writer
_MEMBER_RE = re.compile(r"^(?:b?flow_[xy]|img)_\d{5,}\.jpg$")


def flow_names(k: int) -> tuple[str, str]:
    """Names of forward flow k (frame k -> k+1, 1-based): (x file, y file)."""
    return f"flow_x_{_check_index(k):05d}.jpg", f"flow_y_{k:05d}.jpg"


def backward_names(k: int) -> tuple[str, str]:
    """Names of backward flow k (frame k+1 -> k, 1-based): (x file, y file)."""
    return f"bflow_x_{_check_index(k):05d}.jpg", f"bflow_y_{k:05d}.jpg"


def image_name(k: int) -> str:
    """Name of RGB frame k (1-based)."""
    return f"img_{_check_index(k):05d}.jpg"


def _check_index(k: int) -> int:
    """Return k; ValueError unless it is an int >= 1."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"frame index must be an int >= 1 (1-based), got {k!r}")
    return k


def check_video_id(video_id: str) -> str:
    """Return video_id; ValueError unless it is a relative '/'-separated path inside OUT."""
    if not isinstance(video_id, str) or not video_id:
        raise ValueError(f"video id must be a non-empty string, got {video_id!r}")
    if "\\" in video_id or any(ord(c) < 32 for c in video_id):
        raise ValueError(f"video id must use '/' separators, no control characters: {video_id!r}")
    parts = video_id.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(
            f"video id must be a relative path without '.', '..' or '//': {video_id!r}"
        )
    return video_id


def _check_member_name(name: str) -> str:
    """Return name; ValueError unless it is a plain file name other than meta.json."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ValueError(f"member name must be a plain file name, got {name!r}")
    if name in (".", "..") or name == META_NAME or ".tmp-" in name:
        raise ValueError(f"member name {name!r} is reserved")
    return name


def _check_content(what: str, data: object) -> None:
    """TypeError unless data is bytes-like (the content of one file)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what}: file content must be bytes, got {type(data).__name__}")


def _tmp_name(path: str) -> str:
    """A unique temporary name beside path ('<name>.tmp-<uuid>')."""
    return f"{path}.tmp-{uuid.uuid4().hex}"


def _dump_json(obj: Any) -> bytes:
    """Pretty, stable UTF-8 JSON."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _load_json_dict(data: bytes) -> dict | None:
    """Parse JSON bytes into a dict; None when they are not a JSON object."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _normalise(obj: Any) -> Any:
    """obj as it reads back from JSON (tuples become lists, ...)."""
    return json.loads(json.dumps(obj))


class DatasetStore:
    """An extracted flow dataset at `root` (a local path or any fsspec URL)."""

    def __init__(self, root: str, pack: str = "folder") -> None:
        """Open (lazily: nothing is created until written) the dataset at root."""
        if pack not in PACKS:
            raise ValueError(f"pack must be one of {', '.join(PACKS)}, got {pack!r}")
        self.url = str(root)
        self.pack = pack
        self.fs, path = url_to_fs(self.url)
        self.root = path.rstrip("/") or "/"
        self._local = isinstance(self.fs, LocalFileSystem)
        self._made_dirs: set[str] = set()

    def __repr__(self) -> str:
        """DatasetStore('<url>', pack='<pack>')."""
        return f"DatasetStore({self.url!r}, pack={self.pack!r})"

    # -- paths and low-level file operations ---------------------------------------------

    def _path(self, *parts: str) -> str:
        """Absolute fs path of parts joined under root."""
        return posixpath.join(self.root, *parts)

    def _folder(self, video_id: str) -> str:
        """Folder of a video in the folder layout."""
        return self._path(check_video_id(video_id))

    def _zip_path(self, video_id: str) -> str:
        """Zip file of a video in the zip layout."""
        return self._path(check_video_id(video_id) + _ZIP_SUFFIX)

    def _sidecar_path(self, video_id: str) -> str:
        """The .meta.json sidecar of a video in the zip layout."""
        return self._path(check_video_id(video_id) + _SIDECAR_SUFFIX)

    def _makedirs(self, folder: str) -> None:
        """Create folder and its parents (remote file systems: once per store)."""
        if self._local:
            os.makedirs(folder, exist_ok=True)
        elif folder not in self._made_dirs:
            self.fs.makedirs(folder, exist_ok=True)
            self._made_dirs.add(folder)

    def _write_atomic(self, path: str, data: bytes) -> None:
        """Write data to path via '<name>.tmp-<uuid>' and a move; no partial file on error."""
        _check_content(path, data)
        self._makedirs(posixpath.dirname(path))
        tmp = _tmp_name(path)
        try:
            with self._open_write(tmp) as f:
                f.write(data)
            self._move(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                self._remove(tmp)
            raise

    def _open_write(self, path: str) -> IO[bytes]:
        """A new file at path opened for writing (a write-only stream on object stores)."""
        return open(path, "wb") if self._local else self.fs.open(path, "wb")

    def _move(self, src: str, dst: str) -> None:
        """Move a finished temporary file onto its final name, replacing what is there."""
        if self._local:
            os.replace(src, dst)
        else:
            self.fs.mv(src, dst)

    def _remove(self, path: str) -> None:
        """Delete a file if it exists."""
        try:
            if self._local:
                os.remove(path)
            else:
                self.fs.rm_file(path)
        except (FileNotFoundError, NotADirectoryError):
            pass

    def _read(self, path: str) -> bytes:
        """Whole file content; FileNotFoundError when missing."""
        if self._local:
            with open(path, "rb") as f:
                return f.read()
        return self.fs.cat_file(path)

    def _read_or_none(self, path: str) -> bytes | None:
        """Whole file content, or None when it is missing or not a file."""
        try:
            return self._read(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def _exists(self, path: str) -> bool:
        """Whether a file or folder exists at path."""
        return os.path.exists(path) if self._local else self.fs.exists(path)

    def _files(self) -> dict[str, int]:
        """Every file under root (relative '/' path -> size in bytes)."""
        if not self._exists(self.root):
            return {}
        prefix = self.root.rstrip("/") + "/"
        found = self.fs.find(self.root, withdirs=False, detail=True)
        return {
            name[len(prefix) :]: int(info.get("size") or 0)
            for name, info in found.items()
            if name.startswith(prefix) and info.get("type", "file") == "file"
        }

    def remove_stale_temporaries(self, older_than: float = STALE_TEMPORARY_SECONDS) -> list[str]:
        """Delete '<name>.tmp-<uuid>' files that killed writers left, unmodified for more than
        `older_than` seconds (a live writer's are fresh); return their paths under root."""
        now = time.time()
        removed = []
        for rel in self._files():
            if ".tmp-" not in posixpath.basename(rel):
                continue
            path = self._path(rel)
            try:
                age = now - self.fs.modified(path).timestamp()
            except (NotImplementedError, OSError, AttributeError):
                continue
            if age > older_than:
                self._remove(path)
                removed.append(rel)
        return removed

    # -- videos ---------------------------------------------------------------------------

    def video_writer(self, video_id: str) -> VideoWriter:
        """A writer streaming one video's files into place (a `with` block aborts on error)."""
        return (_ZipWriter if self.pack == "zip" else _FolderWriter)(self, video_id)

    def write_video(self, video_id: str, files: Mapping[str, bytes], meta: dict) -> None:
        """Write one video's files, then its meta.json (its presence marks the video done)."""
        with self.video_writer(video_id) as writer:
            for name, data in files.items():
                writer.add(name, data)
            writer.finish(meta)

    def _remove_done_markers(self, video_id: str) -> None:
        """Remove the video's meta.json and sidecar, so a redo never looks done half-way."""
        self._remove(self._path(video_id, META_NAME))
        self._remove(self._sidecar_path(video_id))

    def _stale_members(self, folder: str, keep: set[str]) -> list[str]:
        """Names of flow/image files left in folder by an earlier run and not in keep."""
        try:
            if self._local:
                present = [e.name for e in os.scandir(folder) if e.is_file()]
            else:
                listing = self.fs.ls(folder, detail=True)
                present = [posixpath.basename(e["name"]) for e in listing if e["type"] == "file"]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [n for n in present if _MEMBER_RE.match(n) and n not in keep]

    def _done_layout(self, video_id: str) -> tuple[str, bytes] | None:
        """(layout, meta bytes) of a finished video, this store's pack looked at first."""
        order = PACKS if self.pack == "folder" else PACKS[::-1]
        for layout in order:
            if layout == "folder":
                data = self._read_or_none(self._path(check_video_id(video_id), META_NAME))
            else:
                data = self._read_or_none(self._sidecar_path(video_id))
                if data is not None and not self._exists(self._zip_path(video_id)):
                    data = None
            if data is not None:
                return layout, data
        return None

    def read_meta(self, video_id: str) -> dict | None:
        """The video's meta.json if the video is done (either layout), else None."""
        found = self._done_layout(video_id)
        return None if found is None else _load_json_dict(found[1])

    def is_done(self, video_id: str, settings: dict) -> bool:
        """Whether the video is done with exactly these settings (compared as JSON)."""
        meta = self.read_meta(video_id)
        return meta is not None and meta.get("settings") == _normalise(settings)

    def list_done(self) -> dict[str, dict]:
        """video_id -> meta of every finished video (both layouts; this store's pack wins)."""
        files = self._files()
        done: dict[str, tuple[str, str]] = {}
        for rel in files:
            if rel.endswith(_SIDECAR_SUFFIX) and posixpath.basename(rel) != META_NAME:
                vid = rel[: -len(_SIDECAR_SUFFIX)]
                if vid + _ZIP_SUFFIX in files:
                    self._pick(done, vid, "zip", rel)
            elif posixpath.basename(rel) == META_NAME and "/" in rel:
                self._pick(done, posixpath.dirname(rel), "folder", rel)
        metas = {}
        for vid, (_, rel) in sorted(done.items()):
            meta = _load_json_dict(self._read_or_none(self._path(rel)) or b"")
            if meta is not None:
                metas[vid] = meta
        return metas

    def _pick(self, done: dict[str, tuple[str, str]], vid: str, layout: str, rel: str) -> None:
        """Record (layout, meta path) for vid unless this store's own layout is already there."""
        if vid not in done or layout == self.pack:
            done[vid] = (layout, rel)

    def read_file(self, video_id: str, name: str) -> bytes:
        """One member file of a video (folder or zip); FileNotFoundError when missing."""
        return self.read_files(video_id, [name])[0]

    def read_files(self, video_id: str, names: Iterable[str]) -> list[bytes]:
        """Several member files of one video, opening its zip (if any) once."""
        names = [_check_member_name(n) if n != META_NAME else n for n in names]
        check_video_id(video_id)
        order = PACKS if self.pack == "folder" else PACKS[::-1]
        missing = ""
        for layout in order:
            try:
                if layout == "zip":
                    return self._read_zip_members(video_id, names)
                return self._read_folder_members(video_id, names)
            except _MissingMember as exc:
                missing = missing or exc.name
        missing = missing or (names[0] if names else "")
        raise FileNotFoundError(f"video {video_id!r}: file {missing!r} not found in {self.url}")

    def _read_folder_members(self, video_id: str, names: list[str]) -> list[bytes]:
        """Members of the video's folder; _MissingMember for the first one missing."""
        out = []
        for n in names:
            data = self._read_or_none(self._path(video_id, n))
            if data is None:
                raise _MissingMember(n if self._exists(self._folder(video_id)) else "")
            out.append(data)
        return out

    def _read_zip_members(self, video_id: str, names: list[str]) -> list[bytes]:
        """Members of the video's zip; _MissingMember for a missing zip or member, ValueError
        naming the zip when it is corrupt."""
        path = self._zip_path(video_id)
        try:
            f = open(path, "rb") if self._local else self.fs.open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise _MissingMember("") from None
        try:
            with f, zipfile.ZipFile(f) as zf:
                return [self._zip_member(zf, n) for n in names]
        except zipfile.BadZipFile as err:
            raise ValueError(f"{path}: corrupt zip ({err})") from None

    @staticmethod
    def _zip_member(zf: zipfile.ZipFile, name: str) -> bytes:
        """One member's bytes; _MissingMember when the zip lacks it."""
        try:
            return zf.read(name)
        except KeyError:
            raise _MissingMember(name) from None

    # -- dataset-level files --------------------------------------------------------------

    def write_manifest(self, manifest: dict) -> None:
        """Write flowpipe.json atomically, with "format_version" set to FORMAT_VERSION."""
        self._write_atomic(
            self._path(MANIFEST_NAME), _dump_json({**manifest, "format_version": FORMAT_VERSION})
        )

    def read_manifest(self) -> dict | None:
        """flowpipe.json, or None when absent; ValueError when corrupt or from a newer format."""
        data = self._read_or_none(self._path(MANIFEST_NAME))
        if data is None:
            return None
        manifest = _load_json_dict(data)
        if manifest is None:
            raise ValueError(f"{self.url}/{MANIFEST_NAME}: not a JSON object (corrupt manifest)")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(
                f"{self.url}/{MANIFEST_NAME}: unsupported format_version {version!r} "
                f"(this flowpipe reads up to {FORMAT_VERSION})"
            )
        return manifest

    def write_video_list(self, rows: list[tuple[str, int, int | None]]) -> None:
        """Rewrite videos.txt ("<video_id> <num_flows> [<label>]", sorted) atomically."""
        rows3 = [(*r, None)[:3] for r in rows]
        if len({label is None for _, _, label in rows3}) > 1:
            raise ValueError("videos.txt rows must all have a label or all have none")
        lines = []
        for video_id, num_flows, label in sorted(rows3, key=lambda r: r[0]):
            check_video_id(video_id)
            if video_id != video_id.strip():
                raise ValueError(f"video id with leading/trailing spaces: {video_id!r}")
            for what, n in (("num_flows", num_flows), ("label", label)):
                if (n is not None or what == "num_flows") and not _is_count(n):
                    raise ValueError(f"{video_id}: {what} must be an int >= 0, got {n!r}")
            tail = "" if label is None else f" {label}"
            lines.append(f"{video_id} {num_flows}{tail}\n")
        self._write_atomic(self._path(VIDEO_LIST_NAME), "".join(lines).encode())

    def read_video_list(self, labelled: bool | None = None) -> list[tuple[str, int, int | None]]:
        """videos.txt rows, split from the right (ids may hold spaces); [] when absent.

        labelled=None detects the label column: present when every line ends in two integers
        after an id (an unlabelled list whose ids all end in " <digits>" needs labelled=False).
        """
        data = self._read_or_none(self._path(VIDEO_LIST_NAME))
        if data is None:
            return []
        lines = [ln for ln in data.decode("utf-8").splitlines() if ln.strip()]
        split3 = [ln.rsplit(None, 2) for ln in lines]
        if labelled is None:
            labelled = bool(lines) and all(
                len(p) == 3 and _is_int(p[1]) and _is_int(p[2]) for p in split3
            )
        rows: list[tuple[str, int, int | None]] = []
        for ln, parts in zip(lines, split3, strict=True):
            if labelled:
                if len(parts) != 3 or not (_is_int(parts[1]) and _is_int(parts[2])):
                    raise ValueError(f"{self.url}/{VIDEO_LIST_NAME}: bad line {ln!r}")
                rows.append((parts[0].strip(), int(parts[1]), int(parts[2])))
                continue
            parts = ln.rsplit(None, 1)
            if len(parts) != 2 or not _is_int(parts[1]):
                raise ValueError(f"{self.url}/{VIDEO_LIST_NAME}: bad line {ln!r}")
            rows.append((parts[0].strip(), int(parts[1]), None))
        return rows

    def append_failure(self, record: dict) -> None:
        """Append one JSON line to failures.jsonl (path, error type, message) and flush."""
        line = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n"
        path = self._path(FAILURES_NAME)
        self._makedirs(self.root)
        if self._local:
            with open(path, "ab") as f:
                f.write(line.encode())
                f.flush()
            return
        try:
            with self.fs.open(path, "ab") as f:
                f.write(line.encode())
                f.flush()
        except (NotImplementedError, ValueError):  # object stores: no append, rewrite
            old = self._read_or_none(path) or b""
            self._write_atomic(path, old + line.encode())

    def read_failures(self) -> list[dict]:
        """Records of failures.jsonl ([] when absent; a torn or corrupt line is skipped)."""
        data = self._read_or_none(self._path(FAILURES_NAME))
        if not data:
            return []
        out = []
        for raw in data.splitlines():
            record = _load_json_dict(raw) if raw.strip() else None
            if record is not None:
                out.append(record)
        return out

    def clear_failures(self, keep: Callable[[dict], bool]) -> None:
        """Rewrite failures.jsonl atomically, keeping only the records where keep(record)."""
        path = self._path(FAILURES_NAME)
        if self._read_or_none(path) is None:
            return
        kept = [r for r in self.read_failures() if keep(r)]
        lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in kept)
        self._write_atomic(path, lines.encode())

    def bytes_used(self) -> int:
        """Total size in bytes of all files under root."""
        return sum(self._files().values())


class VideoWriter(ABC):
    """One video on its way into a DatasetStore: add() its files as they are made, then
    finish(meta). Opening it removes the video's done markers; finish() writes them last.
    Leaving a `with` block unfinished calls abort(). Not thread-safe: add from one thread."""

    def __init__(self, store: DatasetStore, video_id: str) -> None:
        """Start the video: a redo is not done from here until finish()."""
        self.store = store
        self.video_id = check_video_id(video_id)
        self.names: set[str] = set()
        self._closed = False
        store._remove_done_markers(video_id)

    def add(self, name: str, data: bytes) -> None:
        """Write one member file now (each name once per video)."""
        _check_member_name(name)
        _check_content(f"{self.video_id}/{name}", data)
        if self._closed or name in self.names:
            raise ValueError(f"{self.video_id}: cannot add {name!r} (closed writer or repeat)")
        self._add(name, bytes(data))
        self.names.add(name)

    def finish(self, meta: dict) -> None:
        """Complete the video, its meta.json / sidecar written last: the video is then done."""
        self._finish(_dump_json(meta))
        self._closed = True

    def abort(self) -> None:
        """Give up on the video, which stays not done; temporary files are removed."""
        self._closed = True

    def __enter__(self) -> VideoWriter:
        """The writer itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Abort unless finish() succeeded."""
        if not self._closed:
            self.abort()

    @abstractmethod
    def _add(self, name: str, data: bytes) -> None:
        """Store one checked member."""

    @abstractmethod
    def _finish(self, meta: bytes) -> None:
        """Put the members in their final place, then the done marker."""


class _FolderWriter(VideoWriter):
    """Folder layout: each file moved into the video's folder as soon as it is added; files
    left by an abort or a kill are harmless (no meta.json) and a redo replaces them."""

    def _add(self, name: str, data: bytes) -> None:
        """Write the file atomically into the folder."""
        self.store._write_atomic(self.store._path(self.video_id, name), data)

    def _finish(self, meta: bytes) -> None:
        """Remove members of an earlier, longer run that this one did not write, then meta.json."""
        folder = self.store._folder(self.video_id)
        for stale in self.store._stale_members(folder, self.names):
            self.store._remove(posixpath.join(folder, stale))
        self.store._write_atomic(posixpath.join(folder, META_NAME), meta)


class _ZipWriter(VideoWriter):
    """Zip layout: members appended to '<video_id>.zip.tmp-<uuid>', opened once, ZIP_STORED
    with fixed dates; finish() moves it into place and writes the sidecar."""

    def __init__(self, store: DatasetStore, video_id: str) -> None:
        """Open the temporary zip."""
        super().__init__(store, video_id)
        self.path = store._zip_path(video_id)
        self.tmp = _tmp_name(self.path)
        store._makedirs(posixpath.dirname(self.path))
        self._file = store._open_write(self.tmp)
        self._zip = zipfile.ZipFile(self._file, "w", zipfile.ZIP_STORED)

    def _add(self, name: str, data: bytes) -> None:
        """Append one stored member (no compression, fixed date: reproducible bytes)."""
        info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, data)

    def _finish(self, meta: bytes) -> None:
        """meta.json as the last member, the zip moved into place, then the sidecar."""
        self._add(META_NAME, meta)
        self._close()
        self.store._move(self.tmp, self.path)
        self.store._write_atomic(self.store._sidecar_path(self.video_id), meta)

    def abort(self) -> None:
        """Close and delete the temporary zip; a finished zip of an earlier run stays."""
        with contextlib.suppress(Exception):
            self._close()
        with contextlib.suppress(OSError):
            self.store._remove(self.tmp)
        super().abort()

    def _close(self) -> None:
        """Write the zip's central directory and close the temporary file."""
        try:
            self._zip.close()
        finally:
            self._file.close()


class _MissingMember(Exception):
    """A member file (its name in .name; "" when the layout has no such video) absent from one
    layout of a video."""

    def __init__(self, name: str) -> None:
        """Remember the missing name."""
        super().__init__(name)
        self.name = name


def _is_count(n: object) -> bool:
    """Whether n is an int >= 0 (bool excluded)."""
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


def _is_int(text: str) -> bool:
    """Whether text is a (signed) decimal integer."""
    return re.fullmatch(r"[+-]?\d+", text) is not None


__all__ = [
    "FORMAT_VERSION",
    "DatasetStore",
    "VideoWriter",
    "backward_names",
    "check_video_id",
    "flow_names",
    "image_name",
]
