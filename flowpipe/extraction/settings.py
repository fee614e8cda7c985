"""What an extraction computes (`ExtractSettings`, stored in every meta.json) and how fast it
goes about it (`JobTuning`, never changing the output)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from flowpipe.extraction.video import Resize
from flowpipe.flow import TVL1Params
from flowpipe.storage.codec import DEFAULT_BOUND, DEFAULT_QUALITY
from flowpipe.storage.layout import FORMAT_VERSION
from flowpipe.tuning import from_environment

I3D_FPS = 25.0  # I3D's preprocessing (Carreira & Zisserman 2017): frames at 25 fps,
I3D_SHORT_SIDE = 256  # resized so the short side is 256 px
MAX_FRAME_SIDE = 8192  # larger output frames are refused before any work (8K video is 7680)


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
        if not (isinstance(self.bound, (int, float)) and math.isfinite(self.bound)):
            raise ValueError(f"bound must be a finite number of pixels, got {self.bound!r}")
        if not self.bound > 0:
            raise ValueError(f"bound must be positive, got {self.bound!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, got {self.quality!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a finite number > 0, got {self.fps!r}")
        if self.max_frames is not None and self.max_frames < 2:
            raise ValueError(f"max-frames must be at least 2, got {self.max_frames!r}")
        sides = [*(self.resize.size or ()), self.resize.short_side or 0]
        if max(sides) > MAX_FRAME_SIDE:
            raise ValueError(
                f"output frames of {max(sides)} px asked for; flowpipe stores at most "
                f"{MAX_FRAME_SIDE} px a side (check --size / --short-side)"
            )

    def as_dict(self) -> dict[str, Any]:
        """JSON form, compared with a finished video's meta.json to decide whether to redo it."""
        out = dataclasses.asdict(self)
        size = None if self.resize.size is None else list(self.resize.size)
        out["resize"] = {"size": size, "short_side": self.resize.short_side}
        out["format_version"] = FORMAT_VERSION
        return out


@dataclass(frozen=True)
class JobTuning:
    """How the extraction job schedules its work; the output is the same whatever these are.
    Defaults are the measured best (docs/benchmarks.md); `JobTuning.from_environment()`
    applies FLOWPIPE_JOB_<FIELD> variables (docs/configuration.md)."""

    chunk_pairs_cpu: int = 16  # frame pairs per chunk of a video on a CPU worker
    chunk_pairs_gpu: int = 64  # on a GPU worker, whose flow service merges videos' chunks
    solver_pairs_cpu: int = 32  # frame pairs a worker's solver keeps in flight, its videos'
    solver_pairs_gpu: int = 256
    videos_per_gpu: int = 4  # videos a GPU worker runs at once (its flow service merges them)
    requests_ahead_cpu: int = 1  # chunks a video keeps queued at the flow service
    requests_ahead_gpu: int = 2
    chunks_in_flight: int = 2  # chunks of JPEGs pending encoding/writing per video
    encode_threads: int = 8  # JPEG encoding threads per video (at most the cores)
    lease_seconds: float = 120.0  # a video's lease lapses this long after its last renewal
    progress_seconds: float = 30.0  # interval of the plain progress lines in logs
    consistency: bool = True  # forward-backward figures in meta.json (flow files unchanged)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, bool) and not value > 0:
                raise ValueError(f"JobTuning.{f.name} must be > 0, got {value!r}")

    @classmethod
    def from_environment(cls) -> JobTuning:
        """The defaults with FLOWPIPE_JOB_<FIELD> environment variables applied."""
        return from_environment(cls, "job")

    def chunk_pairs(self, on_gpu: bool) -> int:
        """Frame pairs per chunk of a video."""
        return self.chunk_pairs_gpu if on_gpu else self.chunk_pairs_cpu

    def solver_pairs(self, on_gpu: bool) -> int:
        """Frame pairs the flow service's solver keeps in flight (its pool's capacity)."""
        return self.solver_pairs_gpu if on_gpu else self.solver_pairs_cpu

    def requests_ahead(self, on_gpu: bool) -> int:
        """Chunks a video keeps queued at the flow service: on a GPU two, so the GPU solves
        the next chunk while the videos handle the last one; on CPU one (encoding beside the
        solver slowed the 2-core job)."""
        return self.requests_ahead_gpu if on_gpu else self.requests_ahead_cpu
