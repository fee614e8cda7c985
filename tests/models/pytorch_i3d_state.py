"""State dicts in pytorch-i3d's naming, written here from its published model definition
(piergiaj/pytorch-i3d, ``pytorch_i3d.py``: Unit3D, InceptionModule, InceptionI3d) independently of
flowpipe's key map, and where each of its units lives in flowpipe's InceptionI3d."""

from __future__ import annotations

import torch
from torch import Tensor, nn

# InceptionI3d's Mixed endpoints: (name, input channels, [b0, b1a, b1b, b2a, b2b, b3b] outputs).
MIXED = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)
# flowpipe's block and branch for each: torchvision GoogLeNet's names.
BLOCKS = dict(
    zip(
        [name for name, _, _ in MIXED],
        ["inception3a", "inception3b", "inception4a", "inception4b", "inception4c"]
        + ["inception4d", "inception4e", "inception5a", "inception5b"],
        strict=True,
    )
)
STEMS = {"Conv3d_1a_7x7": "conv1", "Conv3d_2b_1x1": "conv2", "Conv3d_2c_3x3": "conv3"}
BN_TENSORS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def units(in_channels: int) -> list[tuple[str, int, int, int]]:
    """Every Unit3D with batch norm: (name, input channels, output channels, kernel size)."""
    found = [
        ("Conv3d_1a_7x7", in_channels, 64, 7),
        ("Conv3d_2b_1x1", 64, 64, 1),
        ("Conv3d_2c_3x3", 64, 192, 3),
    ]
    for name, cin, (c0, c1a, c1b, c2a, c2b, c3b) in MIXED:
        found += [
            (f"{name}.b0", cin, c0, 1),
            (f"{name}.b1a", cin, c1a, 1),
            (f"{name}.b1b", c1a, c1b, 3),
            (f"{name}.b2a", cin, c2a, 1),
            (f"{name}.b2b", c2a, c2b, 3),
            (f"{name}.b3b", cin, c3b, 1),
        ]
    return found


def pytorch_i3d_state(
    num_classes: int = 400, in_channels: int = 2, seed: int = 0, bn_counters: bool = True
) -> dict[str, Tensor]:
    """A pytorch-i3d InceptionI3d state dict whose tensors all hold different random values
    (positive running variances; the BN counters distinct integers, left out when
    ``bn_counters`` is False, as in its checkpoints saved before torch 0.4.1)."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, Tensor] = {}
    for i, (name, cin, cout, k) in enumerate(units(in_channels)):
        state[f"{name}.conv3d.weight"] = torch.randn(cout, cin, k, k, k, generator=g) * 0.05
        state[f"{name}.bn.weight"] = 1 + 0.1 * torch.randn(cout, generator=g)
        state[f"{name}.bn.bias"] = 0.1 * torch.randn(cout, generator=g)
        state[f"{name}.bn.running_mean"] = 0.1 * torch.randn(cout, generator=g)
        state[f"{name}.bn.running_var"] = 0.5 + torch.rand(cout, generator=g)
        if bn_counters:
            state[f"{name}.bn.num_batches_tracked"] = torch.tensor(1000 + i)
    state["logits.conv3d.weight"] = torch.randn(num_classes, 1024, 1, 1, 1, generator=g) * 0.01
    state["logits.conv3d.bias"] = torch.randn(num_classes, generator=g)
    return state


def flowpipe_unit(model: nn.Module, name: str) -> nn.Module:
    """The BasicConv3d of flowpipe's InceptionI3d that plays pytorch-i3d's unit ``name``."""
    if name in STEMS:
        return getattr(model, STEMS[name])
    mixed, branch = name.split(".")
    block = getattr(model, BLOCKS[mixed])
    return {
        "b0": block.branch1,
        "b1a": block.branch2[0],
        "b1b": block.branch2[1],
        "b2a": block.branch3[0],
        "b2b": block.branch3[1],
        "b3b": block.branch4[1],
    }[branch]


def flowpipe_tensor(model: nn.Module, key: str) -> Tensor:
    """The tensor of flowpipe's InceptionI3d that holds pytorch-i3d's ``key``."""
    if key.startswith("logits.conv3d."):
        return getattr(model.classifier, key.rsplit(".", 1)[1])
    unit_name, layer, tensor = key.rsplit(".", 2)
    unit = flowpipe_unit(model, unit_name)
    return getattr(unit.conv if layer == "conv3d" else unit.bn, tensor)
