"""Inspecting flow: the Middlebury colour coding, pictures of .flo files, side-by-side clips of
an extracted video and an HTML report of a whole dataset (`flowpipe viz`)."""

from flowpipe.viz.clip import write_clip
from flowpipe.viz.colour import colour_wheel, flow_to_colour, robust_max_magnitude, wheel_legend
from flowpipe.viz.picture import flow_picture, render_flo
from flowpipe.viz.report import write_report
from flowpipe.viz.stats import FlowStats, saturated_mask

__all__ = [
    "FlowStats",
    "colour_wheel",
    "flow_picture",
    "flow_to_colour",
    "render_flo",
    "robust_max_magnitude",
    "saturated_mask",
    "wheel_legend",
    "write_clip",
    "write_report",
]
