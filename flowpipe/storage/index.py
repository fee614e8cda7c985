"""The dataset's index: what a dataset holds, known without reading one file per video.

A video's meta.json stays the truth (written last, removed first on a redo). The index is a
cache of the finished videos' figures, kept as shards under ``OUT/.flowpipe/index/``: gzipped
JSON lines, each shard written once, whole and atomically, by the client of one run (a shard
per batch of finished videos, so a run killed mid-way loses at most its last batch). Readers
merge the shards: for each video the entry with the latest time wins, and an entry may be a
removal. Concurrent runs write shards of their own; nothing is ever appended or rewritten.

Why the index never claims a video whose meta.json is absent or different:

- an entry is written only after its video's meta.json, from that very meta (its digest kept);
- a run that will redo a video the index claims first writes the video's removal (a redo starts
  by removing meta.json, and its new entry comes later, when it is finished again);
- a video finished by a run that was killed before writing its entry is simply not claimed:
  the next run's worker finds its meta.json under the video's lease and hands the entry back
  instead of computing the video again.

What the index cannot see are files changed by hand; `flowpipe index OUT --check` compares
every entry with its meta.json, and `--rebuild` makes the index anew from the meta.json files.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import posixpath
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowpipe.storage.files import MISSING, Files
from flowpipe.storage.layout import BOOKKEEPING_DIR, TEMPORARY_MARK

INDEX_DIR = f"{BOOKKEEPING_DIR}/index"
SHARD_SUFFIX = ".jsonl.gz"
INDEX_VERSION = 1
COMPACT_ABOVE = 64  # shards before a run merges them into one
READ_TRIES = 3  # a shard merged away while being read: list and read again


def meta_digest(meta: dict | None) -> str | None:
    """A short digest of a finished video's meta.json (None when not finished)."""
    if meta is None:
        return None
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]


def settings_key(settings: dict | None) -> str:
    """A short digest of a video's settings: the key its entry names them by."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def entry_from_meta(meta: dict, layout: str, finished: float | None = None) -> dict[str, Any]:
    """The index entry of a finished video, from the meta.json it wrote (figures the resume
    decision, `info`, the report and the loaders need, nothing more)."""
    entry: dict[str, Any] = {
        "id": meta["video_id"],
        "t": finished if finished is not None else time.time(),
        "digest": meta_digest(meta),
        "layout": layout,
        "flows": int(meta["flows"]),
        "frames": int(meta["frames"]),
        "size": list(meta["size"]),
        "settings": settings_key(meta.get("settings")),
    }
    for key in ("label", "class_name", "source_identity", "bytes", "quantization_jpeg_epe"):
        if meta.get(key) is not None:
            entry[key] = meta[key]
    consistency = meta.get("consistency")
    if isinstance(consistency, dict):
        entry["consistency"] = {
            k: consistency[k]
            for k in ("threshold", "mean_inconsistent", "mean_error", "worst")
            if k in consistency
        }
    return entry


@dataclass
class IndexShard:
    """One shard on its way out: entries, removals and the settings they name."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, dict] = field(default_factory=dict)

    def add(self, meta: dict, layout: str) -> None:
        """A finished video's entry."""
        entry = entry_from_meta(meta, layout)
        self.settings[entry["settings"]] = meta.get("settings") or {}
        self.entries.append(entry)

    def remove(self, video_id: str) -> None:
        """The video is about to be redone (or was lost): the index no longer claims it."""
        self.entries.append({"id": video_id, "t": time.time(), "removed": True})

    def encode(self) -> bytes:
        """The shard's bytes: a header line (version, settings), then a line per entry:
        '<time>TAB<video id>TAB<entry as JSON, or - for a removal>' (ids hold no tab), so a
        reader merging 650,000 entries parses only the ones it is asked for."""
        header = {"index_version": INDEX_VERSION, "settings": self.settings}
        lines = [json.dumps(header, sort_keys=True)]
        for e in self.entries:
            fields = {k: v for k, v in e.items() if k not in ("id", "t")}
            body = (
                "-" if e.get("removed") else json.dumps(fields, sort_keys=True, ensure_ascii=False)
            )
            lines.append(f"{e['t']!r}\t{e['id']}\t{body}")
        return gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6)

    def __len__(self) -> int:
        return len(self.entries)


class IndexWriter:
    """A run's shards: entries gathered and written `batch` at a time (and by flush())."""

    def __init__(self, files: Files, run: str, batch: int = 1000) -> None:
        self.files = files
        self.run = run
        self.batch = batch
        self.shard = IndexShard()
        self.written: list[str] = []

    def add(self, meta: dict, layout: str) -> None:
        self.shard.add(meta, layout)
        if len(self.shard) >= self.batch:
            self.flush()

    def remove(self, video_ids: Iterable[str]) -> None:
        for video_id in video_ids:
            self.shard.remove(video_id)
        self.flush()

    def flush(self) -> None:
        """Write the entries gathered so far as one shard (nothing when there are none)."""
        if not len(self.shard):
            return
        path = posixpath.join(INDEX_DIR, shard_name(self.run))
        self.files.write_atomic(path, self.shard.encode())
        self.written.append(path)
        self.shard = IndexShard()


class DatasetIndex:
    """The merged index of a dataset: for each video its latest entry (as its JSON line, so that
    200,000 videos cost tens of MB, not a dict each), and the settings entries name."""

    def __init__(
        self, lines: dict[str, tuple[float, str]], settings: dict[str, dict], shards: list[str]
    ) -> None:
        self._lines = lines  # video id -> (entry's time, entry's JSON without id and time)
        self.settings = settings
        self.shards = shards

    @classmethod
    def load(cls, files: Files) -> DatasetIndex | None:
        """The index of the dataset, None when it has none (a dataset from before indexes)."""
        for attempt in range(READ_TRIES):
            shards = shard_paths(files)
            if not shards:
                return None
            try:
                return cls._merged(files, shards)
            except MISSING:
                if attempt + 1 == READ_TRIES:
                    raise
        return None

    @classmethod
    def _merged(cls, files: Files, shards: list[str]) -> DatasetIndex:
        latest: dict[str, tuple[float, str]] = {}
        settings: dict[str, dict] = {}
        for path in shards:
            with _shard_lines(files.read(path), path) as lines:
                settings.update(_header(next(lines, "{}"), path).get("settings") or {})
                for line in lines:
                    stamp, video_id, body = line.rstrip("\n").split("\t", 2)
                    time_ = float(stamp)
                    if video_id not in latest or time_ >= latest[video_id][0]:
                        latest[video_id] = (time_, body)
        claimed = {vid: entry for vid, entry in latest.items() if entry[1] != "-"}
        return cls(claimed, settings, shards)

    def __contains__(self, video_id: str) -> bool:
        return video_id in self._lines

    def __len__(self) -> int:
        return len(self._lines)

    def ids(self) -> list[str]:
        """The claimed videos' ids, sorted."""
        return sorted(self._lines)

    def entry(self, video_id: str) -> dict[str, Any] | None:
        """A claimed video's entry, None when the index does not claim it."""
        found = self._lines.get(video_id)
        return None if found is None else {**json.loads(found[1]), "id": video_id}

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every claimed video's entry, by id (decoded one at a time)."""
        for video_id in self.ids():
            yield {**json.loads(self._lines[video_id][1]), "id": video_id}

    def encoded(self) -> bytes:
        """The whole index as one shard (entries as they are, times kept)."""
        header = {"index_version": INDEX_VERSION, "settings": self.settings}
        lines = [json.dumps(header, sort_keys=True)]
        lines += [f"{t!r}\t{vid}\t{body}" for vid, (t, body) in sorted(self._lines.items())]
        return gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6)

    def settings_of(self, entry: dict[str, Any]) -> dict:
        """The settings an entry names."""
        return self.settings.get(entry.get("settings", ""), {})

    def metas(self) -> IndexedMetas:
        """The claimed videos as a mapping of meta.json-shaped dicts (decoded when asked for)."""
        return IndexedMetas(self)


class IndexedMetas(Mapping[str, dict]):
    """video id -> the figures of its meta.json that the index keeps, in meta.json's shape
    (`flows`, `frames`, `size`, `settings`, `label`, `bytes`, ...), decoded one at a time: what
    readers use instead of reading every meta.json."""

    def __init__(self, index: DatasetIndex) -> None:
        self.index = index

    def __getitem__(self, video_id: str) -> dict:
        entry = self.index.entry(video_id)
        if entry is None:
            raise KeyError(video_id)
        return self._meta(entry)

    def __iter__(self) -> Iterator[str]:
        return iter(self.index.ids())

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, video_id: object) -> bool:
        return isinstance(video_id, str) and video_id in self.index

    def _meta(self, entry: dict[str, Any]) -> dict:
        meta = {k: v for k, v in entry.items() if k not in ("id", "t", "settings")}
        meta["video_id"] = entry["id"]
        meta["settings"] = self.index.settings_of(entry)
        return meta


def shard_name(run: str) -> str:
    """A new shard's name: its writing time first (readers merge in name order), the run."""
    return f"{time.time():017.6f}-{run[:8]}-{uuid.uuid4().hex[:8]}{SHARD_SUFFIX}"


def shard_paths(files: Files) -> list[str]:
    """The index's shards, oldest first (their names start with their writing time)."""
    names = [
        n
        for n in files.list_files(INDEX_DIR)
        if n.endswith(SHARD_SUFFIX) and TEMPORARY_MARK not in n
    ]
    return [posixpath.join(INDEX_DIR, n) for n in sorted(names)]


def compact(files: Files, run: str) -> str | None:
    """Merge every shard into one (the latest entry of each video, its time kept; removals
    dropped) and delete the merged ones; shards written meanwhile by other runs are kept.
    Returns the new shard."""
    index = DatasetIndex.load(files)
    if index is None or len(index.shards) <= 1:
        return None
    path = posixpath.join(INDEX_DIR, shard_name(run))
    files.write_atomic(path, index.encoded())
    for old in index.shards:
        files.remove(old)
    return path


def rebuild(files: Files, finished: Iterable[tuple[str, str, dict]], run: str) -> int:
    """A new index from the meta.json files ((video id, layout, meta) of each finished video,
    read one at a time): one shard replacing every existing one. Returns the number of videos
    indexed. Run it while no extraction writes to the dataset: entries it makes are dated now."""
    old = shard_paths(files)
    shard = IndexShard()
    for _, layout, meta in finished:
        shard.add(meta, layout)
    files.write_atomic(posixpath.join(INDEX_DIR, shard_name(run)), shard.encode())
    for path in old:
        files.remove(path)
    return len(shard)


@contextlib.contextmanager
def _shard_lines(data: bytes, path: str) -> Iterator[Iterator[str]]:
    """The lines of a shard, decompressed as they are read (the whole text of 650,000 entries
    is never in memory at once); ValueError naming the shard when it is not one."""
    try:
        with gzip.open(io.BytesIO(data), "rt", encoding="utf-8") as text:
            yield (line for line in text if line.strip())
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path}: not an index shard ({err}); run `flowpipe index --rebuild`"
        ) from None


def _header(line: str, path: str) -> dict:
    """A shard's header (version, settings); ValueError for a newer version or a bad line."""
    try:
        header = json.loads(line)
    except ValueError:
        raise ValueError(f"{path}: not an index shard; run `flowpipe index --rebuild`") from None
    if header.get("index_version", 0) > INDEX_VERSION:
        raise ValueError(
            f"{path}: index version {header['index_version']} is newer than this flowpipe"
        )
    return header
