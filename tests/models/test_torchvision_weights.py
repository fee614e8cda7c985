"""torchvision:NAME weights, read through torchvision's own cache ($TORCH_HOME/hub/checkpoints),
offline: a file placed in a temporary cache under the name torchvision wants is what loads, and an
empty cache is one error naming that file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torchvision.models import GoogLeNet, resnet18

from flowpipe.models import build_model, load_pretrained
from flowpipe.models.pretrained import torchvision_weights

FLOW_CHANNELS = 20
RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1
GOOGLENET_FILE = "googlenet-1378be20.pth"  # GoogLeNet_Weights.IMAGENET1K_V1


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch cache for this test: $TORCH_HOME, whose hub/checkpoints torchvision reads."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


def place_in_cache(torch_home: Path, name: str, state: dict) -> Path:
    """``state`` saved where torchvision looks for the weights file ``name``."""
    path = torch_home / "hub" / "checkpoints" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def test_resnet18_from_the_cache_gets_the_cross_modality_init(torch_home: Path) -> None:
    torch.manual_seed(3)
    rgb = resnet18(weights=None).state_dict()
    place_in_cache(torch_home, RESNET18_FILE, rgb)
    net = build_model("resnet18", FLOW_CHANNELS, num_classes=101)
    assert load_pretrained(net, "torchvision:resnet18", "resnet18") == ["fc.weight", "fc.bias"]
    mean = rgb["conv1.weight"].mean(dim=1)
    assert all(torch.equal(net.conv1.weight[:, c], mean) for c in range(FLOW_CHANNELS))
    assert torch.equal(net.layer4[1].conv2.weight, rgb["layer4.1.conv2.weight"])


def test_googlenet_from_the_cache_inflates_into_i3d(
    torch_home: Path, googlenet_2d: GoogLeNet
) -> None:
    place_in_cache(torch_home, GOOGLENET_FILE, googlenet_2d.state_dict())
    net = build_model("i3d", 2, num_classes=5)
    load_pretrained(net, "torchvision:googlenet", "i3d")
    torch.testing.assert_close(
        net.inception4b.branch2[1].conv.weight.sum(dim=2),
        googlenet_2d.inception4b.branch2[1].conv.weight,
    )


def test_empty_cache_is_one_error_naming_the_file(torch_home: Path) -> None:
    wanted = torch_home / "hub" / "checkpoints" / RESNET18_FILE
    message = (
        f"torchvision:resnet18: torchvision's weights file {RESNET18_FILE} is not in its cache; "
        f"put it at {wanted} (download: https://download.pytorch.org/models/{RESNET18_FILE}; "
        "TORCH_HOME moves the cache)"
    )
    net = build_model("resnet18", FLOW_CHANNELS, num_classes=101)
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(message)}$"):
        load_pretrained(net, "torchvision:resnet18", "resnet18")
    assert not wanted.exists()


def test_a_broken_cached_file_is_one_line(torch_home: Path) -> None:
    path = torch_home / "hub" / "checkpoints" / RESNET18_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"partial download")
    net = build_model("resnet18", 3, num_classes=10)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: not a PyTorch checkpoint"):
        load_pretrained(net, "torchvision:resnet18", "resnet18")


def test_weights_of_another_architecture_are_refused(torch_home: Path) -> None:
    net = build_model("resnet50", 3, num_classes=10)
    message = "torchvision:resnet18: these are resnet18 weights; this net loads resnet50's"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_pretrained(net, "torchvision:resnet18", "resnet50")


def test_weights_names_and_tags() -> None:
    assert torchvision_weights("torchvision:resnet50").name == "IMAGENET1K_V2"  # its DEFAULT
    assert torchvision_weights("torchvision:resnet50:IMAGENET1K_V1").url.endswith(
        "resnet50-0676ba61.pth"
    )
    with pytest.raises(ValueError, match="^unknown torchvision weights 'torchvision:vgg16'; "):
        torchvision_weights("torchvision:vgg16")
    with pytest.raises(
        ValueError, match="has no weights 'V9'; it has IMAGENET1K_V1, IMAGENET1K_V2"
    ):
        torchvision_weights("torchvision:resnet50:V9")
