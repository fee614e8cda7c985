"""Datasets whose videos carry consistency records, written the way extraction writes them.

The extraction worker computes the figures beside the solver and stores meta["consistency"];
these helpers do the same steps in the test process (TV-L1 forward + backward flow of a clip,
quantise, JPEG, ConsistencyAccumulator, DatasetStore.write_video), so the readers (info, the
report, the per-video view) are tested on real files without depending on the worker.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from flowpipe.quality.consistency import ConsistencyAccumulator
from flowpipe.storage import DatasetStore, backward_names, flow_names, image_name
from flowpipe.storage.codec import encode_jpeg, encode_rgb_jpeg, quantize
from flowpipe.synth import render_video
from tests.quality.conftest import SIZE, forward_backward, to_gray

BOUND = 20.0
QUALITY = 95


def cut_clip(frames: int = 8, seed: int = 1) -> np.ndarray:
    """RGB frames of two unrelated synthetic clips joined: the cut is pair frames // 2."""
    half = frames // 2
    first = render_video("translate_right", seed=seed, size=SIZE, frames=half)
    second = render_video("rotate_cw", seed=seed + 6, size=SIZE, frames=frames - half)
    return np.concatenate([first.frames, second.frames])


def _flow_files(fwd, bwd) -> dict[str, bytes]:
    """flow_ and bflow_ JPEGs of float flows [N, 2, H, W]."""
    files = {}
    for names, flows in ((flow_names, fwd), (backward_names, bwd)):
        codes = quantize(flows, BOUND).numpy()
        for k, (qx, qy) in enumerate(codes, start=1):
            name_x, name_y = names(k)
            files[name_x], files[name_y] = encode_jpeg(qx, QUALITY), encode_jpeg(qy, QUALITY)
    return files


def write_source(path: Path, frames: np.ndarray) -> Path:
    """The clip as an MJPG .avi (what `source` names in meta.json)."""
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_checked_video(
    store: DatasetStore,
    video_id: str,
    frames: np.ndarray,
    rgb: bool = True,
    source: str = "gone.mp4",
    label: int | None = None,
) -> dict:
    """Extract RGB frames [T, H, W, 3] into `store` as `video_id` with forward + backward
    flow, img_ files if `rgb`, and meta["consistency"]; returns the meta written."""
    fwd, bwd = forward_backward(to_gray(frames))
    accumulator = ConsistencyAccumulator()
    half = len(fwd) // 2  # two chunks, as the worker feeds them
    accumulator.add(fwd[:half], bwd[:half])
    accumulator.add(fwd[half:], bwd[half:])
    files = _flow_files(fwd, bwd)
    if rgb:
        for k, frame in enumerate(frames, start=1):
            files[image_name(k)] = encode_rgb_jpeg(frame[..., ::-1].copy(), QUALITY)
    height, width = frames.shape[1:3]
    meta = {
        "video_id": video_id,
        "source": source,
        "label": label,
        "frames": len(frames),
        "flows": len(fwd),
        "fps": 25.0,
        "size": [width, height],
        "settings": {"bound": BOUND, "quality": QUALITY, "backward": True, "rgb": rgb, "fps": None},
        "consistency": accumulator.record(),
    }
    store.write_video(video_id, files, meta)
    return meta


def write_checked_dataset(root: Path) -> Path:
    """Three clean synthetic clips, one with a hard cut, and one extracted without backward
    flow (no record): a dataset whose suspects are known (the cut pair, and its video)."""
    store = DatasetStore(str(root))
    for i, motion in enumerate(["translate_right", "rotate_cw", "zoom_in"]):
        clip = render_video(motion, seed=20 + i, size=SIZE, frames=6)
        write_checked_video(store, f"{motion}/{motion}_000", clip.frames, label=i)
    write_checked_video(store, "cut/cut_000", cut_clip(), label=3)
    meta = write_checked_video(
        store, "nobackward/nobackward_000", cut_clip(4, seed=3), rgb=False, label=4
    )
    unchecked = {k: v for k, v in meta.items() if k != "consistency"}
    unchecked["settings"] = {**meta["settings"], "backward": False}
    files = {}
    for k in range(1, meta["flows"] + 1):
        for name in flow_names(k):
            files[name] = store.read_file("nobackward/nobackward_000", name)
    store.write_video("nobackward/nobackward_000", files, unchecked)
    store.write_manifest({"settings": meta["settings"]})
    return root
