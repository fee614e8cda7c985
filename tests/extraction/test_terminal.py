"""What a person at a terminal sees: bars with totals and an ETA that end clean under the
summary (read through a terminal emulator), FFmpeg's and Dask's noise kept off the screen,
and Ctrl-C answered with one line."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pyte
import pytest

from flowpipe.storage import DatasetStore
from flowpipe.synth import write_dataset
from tests.extraction.jobs import finish, flowpipe, wait_for

COLUMNS, ROWS = 100, 30
ARGS = ["--device", "cpu", "--workers", "1", "--nscales", "2", "--warps", "1", "--batch", "4"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = write_dataset(
        tmp_path_factory.mktemp("synth"),
        videos_per_class=1,
        frames=12,
        size=(64, 48),
        classes=["rotate_cw", "zoom_in", "translate_left"],
    )
    return root / "videos"


def in_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run `python -m flowpipe ARGS` with stdout and stderr on a pseudo-terminal of
    COLUMNS x ROWS; (exit code, everything it wrote)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowpipe", *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd
    )
    os.close(slave)
    data = b""
    while select.select([master], [], [], 300)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return proc.wait(timeout=60), data.decode("utf-8", errors="replace")


def screen_lines(text: str) -> list[str]:
    """The terminal's lines once the output is drawn (cursor moves, carriage returns)."""
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.Stream(screen)
    stream.feed(text.replace("\n", "\r\n") if "\r\n" not in text else text)
    return [line.rstrip() for line in screen.display if line.strip()]


def test_bars_have_totals_and_an_eta_and_end_clean(videos: Path, tmp_path: Path) -> None:
    code, text = in_terminal(["extract", str(videos), "-o", "out", *ARGS], tmp_path)
    assert code == 0, text
    assert "/36 [" in text and "frame/s]" in text  # frames bar with a total from the headers
    assert any(f"<00:{s}" in text for s in ("0", "1", "2", "3", "4", "5"))  # an ETA shown
    lines = screen_lines(text)
    assert lines[-1] == "3 extracted, 0 already done, 0 failed -> out"
    bars = lines[-3:-1]
    assert any(b.startswith("100%") and " 3/3 [" in b and "video" in b for b in bars), lines
    assert any(b.startswith("100%") and " 36/36 [" in b and "frame" in b for b in bars), lines
    assert all(len(line) <= COLUMNS for line in lines)


def test_ffmpeg_and_dask_noise_stays_off_the_screen(videos: Path, tmp_path: Path) -> None:
    broken = tmp_path / "in"
    broken.mkdir()
    data = (videos / "zoom_in" / "zoom_in_000.mp4").read_bytes()
    (broken / "cut.mp4").write_bytes(data[: len(data) // 4])  # no moov atom
    (broken / "good.mp4").write_bytes(data)
    code, text = in_terminal(["extract", str(broken), "-o", "out", *ARGS], tmp_path)
    assert code == 1, text
    lines = screen_lines(text)
    failed = [line for line in lines if line.startswith("failed: ")]
    assert len(failed) == 1 and str(broken / "cut.mp4") in failed[0], text
    assert failed[0].count("cut.mp4") == 1  # the path once
    for noise in ("moov atom", "[mov,", "WARN", "distributed.", "Traceback"):
        assert noise not in text, noise


def test_ctrl_c_prints_one_line_and_keeps_finished_videos(tmp_path: Path) -> None:
    root = write_dataset(
        tmp_path / "synth",
        videos_per_class=1,
        frames=60,
        size=(96, 72),
        classes=["rotate_cw", "zoom_in"],
    )
    out = tmp_path / "out"
    command = ("extract", str(root / "videos"), "-o", str(out), *ARGS, "--no-progress")
    # As a terminal starts a foreground job: SIGINT at its default (a test run started in the
    # background of a shell inherits it ignored, and so would the command).
    proc = flowpipe(*command, preexec_fn=_sigint_default)
    wait_for(
        lambda: any((out / ".flowpipe" / "leases" / "videos").glob("*/*/*.claim")),
        timeout=180,
        what="a video being written",
    )
    proc.send_signal(signal.SIGINT)
    code, stdout, stderr = finish(proc, timeout=120)
    assert code == 130, stdout + stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("interrupted: ") and "resume" in lines[-1]
    assert len(lines) <= 2 and "Traceback" not in stderr and "Warning" not in stderr
    assert len(DatasetStore(str(out)).list_done()) < 2  # the interrupted video is not done


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
