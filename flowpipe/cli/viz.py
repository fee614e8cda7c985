"""`flowpipe viz ...`: pictures, clips, an HTML report of flow, and a local server of views."""

from __future__ import annotations

import sys
from typing import Any

import click

from flowpipe.cli.common import suspect_options, user_errors

_max_magnitude_option = click.option(
    "--max-magnitude",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="|v| in px shown at full colour (default: robust maximum, 99th percentile)",
)


@click.group()
def viz() -> None:
    """Pictures, clips and an HTML report of flow (.flo files or an extracted dataset)."""


@viz.command("flo")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="OUT.png")
@_max_magnitude_option
@click.option("--planes", is_flag=True, help="also show the x and y components as gray planes")
@click.option(
    "--quiver",
    default=0,
    type=click.IntRange(min=0),
    metavar="PX",
    help="draw an arrow every PX pixels (0: none)",
)
@click.option("--no-legend", is_flag=True, help="leave out the colour-wheel key")
@user_errors
def viz_flo(
    file: str,
    output: str,
    max_magnitude: float | None,
    planes: bool,
    quiver: int,
    no_legend: bool,
) -> None:
    """Middlebury colour picture of a .flo file, with the colour-wheel key."""
    from flowpipe.viz import render_flo

    click.echo(str(render_flo(file, output, max_magnitude, planes, quiver, not no_legend)))


@viz.command("video")
@click.argument("video", type=click.Path())
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="clip.mp4 or clip.gif"
)
@click.option(
    "--every", default=1, show_default=True, type=click.IntRange(min=1), help="every N-th flow"
)
@click.option("--max-frames", type=click.IntRange(min=1), help="at most N clip frames")
@_max_magnitude_option
@click.option(
    "--bound",
    type=click.FloatRange(min=0, min_open=True),
    help="for a video folder of flow another tool wrote (rawframes flow_x_*.jpg, two-stream "
    "u/<video>): the bound its flow was stored with",
)
@user_errors
def viz_video(
    video: str,
    output: str,
    every: int,
    max_frames: int | None,
    max_magnitude: float | None,
    bound: float | None,
) -> None:
    """Side-by-side clip of OUT/<video_id>: RGB frame, colour flow, x, y, backward flow."""
    from flowpipe.viz import write_clip

    count = write_clip(video, output, every, max_frames, max_magnitude, bound)
    click.echo(f"wrote {output} ({count} frames)")


_samples_option = click.option(
    "--samples",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="flows read per video for its statistics and thumbnails",
)
_workers_option = click.option(
    "--workers", type=click.IntRange(min=1), help="decoding threads (default: cores)"
)


@viz.command("report")
@click.argument("out")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="report.html")
@_samples_option
@_workers_option
@suspect_options
@user_errors
def viz_report(out: str, output: str, samples: int, workers: int | None, rule: Any) -> None:
    """Self-contained HTML report of the extracted dataset OUT (folder, zip layout, fsspec URL):
    counts, histograms, forward-backward consistency with suspect videos and pairs, one
    sortable row per video. Per-video views: `flowpipe viz serve OUT`."""
    from flowpipe.viz import write_report

    click.echo(str(write_report(out, output, samples, workers, rule)))


@viz.command("serve")
@click.argument("out")
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="port on 127.0.0.1 (0: a free one, chosen by the system)",
)
@_samples_option
@_workers_option
@suspect_options
@user_errors
def viz_serve(out: str, port: int, samples: int, workers: int | None, rule: Any) -> None:
    """Serve the report of OUT with per-video views (a slider over each video's flows: frame,
    colour flow, x, y, backward flow, inconsistency mask) on 127.0.0.1, read-only, until
    Ctrl-C. Pictures are rendered as they are asked for."""
    from flowpipe.viz.serve import HOST, ServeOptions, make_server

    server = make_server(out, ServeOptions(port, samples, rule, workers))
    videos = len(server.pages.done)
    click.echo(
        f"serving {out} at http://{HOST}:{server.server_address[1]}/ (read-only; Ctrl-C stops;"
        f" views ready, the report of {videos:,} videos being built)"
    )
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
