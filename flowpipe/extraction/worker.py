"""One video end to end, the unit of work of `flowpipe extract`, run on a Dask worker.

Decode (a thread, ahead of the solver), TV-L1 forward and backward flow in large batches on the
engine (the process's flow service merges the chunks of the videos its threads run),
quantisation on the engine's device, JPEG encoding in a thread pool, each file handed to the
store's video writer as soon as it is encoded (memory does not grow with the video's length)
and, last, its meta.json. The video is written under its lease (one writer per video across
runs); a video that another live run holds comes back as "busy", one that another run finished
meanwhile as "skipped". Every error of a video comes back as a failure record rather than an
exception, so Dask does not retry it; a crash of the worker is retried.
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
from typing import Any

import numpy as np
import torch

from flowpipe import __version__
from flowpipe.devices import names_cuda, torch_threads
from flowpipe.extraction.flow_service import FlowService, service_for
from flowpipe.extraction.settings import ExtractSettings, JobTuning
from flowpipe.extraction.sources import (
    fingerprint,
    identity,
    opened_locally,
    redact,
    same_source,
)
from flowpipe.extraction.tasks import VideoTask
from flowpipe.extraction.video import VideoError, VideoInfo, probe, read_chunks, to_gray
from flowpipe.memory import keep_freed_memory
from flowpipe.quality.consistency import ConsistencyAccumulator
from flowpipe.storage.codec import (
    decode_jpeg,
    dequantize,
    encode_jpeg,
    encode_rgb_jpeg,
    quantize,
)
from flowpipe.storage.dataset import DatasetStore, StoreSpec
from flowpipe.storage.index import IndexWriter, meta_digest
from flowpipe.storage.layout import backward_names, flow_names, image_name
from flowpipe.storage.leases import Holder, LeaseHeld, LeaseKeeper, Leases
from flowpipe.storage.lists import load_json_dict
from flowpipe.storage.markers import normalised
from flowpipe.storage.writers import VideoWriter

# Torch threads for a worker process, set by the cluster that starts it (Dask's nanny pins
# OpenMP to one thread per worker, which would leave the engine on one core).
TORCH_THREADS_ENV = "FLOWPIPE_TORCH_THREADS"
# The Dask event topic on which workers report progress: ("start", video id, frames the header
# promises), ("frames", video id, frames done since the last event).
PROGRESS_TOPIC = "flowpipe-progress"
# Frames a video may decode short of its header's count before it counts as truncated.
TRUNCATION_TOLERANCE = 2


@dataclass(frozen=True)
class VideoJob:
    """Everything a worker needs to extract one video: the input, what to compute, where to
    write it, on which device, how to schedule it, and the run it belongs to (its leases)."""

    task: VideoTask
    settings: ExtractSettings
    output: StoreSpec
    device: str = "auto"
    tuning: JobTuning = field(default_factory=JobTuning)
    run: str = "local"
    chunk_pairs: int | None = None  # frame pairs per chunk; None: the tuning's for the device
    replaces: str | None = None  # digest of the finished version the plan saw (index.meta_digest)
    overwrite: bool = False  # redo even a version finished meanwhile with the same settings


@dataclass
class Timings:
    """Seconds spent per stage inside one video (the stages overlap, so they can exceed wall)."""

    decode: float = 0.0
    flow: float = 0.0
    encode: float = 0.0
    write: float = 0.0
    wall: float = 0.0


def extract_video(job: VideoJob) -> dict[str, Any]:
    """Extract one video; returns its meta ("status": "done"), or a record saying it was
    "skipped" (done meanwhile by another run), "busy" (another live run writes it) or
    "failed" (with the error). The video's own torch work (quantisation, consistency) runs
    on one CPU thread: the cores go to the flow service's solver (devices.torch_threads)."""
    configure_worker_process()
    with torch_threads(1):
        return _extract(job)


def _extract(job: VideoJob) -> dict[str, Any]:
    """`extract_video` past the process set-up."""
    try:
        store = job.output.open()
        lease = Leases(
            store.files, "videos", Holder.this_process(job.run), job.tuning.lease_seconds
        )
        with lease.acquire(job.task.video_id) as held, LeaseKeeper(held):
            found = _finished_version(store, job)
            if found is not None and _as_asked(found[1], job):
                layout, meta = found
                video_id = job.task.video_id
                return {"status": "skipped", "video_id": video_id, "meta": meta, "layout": layout}
            if found is not None:  # finished after the plan: the index may claim it
                IndexWriter(store.files, job.run).remove([job.task.video_id])
            report = _progress_reporter(job.task.video_id)
            return _VideoExtraction(job, store, report).run(held.still_held)
    except LeaseHeld as held:
        return {"status": "busy", "video_id": job.task.video_id, "message": str(held)}
    except Exception as err:  # every error of a video is its failure; a crash is Dask's
        return failure_record(job.task, err)


@functools.cache
def configure_worker_process() -> int:
    """Once per process: glibc's malloc back to keeping freed memory, and the torch thread
    count the flow service's solver runs with (returned): the cluster's, else torch's default.
    Dask's nanny sets MALLOC_TRIM_THRESHOLD_=64 KiB, which hands every freed tensor back to the
    OS and makes the engine page-fault its way through each iteration (docs/cluster.md); the
    setting is read at start-up, so mallopt undoes it."""
    if os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        keep_freed_memory()
    return int(os.environ.get(TORCH_THREADS_ENV) or torch.get_num_threads())


def failure_record(task: VideoTask, err: BaseException) -> dict[str, Any]:
    """The failures.jsonl line of an input that could not be extracted (one-line message, the
    path said once, no credentials)."""
    message = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, VideoError):
        message = " ".join(err.cause.split())
    path = redact(task.path)
    return {
        "status": "failed",
        "path": path,
        "video_id": task.video_id,
        "error": type(err).__name__,
        "message": message.replace(task.path, path),
    }


def _finished_version(store: DatasetStore, job: VideoJob) -> tuple[str, dict] | None:
    """(layout, meta) of the video when it is finished in a version the plan did not see
    (another run finished it meanwhile, or a killed run finished it without indexing it)."""
    found = store.markers.find(job.task.video_id)
    meta = None if found is None else load_json_dict(found[1])
    if meta is None or meta_digest(meta) == job.replaces:
        return None
    return found[0], meta


def _as_asked(meta: dict, job: VideoJob) -> bool:
    """Whether a finished video is what the job would make: same settings, same source."""
    if job.overwrite or meta.get("settings") != normalised(job.settings.as_dict()):
        return False
    now = identity(job.task.path, job.output.storage_options)
    return same_source(meta.get("source_identity"), now, job.task.path)


def _progress_reporter(video_id: str) -> Callable[[str, int], None]:
    """Inside a Dask worker: report progress as events (kind, video id, frames) on
    PROGRESS_TOPIC (the client's progress display subscribes to them); elsewhere, nothing."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return lambda kind, frames: None
    return lambda kind, frames: worker.log_event(PROGRESS_TOPIC, (kind, video_id, frames))


@dataclass
class _FlowRequest:
    """A chunk's flow, queued at the flow service: its future, the chunk's first flow index,
    pairs per direction, frame size, and the frames it adds (for progress)."""

    future: Future
    offset: int
    pairs: int
    size: tuple[int, int]
    new_frames: int


class _VideoExtraction:
    """One video on its way through the worker: chunks of frames in, flow requests queued at the
    flow service, JPEG jobs pending in the pool, files out to the writer in order."""

    def __init__(self, job: VideoJob, store: DatasetStore, report: Callable[[str, int], None]):
        self.job = job
        self.settings = job.settings
        self.store = store
        self.report = report
        self.on_gpu = names_cuda(job.device)
        self.timings = Timings()
        self.frames = 0
        self.flows = 0
        self.bytes = {"flow": 0, "images": 0}
        self.jpeg_epe: float | None = None
        figures = self.settings.backward and job.tuning.consistency
        self.consistency = ConsistencyAccumulator() if figures else None
        self.requests: deque[_FlowRequest] = deque()
        self.pending: deque[Future] = deque()
        self.service: FlowService = service_for(job.device, job.tuning, configure_worker_process())

    def run(self, still_held: Callable[[], bool]) -> dict[str, Any]:
        """Extract the video; its meta.json is written only while `still_held()`."""
        start = time.perf_counter()
        task = self.job.task
        with opened_locally(task.path, self.job.output.storage_options) as local:
            info = probe(local)
            self.report("start", self._expected_frames(info))
            threads = max(1, min(self.job.tuning.encode_threads, os.cpu_count() or 2))
            with (
                self.store.video_writer(task.video_id, not self.job.output.adopted) as writer,
                ThreadPoolExecutor(threads) as self.pool,
            ):
                self.writer = writer
                for chunk in self._prefetched(local):
                    self._take(chunk)
                while self.requests:
                    self.pending.extend(self._finish_flow(self.requests.popleft()))
                self._write_done(keep=0)
                self._check_complete(info)
                self.timings.wall = time.perf_counter() - start
                meta = self._meta(info, local)
                if not still_held():
                    raise RuntimeError("lost its lease to another run; not marked done")
                writer.finish(meta)
        return {"status": "done", **meta}

    def _prefetched(self, local: str) -> Iterator[np.ndarray]:
        """The video's chunks, decoded in a background thread two chunks ahead."""
        pairs = self.job.chunk_pairs or self.job.tuning.chunk_pairs(self.on_gpu)
        s = self.settings
        return _prefetch(read_chunks(local, pairs + 1, s.resize, s.fps, s.max_frames), self.timings)

    def _take(self, chunk: np.ndarray) -> None:
        """Queue a chunk's flow (and its RGB frames' JPEGs), finishing older requests so that
        at most `requests_ahead` wait, and writing what is encoded."""
        new = chunk if self.frames == 0 else chunk[1:]
        jobs = self._submit_images(new) if self.settings.rgb else []
        if len(chunk) >= 2:
            self.requests.append(self._request_flow(to_gray(chunk), len(new)))
            self.flows += len(chunk) - 1
        self.frames += len(new)
        while len(self.requests) >= self.job.tuning.requests_ahead(self.on_gpu):
            jobs += self._finish_flow(self.requests.popleft())
        self.pending.extend(jobs)
        self._write_done(keep=self.job.tuning.chunks_in_flight * max(1, len(jobs)))

    def _request_flow(self, gray: np.ndarray, new_frames: int) -> _FlowRequest:
        """Queue the forward (and backward) flow of a chunk of gray frames at the flow service."""
        frames = torch.from_numpy(gray)
        prev, nxt = frames[:-1], frames[1:]
        if self.settings.backward:
            prev, nxt = torch.cat([prev, frames[1:]]), torch.cat([nxt, frames[:-1]])
        future = self.service.submit(prev, nxt, self.settings.params)
        return _FlowRequest(future, self.flows, len(gray) - 1, gray.shape[1:], new_frames)

    def _finish_flow(self, request: _FlowRequest) -> list[Future]:
        """Wait for a request's flow, quantise it on its device, submit its planes' JPEGs and
        report its frames done."""
        t = time.perf_counter()
        flow = request.future.result()
        if flow.is_cuda:  # made on the flow service's stream, read on this thread's
            flow.record_stream(torch.cuda.current_stream(flow.device))
        if self.consistency is not None:  # both directions are on the engine's device now
            self.consistency.add(flow[: request.pairs], flow[request.pairs :])
        q = quantize(flow, self.settings.bound)
        if self.jpeg_epe is None:
            self.jpeg_epe = _jpeg_epe(flow[0], q[0], self.settings)
        directions = 2 if self.settings.backward else 1
        planes = q.view(directions, request.pairs, 2, *request.size).cpu().numpy()
        self.timings.flow += time.perf_counter() - t
        self.report("frames", request.new_frames)
        return self._submit_planes(planes, request.offset)

    def _submit_planes(self, planes: np.ndarray, offset: int) -> list[Future]:
        jobs = []
        quality = self.settings.quality
        for direction, names in zip(planes, (flow_names, backward_names), strict=False):
            for i, (x, y) in enumerate(direction):
                name_x, name_y = names(offset + i + 1)
                jobs.append(self.pool.submit(_named, name_x, encode_jpeg, x, quality))
                jobs.append(self.pool.submit(_named, name_y, encode_jpeg, y, quality))
        return jobs

    def _submit_images(self, images: np.ndarray) -> list[Future]:
        quality = self.settings.quality
        return [
            self.pool.submit(_named, image_name(self.frames + i + 1), encode_rgb_jpeg, img, quality)
            for i, img in enumerate(images)
        ]

    def _write_done(self, keep: int) -> None:
        """Write encoded JPEGs in submission order (zip members in a fixed order): every
        finished one at the head of the queue, waiting on the oldest while more than `keep`
        are pending, so a video's JPEGs never pile up in memory."""
        while self.pending and (len(self.pending) > keep or self.pending[0].done()):
            name, data, seconds = self.pending.popleft().result()
            self.timings.encode += seconds
            self.bytes["images" if name.startswith("img_") else "flow"] += len(data)
            t = time.perf_counter()
            self.writer.add(name, data)
            self.timings.write += time.perf_counter() - t

    def _expected_frames(self, info: VideoInfo) -> int:
        """Frames the header promises after resampling and --max-frames (a progress hint)."""
        expected = info.frame_count_hint
        if self.settings.fps is not None and info.fps > 0:
            expected = round(expected * min(1.0, self.settings.fps / info.fps))
        return min(expected, self.settings.max_frames or expected)

    def _check_complete(self, info: VideoInfo) -> None:
        """A video that decodes far fewer frames than its header promises is truncated: its
        last frames may be garbage, so it fails rather than being stored short."""
        if self.flows == 0:
            raise VideoError(self.job.task.path, f"{self.frames} frame decoded; flow needs 2")
        if self.settings.fps is not None or info.frame_count_hint <= 0:
            return
        expected = min(info.frame_count_hint, self.settings.max_frames or info.frame_count_hint)
        if self.frames < expected - TRUNCATION_TOLERANCE:
            raise VideoError(
                self.job.task.path, f"truncated: decoded {self.frames} of {expected} frames"
            )

    def _meta(self, info: VideoInfo, local: str) -> dict[str, Any]:
        task, settings = self.job.task, self.settings
        width, height = settings.resize.output_size(info.width, info.height)
        source = identity(task.path, self.job.output.storage_options) or {}
        return {
            "video_id": task.video_id,
            "source": redact(task.path),
            "source_identity": {**source, "fingerprint": fingerprint(local)},
            "source_frames_hint": info.frame_count_hint,
            "label": task.label,
            "class_name": task.class_name,
            "frames": self.frames,
            "flows": self.flows,
            "fps": settings.fps or info.fps,
            "source_size": [info.width, info.height],
            "size": [width, height],
            "settings": settings.as_dict(),
            "quantization_jpeg_epe": self.jpeg_epe,
            "bytes": dict(self.bytes),
            **({"consistency": self.consistency.record()} if self.consistency else {}),
            "timings": dataclasses.asdict(self.timings),
            "run": self.job.run,
            "flowpipe_version": __version__,
        }


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


def _jpeg_epe(flow: torch.Tensor, q: torch.Tensor, settings: ExtractSettings) -> float:
    """Mean end-point error that quantisation + JPEG add to one field (inside the bound)."""
    clipped = flow.clamp(-settings.bound, settings.bound).cpu().numpy()
    decoded = np.stack([decode_jpeg(encode_jpeg(c, settings.quality)) for c in q.cpu().numpy()])
    back = dequantize(decoded, settings.bound)
    return float(np.sqrt(((back - clipped) ** 2).sum(axis=0)).mean())


def _named(name: str, encode: Any, image: np.ndarray, quality: int) -> tuple[str, bytes, float]:
    start = time.perf_counter()
    data = encode(image, quality)
    return name, data, time.perf_counter() - start


__all__ = ["PROGRESS_TOPIC", "Timings", "VideoJob", "VideoWriter", "extract_video"]
