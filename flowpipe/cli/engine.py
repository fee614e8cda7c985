"""`flowpipe flow` (one image pair) and `flowpipe synth` (videos with known flow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flowpipe.cli.common import device_option, parse_size, tvl1_options, user_errors


@click.command()
@click.argument("img0", type=click.Path(dir_okay=False))
@click.argument("img1", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="OUT.flo")
@click.option(
    "--png",
    is_flag=True,
    help="also write OUT.png, the flow's colour picture with its key (the magnitude at full "
    "saturation, px)",
)
@tvl1_options
@device_option()
@user_errors
def flow(img0: str, img1: str, output: str, png: bool, params: Any, device: str) -> None:
    """Flow of one image pair (IMG0 -> IMG1) to a Middlebury .flo file."""
    from flowpipe.pair import flow_for_images

    for path in flow_for_images(Path(img0), Path(img1), Path(output), params, device, png):
        click.echo(str(path))


@click.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--videos-per-class", default=4, show_default=True, type=click.IntRange(min=1))
@click.option("--frames", default=16, show_default=True, type=click.IntRange(min=2))
@click.option("--size", default="160x120", show_default=True, callback=parse_size, help="WxH")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--format", "fmt", type=click.Choice(["mp4", "avi"]), default="mp4", show_default=True
)
@click.option("--classes", default=None, help="comma-separated subset of the motion classes")
@click.option("--png", "save_png", is_flag=True, help="also write every frame as PNG")
@user_errors
def synth(
    out: str,
    videos_per_class: int,
    frames: int,
    size: tuple[int, int],
    seed: int,
    fmt: str,
    classes: str | None,
    save_png: bool,
) -> None:
    """Synthetic videos with ground-truth flow (.flo) and motion-class labels in OUT."""
    from flowpipe.synth import write_dataset

    root = write_dataset(
        out,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        seed=seed,
        fmt=fmt,
        classes=classes.split(",") if classes else None,
        save_png=save_png,
    )
    click.echo(f"wrote {root}")
