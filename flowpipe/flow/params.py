"""TV-L1 parameters and the named presets users pick from."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from flowpipe.checks import is_integer

Interpolation = Literal["bicubic", "bilinear"]

# OpenCV stops building the pyramid once a level would be smaller than this (tvl1flow.cpp).
MIN_LEVEL_SIZE = 16
# nscales="auto" deepens the pyramid until the coarsest level's short side is about this.
AUTO_COARSEST_SIZE = 32
# Gaussian blur (px) before each downscaling step of an "auto" pyramid: without it, the
# aliasing of eight or more plain 0.8 resizes leaves coarse levels too noisy to lock on.
AUTO_PYRAMID_SIGMA = 1.3


@dataclass(frozen=True)
class TVL1Params:
    """Dual TV-L1 settings; the defaults are OpenCV's `DualTVL1OpticalFlow` defaults.

    `lambda_` is OpenCV's `lambda` (a Python keyword). `nscales="auto"` deepens the pyramid
    until the coarsest level is about 32 px on its short side, for large motion.
    `pyramid_sigma` blurs each level before it is downscaled; None means OpenCV's plain resize
    for an integer `nscales` and AUTO_PYRAMID_SIGMA for "auto".
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int | Literal["auto"] = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    median_filtering: int = 5
    interpolation: Interpolation = "bicubic"
    pyramid_sigma: float | None = None

    def __post_init__(self) -> None:
        for name in ("tau", "lambda_", "theta", "epsilon"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"TVL1Params.{name} must be a positive number, got {value!r}")
        if self.nscales != "auto" and not (is_integer(self.nscales) and self.nscales >= 1):
            raise ValueError(
                f"TVL1Params.nscales must be an int >= 1 or 'auto', got {self.nscales!r}"
            )
        for name in ("warps", "inner_iterations", "outer_iterations"):
            value = getattr(self, name)
            if not (is_integer(value) and value >= 1):
                raise ValueError(f"TVL1Params.{name} must be an int >= 1, got {value!r}")
        if not (isinstance(self.scale_step, (int, float)) and 0 < self.scale_step < 1):
            raise ValueError(f"TVL1Params.scale_step must be in (0, 1), got {self.scale_step!r}")
        if not (is_integer(self.median_filtering) and self.median_filtering in (0, 1, 3, 5)):
            raise ValueError(
                "TVL1Params.median_filtering must be 0, 1 (off), 3 or 5, "
                f"got {self.median_filtering!r}"
            )
        sigma = self.pyramid_sigma
        if sigma is not None and not (isinstance(sigma, (int, float)) and 0 <= sigma < 100):
            raise ValueError(f"TVL1Params.pyramid_sigma must be None or in [0, 100), got {sigma!r}")
        if self.interpolation not in ("bicubic", "bilinear"):
            raise ValueError(
                "TVL1Params.interpolation must be 'bicubic' or 'bilinear', "
                f"got {self.interpolation!r}"
            )

    def pyramid_blur(self) -> float:
        """The Gaussian sigma (px) applied before each downscaling step (0: none)."""
        if self.pyramid_sigma is not None:
            return float(self.pyramid_sigma)
        return AUTO_PYRAMID_SIGMA if self.nscales == "auto" else 0.0

    def step_constants(self) -> tuple[float, float, float]:
        """(lambda * theta, theta, tau / theta): the scalars of one primal-dual step (the
        thresholding bound, the coupling, the dual step)."""
        return self.lambda_ * self.theta, self.theta, self.tau / self.theta

    def replace(self, **changes: object) -> TVL1Params:
        """A copy with some fields changed (validated like a new instance)."""
        return dataclasses.replace(self, **changes)

    def pyramid_depth(self, height: int, width: int) -> int:
        """Number of pyramid levels for a frame size: `nscales`, or the 'auto' depth."""
        if self.nscales == "auto":
            short = min(height, width)
            if short <= AUTO_COARSEST_SIZE:
                return 1
            return 1 + int(math.log(short / AUTO_COARSEST_SIZE) / math.log(1 / self.scale_step))
        return int(self.nscales)


PRESETS: dict[str, TVL1Params] = {
    # OpenCV's defaults: the reference every comparison in flowpipe is made against.
    "opencv": TVL1Params(),
    # About 3x less work: 3 warps, a looser stopping rule, bilinear warping. For previews and
    # quick experiments; its accuracy is reported next to the others by `flowpipe bench tvl1`.
    "fast": TVL1Params(
        warps=3, epsilon=0.02, inner_iterations=10, outer_iterations=3, interpolation="bilinear"
    ),
    # A deeper, antialiased pyramid (coarsest level about 32 px) for large motion, more warps,
    # and a tighter stopping rule; slower than `opencv`.
    "accurate": TVL1Params(nscales="auto", warps=8, epsilon=0.005),
}


def preset(name: str) -> TVL1Params:
    """The named preset (`opencv`, `fast`, `accurate`); a clear ValueError otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
