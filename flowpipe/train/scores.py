"""Video-level score files: what `flowpipe eval` writes and `flowpipe fuse` reads.

A score file is an ``.npz`` holding plain arrays only (strings as numpy unicode arrays, no
pickle), so it loads with ``allow_pickle=False`` anywhere:

``format``       0-d int, ``SCORES_FORMAT``
``video_ids``    [N] unicode, unique
``scores``       [N, C] float32: per video, the softmax probabilities of the network averaged
                 over its test views (e.g. 25 stacks x 10 crops for the two-stream nets), so
                 each row sums to 1; fused files hold the fusion's scores (see fusion.py)
``labels``       [N] int64, the true class index, -1 when unknown
``class_names``  [C] unicode, column order of ``scores``
``stream``       0-d unicode: "temporal", "spatial", "i3d", "fused", ...
``split``        0-d unicode: "train" or "test"
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowpipe.io import write_file_atomic

SCORES_FORMAT = 1
_KEYS = ("format", "video_ids", "scores", "labels", "class_names", "stream", "split")


@dataclass
class VideoScores:
    """Scores of one stream over one split: one row per video, one column per class."""

    video_ids: list[str]
    scores: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    stream: str
    split: str

    def __post_init__(self) -> None:
        self.video_ids = [str(v) for v in self.video_ids]
        self.class_names = [str(c) for c in self.class_names]
        self.scores = np.asarray(self.scores, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        _check(self)

    @property
    def num_classes(self) -> int:
        """C, the number of score columns."""
        return len(self.class_names)


def _check(vs: VideoScores) -> None:
    """Raise ValueError unless the fields have consistent shapes and values."""
    n, c = len(vs.video_ids), len(vs.class_names)
    if vs.scores.shape != (n, c):
        raise ValueError(
            f"scores must have shape [videos, classes] = [{n}, {c}], got {list(vs.scores.shape)}"
        )
    if vs.labels.shape != (n,):
        raise ValueError(f"labels must have shape [{n}], got {list(vs.labels.shape)}")
    if c == 0:
        raise ValueError("no classes")
    if len(set(vs.video_ids)) != n:
        raise ValueError(f"duplicate video ids in the {vs.stream} scores")
    if len(set(vs.class_names)) != c:
        raise ValueError(f"duplicate class names in the {vs.stream} scores")
    if n and (vs.labels.min() < -1 or vs.labels.max() >= c):
        raise ValueError(f"labels must be class indices 0..{c - 1} or -1 (unknown)")
    if not np.isfinite(vs.scores).all():
        raise ValueError(f"the {vs.stream} scores contain NaN or infinity")


def save_scores(path: str | os.PathLike, vs: VideoScores) -> None:
    """Write a score file (npz, no pickle) atomically."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        format=np.int64(SCORES_FORMAT),
        video_ids=np.array(vs.video_ids, dtype=np.str_),
        scores=vs.scores,
        labels=vs.labels,
        class_names=np.array(vs.class_names, dtype=np.str_),
        stream=np.array(vs.stream, dtype=np.str_),
        split=np.array(vs.split, dtype=np.str_),
    )
    write_file_atomic(path, buffer.getvalue())


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an npz file; ValueError naming the file when it is not a readable npz."""
    if not path.is_file():
        raise FileNotFoundError(f"score file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a score file (not an npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f"{path}: unreadable score file: {err}") from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):  # np.load returns non-.npy members as bytes
            raise ValueError(f"{path}: unreadable score file: {key} is not a numpy array")
    return arrays


def load_scores(path: str | os.PathLike) -> VideoScores:
    """Read a score file written by save_scores; ValueError naming the file when it is not one."""
    path = Path(path)
    arrays = _read_arrays(path)
    missing = [key for key in _KEYS if key not in arrays]
    if missing:
        raise ValueError(f"{path}: not a flowpipe score file, missing {', '.join(missing)}")
    try:
        if int(arrays["format"]) != SCORES_FORMAT:
            raise ValueError(f"score format {arrays['format']} is not {SCORES_FORMAT}")
        return VideoScores(
            video_ids=list(arrays["video_ids"]),
            scores=arrays["scores"],
            labels=arrays["labels"],
            class_names=list(arrays["class_names"]),
            stream=str(arrays["stream"]),
            split=str(arrays["split"]),
        )
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: {err}") from None
