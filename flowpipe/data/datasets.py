"""PyTorch datasets over an extracted flow dataset: flow stacks (two-stream temporal net),
flow clips (I3D flow stream) and RGB frames (spatial stream).

Each dataset is configured by option objects, as pytorchvideo's datasets take a clip sampler
and a transform: a sampler (which fields or frames, which τ: `StackSampler`, `ClipSampler`,
`FrameSampler`), a view policy (crop, mirror, test crops, value scale: `ViewPolicy`) and
`SplitOptions` (fold, subset, missing videos). Every field of these is also a keyword of the
dataset (`FlowStackDataset(root, L=10, crop=224)`; see flowpipe.data.options).

Training items are one random sample per video per epoch; test items are one (video, τ)
each, holding every test crop, and `samples[i] = (video index, τ)` says which, so scores are
averaged per video by the evaluator. Randomness comes from torch's generator, which the
DataLoader seeds per worker and epoch: runs are reproducible under `torch.manual_seed`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from flowpipe.checks import choice
from flowpipe.data.options import with_keywords
from flowpipe.data.planes import EncodedFlow, FlowPlanes
from flowpipe.data.reader import VideoReader
from flowpipe.data.records import SplitOptions, VideoRecord, load_records
from flowpipe.data.sampling import ClipSampler, FieldSampler, FrameSampler, StackSampler
from flowpipe.data.splits import Split
from flowpipe.data.stacking import chains_of, image_view, simple_stack, trajectory_stack
from flowpipe.data.transforms import View, ViewPolicy
from flowpipe.memory import keep_freed_memory
from flowpipe.storage import DatasetStore, RawframeStore, as_store

MODES = ("train", "test")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_VIEW = ViewPolicy(test_crops=1, scale="i3d", subtract_mean=False)

SplitSpec = str | Path | Split | None
Root = str | Path | DatasetStore | RawframeStore


def worker_init(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: glibc keeps freed memory, so each item's fresh multi-MB
    buffers reuse pages instead of faulting new ones in (docs/benchmarks.md, loader)."""
    keep_freed_memory()


def item_rng() -> np.random.Generator:
    """A numpy generator drawn from torch's (seeded per DataLoader worker and epoch)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ())))


class Samples(Sequence[tuple[int, int | None]]):
    """The items of a dataset as (video index, start or None), kept as two int32 arrays (start
    -1 for None): a test set of 200,000 videos x 25 stacks is 40 MB of arrays, not 5 million
    tuples to pickle into every DataLoader worker."""

    def __init__(self, videos: np.ndarray, starts: np.ndarray | None = None) -> None:
        self.videos = np.asarray(videos, dtype=np.int32)
        self.starts = np.full(len(self.videos), -1, np.int32) if starts is None else starts

    @classmethod
    def of_starts(cls, flows: np.ndarray, starts: Callable[[int], Sequence[int]]) -> Samples:
        """Every (video, start) that `starts(flows of the video)` gives, video by video."""
        per_video = [np.asarray(starts(int(n)), dtype=np.int32) for n in flows]
        counts = [len(s) for s in per_video]
        videos = np.repeat(np.arange(len(per_video), dtype=np.int32), counts)
        joined = np.concatenate(per_video) if per_video else np.zeros(0, np.int32)
        return cls(videos, joined.astype(np.int32))

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> tuple[int, int | None]:  # type: ignore[override]
        start = int(self.starts[index])
        return int(self.videos[index]), None if start < 0 else start

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Samples):
            return np.array_equal(self.videos, other.videos) and np.array_equal(
                self.starts, other.starts
            )
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class VideoDataset(Dataset):
    """The videos of a split with their labels, seen through a view policy; subclasses say
    what an item holds."""

    def __init__(
        self,
        root: Root,
        list_file: SplitSpec,
        mode: str,
        view: ViewPolicy,
        split: SplitOptions,
    ) -> None:
        self.mode = choice("mode", mode, MODES)
        self.view = view
        self.split = split
        self.store = as_store(root)
        self.root = self.store.url
        self.records, self.class_names = load_records(
            self.store, list_file, split.fold, split.subset or mode, split.missing
        )
        self.reader = VideoReader(self.store)
        self.samples = Samples(np.arange(len(self.records), dtype=np.int32))

    @property
    def num_classes(self) -> int:
        """Number of classes of the split."""
        return len(self.class_names)

    @property
    def video_ids(self) -> list[str]:
        """Ids of the videos, in record order."""
        return [self.records.video_id(i) for i in range(len(self.records))]

    @property
    def labels(self) -> list[int]:
        """Labels of the videos, in record order."""
        return self.records.labels.tolist()

    def __len__(self) -> int:
        return len(self.samples)

    def video_of(self, index: int) -> int:
        """Index (into records) of the video that item `index` comes from."""
        return self.samples[index][0]


class FlowDataset(VideoDataset):
    """Items of flow fields chosen by a sampler, seen through a view policy: [n, 2, S, S]
    displacements per view (mean subtracted and scaled as the policy says)."""

    def __init__(
        self,
        root: Root,
        list_file: SplitSpec,
        mode: str,
        parts: tuple[FieldSampler, ViewPolicy, SplitOptions],
    ) -> None:
        sampler, view, split = parts
        super().__init__(root, list_file, mode, view, split)
        self.sampler = sampler
        self.fields = sampler.fields
        self.chains = chains_of(self.fields)
        self._check_lengths()
        if mode == "test":
            self.samples = Samples.of_starts(self.records.flows, sampler.test_starts)

    def _check_lengths(self) -> None:
        """Fail early (not in a worker) on a short video under short="error"."""
        for rec in self.records:
            self.sampler.check(rec.flows, rec.video_id)
            if self.sampler.backward and not rec.backward:
                raise ValueError(f"video {rec.video_id!r} has no backward flow (--no-backward)")

    def _planes(self, rec: VideoRecord, start: int) -> EncodedFlow:
        """The stored planes of the item at τ=start (short-video policy applied)."""
        return self.reader.flow_planes(rec, self.sampler.indices(start, rec.flows, rec.video_id))

    def _view_fields(self, source: FlowPlanes, rec: VideoRecord, view: View) -> torch.Tensor:
        """[n, 2, S, S]: one view of an item's fields, the mean subtracted (by the stacking
        functions) and the policy's scale applied."""
        centre = self.view.subtract_mean
        if self.sampler.stacking == "trajectory":
            fields = trajectory_stack(source, rec.bound, view, self.chains, centre)
        else:
            fields = simple_stack(source, rec.bound, view, centre)
        return self.view.apply_scale(fields, rec.bound)

    def _train_fields(self, rec: VideoRecord) -> list[torch.Tensor]:
        """One training item: a random view of the fields at each of the sampler's τ."""
        rng = item_rng()
        view = self.view.train_view(rng, rec.width, rec.height)
        starts = self.sampler.train_starts(rng, rec.flows)
        return [self._view_fields(self._planes(rec, s), rec, view) for s in starts]


class FlowStackDataset(FlowDataset):
    """Stacks of L flow fields, 2L channels x_1, y_1, x_2, y_2, … (the two-stream temporal net).

    `sampler` (a StackSampler: L, stacking, bidirectional, segments, short, test_stacks) says
    which fields and which τ; `view` (a ViewPolicy: crop, augment, flip, test_crops, scale,
    subtract_mean) how they are cropped and scaled; `split` (SplitOptions: fold, subset,
    missing) how `list_file` is read. Any of their fields may be given as a keyword instead.

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
        root: Root,
        list_file: SplitSpec = None,
        *,
        mode: str = "train",
        sampler: StackSampler | None = None,
        view: ViewPolicy | None = None,
        split: SplitOptions | None = None,
        **keywords: Any,
    ) -> None:
        parts = (sampler or StackSampler(), view or ViewPolicy(), split or SplitOptions())
        super().__init__(root, list_file, mode, with_keywords("FlowStackDataset", parts, keywords))

    def stacks(self, rec: VideoRecord, start: int, views: list[View]) -> torch.Tensor:
        """[len(views), 2L, crop, crop]: the stack at τ=start seen through each view (decoded
        once for all of them when there are several)."""
        planes = self._planes(rec, start)
        source = planes.decoded() if len(views) > 1 else planes
        return torch.stack([_channels(self._view_fields(source, rec, view)) for view in views])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        v, tau = self.samples[index]
        rec = self.records[v]
        if self.mode == "test":
            return self.stacks(rec, tau, self.view.test_views(rec.width, rec.height)), rec.label
        items = [_channels(fields) for fields in self._train_fields(rec)]
        return (items[0] if len(items) == 1 else torch.stack(items)), rec.label


class FlowClipDataset(FlowDataset):
    """Clips of T consecutive forward flows for I3D: float32 [2, T, crop, crop] in [-1, 1]
    (flow clipped to ±20 px, then divided by 20, as I3D does), and the label.

    `sampler` is a ClipSampler (T, short); the default view policy is I3D's (scale="i3d",
    subtract_mean=False, test_crops=1). Train: a random τ, random crop (or multi-scale) and
    mirror (x negated). Test: the whole video in consecutive T-flow windows
    (`samples[i] = (video, τ)`), centre crop.
    """

    def __init__(
        self,
        root: Root,
        list_file: SplitSpec = None,
        *,
        mode: str = "train",
        sampler: ClipSampler | None = None,
        view: ViewPolicy | None = None,
        split: SplitOptions | None = None,
        **keywords: Any,
    ) -> None:
        parts = (sampler or ClipSampler(), view or CLIP_VIEW, split or SplitOptions())
        parts = with_keywords("FlowClipDataset", parts, keywords)
        if parts[1].test_crops != 1:
            raise ValueError("FlowClipDataset tests on the centre crop: test_crops must be 1")
        super().__init__(root, list_file, mode, parts)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        v, tau = self.samples[index]
        rec = self.records[v]
        if self.mode == "test":
            view = self.view.test_views(rec.width, rec.height)[0]
            fields = self._view_fields(self._planes(rec, tau), rec, view)
        else:
            fields = self._train_fields(rec)[0]
        return fields.transpose(0, 1).contiguous(), rec.label


class FrameDataset(VideoDataset):
    """Single RGB frames (the `img_` files) for the spatial stream: float32 [3, crop, crop],
    ImageNet-normalised (normalize=False: 0..1). Train: one random frame, random crop and
    mirror; test: `test_frames` evenly spaced frames (a FrameSampler), each item
    [crops, 3, crop, crop]. The view policy's crop fields apply (its flow values do not)."""

    def __init__(
        self,
        root: Root,
        list_file: SplitSpec = None,
        *,
        mode: str = "train",
        sampler: FrameSampler | None = None,
        view: ViewPolicy | None = None,
        split: SplitOptions | None = None,
        normalize: bool = True,
        **keywords: Any,
    ) -> None:
        parts = (sampler or FrameSampler(), view or ViewPolicy(), split or SplitOptions())
        self.sampler, view, split = with_keywords("FrameDataset", parts, keywords)
        super().__init__(root, list_file, mode, view, split)
        self.normalize = normalize
        no_rgb = [r.video_id for r in self.records if not r.rgb]
        if no_rgb:
            raise ValueError(f"video {no_rgb[0]!r} has no RGB frames (extract with --rgb)")
        if mode == "test":
            frames = self.records.flows + 1
            self.samples = Samples.of_starts(frames, self.sampler.test_frames_of)

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
            views = self.view.test_views(rec.width, rec.height)
            return torch.stack([self._prepare(image_view(frame, w)) for w in views]), rec.label
        rng = item_rng()
        frame = self.reader.frames(rec, [self.sampler.train_frame(rng, rec.frames)])[0]
        view = self.view.train_view(rng, rec.width, rec.height)
        return self._prepare(image_view(frame, view)), rec.label


def _channels(fields: torch.Tensor) -> torch.Tensor:
    """[n, 2, S, S] fields as [2n, S, S] channels x_1, y_1, x_2, y_2, …"""
    return fields.view(-1, *fields.shape[-2:])
