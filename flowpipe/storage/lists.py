"""The dataset-level files: flowpipe.json (the manifest), videos.txt and failures.jsonl.

``videos.txt`` writes ids as they are, spaces included; mmaction2 splits lines on whitespace,
so a reader must split from the right (``rsplit``), as ``read_video_list`` does. A file is
either fully labelled or not labelled at all; ``read_video_list`` detects which (or is told).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flowpipe.checks import is_integer
from flowpipe.storage.files import Files
from flowpipe.storage.layout import (
    FAILURES_NAME,
    FORMAT_VERSION,
    MANIFEST_NAME,
    VIDEO_LIST_NAME,
    check_video_id,
)

VideoRow = tuple[str, int, int | None]


def dump_json(obj: Any) -> bytes:
    """Pretty, stable UTF-8 JSON."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def load_json_dict(data: bytes) -> dict | None:
    """Parse JSON bytes into a dict; None when they are not a JSON object."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def write_manifest(files: Files, manifest: dict) -> None:
    """Write flowpipe.json atomically, with "format_version" set to FORMAT_VERSION."""
    files.write_atomic(MANIFEST_NAME, dump_json({**manifest, "format_version": FORMAT_VERSION}))


def read_manifest(files: Files) -> dict | None:
    """flowpipe.json, or None when absent; ValueError when corrupt or from a newer format."""
    data = files.read_or_none(MANIFEST_NAME)
    if data is None:
        return None
    manifest = load_json_dict(data)
    if manifest is None:
        raise ValueError(f"{files.url}/{MANIFEST_NAME}: not a JSON object (corrupt manifest)")
    version = manifest.get("format_version")
    if not is_integer(version) or version > FORMAT_VERSION:
        raise ValueError(
            f"{files.url}/{MANIFEST_NAME}: unsupported format_version {version!r} "
            f"(this flowpipe reads up to {FORMAT_VERSION})"
        )
    return manifest


def video_list_text(rows: list[VideoRow]) -> str:
    """videos.txt's text ("<video_id> <num_flows> [<label>]", sorted by id). Rows must all have
    a label or all have none (ValueError)."""
    rows3 = [(*r, None)[:3] for r in rows]
    if len({label is None for _, _, label in rows3}) > 1:
        raise ValueError("videos.txt rows must all have a label or all have none")
    lines = []
    for video_id, num_flows, label in sorted(rows3, key=lambda r: r[0]):
        check_video_id(video_id)
        for what, n in (("num_flows", num_flows), ("label", label)):
            if (n is not None or what == "num_flows") and not _is_count(n):
                raise ValueError(f"{video_id}: {what} must be an int >= 0, got {n!r}")
        tail = "" if label is None else f" {label}"
        lines.append(f"{video_id} {num_flows}{tail}\n")
    return "".join(lines)


def write_video_list(files: Files, rows: list[VideoRow]) -> None:
    """Rewrite videos.txt atomically (see video_list_text)."""
    files.write_atomic(VIDEO_LIST_NAME, video_list_text(rows).encode())


def read_video_list(files: Files, labelled: bool | None = None) -> list[VideoRow]:
    """videos.txt rows, split from the right (ids may hold spaces); [] when absent.

    labelled=None detects the label column: present when every line ends in two integers
    after an id (an unlabelled list whose ids all end in " <digits>" needs labelled=False).
    """
    data = files.read_or_none(VIDEO_LIST_NAME)
    if data is None:
        return []
    lines = [ln for ln in data.decode("utf-8").splitlines() if ln.strip()]
    split3 = [ln.rsplit(None, 2) for ln in lines]
    if labelled is None:
        labelled = bool(lines) and all(
            len(p) == 3 and _is_int(p[1]) and _is_int(p[2]) for p in split3
        )
    return [_video_row(files, ln, labelled) for ln in lines]


def _video_row(files: Files, line: str, labelled: bool) -> VideoRow:
    """One videos.txt line as a row; ValueError naming the file when it is malformed."""
    parts = line.rsplit(None, 2 if labelled else 1)
    numbers = parts[1:]
    if len(parts) != (3 if labelled else 2) or not all(_is_int(n) for n in numbers):
        raise ValueError(f"{files.url}/{VIDEO_LIST_NAME}: bad line {line!r}")
    label = int(parts[2]) if labelled else None
    return parts[0].strip(), int(parts[1]), label


def append_failure(files: Files, record: dict) -> None:
    """Append one JSON line to failures.jsonl (path, error type, message) and flush."""
    line = (json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n").encode()
    files.makedirs("")
    if files.local:
        with open(files.path(FAILURES_NAME), "ab") as f:
            f.write(line)
        return
    try:
        with files.fs.open(files.path(FAILURES_NAME), "ab") as f:
            f.write(line)
    except (NotImplementedError, ValueError):  # object stores: no append, rewrite
        old = files.read_or_none(FAILURES_NAME) or b""
        files.write_atomic(FAILURES_NAME, old + line)


def read_failures(files: Files) -> list[dict]:
    """Records of failures.jsonl ([] when absent; a torn or corrupt line is skipped)."""
    data = files.read_or_none(FAILURES_NAME)
    if not data:
        return []
    records = (load_json_dict(raw) if raw.strip() else None for raw in data.splitlines())
    return [r for r in records if r is not None]


def clear_failures(files: Files, keep: Callable[[dict], bool]) -> None:
    """Rewrite failures.jsonl atomically, keeping only the records where keep(record)."""
    if files.read_or_none(FAILURES_NAME) is None:
        return
    kept = [r for r in read_failures(files) if keep(r)]
    lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in kept)
    files.write_atomic(FAILURES_NAME, lines.encode())


def _is_count(n: object) -> bool:
    """Whether n is an int >= 0 (bool excluded)."""
    return is_integer(n) and n >= 0  # type: ignore[operator]


def _is_int(text: str) -> bool:
    """Whether text is a (signed) decimal integer."""
    return re.fullmatch(r"[+-]?\d+", text) is not None
