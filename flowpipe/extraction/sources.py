"""Where the videos come from: local paths or fsspec URLs (s3://, gs://, http(s)://, ...).

The decoder reads local files; a remote video is copied to a temporary local file on the worker
for the time it is decoded. A source's identity (size, modification time, and on demand a
fingerprint of its first and last 64 KiB) is recorded in its meta.json, so a video replaced
under the same name is redone rather than kept. URLs are written to meta.json, failures.jsonl
and logs without credentials (`redact`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fsspec.core import url_to_fs

from flowpipe.extraction.video import VIDEO_EXTENSIONS, VideoError, frame_files

FINGERPRINT_BYTES = 64 * 1024
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str) -> bool:
    """Whether path is a URL other than file:// (a remote source or dataset)."""
    return bool(_URL.match(path)) and not path.startswith("file://")


def redact(path: str) -> str:
    """path without user, password or query string (signed URLs carry keys there)."""
    if not is_url(path):
        return path
    parts = urlsplit(path)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def local_path(path: str) -> str:
    """A local path made absolute (so it means the same on every worker); URLs unchanged."""
    if is_url(path):
        return path
    if path.startswith("file://"):
        path = path[len("file://") :]
    return os.path.abspath(os.path.expanduser(path))


def find_remote_videos(
    url: str, storage_options: Mapping[str, Any]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(video URL, path relative to url, identity) of every video under a remote folder,
    sorted, from one listing; [] when url is not a folder."""
    fs, root = url_to_fs(url, **dict(storage_options))
    if not fs.isdir(root):
        return []
    protocol = url.split("://", 1)[0]
    found = []
    for name, info in sorted(fs.find(root, detail=True).items()):
        if posixpath.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
            rel = posixpath.relpath(name, root.rstrip("/"))
            found.append((f"{protocol}://{name.lstrip('/')}", rel, _info_identity(info)))
    return found


def remote_exists(url: str, storage_options: Mapping[str, Any]) -> bool:
    """Whether a remote file or folder exists at url."""
    fs, path = url_to_fs(url, **dict(storage_options))
    return fs.exists(path)


@contextlib.contextmanager
def opened_locally(path: str, storage_options: Mapping[str, Any]) -> Iterator[str]:
    """A local file path holding the source: the path itself, or a temporary copy of a remote
    video (removed afterwards). VideoError when the remote file cannot be fetched."""
    if not is_url(path):
        yield path
        return
    folder = tempfile.mkdtemp(prefix="flowpipe-source-")
    local = os.path.join(folder, "video" + Path(urlsplit(path).path).suffix)
    try:
        try:
            fs, remote = url_to_fs(path, **dict(storage_options))
            fs.get_file(remote, local)
        except FileNotFoundError:
            raise VideoError(redact(path), "no such file") from None
        except OSError as err:
            raise VideoError(redact(path), f"cannot fetch it ({err})") from None
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def identity(path: str, storage_options: Mapping[str, Any]) -> dict[str, Any] | None:
    """{'size', 'mtime'} of a source (mtime in seconds, or an ETag string on object stores);
    None when it cannot be read."""
    try:
        if not is_url(path) and os.path.isdir(path):
            return _folder_identity(path)
        if not is_url(path):
            info = os.stat(path)
            return {"size": info.st_size, "mtime": info.st_mtime_ns / 1e9}
        fs, remote = url_to_fs(path, **dict(storage_options))
        return _info_identity(fs.info(remote))
    except (OSError, ValueError):
        return None


def _info_identity(info: Mapping[str, Any]) -> dict[str, Any]:
    """{'size', 'mtime'} from an fsspec listing entry (an ETag where the store has one)."""
    stamp = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified")
    return {"size": int(info.get("size") or 0), "mtime": str(stamp) if stamp else None}


def _folder_identity(folder: str) -> dict[str, Any]:
    """A frame folder's identity: its images' total size and latest modification time."""
    stats = [os.stat(p) for p in frame_files(folder)]
    return {"size": sum(s.st_size for s in stats), "mtime": max(s.st_mtime_ns for s in stats) / 1e9}


def fingerprint(local: str) -> str:
    """A cheap content fingerprint of a local file: SHA-256 of its size and its first and last
    64 KiB (hex, 16 digits); of a frame folder: of its images' names and sizes and of its
    first and last image's fingerprints."""
    if os.path.isdir(local):
        images = frame_files(local)
        listing = "".join(f"{p.name}:{p.stat().st_size};" for p in images)
        parts = [listing, fingerprint(str(images[0])), fingerprint(str(images[-1]))]
        return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]
    digest = hashlib.sha256()
    size = os.path.getsize(local)
    digest.update(str(size).encode())
    with open(local, "rb") as f:
        digest.update(f.read(FINGERPRINT_BYTES))
        if size > FINGERPRINT_BYTES:
            f.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
            digest.update(f.read(FINGERPRINT_BYTES))
    return digest.hexdigest()[:16]


def same_source(recorded: dict | None, now: dict | None, path: str) -> bool:
    """Whether the source `now` describes is the one a finished video recorded. Equal size and
    time: the same. A different size: changed. Same size, other time (a copy without -p): the
    fingerprints decide (read here for local files; remote ones count as changed). A meta.json
    from before sources were recorded, or a source that cannot be read now: the same."""
    if not recorded or not now:
        return True
    if recorded.get("size") != now.get("size"):
        return False
    if recorded.get("mtime") == now.get("mtime"):
        return True
    if is_url(path) or not recorded.get("fingerprint"):
        return False
    try:
        return fingerprint(path) == recorded["fingerprint"]
    except OSError:
        return True
