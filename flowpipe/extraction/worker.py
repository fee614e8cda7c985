"""One video end to end, the unit of work of `flowpipe extract`.

Decode (a thread, ahead of the solver), TV-L1 forward and backward flow in large batches on the
engine (the process's FlowBatcher merges the chunks of the videos its threads run),
quantisation on the engine's device, JPEG encoding in a thread pool, each file handed to the
store's video writer as soon as it is encoded (memory does not grow with the video's length)
and, last, its meta.json. Errors a user's input causes come back as a failure record rather
than an exception, so Dask does not retry them; a crash of the worker is retried.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flowpipe import __version__
from flowpipe.extraction.flow_service import FlowBatcher, batcher_for
from flowpipe.storage.codec import (
    DEFAULT_BOUND,
    DEFAULT_QUALITY,
    decode_jpeg,
    dequantize,
    encode_jpeg,
    encode_rgb_jpeg,
    quantize,
)
from flowpipe.flow import TVL1Params
from flowpipe.flow.frames import resolve_device
from flowpipe.memory import keep_freed_memory
from flowpipe.storage.dataset import (
    FORMAT_VERSION,
    DatasetStore,
    VideoWriter,
    backward_names,
    flow_names,
    image_name,
)
from flowpipe.extraction.video import Resize, VideoError, probe, read_chunks, to_gray

# Frame pairs per chunk of a video, unless the user sets it. GPU workers merge the chunks of
# their videos: on an H100, chunks of 64 kept the job at 0.90 of the engine-only rate, chunks
# of 32 at 0.81 (benchmarks/extract_sweep.py, one run).
DEFAULT_BATCH = 16
CUDA_DEFAULT_BATCH = 64
# Frame pairs per solver call, merged across the videos a worker runs at once: a GPU is only
# busy with 128+ pairs; on CPU one video's chunk already keeps the cores busy (a CPU worker
# runs one video at a time), so this caps what several threads could merge, for memory.
CUDA_MAX_PAIRS = 256
CPU_MAX_PAIRS = 2 * DEFAULT_BATCH
# Torch threads for a worker process, set by the cluster that starts it (Dask's nanny pins
# OpenMP to one thread per worker, which would leave the engine on one core).
TORCH_THREADS_ENV = "FLOWPIPE_TORCH_THREADS"
# The Dask event topic on which workers report frames done.
PROGRESS_TOPIC = "flowpipe-frames"
# Chunks of JPEG jobs that may be pending (encoding or waiting to be written) while the engine
# computes the next chunk: bounds a worker's memory whatever the video's length.
IN_FLIGHT_CHUNKS = 2
# Flow requests a video keeps queued at a GPU's flow service: while it quantises and hands out
# one chunk's flow, the next chunk is already waiting to be solved, so the GPU does not idle
# while every video it serves handles a result at once. On CPU one: the solver already keeps
# the cores busy, and encoding beside it slowed the job (2 cores, bench extract, one run
# each: 1.41 frames/s with two ahead, 1.53-1.67 with one).
CUDA_FLOW_REQUESTS_AHEAD = 2
# Frames a video may decode short of its header's count before it counts as truncated.
TRUNCATION_TOLERANCE = 2


@dataclass(frozen=True)
class ExtractSettings:
    """Everything that determines the output; a finished video is redone when these change."""

    params: TVL1Params = field(default_factory=TVL1Params)
    bound: float = DEFAULT_BOUND
    quality: int = DEFAULT_QUALITY
    backward: bool = True
    rgb: bool = False
    resize: Resize = field(default_factory=Resize)
    fps: float | None = None
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if not self.bound > 0:
            raise ValueError(f"bound must be positive, got {self.bound!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, got {self.quality!r}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps!r}")
        if self.max_frames is not None and self.max_frames < 2:
            raise ValueError(f"max-frames must be at least 2, got {self.max_frames!r}")

    def as_dict(self) -> dict[str, Any]:
        """JSON form, compared with a finished video's meta.json to decide whether to redo it."""
        out = dataclasses.asdict(self)
        out["resize"] = {"size": _listed(self.resize.size), "short_side": self.resize.short_side}
        out["format_version"] = FORMAT_VERSION
        return out


def _listed(size: tuple[int, int] | None) -> list[int] | None:
    return None if size is None else list(size)


@dataclass(frozen=True)
class VideoTask:
    """One input: its path, its dataset id, and its label when the input list gave one."""

    path: str
    video_id: str
    label: int | None = None


@dataclass
class Timings:
    """Seconds spent per stage inside one video (the stages overlap, so they can exceed wall)."""

    decode: float = 0.0
    flow: float = 0.0
    encode: float = 0.0
    write: float = 0.0
    wall: float = 0.0


def extract_video(
    task: VideoTask, settings: ExtractSettings, root: str, pack: str = "folder",
    device: str = "auto", batch: int = DEFAULT_BATCH,
) -> dict[str, Any]:  # fmt: skip
    """Extract one video into the dataset at `root`; returns its meta or a failure record."""
    configure_worker_process()
    try:
        store = DatasetStore(root, pack)
        return _extract(task, settings, store, device, batch, _progress_reporter())
    except (VideoError, ValueError, OSError) as err:
        return failure_record(task, err)


@functools.cache
def configure_worker_process() -> None:
    """Once per process: the torch thread count the cluster asked for, and glibc's malloc back
    to keeping freed memory. Dask's nanny sets MALLOC_TRIM_THRESHOLD_=64 KiB, which hands every
    freed tensor back to the OS and makes the engine page-fault its way through each
    iteration (2.8x slower on CPU); the setting is read at start-up, so mallopt undoes it."""
    threads = os.environ.get(TORCH_THREADS_ENV)
    if threads and torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))
    if os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        keep_freed_memory()


def failure_record(task: VideoTask, err: BaseException) -> dict[str, Any]:
    """The failures.jsonl line of an input that could not be extracted."""
    message = " ".join(str(err).split()) or type(err).__name__
    return {"status": "failed", "path": task.path, "video_id": task.video_id,
            "error": type(err).__name__, "message": message}  # fmt: skip


def _progress_reporter() -> Callable[[int], None]:
    """Inside a Dask worker: report frames done as events on PROGRESS_TOPIC (the client's
    frame bar subscribes to them); elsewhere, nothing."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return lambda frames: None
    return lambda frames: worker.log_event(PROGRESS_TOPIC, frames)


def _extract(
    task: VideoTask, settings: ExtractSettings, store: DatasetStore, device: str, batch: int,
    report: Callable[[int], None],
) -> dict[str, Any]:  # fmt: skip
    start = time.perf_counter()
    info = probe(task.path)
    timings = Timings()
    frames = flows = 0
    quant_check: list[float] = []
    pending: deque[Future] = deque()
    requests: deque[_FlowRequest] = deque()
    ahead = CUDA_FLOW_REQUESTS_AHEAD if _on_cuda(device) else 1
    with (
        store.video_writer(task.video_id) as writer,
        ThreadPoolExecutor(max(1, min(8, (os.cpu_count() or 2)))) as pool,
    ):
        finish = functools.partial(_finish_flow, pool=pool, settings=settings, timings=timings,
                                   quant_check=quant_check, report=report)  # fmt: skip
        for chunk in _prefetch(read_chunks(task.path, batch + 1, settings.resize, settings.fps,
                                           settings.max_frames), timings):  # fmt: skip
            first = frames == 0
            new = chunk if first else chunk[1:]
            jobs = _submit_images(pool, new, frames, settings.quality) if settings.rgb else []
            frames += len(new)
            if len(chunk) >= 2:
                requests.append(_request_flow(to_gray(chunk), settings, device, flows, len(new)))
                flows += len(chunk) - 1
            while len(requests) >= ahead:
                jobs += finish(requests.popleft())
            pending.extend(jobs)
            _write_done(pending, writer, timings, keep=IN_FLIGHT_CHUNKS * max(1, len(jobs)))
        while requests:
            pending.extend(finish(requests.popleft()))
        _write_done(pending, writer, timings, keep=0)
        if flows == 0:
            raise VideoError(task.path, f"{frames} frame decoded; flow needs at least 2")
        _check_complete(task, info, settings, frames)
        meta = _meta(task, info, settings, frames, flows, timings, quant_check)
        t = time.perf_counter()
        writer.finish(meta)
        timings.write += time.perf_counter() - t
    timings.wall = time.perf_counter() - start
    meta["timings"] = dataclasses.asdict(timings)
    return {"status": "done", **meta}


def _write_done(pending: deque[Future], writer: VideoWriter, timings: Timings, keep: int) -> None:
    """Write encoded JPEGs in submission order (zip members in a fixed order): every finished
    one at the head of the queue, waiting on the oldest while more than `keep` are pending,
    so a video's JPEGs never pile up in memory."""
    while pending and (len(pending) > keep or pending[0].done()):
        name, data, seconds = pending.popleft().result()
        timings.encode += seconds
        t = time.perf_counter()
        writer.add(name, data)
        timings.write += time.perf_counter() - t


def _check_complete(task: VideoTask, info: Any, settings: ExtractSettings, frames: int) -> None:
    """A video that decodes far fewer frames than its header promises is truncated: its last
    frames may be garbage, so it fails rather than being stored short."""
    if settings.fps is not None or info.frame_count_hint <= 0:
        return
    expected = min(info.frame_count_hint, settings.max_frames or info.frame_count_hint)
    if frames < expected - TRUNCATION_TOLERANCE:
        raise VideoError(task.path, f"truncated: decoded {frames} of {expected} frames")


def _prefetch(chunks: Iterator[np.ndarray], timings: Timings) -> Iterator[np.ndarray]:
    """Decode in a background thread, two chunks ahead, so the solver does not wait on it."""
    ahead: queue.Queue = queue.Queue(maxsize=2)
    done = object()

    def produce() -> None:
        try:
            t = time.perf_counter()
            for chunk in chunks:
                timings.decode += time.perf_counter() - t
                ahead.put(chunk)
                t = time.perf_counter()
            ahead.put(done)
        except BaseException as err:  # handed to the consumer, raised there
            ahead.put(err)

    threading.Thread(target=produce, daemon=True).start()
    while (item := ahead.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


@dataclass
class _FlowRequest:
    """A chunk's flow, queued at the flow service: its future, the chunk's first flow index,
    pairs per direction, frame size, and the frames it adds (for progress)."""

    future: Future
    offset: int
    pairs: int
    size: tuple[int, int]
    new_frames: int


def _request_flow(gray: np.ndarray, settings: ExtractSettings, device: str, offset: int,
                  new_frames: int) -> _FlowRequest:  # fmt: skip
    """Queue the forward (and backward) flow of a chunk of gray frames at the flow service."""
    frames = torch.from_numpy(gray)
    prev, nxt = frames[:-1], frames[1:]
    if settings.backward:
        prev, nxt = torch.cat([prev, frames[1:]]), torch.cat([nxt, frames[:-1]])
    future = _batcher(device).submit(prev, nxt, settings.params)
    return _FlowRequest(future, offset, len(gray) - 1, gray.shape[1:], new_frames)


def _finish_flow(request: _FlowRequest, pool: ThreadPoolExecutor, settings: ExtractSettings,
                 timings: Timings, quant_check: list[float],
                 report: Callable[[int], None]) -> list[Future]:  # fmt: skip
    """Wait for a request's flow, quantise it on its device, submit its planes' JPEGs and
    report its frames done."""
    t = time.perf_counter()
    flow = request.future.result()
    if flow.is_cuda:  # made on the flow service's stream, read on this thread's
        flow.record_stream(torch.cuda.current_stream(flow.device))
    q = quantize(flow, settings.bound)
    if not quant_check:
        quant_check.append(_jpeg_epe(flow[0], q[0], settings))
    planes = q.view(2 if settings.backward else 1, request.pairs, 2, *request.size)
    planes = planes.cpu().numpy()
    timings.flow += time.perf_counter() - t
    report(request.new_frames)
    return _submit_planes(pool, planes, request.offset, settings)


def _on_cuda(device: str) -> bool:
    """Whether the engine runs on a GPU in this worker."""
    return resolve_device(device).type == "cuda"


def _batcher(device: str) -> FlowBatcher:
    """The process's flow service for `device`, shared by the videos its threads run."""
    return batcher_for(device, CUDA_MAX_PAIRS if _on_cuda(device) else CPU_MAX_PAIRS)


def _jpeg_epe(flow: torch.Tensor, q: torch.Tensor, settings: ExtractSettings) -> float:
    """Mean end-point error that quantisation + JPEG add to one field (inside the bound)."""
    clipped = flow.clamp(-settings.bound, settings.bound).cpu().numpy()
    decoded = np.stack([decode_jpeg(encode_jpeg(c, settings.quality)) for c in q.cpu().numpy()])
    back = dequantize(decoded, settings.bound)
    return float(np.sqrt(((back - clipped) ** 2).sum(axis=0)).mean())


def _submit_planes(
    pool: ThreadPoolExecutor, planes: np.ndarray, offset: int, settings: ExtractSettings
) -> list:
    jobs = []
    for direction, names in zip(planes, (flow_names, backward_names), strict=False):
        for i, (x, y) in enumerate(direction):
            name_x, name_y = names(offset + i + 1)
            jobs.append(pool.submit(_named, name_x, encode_jpeg, x, settings.quality))
            jobs.append(pool.submit(_named, name_y, encode_jpeg, y, settings.quality))
    return jobs


def _submit_images(pool: ThreadPoolExecutor, images: np.ndarray, offset: int, quality: int) -> list:
    return [
        pool.submit(_named, image_name(offset + i + 1), encode_rgb_jpeg, img, quality)
        for i, img in enumerate(images)
    ]


def _named(name: str, encode: Any, image: np.ndarray, quality: int) -> tuple[str, bytes, float]:
    start = time.perf_counter()
    data = encode(image, quality)
    return name, data, time.perf_counter() - start


def _meta(
    task: VideoTask, info: Any, settings: ExtractSettings, frames: int, flows: int,
    timings: Timings, quant_check: list[float],
) -> dict[str, Any]:  # fmt: skip
    width, height = settings.resize.output_size(info.width, info.height)
    return {
        "video_id": task.video_id,
        "source": str(Path(task.path)),
        "label": task.label,
        "frames": frames,
        "flows": flows,
        "fps": settings.fps or info.fps,
        "source_size": [info.width, info.height],
        "size": [width, height],
        "settings": settings.as_dict(),
        "quantization_jpeg_epe": quant_check[0] if quant_check else None,
        "timings": dataclasses.asdict(timings),
        "flowpipe_version": __version__,
    }
