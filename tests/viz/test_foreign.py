"""`flowpipe viz video --bound` on flow other tools wrote: a rawframes video folder (with its
RGB frames) and a two-stream u/<video> folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import run_flowpipe
from tests.data.flowsets import rotation_field, write_video
from tests.storage.foreign_copies import rawframes_copy, two_stream_copy

SIZE = (48, 40)


def test_viz_video_reads_rawframes_and_two_stream_folders(tmp_path: Path) -> None:
    frames = [np.full((SIZE[1], SIZE[0], 3), 60 * k, np.uint8) for k in range(4)]
    write_video(tmp_path / "flow", "c/v", [rotation_field(0.1, SIZE)] * 3, frames=frames)
    raw = rawframes_copy(tmp_path / "flow", tmp_path / "raw", 0)
    tvl1 = two_stream_copy(tmp_path / "flow", tmp_path / "tvl1")
    for folder, tiles in ((raw / "c" / "v", 4), (tvl1 / "u" / "c" / "v", 3)):
        gif = tmp_path / f"{folder.parts[-3]}.gif"
        result = run_flowpipe("viz", "video", str(folder), "--bound", "20", "-o", str(gif))
        assert result.returncode == 0, result.stderr
        assert "(3 frames)" in result.stdout
        with Image.open(gif) as clip:
            assert clip.n_frames == 3
            width = clip.size[0]
        assert width >= tiles * 128 * SIZE[0] / SIZE[1] * 0.9  # RGB tile only with img_ files
    bare = run_flowpipe("viz", "video", str(raw / "c" / "v"), "-o", str(tmp_path / "x.gif"))
    assert bare.returncode == 2 and "give its --bound" in bare.stderr
