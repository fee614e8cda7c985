"""The per-video view: one page per video with a slider over its flows (`flowpipe viz serve`).

For flow k (frame k -> k+1) the view shows side by side the RGB frame k (stored img_ files,
else decoded again from the source video when it is reachable), the colour-coded forward
flow, its x and y planes, the colour-coded backward flow and the forward-backward
inconsistency mask, with the pair's figures: those recorded at extraction (meta.json, on the
float flow) and those computed here from the stored flow (clipped at +-bound, JPEG). Pictures
are rendered when asked for, one pair at a time; all share the video's colour scale.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from importlib import resources
from typing import Any

import cv2
import numpy as np
import torch

from flowpipe.quality.consistency import (
    INCONSISTENT,
    OUT_OF_FRAME,
    ConsistencyThreshold,
    consistency_figures,
    consistency_mask,
)
from flowpipe.quality.suspects import consistency_of
from flowpipe.viz.clip import clip_scale
from flowpipe.viz.colour import flow_to_colour
from flowpipe.viz.dataset import Video
from flowpipe.viz.picture import gray_plane
from flowpipe.viz.stats import codes_to_flow

_TEMPLATE = "view_template.html"
_DATA_MARK = "__FLOWPIPE_VIEW_DATA__"
RGB_QUALITY = 90
FADED = 0.35  # share of the gray frame under the mask's consistent pixels (the rest white)
MASK_COLOURS = {INCONSISTENT: (220, 30, 30), OUT_OF_FRAME: (90, 110, 160)}


def data_uri(rgb: np.ndarray, fmt: str = ".png") -> str:
    """An RGB picture as a data: URI (PNG, or JPEG for fmt '.jpg')."""
    params = [cv2.IMWRITE_JPEG_QUALITY, RGB_QUALITY] if fmt == ".jpg" else []
    ok, data = cv2.imencode(fmt, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"could not encode a {rgb.shape} picture as {fmt}")
    mime = "image/jpeg" if fmt == ".jpg" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(data.tobytes()).decode()


def mask_picture(mask: np.ndarray, rgb: np.ndarray | None) -> np.ndarray:
    """RGB picture of a consistency mask [H, W]: inconsistent red, out of frame blue-gray,
    consistent white (over the faded gray frame when there is one)."""
    if rgb is None:
        picture = np.full((*mask.shape, 3), 255, np.uint8)
    else:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        faded = np.round(255 * (1 - FADED) + gray * FADED).astype(np.uint8)
        picture = np.repeat(faded[..., None], 3, axis=-1)
    for value, colour in MASK_COLOURS.items():
        picture[mask == value] = colour
    return picture


class SourceFrames:
    """RGB frames of a video decoded again from its source, in order, kept (as JPEG) once
    reached: random access for the slider. A source that cannot be opened gives None."""

    def __init__(self, video: Video) -> None:
        self.video = video
        self.jpegs: list[bytes] = []
        self._stream: Iterator[np.ndarray] | None = None
        self._done = False

    def frame(self, k: int) -> np.ndarray | None:
        """Frame k (1-based) as RGB, or None when the source is unreachable or shorter."""
        while len(self.jpegs) < k and not self._done:
            try:
                if self._stream is None:
                    self._stream = self.video.source_frames()
                bgr = next(self._stream)
            except (ValueError, OSError, StopIteration, KeyError):
                self._done = True
                break
            self.jpegs.append(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])[1])
        if k > len(self.jpegs):
            return None
        return cv2.cvtColor(cv2.imdecode(self.jpegs[k - 1], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


class VideoView:
    """Pictures and figures of one video's flow pairs, rendered on demand (thread-safe)."""

    def __init__(self, video: Video, threshold: ConsistencyThreshold | None = None) -> None:
        self.video = video
        self.record = consistency_of(video.meta)
        self.threshold = threshold or self._recorded_threshold()
        self.source = None if video.has_rgb else SourceFrames(video)
        self.lock = threading.Lock()
        self._scale: float | None = None

    def _recorded_threshold(self) -> ConsistencyThreshold:
        """The threshold the extraction used (Sundaram's when nothing was recorded)."""
        recorded = (self.record or {}).get("threshold") or {}
        default = ConsistencyThreshold()
        alpha, beta = (recorded.get(k, getattr(default, k)) for k in ("alpha", "beta"))
        return ConsistencyThreshold(alpha=alpha, beta=beta)

    @property
    def scale(self) -> float:
        """|v| in px at full colour for every picture of the video (robust max of samples)."""
        if self._scale is None:
            self._scale = clip_scale(self.video)
        return self._scale

    def page_data(self) -> dict[str, Any]:
        """What the view page embeds: the video's meta, its record, the scale, the panels."""
        meta = self.video.meta
        with self.lock:
            scale = self.scale
        return {
            "id": self.video.video_id,
            "meta": {
                k: meta.get(k) for k in ("label", "class_name", "frames", "flows", "fps", "size")
            },
            "source": meta.get("source"),
            "rgb": "stored" if self.video.has_rgb else "source",
            "backward": self.video.has_backward,
            "bound": self.video.bound,
            "scale": round(scale, 4),
            "consistency": self.record,
            "threshold": self.threshold.as_dict(),
        }

    def pair(self, k: int) -> dict[str, Any]:
        """Flow pair k's pictures (data: URIs) and figures; ValueError when k is out of range."""
        flows = int(self.video.meta["flows"])
        if not 1 <= k <= flows:
            raise ValueError(f"flow {k} outside 1..{flows} of {self.video.video_id}")
        with self.lock:
            return self._pair(k)

    def _rgb(self, k: int) -> np.ndarray | None:
        """RGB frame k: stored, else from the source; None when neither can be read."""
        if self.source is not None:
            return self.source.frame(k)
        try:
            return self.video.read_rgb([k])[0]
        except (ValueError, OSError):
            return None

    def _flow(self, k: int, backward: bool) -> np.ndarray:
        """Stored flow k (forward, or backward) as float [H, W, 2] px."""
        ((qx, qy),) = self.video.read_codes([k], backward)
        return codes_to_flow(qx, qy, self.video.bound)

    def _pair(self, k: int) -> dict[str, Any]:
        scale = self.scale
        forward = self._flow(k, backward=False)
        rgb = self._rgb(k)
        panels = {
            "rgb": None if rgb is None else data_uri(rgb, ".jpg"),
            "colour": data_uri(flow_to_colour(forward, scale)),
            "x": data_uri(gray_plane(forward[..., 0], scale)),
            "y": data_uri(gray_plane(forward[..., 1], scale)),
            "backward": None,
            "mask": None,
        }
        stored = None
        if self.video.has_backward:
            backward = self._flow(k, backward=True)
            panels["backward"] = data_uri(flow_to_colour(backward, scale))
            mask, stored = self._consistency(forward, backward)
            panels["mask"] = data_uri(mask_picture(mask, rgb))
        return {"k": k, "panels": panels, "recorded": self._recorded(k), "stored": stored}

    def _consistency(self, forward: np.ndarray, backward: np.ndarray) -> tuple[np.ndarray, dict]:
        """The mask [H, W] and figures of the stored pair."""
        fwd = torch.from_numpy(forward).permute(2, 0, 1)[None]
        bwd = torch.from_numpy(backward).permute(2, 0, 1)[None]
        figures = consistency_figures(fwd, bwd, self.threshold)
        inconsistent, error, out = (v[0] for v in figures.to_lists())
        mask = consistency_mask(fwd, bwd, self.threshold)[0].numpy()
        figures = {
            "inconsistent": round(inconsistent, 4),
            "error": round(error, 3),
            "out_of_frame": round(out, 4),
        }
        return mask, figures

    def _recorded(self, k: int) -> dict[str, float] | None:
        """Pair k's figures from meta.json, None without a record."""
        if self.record is None:
            return None
        names = ("inconsistent", "error", "out_of_frame")
        values = {n: self.record.get(n) or [] for n in names}
        return {n: v[k - 1] for n, v in values.items() if k <= len(v)}


def render_view_html(data: dict[str, Any]) -> str:
    """The view page: the template with the video's data embedded as JSON."""
    template = resources.files("flowpipe.viz").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    payload = json.dumps(data, ensure_ascii=True, allow_nan=False).replace("</", "<\\/")
    return template.replace(_DATA_MARK, payload)
