"""A stack's flow planes as the stacking code reads them: stored codes of any box of the frame.

`EncodedFlow` holds a stack's JPEG bytes and decodes only the boxes asked for (a crop's
box for simple stacking), with libjpeg-turbo where `native_loader` is built, else with
OpenCV. `DecodedFlow` holds decoded codes, for when many views read one stack (the 10 test
crops). Trajectory stacking hands either kind's planes to `native_loader.trajectory_chain`,
which decodes the box each step visits itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from flowpipe.data import native_loader
from flowpipe.data.transforms import Box
from flowpipe.storage.codec import decode_jpeg


class FlowPlanes(Protocol):
    """Codes of a stack's n fields (x and y planes each) over frames of `frame` (h, w)."""

    frame: tuple[int, int]

    def __len__(self) -> int:
        """Number of fields."""

    def codes(self, box: Box | None = None) -> np.ndarray:
        """uint8 [n, 2, bh, bw]: the (x0, y0, width, height) box of every plane (whole frame
        when None)."""

    def native_planes(self, planes: Sequence[int]) -> tuple[list, list[str]]:
        """What `native_loader.trajectory_chain` reads for these planes (index 2k + c: field
        k, channel c), JPEG bytes or decoded frames, and their names for errors."""


def check_shape(img: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """img, or a ValueError naming the file when its shape is not the one meta.json gives."""
    if img.shape != shape:
        raise ValueError(f"{name}: image of shape {img.shape}, expected {shape} from meta.json")
    return img


def whole(frame: tuple[int, int]) -> Box:
    """The box of a whole frame (h, w)."""
    return (0, 0, frame[1], frame[0])


class DecodedFlow:
    """Decoded codes uint8 [n, 2, H, W]; boxes are views into them."""

    def __init__(self, codes: np.ndarray) -> None:
        self.all = codes
        self.frame = codes.shape[-2:]

    def __len__(self) -> int:
        return len(self.all)

    def codes(self, box: Box | None = None) -> np.ndarray:
        x0, y0, bw, bh = box or whole(self.frame)
        return self.all[:, :, y0 : y0 + bh, x0 : x0 + bw]

    def native_planes(self, planes: Sequence[int]) -> tuple[list, list[str]]:
        frames = [np.ascontiguousarray(self.all[p // 2, p % 2]) for p in planes]
        return frames, [f"plane {p}" for p in planes]


class EncodedFlow:
    """The JPEG bytes of a stack's planes (x, y of each field, in stack order), decoded a box
    at a time."""

    def __init__(self, datas: Sequence[bytes], names: Sequence[str], frame: tuple[int, int]):
        # bytes() of bytes is the object itself; other buffers (bytearray, memoryview from
        # some file systems) become bytes, which the native decoder takes.
        self.datas = [bytes(d) for d in datas]
        self.names, self.frame = list(names), frame

    def __len__(self) -> int:
        return len(self.datas) // 2

    def _boxes(self, planes: slice, box: Box) -> np.ndarray:
        """uint8 [m, bh, bw]: the box of the planes (libjpeg-turbo, else OpenCV)."""
        datas, names = self.datas[planes], self.names[planes]
        if native_loader.library() is not None:
            return native_loader.decode_boxes(datas, names, self.frame, box)
        x0, y0, bw, bh = box
        whole_planes = [
            check_shape(decode_jpeg(d, n), self.frame, n) for d, n in zip(datas, names, strict=True)
        ]
        return np.stack([p[y0 : y0 + bh, x0 : x0 + bw] for p in whole_planes])

    def codes(self, box: Box | None = None) -> np.ndarray:
        out = self._boxes(slice(None), box or whole(self.frame))
        return out.reshape(-1, 2, *out.shape[1:])

    def native_planes(self, planes: Sequence[int]) -> tuple[list, list[str]]:
        return [self.datas[p] for p in planes], [self.names[p] for p in planes]

    def decoded(self) -> DecodedFlow:
        """All planes decoded once (for many views of one stack)."""
        return DecodedFlow(self.codes())
