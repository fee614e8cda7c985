"""Video-level metrics of a score matrix: top-k, per-class accuracy, confusion matrix (+ PNG).

Videos whose label is -1 (unknown) are left out of every metric. The predicted class of a
video is the argmax of its scores (ties go to the lower class index), so top-1 equals the
trace of the confusion matrix over its sum.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
from sklearn.metrics import confusion_matrix as _sk_confusion_matrix

from flowpipe.io import write_file_atomic
from flowpipe.train.scores import VideoScores


def _labelled(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows with a known label (!= -1); ValueError on bad shapes or when none is known."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise ValueError(
            f"expected scores [N, C] and labels [N], got {list(scores.shape)} "
            f"and {list(labels.shape)}"
        )
    known = labels != -1
    if not known.any():
        raise ValueError("no video with a known label (all labels are -1)")
    return scores[known], labels[known].astype(np.int64)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of labelled videos whose true class is among the k highest scores."""
    scores, labels = _labelled(scores, labels)
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k must be in 1..{scores.shape[1]} (the number of classes), got {k}")
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def confusion_matrix(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """[C, C] int64 counts of labelled videos: rows = true class, columns = predicted (argmax)."""
    scores, labels = _labelled(scores, labels)
    if scores.shape[1] != num_classes:
        raise ValueError(f"scores have {scores.shape[1]} classes, expected {num_classes}")
    predicted = scores.argmax(axis=1)
    cm = _sk_confusion_matrix(labels, predicted, labels=np.arange(num_classes))
    return cm.astype(np.int64)


def per_class_accuracy(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """[C] float64 accuracy (recall) of each class; NaN for classes without labelled videos."""
    cm = confusion_matrix(scores, labels, num_classes)
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / totals, np.nan)


def summarize(vs: VideoScores) -> dict:
    """JSON-ready metrics of a score set: top-1, top-5 (k capped at C), mean and per-class accuracy.

    Per-class accuracies of classes without labelled videos are None (JSON null), and so are
    all accuracies when no video has a known label.
    """
    labelled = int((vs.labels != -1).sum())
    summary: dict = {
        "stream": vs.stream,
        "split": vs.split,
        "n_videos": len(vs.video_ids),
        "n_labelled": labelled,
    }
    if labelled == 0:
        return summary | {"top1": None, "top5": None, "mean_class_accuracy": None, "per_class": {}}
    k5 = min(5, vs.num_classes)
    per_class = per_class_accuracy(vs.scores, vs.labels, vs.num_classes)
    return summary | {
        "top1": topk_accuracy(vs.scores, vs.labels, 1),
        "top5": topk_accuracy(vs.scores, vs.labels, k5),
        "top5_k": k5,
        "mean_class_accuracy": float(np.nanmean(per_class)),
        "per_class": {
            name: None if math.isnan(acc) else float(acc)
            for name, acc in zip(vs.class_names, per_class.tolist(), strict=True)
        },
    }


# --- confusion-matrix picture (OpenCV only) -------------------------------------------------

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BG = (255, 255, 255)
# white -> light blue -> dark blue (BGR), the ends and middle of matplotlib's "Blues"
_RAMP = np.array([[255.0, 255.0, 255.0], [214.0, 174.0, 107.0], [107.0, 48.0, 8.0]])
_NO_VIDEOS_BGR = (225, 225, 225)
_MAX_NAME = 20
_MAX_COUNTS = 30


def _short(name: str) -> str:
    """An ASCII label of at most _MAX_NAME characters (Hershey fonts are ASCII only)."""
    name = name.encode("ascii", "replace").decode()
    return name if len(name) <= _MAX_NAME else name[: _MAX_NAME - 2] + ".."


def _cell_colours(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[C, C, 3] uint8 BGR colours and [C, C] row-normalised values; grey rows without videos."""
    totals = cm.sum(axis=1, keepdims=True)
    fraction = cm / np.maximum(totals, 1)
    stops = np.linspace(0.0, 1.0, len(_RAMP))
    colours = np.stack([np.interp(fraction, stops, _RAMP[:, ch]) for ch in range(3)], axis=-1)
    colours[totals[:, 0] == 0] = _NO_VIDEOS_BGR
    return np.round(colours).astype(np.uint8), fraction


def _text_strip(names: list[str], cell: int, scale: float, width: int) -> np.ndarray:
    """A white [C*cell, width] strip with the names right-aligned, one per cell row."""
    strip = np.full((len(names) * cell, width, 3), _BG, np.uint8)
    for i, name in enumerate(names):
        (w, h), _ = cv2.getTextSize(name, _FONT, scale, 1)
        origin = (width - w - 4, i * cell + (cell + h) // 2)
        cv2.putText(strip, name, origin, _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def _matrix_image(cm: np.ndarray, cell: int, scale: float) -> np.ndarray:
    """The coloured [C*cell, C*cell] grid, with the counts written in when C <= _MAX_COUNTS."""
    colours, fraction = _cell_colours(cm)
    grid = np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)
    if len(cm) <= _MAX_COUNTS:
        for (r, c), count in np.ndenumerate(cm):
            if count == 0:
                continue
            text = str(count)
            (w, h), _ = cv2.getTextSize(text, _FONT, scale, 1)
            ink = (255, 255, 255) if fraction[r, c] > 0.5 else (0, 0, 0)
            origin = (c * cell + (cell - w) // 2, r * cell + (cell + h) // 2)
            cv2.putText(grid, text, origin, _FONT, scale, ink, 1, cv2.LINE_AA)
    cv2.rectangle(grid, (0, 0), (grid.shape[1] - 1, grid.shape[0] - 1), (80, 80, 80), 1)
    return grid


def _caption(text: str, width: int, scale: float, height: int) -> np.ndarray:
    """A white [height, width] band with the text centred."""
    (w, h), _ = cv2.getTextSize(text, _FONT, scale, 1)
    band = np.full((height, width, 3), _BG, np.uint8)
    origin = (max((width - w) // 2, 2), (height + h) // 2)
    cv2.putText(band, text, origin, _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return band


def _pad(image: np.ndarray, top: int = 0, bottom: int = 0, left: int = 0, right: int = 0):
    """The image with white margins."""
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=_BG)


def render_confusion(cm: np.ndarray, class_names: list[str], title: str = "") -> np.ndarray:
    """BGR picture of a confusion matrix: rows true, columns predicted, row-normalised colours."""
    cm = np.asarray(cm)
    c = len(class_names)
    if cm.shape != (c, c) or c == 0:
        raise ValueError(f"confusion matrix must be [{c}, {c}] for {c} classes, got {cm.shape}")
    cell = max(int(np.clip(720 // c, 10, 44)), -(-120 // c))  # room for "true class" at small C
    scale = min(0.45, cell / 30)
    names = [_short(n) for n in class_names]
    label_w = max(cv2.getTextSize(n, _FONT, scale, 1)[0][0] for n in names) + 10
    grid = _matrix_image(cm, cell, scale)
    side = np.rot90(_caption("true class", grid.shape[0], 0.5, 26))
    rows = np.hstack([side, _text_strip(names, cell, scale, label_w), grid])
    columns = cv2.rotate(_text_strip(names, cell, scale, label_w), cv2.ROTATE_90_COUNTERCLOCKWISE)
    below = np.vstack([columns, _caption("predicted class", grid.shape[1], 0.5, 30)])
    body = _pad(np.vstack([rows, _pad(below, left=rows.shape[1] - grid.shape[1])]), right=16)
    accuracy = np.trace(cm) / max(cm.sum(), 1)
    heading = f"{title}  top-1 {100 * accuracy:.1f}%  ({int(cm.sum())} videos)".strip()
    width = max(body.shape[1], cv2.getTextSize(heading, _FONT, 0.6, 1)[0][0] + 16)
    return np.vstack([_caption(heading, width, 0.6, 44), _pad(body, right=width - body.shape[1])])


def save_confusion_png(
    cm: np.ndarray, class_names: list[str], path: str | os.PathLike, title: str = ""
) -> None:
    """Write the confusion-matrix picture (see render_confusion) as a PNG, atomically."""
    ok, png = cv2.imencode(".png", render_confusion(cm, class_names, title))
    if not ok:
        raise OSError(f"could not encode the confusion-matrix PNG for {path}")
    write_file_atomic(path, png.tobytes())
