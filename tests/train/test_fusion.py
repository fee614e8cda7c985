"""Late fusion on synthetic streams (average, linear SVM), its errors, and `flowpipe fuse`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flowpipe.train.fusion import align, fuse_average, fuse_svm
from flowpipe.train.metrics import topk_accuracy
from flowpipe.train.scores import VideoScores, load_scores, save_scores

C = 8
CLASSES = [f"class_{k}" for k in range(C)]


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def stream(name: str, split: str, seed: int, good: range, wrong_boost: float) -> VideoScores:
    """Scores that are right (true class +3) on the classes in `good`; on the others the true
    class gets +1 and the next class (y+1 mod C) gets +wrong_boost, so the stream is wrong."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(C), 15)
    logits = rng.normal(0.0, 0.3, (len(labels), C))
    rows = np.arange(len(labels))
    is_good = np.isin(labels, good)
    logits[rows, labels] += np.where(is_good, 3.0, 1.0)
    logits[rows, (labels + 1) % C] += np.where(is_good, 0.0, wrong_boost)
    ids = [f"{split}/video_{i:03d}" for i in rows]
    return VideoScores(ids, softmax(logits), labels, CLASSES, name, split)


def two_streams(split: str, seed: int, wrong_boost: float) -> list[VideoScores]:
    """A temporal stream right on the first half of the classes, a spatial one on the second."""
    return [
        stream("temporal", split, seed, range(0, C // 2), wrong_boost),
        stream("spatial", split, seed + 1, range(C // 2, C), wrong_boost),
    ]


def top1(vs: VideoScores) -> float:
    return topk_accuracy(vs.scores, vs.labels, 1)


def test_average_fusion_beats_each_stream() -> None:
    streams = two_streams("test", seed=0, wrong_boost=1.5)
    fused = fuse_average(streams)
    assert max(top1(s) for s in streams) < 0.6
    assert top1(fused) > 0.95
    assert (fused.stream, fused.split, fused.video_ids) == ("fused", "test", streams[0].video_ids)
    np.testing.assert_allclose(fused.scores.sum(axis=1), 1.0, rtol=1e-5)


def test_average_weights_are_normalised_and_videos_aligned_by_id() -> None:
    a, b = two_streams("test", seed=0, wrong_boost=1.5)
    order = np.random.default_rng(1).permutation(len(b.video_ids))
    shuffled = VideoScores(
        [b.video_ids[i] for i in order],
        b.scores[order],
        b.labels[order],
        CLASSES,
        "spatial",
        "test",
    )
    fused = fuse_average([a, shuffled], weights=[2, 6])
    np.testing.assert_allclose(fused.scores, 0.25 * a.scores + 0.75 * b.scores, rtol=1e-6)
    assert align([a, shuffled])[1].video_ids == a.video_ids


def test_svm_fusion_learns_what_averaging_cannot() -> None:
    # each stream is confidently wrong (true class +1, next class +4) on half of the classes
    train = two_streams("train", seed=10, wrong_boost=4.0)
    test = two_streams("test", seed=20, wrong_boost=4.0)
    fused = fuse_svm(train, test)
    best_stream = max(top1(s) for s in test)
    assert best_stream < 0.6 and top1(fuse_average(test)) < 0.6
    assert top1(fused) > 0.95
    assert fused.split == "test" and fused.video_ids == test[0].video_ids
    np.testing.assert_allclose(fused.scores.sum(axis=1), 1.0, rtol=1e-5)


def test_misaligned_ids_are_refused() -> None:
    a, b = two_streams("test", seed=0, wrong_boost=1.5)
    b.video_ids[4] = "elsewhere/video"
    with pytest.raises(
        ValueError,
        match=r"score set 2 \(spatial, test\) covers different videos "
        r"than score set 1 \(temporal, test\): 1 \(e\.g\. 'test/video_004'\) "
        r"missing, 1 \(e\.g\. 'elsewhere/video'\) extra",
    ):
        fuse_average([a, b])


def test_different_class_lists_are_refused() -> None:
    a, b = two_streams("test", seed=0, wrong_boost=1.5)
    b.class_names[3] = "other"
    with pytest.raises(
        ValueError,
        match=r"class lists differ: .* first difference at class 3: "
        r"\['class_3'\] vs \['other'\]",
    ):
        align([a, b])


def test_conflicting_labels_and_bad_weights_are_refused() -> None:
    a, b = two_streams("test", seed=0, wrong_boost=1.5)
    with pytest.raises(ValueError, match="expected 2 weights"):
        fuse_average([a, b], weights=[1.0])
    with pytest.raises(ValueError, match="weights must be finite, >= 0 and not all 0"):
        fuse_average([a, b], weights=[1.0, -1.0])
    b.labels[0] = 5
    with pytest.raises(ValueError, match="different labels to 1 videos, e.g. 'test/video_000'"):
        fuse_average([a, b])


def test_svm_needs_every_training_label() -> None:
    train = two_streams("train", seed=10, wrong_boost=4.0)
    test = two_streams("test", seed=20, wrong_boost=4.0)
    for vs in train:
        vs.labels[7] = -1
    with pytest.raises(
        ValueError,
        match=r"needs the label of every training video: 1 of 120 "
        r"have none \(-1\), e.g. 'train/video_007'",
    ):
        fuse_svm(train, test)


def test_svm_needs_the_same_streams_in_the_same_order() -> None:
    train = two_streams("train", seed=10, wrong_boost=4.0)
    test = two_streams("test", seed=20, wrong_boost=4.0)
    with pytest.raises(
        ValueError, match="training set 1 is the spatial stream, test set 1 the temporal stream"
    ):
        fuse_svm(train[::-1], test)


# --- flowpipe fuse, as a real process -------------------------------------------------------


def fuse_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "flowpipe", "fuse", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def score_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("scores")
    files = {}
    for split, seed in (("train", 10), ("test", 20)):
        for vs in two_streams(split, seed, wrong_boost=4.0):
            files[f"{vs.stream}_{split}"] = str(folder / f"{vs.stream}_{split}.npz")
            save_scores(files[f"{vs.stream}_{split}"], vs)
    return files


def test_cli_fuse_svm_writes_fused_scores_and_prints_a_summary(
    score_files: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "fused.npz"
    train = f"{score_files['temporal_train']},{score_files['spatial_train']}"
    result = fuse_cli(
        score_files["temporal_test"],
        score_files["spatial_test"],
        "-o",
        str(out),
        "--method",
        "svm",
        "--train-scores",
        train,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["method"] == "svm" and summary["fused"]["top1"] > 0.95
    assert [s["stream"] for s in summary["streams"]] == ["temporal", "spatial"]
    assert all(s["top1"] < 0.6 for s in summary["streams"])
    assert load_scores(out).stream == "fused"


def test_cli_fuse_average_with_weights(score_files: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "fused.npz"
    result = fuse_cli(
        score_files["temporal_test"],
        score_files["spatial_test"],
        "-o",
        str(out),
        "--weights",
        "1,3",
    )
    assert result.returncode == 0, result.stderr
    a, b = load_scores(score_files["temporal_test"]), load_scores(score_files["spatial_test"])
    np.testing.assert_allclose(
        load_scores(out).scores, 0.25 * a.scores + 0.75 * b.scores, rtol=1e-6
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.npz", "-o", "out.npz"], "score file not found: missing.npz"),
        (
            ["{temporal_test}", "{spatial_test}", "-o", "out.npz", "--weights", "1,x"],
            "'--weights': expected comma-separated numbers such as 1,2",
        ),
        (
            ["{temporal_test}", "{spatial_test}", "-o", "out.npz", "--method", "svm"],
            "SVM fusion needs the training-set score file of every stream",
        ),
    ],
)
def test_cli_fuse_bad_input_is_one_error_line(
    score_files: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    result = fuse_cli(*(a.format(**score_files) for a in args), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert "Traceback" not in result.stderr and not (tmp_path / "out.npz").exists()
