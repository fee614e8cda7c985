"""Which videos a split holds and their labels: UCF-101, HMDB-51, mmaction2 lists, class folders.

Every reader returns a `Split`: (video id, 0-based label) entries and the class names when
the files name them. Ids follow the extraction's convention (path relative to the video root,
extension dropped), so "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi" becomes
"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01".

- UCF-101: a folder with ``classInd.txt`` ("1 ApplyEyeMakeup", 1-based) and
  ``trainlist0N.txt`` ("Class/v_x.avi 1", 1-based) / ``testlist0N.txt`` ("Class/v_x.avi",
  label from the class folder); or one of those list files directly.
- HMDB-51: a folder of ``<class>_test_splitN.txt`` files ("clip.avi 1": 1 train, 2 test,
  0 unused); classes in sorted order; ids "<class>/<clip>".
- mmaction2 lists: "<id> <num_frames> <label>" (rawframes) or "<path> <label>" (videos),
  0-based labels.
- Kinetics-style CSV: "label,youtube_id,time_start,time_end,split" with a header; ids
  "<youtube_id>_<start:06d>_<end:06d>" (the downloaders' file names); classes are the
  file's labels in sorted order; subset "train" is split "train", "test" is "val",
  "validate" or "test".
- Class-per-folder: the first component of each id names its class (classes sorted); a
  folder of class folders of videos is such a split (all its videos, no subsets).

`split_folds(spec)` says which folds a split has; `has_subsets(spec)` whether it tells
train from test.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SUBSETS = ("train", "test")
VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v", ".flv"}
_UCF_LIST_RE = re.compile(r"^(train|test)list0?(\d+)\.txt$")
_HMDB_RE = re.compile(r"^(.+)_test_split(\d+)\.txt$")
_HMDB_CODES = {"train": "1", "test": "2"}
KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")
KINETICS_SUBSETS = {"train": ("train",), "test": ("val", "validate", "test")}


@dataclass(frozen=True)
class Split:
    """Videos of a split in file order, each with its 0-based label; class names if known."""

    entries: list[tuple[str, int]]
    class_names: list[str] | None = None


def strip_video_suffix(name: str) -> str:
    """A list's video path as a dataset id: '/'-separated, video extension dropped."""
    path = PurePosixPath(name.replace("\\", "/"))
    return str(path.with_suffix("")) if path.suffix.lower() in VIDEO_SUFFIXES else str(path)


def read_split(spec: str | Path, fold: int = 1, subset: str = "train") -> Split:
    """The split named by `spec`: a UCF-101 or HMDB-51 split folder or file, or a list file."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    path = Path(spec)
    if path.is_dir():
        if (path / "classInd.txt").is_file():
            return read_ucf101(path, fold, subset)
        if any(_HMDB_RE.match(p.name) for p in path.iterdir()):
            return read_hmdb51(path, fold, subset)
        return read_class_folders(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    if path.suffix.lower() == ".csv":
        return read_kinetics_csv(path, subset)
    match = _UCF_LIST_RE.match(path.name)
    if match and (path.parent / "classInd.txt").is_file():
        return read_ucf101(path.parent, int(match.group(2)), match.group(1))
    if _HMDB_RE.match(path.name):
        raise ValueError(f"{path}: an HMDB-51 split is the folder of *_test_splitN.txt files")
    return read_list_file(path)


def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the non-empty lines of a text file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    return [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]


def _int(text: str, path: Path, number: int) -> int:
    """An integer field of a split file, or a ValueError naming the line."""
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{path}:{number}: expected an integer, got {text!r}") from None


def read_class_index(path: Path) -> list[str]:
    """UCF-101's classInd.txt ("<1-based index> <name>") as names in index order."""
    names: dict[int, str] = {}
    for number, line in _lines(path):
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected '<index> <class name>', got {line!r}")
        names[_int(parts[0], path, number)] = parts[1].strip()
    if sorted(names) != list(range(1, len(names) + 1)):
        raise ValueError(f"{path}: class indices must run 1..{len(names)}")
    return [names[i] for i in range(1, len(names) + 1)]


def read_ucf101(folder: Path, fold: int = 1, subset: str = "train") -> Split:
    """UCF-101's official split `fold` (1-3): trainlist0N.txt / testlist0N.txt + classInd.txt."""
    classes = read_class_index(folder / "classInd.txt")
    by_name = {name: i for i, name in enumerate(classes)}
    list_path = folder / f"{subset}list{fold:02d}.txt"
    if not list_path.is_file():
        raise FileNotFoundError(f"UCF-101 split file not found: {list_path}")
    entries = []
    for number, line in _lines(list_path):
        parts = line.split()
        video_id = strip_video_suffix(parts[0])
        if len(parts) > 1:
            label = _int(parts[1], list_path, number) - 1
        else:
            label = by_name.get(video_id.split("/", 1)[0], -1)
        if not 0 <= label < len(classes):
            raise ValueError(f"{list_path}:{number}: no class of classInd.txt for {line!r}")
        entries.append((video_id, label))
    return Split(entries, classes)


def read_hmdb51(folder: Path, fold: int = 1, subset: str = "train") -> Split:
    """HMDB-51's split `fold`: every <class>_test_split<fold>.txt, code 1 train / 2 test."""
    files = sorted(
        (m.group(1), p)
        for p in folder.iterdir()
        if (m := _HMDB_RE.match(p.name))
        if int(m.group(2)) == fold
    )
    if not files:
        raise FileNotFoundError(f"{folder}: no HMDB-51 files *_test_split{fold}.txt")
    classes = [name for name, _ in files]
    entries = []
    for label, (name, path) in enumerate(files):
        for number, line in _lines(path):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ValueError(f"{path}:{number}: expected '<clip> 0|1|2', got {line!r}")
            if parts[1] == _HMDB_CODES[subset]:
                entries.append((f"{name}/{strip_video_suffix(parts[0])}", label))
    return Split(entries, classes)


def read_list_file(path: Path) -> Split:
    """An mmaction2 list: "<id> <num_frames> <label>" or "<path> <label>" lines (0-based)."""
    entries = []
    for number, line in _lines(path):
        parts = line.rsplit(None, 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].lstrip("-").isdigit():
            name, label_text = parts[0], parts[2]
        else:
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                raise ValueError(f"{path}:{number}: expected '<video> [<frames>] <label>'")
            name, label_text = parts
        label = _int(label_text, path, number)
        if label < 0:
            raise ValueError(f"{path}:{number}: negative label in {line!r}")
        entries.append((strip_video_suffix(name), label))
    return Split(entries, _class_names_beside(path))


def _class_names_beside(path: Path) -> list[str] | None:
    """Class names from a classInd.txt (1-based, UCF-101) or classes.txt (a name a line, line
    i = label i, as `flowpipe lists` writes) beside a list file; None when neither is there."""
    index, names = path.parent / "classInd.txt", path.parent / "classes.txt"
    if index.is_file():
        return read_class_index(index)
    if names.is_file():
        return [line for _, line in _lines(names)]
    return None


def folder_split(video_ids: Iterable[str]) -> Split:
    """Class-per-folder: each id's first path component is its class (classes sorted)."""
    ids = sorted(video_ids)
    flat = [v for v in ids if "/" not in v]
    if flat:
        raise ValueError(f"no labels: video {flat[0]!r} is not in a class folder")
    classes = sorted({v.split("/", 1)[0] for v in ids})
    by_name = {c: i for i, c in enumerate(classes)}
    return Split([(v, by_name[v.split("/", 1)[0]]) for v in ids], classes)


def read_kinetics_csv(path: Path, subset: str = "train") -> Split:
    """A Kinetics-style CSV (label,youtube_id,time_start,time_end,split): the rows of the
    subset, ids "<youtube_id>_<start:06d>_<end:06d>", classes the file's labels sorted."""
    rows = _csv_rows(path)
    classes = sorted({row["label"] for _, row in rows})
    wanted = KINETICS_SUBSETS[subset]
    entries = []
    for number, row in rows:
        if row.get("split", "train").strip() not in wanted:
            continue
        start, end = (_seconds(row[c], path, number) for c in ("time_start", "time_end"))
        entries.append((f"{row['youtube_id']}_{start:06d}_{end:06d}", classes.index(row["label"])))
    return Split(entries, classes)


def _csv_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of a Kinetics CSV; ValueError naming the file when a column lacks."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in KINETICS_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(
                    f"{path}: not a Kinetics-style CSV (no column {missing[0]!r}; expected "
                    "label,youtube_id,time_start,time_end,split)"
                )
            return [(n, row) for n, row in enumerate(reader, 2)]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None


def _seconds(text: str, path: Path, number: int) -> int:
    """A time column (seconds, maybe "10.0") as an integer, or a ValueError naming the line."""
    try:
        return int(float(text))
    except ValueError:
        raise ValueError(f"{path}:{number}: expected a time in seconds, got {text!r}") from None


def read_class_folders(folder: Path) -> Split:
    """A folder of class folders of videos: every video (ids relative to the folder, the
    extension dropped), labelled by its class folder (classes sorted)."""
    ids = [
        strip_video_suffix(p.relative_to(folder).as_posix())
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
    ]
    if not ids:
        raise ValueError(
            f"{folder}: not a split folder (no classInd.txt, no *_test_splitN.txt, "
            "no class folders of videos)"
        )
    return folder_split(ids)


def has_subsets(spec: str | Path) -> bool:
    """Whether the split tells train from test: a UCF-101 or HMDB-51 folder, a Kinetics CSV."""
    path = Path(spec)
    if path.is_dir():
        return (path / "classInd.txt").is_file() or any(
            _HMDB_RE.match(p.name) for p in path.iterdir()
        )
    return path.suffix.lower() == ".csv"


def split_folds(spec: str | Path) -> list[int]:
    """The folds a split has: those of the testlist0N.txt files of a UCF-101 folder or the
    *_test_splitN.txt files of an HMDB-51 folder; [1] for any other split."""
    path = Path(spec)
    if not has_subsets(path) or not path.is_dir():
        return [1]
    if (path / "classInd.txt").is_file():
        found = (_UCF_LIST_RE.match(p.name) for p in path.iterdir())
        folds = {int(m.group(2)) for m in found if m and m.group(1) == "test"}
    else:
        folds = {int(m.group(2)) for p in path.iterdir() if (m := _HMDB_RE.match(p.name))}
    return sorted(folds) or [1]
