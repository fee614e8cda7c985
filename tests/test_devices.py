"""Device names and a thread's CPU threads for torch."""

from __future__ import annotations

import pytest
import torch

from flowpipe.devices import names_cuda, resolve_device, torch_threads


def test_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert names_cuda("cuda:1") and not names_cuda("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_torch_threads_holds_for_the_block_and_restores_after_an_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(KeyError), torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
        raise KeyError("inside")
    assert torch.get_num_threads() == before
