"""Tests of flowpipe.synth: determinism, exact ground-truth flow, class semantics, datasets."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from flowpipe.io import read_flo
from flowpipe.synth import (
    MOTION_CLASSES,
    SynthVideo,
    render_video,
    translation_pair,
    video_seed,
    write_dataset,
)


def gray(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 -> float32 gray."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at x + flow(x), bilinearly."""
    h, w = flow.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image, x + flow[..., 0], y + flow[..., 1], cv2.INTER_LINEAR)


def reliable(flow: np.ndarray, margin: int = 6) -> np.ndarray:
    """[H, W] bool: pixels at least 5 px from any flow jump / sprite edge and `margin` from the
    frame border, where brightness constancy along the flow must hold."""
    moving = np.abs(flow).sum(-1) > 0
    edges = np.zeros(moving.shape, np.uint8)
    edges[1:] |= (np.abs(np.diff(flow, axis=0)).max(-1) > 0.25) | np.diff(moving, axis=0)
    edges[:, 1:] |= (np.abs(np.diff(flow, axis=1)).max(-1) > 0.25) | np.diff(moving, axis=1)
    near = cv2.dilate(edges, np.ones((11, 11), np.uint8)) > 0
    mask = ~near
    mask[:margin], mask[-margin:], mask[:, :margin], mask[:, -margin:] = False, False, False, False
    return mask


def sprite_pixels(video: SynthVideo) -> tuple[np.ndarray, np.ndarray]:
    """Flow vectors [N, 2] of all reliable sprite pixels, and their curl / divergence [N, 2]."""
    vectors, derivatives = [], []
    for flow in video.flows:
        mask = reliable(flow) & (np.abs(flow).sum(-1) > 0)
        dux_dy, dux_dx = np.gradient(flow[..., 0])
        duy_dy, duy_dx = np.gradient(flow[..., 1])
        vectors.append(flow[mask])
        derivatives.append(np.stack([duy_dx - dux_dy, dux_dx + duy_dy], -1)[mask])
    return np.concatenate(vectors), np.concatenate(derivatives)


def test_classes() -> None:
    assert MOTION_CLASSES == (
        "translate_left",
        "translate_right",
        "translate_up",
        "translate_down",
        "rotate_cw",
        "rotate_ccw",
        "zoom_in",
        "zoom_out",
    )


def test_deterministic() -> None:
    a, b = render_video("rotate_cw", 7), render_video("rotate_cw", 7)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.flows, b.flows)
    c = render_video("rotate_cw", 8)
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("motion", MOTION_CLASSES)
def test_every_class_renders(motion: str) -> None:
    video = render_video(motion, 3, size=(96, 64), frames=10)
    assert video.label == motion
    assert video.frames.shape == (10, 64, 96, 3) and video.frames.dtype == np.uint8
    assert video.flows.shape == (9, 64, 96, 2) and video.flows.dtype == np.float32
    assert np.isfinite(video.flows).all()
    moving = np.abs(video.flows).sum(-1) > 0
    assert 0.02 < moving.mean() < 0.6  # sprites present, background static
    assert not np.array_equal(video.frames[0], video.frames[-1])
    assert gray(video.frames[0]).std() > 10  # textured, not flat


@pytest.mark.parametrize("motion", ["translate_down", "rotate_ccw", "zoom_in", "zoom_out"])
def test_ground_truth_flow_is_exact(motion: str) -> None:
    video = render_video(motion, 11)
    errors, sprite_errors, still_errors = [], [], []
    for t, flow in enumerate(video.flows):
        mask = reliable(flow)
        moving = mask & (np.abs(flow).sum(-1) > 0)
        now, nxt = gray(video.frames[t]), gray(video.frames[t + 1])
        error = np.abs(warp(nxt, flow) - now)
        errors.append(error[mask])
        sprite_errors.append(error[moving])
        still_errors.append(np.abs(nxt - now)[moving])
    error, sprite_error = np.concatenate(errors), np.concatenate(sprite_errors)
    assert sprite_error.size > 2000  # the check covers many sprite pixels
    assert error.mean() < 0.5 and error.max() < 8  # grey levels; background is exact
    assert sprite_error.mean() < 1.0  # what uint8 rounding and bilinear lookups leave
    assert sprite_error.mean() < 0.5 * np.concatenate(still_errors).mean()  # flow 0 fits worse


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_class_semantics(seed: int) -> None:
    mean = {m: sprite_pixels(render_video(m, seed))[0].mean(0) for m in MOTION_CLASSES[:4]}
    assert mean["translate_left"][0] < -1.0 and abs(mean["translate_left"][1]) < 1e-4
    assert mean["translate_right"][0] > 1.0 and abs(mean["translate_right"][1]) < 1e-4
    assert mean["translate_up"][1] < -0.5 and abs(mean["translate_up"][0]) < 1e-4
    assert mean["translate_down"][1] > 0.5 and abs(mean["translate_down"][0]) < 1e-4
    for m in ("translate_left", "translate_right"):
        assert abs(mean[m][0]) <= 3.0 + 1e-4
    rot_div = {m: sprite_pixels(render_video(m, seed))[1].mean(0) for m in MOTION_CLASSES[4:]}
    low, high = 2 * np.sin(np.radians(3)), 2 * np.sin(np.radians(6))
    assert low - 1e-3 < rot_div["rotate_cw"][0] < high + 1e-3  # clockwise on screen (y down)
    assert -high - 1e-3 < rot_div["rotate_ccw"][0] < -low + 1e-3
    assert 0.05 < rot_div["zoom_in"][1] < 0.13 and abs(rot_div["zoom_in"][0]) < 1e-3
    assert -0.13 < rot_div["zoom_out"][1] < -0.05 and abs(rot_div["zoom_out"][0]) < 1e-3


@pytest.mark.parametrize(
    "pair",
    [
        ("translate_left", "translate_right"),
        ("rotate_cw", "rotate_ccw"),
        ("zoom_in", "zoom_out"),
        ("translate_up", "translate_down"),
    ],
)
def test_appearance_does_not_depend_on_class(pair: tuple[str, str]) -> None:
    a, b = (render_video(m, 5, frames=15) for m in pair)
    assert np.array_equal(a.frames[7], b.frames[7])  # same scene at the middle frame
    assert not np.array_equal(a.frames[0], b.frames[0])  # different motion


@pytest.mark.parametrize("motion", ["translate_down", "zoom_in"])
def test_sprites_stay_inside_long_clips(motion: str) -> None:
    video = render_video(motion, 4, size=(48, 40), frames=40)
    moving = np.abs(video.flows).sum(-1) > 0
    assert moving.any(axis=(1, 2)).all()  # a sprite is visible in every frame
    assert not (moving[:, 0].any() or moving[:, -1].any())
    assert not (moving[:, :, 0].any() or moving[:, :, -1].any())


@pytest.mark.parametrize("dx, dy", [(2.5, -1.25), (25.0, -20.0), (-30.0, 0.0)])
def test_translation_pair(dx: float, dy: float) -> None:
    frame0, frame1, flow = translation_pair(dx, dy, seed=3)
    assert frame0.shape == frame1.shape == (120, 160) and frame0.dtype == np.uint8
    assert flow.shape == (120, 160, 2) and flow.dtype == np.float32
    assert (flow[..., 0] == np.float32(dx)).all() and (flow[..., 1] == np.float32(dy)).all()
    assert frame0.std() > 10
    back = warp(frame1.astype(np.float32), flow)
    m = int(np.ceil(max(abs(dx), abs(dy)))) + 2
    error = np.abs(back - frame0)[m:-m, m:-m]
    assert error.mean() < 1.0
    assert np.abs(frame1.astype(np.float32) - frame0)[m:-m, m:-m].mean() > 5.0


def read_video(path: str) -> list[np.ndarray]:
    """All frames of a video file, RGB."""
    capture = cv2.VideoCapture(path)
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        ok, frame = capture.read()
    capture.release()
    return frames


@pytest.mark.parametrize("fmt, save_png", [("mp4", False), ("avi", True)])
def test_write_dataset(tmp_path, fmt: str, save_png: bool) -> None:
    classes = ["zoom_out", "translate_right"]
    out = write_dataset(
        tmp_path / "ds",
        1,
        frames=6,
        size=(64, 48),
        seed=9,
        fmt=fmt,
        classes=classes,
        save_png=save_png,
    )
    assert out == tmp_path / "ds"
    assert (out / "videos" / "labels.txt").read_text().splitlines() == [
        f"zoom_out/zoom_out_000.{fmt} 0",
        f"translate_right/translate_right_000.{fmt} 1",
    ]
    assert (out / "videos" / "classInd.txt").read_text() == "1 zoom_out\n2 translate_right\n"
    settings = json.loads((out / "synth.json").read_text())
    assert settings["seed"] == 9 and settings["size"] == [64, 48] and settings["frames"] == 6
    assert settings["fmt"] == fmt and settings["classes"] == classes
    assert settings["videos_per_class"] == 1 and settings["flowpipe_version"]
    for motion in classes:
        name = f"{motion}/{motion}_000"
        video = render_video(motion, video_seed(9, motion, 0), (64, 48), 6)
        assert settings["video_seeds"][name] == video_seed(9, motion, 0)
        decoded = read_video(str(out / "videos" / f"{name}.{fmt}"))
        assert len(decoded) == 6 and decoded[0].shape == (48, 64, 3)
        error = np.mean(
            [np.abs(d.astype(float) - f).mean() for d, f in zip(decoded, video.frames, strict=True)]
        )
        swapped = np.mean(
            [
                np.abs(d[..., ::-1].astype(float) - f).mean()
                for d, f in zip(decoded, video.frames, strict=True)
            ]
        )
        assert error < 10 and error < swapped  # lossy, but RGB order right
        flos = sorted((out / "flow" / name).iterdir())
        assert [p.name for p in flos] == [f"flow_{t:05d}.flo" for t in range(1, 6)]
        assert all(np.array_equal(read_flo(p), f) for p, f in zip(flos, video.flows, strict=True))
        if save_png:
            pngs = sorted((out / "frames" / name).glob("img_*.png"))
            assert [p.name for p in pngs] == [f"img_{t:05d}.png" for t in range(1, 7)]
            for p, frame in zip(pngs, video.frames, strict=True):
                assert np.array_equal(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), frame)
    assert (out / "frames").exists() == save_png


def test_video_seed_independent_of_class_subset(tmp_path) -> None:
    a = write_dataset(tmp_path / "a", 1, frames=3, size=(32, 32), classes=["rotate_cw"])
    b = write_dataset(tmp_path / "b", 1, frames=3, size=(32, 32), classes=["zoom_in", "rotate_cw"])
    name = "flow/rotate_cw/rotate_cw_000/flow_00001.flo"
    assert np.array_equal(read_flo(a / name), read_flo(b / name))
    assert video_seed(0, "rotate_cw", 0) != video_seed(0, "rotate_cw", 1)
    assert video_seed(0, "rotate_cw", 0) != video_seed(1, "rotate_cw", 0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: render_video("spin", 0), "unknown motion"),
        (lambda: render_video("zoom_in", 0, frames=1), "frames"),
        (lambda: render_video("zoom_in", 0, size=(16, 120)), "size"),
        (lambda: render_video("zoom_in", -1), "seed"),
        (lambda: translation_pair(float("nan"), 0.0), "finite"),
        (lambda: write_dataset("unused", fmt="mkv"), "fmt"),
        (lambda: write_dataset("unused", classes=["zoom_in", "wobble"]), "classes"),
        (lambda: write_dataset("unused", videos_per_class=0), "videos_per_class"),
    ],
)
def test_bad_input(call, message: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        call()
    assert not (tmp_path / "unused").exists()
