"""Reading an extracted dataset for pictures: finding a video, decoding its flow and frames."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowpipe.codec import decode_jpeg
from flowpipe.store import DatasetStore, backward_names, flow_names, image_name
from flowpipe.video import Resize, iter_frames


@dataclass(frozen=True)
class Video:
    """One finished video of a dataset: where it is and its meta.json."""

    store: DatasetStore
    video_id: str
    meta: dict

    @property
    def bound(self) -> float:
        """The clipping bound its flow was stored with."""
        return float(self.meta["settings"]["bound"])

    @property
    def has_backward(self) -> bool:
        """Whether backward flow (bflow_*) was stored."""
        return bool(self.meta["settings"]["backward"])

    @property
    def has_rgb(self) -> bool:
        """Whether RGB frames (img_*) were stored."""
        return bool(self.meta["settings"]["rgb"])

    def read_codes(self, ks: list[int], backward: bool = False) -> list[tuple[np.ndarray, ...]]:
        """Stored (x, y) uint8 codes of flows ks (1-based), from one read of the video."""
        names = [n for k in ks for n in (backward_names(k) if backward else flow_names(k))]
        planes = [self._decode(n, d) for n, d in zip(names, self._read(names), strict=True)]
        return [tuple(planes[i : i + 2]) for i in range(0, len(planes), 2)]

    def read_images(self, ks: list[int]) -> list[np.ndarray]:
        """Stored BGR frames ks (1-based); the video must have been extracted with --rgb."""
        names = [image_name(k) for k in ks]
        return [self._decode(n, d) for n, d in zip(names, self._read(names), strict=True)]

    def source_frames(self) -> Iterator[np.ndarray]:
        """BGR frames decoded again from the source video, at the size and rate of the flow."""
        resize = Resize(size=tuple(self.meta["size"]))
        fps = self.meta["settings"].get("fps")
        return iter_frames(self.meta["source"], resize, fps, self.meta["frames"])

    def _read(self, names: list[str]) -> list[bytes]:
        """Raw member files of the video; ValueError for a corrupt zip."""
        try:
            return self.store.read_files(self.video_id, names)
        except zipfile.BadZipFile as err:
            raise ValueError(f"{self.store.url}/{self.video_id}.zip: corrupt zip ({err})") from None

    def _decode(self, name: str, data: bytes) -> np.ndarray:
        """Decode one member, naming the video in the error."""
        return decode_jpeg(data, f"{self.store.url}/{self.video_id}/{name}")


def locate_video(path: str) -> Video:
    """The finished video at OUT/<video_id> (folder, or .zip in the zip layout).

    OUT is the nearest parent folder holding flowpipe.json under which the rest of the path
    names a finished video (without a manifest: the nearest such parent); ValueError if none.
    """
    target = Path(path).absolute()
    if target.suffix == ".zip" and target.is_file():
        target = target.with_suffix("")
    found = []
    for root in target.parents:
        store, video_id = DatasetStore(str(root)), target.relative_to(root).as_posix()
        meta = store.read_meta(video_id)
        if meta is not None:
            found.append((store.read_manifest() is not None, Video(store, video_id, meta)))
    if not found:
        raise ValueError(f"{path}: not a finished video of a flowpipe dataset (no meta.json)")
    return next((v for has_manifest, v in found if has_manifest), found[0][1])
