"""Copies of a flowpipe dataset in the layouts other tools write (tests of foreign reading)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_MEMBER = re.compile(r"^(flow_[xy]|img)_(\d{5})\.jpg$")


def rawframes_copy(src: Path, dst: Path, start: int = 0) -> Path:
    """denseflow (start=0) or TSN (start=1) rawframes: `<video>/flow_x_%05d.jpg`, `flow_y_`,
    `img_`, renumbered from `start`; no flowpipe.json, meta.json or backward flow."""
    for path in sorted(src.rglob("*.jpg")):
        found = _MEMBER.match(path.name)
        if found is None:
            continue
        folder = dst / path.parent.relative_to(src)
        folder.mkdir(parents=True, exist_ok=True)
        index = int(found[2]) - 1 + start
        shutil.copyfile(path, folder / f"{found[1]}_{index:05d}.jpg")
    return dst


def two_stream_copy(src: Path, dst: Path) -> Path:
    """The two-stream layout: `u/<video>/frame%06d.jpg` (x) and `v/<video>/...` (y), 1-based."""
    for path in sorted(src.rglob("flow_*.jpg")):
        found = _MEMBER.match(path.name)
        if found is None:
            continue
        channel = "u" if found[1] == "flow_x" else "v"
        folder = dst / channel / path.parent.relative_to(src)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / f"frame{int(found[2]):06d}.jpg")
    return dst
