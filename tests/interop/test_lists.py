"""`flowpipe lists`: mmaction2, TSN and flowpipe list files from UCF-101-style and
Kinetics-style splits, 0-based labels, flow and RGB counts, videos left out or --strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowpipe.data import FlowStackDataset
from flowpipe.data.splits import read_class_index
from flowpipe.storage import DatasetStore
from tests.conftest import run_flowpipe
from tests.data.flowsets import constant_field, write_video

SIZE = (40, 32)


def rows(path: Path) -> list[tuple[str, int, int]]:
    return [
        (d, int(n), int(label))
        for d, n, label in (ln.split() for ln in path.read_text().splitlines())
    ]


def test_ucf101_split_made_by_synth_gives_0_based_labels(
    cli_extracted: tuple[Path, Path], tmp_path: Path
) -> None:
    synth, out = cli_extracted
    result = run_flowpipe(
        "lists",
        str(out),
        "--split",
        str(synth / "videos"),
        "--format",
        "mmaction2",
        "-o",
        str(tmp_path),
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    classes = read_class_index(synth / "videos" / "classInd.txt")  # 1-based file
    assert (tmp_path / "classes.txt").read_text().split() == classes
    store = DatasetStore(str(out))
    for subset, count in (("train", 4), ("val", 2)):
        flow = rows(tmp_path / f"mmaction2_flow_{subset}_split_1.txt")
        assert len(flow) == count
        for video, flows, label in flow:
            assert label == classes.index(video.split("/")[0])  # classInd index - 1
            assert flows == store.read_meta(video)["flows"] == 7
        rgb = rows(tmp_path / f"mmaction2_rgb_{subset}_split_1.txt")
        assert [(v, n - 1, label) for v, n, label in rgb] == flow  # frames = flows + 1
    train_ids = {v for v, _, _ in rows(tmp_path / "mmaction2_flow_train_split_1.txt")}
    listed = (synth / "videos" / "trainlist01.txt").read_text().split()
    assert train_ids == {p.rsplit(".", 1)[0] for p in listed[0::2]}
    assert "wrote" in result.stdout and "mmaction2_flow_val_split_1.txt (2 videos)" in result.stdout


def test_tsn_paths_and_flowpipe_lists_feed_the_loader(
    cli_extracted: tuple[Path, Path], tmp_path: Path
) -> None:
    synth, out = cli_extracted
    for fmt in ("tsn", "flowpipe"):
        result = run_flowpipe(
            "lists",
            str(out),
            "--split",
            str(synth / "videos"),
            "--format",
            fmt,
            "--fold",
            "1",
            "-o",
            str(tmp_path),
        )
        assert result.returncode == 0, result.stderr
    for frame_dir, flows, _ in rows(tmp_path / "tsn_flow_train_split_1.txt"):
        assert (
            Path(frame_dir).is_absolute()
            and (Path(frame_dir) / f"flow_x_{flows:05d}.jpg").is_file()
        )
    assert not (tmp_path / "flowpipe_rgb_train_split_1.txt").exists()
    listed = FlowStackDataset(out, tmp_path / "flowpipe_flow_val_split_1.txt", L=4, crop=32)
    ucf = FlowStackDataset(out, synth / "videos", L=4, crop=32, subset="test")
    assert listed.video_ids == ucf.video_ids and listed.labels == ucf.labels
    assert listed.class_names == ucf.class_names  # classes.txt beside the list


@pytest.fixture
def kinetics(tmp_path: Path) -> tuple[Path, Path]:
    """A flowpipe dataset of Kinetics-named videos and its CSV: one video of the CSV never
    extracted, one failed."""
    root = tmp_path / "flow"
    csv_lines = ["label,youtube_id,time_start,time_end,split"]
    for i, (label, yid, split) in enumerate(
        [
            ("zumba", "aaa", "train"),
            ("abseiling", "bbb", "train"),
            ("zumba", "ccc", "val"),
            ("abseiling", "ddd", "val"),
            ("abseiling", "eee", "train"),
            ("zumba", "fff", "train"),
        ]
    ):
        csv_lines.append(f"{label},{yid},{10 * i},{10 * i + 10}.0,{split}")
        if yid not in ("eee", "fff"):
            vid = f"{label}/{yid}_{10 * i:06d}_{10 * i + 10:06d}"
            write_video(root, vid, [constant_field(1, 0, SIZE)] * 3)
    DatasetStore(str(root)).append_failure(
        {"path": "v/eee.mp4", "video_id": "abseiling/eee_000040_000050", "message": "bad"}
    )
    csv = tmp_path / "kinetics.csv"
    csv.write_text("\n".join(csv_lines) + "\n")
    return root, csv


def test_kinetics_csv_classes_sorted_and_videos_left_out(kinetics, tmp_path: Path) -> None:
    root, csv = kinetics
    result = run_flowpipe(
        "lists", str(root), "--split", str(csv), "--format", "flowpipe", "-o", str(tmp_path / "l")
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "l" / "classes.txt").read_text().split() == ["abseiling", "zumba"]
    assert rows(tmp_path / "l" / "flowpipe_flow_train_split_1.txt") == [
        ("zumba/aaa_000000_000010", 3, 1),
        ("abseiling/bbb_000010_000020", 3, 0),
    ]
    assert [v for v, _, _ in rows(tmp_path / "l" / "flowpipe_flow_val_split_1.txt")] == [
        "zumba/ccc_000020_000030",
        "abseiling/ddd_000030_000040",
    ]
    assert (
        "left out 2 split video(s) not in the dataset (1 failed, 1 never extracted)"
        in result.stderr
    )
    assert "eee_000040_000050" in result.stderr
    strict = run_flowpipe(
        "lists", str(root), "--split", str(csv), "--strict", "-o", str(tmp_path / "s")
    )
    assert strict.returncode == 2 and strict.stderr.startswith("error: left out 2 split")
    assert len(strict.stderr.strip().splitlines()) == 1 and not (tmp_path / "s").exists()


def test_framework_formats_refuse_what_frameworks_cannot_read(tmp_path: Path) -> None:
    write_video(tmp_path / "zip", "a/v", [constant_field(1, 0, SIZE)] * 3, pack="zip")
    result = run_flowpipe("lists", str(tmp_path / "zip"), "-o", str(tmp_path / "l"))
    assert result.returncode == 2 and "packed as zip" in result.stderr
    assert (
        run_flowpipe(
            "lists", str(tmp_path / "zip"), "--format", "flowpipe", "-o", str(tmp_path / "l")
        ).returncode
        == 0
    )
    assert rows(tmp_path / "l" / "flowpipe_flow_all.txt") == [("a/v", 3, 0)]
    bad = run_flowpipe(
        "lists",
        str(tmp_path / "zip"),
        "--split",
        str(tmp_path / "none.csv"),
        "-o",
        str(tmp_path / "l"),
    )
    assert bad.returncode == 2 and "split file not found" in bad.stderr


def test_kinetics_csv_without_its_columns_is_one_error(tmp_path: Path) -> None:
    from flowpipe.data.splits import read_split

    (tmp_path / "k.csv").write_text("name,id\nx,y\n")
    with pytest.raises(ValueError, match=r"k.csv: not a Kinetics-style CSV \(no column 'label'"):
        read_split(tmp_path / "k.csv")
