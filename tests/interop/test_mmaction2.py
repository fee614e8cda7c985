"""mmaction2 itself reads what `flowpipe extract` and `flowpipe lists --format mmaction2` wrote:
its RawframeDataset with SampleFrames and RawFrameDecode, for flow and RGB."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from mmaction.datasets import RawframeDataset
from mmaction.datasets.transforms import RawFrameDecode, SampleFrames

from tests.conftest import run_flowpipe


def mmaction2_items(lists: Path, name: str, data: Path, **dataset) -> list[dict]:
    """Every item of mmaction2's RawframeDataset over one of our list files, each clip the
    whole video (clip_len = total_frames, test mode: indices start_index ..)."""
    first = (lists / name).read_text().split()
    clip_len = int(first[1])
    pipeline = [SampleFrames(clip_len=clip_len, num_clips=1, test_mode=True), RawFrameDecode()]
    ds = RawframeDataset(
        str(lists / name), pipeline, data_prefix=dict(img=str(data)), start_index=1, **dataset
    )
    return [ds[i] for i in range(len(ds))]


def read_gray(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def test_mmaction2_rawframe_dataset_reads_flow_and_rgb(
    cli_extracted: tuple[Path, Path], tmp_path: Path
) -> None:
    synth, out = cli_extracted
    lists = tmp_path / "lists"
    made = run_flowpipe("lists", str(out), "--split", str(synth / "videos"), "-o", str(lists))
    assert made.returncode == 0, made.stderr
    flow = mmaction2_items(
        lists,
        "mmaction2_flow_train_split_1.txt",
        out,
        filename_tmpl="flow_{}_{:05d}.jpg",
        modality="Flow",
    )
    lines = (lists / "mmaction2_flow_train_split_1.txt").read_text().splitlines()
    assert len(flow) == len(lines) == 4
    for item, line in zip(flow, lines, strict=True):
        video, flows, label = line.split()
        assert int(item["label"]) == int(label) and item["total_frames"] == int(flows) == 7
        assert list(item["frame_inds"]) == list(range(1, 8))  # first and last flow resolve
        fields = item["imgs"]  # mmaction2 1.2 stacks each flow's x and y: [H, W, 2]
        assert len(fields) == 7 and fields[0].shape == (48, 64, 2)
        for k in (1, 7):
            for c, axis in enumerate("xy"):
                stored = read_gray(out / video / f"flow_{axis}_{k:05d}.jpg")
                np.testing.assert_array_equal(fields[k - 1][..., c], stored)
    rgb = mmaction2_items(lists, "mmaction2_rgb_val_split_1.txt", out)
    video, frames, _ = (lists / "mmaction2_rgb_val_split_1.txt").read_text().split()[:3]
    assert rgb[0]["total_frames"] == int(frames) == 8 and len(rgb[0]["imgs"]) == 8
    last = cv2.imread(str(out / video / "img_00008.jpg"))[..., ::-1]
    np.testing.assert_array_equal(rgb[0]["imgs"][-1], last)
