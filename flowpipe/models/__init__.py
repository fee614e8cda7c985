"""Models for the trainers: temporal/spatial 2-D ConvNets, I3D, and ImageNet weight transfer."""

from flowpipe.models.cnn_m import CNNM2048
from flowpipe.models.i3d import InceptionI3d
from flowpipe.models.inflate import cross_modality_conv1, inflate_state_dict
from flowpipe.models.pretrained import load_pretrained
from flowpipe.models.registry import ARCHITECTURES, build_model

__all__ = [
    "ARCHITECTURES",
    "CNNM2048",
    "InceptionI3d",
    "build_model",
    "cross_modality_conv1",
    "inflate_state_dict",
    "load_pretrained",
]
