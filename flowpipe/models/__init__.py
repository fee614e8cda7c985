"""Models for the trainers: temporal/spatial 2-D ConvNets, I3D, and pretrained weights
(ImageNet weight transfer, pytorch-i3d's Kinetics I3D)."""

from flowpipe.models.cnn_m import CNNM2048
from flowpipe.models.i3d import InceptionI3d
from flowpipe.models.i3d_keys import from_pytorch_i3d, to_pytorch_i3d
from flowpipe.models.inflate import cross_modality_conv1, inflate_state_dict
from flowpipe.models.pretrained import load_pretrained, load_pytorch_i3d, save_pytorch_i3d
from flowpipe.models.registry import ARCHITECTURES, build_model

__all__ = [
    "ARCHITECTURES",
    "CNNM2048",
    "InceptionI3d",
    "build_model",
    "cross_modality_conv1",
    "from_pytorch_i3d",
    "inflate_state_dict",
    "load_pretrained",
    "load_pytorch_i3d",
    "save_pytorch_i3d",
    "to_pytorch_i3d",
]
