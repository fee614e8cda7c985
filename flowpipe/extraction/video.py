"""Decoding videos for the extraction job: probing, frames, overlapping chunks, gray, discovery.

Frames are decoded with OpenCV's FFmpeg backend (cv2.CAP_FFMPEG) and read until the decoder
stops: the container's frame count is only a hint (it is wrong for truncated files). A file
that cannot be opened, or that gives no frame at all, raises VideoError, whose message is one
line naming the file. A file truncated mid-stream is not an error here: it yields the frames
that decode and then stops, and the caller decides what to do with a short video (compare
with VideoInfo.frame_count_hint). The last frame before the cut may be partly decoded.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from flowpipe.checks import is_integer

VIDEO_EXTENSIONS = (
    ".avi",
    ".mp4",
    ".mkv",
    ".webm",
    ".mov",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".flv",
    ".wmv",
)

# FFmpeg gives up on an open or a read that stalls this long, instead of hanging a worker.
_TIMEOUT_MS = 60_000
_CAPTURE_PARAMS = [
    cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
    _TIMEOUT_MS,
    cv2.CAP_PROP_READ_TIMEOUT_MSEC,
    _TIMEOUT_MS,
]
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_TICK_EPS = 1e-9  # absorbs float error in frame-index * rate products

# FFmpeg's and OpenCV's own messages ("moov atom not found", capture warnings) would land on
# the terminal beside ours; what they say reaches the user as the VideoError of the video.
# FFmpeg's level is read when a capture opens, OpenCV's is set here.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def is_positive(value: object) -> bool:
    """Whether value is an integer > 0."""
    return is_integer(value) and value > 0  # type: ignore[operator]


class VideoError(ValueError):
    """A video that cannot be decoded; str(err) is one line, '<path>: <cause>'."""

    def __init__(self, path: str | os.PathLike, cause: str) -> None:
        super().__init__(str(path), cause)  # both in args, so the error pickles (Dask)
        self.path = str(path)
        self.cause = cause

    def __str__(self) -> str:
        return re.sub(r"\s*[\r\n]+\s*", " ", f"{self.path}: {self.cause}".strip())


@dataclass(frozen=True)
class Resize:
    """Output frame size: a fixed (width, height), a short side that keeps the aspect ratio,
    or neither (keep the source size). ValueError for both, or for non-positive values."""

    size: tuple[int, int] | None = None
    short_side: int | None = None

    def __post_init__(self) -> None:
        if self.size is not None and self.short_side is not None:
            raise ValueError("give either size or short_side, not both")
        if self.size is not None:
            if len(self.size) != 2 or not all(is_positive(v) for v in self.size):
                raise ValueError(f"size must be (width, height) integers > 0, got {self.size!r}")
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))
        if self.short_side is not None and not is_positive(self.short_side):
            raise ValueError(f"short_side must be an integer > 0, got {self.short_side!r}")

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the output for a source frame; short_side rounds the long side
        to the nearest integer (halves up) and never enlarges a frame whose short side is
        already at most short_side (denseflow's rule)."""
        if self.size is not None:
            return self.size
        if self.short_side is None or min(width, height) <= self.short_side:
            return width, height
        short, side = min(width, height), self.short_side
        return (2 * width * side + short) // (2 * short), (2 * height * side + short) // (2 * short)


@dataclass(frozen=True)
class VideoInfo:
    """What probe() learns: size of the first decoded frame, the container's frame rate (0.0
    when it gives none) and its frame count (0 when it gives none; a hint, never trusted)."""

    path: str
    width: int
    height: int
    fps: float
    frame_count_hint: int


def _check_file(path: str | os.PathLike) -> None:
    """VideoError unless path is a non-empty regular file (before OpenCV ever sees it)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise VideoError(path, "no such file") from None
    except OSError as err:
        raise VideoError(path, f"cannot read it ({err.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise VideoError(path, "is a directory, not a video file")
    if not stat.S_ISREG(info.st_mode):
        raise VideoError(path, "not a regular file")
    if info.st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")


@contextmanager
def _capture(path: str | os.PathLike) -> Iterator[cv2.VideoCapture]:
    """An opened FFmpeg VideoCapture, released on exit; VideoError if it cannot open."""
    _check_file(path)
    try:
        cap = cv2.VideoCapture(os.fspath(path), cv2.CAP_FFMPEG, _CAPTURE_PARAMS)
    except cv2.error as err:
        raise VideoError(path, f"OpenCV cannot open it ({err})") from None
    try:
        if not cap.isOpened():
            raise VideoError(
                path, "FFmpeg cannot open it (not a video, or a truncated or corrupt container)"
            )
        yield cap
    finally:
        cap.release()


def _decode(cap: cv2.VideoCapture, path: str | os.PathLike) -> Iterator[np.ndarray]:
    """BGR frames until the decoder stops; a cv2.error becomes a VideoError."""
    while True:
        try:
            ok, frame = cap.read()
        except cv2.error as err:
            raise VideoError(path, f"decoding failed ({err})") from None
        if not ok:
            return
        yield frame


def _container_fps(cap: cv2.VideoCapture) -> float:
    """The container's frame rate, 0.0 when it gives none."""
    fps = cap.get(cv2.CAP_PROP_FPS)
    return fps if math.isfinite(fps) and fps > 0 else 0.0


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open a video (or a folder of frames) and decode its first frame; VideoError if either
    fails. A folder's frame rate is unknown (0.0) and its frame count is its images'."""
    if os.path.isdir(path):
        images = frame_files(path)
        first = _read_image(images[0])
        height, width = first.shape[:2]
        return VideoInfo(os.fspath(path), width, height, 0.0, len(images))
    with _capture(path) as cap:
        frame = next(_decode(cap, path), None)
        if frame is None:
            raise VideoError(path, "no decodable frame")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        height, width = frame.shape[:2]
        return VideoInfo(os.fspath(path), width, height, _container_fps(cap), max(count, 0))


def _resample(frames: Iterator[np.ndarray], ratio: float) -> Iterator[np.ndarray]:
    """Keep frame i when its time i/src reaches the next output tick k/dst (ratio = dst/src):
    i.e. when (i-1, i] * ratio contains an integer. ratio >= 1 keeps every frame."""
    for i, frame in enumerate(frames):
        if math.floor(i * ratio + _TICK_EPS) > math.floor((i - 1) * ratio + _TICK_EPS):
            yield frame


def _resized(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """frame at size (w, h): INTER_AREA when no side grows, INTER_LINEAR otherwise."""
    height, width = frame.shape[:2]
    if (width, height) == size:
        return frame
    shrink = size[0] <= width and size[1] <= height
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _check_options(fps: float | None, max_frames: int | None) -> None:
    """ValueError for a non-positive or non-finite fps, or max_frames < 1."""
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a finite number > 0, got {fps!r}")
    if max_frames is not None and not is_positive(max_frames):
        raise ValueError(f"max_frames must be an integer > 0, got {max_frames!r}")


def _frames(
    path: str | os.PathLike, resize: Resize, fps: float | None, max_frames: int | None
) -> Iterator[np.ndarray]:
    """The generator behind iter_frames (arguments already checked)."""
    with _source_frames(path, fps) as frames:
        size = None
        for frame in itertools.islice(frames, max_frames):
            size = size or resize.output_size(frame.shape[1], frame.shape[0])
            yield _resized(frame, size)
        if size is None:
            raise VideoError(path, "no decodable frame")


@contextmanager
def _source_frames(path: str | os.PathLike, fps: float | None) -> Iterator[Iterator[np.ndarray]]:
    """The source's decoded frames, resampled to fps: a video file's, or a frame folder's."""
    if os.path.isdir(path):
        if fps is not None:
            raise VideoError(path, "a folder of frames has no frame rate to resample (--fps)")
        yield (_read_image(image) for image in frame_files(path))
        return
    with _capture(path) as cap:
        frames = _decode(cap, path)
        if fps is not None:
            source = _container_fps(cap)
            if not source:
                raise VideoError(path, f"the container gives no frame rate to resample to {fps}")
            frames = _resample(frames, fps / source)
        yield frames


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The images of a folder of frames in frame order (numbers compared as numbers:
    frame2 before frame10); VideoError when it holds none."""
    images = [p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
    if not images:
        looked = " ".join(IMAGE_EXTENSIONS)
        raise VideoError(
            folder, f"is a directory, not a video file, and holds no frames ({looked})"
        )
    return sorted(images, key=_natural_key)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _read_image(path: Path) -> np.ndarray:
    """One frame image as BGR uint8; VideoError naming it when it does not decode."""
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise VideoError(path, "not an image OpenCV can decode")
    return frame


def iter_frames(
    path: str | os.PathLike,
    resize: Resize = Resize(),
    fps: float | None = None,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield BGR uint8 [H, W, 3] frames in order, all at the size `resize` gives for the first.

    fps resamples by picking frames (a constant source rate is assumed: frame i is at i / the
    container's rate); fps >= the source rate keeps every frame. max_frames stops after that
    many output frames. Bad fps/max_frames raise ValueError at once; file errors (VideoError,
    also for a video with no frame) are raised when iteration starts. A truncated video yields
    the frames that decode and then stops, without an error.
    """
    _check_options(fps, max_frames)
    return _frames(path, resize, fps, max_frames)


def _chunks(frames: Iterator[np.ndarray], chunk: int) -> Iterator[np.ndarray]:
    """Stack frames into arrays of `chunk`, each starting with the previous one's last frame."""
    buffer: list[np.ndarray] = []
    emitted = False
    for frame in frames:
        buffer.append(frame)
        if len(buffer) == chunk:
            yield np.stack(buffer)
            buffer, emitted = [frame], True
    if len(buffer) > 1 or not emitted:
        yield np.stack(buffer)


def read_chunks(
    path: str | os.PathLike,
    chunk: int,
    resize: Resize = Resize(),
    fps: float | None = None,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield iter_frames' frames as arrays [<= chunk, H, W, 3] that overlap by one frame.

    Chunk k+1 starts with the last frame of chunk k, so every consecutive pair of frames lies
    in exactly one chunk; only the last chunk may be shorter; a 1-frame video gives one chunk
    of 1 frame. chunk must be an integer >= 2 (ValueError).
    """
    if not is_positive(chunk) or chunk < 2:
        raise ValueError(f"chunk must be an integer >= 2, got {chunk!r}")
    return _chunks(iter_frames(path, resize, fps, max_frames), chunk)


def to_gray(frames: np.ndarray) -> np.ndarray:
    """BGR uint8 [T, H, W, 3] or [H, W, 3] -> uint8 gray [T, H, W] or [H, W] (COLOR_BGR2GRAY)."""
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or frames.shape[-1] != 3:
        raise ValueError(
            f"expected uint8 BGR frames [T,H,W,3] or [H,W,3], got {frames.dtype} {frames.shape}"
        )
    if frames.size == 0:
        return np.zeros(frames.shape[:-1], np.uint8)
    rows = np.ascontiguousarray(frames).reshape(-1, frames.shape[-2], 3)
    return cv2.cvtColor(rows, cv2.COLOR_BGR2GRAY).reshape(frames.shape[:-1])


def find_frame_folders(root: str | os.PathLike) -> list[Path]:
    """Sorted folders under root (root included) that hold frame images: each one a video;
    NotADirectoryError if root is not a folder."""
    folder = Path(root)
    if not folder.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    found = {p.parent for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS}
    return sorted(found)


def find_videos(root: str | os.PathLike) -> list[Path]:
    """Sorted files under root (recursively) whose extension, in any case, is a video one;
    NotADirectoryError if root is not a folder."""
    folder = Path(root)
    if not folder.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    found = folder.rglob("*")
    return sorted(p for p in found if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())


def video_id(path: Path, root: Path | None) -> str:
    """path relative to root with its extension dropped, '/'-separated ('a/b/clip' for
    root/a/b/clip.mp4); the file stem when root is None (a file given directly). ValueError
    if path is not under root."""
    if root is None:
        return Path(path).stem
    return Path(path).relative_to(root).with_suffix("").as_posix()
