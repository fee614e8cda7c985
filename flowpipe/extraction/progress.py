"""What a person at a terminal, or a log file, sees while a job runs.

On a terminal: a bar of videos and a bar of frames whose total comes from the videos' headers
(each video's expected frames, reported by the worker when it starts; the videos not started yet
count as the mean of those seen) and is corrected as videos finish, with rate and ETA; lines
such as failures are printed above the bars. Elsewhere (a SLURM log, nohup): no escape codes,
a plain line every `interval` seconds and one at the end.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

from tqdm import tqdm

FIRST_FRAMES_NOTICE_S = 5.0
WAITING_LINE = (
    "waiting for the first frames: each worker compiles the engine's kernels on its first "
    "video (tens of seconds on a few CPU cores, the first run on a machine the longest)"
)


class Progress:
    """Progress of `videos` videos; thread-safe (worker events arrive on Dask's thread)."""

    def __init__(
        self,
        videos: int,
        enabled: bool = True,
        interval: float = 30.0,
        stream: IO[str] | None = None,
        notice_after: float = FIRST_FRAMES_NOTICE_S,
    ) -> None:
        self.videos = videos
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interval = interval
        self.terminal = enabled and self.stream.isatty()
        self.done = self.failed = self.frames = 0
        self.expected: dict[str, int] = {}  # started videos: frames expected (actual once done)
        self.counted: dict[str, int] = {}  # frames reported per started video
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._last_line = self._start
        self._bars: list[Any] = []
        self._closed = False
        self._notice = threading.Timer(notice_after, self._waiting_for_frames)
        self._notice.daemon = True
        if enabled:
            self._notice.start()
        if self.terminal:
            self._bars = [
                tqdm(total=videos, unit="video", position=0, file=self.stream, leave=True),
                tqdm(total=None, unit="frame", position=1, file=self.stream, leave=True),
            ]

    def _waiting_for_frames(self) -> None:
        """Said once when no frame came after a few seconds: the workers are starting."""
        if self.frames == 0 and not self._closed:
            self.write(WAITING_LINE)

    def write(self, line: str) -> None:
        """A message line, printed above the bars (or plainly)."""
        with self._lock:
            if self.terminal:
                tqdm.write(line, file=self.stream)
            else:
                print(line, file=self.stream, flush=True)

    def event(self, event: Any) -> None:
        """A worker's event: ("start", video id, expected frames) or ("frames", video id, n)."""
        try:
            kind, video_id, n = event
        except (TypeError, ValueError):
            return
        with self._lock:
            if kind == "start":
                self.expected[video_id] = int(n)
            elif kind == "frames":
                self.counted[video_id] = self.counted.get(video_id, 0) + int(n)
                self.frames += int(n)
                self._advance_frames(int(n))
        self._maybe_line()

    def finished(self, video_id: str, ok: bool, frames: int | None = None) -> None:
        """A video came back: done (with its frames), failed or skipped (`ok` False/True
        without frames): its expected frames become what it had."""
        with self._lock:
            if ok:
                self.done += 1
            else:
                self.failed += 1
            actual = frames if frames is not None else self.counted.get(video_id, 0)
            self.expected[video_id] = actual
            if self._bars:
                self._bars[0].update()
                self._bars[0].set_postfix_str(f"{self.failed} failed" if self.failed else "")
        self._maybe_line()

    def total_frames(self) -> int | None:
        """Frames the job will have decoded: expected for the started videos, their mean for
        the others (None before any video started)."""
        if not self.expected:
            return None
        known = sum(self.expected.values())
        unstarted = max(0, self.videos - len(self.expected))
        return known + round(unstarted * known / len(self.expected))

    def _advance_frames(self, n: int) -> None:
        if not self._bars:
            return
        bar = self._bars[1]
        total = self.total_frames()
        if total is not None and total != bar.total:
            bar.total = max(total, self.frames)
            bar.refresh()
        bar.update(n)

    def _maybe_line(self, force: bool = False) -> None:
        """The plain line, every `interval` seconds (not on a terminal)."""
        if self.terminal or not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_line < self.interval:
            return
        self._last_line = now
        print(self.summary_line(now), file=self.stream, flush=True)

    def summary_line(self, now: float | None = None) -> str:
        """'progress: 3/10 videos, 1,204 frames, 40.1 frames/s, ETA 0:02:10, 1 failed'."""
        elapsed = max(1e-9, (now or time.monotonic()) - self._start)
        rate = self.frames / elapsed
        total = self.total_frames()
        eta = "?"
        if total is not None and rate > 0:
            eta = _clock(max(0.0, total - self.frames) / rate)
        finished = self.done + self.failed
        return (
            f"progress: {finished}/{self.videos} videos, {self.frames:,} frames, "
            f"{rate:.1f} frames/s, ETA {eta}, {self.failed} failed"
        )

    def close(self, final_line: bool = True) -> None:
        """Close the bars (their last state stays on screen), or print the last plain line
        (once; not after an interruption, which says so itself)."""
        self._notice.cancel()
        with self._lock:
            for bar in reversed(self._bars):
                bar.close()
            self._bars = []
            closed, self._closed = self._closed, True
        if self.enabled and not self.terminal and final_line and not closed:
            self._maybe_line(force=True)


def _clock(seconds: float) -> str:
    """H:MM:SS."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
