"""Turning `flowpipe extract` inputs (files, folders, a list file) into tasks with video ids."""

from __future__ import annotations

from pathlib import Path

from flowpipe.extraction.worker import VideoTask
from flowpipe.extraction.video import find_videos, video_id


def collect_tasks(inputs: list[str], list_file: str | None = None) -> list[VideoTask]:
    """One task per video: folders are searched recursively (ids relative to the folder), files
    stand for themselves (id = stem; a missing one fails at extraction, in failures.jsonl), and
    a list file holds "<path> [<label>]" lines relative to its own folder. ValueError when two
    inputs map to the same video id, before anything runs."""
    tasks: list[VideoTask] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            tasks += [VideoTask(str(p), video_id(p, path)) for p in find_videos(path)]
        else:
            tasks.append(VideoTask(str(path), video_id(path, None)))
    if list_file is not None:
        tasks += read_list_file(Path(list_file))
    _refuse_duplicates(tasks)
    return tasks


def read_list_file(list_file: Path) -> list[VideoTask]:
    """Tasks from a list of "<path> [<label>]" lines (mmaction2 video lists)."""
    if not list_file.is_file():
        raise ValueError(f"{list_file}: no such list file")
    root = list_file.parent
    tasks = []
    for number, line in enumerate(list_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        name, label = _split_label(line.strip())
        if label is not None and label < 0:
            raise ValueError(f"{list_file}:{number}: negative label in {line!r}")
        tasks.append(VideoTask(str(root / name), video_id(root / name, root), label))
    return tasks


def _split_label(line: str) -> tuple[str, int | None]:
    head, _, tail = line.rpartition(" ")
    if head and tail.lstrip("-").isdigit():
        return head.strip(), int(tail)
    return line, None


def _refuse_duplicates(tasks: list[VideoTask]) -> None:
    seen: dict[str, str] = {}
    for task in tasks:
        if task.video_id in seen:
            raise ValueError(
                f"two inputs map to video id {task.video_id!r}: {seen[task.video_id]} and "
                f"{task.path}; give them different names or folders"
            )
        seen[task.video_id] = task.path
