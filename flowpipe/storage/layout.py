"""The naming rules of the on-disk format v1: which files a dataset and a video hold, and where.

OUT/flowpipe.json            manifest (with "format_version")
OUT/videos.txt               "<video_id> <num_flows> [<label>]", one finished video a line
OUT/failures.jsonl           one JSON object a line per failed input
OUT/.flowpipe/               bookkeeping (leases, index shards); never a video folder
OUT/<video_id>/flow_x_00001.jpg ... meta.json        pack="folder"
OUT/<video_id>.zip + OUT/<video_id>.meta.json         pack="zip" (members ZIP_STORED)
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from flowpipe.checks import integer

FORMAT_VERSION = 1
PACKS = ("folder", "zip")
META_NAME = "meta.json"
MANIFEST_NAME = "flowpipe.json"
VIDEO_LIST_NAME = "videos.txt"
FAILURES_NAME = "failures.jsonl"
BOOKKEEPING_DIR = ".flowpipe"  # DESIGN: indexes, leases and caches live here, nowhere else
DATASET_FILES = (MANIFEST_NAME, VIDEO_LIST_NAME, FAILURES_NAME)
ZIP_SUFFIX = ".zip"
SIDECAR_SUFFIX = ".meta.json"
TEMPORARY_MARK = ".tmp-"
TEMPORARY_DIR = f"{BOOKKEEPING_DIR}/tmp"  # files on their way to their final names
MEMBER_PATTERN = re.compile(r"^(?:b?flow_[xy]|img)_\d{5,}\.jpg$")


def flow_names(k: int) -> tuple[str, str]:
    """Names of forward flow k (frame k -> k+1, 1-based): (x file, y file)."""
    k = _frame_index(k)
    return f"flow_x_{k:05d}.jpg", f"flow_y_{k:05d}.jpg"


def backward_names(k: int) -> tuple[str, str]:
    """Names of backward flow k (frame k+1 -> k, 1-based): (x file, y file)."""
    k = _frame_index(k)
    return f"bflow_x_{k:05d}.jpg", f"bflow_y_{k:05d}.jpg"


def image_name(k: int) -> str:
    """Name of RGB frame k (1-based)."""
    return f"img_{_frame_index(k):05d}.jpg"


def _frame_index(k: int) -> int:
    return integer("frame index (1-based)", k, minimum=1)


def member_names(flows: int, backward: bool, rgb: bool) -> list[str]:
    """Every member a finished video of `flows` forward flows holds, meta.json excepted."""
    names = []
    for k in range(1, flows + 1):
        names += flow_names(k)
        if backward:
            names += backward_names(k)
    if rgb:
        names += [image_name(k) for k in range(1, flows + 2)]
    return names


def check_video_id(video_id: str) -> str:
    """Return video_id; ValueError unless it is a relative '/'-separated path inside OUT, without
    surrounding spaces, that names no dataset file or bookkeeping folder."""
    if not isinstance(video_id, str) or not video_id:
        raise ValueError(f"video id must be a non-empty string, got {video_id!r}")
    if "\\" in video_id or any(ord(c) < 32 for c in video_id):
        raise ValueError(f"video id must use '/' separators, no control characters: {video_id!r}")
    parts = video_id.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(
            f"video id must be a relative path without '.', '..' or '//': {video_id!r}"
        )
    if any(p != p.strip() for p in parts):
        raise ValueError(f"video id with leading or trailing spaces: {video_id!r}")
    if parts[0] == BOOKKEEPING_DIR or video_id in DATASET_FILES:
        raise ValueError(f"video id {video_id!r} is reserved for the dataset's own files")
    return video_id


def check_member_name(name: str) -> str:
    """Return name; ValueError unless it is a plain file name other than meta.json."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ValueError(f"member name must be a plain file name, got {name!r}")
    if name in (".", "..") or name == META_NAME or TEMPORARY_MARK in name:
        raise ValueError(f"member name {name!r} is reserved")
    return name


@dataclass(frozen=True)
class VideoPaths:
    """Where one video's files are, relative to OUT, in both layouts."""

    video_id: str

    def __post_init__(self) -> None:
        check_video_id(self.video_id)

    @property
    def folder(self) -> str:
        """The video's folder (folder layout)."""
        return self.video_id

    def member(self, name: str) -> str:
        """A member file in the video's folder (folder layout)."""
        return posixpath.join(self.video_id, name)

    @property
    def meta(self) -> str:
        """meta.json in the video's folder: the done marker of the folder layout."""
        return self.member(META_NAME)

    @property
    def zip(self) -> str:
        """The video's zip (zip layout)."""
        return self.video_id + ZIP_SUFFIX

    @property
    def sidecar(self) -> str:
        """The zip's .meta.json sidecar: the done marker of the zip layout."""
        return self.video_id + SIDECAR_SUFFIX


def done_marker_video(rel: str) -> tuple[str, str] | None:
    """(video id, layout) when the file at `rel` (relative to OUT) is a video's done marker."""
    base = posixpath.basename(rel)
    if rel.startswith(BOOKKEEPING_DIR + "/"):
        return None
    if base == META_NAME and "/" in rel:
        return posixpath.dirname(rel), "folder"
    if rel.endswith(SIDECAR_SUFFIX) and base != META_NAME:
        return rel[: -len(SIDECAR_SUFFIX)], "zip"
    return None
