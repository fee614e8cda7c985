"""The colour key every flow picture carries: the wheel, and the magnitude at its rim in pixels.

A colour picture of flow is only readable with its scale: the same red means 1 px or 20 px
depending on the magnitude shown at full saturation. `flow_key` is the key as a panel (under
the wheel: "max 4.83 px"), `draw_bar_key` puts a small one at the right end of a caption bar.
"""

from __future__ import annotations

import cv2
import numpy as np

from flowpipe.viz.colour import wheel_legend

LABEL_HEIGHT = 14  # px under the wheel of a key panel for its label
MIN_WHEEL, MAX_WHEEL = 16, 128
FONT = cv2.FONT_HERSHEY_SIMPLEX
KEY_FONT_SCALE = 0.35


def magnitude_text(max_magnitude: float) -> str:
    """The key's label: the magnitude shown at full saturation, e.g. 'max 4.83 px'."""
    return f"max {max_magnitude:.3g} px"


def paste_wheel(canvas: np.ndarray, top: int, left: int, size: int) -> None:
    """Draw the wheel (a disc `size` px across) onto canvas in place; corners left as they are."""
    axis = (np.arange(size) + 0.5) / size * 2 - 1
    disc = np.hypot(*np.meshgrid(axis, axis)) <= 1
    area = canvas[top : top + size, left : left + size]
    area[disc] = wheel_legend(size)[disc]


def _text_width(text: str, scale: float) -> int:
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def flow_key(height: int, max_magnitude: float) -> np.ndarray:
    """A key panel about `height` px high: the wheel (zero flow white at its centre, flows of
    `max_magnitude` at full saturation on its rim) above its label, on white.

    Args:
        height: the picture's height the key stands beside (the wheel is 16..128 px).
        max_magnitude: the flow magnitude, in pixels, at full saturation.

    Returns:
        uint8 RGB [wheel + LABEL_HEIGHT, max(wheel, label width), 3].
    """
    wheel = int(np.clip(height - LABEL_HEIGHT, MIN_WHEEL, MAX_WHEEL))
    text = magnitude_text(max_magnitude)
    width = max(wheel, _text_width(text, KEY_FONT_SCALE) + 4)
    key = np.full((wheel + LABEL_HEIGHT, width, 3), 255, np.uint8)
    paste_wheel(key, 0, (width - wheel) // 2, wheel)
    x = (width - _text_width(text, KEY_FONT_SCALE)) // 2
    cv2.putText(key, text, (x, wheel + 10), FONT, KEY_FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return key


def draw_bar_key(bar: np.ndarray, max_magnitude: float, font_scale: float = 0.4) -> None:
    """Draw, in place, a wheel as high as the caption `bar` (minus 2 px) at its right end with
    the magnitude label to its left (white text on the bar's dark background)."""
    size = max(8, bar.shape[0] - 2)
    text = magnitude_text(max_magnitude)
    right = bar.shape[1] - 2
    paste_wheel(bar, 1, right - size, size)
    x = right - size - 4 - _text_width(text, font_scale)
    baseline = bar.shape[0] - 5
    cv2.putText(bar, text, (x, baseline), FONT, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
