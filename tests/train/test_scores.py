"""Score files: round trip, atomic write, and a clear error for every kind of bad file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from flowpipe.train.scores import VideoScores, load_scores, save_scores


def example() -> VideoScores:
    return VideoScores(
        video_ids=["ApplyEyeMakeup/v_g01_c01", "Zoom/åäö_日本", "x y"],
        scores=np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]),
        labels=[0, 2, -1],
        class_names=["ApplyEyeMakeup", "Ballet", "Zoom/ß"],
        stream="temporal",
        split="test",
    )


def test_round_trip_keeps_every_field_including_non_ascii(tmp_path: Path) -> None:
    original = example()
    save_scores(tmp_path / "s.npz", original)
    loaded = load_scores(tmp_path / "s.npz")
    assert loaded.video_ids == original.video_ids
    assert loaded.class_names == original.class_names
    assert (loaded.stream, loaded.split) == ("temporal", "test")
    assert loaded.scores.dtype == np.float32 and loaded.labels.dtype == np.int64
    np.testing.assert_array_equal(loaded.scores, original.scores)
    np.testing.assert_array_equal(loaded.labels, [0, 2, -1])


def test_file_holds_no_pickled_objects_and_no_temp_file_is_left(tmp_path: Path) -> None:
    save_scores(tmp_path / "s.npz", example())
    with np.load(tmp_path / "s.npz", allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]


def test_inconsistent_fields_are_refused() -> None:
    fields = vars(example()) | {"labels": [0, 1]}
    with pytest.raises(ValueError, match=r"labels must have shape \[3\]"):
        VideoScores(**fields)
    with pytest.raises(ValueError, match="duplicate video ids"):
        VideoScores(**vars(example()) | {"video_ids": ["a", "a", "b"]})
    with pytest.raises(ValueError, match=r"class indices 0\.\.2 or -1"):
        VideoScores(**vars(example()) | {"labels": [0, 3, -1]})
    with pytest.raises(ValueError, match=r"shape \[videos, classes\] = \[3, 2\]"):
        VideoScores(**vars(example()) | {"class_names": ["a", "b"]})


def test_missing_file_or_folder_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="score file not found: .*nothere.npz"):
        load_scores(tmp_path / "nothere.npz")
    with pytest.raises(FileNotFoundError, match=r"folder not found: .*nodir \(for s\.npz\)"):
        save_scores(tmp_path / "nodir" / "s.npz", example())


def test_not_an_npz_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match=r"text\.npz: not a score file \(not an npz archive\)"):
        load_scores(tmp_path / "text.npz")


def test_truncated_npz_names_the_file(tmp_path: Path) -> None:
    save_scores(tmp_path / "s.npz", example())
    data = (tmp_path / "s.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz: not a score file"):
        load_scores(tmp_path / "cut.npz")


def test_corrupt_member_names_the_file(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as archive:
        for key in ("format", "video_ids", "scores", "labels", "class_names", "stream", "split"):
            archive.writestr(f"{key}.npy", b"not an npy array")
    with pytest.raises(ValueError, match=r"bad\.npz: unreadable score file"):
        load_scores(tmp_path / "bad.npz")


def test_missing_keys_and_shape_mismatch_name_the_file(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", scores=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"other\.npz: not a flowpipe score file, missing format"):
        load_scores(tmp_path / "other.npz")
    vs = example()
    save_scores(tmp_path / "s.npz", vs)
    with np.load(tmp_path / "s.npz") as npz:
        arrays = dict(npz)
    np.savez(tmp_path / "bad_shape.npz", **arrays | {"labels": np.zeros(5, np.int64)})
    with pytest.raises(ValueError, match=r"bad_shape\.npz: labels must have shape \[3\]"):
        load_scores(tmp_path / "bad_shape.npz")
