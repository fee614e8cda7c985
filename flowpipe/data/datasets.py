"""PyTorch datasets over an extracted flow dataset: flow stacks (two-stream temporal net),
flow clips (I3D flow stream) and RGB frames (spatial stream).

Training items are one random sample per video per epoch; test items are one (video, τ)
each, holding every test crop, and `samples[i] = (video index, τ)` says which, so scores are
averaged per video by the evaluator. Randomness comes from torch's generator, which the
DataLoader seeds per worker and epoch: runs are reproducible under `torch.manual_seed`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from flowpipe.checks import choice, integer
from flowpipe.data.planes import EncodedFlow, FlowPlanes
from flowpipe.data.reader import VideoReader
from flowpipe.data.records import VideoRecord, load_records
from flowpipe.data.sampling import (
    SHORT_POLICIES,
    field_indices,
    stack_fields,
    start_range,
    test_starts,
    train_starts,
    window_starts,
)
from flowpipe.data.splits import Split
from flowpipe.data.stacking import chains_of, image_view, simple_stack, trajectory_stack
from flowpipe.data.transforms import View, test_views, train_view
from flowpipe.memory import keep_freed_memory

MODES = ("train", "test")
STACKINGS = ("simple", "trajectory")
SCALES = ("pixels", "unit")
I3D_FLOW_BOUND = 20.0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

SplitSpec = str | Path | Split | None


def _at_least_one(name: str, value: int) -> int:
    """value if it is an integer >= 1, else a ValueError naming the option."""
    return integer(name, value, minimum=1)


def worker_init(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: glibc keeps freed memory, so each item's fresh multi-MB
    buffers reuse pages instead of faulting new ones in (measured 1.1-1.4x stacks/s)."""
    keep_freed_memory()


def item_rng() -> np.random.Generator:
    """A numpy generator drawn from torch's (seeded per DataLoader worker and epoch)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ())))


class VideoDataset(Dataset):
    """The videos of a split with their labels; subclasses say what an item holds."""

    def __init__(
        self,
        root: str | Path,
        list_file: SplitSpec,
        mode: str,
        crop: int,
        fold: int,
        subset: str | None,
        missing: str,
    ) -> None:
        self.mode = choice("mode", mode, MODES)
        self.crop = _at_least_one("crop", crop)
        self.root = str(root)
        self.records, self.class_names = load_records(
            self.root, list_file, fold, subset or mode, missing
        )
        self.reader = VideoReader(self.root)
        self.samples: list[tuple[int, int | None]] = [(v, None) for v in range(len(self.records))]

    @property
    def num_classes(self) -> int:
        """Number of classes of the split."""
        return len(self.class_names)

    @property
    def video_ids(self) -> list[str]:
        """Ids of the videos, in record order."""
        return [r.video_id for r in self.records]

    @property
    def labels(self) -> list[int]:
        """Labels of the videos, in record order."""
        return [r.label for r in self.records]

    def __len__(self) -> int:
        return len(self.samples)

    def video_of(self, index: int) -> int:
        """Index (into records) of the video that item `index` comes from."""
        return self.samples[index][0]


class FlowStackDataset(VideoDataset):
    """Stacks of L flow fields, 2L channels x_1, y_1, x_2, y_2, … (the two-stream temporal net).

    Values are displacements in pixels (dequantised; scaled by the resize of a multi-scale
    crop) or, with scale="unit", divided by the dataset's bound. subtract_mean removes each
    displacement field's mean over the crop (the paper's camera-motion compensation).
    flip=False turns off training mirrors (classes a mirror changes, e.g. left vs right).
    stacking="trajectory" samples along trajectories; bidirectional=True stacks L/2 backward
    fields before τ then L/2 forward fields from τ. Train items: (float32 [2L, crop, crop] or,
    with segments=K > 1, [K, 2L, crop, crop], label); test items: ([crops, 2L, crop, crop],
    label) for each of `test_stacks` evenly spaced τ of each video. Videos with fewer fields
    than a stack needs follow `short` (see flowpipe.data.sampling).
    """

    def __init__(
        self,
        root: str | Path,
        list_file: SplitSpec = None,
        L: int = 10,
        stacking: str = "simple",
        bidirectional: bool = False,
        mode: str = "train",
        crop: int = 224,
        scale: str = "pixels",
        subtract_mean: bool = True,
        augment: str = "crop",
        segments: int = 1,
        test_stacks: int = 25,
        test_crops: int = 10,
        short: str = "loop",
        fold: int = 1,
        subset: str | None = None,
        missing: str = "error",
        flip: bool = True,
    ) -> None:
        super().__init__(root, list_file, mode, crop, fold, subset, missing)
        self.flip = flip
        self.stacking = choice("stacking", stacking, STACKINGS)
        self.scale = choice("scale", scale, SCALES)
        self.short = choice("short", short, SHORT_POLICIES)
        self.augment = augment
        self.subtract_mean = subtract_mean
        self.segments = _at_least_one("segments", segments)
        self.test_crops = test_crops
        self.fields = stack_fields(_at_least_one("L", L), bidirectional)
        self.chains = chains_of(self.fields)
        self._check_lengths()
        if mode == "test":
            self.samples = [
                (v, tau)
                for v, rec in enumerate(self.records)
                for tau in test_starts(rec.flows, self.fields, test_stacks)
            ]

    def _check_lengths(self) -> None:
        """Fail early (not in a worker) on a short video under short="error"."""
        for rec in self.records:
            first, last = start_range(rec.flows, self.fields)
            if first > last:
                field_indices(first, self.fields, rec.flows, self.short, rec.video_id)
            if any(back for _, back in self.fields) and not rec.backward:
                raise ValueError(f"video {rec.video_id!r} has no backward flow (--no-backward)")

    def stacks(self, rec: VideoRecord, start: int, views: list[View]) -> torch.Tensor:
        """[len(views), 2L, crop, crop]: the stack at τ=start seen through each view (decoded
        once for all of them when there are several)."""
        planes = self._planes(rec, start)
        source = planes.decoded() if len(views) > 1 else planes
        return torch.stack([self._view_stack(source, rec, view) for view in views])

    def _planes(self, rec: VideoRecord, start: int) -> EncodedFlow:
        """The stored planes of the stack at τ=start (short-video policy applied)."""
        indices = field_indices(start, self.fields, rec.flows, self.short, rec.video_id)
        return self.reader.flow_planes(rec, indices)

    def _view_stack(self, source: FlowPlanes, rec: VideoRecord, view: View) -> torch.Tensor:
        """[2L, S, S]: one view of a stack, the mean subtracted (by the stacking functions) and
        the scale applied (in place: they return fresh tensors)."""
        if self.stacking == "trajectory":
            stack = trajectory_stack(source, rec.bound, view, self.chains, self.subtract_mean)
        else:
            stack = simple_stack(source, rec.bound, view, self.subtract_mean)
        if self.scale == "unit":
            stack.div_(rec.bound)
        return stack.view(-1, *stack.shape[-2:])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        v, tau = self.samples[index]
        rec = self.records[v]
        if self.mode == "test":
            views = test_views(rec.width, rec.height, self.crop, self.test_crops)
            return self.stacks(rec, tau, views), rec.label
        rng = item_rng()
        view = train_view(rng, rec.width, rec.height, self.crop, self.augment, self.flip)
        starts = train_starts(rng, rec.flows, self.fields, self.segments)
        items = [self._view_stack(self._planes(rec, s), rec, view) for s in starts]
        return (items[0] if self.segments == 1 else torch.stack(items)), rec.label


class FlowClipDataset(VideoDataset):
    """Clips of T consecutive forward flows for I3D: float32 [2, T, crop, crop] in [-1, 1]
    (flow clipped to ±20 px, then divided by 20, as I3D does), and the label.

    Train: a random τ, random crop (or multi-scale) and mirror (x negated). Test: the whole
    video in consecutive T-flow windows (`samples[i] = (video, τ)`), centre crop.
    """

    def __init__(
        self,
        root: str | Path,
        list_file: SplitSpec = None,
        T: int = 64,
        mode: str = "train",
        crop: int = 224,
        augment: str = "crop",
        short: str = "loop",
        fold: int = 1,
        subset: str | None = None,
        missing: str = "error",
        flip: bool = True,
    ) -> None:
        super().__init__(root, list_file, mode, crop, fold, subset, missing)
        self.flip = flip
        self.T = _at_least_one("T", T)
        self.augment = augment
        self.short = choice("short", short, SHORT_POLICIES)
        self.fields = stack_fields(T, False)
        for rec in self.records:
            field_indices(1, self.fields, rec.flows, self.short, rec.video_id)
        if mode == "test":
            self.samples = [
                (v, tau)
                for v, rec in enumerate(self.records)
                for tau in window_starts(rec.flows, T)
            ]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        v, tau = self.samples[index]
        rec = self.records[v]
        if self.mode == "test":
            view = test_views(rec.width, rec.height, self.crop, 1)[0]
        else:
            rng = item_rng()
            view = train_view(rng, rec.width, rec.height, self.crop, self.augment, self.flip)
            tau = train_starts(rng, rec.flows, self.fields)[0]
        indices = field_indices(tau, self.fields, rec.flows, self.short, rec.video_id)
        stack = simple_stack(self.reader.flow_planes(rec, indices), rec.bound, view)
        clip = stack.clamp(-I3D_FLOW_BOUND, I3D_FLOW_BOUND) / I3D_FLOW_BOUND
        return clip.transpose(0, 1).contiguous(), rec.label


class FrameDataset(VideoDataset):
    """Single RGB frames (the `img_` files) for the spatial stream: float32 [3, crop, crop],
    ImageNet-normalised (normalize=False: 0..1). Train: one random frame, random crop and
    mirror; test: `test_frames` evenly spaced frames, each item [crops, 3, crop, crop]."""

    def __init__(
        self,
        root: str | Path,
        list_file: SplitSpec = None,
        mode: str = "train",
        crop: int = 224,
        augment: str = "crop",
        test_frames: int = 25,
        test_crops: int = 10,
        normalize: bool = True,
        fold: int = 1,
        subset: str | None = None,
        missing: str = "error",
        flip: bool = True,
    ) -> None:
        super().__init__(root, list_file, mode, crop, fold, subset, missing)
        self.flip = flip
        self.augment = augment
        self.test_crops = test_crops
        self.normalize = normalize
        no_rgb = [r.video_id for r in self.records if not r.rgb]
        if no_rgb:
            raise ValueError(f"video {no_rgb[0]!r} has no RGB frames (extract with --rgb)")
        if mode == "test":
            self.samples = [
                (v, int(round(k)))
                for v, rec in enumerate(self.records)
                for k in np.linspace(1, rec.frames, test_frames)
            ]

    def _prepare(self, image: torch.Tensor) -> torch.Tensor:
        """ImageNet normalisation of a [3, S, S] 0..1 image (when asked)."""
        if not self.normalize:
            return image
        mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
        std = torch.tensor(IMAGENET_STD)[:, None, None]
        return (image - mean) / std

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        v, k = self.samples[index]
        rec = self.records[v]
        if self.mode == "test":
            frame = self.reader.frames(rec, [k])[0]
            views = test_views(rec.width, rec.height, self.crop, self.test_crops)
            return torch.stack([self._prepare(image_view(frame, w)) for w in views]), rec.label
        rng = item_rng()
        frame = self.reader.frames(rec, [int(rng.integers(1, rec.frames + 1))])[0]
        view = train_view(rng, rec.width, rec.height, self.crop, self.augment, self.flip)
        return self._prepare(image_view(frame, view)), rec.label
