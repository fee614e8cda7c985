"""Decoding a video's stored flow fields and frames (folder or zip layout) for the loaders.

Flow stays in its uint8 codes here (half the bytes of any later step): the datasets crop
first and dequantise only the pixels they keep.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from flowpipe.codec import decode_jpeg
from flowpipe.data.records import VideoRecord
from flowpipe.store import DatasetStore, backward_names, flow_names, image_name


class VideoReader:
    """Reads flow codes and RGB frames of a dataset's videos (picklable for DataLoader workers)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.store = DatasetStore(root)

    def _decoded(self, rec: VideoRecord, names: list[str], channels: int) -> Iterator[np.ndarray]:
        """Decode the named members (the zip opened once), checking each has the video's size
        and channel count."""
        shape = (rec.height, rec.width) if channels == 1 else (rec.height, rec.width, 3)
        for name, data in zip(names, self.store.read_files(rec.video_id, names), strict=True):
            img = decode_jpeg(data, f"{self.root}/{rec.video_id}/{name}")
            if img.shape != shape:
                raise ValueError(
                    f"{self.root}/{rec.video_id}/{name}: image of shape {img.shape}, "
                    f"expected {shape} from meta.json"
                )
            yield img

    def flow_codes(self, rec: VideoRecord, fields: Sequence[tuple[int, bool]]) -> np.ndarray:
        """uint8 [n, 2, H, W] codes of the (1-based index, backward) fields, in that order
        (the decoded planes copied into one preallocated array)."""
        names = []
        for k, backward in fields:
            if not 1 <= k <= rec.flows:
                raise ValueError(f"video {rec.video_id!r}: flow {k} outside 1..{rec.flows}")
            names.extend(backward_names(k) if backward else flow_names(k))
        codes = np.empty((len(names), rec.height, rec.width), np.uint8)
        for plane, img in zip(codes, self._decoded(rec, names, 1), strict=True):
            plane[...] = img
        return codes.reshape(len(fields), 2, rec.height, rec.width)

    def frames(self, rec: VideoRecord, indices: Sequence[int]) -> np.ndarray:
        """uint8 [n, H, W, 3] RGB frames (1-based indices) from the img_ files."""
        if not rec.rgb:
            raise ValueError(f"video {rec.video_id!r} has no RGB frames (extract with --rgb)")
        for k in indices:
            if not 1 <= k <= rec.frames:
                raise ValueError(f"video {rec.video_id!r}: frame {k} outside 1..{rec.frames}")
        bgr = self._decoded(rec, [image_name(k) for k in indices], 3)
        return np.stack([cv2.cvtColor(img, cv2.COLOR_BGR2RGB) for img in bgr])
