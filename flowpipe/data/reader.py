"""Decoding a video's stored flow fields and frames (folder or zip layout) for the loaders.

Flow stays in its uint8 codes here (half the bytes of any later step): the datasets crop
first and dequantise only the pixels they keep.
"""

from __future__ import annotations

from collections.abc import Sequence

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

    def _decode_all(self, rec: VideoRecord, names: list[str], channels: int) -> list[np.ndarray]:
        """Decode the named members, checking each has the video's size and channel count."""
        out = []
        for name, data in zip(names, self.store.read_files(rec.video_id, names), strict=True):
            img = decode_jpeg(data, f"{self.root}/{rec.video_id}/{name}")
            shape = (rec.height, rec.width) if channels == 1 else (rec.height, rec.width, 3)
            if img.shape != shape:
                raise ValueError(
                    f"{self.root}/{rec.video_id}/{name}: image of shape {img.shape}, "
                    f"expected {shape} from meta.json"
                )
            out.append(img)
        return out

    def flow_codes(self, rec: VideoRecord, fields: Sequence[tuple[int, bool]]) -> np.ndarray:
        """uint8 [n, 2, H, W] codes of the (1-based index, backward) fields, in that order."""
        names = []
        for k, backward in fields:
            if not 1 <= k <= rec.flows:
                raise ValueError(f"video {rec.video_id!r}: flow {k} outside 1..{rec.flows}")
            names.extend(backward_names(k) if backward else flow_names(k))
        planes = self._decode_all(rec, names, 1)
        return np.stack(planes).reshape(len(fields), 2, rec.height, rec.width)

    def frames(self, rec: VideoRecord, indices: Sequence[int]) -> np.ndarray:
        """uint8 [n, H, W, 3] RGB frames (1-based indices) from the img_ files."""
        if not rec.rgb:
            raise ValueError(f"video {rec.video_id!r} has no RGB frames (extract with --rgb)")
        for k in indices:
            if not 1 <= k <= rec.frames:
                raise ValueError(f"video {rec.video_id!r}: frame {k} outside 1..{rec.frames}")
        bgr = self._decode_all(rec, [image_name(k) for k in indices], 3)
        return np.stack([cv2.cvtColor(img, cv2.COLOR_BGR2RGB) for img in bgr])
