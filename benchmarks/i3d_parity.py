"""Does flowpipe's I3D, loaded from pytorch-i3d's weights, compute what pytorch-i3d computes?

A developer check, not part of the test suite (pytorch-i3d's code is not ours to ship): it
imports pytorch-i3d's ``pytorch_i3d.py`` from the path given (clone piergiaj/pytorch-i3d
anywhere), builds its ``InceptionI3d(400, in_channels=2)`` with seeded random weights and
batch-norm statistics measured on a random clip (so every layer's output matters), saves its
``state_dict()``, loads that file with ``flowpipe.models.load_pytorch_i3d`` into flowpipe's
InceptionI3d (``padding="tf-same"``), and compares the logits of both nets (eval mode) on the
same random inputs. pytorch-i3d returns per-time-step logits [B, 400, T'] (and [B, 400, T', H',
W'] when the final 7x7 pool does not cover the map); flowpipe returns their mean, as DeepMind's
I3D does. For contrast it also loads the same tensors into flowpipe's default net
(``padding="torchvision"``). Last, the way back: ``to_pytorch_i3d`` of flowpipe's net loaded
into a fresh pytorch-i3d net (strict ``load_state_dict``), logits compared on the first input.
Prints one JSON object.

    python benchmarks/i3d_parity.py --pytorch-i3d /path/to/pytorch-i3d/pytorch_i3d.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from flowpipe.models import InceptionI3d, load_pytorch_i3d, to_pytorch_i3d
from flowpipe.models.i3d_keys import pytorch_i3d_names

SHAPES = ((1, 2, 16, 224, 224), (2, 2, 15, 225, 231), (1, 2, 64, 224, 224))
CALIBRATION = (2, 2, 16, 224, 224)


def import_pytorch_i3d(path: Path) -> ModuleType:
    """pytorch-i3d's model module, imported from its file."""
    spec = importlib.util.spec_from_file_location("pytorch_i3d", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_reference(module: ModuleType, seed: int) -> nn.Module:
    """pytorch-i3d's flow I3D, seeded weights; BN statistics of one random clip (cumulative
    average), random BN affine; in eval mode."""
    torch.manual_seed(seed)
    net = module.InceptionI3d(400, in_channels=2)
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm3d)]
    for bn in norms:
        bn.momentum = None
    with torch.no_grad():
        net.train()(torch.randn(CALIBRATION))
        for bn in norms:
            bn.weight.uniform_(0.8, 1.2)
            bn.bias.normal_(0.0, 0.1)
        net.logits.conv3d.bias.normal_(0.0, 0.1)
    return net.eval()


def same_tensors_default_net(reference: nn.Module) -> nn.Module:
    """flowpipe's default-padding I3D holding the reference's tensors (for contrast)."""
    net = InceptionI3d(400, in_channels=2)
    theirs = reference.state_dict()
    net.load_state_dict({ours: theirs[key] for ours, key in pytorch_i3d_names(net).items()})
    return net.eval()


def compare(reference: nn.Module, ours: nn.Module, default: nn.Module, shape) -> dict:
    """Logits of the three nets on one random input [B, 2, T, H, W] in [-1, 1]."""
    x = torch.rand(shape) * 2 - 1
    began = time.perf_counter()
    with torch.no_grad():
        theirs = reference(x)
        theirs = theirs.flatten(2).mean(dim=2)  # over time (and positions, if any)
        mine = ours(x)
        other = default(x)
    return {
        "input": list(shape),
        "max_abs_diff": float((mine - theirs).abs().max()),
        "max_abs_logit": float(theirs.abs().max()),
        "logit_std": float(theirs.std()),
        "same_top1": bool((mine.argmax(1) == theirs.argmax(1)).all()),
        "default_padding_max_abs_diff": float((other - theirs).abs().max()),
        "seconds": round(time.perf_counter() - began, 1),
    }


def exported_back(module: ModuleType, ours: nn.Module, shape) -> dict:
    """flowpipe's net exported in pytorch-i3d's naming, loaded strictly into its net."""
    theirs = module.InceptionI3d(400, in_channels=2)
    theirs.load_state_dict(to_pytorch_i3d(ours))  # strict: every key, no key left over
    x = torch.rand(shape) * 2 - 1
    with torch.no_grad():
        diff = theirs.eval()(x).flatten(2).mean(dim=2) - ours(x)
    return {"input": list(shape), "max_abs_diff": float(diff.abs().max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytorch-i3d", type=Path, required=True, help="its pytorch_i3d.py")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="the first input shape only")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    module = import_pytorch_i3d(args.pytorch_i3d)
    reference = random_reference(module, args.seed)
    ours = InceptionI3d(400, in_channels=2, padding="tf-same")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flow_random.pt"
        torch.save(reference.state_dict(), path)
        left_at_init = load_pytorch_i3d(ours, path)
    default = same_tensors_default_net(reference)
    shapes = SHAPES[:1] if args.quick else SHAPES
    result = {
        "tensors": len(reference.state_dict()),
        "left_at_init": left_at_init,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "comparisons": [compare(reference, ours.eval(), default, s) for s in shapes],
        "exported_back": exported_back(module, ours, SHAPES[0]),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
