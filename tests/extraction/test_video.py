"""flowpipe.extraction.video on real files: the shared clips, videos made here, broken inputs."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowpipe.extraction.video import (
    VIDEO_EXTENSIONS,
    Resize,
    VideoError,
    find_videos,
    iter_frames,
    probe,
    read_chunks,
    to_gray,
    video_id,
)
from flowpipe.synth import render_video, video_seed, write_dataset

# name -> (width, height, container fps, frames)
SHARED = {
    "v_ApplyEyeMakeup_g01_c01.avi": (320, 240, 25.0, 164),
    "kinetics_demo.mp4": (340, 256, 28.0, 280),
    "sample_340x256.mp4": (340, 256, 30.0, 300),
}
MOTION = "translate_right"
SYNTH_FRAMES = 16
SYNTH_SIZE = (160, 120)


def _write(path: Path, frames_bgr: np.ndarray, fourcc: str) -> Path:
    """Encode BGR frames at 25 fps with cv2.VideoWriter."""
    height, width = frames_bgr.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 25.0, (width, height))
    assert writer.isOpened()
    for frame in frames_bgr:
        writer.write(frame)
    writer.release()
    return path


def _truncate(src: Path, dst: Path, fraction: float) -> Path:
    """dst = the first `fraction` of src's bytes."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 16-frame 160x120 synth clip per container: {'mp4': path, 'avi': path}."""
    root = tmp_path_factory.mktemp("synth")
    paths = {}
    for fmt in ("mp4", "avi"):
        out = write_dataset(root / fmt, 1, SYNTH_FRAMES, SYNTH_SIZE, classes=(MOTION,), fmt=fmt)
        paths[fmt] = out / "videos" / MOTION / f"{MOTION}_000.{fmt}"
    return paths


@pytest.fixture(scope="module")
def synth_truth() -> np.ndarray:
    """The BGR frames the synth fixture encoded."""
    video = render_video(MOTION, video_seed(0, MOTION, 0), SYNTH_SIZE, SYNTH_FRAMES)
    return video.frames[..., ::-1]


def _assert_one_line_error(err: pytest.ExceptionInfo[VideoError], path: Path, cause: str) -> None:
    """The message is one line, '<path>: <cause>', and the cause says `cause`."""
    message = str(err.value)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"{path}: ") and cause in err.value.cause


# --- the shared clips ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHARED))
def test_probe_shared_clips(shared_data: Path, name: str) -> None:
    width, height, fps, frames = SHARED[name]
    path = shared_data / "videos" / name
    info = probe(path)
    assert (info.path, info.width, info.height) == (str(path), width, height)
    assert info.fps == pytest.approx(fps)
    assert info.frame_count_hint == frames


@pytest.mark.parametrize("name", sorted(SHARED))
def test_iter_frames_decodes_every_frame_of_shared_clips(shared_data: Path, name: str) -> None:
    width, height, _, frames = SHARED[name]
    decoded = list(iter_frames(shared_data / "videos" / name))
    assert len(decoded) == frames
    assert all(f.shape == (height, width, 3) and f.dtype == np.uint8 for f in decoded)


@pytest.mark.parametrize("name", sorted(SHARED))
def test_fps_half_the_source_rate_halves_the_count(shared_data: Path, name: str) -> None:
    _, _, fps, frames = SHARED[name]
    path = shared_data / "videos" / name
    full = list(iter_frames(path))
    half = list(iter_frames(path, fps=fps / 2))
    assert abs(len(half) - frames / 2) <= 1
    assert all(np.array_equal(a, b) for a, b in zip(half, full[::2], strict=True))


def test_fps_at_or_above_the_source_rate_keeps_every_frame(shared_data: Path) -> None:
    path = shared_data / "videos" / "sample_340x256.mp4"
    assert sum(1 for _ in iter_frames(path, fps=30.0)) == 300
    assert sum(1 for _ in iter_frames(path, fps=60.0)) == 300


def test_short_side_on_a_shared_clip(shared_data: Path) -> None:
    frames = list(iter_frames(shared_data / "videos" / "kinetics_demo.mp4", Resize(short_side=128)))
    assert len(frames) == 280
    assert {f.shape for f in frames} == {(128, 170, 3)}


def test_chunks_of_a_shared_clip(shared_data: Path) -> None:
    chunks = list(read_chunks(shared_data / "videos" / "kinetics_demo.mp4", 64))
    assert [len(c) for c in chunks] == [64, 64, 64, 64, 28]  # 280 = 64 + 3 * 63 + 27


# --- frames, resizing, resampling on synth clips ------------------------------------------


@pytest.mark.parametrize("fmt", ["mp4", "avi"])
def test_frames_are_bgr_and_match_what_was_encoded(
    synth: dict[str, Path], synth_truth: np.ndarray, fmt: str
) -> None:
    frames = np.stack(list(iter_frames(synth[fmt])))
    assert frames.shape == (SYNTH_FRAMES, 120, 160, 3) and frames.dtype == np.uint8
    error = np.abs(frames.astype(float) - synth_truth).mean()
    swapped = np.abs(frames.astype(float) - synth_truth[..., ::-1]).mean()
    assert error < 10.0 and swapped > 40.0  # lossy codecs: ~4 vs ~51 grey levels


@pytest.mark.parametrize("size", [(64, 48), (100, 100), (320, 240)])
def test_resize_to_a_fixed_size(synth: dict[str, Path], size: tuple[int, int]) -> None:
    full = list(iter_frames(synth["avi"]))
    resized = list(iter_frames(synth["avi"], Resize(size=size)))
    interpolation = cv2.INTER_LINEAR if size == (320, 240) else cv2.INTER_AREA
    for frame, original in zip(resized, full, strict=True):
        assert frame.shape == (size[1], size[0], 3)
        assert np.array_equal(frame, cv2.resize(original, size, interpolation=interpolation))


def test_resize_by_short_side(synth: dict[str, Path]) -> None:
    frames = list(iter_frames(synth["mp4"], Resize(short_side=60)))
    assert {f.shape for f in frames} == {(60, 80, 3)}


def test_output_size() -> None:
    assert Resize().output_size(340, 256) == (340, 256)
    assert Resize(size=(224, 224)).output_size(340, 256) == (224, 224)
    assert Resize(size=[112, 96]).size == (112, 96)
    assert Resize(short_side=128).output_size(340, 256) == (170, 128)
    assert Resize(short_side=256).output_size(320, 240) == (320, 240)  # never enlarged (issue 14)
    assert Resize(short_side=200).output_size(320, 240) == (267, 200)  # 266.67
    assert Resize(short_side=100).output_size(240, 320) == (100, 133)  # portrait, 133.33
    assert Resize(short_side=1).output_size(3, 2) == (2, 1)  # 1.5 rounds up
    assert Resize(short_side=1).output_size(1000, 10) == (100, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": (64, 48), "short_side": 32},
        {"size": (0, 48)},
        {"size": (64, -1)},
        {"size": (64, 48, 3)},
        {"size": (64.5, 48)},
        {"short_side": 0},
        {"short_side": -128},
        {"short_side": 12.5},
    ],
)
def test_resize_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Resize(**kwargs)


def test_fps_picks_frames_at_output_ticks(synth: dict[str, Path]) -> None:
    full = list(iter_frames(synth["avi"]))  # 16 frames at 25 fps
    picked = list(iter_frames(synth["avi"], fps=5.0))  # ticks every 5 frames
    assert len(picked) == 4
    assert all(np.array_equal(a, b) for a, b in zip(picked, full[::5], strict=True))
    thirds = list(iter_frames(synth["avi"], fps=25.0 / 3))
    assert all(np.array_equal(a, b) for a, b in zip(thirds, full[::3], strict=True))
    assert len(thirds) == 6


def test_max_frames(synth: dict[str, Path]) -> None:
    full = list(iter_frames(synth["mp4"]))
    first = list(iter_frames(synth["mp4"], max_frames=5))
    assert len(first) == 5
    assert all(np.array_equal(a, b) for a, b in zip(first, full, strict=False))
    assert len(list(iter_frames(synth["mp4"], max_frames=100))) == SYNTH_FRAMES
    resampled = list(iter_frames(synth["mp4"], fps=12.5, max_frames=3))
    assert all(np.array_equal(a, b) for a, b in zip(resampled, full[0:6:2], strict=True))


@pytest.mark.parametrize(
    "kwargs", [{"fps": 0}, {"fps": -25.0}, {"fps": float("nan")}, {"max_frames": 0}]
)
def test_bad_options_raise_value_error_at_once(synth: dict[str, Path], kwargs: dict) -> None:
    with pytest.raises(ValueError):
        iter_frames(synth["mp4"], **kwargs)
    with pytest.raises(ValueError):
        read_chunks(synth["mp4"], 4, **kwargs)


# --- chunks -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [2, 3, 5, 15, 16, 17, 100])
def test_chunks_overlap_by_one_frame(synth: dict[str, Path], chunk: int) -> None:
    full = np.stack(list(iter_frames(synth["avi"])))
    chunks = list(read_chunks(synth["avi"], chunk))
    assert all(len(c) == chunk for c in chunks[:-1]) and 2 <= len(chunks[-1]) <= chunk
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert np.array_equal(before[-1], after[0])
    joined = np.concatenate([chunks[0], *(c[1:] for c in chunks[1:])])
    assert np.array_equal(joined, full)


def test_chunks_pass_options_through(synth: dict[str, Path]) -> None:
    chunks = list(read_chunks(synth["avi"], 3, Resize(size=(40, 30)), fps=12.5, max_frames=6))
    assert [c.shape for c in chunks] == [(3, 30, 40, 3), (3, 30, 40, 3), (2, 30, 40, 3)]


@pytest.mark.parametrize("chunk", [0, 1, -3, 2.5])
def test_chunk_below_two_is_rejected(synth: dict[str, Path], chunk: int) -> None:
    with pytest.raises(ValueError, match="chunk"):
        read_chunks(synth["avi"], chunk)


@pytest.mark.parametrize("fourcc, ext", [("mp4v", "mp4"), ("MJPG", "avi")])
def test_one_frame_video(tmp_path: Path, synth_truth: np.ndarray, fourcc: str, ext: str) -> None:
    path = _write(tmp_path / f"one.{ext}", synth_truth[:1], fourcc)
    assert len(list(iter_frames(path))) == 1
    chunks = list(read_chunks(path, 8))
    assert [c.shape for c in chunks] == [(1, 120, 160, 3)]


# --- gray ---------------------------------------------------------------------------------


def test_to_gray(synth_truth: np.ndarray) -> None:
    frames = np.ascontiguousarray(synth_truth[:4])
    expected = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])
    gray = to_gray(frames)
    assert gray.dtype == np.uint8 and np.array_equal(gray, expected)
    assert np.array_equal(to_gray(frames[2]), expected[2])
    assert np.array_equal(to_gray(synth_truth[:4]), expected)  # a non-contiguous view
    assert to_gray(np.zeros((0, 5, 7, 3), np.uint8)).shape == (0, 5, 7)


@pytest.mark.parametrize(
    "frames",
    [np.zeros((4, 5, 6), np.uint8), np.zeros((5, 6, 3), np.float32), np.zeros((6, 3), np.uint8)],
)
def test_to_gray_rejects_non_bgr(frames: np.ndarray) -> None:
    with pytest.raises(ValueError):
        to_gray(frames)


# --- bad inputs ---------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """Each kind of undecodable input, made fresh in tmp_path."""
    (tmp_path / "folder.mp4").mkdir()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("these are my notes, not a video\n")
    return {
        "missing": tmp_path / "missing.mp4",
        "directory": tmp_path / "folder.mp4",
        "zero-byte": tmp_path / "empty.mp4",
        "text": tmp_path / "notes.mp4",
    }


@pytest.mark.parametrize(
    "kind, cause",
    [
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("zero-byte", "0 bytes"),
        ("text", "cannot open"),
    ],
)
def test_bad_inputs_raise_one_line_video_error(tmp_path: Path, kind: str, cause: str) -> None:
    path = _bad_inputs(tmp_path)[kind]
    for read in (probe, lambda p: next(iter_frames(p)), lambda p: next(read_chunks(p, 4))):
        with pytest.raises(VideoError) as err:
            read(path)
        _assert_one_line_error(err, path, cause)


def test_video_error_pickles_and_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError) as err:
        probe(tmp_path / "gone.avi")
    copy = pickle.loads(pickle.dumps(err.value))
    assert isinstance(copy, ValueError)
    assert str(copy) == str(err.value) and copy.path == str(tmp_path / "gone.avi")
    assert str(VideoError("a.mp4", "line one\nline two\n")) == "a.mp4: line one line two"


def test_truncated_mp4_cannot_be_opened(tmp_path: Path, synth: dict[str, Path]) -> None:
    # the index (moov atom) is written last, so the first 30 % holds no playable stream
    path = _truncate(synth["mp4"], tmp_path / "cut.mp4", 0.3)
    for read in (probe, lambda p: list(iter_frames(p))):
        with pytest.raises(VideoError) as err:
            read(path)
        _assert_one_line_error(err, path, "cannot open")


def test_truncated_avi_yields_the_frames_before_the_cut(
    tmp_path: Path, synth: dict[str, Path]
) -> None:
    path = _truncate(synth["avi"], tmp_path / "cut.avi", 0.3)
    assert probe(path).frame_count_hint == SYNTH_FRAMES  # the header still claims all frames
    frames = list(iter_frames(path))
    assert 0 < len(frames) < SYNTH_FRAMES
    full = list(iter_frames(synth["avi"]))
    assert all(np.array_equal(a, b) for a, b in zip(frames[:-1], full, strict=False))
    assert len(list(read_chunks(path, 2))) == len(frames) - 1


@pytest.mark.parametrize(
    "name, opens", [("kinetics_demo.mp4", False), ("v_ApplyEyeMakeup_g01_c01.avi", True)]
)
def test_truncated_shared_clips(shared_data: Path, tmp_path: Path, name: str, opens: bool) -> None:
    path = _truncate(shared_data / "videos" / name, tmp_path / name, 0.3)
    if opens:
        assert 0 < sum(1 for _ in iter_frames(path)) < SHARED[name][3]
    else:
        with pytest.raises(VideoError) as err:
            probe(path)
        _assert_one_line_error(err, path, "cannot open")


def test_container_without_a_frame(tmp_path: Path, synth: dict[str, Path]) -> None:
    data = synth["avi"].read_bytes()
    path = tmp_path / "header_only.avi"
    path.write_bytes(data[: data.index(b"movi") + 4])  # headers, then no frame data
    for read in (probe, lambda p: list(iter_frames(p)), lambda p: list(read_chunks(p, 2))):
        with pytest.raises(VideoError) as err:
            read(path)
        _assert_one_line_error(err, path, "no decodable frame")


# --- finding videos and naming them -------------------------------------------------------


def test_find_videos(tmp_path: Path, synth: dict[str, Path]) -> None:
    names = [
        "b/deeper/x.MP4",
        "a/clip één.mp4",
        "a/Take 2.Avi",
        "top.mkv",
        "c.d/e.webm",
        "notes.txt",
        "a/clip.mp4.part",
        "noext",
    ]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(synth["mp4"], tmp_path / name)
    (tmp_path / "dir.avi").mkdir()  # a folder with a video extension is not a video
    found = find_videos(tmp_path)
    relative = [p.relative_to(tmp_path).as_posix() for p in found]
    assert relative == ["a/Take 2.Avi", "a/clip één.mp4", "b/deeper/x.MP4", "c.d/e.webm", "top.mkv"]
    assert [video_id(p, tmp_path) for p in found] == [
        "a/Take 2",
        "a/clip één",
        "b/deeper/x",
        "c.d/e",
        "top",
    ]
    assert len(list(iter_frames(tmp_path / "a" / "clip één.mp4"))) == SYNTH_FRAMES
    assert probe(tmp_path / "a" / "Take 2.Avi").width == SYNTH_SIZE[0]


def test_find_videos_on_a_synth_dataset(synth: dict[str, Path]) -> None:
    root = synth["mp4"].parents[1]
    assert find_videos(root) == [synth["mp4"]]
    assert video_id(synth["mp4"], root) == f"{MOTION}/{MOTION}_000"


def test_find_videos_needs_a_folder(tmp_path: Path, synth: dict[str, Path]) -> None:
    with pytest.raises(NotADirectoryError):
        find_videos(tmp_path / "missing")
    with pytest.raises(NotADirectoryError):
        find_videos(synth["mp4"])
    assert find_videos(tmp_path) == []


def test_video_extensions_are_lower_case_with_a_dot() -> None:
    assert all(e.startswith(".") and e == e.lower() for e in VIDEO_EXTENSIONS)
    assert {".avi", ".mp4", ".mkv", ".webm"} <= set(VIDEO_EXTENSIONS)


def test_video_id() -> None:
    root = Path("/data/ucf101")
    assert video_id(root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi", root) == (
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01"
    )
    assert video_id(root / "clip.v2.final.mp4", root) == "clip.v2.final"
    assert video_id(root / "my videos" / "clip één.mkv", root) == "my videos/clip één"
    assert video_id(Path("/elsewhere/clip één.mp4"), None) == "clip één"
    with pytest.raises(ValueError):
        video_id(Path("/elsewhere/clip.mp4"), root)
