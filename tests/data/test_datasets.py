"""FlowStackDataset, FlowClipDataset and FrameDataset: channel order, mean, bidirectional
stacks, short videos, bad input, and DataLoaders over real extracted datasets."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from flowpipe.data import FlowClipDataset, FlowStackDataset, FrameDataset
from flowpipe.extraction.settings import ExtractSettings
from flowpipe.extraction.tasks import VideoTask
from flowpipe.extraction.worker import VideoJob, extract_video
from flowpipe.flow import preset
from flowpipe.storage import DatasetStore
from flowpipe.storage.codec import CodecError
from flowpipe.storage.dataset import StoreSpec
from flowpipe.synth import write_dataset
from tests.data.flowsets import (
    constant_field,
    rotation_field,
    stored,
    write_labels,
    write_video,
)

SIZE = (48, 40)
BOUND = 20.0


def value(v: float) -> float:
    """What a constant field of value v reads back as (quantised)."""
    return float(stored(np.array([v], np.float32), BOUND)[0])


def numbered_video(root: Path, video_id: str, flows: int, label: int = 0, **kw) -> None:
    """Forward field k is (k, -k/2), backward field k is (-k - 0.25, k/4): each identifiable."""
    forward = [constant_field(k, -k / 2, SIZE) for k in range(1, flows + 1)]
    backward = [constant_field(-k - 0.25, k / 4, SIZE) for k in range(1, flows + 1)]
    write_video(root, video_id, forward, backward, label=label, bound=BOUND, **kw)


@pytest.fixture
def numbered(tmp_path: Path) -> Path:
    numbered_video(tmp_path, "a/long", 12, 0)
    numbered_video(tmp_path, "b/short", 3, 1)
    write_labels(tmp_path, [("a/long", 12, 0), ("b/short", 3, 1)])
    return tmp_path


def channel_values(stack: torch.Tensor) -> list[float]:
    """The constant value of each channel of a [C, S, S] stack."""
    assert torch.allclose(stack, stack.mean(dim=(-2, -1), keepdim=True), atol=1e-5)
    return [round(float(c), 4) for c in stack.mean(dim=(-2, -1))]


def expected(fields: list[tuple[int, bool]]) -> list[float]:
    """Channel values x_1, y_1, x_2, y_2, ... of the numbered fields (index, backward)."""
    out = []
    for k, back in fields:
        x, y = (-k - 0.25, k / 4) if back else (k, -k / 2)
        out += [round(value(x), 4), round(value(y), 4)]
    return out


def test_channel_order_is_x1_y1_x2_y2(numbered: Path) -> None:
    ds = FlowStackDataset(
        numbered, L=4, mode="test", crop=32, subtract_mean=False, test_stacks=3, test_crops=1
    )
    assert [tau for v, tau in ds.samples if v == 0] == [1, 5, 9]
    stacks, label = ds[1]
    assert stacks.shape == (1, 8, 32, 32) and label == 0
    assert channel_values(stacks[0]) == expected([(5, False), (6, False), (7, False), (8, False)])


def test_bidirectional_takes_backward_fields_before_tau(numbered: Path) -> None:
    ds = FlowStackDataset(
        numbered,
        L=4,
        bidirectional=True,
        mode="test",
        crop=32,
        subtract_mean=False,
        test_stacks=2,
        test_crops=1,
    )
    (v, tau) = ds.samples[1]
    assert (v, tau) == (0, 11)  # τ runs over 3..11: b_{τ-2}, b_{τ-1}, d_τ, d_{τ+1} exist
    assert channel_values(ds[1][0][0]) == expected(
        [(9, True), (10, True), (11, False), (12, False)]
    )


@pytest.mark.parametrize(
    ("short", "indices"), [("loop", [1, 2, 3, 1, 2]), ("pad", [1, 2, 3, 3, 3])]
)
def test_short_video_policies(numbered: Path, short: str, indices: list[int]) -> None:
    ds = FlowStackDataset(
        numbered,
        L=5,
        mode="test",
        crop=32,
        subtract_mean=False,
        test_stacks=1,
        test_crops=1,
        short=short,
    )
    short_item = next(i for i, (v, _) in enumerate(ds.samples) if v == 1)
    assert channel_values(ds[short_item][0][0]) == expected([(k, False) for k in indices])


def test_short_video_error_names_the_video(numbered: Path) -> None:
    with pytest.raises(ValueError, match=r"'b/short' has 3 flows, too few for a stack of 5"):
        FlowStackDataset(numbered, L=5, crop=32, short="error")


def test_mean_subtraction_and_unit_scale_are_exact(tmp_path: Path) -> None:
    field = rotation_field(0.1, SIZE) + constant_field(3.0, -2.0, SIZE)
    write_video(tmp_path, "r", [field] * 6, bound=BOUND)
    kw = dict(L=3, mode="test", crop=32, test_stacks=2, test_crops=10)
    raw, _ = FlowStackDataset(tmp_path, subtract_mean=False, **kw)[0]
    centred, _ = FlowStackDataset(tmp_path, **kw)[0]
    unit, _ = FlowStackDataset(tmp_path, scale="unit", **kw)[0]
    assert raw.shape == (10, 6, 32, 32)
    torch.testing.assert_close(centred, raw - raw.mean(dim=(-2, -1), keepdim=True))
    torch.testing.assert_close(unit, centred / BOUND)
    assert centred.mean(dim=(-2, -1)).abs().max() < 1e-5


def test_ten_crops_flip_the_last_five(tmp_path: Path) -> None:
    write_video(tmp_path, "r", [rotation_field(0.1, SIZE)] * 4, bound=BOUND)
    views, _ = FlowStackDataset(
        tmp_path, L=2, mode="test", crop=32, subtract_mean=False, test_stacks=1
    )[0]
    torch.testing.assert_close(views[5:, 0::2], -views[:5, 0::2].flip(-1))
    torch.testing.assert_close(views[5:, 1::2], views[:5, 1::2].flip(-1))


def test_training_items_segments_and_determinism(numbered: Path) -> None:
    ds = FlowStackDataset(numbered, L=4, crop=32, augment="multiscale", segments=3)
    torch.manual_seed(5)
    first = [ds[i][0] for i in range(len(ds))]
    torch.manual_seed(5)
    again = [ds[i][0] for i in range(len(ds))]
    assert first[0].shape == (3, 8, 32, 32)
    for a, b in zip(first, again, strict=True):
        torch.testing.assert_close(a, b)
    assert len(FlowStackDataset(numbered, L=4, crop=32)[0][0]) == 8


def test_clip_dataset_is_2_by_t_in_unit_range(tmp_path: Path) -> None:
    forward = [constant_field(25.0 if k % 2 else k, -k, SIZE) for k in range(1, 9)]
    write_video(tmp_path, "c", forward, bound=30.0)
    clips = FlowClipDataset(tmp_path, T=4, mode="test", crop=32)
    assert [tau for _, tau in clips.samples] == [1, 5]
    clip, _ = clips[1]
    assert clip.shape == (2, 4, 32, 32)
    xs = [round(float(clip[0, t].mean()), 3) for t in range(4)]
    ys = [round(float(clip[1, t].mean()), 3) for t in range(4)]
    # Fields 5..8: x = 25 (clipped to 20 -> 1.0) or k / 20; y = -k / 20.
    q = lambda v: round(float(stored(np.array([v], np.float32), 30.0)[0]) / 20, 3)  # noqa: E731
    assert xs == [1.0, q(6), 1.0, q(8)] and ys == [q(-5), q(-6), q(-7), q(-8)]
    train = FlowClipDataset(tmp_path, T=4, crop=32)
    assert train[0][0].shape == (2, 4, 32, 32) and train[0][0].abs().max() <= 1.0


def test_frame_dataset_reads_rgb_and_normalises(tmp_path: Path) -> None:
    frames = [np.full((SIZE[1], SIZE[0], 3), (200, 100, 50), np.uint8) for _ in range(5)]
    frames[2][:, : SIZE[0] // 2] = (0, 0, 0)  # left half black on frame 3
    write_video(tmp_path, "f", [constant_field(0, 0, SIZE)] * 4, frames=frames, bound=BOUND)
    ds = FrameDataset(tmp_path, mode="test", crop=32, test_frames=5, normalize=False)
    assert [k for _, k in ds.samples] == [1, 2, 3, 4, 5]
    views, _ = ds[2]
    assert views.shape == (10, 3, 32, 32)
    centre, mirrored = views[4], views[9]
    assert centre[:, :, 0].max() < 0.05 and mirrored[:, :, -1].max() < 0.05
    assert abs(float(views[0][0, 0, -1]) - 200 / 255) < 0.03
    norm = FrameDataset(tmp_path, mode="train", crop=32)[0][0]
    red = (200 / 255 - 0.485) / 0.229  # ImageNet mean and std of the red channel
    assert norm.shape == (3, 32, 32) and abs(float(norm[0].max()) - red) < 0.05


def test_missing_flow_file_names_the_file(numbered: Path) -> None:
    (numbered / "a" / "long" / "flow_y_00006.jpg").unlink()
    ds = FlowStackDataset(numbered, L=4, mode="test", crop=32, test_stacks=3, test_crops=1)
    with pytest.raises(FileNotFoundError, match=r"'a/long': file 'flow_y_00006.jpg' not found"):
        ds[1]


def test_truncated_jpeg_names_the_file(numbered: Path) -> None:
    path = numbered / "a" / "long" / "flow_x_00002.jpg"
    path.write_bytes(path.read_bytes()[:200])
    ds = FlowStackDataset(numbered, L=4, mode="test", crop=32, test_stacks=3, test_crops=1)
    with pytest.raises(CodecError, match=r"a/long/flow_x_00002.jpg: truncated JPEG"):
        ds[0]


def test_unknown_video_in_list_is_an_error(numbered: Path, tmp_path_factory) -> None:
    lst = tmp_path_factory.mktemp("lists") / "train.txt"
    lst.write_text("a/long 12 0\nc/never 5 1\n")
    with pytest.raises(ValueError, match=r"not in .*'c/never' \(never extracted"):
        FlowStackDataset(numbered, lst, crop=32)
    with pytest.warns(UserWarning, match="skipping 1 split videos"):
        assert FlowStackDataset(numbered, lst, crop=32, missing="skip").video_ids == ["a/long"]


def test_bad_options_are_value_errors(numbered: Path) -> None:
    for kw, msg in [
        ({"stacking": "curly"}, "stacking must be"),
        ({"L": 0}, "L must be"),
        ({"L": 3, "bidirectional": True}, "even when bidirectional"),
        ({"mode": "val"}, "mode must be"),
        ({"crop": 64}, "crop 64 does not fit"),
        ({"augment": "zoom"}, "augment must be"),
    ]:
        with pytest.raises(ValueError, match=msg):
            FlowStackDataset(numbered, **{"crop": 32, **kw})[0]
    with pytest.raises(ValueError, match="no RGB frames"):
        FrameDataset(numbered, crop=32)


# -- real extracted datasets ------------------------------------------------------------------


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[str, Path]:
    """flowpipe synth -> extract_video (the unit flowpipe extract runs), folder and zip."""
    synth = write_dataset(
        tmp_path_factory.mktemp("synth"),
        videos_per_class=2,
        frames=9,
        size=(64, 48),
        classes=["translate_right", "rotate_cw"],
    )
    settings = ExtractSettings(params=preset("fast"))
    out = {}
    for pack in ("folder", "zip"):
        root = tmp_path_factory.mktemp(pack)
        rows = []
        for line in (synth / "videos" / "labels.txt").read_text().splitlines():
            name, label = line.split()
            vid = name.rsplit(".", 1)[0]
            task = VideoTask(str(synth / "videos" / name), vid, int(label))
            spec = StoreSpec(str(root), pack)
            meta = extract_video(VideoJob(task, settings, spec, "cpu", chunk_pairs=8))
            rows.append((vid, meta["flows"], int(label)))
        DatasetStore(str(root)).write_video_list(rows)
        out[pack] = root
    return out


def loader_batches(root: Path, seed: int, **kw) -> list[torch.Tensor]:
    ds = FlowStackDataset(root, crop=32, L=4, **kw)
    torch.manual_seed(seed)
    loader = DataLoader(ds, batch_size=2, num_workers=2, shuffle=True)
    return [x for x, _ in loader]


@pytest.mark.parametrize(
    "kw", [{"stacking": "trajectory"}, {"mode": "test", "test_stacks": 2, "bidirectional": True}]
)
def test_dataloader_workers_folder_and_zip_identical(extracted: dict[str, Path], kw: dict) -> None:
    folder = loader_batches(extracted["folder"], 3, **kw)
    packed = loader_batches(extracted["zip"], 3, **kw)
    assert len(folder) == len(packed) > 1
    for a, b in zip(folder, packed, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert any(float(x.abs().max()) > 0.1 for x in folder)  # real motion, not zeros
    ds = FlowStackDataset(extracted["zip"], crop=32, L=4)
    assert ds.class_names == ["translate_right", "rotate_cw"] and sorted(ds.labels) == [0, 0, 1, 1]


def test_no_flip_never_mirrors_training_views(numbered: Path) -> None:
    torch.manual_seed(0)
    kept = FlowStackDataset(numbered, L=4, crop=32, subtract_mean=False, flip=False)
    assert all(float(kept[0][0][0::2].mean()) > 0 for _ in range(12))  # x fields are +k
    flipping = FlowStackDataset(numbered, L=4, crop=32, subtract_mean=False)
    assert any(float(flipping[0][0][0::2].mean()) < 0 for _ in range(12))


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_items_are_the_same_with_and_without_the_index(
    extracted: dict[str, Path], tmp_path: Path, pack: str
) -> None:
    """The loaders read the index when the dataset has one, the meta.json files otherwise."""
    from flowpipe.storage.reindex import rebuild_index

    indexed = tmp_path / "indexed"
    shutil.copytree(extracted[pack], indexed)
    assert rebuild_index(DatasetStore(str(indexed))) == 4
    assert DatasetStore(str(extracted[pack])).index() is None
    for kind, kw in ((FlowStackDataset, {"L": 4}), (FlowClipDataset, {"T": 4})):
        for mode in ("train", "test"):
            a = kind(extracted[pack], crop=32, mode=mode, **kw)
            b = kind(indexed, crop=32, mode=mode, **kw)
            assert a.video_ids == b.video_ids and a.labels == b.labels and a.samples == b.samples
            torch.manual_seed(3)
            first = [a[i][0] for i in range(len(a))]
            torch.manual_seed(3)
            second = [b[i][0] for i in range(len(b))]
            assert all(torch.equal(x, y) for x, y in zip(first, second, strict=True))
    assert len(pickle.dumps(FlowStackDataset(indexed, crop=32, L=4, mode="test"))) < 20_000
