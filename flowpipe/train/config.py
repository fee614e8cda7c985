"""What a training run is: its stream, data, model and optimisation settings (saved in every
checkpoint, so `--resume` and `flowpipe eval` rebuild the same data and model)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from flowpipe.models import ARCHITECTURES

STREAMS = ("temporal", "i3d", "spatial")
DEFAULT_ARCH = {"temporal": "resnet18", "i3d": "i3d", "spatial": "resnet18"}
# What init_from holds: RGB ImageNet weights (file or torchvision:NAME; I3D inflates
# GoogLeNet's) or a pytorch-i3d checkpoint (Kinetics I3D, built with TF "SAME" padding).
INIT_FORMATS = ("imagenet", "pytorch-i3d")
I3D_PADDINGS = ("torchvision", "tf-same")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Epoch-based SGD with momentum and a step schedule (lr × gamma at
    each epoch of `lr_steps`), as the two-stream paper's iteration-based one."""

    stream: str
    data: str
    out: str
    split: str | None = None  # split spec (see flowpipe.data.splits); None: dataset labels
    val_split: str | None = None  # held-out split for best-model tracking; None: no validation
    bound: float | None = None  # flow another tool wrote (no flowpipe.json): its stored bound
    fold: int = 1
    arch: str | None = None
    L: int = 10
    stacking: str = "simple"
    bidirectional: bool = False
    T: int = 64
    crop: int = 224
    augment: str = "crop"
    flip: bool = True  # mirror training views (off when a mirror changes the class)
    segments: int = 1
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_steps: tuple[int, ...] = field(default_factory=tuple)
    lr_gamma: float = 0.1
    dropout: float | None = None
    init_from: str | None = None  # a checkpoint file or torchvision:NAME (see init_format)
    init_format: str = "imagenet"  # one of INIT_FORMATS
    i3d_padding: str | None = None  # i3d: None -> "tf-same" for pytorch-i3d, else torchvision
    workers: int = 2
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    val_stacks: int = 5
    max_batches: int | None = None  # per epoch (smoke runs, benchmarks)

    def __post_init__(self) -> None:
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, got {self.stream!r}")
        if self.arch is not None and self.arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}"
            )
        if (self.stream == "i3d") != (self.model_arch == "i3d"):
            raise ValueError(f"the {self.stream} stream cannot use architecture {self.model_arch}")
        for name in ("epochs", "batch_size", "crop", "L", "T", "segments", "val_stacks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.bound is not None and not self.bound > 0:
            raise ValueError(f"bound must be > 0, got {self.bound}")
        if self.workers < 0 or self.lr <= 0 or not 0 <= self.momentum < 1:
            raise ValueError("workers must be >= 0, lr > 0 and momentum in [0, 1)")
        self._check_init()

    def _check_init(self) -> None:
        """Validate init_format and i3d_padding; resolve i3d_padding for the i3d stream (stored
        resolved, so checkpoints say which net `flowpipe eval` rebuilds)."""
        if self.init_format not in INIT_FORMATS:
            raise ValueError(f"init_format must be one of {INIT_FORMATS}, not {self.init_format!r}")
        if self.init_format == "pytorch-i3d" and self.stream != "i3d":
            raise ValueError(f"pytorch-i3d weights are for the i3d stream, not {self.stream}")
        if self.i3d_padding is not None and self.i3d_padding not in I3D_PADDINGS:
            raise ValueError(f"i3d_padding must be one of {I3D_PADDINGS}, not {self.i3d_padding!r}")
        if self.stream != "i3d" and self.i3d_padding is not None:
            raise ValueError(f"i3d_padding is an i3d option; the {self.stream} stream has none")
        if self.stream == "i3d" and self.i3d_padding is None:
            pytorch_i3d = self.init_format == "pytorch-i3d"
            object.__setattr__(self, "i3d_padding", "tf-same" if pytorch_i3d else "torchvision")

    @property
    def model_arch(self) -> str:
        """The architecture: the one asked for, else the stream's default."""
        return self.arch or DEFAULT_ARCH[self.stream]

    @property
    def in_channels(self) -> int:
        """Input channels of the net: 2L flow, 2 for I3D flow, 3 for RGB."""
        return {"temporal": 2 * self.L, "i3d": 2, "spatial": 3}[self.stream]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in checkpoints)."""
        out = dataclasses.asdict(self)
        out["lr_steps"] = list(self.lr_steps)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The config saved by as_dict (unknown keys refused by the constructor)."""
        return cls(**{**data, "lr_steps": tuple(data.get("lr_steps", ()))})
