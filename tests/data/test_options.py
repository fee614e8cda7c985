"""The datasets' option objects (samplers, view policy, split options) and their flat
keywords: the old keywords build the same datasets, giving identical items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from flowpipe.data import (
    ClipSampler,
    FlowClipDataset,
    FlowStackDataset,
    FrameDataset,
    FrameSampler,
    SplitOptions,
    StackSampler,
    ViewPolicy,
)
from tests.data.flowsets import rotation_field, write_labels, write_video, zoom_field

SIZE = (56, 44)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Two classes x 2 videos of varied flow (one short), backward flow and RGB frames."""
    root = tmp_path_factory.mktemp("options")
    rng = np.random.default_rng(0)
    rows = []
    for i, flows in enumerate((12, 9, 14, 5)):
        fields = [
            rotation_field(0.02 * (k + 1), SIZE) + zoom_field(0.01 * i, SIZE) for k in range(flows)
        ]
        frames = [
            rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8) for _ in range(flows + 1)
        ]
        vid = f"c{i % 2}/v{i}"
        write_video(root, vid, fields, [-f for f in fields], label=i % 2, frames=frames)
        rows.append((vid, flows, i % 2))
    write_labels(root, rows)
    return root


def items(ds, seed: int = 7) -> list[torch.Tensor]:
    """Every item of ds twice under one seed (random training views differ between the two)."""
    torch.manual_seed(seed)
    return [ds[i][0] for i in range(len(ds)) for _ in range(2)]


def assert_same(a, b) -> None:
    assert a.samples == b.samples and a.video_ids == b.video_ids
    for x, y in zip(items(a), items(b), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


STACK_CASES = [
    dict(L=4, crop=32, augment="multiscale", segments=3, scale="unit", flip=False),
    dict(L=6, crop=40, stacking="trajectory", short="pad", subtract_mean=False),
    dict(L=4, bidirectional=True, mode="test", crop=32, test_stacks=3, test_crops=1, fold=1),
]


@pytest.mark.parametrize("kw", STACK_CASES)
def test_stack_keywords_build_the_same_dataset_as_objects(root: Path, kw: dict) -> None:
    kw = dict(kw)
    mode = kw.pop("mode", "train")
    sampler_keys = {"L", "stacking", "bidirectional", "segments", "short", "test_stacks"}
    view_keys = {"crop", "augment", "flip", "test_crops", "scale", "subtract_mean"}
    sampler = StackSampler(**{k: v for k, v in kw.items() if k in sampler_keys})
    view = ViewPolicy(**{k: v for k, v in kw.items() if k in view_keys})
    split = SplitOptions(**{k: v for k, v in kw.items() if k in {"fold", "subset", "missing"}})
    by_objects = FlowStackDataset(root, mode=mode, sampler=sampler, view=view, split=split)
    by_keywords = FlowStackDataset(root, mode=mode, **kw)
    assert by_objects.sampler == by_keywords.sampler and by_objects.view == by_keywords.view
    assert_same(by_keywords, by_objects)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_clip_and_frame_keywords_build_the_same_datasets(root: Path, mode: str) -> None:
    clips = FlowClipDataset(root, mode=mode, T=6, crop=32, augment="multiscale", short="pad")
    view = ViewPolicy(crop=32, augment="multiscale", test_crops=1, scale="i3d", subtract_mean=False)
    objects = FlowClipDataset(root, mode=mode, sampler=ClipSampler(T=6, short="pad"), view=view)
    assert_same(clips, objects)
    assert float(clips[0][0].abs().max()) <= 1.0 and clips[0][0].shape == (2, 6, 32, 32)
    frames = FrameDataset(root, mode=mode, crop=32, test_frames=3, test_crops=1, normalize=False)
    view = ViewPolicy(crop=32, test_crops=1)
    sampler = FrameSampler(test_frames=3)
    assert_same(frames, FrameDataset(root, mode=mode, sampler=sampler, view=view, normalize=False))


def test_a_keyword_overrides_the_objects_field(root: Path) -> None:
    ds = FlowStackDataset(root, sampler=StackSampler(L=4, stacking="trajectory"), L=2, crop=32)
    assert ds.sampler == StackSampler(L=2, stacking="trajectory")
    assert ds.view == ViewPolicy(crop=32) and ds[0][0].shape == (4, 32, 32)


def test_bad_options_name_the_field(root: Path) -> None:
    for make, msg in [
        (lambda: StackSampler(L=0), "L must be an integer >= 1"),
        (lambda: StackSampler(L=3, bidirectional=True), "even when bidirectional"),
        (lambda: StackSampler(segments=0), "segments must be"),
        (lambda: ClipSampler(T=0), "T must be"),
        (lambda: ViewPolicy(scale="metres"), "scale must be one of"),
        (lambda: ViewPolicy(test_crops=5), "test_crops must be one of"),
        (lambda: SplitOptions(missing="ignore"), "missing must be one of"),
        (lambda: FlowClipDataset(root, test_crops=10), "test_crops must be 1"),
    ]:
        with pytest.raises(ValueError, match=msg):
            make()
    with pytest.raises(TypeError, match="unexpected keyword argument 'Length'"):
        FlowStackDataset(root, Length=4)
    with pytest.raises(TypeError, match="unexpected keyword argument 'T'"):
        FlowStackDataset(root, T=4)


def test_objects_are_frozen_and_picklable() -> None:
    import pickle

    sampler = StackSampler(L=4, bidirectional=True)
    assert pickle.loads(pickle.dumps(sampler)) == sampler
    assert sampler.fields == [(-2, True), (-1, True), (0, False), (1, False)] and sampler.backward
    with pytest.raises(AttributeError):
        sampler.L = 6  # type: ignore[misc]
