"""Split files on disk: UCF-101, HMDB-51, mmaction2 lists, class folders, and their joins with
a dataset's videos (ids matched exactly or by file name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flowpipe.data import Split, load_records, read_split
from flowpipe.data.splits import folder_split
from tests.data.flowsets import constant_field, write_video

CLASSES = ["ApplyEyeMakeup", "Archery", "Basketball"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def ucf(tmp_path: Path) -> Path:
    """A UCF-101 split folder: classInd.txt, trainlist01.txt (labelled), testlist01.txt."""
    write(tmp_path / "classInd.txt", "".join(f"{i} {c}\n" for i, c in enumerate(CLASSES, 1)))
    train = (
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n\nBasketball/v_Basketball_g09_c02.avi 3\n"
    )
    test = "Archery/v_Archery_g01_c01.avi\nApplyEyeMakeup/v_ApplyEyeMakeup_g01_c03.avi\n"
    write(tmp_path / "trainlist01.txt", train)
    write(tmp_path / "testlist01.txt", test)
    return tmp_path


def test_ucf101_train_and_test_lists(ucf: Path) -> None:
    train = read_split(ucf, fold=1, subset="train")
    assert train.entries == [
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01", 0),
        ("Basketball/v_Basketball_g09_c02", 2),
    ]
    assert train.class_names == CLASSES
    test = read_split(ucf, subset="test")
    assert test.entries == [
        ("Archery/v_Archery_g01_c01", 1),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c03", 0),
    ]


def test_ucf101_single_list_file_uses_its_folder(ucf: Path) -> None:
    assert read_split(ucf / "testlist01.txt") == read_split(ucf, subset="test")
    assert read_split(ucf / "trainlist01.txt").entries[1] == ("Basketball/v_Basketball_g09_c02", 2)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "trainlist01.txt",
            "ApplyEyeMakeup/v_a.avi one\n",
            "trainlist01.txt:1: expected an integer",
        ),
        ("trainlist01.txt", "ApplyEyeMakeup/v_a.avi 7\n", "trainlist01.txt:1: no class"),
        ("testlist01.txt", "Unknown/v_a.avi\n", "testlist01.txt:1: no class"),
    ],
)
def test_ucf101_bad_lines_name_file_and_line(ucf: Path, name: str, text: str, message: str) -> None:
    write(ucf / name, text)
    subset = name[: -len("list01.txt")]
    with pytest.raises(ValueError, match=message):
        read_split(ucf, subset=subset)


def test_ucf101_bad_class_index_and_missing_fold(ucf: Path) -> None:
    with pytest.raises(FileNotFoundError, match="trainlist02.txt"):
        read_split(ucf, fold=2)
    write(ucf / "classInd.txt", "1 ApplyEyeMakeup\n3 Archery\n")
    with pytest.raises(ValueError, match=r"classInd.txt: class indices must run 1..2"):
        read_split(ucf)
    write(ucf / "classInd.txt", "1\n")
    with pytest.raises(ValueError, match=r"classInd.txt:1: expected '<index> <class name>'"):
        read_split(ucf)


def test_hmdb51_codes_select_train_and_test(tmp_path: Path) -> None:
    write(tmp_path / "wave_test_split1.txt", "w1.avi 1\nw2.avi 2\nw3.avi 0\n")
    write(tmp_path / "brush_hair_test_split1.txt", "b1.avi 2 \nb2.avi 1\n")
    write(tmp_path / "wave_test_split2.txt", "w1.avi 2\n")
    train = read_split(tmp_path, fold=1, subset="train")
    assert train.class_names == ["brush_hair", "wave"]
    assert train.entries == [("brush_hair/b2", 0), ("wave/w1", 1)]
    assert read_split(tmp_path, subset="test").entries == [("brush_hair/b1", 0), ("wave/w2", 1)]
    assert read_split(tmp_path, fold=2, subset="test").entries == [("wave/w1", 0)]


def test_hmdb51_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "wave_test_split1.txt", "w1.avi 3\n")
    with pytest.raises(ValueError, match=r"wave_test_split1.txt:1: expected '<clip> 0\|1\|2'"):
        read_split(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no HMDB-51 files \*_test_split3.txt"):
        read_split(tmp_path, fold=3)
    with pytest.raises(ValueError, match="an HMDB-51 split is the folder"):
        read_split(path)


def test_mmaction2_rawframe_and_video_lists(tmp_path: Path) -> None:
    raw = write(tmp_path / "raw.txt", "walk/v_1 120 0\nrun/v 2 37 1\n")
    assert read_split(raw) == Split([("walk/v_1", 0), ("run/v 2", 1)])
    videos = write(tmp_path / "videos.txt", "walk/v_1.mp4 0\nmy clips/run 3.avi 1\n")
    assert read_split(videos).entries == [("walk/v_1", 0), ("my clips/run 3", 1)]
    write(tmp_path / "classInd.txt", "1 walk\n2 run\n")
    assert read_split(videos).class_names == ["walk", "run"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lonely\n", r"list.txt:1: expected '<video> \[<frames>\] <label>'"),
        ("a 1\nb -2\n", "list.txt:2: negative label"),
        ("a x\n", "list.txt:1: expected an integer, got 'x'"),
    ],
)
def test_list_file_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_split(write(tmp_path / "list.txt", text))


def test_unreadable_or_absent_split(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="bin.txt: not a UTF-8 text file"):
        read_split(tmp_path / "bin.txt")
    with pytest.raises(FileNotFoundError, match="split file not found"):
        read_split(tmp_path / "absent.txt")
    with pytest.raises(ValueError, match="not a split folder"):
        read_split(tmp_path)
    with pytest.raises(ValueError, match="subset must be one of"):
        read_split(tmp_path, subset="val")


def test_folder_split_labels_by_first_component() -> None:
    split = folder_split(["run/b", "jump/a", "run/a"])
    assert split == Split([("jump/a", 0), ("run/a", 1), ("run/b", 1)], ["jump", "run"])
    with pytest.raises(ValueError, match="video 'flat' is not in a class folder"):
        folder_split(["run/a", "flat"])


def small_video(root: Path, video_id: str) -> None:
    write_video(root, video_id, [constant_field(1.0, 0.0, (8, 6))] * 2)


def test_split_ids_match_a_flat_dataset_by_file_name(ucf: Path, tmp_path: Path) -> None:
    data = tmp_path / "flat"
    for vid in ("v_ApplyEyeMakeup_g08_c01", "v_Basketball_g09_c02", "v_other"):
        small_video(data, vid)
    records, names = load_records(str(data), ucf)
    assert [(r.video_id, r.label) for r in records] == [
        ("v_ApplyEyeMakeup_g08_c01", 0),
        ("v_Basketball_g09_c02", 2),
    ]
    assert names == CLASSES
    assert np.all([r.flows == 2 and (r.width, r.height) == (8, 6) for r in records])


def test_ambiguous_file_names_are_not_matched(ucf: Path, tmp_path: Path) -> None:
    data = tmp_path / "twice"
    for vid in (
        "a/v_ApplyEyeMakeup_g08_c01",
        "b/v_ApplyEyeMakeup_g08_c01",
        "Basketball/v_Basketball_g09_c02",
    ):
        small_video(data, vid)
    with pytest.raises(ValueError, match="1 video.s. of the split are not in .*g08_c01"):
        load_records(str(data), ucf)
    with pytest.warns(UserWarning, match="skipping 1 split videos"):
        records, _ = load_records(str(data), ucf, missing="skip")
    assert [r.video_id for r in records] == ["Basketball/v_Basketball_g09_c02"]


def test_ids_with_spaces_and_class_folders(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for vid in ("jump/clip one", "run/clip two"):
        small_video(data, vid)
    split = write(tmp_path / "lists" / "list.txt", "run/clip two.mp4 1\njump/clip one 12 0\n")
    records, names = load_records(str(data), split)
    assert [(r.video_id, r.label) for r in records] == [("run/clip two", 1), ("jump/clip one", 0)]
    assert names == ["class_0", "class_1"]
