"""Loading RGB ImageNet checkpoint files into the flow (or RGB) nets."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from flowpipe.models.inflate import inflate_state_dict, transfer_state_dict
from flowpipe.models.registry import check_arch

WRAPPER_KEYS = ("state_dict", "model")


def read_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """The state dict in a ``torch.save`` file, unwrapped from {"state_dict"|"model": ...}
    and stripped of DataParallel's "module." prefixes."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a PyTorch checkpoint ({type(e).__name__})") from None
    for key in WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not (isinstance(obj, Mapping) and obj and all(isinstance(v, Tensor) for v in obj.values())):
        raise ValueError(f"{path}: not a state dict of tensors")
    return {str(k).removeprefix("module."): v for k, v in obj.items()}


def load_pretrained(model: nn.Module, path: str, arch: str) -> list[str]:
    """Initialise ``model`` (built by ``build_model(arch, ...)``) from an RGB ImageNet checkpoint.

    2-D nets: conv1 gets the cross-modality init (RGB mean replicated over the input
    channels), every other layer is copied; "i3d": ``inflate_state_dict`` from a torchvision
    GoogLeNet checkpoint. The classifier is skipped when its shape differs. Returns the
    model's keys left at their initialisation. Errors are one line naming the file.
    """
    check_arch(arch)
    state = read_checkpoint(path)
    transfer = inflate_state_dict if arch == "i3d" else transfer_state_dict
    try:
        loaded = transfer(state, model)
    except ValueError as e:
        raise ValueError(
            f"{path}: {e} (is it an ImageNet {_source_name(arch)} checkpoint?)"
        ) from None
    model.load_state_dict(loaded, strict=False)
    return [key for key in model.state_dict() if key not in loaded]


def _source_name(arch: str) -> str:
    """The 2-D architecture whose checkpoint ``arch`` loads."""
    return "GoogLeNet" if arch == "i3d" else arch
