"""Reading a video's stored flow fields and frames (folder or zip layout) for the loaders.

Flow stays encoded here (`EncodedFlow`): the stacking code decodes only the boxes it keeps,
as uint8 codes, and dequantises only those pixels.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from flowpipe.data.planes import EncodedFlow, check_shape
from flowpipe.data.records import VideoRecord
from flowpipe.storage import (
    DatasetStore,
    RawframeStore,
    as_store,
    backward_names,
    flow_names,
    image_name,
)
from flowpipe.storage.codec import decode_jpeg


class VideoReader:
    """Reads flow codes and RGB frames of a dataset's videos (picklable for DataLoader workers)
    from a store (flowpipe's, or another tool's layout) or a dataset's path."""

    def __init__(self, root: str | DatasetStore | RawframeStore) -> None:
        self.store = as_store(root)
        self.root = self.store.url

    def _path(self, rec: VideoRecord, name: str) -> str:
        """A member's path, for error messages."""
        return f"{self.root}/{rec.video_id}/{name}"

    def _decoded(self, rec: VideoRecord, names: list[str]) -> Iterator[np.ndarray]:
        """Decode the named RGB members (the zip opened once), checking each one's shape."""
        shape = (rec.height, rec.width, 3)
        for name, data in zip(names, self.store.read_files(rec.video_id, names), strict=True):
            path = self._path(rec, name)
            yield check_shape(decode_jpeg(data, path), shape, path)

    def flow_planes(self, rec: VideoRecord, fields: Sequence[tuple[int, bool]]) -> EncodedFlow:
        """The (1-based index, backward) fields' planes, in that order, read but not decoded."""
        names = []
        for k, backward in fields:
            if not 1 <= k <= rec.flows:
                raise ValueError(f"video {rec.video_id!r}: flow {k} outside 1..{rec.flows}")
            names.extend(backward_names(k) if backward else flow_names(k))
        datas = self.store.read_files(rec.video_id, names)
        paths = [self._path(rec, name) for name in names]
        return EncodedFlow(datas, paths, (rec.height, rec.width))

    def flow_codes(self, rec: VideoRecord, fields: Sequence[tuple[int, bool]]) -> np.ndarray:
        """uint8 [n, 2, H, W] codes of the (1-based index, backward) fields, in that order."""
        return self.flow_planes(rec, fields).codes()

    def frames(self, rec: VideoRecord, indices: Sequence[int]) -> np.ndarray:
        """uint8 [n, H, W, 3] RGB frames (1-based indices) from the img_ files."""
        if not rec.rgb:
            raise ValueError(f"video {rec.video_id!r} has no RGB frames (extract with --rgb)")
        for k in indices:
            if not 1 <= k <= rec.frames:
                raise ValueError(f"video {rec.video_id!r}: frame {k} outside 1..{rec.frames}")
        bgr = self._decoded(rec, [image_name(k) for k in indices])
        return np.stack([cv2.cvtColor(img, cv2.COLOR_BGR2RGB) for img in bgr])
