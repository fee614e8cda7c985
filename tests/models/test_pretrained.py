"""load_pretrained: cross-modality init from RGB checkpoint files, I3D inflation, bad files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torchvision.models import GoogLeNet, resnet18

from flowpipe.models import CNNM2048, build_model, load_pretrained

FLOW_CHANNELS = 20  # 2L, L = 10


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random torchvision ResNet-18 (1000 classes) state dict saved with torch.save."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "resnet18.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    return path


def assert_rgb_mean_replicated(conv1: torch.Tensor, rgb: torch.Tensor, channels: int) -> None:
    """conv1 [O, channels, k, k] is the RGB kernels' mean, the same in every input channel."""
    assert conv1.shape == (rgb.shape[0], channels, *rgb.shape[2:])
    for c in range(channels):
        torch.testing.assert_close(conv1[:, c], rgb.mean(dim=1))


def test_resnet18_cross_modality(resnet18_file: Path) -> None:
    state = torch.load(resnet18_file)
    net = build_model("resnet18", FLOW_CHANNELS, num_classes=101)
    skipped = load_pretrained(net, str(resnet18_file), "resnet18")
    assert skipped == ["fc.weight", "fc.bias"]
    assert_rgb_mean_replicated(net.conv1.weight.detach(), state["conv1.weight"], FLOW_CHANNELS)
    assert torch.equal(net.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    assert torch.equal(net.layer4[0].bn1.running_var, state["layer4.0.bn1.running_var"])


def test_same_class_count_keeps_the_classifier(resnet18_file: Path) -> None:
    net = build_model("resnet18", 3, num_classes=1000)
    assert load_pretrained(net, str(resnet18_file), "resnet18") == []
    assert torch.equal(net.fc.weight, torch.load(resnet18_file)["fc.weight"])
    assert torch.equal(net.conv1.weight, torch.load(resnet18_file)["conv1.weight"])


def test_old_checkpoint_without_bn_counters(resnet18_file: Path, tmp_path: Path) -> None:
    state = torch.load(resnet18_file)
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(old, path)
    net = build_model("resnet18", FLOW_CHANNELS, num_classes=1000)
    skipped = load_pretrained(net, str(path), "resnet18")
    assert skipped == [k for k in state if k.endswith("num_batches_tracked")] and skipped
    assert torch.equal(net.bn1.running_mean, state["bn1.running_mean"])


def test_cnn_m_cross_modality_from_a_wrapped_data_parallel_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    rgb = CNNM2048(3, 1000, norm2=True).state_dict()
    path = tmp_path / "cnn_m_rgb.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in rgb.items()}, "epoch": 80}, path)
    net = build_model("cnn-m-2048", FLOW_CHANNELS, num_classes=101)
    skipped = load_pretrained(net, str(path), "cnn-m-2048")
    assert skipped == ["classifier.weight", "classifier.bias"]
    conv1 = net.features.conv1.weight.detach()
    assert_rgb_mean_replicated(conv1, rgb["features.conv1.weight"], FLOW_CHANNELS)
    assert torch.equal(net.head.full7.weight, rgb["head.full7.weight"])


def test_i3d_inflates_a_googlenet_checkpoint(googlenet_2d: GoogLeNet, tmp_path: Path) -> None:
    path = tmp_path / "googlenet.pth"
    torch.save({"model": googlenet_2d.state_dict()}, path)
    net = build_model("i3d", 2, num_classes=101)
    assert load_pretrained(net, str(path), "i3d") == ["classifier.weight", "classifier.bias"]
    rgb = googlenet_2d.conv1.conv.weight.detach()
    assert_rgb_mean_replicated(net.conv1.conv.weight.detach().sum(dim=2), rgb, 2)
    torch.testing.assert_close(
        net.inception5a.branch1.bn.bias, googlenet_2d.inception5a.branch1.bn.bias
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match=f"^checkpoint not found: {re.escape(str(path))}$"):
        load_pretrained(build_model("resnet18", 20, 10), str(path), "resnet18")


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not weights\n")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: not a PyTorch checkpoint"):
        load_pretrained(build_model("resnet18", 20, 10), str(path), "resnet18")


def test_not_a_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "stats.pth"
    torch.save({"epoch": 3, "accuracy": 0.5}, path)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: not a state dict of tensors$"):
        load_pretrained(build_model("resnet18", 20, 10), str(path), "resnet18")


def test_wrong_shape_names_file_key_and_shapes(resnet18_file: Path) -> None:
    message = (
        f"{resnet18_file}: 'layer1.0.conv1.weight': checkpoint shape (64, 64, 3, 3) does not fit "
        "model shape (64, 64, 1, 1) (is it an ImageNet resnet50 checkpoint?)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_pretrained(build_model("resnet50", 20, 10), str(resnet18_file), "resnet50")


def test_checkpoint_of_another_architecture(googlenet_2d: GoogLeNet, tmp_path: Path) -> None:
    path = tmp_path / "googlenet.pth"
    torch.save(googlenet_2d.state_dict(), path)
    message = (
        f"{path}: no key matches the model's (such as 'conv1.weight') "
        "(is it an ImageNet resnet18 checkpoint?)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_pretrained(build_model("resnet18", 20, 10), str(path), "resnet18")


def test_unknown_architecture(resnet18_file: Path) -> None:
    with pytest.raises(ValueError, match="^unknown architecture 'resnet34'; choose one of"):
        load_pretrained(build_model("resnet18", 20, 10), str(resnet18_file), "resnet34")
