"""Turning `flowpipe extract` inputs (files, folders, a list file; local paths or fsspec URLs)
into tasks with video ids and labels, checked before anything runs."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flowpipe.extraction.sources import (
    find_remote_videos,
    is_url,
    local_path,
    redact,
    remote_exists,
)
from flowpipe.extraction.video import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    find_frame_folders,
    find_videos,
    video_id,
)
from flowpipe.storage.layout import check_video_id


@dataclass(frozen=True, slots=True)
class VideoTask:
    """One input: its path (absolute, or a URL), its dataset id, and its label when the input
    list gave one (`class_name` too when the list named the class)."""

    path: str
    video_id: str
    label: int | None = None
    class_name: str | None = None
    identity: dict | None = None  # the source's size and time, when known from a listing


def collect_tasks(
    inputs: list[str],
    list_file: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    frames: bool = False,
) -> list[VideoTask]:
    """One task per video, paths made absolute (they mean the same on every worker).

    Folders are searched recursively (ids relative to the folder), files stand for themselves
    (id = stem), and a list file holds "<path> [<label>]" lines relative to its own folder
    (`#` starts a comment; a label is a class index or a class name, names numbered in sorted
    order). ValueError, before anything runs, for a missing input, a folder without videos, a
    bad id or label, or two inputs with the same video id.

    With `frames`, a video is a folder of frame images instead of a file: each input folder
    is searched for the folders that hold images (ids relative to it; the folder's name when
    it holds images itself), and list lines name frame folders."""
    options = dict(storage_options or {})
    tasks: list[VideoTask] = []
    for item in inputs:
        tasks += _frame_folder_tasks(item) if frames else _input_tasks(item, options)
    if list_file is not None:
        tasks += read_list_file(list_file, options, frames)
    for task in tasks:
        check_video_id(task.video_id)
    _refuse_duplicates(tasks)
    return tasks


def _frame_folder_tasks(item: str) -> list[VideoTask]:
    """The tasks of a folder of frame folders (or of one frame folder)."""
    if is_url(item):
        raise ValueError(f"{redact(item)}: frame folders are read from local paths only")
    root = Path(local_path(item))
    if not root.is_dir():
        raise ValueError(f"{item}: no such folder (--frames takes folders of frame images)")
    folders = find_frame_folders(root)
    if not folders:
        raise ValueError(f"no frames found in {item}; looked for {' '.join(IMAGE_EXTENSIONS)}")
    return [
        VideoTask(str(f), f.relative_to(root).as_posix() if f != root else f.name) for f in folders
    ]


def _input_tasks(item: str, options: dict[str, Any]) -> list[VideoTask]:
    """The tasks of one input: a video file or a folder of videos."""
    if is_url(item):
        found = find_remote_videos(item, options)
        if found:
            return [
                VideoTask(url, posixpath.splitext(rel)[0], identity=known)
                for url, rel, known in found
            ]
        if not remote_exists(item, options):
            raise ValueError(f"{redact(item)}: no such file or folder")
        return [VideoTask(item, posixpath.splitext(posixpath.basename(item))[0])]
    path = Path(local_path(item))
    if path.is_dir():
        videos = find_videos(path)
        if not videos:
            raise ValueError(f"no videos found in {item}; looked for {' '.join(VIDEO_EXTENSIONS)}")
        return [VideoTask(str(p), video_id(p, path)) for p in videos]
    if not path.exists():
        raise ValueError(f"{item}: no such file or folder")
    return [VideoTask(str(path), video_id(path, None))]


def read_list_file(
    list_file: str, storage_options: Mapping[str, Any] | None = None, frames: bool = False
) -> list[VideoTask]:
    """Tasks from a list of "<path> [<label>]" lines (mmaction2 video lists), paths relative to
    the list's folder unless absolute or URLs; `#` starts a comment. With `frames` the paths
    are frame folders (their ids keep any dot in their names)."""
    path = Path(list_file)
    if not path.is_file():
        raise ValueError(f"{list_file}: no such list file")
    root = path.resolve().parent
    entries = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = _without_comment(raw)
        if line:
            entries.append((number, *_split_label(line, root if frames else None)))
    tasks = [VideoTask(*_list_entry(name, str(root), frames)) for _, name, _ in entries]
    for number, name, label in entries:
        if label is not None and label.lstrip("-").isdigit() and int(label) < 0:
            raise ValueError(f"{list_file}:{number}: negative label in {name} {label}")
    return _labelled(tasks, [label for _, _, label in entries], list_file)


def _without_comment(line: str) -> str:
    """A list line without its comment: from a '#' that starts the line or follows a space."""
    line = line.strip()
    if line.startswith("#"):
        return ""
    return line.split(" #", 1)[0].strip()


def _list_entry(name: str, root: str, frames: bool = False) -> tuple[str, str]:
    """(path, video id) of a list entry: the path relative to the list's folder and its id that
    path without extension (its stem when the path leads outside the folder), in string
    operations: a Kinetics list has 650,000 lines."""
    if is_url(name):
        return name, posixpath.splitext(posixpath.basename(name))[0]
    path = os.path.normpath(os.path.join(root, name))
    rel = path[len(root) + 1 :] if path.startswith(root + os.sep) else None
    if frames:
        return path, rel.replace(os.sep, "/") if rel else Path(path).name
    stem = posixpath.splitext(rel.replace(os.sep, "/"))[0] if rel else Path(path).stem
    return path, stem


def _split_label(line: str, frames_root: Path | None = None) -> tuple[str, str | None]:
    """(path, label) of a list line: the last word is a label when it is a number, or when the
    words before it end in a video extension and it does not (a frame folder: when the words
    before it name a folder under frames_root); a path with spaces keeps them."""
    head, _, tail = line.rpartition(" ")
    head = head.strip()
    if not head:
        return line, None
    if frames_root is not None:
        names_folder = (frames_root / head).is_dir() and not (frames_root / line).is_dir()
        return (head, tail) if tail.lstrip("-").isdigit() or names_folder else (line, None)
    tail_is_video = Path(tail).suffix.lower() in VIDEO_EXTENSIONS
    if tail.lstrip("-").isdigit() or (_has_video_suffix(head) and not tail_is_video):
        return head, tail
    return line, None


def _has_video_suffix(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def _labelled(tasks: list[VideoTask], labels: list[str | None], source: str) -> list[VideoTask]:
    """The tasks with their labels: indices as given, or class names numbered in sorted
    order; ValueError when a list mixes the two or labels some lines only."""
    given = [lab for lab in labels if lab is not None]
    if not given:
        return tasks
    if len(given) != len(labels):
        first = next(t.video_id for t, lab in zip(tasks, labels, strict=True) if lab is None)
        raise ValueError(f"{source}: some lines have a label and some do not (e.g. {first!r})")
    numeric = [lab.lstrip("-").isdigit() for lab in given]
    if all(numeric):
        return [replace(t, label=int(lab)) for t, lab in zip(tasks, given, strict=True)]
    if any(numeric):
        raise ValueError(f"{source}: labels mix class indices and class names")
    classes = {name: index for index, name in enumerate(sorted(set(given)))}
    return [
        replace(t, label=classes[lab], class_name=lab) for t, lab in zip(tasks, given, strict=True)
    ]


def _refuse_duplicates(tasks: list[VideoTask]) -> None:
    seen: dict[str, str] = {}
    for task in tasks:
        if task.video_id in seen:
            raise ValueError(
                f"two inputs map to video id {task.video_id!r}: {redact(seen[task.video_id])} "
                f"and {redact(task.path)}; give them different names or folders"
            )
        seen[task.video_id] = task.path
