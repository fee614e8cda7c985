"""Weight transfer from 2-D ImageNet checkpoints: cross-modality input conv, inflation to 3-D."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

# InceptionI3d's classifier takes torchvision GoogLeNet's ``fc`` (a Linear, reshaped to 1×1×1).
GOOGLENET_RENAMES = {"classifier.": "fc."}


def cross_modality_conv1(weight_rgb: Tensor, in_channels: int) -> Tensor:
    """Input-conv weights for ``in_channels`` inputs from RGB ones [O, 3, ...].

    Kept as is when the channel counts agree; otherwise averaged over the RGB channels and
    replicated ``in_channels`` times (cross-modality pre-training, Wang et al. 2016, TSN).
    """
    if weight_rgb.shape[1] == in_channels:
        return weight_rgb
    mean = weight_rgb.mean(dim=1, keepdim=True)
    return mean.expand(-1, in_channels, *weight_rgb.shape[2:]).clone()


def input_conv_key(model: nn.Module) -> str:
    """State-dict key of the model's first convolution's weight (the one that sees the input)."""
    name = next(n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Conv3d)))
    return f"{name}.weight"


def classifier_prefix(model: nn.Module) -> str:
    """State-dict prefix of the model's last layer (its classifier), e.g. ``"fc."``."""
    layers = [
        n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d))
    ]
    return f"{layers[-1]}."


def fit_tensor(source: Tensor, target_shape: tuple[int, ...], input_conv: bool) -> Tensor:
    """A 2-D tensor shaped for a (2-D or 3-D) target: Linear → 1×…×1 conv, cross-modality
    input conv, and k×k → t×k×k inflation (repeated over time, divided by t)."""
    if source.dim() == 2 and len(target_shape) > 2:
        source = source.reshape(*source.shape, *[1] * (len(target_shape) - 2))
    if input_conv:
        source = cross_modality_conv1(source, target_shape[1])
    if source.dim() == 4 and len(target_shape) == 5:
        t = target_shape[2]
        source = source.unsqueeze(2).expand(-1, -1, t, -1, -1) / t
    return source


def transfer_state_dict(
    state: Mapping[str, Tensor],
    model: nn.Module,
    renames: Mapping[str, str] | None = None,
    skip_classifier: bool = False,
) -> dict[str, Tensor]:
    """``model``'s state filled from a 2-D ``state`` (key prefixes mapped by ``renames``).

    The input conv gets the cross-modality init, 2-D kernels are inflated where the model is
    3-D, everything else is copied. The classifier is left out (at the model's init) when
    ``skip_classifier`` or when the checkpoint has none or one of another shape (other class
    count); so is ``num_batches_tracked`` when the checkpoint lacks it. Any other missing key
    or shape mismatch is a one-line ValueError naming the key and both shapes.
    """
    renames = renames or {}
    targets = model.state_dict()
    source_keys = {key: _renamed(key, renames) for key in targets}
    first, head = input_conv_key(model), classifier_prefix(model)
    if not any(source_keys[k] in state for k in targets if not k.startswith(head)):
        raise ValueError(f"no key matches the model's (such as {source_keys[first]!r})")
    result = {}
    for key, target in targets.items():
        source = state.get(source_keys[key])
        is_head = key.startswith(head)
        if (is_head and skip_classifier) or (source is None and (is_head or _optional(key))):
            continue
        if source is None:
            raise ValueError(f"checkpoint has no {_described(key, source_keys[key])}")
        value = fit_tensor(source, tuple(target.shape), input_conv=key == first)
        if value.shape == target.shape:
            result[key] = value
        elif not is_head:
            raise ValueError(
                f"{_described(key, source_keys[key])}: checkpoint shape {tuple(source.shape)} "
                f"does not fit model shape {tuple(target.shape)}"
            )
    return result


def inflate_state_dict(
    state_2d: Mapping[str, Tensor], model_3d: nn.Module, skip_classifier: bool = False
) -> dict[str, Tensor]:
    """InceptionI3d state from a torchvision GoogLeNet state dict (I3D bootstrapping).

    Each k×k kernel is repeated t times over time and divided by t, so a "boring video" (one
    image repeated) gives the 2-D net's output; a 3-channel conv1 is averaged over RGB and
    replicated for other input counts (flow); BN parameters and buffers are copied; ``fc``
    becomes the 1×1×1 ``classifier``, or is left at the model's init when ``skip_classifier``
    or when its class count differs (the returned dict then lacks the ``classifier.`` keys:
    load it with ``strict=False``). The aux classifiers' keys are ignored.
    """
    return transfer_state_dict(state_2d, model_3d, GOOGLENET_RENAMES, skip_classifier)


def _renamed(key: str, renames: Mapping[str, str]) -> str:
    """``key`` with its prefix replaced by ``renames``."""
    for old, new in renames.items():
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def _described(key: str, source_key: str) -> str:
    """The checkpoint key, and the model key it fills when they differ, for error messages."""
    return repr(source_key) if key == source_key else f"{source_key!r} (for {key!r})"


def _optional(key: str) -> bool:
    """Whether a checkpoint may lack this key (BN batch counters, absent from old checkpoints)."""
    return key.endswith("num_batches_tracked")
