"""Loaders of extracted flow datasets: flow stacks, I3D flow clips, RGB frames, splits.

A dataset takes a sampler (which fields or frames, which τ), a view policy (crop, mirror,
test crops, value scale) and split options, or their fields as keywords:

    FlowStackDataset("flow/", "ucfTrainTestlist/", sampler=StackSampler(L=10), view=ViewPolicy())
    FlowStackDataset("flow/", "ucfTrainTestlist/", L=10, crop=224)      # the same
"""

from flowpipe.data.datasets import FlowClipDataset, FlowStackDataset, FrameDataset, worker_init
from flowpipe.data.records import SplitOptions, VideoRecord, load_records
from flowpipe.data.sampling import ClipSampler, FrameSampler, StackSampler
from flowpipe.data.splits import Split, read_split
from flowpipe.data.transforms import View, ViewPolicy

__all__ = [
    "ClipSampler",
    "FlowClipDataset",
    "FlowStackDataset",
    "FrameDataset",
    "FrameSampler",
    "Split",
    "SplitOptions",
    "StackSampler",
    "VideoRecord",
    "View",
    "ViewPolicy",
    "load_records",
    "read_split",
    "worker_init",
]
