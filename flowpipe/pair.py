"""Flow of one image pair, file to file (what `flowpipe flow` runs)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from flowpipe.flow import TVL1Params, tvl1_flow
from flowpipe.io import write_flo
from flowpipe.viz import flow_picture


def read_gray(path: Path) -> np.ndarray:
    """An image file as a uint8 gray array; ValueError naming the file when it can't be read."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None or img.size == 0:
        raise ValueError(f"{path}: not a readable image")
    return img


def flow_for_images(
    img0: Path, img1: Path, output: Path, params: TVL1Params, device: str, png: bool = False
) -> list[Path]:
    """Compute img0 -> img1 flow, write it to `output` (.flo) and, if asked, a .png of its
    colour coding with the key (the magnitude at full saturation, in px)."""
    if output.suffix.lower() != ".flo":
        raise ValueError(f"{output}: the output must be a .flo file")
    prev, nxt = read_gray(img0), read_gray(img1)
    if prev.shape != nxt.shape:
        raise ValueError(
            f"{img0} is {prev.shape[1]}x{prev.shape[0]} but {img1} is "
            f"{nxt.shape[1]}x{nxt.shape[0]}: frames must have the same size"
        )
    flow = tvl1_flow(prev, nxt, params=params, device=device)[0].permute(1, 2, 0).cpu().numpy()
    output.parent.mkdir(parents=True, exist_ok=True)
    write_flo(output, flow)
    written = [output]
    if png:
        picture = output.with_suffix(".png")
        if not cv2.imwrite(str(picture), cv2.cvtColor(flow_picture(flow), cv2.COLOR_RGB2BGR)):
            raise ValueError(f"{picture}: could not write the picture")
        written.append(picture)
    return written
