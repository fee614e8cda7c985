"""Side-by-side clips of an extracted video: RGB frame, colour flow, x, y, backward flow.

Every clip frame shows flow k (frame k -> k+1) as tiles, each under a caption bar: the RGB
frame k (stored img_ files, else decoded again from the source video, else left out), the
colour-coded forward flow, its x and y components as gray planes (mid-gray 0, white +max,
black -max), and the colour-coded backward flow when it was stored. All frames share one
normalising magnitude (given, or the robust maximum over a few sampled flows), so colours
compare across the clip; the caption bars of the colour and plane tiles show it (the colour
tiles with the wheel: "max 4.83 px" is full saturation). Tiles are enlarged by an integer
factor to at least 128 px high.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from flowpipe.viz.colour import flow_to_colour, robust_max_magnitude
from flowpipe.viz.dataset import Video, locate_video
from flowpipe.viz.key import draw_bar_key
from flowpipe.viz.picture import gray_plane, hstack
from flowpipe.viz.stats import codes_to_flow, sample_indices

MIN_TILE_HEIGHT = 128
CAPTION_HEIGHT = 18
BACKGROUND = 32
SCALE_SAMPLES = 8
READ_CHUNK = 16
FORMATS = (".mp4", ".gif")
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def tile_scale(height: int) -> int:
    """Integer enlargement that brings a tile of `height` px to at least MIN_TILE_HEIGHT."""
    return max(1, math.ceil(MIN_TILE_HEIGHT / height))


def clip_scale(video: Video) -> float:
    """Robust maximum |v| over up to SCALE_SAMPLES forward flows spread over the video."""
    ks = sample_indices(video.meta["flows"], SCALE_SAMPLES)
    flows = [codes_to_flow(qx, qy, video.bound) for qx, qy in video.read_codes(ks)]
    return robust_max_magnitude(np.stack(flows))


def captioned(image: np.ndarray, caption: str, scale: int, key: float | None = None) -> np.ndarray:
    """An RGB tile enlarged `scale` times (nearest) under a dark bar holding `caption` and,
    when `key` (px at full saturation) is given, the colour key at the bar's right end."""
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    bar = np.full((CAPTION_HEIGHT, big.shape[1], 3), BACKGROUND, np.uint8)
    cv2.putText(bar, caption, (4, CAPTION_HEIGHT - 5), _FONT, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    if key is not None:
        draw_bar_key(bar, key)
    return np.concatenate([bar, big])


def _chunks(ks: list[int]) -> Iterator[list[int]]:
    """ks in runs of READ_CHUNK (one store read each)."""
    return (ks[i : i + READ_CHUNK] for i in range(0, len(ks), READ_CHUNK))


def _stored_rgb(video: Video, ks: list[int]) -> Iterator[np.ndarray]:
    """The stored img_ frames ks as RGB."""
    for chunk in _chunks(ks):
        yield from video.read_rgb(chunk)


def _picked(frames: Iterator[np.ndarray], ks: list[int], blank: np.ndarray) -> Iterator[np.ndarray]:
    """Frames ks (1-based, increasing) of a frame stream as RGB; blank once it runs out."""
    wanted = iter(ks)
    k = next(wanted, None)
    for index, bgr in enumerate(frames, start=1):
        if index == k:
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            k = next(wanted, None)
    yield from itertools.repeat(blank)


def rgb_frames(video: Video, ks: list[int]) -> Iterator[np.ndarray] | None:
    """RGB frames ks: stored, else decoded from the source video; None when neither exists."""
    if video.has_rgb:
        return _stored_rgb(video, ks)
    try:
        source = video.source_frames()
        first = next(source)
    except (ValueError, OSError, StopIteration):
        return None
    blank = np.full_like(first, BACKGROUND)
    return _picked(itertools.chain([first], source), ks, blank)


def _flows(video: Video, ks: list[int], backward: bool) -> Iterator[np.ndarray]:
    """Float flows ks, read a chunk at a time."""
    for chunk in _chunks(ks):
        for qx, qy in video.read_codes(chunk, backward):
            yield codes_to_flow(qx, qy, video.bound)


def clip_frames(
    video: Video, every: int = 1, max_frames: int | None = None, max_magnitude: float | None = None
) -> Iterator[np.ndarray]:
    """RGB clip frames (see the module docstring) for flows 1, 1+every, ... (max_frames of them)."""
    ks = list(range(1, video.meta["flows"] + 1, every))[:max_frames]
    scale = max_magnitude or clip_scale(video)
    zoom = tile_scale(int(video.meta["size"][1]))
    backward = _flows(video, ks, True) if video.has_backward else itertools.repeat(None)
    rgb = rgb_frames(video, ks) or itertools.repeat(None)
    streams = zip(ks, rgb, _flows(video, ks, False), backward, strict=False)
    for k, image, forward, back in streams:
        caption = f"frame {k}/{video.meta['frames']}"
        tiles = [] if image is None else [captioned(image, caption, zoom)]
        tiles += [
            captioned(flow_to_colour(forward, scale), f"flow {k}->{k + 1}", zoom, scale),
            captioned(gray_plane(forward[..., 0], scale), f"x (white +{scale:.3g} px)", zoom),
            captioned(gray_plane(forward[..., 1], scale), f"y (white +{scale:.3g} px)", zoom),
        ]
        if back is not None:
            caption = f"backward {k + 1}->{k}"
            tiles.append(captioned(flow_to_colour(back, scale), caption, zoom, scale))
        yield _even(hstack(tiles, fill=BACKGROUND))


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad an odd width or height by one background px (video encoders want even sizes)."""
    height, width = frame.shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    return np.pad(frame, pad, constant_values=BACKGROUND)


def _write_mp4(path: Path, frames: Iterator[np.ndarray], fps: float) -> int:
    """Write frames with OpenCV's MPEG-4 Part 2 encoder; returns the frame count."""
    first = next(frames)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise ValueError(f"{path}: OpenCV cannot write an mp4 video here")
    count = 0
    try:
        for frame in itertools.chain([first], frames):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            count += 1
    finally:
        writer.release()
    return count


def _write_gif(path: Path, frames: Iterator[np.ndarray], fps: float) -> int:
    """Write frames as a looping GIF with Pillow; returns the frame count."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    duration = max(20, round(1000 / fps))
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0)
    return len(images)


def write_clip(
    path: str | os.PathLike,
    output: str | os.PathLike,
    every: int = 1,
    max_frames: int | None = None,
    max_magnitude: float | None = None,
    bound: float | None = None,
) -> int:
    """The clip of the video at OUT/<video_id> to an .mp4 or .gif; returns its frame count.
    `bound`: for a video folder of flow another tool wrote (see viz.dataset.locate_video)."""
    output = Path(output)
    if output.suffix.lower() not in FORMATS:
        raise ValueError(f"{output}: the clip must be a {' or '.join(FORMATS)} file")
    if every < 1 or (max_frames is not None and max_frames < 1):
        raise ValueError("every and max_frames must be at least 1")
    if max_magnitude is not None and not max_magnitude > 0:
        raise ValueError(f"max magnitude must be positive, got {max_magnitude}")
    video = locate_video(str(path), bound)
    fps = max(1.0, float(video.meta.get("fps") or 25.0) / every)
    output.parent.mkdir(parents=True, exist_ok=True)
    frames = clip_frames(video, every, max_frames, max_magnitude)
    write = _write_gif if output.suffix.lower() == ".gif" else _write_mp4
    return write(output, frames, fps)
