"""Metrics: known answers for top-k, per-class accuracy, confusion matrix, summary; the PNG."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowpipe.train.metrics import (
    confusion_matrix,
    per_class_accuracy,
    save_confusion_png,
    summarize,
    topk_accuracy,
)
from flowpipe.train.scores import VideoScores

# 5 videos, 4 classes; predictions (argmax): 0, 2, 1, 1, 3; label -1 is left out everywhere.
SCORES = np.array(
    [
        [0.5, 0.3, 0.1, 0.1],  # true 0, predicted 0
        [0.1, 0.3, 0.4, 0.2],  # true 1, predicted 2, true class 2nd
        [0.1, 0.6, 0.2, 0.1],  # true 1, predicted 1
        [0.2, 0.4, 0.1, 0.3],  # true 3, predicted 1, true class 2nd
        [0.1, 0.1, 0.1, 0.7],  # unknown label
    ]
)
LABELS = np.array([0, 1, 1, 3, -1])


def test_topk_known_answers() -> None:
    assert topk_accuracy(SCORES, LABELS, 1) == pytest.approx(2 / 4)
    assert topk_accuracy(SCORES, LABELS, 2) == pytest.approx(4 / 4)
    assert topk_accuracy(SCORES, LABELS, 4) == 1.0


def test_topk_ties_go_to_the_lower_class_index() -> None:
    uniform = np.full((2, 3), 1 / 3)
    assert topk_accuracy(uniform, np.array([0, 2]), 1) == 0.5
    assert topk_accuracy(uniform, np.array([0, 2]), 2) == 0.5


def test_topk_bad_k_and_no_labels() -> None:
    with pytest.raises(ValueError, match=r"k must be in 1\.\.4"):
        topk_accuracy(SCORES, LABELS, 5)
    with pytest.raises(ValueError, match="no video with a known label"):
        topk_accuracy(SCORES, np.full(5, -1), 1)


def test_confusion_matrix_known_answer() -> None:
    expected = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]])
    np.testing.assert_array_equal(confusion_matrix(SCORES, LABELS, 4), expected)


def test_per_class_accuracy_is_nan_for_classes_without_videos() -> None:
    np.testing.assert_array_equal(per_class_accuracy(SCORES, LABELS, 4), [1.0, 0.5, np.nan, 0.0])


def test_summary_caps_top5_at_the_number_of_classes_and_is_json() -> None:
    vs = VideoScores(
        [f"v{i}" for i in range(5)], SCORES, LABELS, ["a", "b", "c", "d"], "temporal", "test"
    )
    summary = json.loads(json.dumps(summarize(vs)))
    assert summary == {
        "stream": "temporal",
        "split": "test",
        "n_videos": 5,
        "n_labelled": 4,
        "top1": 0.5,
        "top5": 1.0,
        "top5_k": 4,
        "mean_class_accuracy": pytest.approx(0.5),
        "per_class": {"a": 1.0, "b": 0.5, "c": None, "d": 0.0},
    }


def test_summary_without_labels_has_no_accuracies() -> None:
    vs = VideoScores(["a"], [[1.0, 0.0]], [-1], ["x", "y"], "spatial", "test")
    summary = summarize(vs)
    assert summary["n_labelled"] == 0 and summary["top1"] is None and summary["per_class"] == {}


@pytest.mark.parametrize("num_classes", [4, 101])
def test_confusion_png_is_written_with_a_cell_per_class(tmp_path: Path, num_classes: int) -> None:
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 5, (num_classes, num_classes)) + 20 * np.eye(num_classes, dtype=int)
    names = [f"class_with_a_long_name_{i}" for i in range(num_classes)]
    save_confusion_png(cm, names, tmp_path / "cm.png", title="temporal")
    image = cv2.imread(str(tmp_path / "cm.png"))
    cell = 44 if num_classes == 4 else 10
    grid = num_classes * cell
    assert image.shape[2] == 3
    assert grid + 100 < image.shape[0] < grid + 400 and grid + 100 < image.shape[1] < grid + 400
    assert (image < 128).all(axis=2).any() and [p.name for p in tmp_path.iterdir()] == ["cm.png"]


def test_confusion_png_refuses_a_matrix_of_the_wrong_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must be \[3, 3\] for 3 classes"):
        save_confusion_png(np.eye(2), ["a", "b", "c"], tmp_path / "cm.png")
