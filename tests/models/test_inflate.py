"""Weight transfer: cross-modality conv1, inflation to flow I3D, classifier and shape handling."""

from __future__ import annotations

import re

import pytest
import torch
from torchvision.models import GoogLeNet

from flowpipe.models import InceptionI3d, cross_modality_conv1, inflate_state_dict
from tests.models.conftest import NUM_CLASSES


def test_cross_modality_conv1_is_the_rgb_mean_replicated() -> None:
    rgb = torch.randn(8, 3, 5, 5)
    flow = cross_modality_conv1(rgb, 20)
    assert flow.shape == (8, 20, 5, 5)
    for c in range(20):
        torch.testing.assert_close(flow[:, c], rgb.mean(dim=1))
    assert cross_modality_conv1(rgb, 3) is rgb


def test_flow_inflation(googlenet_2d: GoogLeNet) -> None:
    state_2d = googlenet_2d.state_dict()
    state_3d = inflate_state_dict(state_2d, InceptionI3d(NUM_CLASSES, in_channels=2))
    conv1 = state_3d["conv1.conv.weight"]
    assert conv1.shape == (64, 2, 7, 7, 7)
    rgb_mean = state_2d["conv1.conv.weight"].mean(dim=1)
    for c in range(2):
        for t in range(7):
            torch.testing.assert_close(conv1[:, c, t], rgb_mean / 7)
    branch = state_3d["inception4c.branch2.1.conv.weight"]
    torch.testing.assert_close(branch.sum(dim=2), state_2d["inception4c.branch2.1.conv.weight"])
    assert branch.shape[2] == 3 and torch.equal(branch[:, :, 0], branch[:, :, 2])
    torch.testing.assert_close(
        state_3d["inception5b.branch4.1.bn.running_var"],
        state_2d["inception5b.branch4.1.bn.running_var"],
    )
    torch.testing.assert_close(state_3d["classifier.weight"][:, :, 0, 0, 0], state_2d["fc.weight"])
    assert state_3d["conv1.bn.num_batches_tracked"] == state_2d["conv1.bn.num_batches_tracked"]


def test_aux_classifier_keys_are_ignored(googlenet_2d: GoogLeNet) -> None:
    state_2d = dict(googlenet_2d.state_dict())
    state_2d["aux1.fc2.weight"] = torch.zeros(NUM_CLASSES, 1024)
    net = InceptionI3d(NUM_CLASSES)
    assert set(inflate_state_dict(state_2d, net)) == set(net.state_dict())


def test_classifier_of_another_class_count_or_skipped_is_left_out(googlenet_2d: GoogLeNet) -> None:
    state_2d = googlenet_2d.state_dict()
    other = inflate_state_dict(state_2d, InceptionI3d(num_classes=101))
    skipped = inflate_state_dict(state_2d, InceptionI3d(NUM_CLASSES), skip_classifier=True)
    for state_3d in (other, skipped):
        assert "classifier.weight" not in state_3d and "classifier.bias" not in state_3d
        assert "inception5b.branch1.conv.weight" in state_3d


def test_wrong_shape_names_the_key_and_both_shapes(googlenet_2d: GoogLeNet) -> None:
    state_2d = dict(googlenet_2d.state_dict())
    state_2d["inception3a.branch1.conv.weight"] = torch.zeros(64, 100, 1, 1)
    message = (
        "'inception3a.branch1.conv.weight': checkpoint shape (64, 100, 1, 1) does not fit "
        "model shape (64, 192, 1, 1, 1)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$") as error:
        inflate_state_dict(state_2d, InceptionI3d(NUM_CLASSES))
    assert "\n" not in str(error.value)


def test_missing_key_is_named(googlenet_2d: GoogLeNet) -> None:
    state_2d = dict(googlenet_2d.state_dict())
    del state_2d["inception4a.branch3.0.bn.weight"]
    with pytest.raises(ValueError, match="checkpoint has no 'inception4a.branch3.0.bn.weight'"):
        inflate_state_dict(state_2d, InceptionI3d(NUM_CLASSES))
