"""Synthetic videos with exact ground-truth optical flow and motion-only class labels.

Each video shows one or two textured sprites over a static textured background. Every sprite
follows a similarity transform A(t) (sprite coords -> image coords) driven by the video's
motion class; frames are rendered by backward mapping (colour at x = texture(A(t)^-1 x)), so
the flow from frame t to t+1 is exactly A(t+1) A(t)^-1 x - x on sprite pixels (topmost sprite
wins) and 0 on the background.

Appearance carries no class information: all random draws happen in the same order for every
class, and the class only decides which one parameter (x or y position, angle, log-scale) runs
with time. The others stay at a random value drawn from the same range the moving one sweeps,
so a frame picked at random from a clip shows sprites whose positions, sizes and orientations
have the same distribution for every class (a spatial classifier is left at chance). Two
videos with the same seed and an odd frame count have byte-identical middle frames when their
classes differ only by direction (left/right, up/down, cw/ccw, in/out).

Coordinates: x = column, y = row (down), pixel centres at integers; "cw" is clockwise on
screen, i.e. a positive angle in these coordinates (rotate_cw has positive curl dvy/dx-dvx/dy).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from flowpipe import __version__
from flowpipe.io import write_flo

# class -> (parameter that runs with time, direction)
_MOTIONS: dict[str, tuple[str, int]] = {
    "translate_left": ("x", -1),
    "translate_right": ("x", 1),
    "translate_up": ("y", -1),
    "translate_down": ("y", 1),
    "rotate_cw": ("angle", 1),
    "rotate_ccw": ("angle", -1),
    "zoom_in": ("scale", 1),
    "zoom_out": ("scale", -1),
}
MOTION_CLASSES: tuple[str, ...] = tuple(_MOTIONS)

MIN_SIDE = 32
FPS = 25.0
_FOURCC = {"mp4": "mp4v", "avi": "MJPG"}
_SIGMAS = (2.0, 4.5, 10.0, 22.0)  # noise scales (px) of the textures ...
_AMPLITUDES = (20.0, 15.0, 15.0, 18.0)  # ... and their strengths (grey levels)
_SPEED = (1.5, 3.0)  # px / frame
_DEGREES = (3.0, 6.0)  # degrees / frame
_ZOOM = (1.03, 1.06)  # scale factor / frame
_DIAMETER = (0.25, 0.45)  # sprite size at the clip's middle, fraction of the short side
_MAX_DIAMETER = 0.8  # largest size over the clip, fraction of the short side
_LOBES = (2, 3, 4)  # blob outline: r(phi) = R (1 + sum a_k cos(k phi + p_k))


@dataclass
class SynthVideo:
    """A rendered clip: RGB frames, exact forward flows between consecutive frames, its class."""

    frames: np.ndarray  # uint8 [T, H, W, 3], RGB
    flows: np.ndarray  # float32 [T-1, H, W, 2]; flows[t]: frame t -> t+1, (x, y) in pixels
    label: str  # one of MOTION_CLASSES


@dataclass
class _Sprite:
    texture: np.ndarray  # float32 [S, S, 3], sprite coords (0, 0) at its centre
    radius: float  # R of the outline
    lobes: np.ndarray  # [len(_LOBES), 2]: amplitude a_k, phase p_k
    centres: np.ndarray  # [T, 2] image position of the sprite origin
    scales: np.ndarray  # [T]
    angles: np.ndarray  # [T] radians, positive = clockwise on screen


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    """Validate (width, height) and return it as ints."""
    if len(size) != 2 or any(int(v) != v for v in size) or min(size) < MIN_SIDE:
        raise ValueError(f"size must be (width, height) integers >= {MIN_SIDE}, got {size!r}")
    return int(size[0]), int(size[1])


def _check_args(motion: str, seed: int, size: tuple[int, int], frames: int) -> tuple[int, int]:
    """Validate render_video's arguments; return (width, height)."""
    if motion not in _MOTIONS:
        raise ValueError(f"unknown motion class {motion!r}; expected one of {MOTION_CLASSES}")
    if int(frames) != frames or frames < 2:
        raise ValueError(f"frames must be an integer >= 2, got {frames!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return _check_size(size)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Stationary multi-scale colour noise, float32 [H, W, 3], roughly 0..255 (not clipped)."""
    tex = np.empty((height, width, 3), np.float32)
    tex[:] = rng.uniform(80.0, 175.0, 3)
    for sigma, amplitude in zip(_SIGMAS, _AMPLITUDES, strict=True):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        field = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        field *= 2.0 * sigma * np.sqrt(np.pi)  # unit variance for any texture size
        mix = rng.uniform(-0.6, 0.6, (3, 3)).astype(np.float32)  # random colours
        mix[0] += rng.choice((-1.0, 1.0))  # field 0 drives all channels: luminance gradients
        tex += amplitude * (field @ mix)
    return tex


def _tone(tex: np.ndarray, gain: float, offset: float) -> np.ndarray:
    """Global contrast/brightness, then a smooth squash into (0, 255): no clipped flat areas."""
    return (127.5 + 127.5 * np.tanh((gain * (tex - 127.5) + offset) / 127.5)).astype(np.float32)


def _path(rng: np.random.Generator, frames: int, rate: float, direction: int) -> np.ndarray:
    """rate * tau(t): tau = direction * (t - middle) if direction != 0, else one random tau."""
    half = (frames - 1) / 2
    fixed = rng.uniform(-half, half)  # drawn either way, so all classes share random streams
    return rate * (direction * (np.arange(frames) - half) if direction else np.full(frames, fixed))


def _sprite(rng: np.random.Generator, motion: str, size: tuple[int, int], frames: int) -> _Sprite:
    """Draw one sprite's appearance and its trajectory for the class `motion`."""
    runs = dict([_MOTIONS[motion]])  # {the parameter that runs with time: its direction}
    short, half = min(size), (frames - 1) / 2
    diameter = rng.uniform(*_DIAMETER) * short
    lobes = np.stack(
        [rng.uniform(0.0, 0.08, len(_LOBES)), rng.uniform(0, 2 * np.pi, len(_LOBES))], 1
    )
    side = int(np.ceil(diameter)) + 4
    texture = _texture(rng, side, side)
    zoom = min(rng.uniform(*_ZOOM), (_MAX_DIAMETER * short / diameter) ** (1 / half))
    scales = np.exp(_path(rng, frames, np.log(zoom), runs.get("scale", 0)))
    extent = diameter / 2 * zoom**half  # largest radius over the clip
    spin = np.radians(rng.uniform(*_DEGREES))
    angles = rng.uniform(0, 2 * np.pi) + _path(rng, frames, spin, runs.get("angle", 0))
    centres = np.empty((frames, 2))
    for axis, (name, length) in enumerate(zip("xy", size, strict=True)):
        room = length - 1 - 2 * extent  # free travel for the centre
        speed = min(rng.uniform(*_SPEED), room / (frames - 1))
        reach = speed * half
        middle = extent + reach + max(room - 2 * reach, 0.0) * rng.random()
        centres[:, axis] = middle + _path(rng, frames, speed, runs.get(name, 0))
    radius = diameter / 2 / (1 + lobes[:, 0].sum())
    return _Sprite(texture, radius, lobes, centres, scales, angles)


def _to_sprite(sp: _Sprite, t: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """A(t)^-1: image coords -> sprite coords."""
    c, s = np.cos(sp.angles[t]), np.sin(sp.angles[t])
    dx, dy = x - sp.centres[t, 0], y - sp.centres[t, 1]
    return (c * dx + s * dy) / sp.scales[t], (c * dy - s * dx) / sp.scales[t]


def _to_image(sp: _Sprite, t: int, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
    """A(t): sprite coords -> image coords."""
    c, s = sp.scales[t] * np.cos(sp.angles[t]), sp.scales[t] * np.sin(sp.angles[t])
    return sp.centres[t, 0] + c * u - s * v, sp.centres[t, 1] + s * u + c * v


def _inside(sp: _Sprite, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether sprite coords (u, v) lie inside the blob outline."""
    phi = np.arctan2(v, u)
    wobble = sum(a * np.cos(k * phi + p) for k, (a, p) in zip(_LOBES, sp.lobes, strict=True))
    return np.hypot(u, v) < sp.radius * (1 + wobble)


def _sample(tex: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear texture lookup at sprite coords (texture centre = sprite origin)."""
    centre = (tex.shape[1] - 1) / 2
    mx, my = (u + centre).astype(np.float32), (v + centre).astype(np.float32)
    return cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def render_video(
    motion: str, seed: int, size: tuple[int, int] = (160, 120), frames: int = 16
) -> SynthVideo:
    """Render one clip of class `motion` (size = (width, height)); same seed -> same arrays."""
    width, height = _check_args(motion, seed, size, frames)
    rng = np.random.default_rng(seed)
    gain, offset = rng.uniform(0.85, 1.15), rng.uniform(-15.0, 15.0)
    background = _tone(_texture(rng, height, width), gain, offset)
    sprites = [_sprite(rng, motion, (width, height), frames) for _ in range(rng.integers(1, 3))]
    for sp in sprites:
        sp.texture = _tone(sp.texture, gain, offset)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    video = np.empty((frames, height, width, 3), np.uint8)
    flows = np.zeros((frames - 1, height, width, 2), np.float32)
    for t in range(frames):
        image = background.copy()
        for sp in sprites:  # later sprites are drawn on top
            u, v = _to_sprite(sp, t, x, y)
            inside = _inside(sp, u, v)
            image[inside] = _sample(sp.texture, u, v)[inside]
            if t + 1 < frames:
                x1, y1 = _to_image(sp, t + 1, u, v)
                flows[t][inside] = np.stack([x1 - x, y1 - y], -1)[inside]
        video[t] = np.rint(image)
    return SynthVideo(video, flows, motion)


def translation_pair(
    dx: float, dy: float, size: tuple[int, int] = (160, 120), seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two gray frames of a camera pan by (dx, dy) px over a textured canvas, and their flow."""
    width, height = _check_size(size)
    if not (np.isfinite(dx) and np.isfinite(dy)):
        raise ValueError(f"dx and dy must be finite, got ({dx!r}, {dy!r})")
    margin = int(np.ceil(max(abs(dx), abs(dy)))) + 2
    rng = np.random.default_rng(seed)
    canvas = _tone(_texture(rng, height + 2 * margin, width + 2 * margin), 1.0, 0.0)
    canvas = cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64) + margin
    frame0 = canvas[margin : margin + height, margin : margin + width]
    mx, my = (x - dx).astype(np.float32), (y - dy).astype(np.float32)
    frame1 = cv2.remap(canvas, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    flow = np.empty((height, width, 2), np.float32)
    flow[:] = (dx, dy)
    return np.rint(frame0).astype(np.uint8), np.rint(frame1).astype(np.uint8), flow


def video_seed(seed: int, motion: str, k: int) -> int:
    """The render_video seed of video k of class `motion` in a dataset made with `seed`."""
    index = MOTION_CLASSES.index(motion)
    return int(np.random.SeedSequence([seed, index, k]).generate_state(1)[0])


def _write_video(path: Path, frames: np.ndarray, fmt: str) -> None:
    """Encode RGB frames with cv2.VideoWriter at FPS; RuntimeError if it cannot open."""
    height, width = frames.shape[1:3]
    fourcc = cv2.VideoWriter.fourcc(*_FOURCC[fmt])
    writer = cv2.VideoWriter(str(path), fourcc, FPS, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter cannot write {path} ({_FOURCC[fmt]}, {fmt})")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def _write_frames(flow_dir: Path, png_dir: Path, video: SynthVideo, save_png: bool) -> None:
    """Write flow_<t>.flo files (and img_<t>.png frames if asked), numbered from 1."""
    flow_dir.mkdir(parents=True, exist_ok=True)
    for t, flow in enumerate(video.flows, 1):
        write_flo(flow_dir / f"flow_{t:05d}.flo", flow)
    if save_png:
        png_dir.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(video.frames, 1):
            cv2.imwrite(str(png_dir / f"img_{t:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


def _check_classes(classes: Sequence[str] | None) -> list[str]:
    """The class list to use: all by default; ValueError on unknown, repeated or none."""
    names = list(MOTION_CLASSES if classes is None else classes)
    unknown = [c for c in names if c not in _MOTIONS]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f"classes must be distinct names from {MOTION_CLASSES}, got {names}")
    return names


def _test_videos(videos_per_class: int) -> int:
    """Videos per class in the UCF-101-style test list: the last third (none of a single one)."""
    return videos_per_class // 3 if videos_per_class >= 3 else videos_per_class - 1


def write_dataset(
    out: str | os.PathLike,
    videos_per_class: int = 4,
    frames: int = 16,
    size: tuple[int, int] = (160, 120),
    seed: int = 0,
    fmt: str = "mp4",
    classes: Sequence[str] | None = None,
    save_png: bool = False,
) -> Path:
    """Write videos, exact .flo flows, label lists and settings under `out`; return its path."""
    names = _check_classes(classes)
    width, height = _check_args(names[0], seed, size, frames)
    if fmt not in _FOURCC:
        raise ValueError(f"fmt must be one of {sorted(_FOURCC)}, got {fmt!r}")
    if int(videos_per_class) != videos_per_class or videos_per_class < 1:
        raise ValueError(f"videos_per_class must be an integer >= 1, got {videos_per_class!r}")
    out = Path(out)
    labels, seeds = [], {}
    lists: dict[str, list[str]] = {"train": [], "test": []}
    for index, motion in enumerate(names):
        (out / "videos" / motion).mkdir(parents=True, exist_ok=True)
        for k in range(videos_per_class):
            name = f"{motion}/{motion}_{k:03d}"
            seeds[name] = video_seed(seed, motion, k)
            video = render_video(motion, seeds[name], size, frames)
            _write_video(out / "videos" / f"{name}.{fmt}", video.frames, fmt)
            _write_frames(out / "flow" / name, out / "frames" / name, video, save_png)
            labels.append(f"{name}.{fmt} {index}\n")
            split = "test" if k >= videos_per_class - _test_videos(videos_per_class) else "train"
            lists[split].append(
                f"{name}.{fmt} {index + 1}\n" if split == "train" else f"{name}.{fmt}\n"
            )
    (out / "videos" / "labels.txt").write_text("".join(labels))
    for split, lines in lists.items():
        (out / "videos" / f"{split}list01.txt").write_text("".join(lines))
    (out / "videos" / "classInd.txt").write_text(
        "".join(f"{i} {c}\n" for i, c in enumerate(names, 1))
    )
    settings = {
        "seed": int(seed),
        "size": [width, height],
        "frames": int(frames),
        "fmt": fmt,
        "classes": names,
        "videos_per_class": int(videos_per_class),
        "flowpipe_version": __version__,
        "video_seeds": seeds,
    }
    (out / "synth.json").write_text(json.dumps(settings, indent=2) + "\n")
    return out
