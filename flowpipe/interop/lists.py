"""`flowpipe lists`: the train and test (val) list files of a dataset's finished videos, in the
formats training frameworks read.

- mmaction2: `<frame_dir> <total_frames> <label>`, frame_dir relative to the dataset
  (mmaction2's `data_prefix`); flow lists, and RGB lists when `img_` files exist.
- tsn: `<frame_dir> <num_frames> <label>`, frame_dir the dataset's folder joined with the
  id; flow and RGB lists.
- flowpipe: `<video_id> <num_flows> <label>` (videos.txt's columns); flow lists.

Labels are 0-based (UCF-101's 1-based classInd.txt minus one), read by the same split readers
`flowpipe train` uses (flowpipe.data.splits). Flow lists count flows (`flow_x_00001.jpg` ..
`flow_x_<n>.jpg`), RGB lists frames (`img_00001.jpg` .. `img_<n+1>.jpg`). Files are named
`<format>_<flow|rgb>_<train|val>_split_<fold>.txt` (`..._all.txt` for a split without
subsets), and `classes.txt` (one class name a line, line i = label i) is written beside them
when the split names its classes. A split video that the dataset lacks (never extracted, or
failed) is left out and reported; `strict` makes that an error before anything is written.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from flowpipe.checks import choice
from flowpipe.data.records import Store, dataset_split, match_split
from flowpipe.data.splits import SUBSETS, Split, has_subsets, read_split, split_folds
from flowpipe.storage import DatasetStore

FORMATS = ("mmaction2", "tsn", "flowpipe")
FRAMEWORK_FORMATS = ("mmaction2", "tsn")
SUBSET_NAMES = {"train": "train", "test": "val"}
CLASSES_NAME = "classes.txt"


@dataclass(frozen=True)
class ListRequest:
    """Which lists to write: the split (None: the dataset's own labels), its folds (empty:
    every fold the split has), the format, the output folder, and whether a split video
    missing from the dataset is an error."""

    out: str | Path
    split: str | Path | None = None
    folds: tuple[int, ...] = ()
    fmt: str = "mmaction2"
    strict: bool = False

    def __post_init__(self) -> None:
        choice("format", self.fmt, FORMATS)


@dataclass
class ListsWritten:
    """What `write_lists` wrote: (path, number of videos) per file, the split ids it left out
    (not in the dataset) and which of those failed at extraction."""

    files: list[tuple[Path, int]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def report(self) -> str | None:
        """One line about the videos left out, None when there are none."""
        if not self.left_out:
            return None
        shown = ", ".join(self.left_out[:3]) + (", ..." if len(self.left_out) > 3 else "")
        never = len(self.left_out) - len(self.failed)
        return (
            f"left out {len(self.left_out)} split video(s) not in the dataset "
            f"({len(self.failed)} failed, {never} never extracted): {shown}"
        )


@dataclass(frozen=True)
class _SubsetList:
    """One subset of one fold: its file stem and the (dataset id, label) of its videos."""

    stem: str
    videos: list[tuple[str, int]]


def write_lists(store: Store, request: ListRequest) -> ListsWritten:
    """Write the list files of `request` for the finished videos of `store`.

    Args:
        store: the dataset (flowpipe.storage.open_store).
        request: what to write, and where.

    Returns:
        The files written and the split videos left out.
    """
    done = store.finished()
    if not done:
        raise ValueError(f"{store.url}: no finished video")
    written = ListsWritten()
    subsets, names = _subset_lists(store, request, _Matcher(done, _failed_ids(store), written))
    if written.left_out and request.strict:
        raise ValueError(written.report())
    videos = sorted({vid for s in subsets for vid, _ in s.videos})
    if request.fmt in FRAMEWORK_FORMATS:
        _check_framework_ids(store, videos)
    out = Path(request.out)
    out.mkdir(parents=True, exist_ok=True)
    rgb = request.fmt in FRAMEWORK_FORMATS and all(done[v]["settings"]["rgb"] for v in videos)
    for subset in subsets:
        for modality in ("flow", "rgb") if rgb else ("flow",):
            path = out / f"{request.fmt}_{modality}_{subset.stem}.txt"
            lines = [
                _line(store, request.fmt, vid, _count(done[vid], modality), label)
                for vid, label in subset.videos
            ]
            path.write_text("".join(lines))
            written.files.append((path, len(lines)))
    if names:
        (out / CLASSES_NAME).write_text("".join(f"{name}\n" for name in names))
        written.files.append((out / CLASSES_NAME, len(names)))
    return written


@dataclass(frozen=True)
class _Matcher:
    """Matches splits to the dataset's finished videos, recording the ids left out."""

    done: dict[str, dict]
    failed: set[str]
    written: ListsWritten

    def subset(self, stem: str, split: Split) -> _SubsetList:
        """One list's videos found in the dataset; the ids it lacks recorded."""
        found, absent = match_split(split, self.done)
        left_out = self.written.left_out
        for vid in absent:
            if vid not in left_out:
                left_out.append(vid)
                if vid in self.failed or posixpath.basename(vid) in self.failed:
                    self.written.failed.append(vid)
        return _SubsetList(stem, found)


def _subset_lists(
    store: Store, request: ListRequest, matcher: _Matcher
) -> tuple[list[_SubsetList], list[str] | None]:
    """Every fold and subset asked for, matched to the dataset, and the class names."""
    spec = request.split
    if spec is None or not has_subsets(spec):
        split = dataset_split(store, matcher.done) if spec is None else read_split(spec)
        return [matcher.subset("all", split)], split.class_names
    out, names = [], None
    for fold in request.folds or split_folds(spec):
        for subset in SUBSETS:
            split = read_split(spec, fold, subset)
            names = names or split.class_names
            out.append(matcher.subset(f"{SUBSET_NAMES[subset]}_split_{fold}", split))
    return out, names


def _failed_ids(store: Store) -> set[str]:
    """Ids (and file names) of the videos failures.jsonl records."""
    ids = {str(r.get("video_id")) for r in store.read_failures() if r.get("video_id")}
    return ids | {posixpath.basename(v) for v in ids}


def _check_framework_ids(store: Store, videos: list[str]) -> None:
    """ValueError for what mmaction2 and TSN cannot read: ids with whitespace (their list
    lines are split on it) and zip-packed videos (they read folders)."""
    spaced = [v for v in videos if len(v.split()) != 1]
    if spaced:
        raise ValueError(
            f"video id {spaced[0]!r} holds whitespace, which mmaction2 and TSN list lines are "
            "split on (rename it, or use --format flowpipe)"
        )
    if isinstance(store, DatasetStore):
        zipped = [v for v in videos if not store.files.exists(v)]
        if zipped:
            raise ValueError(
                f"{len(zipped)} video(s) are packed as zip, e.g. {zipped[0]!r}: mmaction2 and "
                "TSN read folders (extract with --pack folder, or use --format flowpipe)"
            )


def _count(meta: dict, modality: str) -> int:
    """Flows for a flow list, frames for an RGB list."""
    return int(meta["flows"] if modality == "flow" else meta["frames"])


def _line(store: Store, fmt: str, video_id: str, count: int, label: int) -> str:
    """One list line: frame_dir (the id; tsn: the dataset's folder joined with it), the
    count and the 0-based label."""
    frame_dir = posixpath.join(store.root, video_id) if fmt == "tsn" else video_id
    return f"{frame_dir} {count} {label}\n"
