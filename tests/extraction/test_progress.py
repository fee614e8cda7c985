"""The progress display's arithmetic and its words, on a stream (no cluster)."""

from __future__ import annotations

import io
import time

from flowpipe.extraction.progress import WAITING_LINE, Progress


def test_totals_come_from_headers_and_are_corrected_as_videos_finish() -> None:
    stream = io.StringIO()
    progress = Progress(4, stream=stream, interval=1e9, notice_after=60)
    assert progress.total_frames() is None
    progress.event(("start", "a", 100))
    progress.event(("frames", "a", 40))
    assert progress.total_frames() == 400  # 100 + 3 unstarted videos at the mean
    progress.finished("a", True, frames=90)  # it had 90, not the header's 100
    progress.event(("start", "b", 110))
    assert progress.total_frames() == 90 + 110 + 2 * 100
    progress.close()
    assert stream.getvalue().splitlines()[-1].startswith("progress: 1/4 videos, 40 frames")


def test_a_slow_start_is_said_once_and_not_after_frames() -> None:
    stream = io.StringIO()
    progress = Progress(1, stream=stream, interval=1e9, notice_after=0.05)
    time.sleep(0.3)
    progress.event(("frames", "a", 2))
    progress.close(final_line=False)
    assert stream.getvalue().count(WAITING_LINE) == 1
    quick = io.StringIO()
    early = Progress(1, stream=quick, interval=1e9, notice_after=0.2)
    early.event(("frames", "a", 2))
    time.sleep(0.4)
    early.close(final_line=False)
    assert WAITING_LINE not in quick.getvalue()
