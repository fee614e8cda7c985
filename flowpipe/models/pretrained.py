"""Loading pretrained weights into the nets: RGB ImageNet checkpoints (files or torchvision's
weight cache) for the cross-modality init and I3D inflation, pytorch-i3d's Kinetics I3D."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor, nn
from torchvision.models import GoogLeNet_Weights, ResNet18_Weights, ResNet50_Weights, WeightsEnum

from flowpipe.models.i3d_keys import from_pytorch_i3d, to_pytorch_i3d
from flowpipe.models.inflate import inflate_state_dict, transfer_state_dict
from flowpipe.models.registry import check_arch

WRAPPER_KEYS = ("state_dict", "model")
TORCHVISION = "torchvision:"
# torchvision:NAME -> its weights (NAME's DEFAULT unless TAG in torchvision:NAME:TAG).
TORCHVISION_WEIGHTS: dict[str, type[WeightsEnum]] = {
    "resnet18": ResNet18_Weights,
    "resnet50": ResNet50_Weights,
    "googlenet": GoogLeNet_Weights,
}


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


def load_pretrained(model: nn.Module, source: str, arch: str) -> list[str]:
    """Initialise ``model`` (built by ``build_model(arch, ...)``) from RGB ImageNet weights.

    2-D nets: conv1 gets the cross-modality init (RGB mean replicated over the input
    channels), every other layer is copied; "i3d": ``inflate_state_dict`` from a torchvision
    GoogLeNet checkpoint. The classifier is skipped when its shape differs.

    Args:
        model: the net to fill.
        source: a checkpoint file, or ``torchvision:NAME[:TAG]`` (resnet18, resnet50,
            googlenet) read from torchvision's weight cache (see ``read_torchvision``).
        arch: the architecture ``model`` was built as.

    Returns:
        The model's keys left at their initialisation. Errors are one line naming the source.
    """
    check_arch(arch)
    state = read_weights(source, _source_name(arch))
    transfer = inflate_state_dict if arch == "i3d" else transfer_state_dict
    try:
        loaded = transfer(state, model)
    except ValueError as e:
        raise ValueError(
            f"{source}: {e} (is it an ImageNet {_source_name(arch)} checkpoint?)"
        ) from None
    model.load_state_dict(loaded, strict=False)
    return [key for key in model.state_dict() if key not in loaded]


def load_pytorch_i3d(model: nn.Module, path: str | Path) -> list[str]:
    """Initialise an InceptionI3d (``padding="tf-same"``) from a pytorch-i3d checkpoint file.

    Every tensor of the file must have its place and fit it (see ``from_pytorch_i3d``); a head
    of another class count (Kinetics' 400) is replaced by the model's, left at its init.

    Args:
        model: the I3D to fill.
        path: a ``torch.save`` file of pytorch-i3d's InceptionI3d state dict (e.g. its
            ``models/flow_imagenet.pt``), possibly wrapped or with "module." prefixes.

    Returns:
        The model's keys left at their initialisation (the head when replaced).
    """
    state = read_checkpoint(path)
    try:
        loaded = from_pytorch_i3d(state, model)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    model.load_state_dict(loaded, strict=False)
    return [key for key in model.state_dict() if key not in loaded]


def save_pytorch_i3d(model: nn.Module, path: str | Path) -> None:
    """Save an InceptionI3d (``padding="tf-same"``) in pytorch-i3d's naming, for its code."""
    torch.save(to_pytorch_i3d(model), path)


def read_weights(source: str, arch_name: str) -> dict[str, Tensor]:
    """The state dict of ``source``: a checkpoint file or ``torchvision:NAME[:TAG]`` weights
    that must be ``arch_name``'s (the 2-D architecture the net loads from)."""
    if not source.startswith(TORCHVISION):
        return read_checkpoint(source)
    name = source.removeprefix(TORCHVISION).partition(":")[0]
    if name != arch_name.lower():
        raise ValueError(f"{source}: these are {name} weights; this net loads {arch_name}'s")
    return read_torchvision(source)


def torchvision_weights(spec: str) -> WeightsEnum:
    """The torchvision weights a ``torchvision:NAME[:TAG]`` spec names (TAG: e.g. IMAGENET1K_V1,
    default NAME's DEFAULT)."""
    name, _, tag = spec.removeprefix(TORCHVISION).partition(":")
    if name not in TORCHVISION_WEIGHTS:
        known = ", ".join(TORCHVISION + n for n in TORCHVISION_WEIGHTS)
        raise ValueError(f"unknown torchvision weights {spec!r}; choose one of {known}")
    weights = TORCHVISION_WEIGHTS[name]
    tags = [w.name for w in weights]
    if tag and tag not in tags:
        raise ValueError(f"{spec}: {name} has no weights {tag!r}; it has {', '.join(tags)}")
    return weights[tag] if tag else weights.DEFAULT


def torchvision_cache_file(weights: WeightsEnum) -> Path:
    """Where torchvision looks for ``weights`` (``$TORCH_HOME/hub/checkpoints/<file>``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def read_torchvision(spec: str) -> dict[str, Tensor]:
    """The state dict of torchvision's ImageNet weights ``spec``, through its weight cache.

    flowpipe never downloads: when the file is not in the cache, the error names the file,
    where to put it and where torchvision downloads it from.
    """
    weights = torchvision_weights(spec)
    cached = torchvision_cache_file(weights)
    if not cached.is_file():
        raise FileNotFoundError(
            f"{spec}: torchvision's weights file {cached.name} is not in its cache; put it at "
            f"{cached} (download: {weights.url}; TORCH_HOME moves the cache)"
        )
    try:
        state = weights.get_state_dict(progress=False, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load raises many kinds for a file that is not a checkpoint
        raise ValueError(f"{cached}: not a PyTorch checkpoint ({type(e).__name__})") from None
    return dict(state)


def _source_name(arch: str) -> str:
    """The 2-D architecture whose checkpoint ``arch`` loads."""
    return "GoogLeNet" if arch == "i3d" else arch
