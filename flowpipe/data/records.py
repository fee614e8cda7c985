"""The videos a loader serves: finished videos of a dataset joined with a split's labels."""

from __future__ import annotations

import posixpath
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowpipe.checks import choice, integer
from flowpipe.data.splits import SUBSETS, Split, folder_split, read_split
from flowpipe.storage import DatasetStore, RawframeStore, as_store

Store = DatasetStore | RawframeStore

MISSING_POLICIES = ("error", "skip")


@dataclass(frozen=True, kw_only=True)
class SplitOptions:
    """How a split is read: its `fold` (1-based), its `subset` ("train" or "test"; None: the
    dataset's mode) and what a split video that is not in the dataset does (`missing`:
    "error", or "skip" with a warning)."""

    fold: int = 1
    subset: str | None = None
    missing: str = "error"

    def __post_init__(self) -> None:
        integer("fold", self.fold, minimum=1)
        if self.subset is not None:
            choice("subset", self.subset, SUBSETS)
        choice("missing", self.missing, MISSING_POLICIES)


@dataclass(frozen=True)
class VideoRecord:
    """One finished video as the loaders need it (from its meta.json)."""

    video_id: str
    label: int
    flows: int
    width: int
    height: int
    bound: float
    backward: bool
    rgb: bool

    @property
    def frames(self) -> int:
        """Frames of the video: one more than its forward flows."""
        return self.flows + 1


class VideoRecords(Sequence[VideoRecord]):
    """Records kept as columns (numpy arrays, the ids as one UTF-8 buffer): a DataLoader worker
    or DDP rank that gets a dataset of 200,000 videos copies a few MB, not a Python object per
    video. Indexing gives VideoRecord objects, made when asked for."""

    def __init__(self, records: Iterable[VideoRecord]) -> None:
        rows = list(records)
        ids = [r.video_id.encode() for r in rows]
        self._offsets = np.cumsum([0] + [len(i) for i in ids], dtype=np.int64)
        self._ids = np.frombuffer(b"".join(ids), dtype=np.uint8).copy()
        self._labels = np.array([r.label for r in rows], dtype=np.int32)
        self._numbers = np.array([(r.flows, r.width, r.height) for r in rows], np.int32).reshape(
            -1, 3
        )
        self._bounds = np.array([r.bound for r in rows], dtype=np.float64)
        self._flags = np.array([(r.backward, r.rgb) for r in rows], dtype=bool).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> VideoRecord:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        i = index % len(self)
        flows, width, height = (int(v) for v in self._numbers[i])
        backward, rgb = (bool(v) for v in self._flags[i])
        return VideoRecord(
            self.video_id(i),
            int(self._labels[i]),
            flows,
            width,
            height,
            float(self._bounds[i]),
            backward,
            rgb,
        )

    def video_id(self, i: int) -> str:
        """The id of record i, without making the record."""
        return self._ids[self._offsets[i] : self._offsets[i + 1]].tobytes().decode()

    @property
    def labels(self) -> np.ndarray:
        """The records' labels (int32)."""
        return self._labels

    @property
    def flows(self) -> np.ndarray:
        """The records' forward flow counts (int32)."""
        return self._numbers[:, 0]


def record_from_meta(video_id: str, label: int, meta: dict) -> VideoRecord:
    """A VideoRecord from a video's meta.json."""
    settings = meta["settings"]
    width, height = meta["size"]
    return VideoRecord(
        video_id,
        label,
        int(meta["flows"]),
        int(width),
        int(height),
        float(settings["bound"]),
        bool(settings["backward"]),
        bool(settings["rgb"]),
    )


def dataset_split(store: Store, done: dict[str, dict]) -> Split:
    """The dataset's own labels: videos.txt's label column, else the labels in meta.json
    (from the extraction's list file), else class-per-folder."""
    rows = {vid: label for vid, _, label in store.read_video_list() if vid in done}
    if len(rows) < len(done) or None in rows.values():
        rows = {vid: meta.get("label") for vid, meta in done.items()}
    if None in rows.values():
        return folder_split(done)
    labelled = sorted(rows.items())
    return Split(labelled, _names_from_folders(labelled))


def _names_from_folders(entries: list[tuple[str, int]]) -> list[str] | None:
    """Class names when every label's videos share one first folder (else None)."""
    folders: dict[int, set[str]] = {}
    for vid, label in entries:
        folders.setdefault(label, set()).add(vid.split("/", 1)[0] if "/" in vid else "")
    if not folders or any(len(f) != 1 or "" in f for f in folders.values()):
        return None
    top = max(folders)
    if sorted(folders) != list(range(top + 1)):
        return None
    return [next(iter(folders[i])) for i in range(top + 1)]


def _match_ids(split: Split, done: dict[str, dict]) -> dict[str, str]:
    """Split id -> dataset id: exact, else by file name when that name is unique in the set."""
    by_base: dict[str, list[str]] = {}
    for vid in done:
        by_base.setdefault(posixpath.basename(vid), []).append(vid)
    out = {}
    for vid, _ in split.entries:
        if vid in done:
            out[vid] = vid
        elif len(by_base.get(posixpath.basename(vid), [])) == 1:
            out[vid] = by_base[posixpath.basename(vid)][0]
    return out


def match_split(split: Split, done: dict[str, dict]) -> tuple[list[tuple[str, int]], list[str]]:
    """The split's videos found in the dataset, as (dataset id, label) in split order, and the
    split ids it does not hold (never extracted, or failed)."""
    matched = _match_ids(split, done)
    found = [(matched[vid], label) for vid, label in split.entries if vid in matched]
    return found, [vid for vid, _ in split.entries if vid not in matched]


def load_records(
    root: str | Store,
    split: str | Path | Split | None = None,
    fold: int = 1,
    subset: str = "train",
    missing: str = "error",
) -> tuple[VideoRecords, list[str]]:
    """The split's videos as records, and the class names ("class_<i>" where unnamed).

    `root` is a dataset's path or URL, or an opened store (see flowpipe.storage.open_store:
    flow another tool wrote). `split` None uses the dataset's labels. A split video that was
    never extracted is an error naming it, or skipped with a warning with missing="skip".
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    store = as_store(root)
    where = store.url
    done = store.finished()
    if not done:
        raise ValueError(f"{where}: no finished video (not a flowpipe dataset, or empty)")
    if split is None:
        split = dataset_split(store, done)
    elif not isinstance(split, Split):
        split = read_split(split, fold, subset)
    found, absent = match_split(split, done)
    if absent and missing == "error":
        raise ValueError(
            f"{len(absent)} video(s) of the split are not in {where}, e.g. {absent[0]!r} "
            "(never extracted, or failed: see failures.jsonl; missing='skip' skips them)"
        )
    if absent:
        warnings.warn(f"skipping {len(absent)} split videos not in {where}", stacklevel=2)
    records = VideoRecords(record_from_meta(vid, label, done[vid]) for vid, label in found)
    if not len(records):
        raise ValueError(f"{where}: the split selects no video")
    count = max(int(records.labels.max()) + 1, len(split.class_names or []))
    names = split.class_names or [f"class_{i}" for i in range(count)]
    return records, names
