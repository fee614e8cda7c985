"""One video end to end (the unit of work), called directly: files, round trip, failures."""

from __future__ import annotations

import os
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from flowpipe.extraction.settings import ExtractSettings
from flowpipe.extraction.tasks import VideoTask
from flowpipe.extraction.video import Resize, iter_frames, to_gray
from flowpipe.extraction.worker import VideoJob, extract_video
from flowpipe.flow import TVL1Params, tvl1_flow
from flowpipe.storage import DatasetStore
from flowpipe.storage.codec import decode_jpeg, dequantize, quantization_step
from flowpipe.storage.dataset import StoreSpec
from flowpipe.synth import write_dataset

FAST = TVL1Params(nscales=3, warps=2)


def extract(
    path: Path,
    video_id: str,
    settings: ExtractSettings,
    out: Path,
    pack: str = "folder",
    batch: int | None = None,
) -> dict:
    """extract_video of one file into the dataset at out, on the CPU."""
    task = VideoTask(str(path), video_id)
    return extract_video(
        VideoJob(task, settings, StoreSpec(str(out), pack), "cpu", chunk_pairs=batch)
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    root = write_dataset(
        tmp_path_factory.mktemp("synth"),
        videos_per_class=1,
        frames=7,
        size=(64, 48),
        classes=["rotate_cw"],
        fmt="avi",
    )
    return root / "videos" / "rotate_cw" / "rotate_cw_000.avi"


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    root = write_dataset(
        tmp_path_factory.mktemp("long"),
        videos_per_class=1,
        frames=129,
        size=(64, 48),
        classes=["rotate_cw"],
        fmt="avi",
    )
    return root / "videos" / "rotate_cw" / "rotate_cw_000.avi"


def test_folder_layout_and_round_trip(clip: Path, tmp_path: Path) -> None:
    settings = ExtractSettings(params=FAST, rgb=True)
    result = extract(clip, "a/clip", settings, tmp_path, batch=4)
    assert result["status"] == "done" and result["frames"] == 7 and result["flows"] == 6
    folder = tmp_path / "a" / "clip"
    names = sorted(p.name for p in folder.iterdir())
    for prefix in ("flow_x", "flow_y", "bflow_x", "bflow_y"):
        assert [n for n in names if n.startswith(prefix + "_")] == [
            f"{prefix}_{k:05d}.jpg" for k in range(1, 7)
        ]
    assert [n for n in names if n.startswith("img_")] == [f"img_{k:05d}.jpg" for k in range(1, 8)]
    assert "meta.json" in names
    gray = to_gray(np.stack(list(iter_frames(clip))))
    truth = tvl1_flow(gray[2], gray[3], params=FAST)[0].clamp(-20, 20).numpy()
    x = dequantize(decode_jpeg((folder / "flow_x_00003.jpg").read_bytes()), 20.0)
    y = dequantize(decode_jpeg((folder / "flow_y_00003.jpg").read_bytes()), 20.0)
    epe = np.sqrt((x - truth[0]) ** 2 + (y - truth[1]) ** 2).mean()
    assert epe < quantization_step(20.0)  # quantisation + JPEG add less than one step
    assert 0 < result["quantization_jpeg_epe"] < quantization_step(20.0)
    back = tvl1_flow(gray[3], gray[2], params=FAST)[0].clamp(-20, 20).numpy()
    bx = dequantize(decode_jpeg((folder / "bflow_x_00003.jpg").read_bytes()), 20.0)
    assert np.abs(bx - back[0]).mean() < quantization_step(20.0)


def test_batch_size_does_not_change_the_output(clip: Path, tmp_path: Path) -> None:
    settings = ExtractSettings(params=FAST, backward=False)
    for batch, out in ((2, "b2"), (16, "b16")):
        extract(clip, "clip", settings, tmp_path / out, batch=batch)
    for k in range(1, 7):
        a = (tmp_path / "b2" / "clip" / f"flow_x_{k:05d}.jpg").read_bytes()
        b = (tmp_path / "b16" / "clip" / f"flow_x_{k:05d}.jpg").read_bytes()
        assert np.abs(decode_jpeg(a).astype(int) - decode_jpeg(b)).max() <= 1
    assert not list((tmp_path / "b2" / "clip").glob("bflow_*"))


def test_zip_layout_resize_and_max_frames(clip: Path, tmp_path: Path) -> None:
    settings = ExtractSettings(params=FAST, resize=Resize(size=(32, 24)), max_frames=4)
    result = extract(clip, "clip", settings, tmp_path, pack="zip")
    assert result["flows"] == 3 and result["size"] == [32, 24]
    store = DatasetStore(str(tmp_path), "zip")
    assert decode_jpeg(store.read_file("clip", "flow_x_00003.jpg")).shape == (24, 32)
    assert store.is_done("clip", settings.as_dict())


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "one_frame", "truncated_avi"])
def test_bad_video_is_a_failure_record(tmp_path: Path, kind: str, clip: Path) -> None:
    path = tmp_path / "bad.mp4"
    if kind == "truncated_avi":
        path = tmp_path / "cut.avi"
        data = clip.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 5])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n")
    elif kind == "one_frame":
        path = tmp_path / "one.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24))
        writer.write(np.full((24, 32, 3), 128, np.uint8))
        writer.release()
    result = extract(path, "bad", ExtractSettings(params=FAST), tmp_path / "out")
    assert result["status"] == "failed" and result["path"] == str(path)
    assert str(path) not in result["message"]  # the failure line names the path once
    assert "\n" not in result["message"]
    assert not (tmp_path / "out" / "bad" / "meta.json").exists()


@pytest.mark.parametrize("pack", ["folder", "zip"])
def test_peak_memory_does_not_grow_with_the_video(
    long_clip: Path, tmp_path: Path, pack: str
) -> None:
    """33 then 129 frames (all chunks full at batch 4): the Python allocation peak grows by far
    less than the 96 extra frames' JPEGs, which holding a video until it is written costs."""

    def extract_frames(frames: int) -> tuple[int, int]:
        settings = ExtractSettings(params=FAST, rgb=True, quality=100, max_frames=frames)
        out = tmp_path / f"{frames}"
        tracemalloc.start()
        try:
            result = extract(long_clip, "v", settings, out, pack, batch=4)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result["status"] == "done" and result["frames"] == frames
        return peak, DatasetStore(str(out), pack).bytes_used()

    extract_frames(9)  # compiled kernels and caches made before measuring
    (short_peak, short_bytes), (long_peak, long_bytes) = extract_frames(33), extract_frames(129)
    assert long_bytes - short_bytes > 400_000
    assert long_peak - short_peak < 0.75 * (long_bytes - short_bytes)


def os_threads() -> int:
    """The process's threads as the OS counts them (OpenMP's among them, which Python does not
    see)."""
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(torch.get_num_threads() < 2, reason="one torch thread: no team either way")
def test_a_video_leaves_the_cores_to_the_solver(clip: Path, tmp_path: Path) -> None:
    # A thread of torch work on several cores keeps an OpenMP team beside the solver's, and
    # OpenMP then stops spin-waiting (devices.torch_threads): the video's own torch work
    # (quantisation, consistency) must leave no team behind in the thread that ran it.
    settings = ExtractSettings(params=FAST)
    assert extract(clip, "warm", settings, tmp_path)["status"] == "done"  # the solver's thread
    with ThreadPoolExecutor(1) as videos:  # a Dask worker's thread, alive after its task
        before = os_threads()
        assert videos.submit(extract, clip, "b", settings, tmp_path).result()["status"] == "done"
        deadline = time.monotonic() + 10  # the video's helper threads may take a moment to end
        while os_threads() > before + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os_threads() == before + 1  # the executor's thread alone
        assert torch.get_num_threads() >= 2  # the caller's own count untouched
