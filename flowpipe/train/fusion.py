"""Late fusion of the streams' video-level scores, as compared in the two-stream paper.

Two methods (Simonyan & Zisserman 2014, section 6):

- ``fuse_average``: the weighted mean of the streams' softmax scores.
- ``fuse_svm``: a multi-class linear SVM (one-vs-rest ``LinearSVC``) trained on the training-set
  scores of the streams, each stream's score vector L2-normalised per video and the streams
  concatenated ([N, S*C]); L2-normalising puts every stream on the same scale whatever its
  confidence, as the paper does. The fused scores are the softmax of the SVM's one-vs-rest
  decision values: rows sum to 1 and the argmax is the SVM's prediction, but they are not
  calibrated probabilities. Classes absent from the training set get score 0.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from flowpipe.train.metrics import summarize
from flowpipe.train.scores import VideoScores, load_scores, save_scores

METHODS = ("average", "svm")


def _name(i: int, vs: VideoScores) -> str:
    """How errors refer to the i-th (0-based) input score set."""
    return f"score set {i + 1} ({vs.stream}, {vs.split})"


def _example(ids: set[str]) -> str:
    """The count and one example of a set of video ids."""
    return f"{len(ids)} (e.g. {min(ids)!r})" if ids else "0"


def _check_compatible(first: VideoScores, i: int, other: VideoScores) -> None:
    """ValueError unless other has first's class list and split and covers the same videos."""
    if other.class_names != first.class_names:
        a, b = first.class_names, other.class_names
        k = next(k for k in range(max(len(a), len(b))) if a[k : k + 1] != b[k : k + 1])
        raise ValueError(
            f"class lists differ: {_name(0, first)} has {len(a)} classes, "
            f"{_name(i, other)} {len(b)}; first difference at class {k}: "
            f"{a[k : k + 1]} vs {b[k : k + 1]}"
        )
    if other.split != first.split:
        raise ValueError(f"splits differ: {_name(0, first)} and {_name(i, other)}")
    ids, other_ids = set(first.video_ids), set(other.video_ids)
    missing, extra = ids - other_ids, other_ids - ids
    if missing or extra:
        raise ValueError(
            f"{_name(i, other)} covers different videos than {_name(0, first)}: "
            f"{_example(missing)} missing, {_example(extra)} extra"
        )


def _reorder(vs: VideoScores, video_ids: list[str]) -> VideoScores:
    """vs with its rows in the order of video_ids (which it covers exactly)."""
    row = {video_id: i for i, video_id in enumerate(vs.video_ids)}
    order = [row[video_id] for video_id in video_ids]
    return dataclasses.replace(
        vs, video_ids=list(video_ids), scores=vs.scores[order], labels=vs.labels[order]
    )


def align(score_sets: Sequence[VideoScores]) -> list[VideoScores]:
    """The score sets with their videos in the first set's order; ValueError unless they match.

    All sets must hold the same videos (by id), the same class list and the same split.
    """
    if not score_sets:
        raise ValueError("no score sets given")
    first = score_sets[0]
    for i, other in enumerate(score_sets[1:], start=1):
        _check_compatible(first, i, other)
    return [_reorder(vs, first.video_ids) for vs in score_sets]


def _merged_labels(aligned: Sequence[VideoScores]) -> np.ndarray:
    """Per video the label any set knows (-1 if none); ValueError when two sets disagree."""
    labels = np.stack([vs.labels for vs in aligned])
    known = labels != -1
    merged = labels.max(axis=0)
    lowest = np.where(known, labels, merged).min(axis=0)
    conflict = np.flatnonzero(lowest != merged)
    if conflict.size:
        raise ValueError(
            f"the score sets give different labels to {conflict.size} videos, e.g. "
            f"{aligned[0].video_ids[conflict[0]]!r}"
        )
    return merged


def _fused(template: VideoScores, scores: np.ndarray, labels: np.ndarray) -> VideoScores:
    """A 'fused' score set over the template's videos, classes and split."""
    return VideoScores(
        template.video_ids, scores, labels, template.class_names, "fused", template.split
    )


def _normalised_weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
    """The weights as an array summing to 1 (equal when None); ValueError on bad values."""
    w = np.ones(count) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (count,):
        raise ValueError(f"expected {count} weights (one per score set), got {w.size}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be finite, >= 0 and not all 0, got {w.tolist()}")
    return w / w.sum()


def fuse_average(
    score_sets: Sequence[VideoScores], weights: Sequence[float] | None = None
) -> VideoScores:
    """Weighted mean of the sets' softmax scores (weights normalised to sum 1; default equal)."""
    aligned = align(score_sets)
    w = _normalised_weights(weights, len(aligned))
    scores = np.tensordot(w, np.stack([vs.scores for vs in aligned]), axes=1)
    return _fused(aligned[0], scores, _merged_labels(aligned))


def _features(aligned: Sequence[VideoScores]) -> np.ndarray:
    """[N, S*C] SVM features: each stream's scores L2-normalised per video, concatenated."""
    return np.hstack([normalize(vs.scores.astype(np.float64)) for vs in aligned])


def _check_streams_match(train: Sequence[VideoScores], test: Sequence[VideoScores]) -> None:
    """ValueError unless training and test sets are the same streams in order, one class list."""
    if len(train) != len(test):
        raise ValueError(f"{len(train)} training score sets for {len(test)} test score sets")
    for i, (tr, te) in enumerate(zip(train, test, strict=True)):
        if tr.stream != te.stream:
            raise ValueError(
                f"training set {i + 1} is the {tr.stream} stream, test set {i + 1} "
                f"the {te.stream} stream: give them in the same order"
            )
    if train[0].class_names != test[0].class_names:
        raise ValueError("the training and test score sets have different class lists")


def _training_labels(train: Sequence[VideoScores]) -> np.ndarray:
    """The labels of the training videos; ValueError when any is unknown or only one class."""
    labels = _merged_labels(train)
    unknown = [v for v, label in zip(train[0].video_ids, labels, strict=True) if label == -1]
    if unknown:
        raise ValueError(
            f"SVM fusion needs the label of every training video: {len(unknown)} "
            f"of {len(labels)} have none (-1), e.g. {unknown[0]!r}"
        )
    if np.unique(labels).size < 2:
        raise ValueError("SVM fusion needs training videos of at least 2 classes")
    return labels


def _softmax_scores(decision: np.ndarray, classes: np.ndarray, num_classes: int) -> np.ndarray:
    """[N, C] softmax of the SVM's decision values; classes it never saw get 0."""
    if decision.ndim == 1:  # two classes: sklearn gives one value, > 0 meaning classes[1]
        decision = np.stack([-decision, decision], axis=1)
    full = np.full((len(decision), num_classes), -np.inf)
    full[:, classes] = decision
    exp = np.exp(full - full.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def fuse_svm(
    train_sets: Sequence[VideoScores], test_sets: Sequence[VideoScores], C: float = 1.0
) -> VideoScores:
    """Linear-SVM fusion: trained on the streams' training-set scores, applied to their test scores.

    train_sets[i] and test_sets[i] are the same stream; see the module docstring for the
    features and the returned scores.
    """
    if not C > 0:
        raise ValueError(f"the SVM's C must be > 0, got {C}")
    train, test = align(train_sets), align(test_sets)
    _check_streams_match(train, test)
    svm = LinearSVC(C=C, dual="auto", max_iter=10_000, random_state=0)
    svm.fit(_features(train), _training_labels(train))
    decision = svm.decision_function(_features(test))
    scores = _softmax_scores(decision, svm.classes_, test[0].num_classes)
    return _fused(test[0], scores, _merged_labels(test))


def fuse_score_files(
    paths: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    method: str = "average",
    weights: Sequence[float] | None = None,
    train_paths: Sequence[str | os.PathLike] | None = None,
    C: float = 1.0,
) -> dict:
    """Fuse score files into output (`flowpipe fuse`); the summaries of the fused and input sets."""
    if method not in METHODS:
        raise ValueError(f"unknown fusion method {method!r}: expected one of {', '.join(METHODS)}")
    if method == "average" and train_paths:
        raise ValueError("training-set scores are only used by SVM fusion (method 'svm')")
    if method == "svm" and weights is not None:
        raise ValueError("weights are only used by average fusion (method 'average')")
    if method == "svm" and not train_paths:
        raise ValueError("SVM fusion needs the training-set score file of every stream")
    streams = [load_scores(path) for path in paths]
    if method == "average":
        fused = fuse_average(streams, weights)
    else:
        fused = fuse_svm([load_scores(path) for path in train_paths], streams, C)
    save_scores(output, fused)
    return {
        "method": method,
        "output": str(output),
        "fused": summarize(fused),
        "streams": [summarize(vs) | {"file": str(p)} for p, vs in zip(paths, streams, strict=True)],
    }
