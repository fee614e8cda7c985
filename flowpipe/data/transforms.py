"""Spatial views of a video: random, centre, TSN multi-scale corner crops and the 10 test crops.

A `View` is a box in source pixels, the square output size it is resized to, and whether it is
mirrored; a `ViewPolicy` is how a dataset picks its views and scales its values. The stacking
code samples flow at the view's pixel grid, so crops, resizes and flips act on every field of
a stack (and every point of a trajectory) the same way. A mirrored view of a flow also negates
its x component: the motion is mirrored too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from flowpipe.checks import choice, integer

TSN_SCALES = (1.0, 0.875, 0.75, 0.66)
Box = tuple[int, int, int, int]  # x0, y0, width, height in source pixels
AUGMENTATIONS = ("crop", "multiscale")
TEST_CROPS = (10, 1)
SCALES = ("pixels", "unit", "i3d")
I3D_FLOW_BOUND = 20.0  # I3D: flow truncated to [-20, 20] px, then scaled to [-1, 1]


@dataclass(frozen=True)
class View:
    """Box (x0, y0, width, height) in source pixels, resized to size × size, maybe mirrored."""

    x0: int
    y0: int
    width: int
    height: int
    size: int
    flip: bool = False

    @property
    def resized(self) -> bool:
        """Whether the box is resized (its pixels are then bilinearly interpolated)."""
        return (self.width, self.height) != (self.size, self.size)

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Source x and y positions (float32 [size] each) of the output columns and rows,
        pixel centres mapped as a bilinear resize does (half-pixel convention)."""
        out = np.arange(self.size, dtype=np.float64)
        xs = self.x0 + (out + 0.5) * self.width / self.size - 0.5
        ys = self.y0 + (out + 0.5) * self.height / self.size - 0.5
        return xs.astype(np.float32), ys.astype(np.float32)

    def scale(self) -> tuple[float, float]:
        """Factors that flow x and y values take when the box is resized to the output."""
        return self.size / self.width, self.size / self.height


def _check_fits(width: int, height: int, size: int) -> None:
    """ValueError when a size × size crop does not fit in the frames."""
    if size > width or size > height:
        raise ValueError(
            f"crop {size} does not fit frames of {width}x{height} (extract with --short-side "
            f">= {size}, use a smaller crop, or augment='multiscale')"
        )


def random_crop(rng: np.random.Generator, width: int, height: int, size: int) -> View:
    """A size × size box at a uniformly random position, mirrored with probability 1/2."""
    _check_fits(width, height, size)
    x0 = int(rng.integers(0, width - size + 1))
    y0 = int(rng.integers(0, height - size + 1))
    return View(x0, y0, size, size, size, bool(rng.integers(0, 2)))


def centre_crop(width: int, height: int, size: int, flip: bool = False) -> View:
    """The central size × size box."""
    _check_fits(width, height, size)
    return View((width - size) // 2, (height - size) // 2, size, size, size, flip)


def _corners(width: int, height: int, w: int, h: int) -> list[tuple[int, int]]:
    """Top-left positions of a w × h box at the 4 corners and the centre (TSN's fixed crops)."""
    return [
        (0, 0),
        (width - w, 0),
        (0, height - h),
        (width - w, height - h),
        ((width - w) // 2, (height - h) // 2),
    ]


def multiscale_crop(
    rng: np.random.Generator,
    width: int,
    height: int,
    size: int,
    scales: tuple[float, ...] = TSN_SCALES,
    max_distort: int = 1,
) -> View:
    """TSN's augmentation: box sides from scales × the short side (aspect distorted by at
    most `max_distort` scale steps), at a random corner or the centre, resized, maybe mirrored."""
    base = min(width, height)
    sides = [max(1, int(base * s)) for s in scales]
    pairs = [
        (w, h)
        for i, w in enumerate(sides)
        for j, h in enumerate(sides)
        if abs(i - j) <= max_distort
    ]
    w, h = pairs[int(rng.integers(0, len(pairs)))]
    corners = _corners(width, height, w, h)
    x0, y0 = corners[int(rng.integers(0, len(corners)))]
    return View(x0, y0, w, h, size, bool(rng.integers(0, 2)))


def ten_crop(width: int, height: int, size: int) -> list[View]:
    """The test-time views: 4 corners and the centre, then the same 5 mirrored."""
    _check_fits(width, height, size)
    boxes = _corners(width, height, size, size)
    return [View(x, y, size, size, size, flip) for flip in (False, True) for x, y in boxes]


def train_view(
    rng: np.random.Generator, width: int, height: int, size: int, augment: str, flip: bool = True
) -> View:
    """A training view: random crop ("crop") or TSN multi-scale corner crop ("multiscale");
    flip=False never mirrors (for classes that a mirror changes, such as left vs right)."""
    if augment == "crop":
        view = random_crop(rng, width, height, size)
    elif augment == "multiscale":
        view = multiscale_crop(rng, width, height, size)
    else:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
    return view if flip else dataclasses.replace(view, flip=False)


def test_views(width: int, height: int, size: int, crops: int) -> list[View]:
    """Test views: 10 crops (ten_crop) or 1 (the centre)."""
    if crops == 10:
        return ten_crop(width, height, size)
    if crops == 1:
        return [centre_crop(width, height, size)]
    raise ValueError(f"test crops must be 1 or 10, got {crops}")


@dataclass(frozen=True, kw_only=True)
class ViewPolicy:
    """How items see their video: the crop (size `crop`, random or TSN multi-scale in
    training, `test_crops` 10 or 1 at test time; mirrored training views unless flip=False)
    and the flow values (`subtract_mean`: each field's mean over the crop removed; `scale`:
    "pixels", "unit" = divided by the dataset's bound, "i3d" = clipped to ±20 px then divided
    by 20). It lives in the dataset because only the crop's box is decoded: the view is known
    before the read. RGB frames use the crop fields only."""

    crop: int = 224
    augment: str = "crop"
    flip: bool = True
    test_crops: int = 10
    scale: str = "pixels"
    subtract_mean: bool = True

    def __post_init__(self) -> None:
        integer("crop", self.crop, minimum=1)
        choice("augment", self.augment, AUGMENTATIONS)
        choice("test_crops", self.test_crops, TEST_CROPS)
        choice("scale", self.scale, SCALES)

    def train_view(self, rng: np.random.Generator, width: int, height: int) -> View:
        """A random training view of frames of width × height."""
        return train_view(rng, width, height, self.crop, self.augment, self.flip)

    def test_views(self, width: int, height: int) -> list[View]:
        """The test views of frames of width × height."""
        return test_views(width, height, self.crop, self.test_crops)

    def apply_scale(self, stack: torch.Tensor, bound: float) -> torch.Tensor:
        """In place where possible: displacements in pixels -> the policy's scale."""
        if self.scale == "unit":
            return stack.div_(bound)
        if self.scale == "i3d":
            return stack.clamp(-I3D_FLOW_BOUND, I3D_FLOW_BOUND) / I3D_FLOW_BOUND
        return stack
