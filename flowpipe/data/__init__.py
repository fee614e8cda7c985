"""Loaders of extracted flow datasets: flow stacks, I3D flow clips, RGB frames, splits."""

from flowpipe.data.datasets import FlowClipDataset, FlowStackDataset, FrameDataset, worker_init
from flowpipe.data.records import VideoRecord, load_records
from flowpipe.data.splits import Split, read_split
from flowpipe.data.transforms import View

__all__ = [
    "FlowClipDataset",
    "FlowStackDataset",
    "FrameDataset",
    "Split",
    "VideoRecord",
    "View",
    "load_records",
    "read_split",
    "worker_init",
]
