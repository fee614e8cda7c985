"""An extracted flow dataset (on-disk format v1) at a local path or any fsspec URL.

`DatasetStore` is the one object readers and writers open: it joins the file-system adapter
(`files`), the naming rules (`layout`), the dataset-level files (`lists`), the done markers
(`markers`), the video writers (`writers`) and member reads (`members`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowpipe.storage import lists
from flowpipe.storage.files import Files, StorageOptions
from flowpipe.storage.index import DatasetIndex
from flowpipe.storage.layout import (
    FORMAT_VERSION,
    PACKS,
    backward_names,
    check_video_id,
    flow_names,
    image_name,
)
from flowpipe.storage.markers import DoneMarkers, normalised
from flowpipe.storage.members import read_members
from flowpipe.storage.writers import FolderWriter, VideoWriter, ZipWriter

STALE_TEMPORARY_SECONDS = 3600.0  # a temporary file untouched this long has no live writer


@dataclass(frozen=True)
class StoreSpec:
    """Where a dataset is and how its writers lay it out: what a task needs to open it.
    `adopted`: OUT held another tool's files when flowpipe first wrote there, so writers
    remove only the files flowpipe recorded."""

    url: str
    pack: str = "folder"
    storage_options: StorageOptions = field(default_factory=StorageOptions)
    adopted: bool = False

    def open(self) -> DatasetStore:
        """The dataset."""
        return DatasetStore(self.url, self.pack, self.storage_options)


class DatasetStore:
    """An extracted flow dataset at `root` (nothing is created until written). `pack` is the
    layout its writers use; readers read both."""

    def __init__(
        self,
        root: str,
        pack: str = "folder",
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if pack not in PACKS:
            raise ValueError(f"pack must be one of {', '.join(PACKS)}, got {pack!r}")
        self.files = Files(str(root), storage_options)
        self.url = self.files.url
        self.pack = pack
        self.markers = DoneMarkers(self.files, pack)

    def __repr__(self) -> str:
        return f"DatasetStore({self.url!r}, pack={self.pack!r})"

    @property
    def fs(self) -> Any:
        """The fsspec file system."""
        return self.files.fs

    @property
    def root(self) -> str:
        """The dataset's folder on its file system."""
        return self.files.root

    # -- videos ---------------------------------------------------------------------------

    def video_writer(self, video_id: str, prune_pattern: bool = True) -> VideoWriter:
        """A writer streaming one video's files into place (a `with` block aborts on error)."""
        kind = ZipWriter if self.pack == "zip" else FolderWriter
        return kind(self.files, video_id, prune_pattern)

    def write_video(self, video_id: str, files: Mapping[str, bytes], meta: dict) -> None:
        """Write one video's files, then its meta.json (its presence marks the video done)."""
        with self.video_writer(video_id) as writer:
            for name, data in files.items():
                writer.add(name, data)
            writer.finish(meta)

    def read_meta(self, video_id: str) -> dict | None:
        """The video's meta.json if the video is done (either layout), else None."""
        return self.markers.read(video_id)

    def is_done(self, video_id: str, settings: dict) -> bool:
        """Whether the video is done with exactly these settings (compared as JSON)."""
        meta = self.read_meta(video_id)
        return meta is not None and meta.get("settings") == normalised(settings)

    def list_done(self) -> dict[str, dict]:
        """video_id -> meta of every finished video (both layouts; this store's pack wins), read
        from every meta.json: the truth, at one read per video."""
        return self.markers.list_all()

    def finished(self) -> Mapping[str, dict]:
        """video_id -> figures of every finished video, in meta.json's shape: from the dataset's
        index (a few reads whatever the number of videos), else from every meta.json (a dataset
        written before indexes; `flowpipe index OUT --rebuild` gives it one)."""
        index = DatasetIndex.load(self.files)
        return self.list_done() if index is None else index.metas()

    def index(self) -> DatasetIndex | None:
        """The dataset's index, None when it has none."""
        return DatasetIndex.load(self.files)

    def read_file(self, video_id: str, name: str) -> bytes:
        """One member file of a video (folder or zip); FileNotFoundError when missing."""
        return self.read_files(video_id, [name])[0]

    def read_files(self, video_id: str, names: Iterable[str]) -> list[bytes]:
        """Several member files of one video, opening its zip (if any) once."""
        return read_members(self.files, self.pack, video_id, list(names))

    def remove_stale_temporaries(self, older_than: float = STALE_TEMPORARY_SECONDS) -> list[str]:
        """Delete temporary files of killed writers unmodified for `older_than` seconds."""
        return self.files.remove_stale_temporaries(older_than)

    # -- dataset-level files --------------------------------------------------------------

    def write_manifest(self, manifest: dict) -> None:
        """Write flowpipe.json atomically, with "format_version" set to FORMAT_VERSION."""
        lists.write_manifest(self.files, manifest)

    def read_manifest(self) -> dict | None:
        """flowpipe.json, or None when absent; ValueError when corrupt or from a newer format."""
        return lists.read_manifest(self.files)

    def write_video_list(self, rows: list[lists.VideoRow]) -> None:
        """Rewrite videos.txt ("<video_id> <num_flows> [<label>]", sorted) atomically."""
        lists.write_video_list(self.files, rows)

    def read_video_list(self, labelled: bool | None = None) -> list[lists.VideoRow]:
        """videos.txt rows (see lists.read_video_list)."""
        return lists.read_video_list(self.files, labelled)

    def append_failure(self, record: dict) -> None:
        """Append one JSON line to failures.jsonl."""
        lists.append_failure(self.files, record)

    def read_failures(self) -> list[dict]:
        """Records of failures.jsonl ([] when absent)."""
        return lists.read_failures(self.files)

    def clear_failures(self, keep: Callable[[dict], bool]) -> None:
        """Rewrite failures.jsonl keeping only the records where keep(record)."""
        lists.clear_failures(self.files, keep)

    def bytes_used(self) -> int:
        """Total size in bytes of all files under root."""
        return sum(self.files.walk().values())


__all__ = [
    "FORMAT_VERSION",
    "DatasetStore",
    "StoreSpec",
    "VideoWriter",
    "backward_names",
    "check_video_id",
    "flow_names",
    "image_name",
]
