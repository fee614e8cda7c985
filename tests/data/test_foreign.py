"""The loaders on flow that other tools wrote: a denseflow (0-based rawframes) copy and a
two-stream (u/v) copy of a dataset `flowpipe extract` wrote give the same stacks and clips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from flowpipe.data import FlowClipDataset, FlowStackDataset, FrameDataset
from flowpipe.storage import RawframeStore, open_store
from tests.conftest import run_flowpipe
from tests.storage.foreign_copies import rawframes_copy, two_stream_copy


@pytest.fixture(scope="module")
def copies(cli_extracted: tuple[Path, Path], tmp_path_factory) -> dict[str, Path]:
    """The extracted dataset, its denseflow copy with an mmaction2 list, its two-stream copy."""
    synth, out = cli_extracted
    work = tmp_path_factory.mktemp("foreign")
    dense = rawframes_copy(out, work / "dense", start=0)
    lists = work / "lists"
    made = run_flowpipe("lists", str(out), "--split", str(synth / "videos"), "-o", str(lists))
    assert made.returncode == 0, made.stderr
    assert (
        not (dense / "flowpipe.json").exists()
        and (dense / "rotate_cw/rotate_cw_000/flow_x_00000.jpg").is_file()
    )
    return {
        "synth": synth,
        "original": out,
        "dense": dense,
        "list": lists / "mmaction2_flow_train_split_1.txt",
        "two_stream": two_stream_copy(out, work / "tvl1"),
    }


def all_items(ds, seed: int = 3) -> list[torch.Tensor]:
    torch.manual_seed(seed)
    return [ds[i][0] for i in range(len(ds)) for _ in range(2)]


def assert_same_items(a, b) -> None:
    assert a.video_ids == b.video_ids and a.labels == b.labels and a.samples == b.samples
    for x, y in zip(all_items(a), all_items(b), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


@pytest.mark.parametrize(
    "kw",
    [
        dict(L=4, crop=32, stacking="trajectory", augment="multiscale"),
        dict(L=4, crop=32, mode="test", test_stacks=3),
    ],
)
def test_denseflow_copy_gives_the_same_stacks(copies: dict[str, Path], kw: dict) -> None:
    dense = open_store(copies["dense"], bound=20, video_list=copies["list"])
    assert isinstance(dense, RawframeStore) and dense.layout.description == "rawframes (0-based)"
    original = FlowStackDataset(copies["original"], copies["list"], **kw)
    foreign = FlowStackDataset(dense, copies["list"], **kw)
    assert len(foreign.video_ids) == 4 and foreign.class_names == ["translate_right", "rotate_cw"]
    assert_same_items(original, foreign)


def test_two_stream_copy_gives_the_same_clips_and_folder_labels(copies: dict[str, Path]) -> None:
    store = open_store(copies["two_stream"], bound=20)
    assert store.layout.description == "two-stream (1-based)" and len(store.list_done()) == 6
    original = FlowClipDataset(copies["original"], copies["list"], T=5, crop=32)
    foreign = FlowClipDataset(store, copies["list"], T=5, crop=32)
    assert_same_items(original, foreign)
    by_folders = FlowStackDataset(store, L=2, crop=32)  # labels: the class folders, sorted
    assert by_folders.class_names == ["rotate_cw", "translate_right"] and len(by_folders) == 6


def test_foreign_rgb_frames_and_what_a_layout_lacks(copies: dict[str, Path]) -> None:
    dense = open_store(copies["dense"], bound=20)
    kw = dict(crop=32, mode="test", test_frames=2, test_crops=1)
    original = FrameDataset(copies["original"], copies["list"], **kw)
    assert_same_items(original, FrameDataset(dense, copies["list"], **kw))
    with pytest.raises(ValueError, match="has no backward flow"):
        FlowStackDataset(dense, L=4, bidirectional=True, crop=32)
    with pytest.raises(ValueError, match="has no RGB frames"):
        FrameDataset(open_store(copies["two_stream"], bound=20), crop=32)


def test_a_foreign_root_without_its_bound_is_one_clear_error(copies: dict[str, Path]) -> None:
    with pytest.raises(
        ValueError, match=r"rawframes \(0-based\) flow without flowpipe.json.*--bound 20"
    ):
        FlowStackDataset(copies["dense"], L=2, crop=32)
