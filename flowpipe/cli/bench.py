"""`flowpipe bench ...`: the benchmarks, each printing one JSON object."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from flowpipe.cli.common import PRESETS, data_option, parse_ints, user_errors


def _print_json(result: dict[str, Any]) -> None:
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


@click.group()
def bench() -> None:
    """Benchmarks: each prints one JSON object."""


@bench.command("tvl1")
@click.option("--pairs", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--batch", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click.option("--preset", type=click.Choice(PRESETS), default="opencv")
@click.option(
    "--backend", type=click.Choice(["auto", "torch", "triton"]), default="auto", show_default=True
)
@click.option("--quick", is_flag=True, help="small frames and few pairs (smoke run)")
@click.option("--no-opencv", is_flag=True, help="skip the OpenCV reference (not for reports)")
@data_option
@user_errors
def bench_tvl1(
    pairs: int,
    batch: int,
    device: str,
    preset: str,
    backend: str,
    quick: bool,
    no_opencv: bool,
    data: str | None,
) -> None:
    """TV-L1 speed and accuracy against OpenCV's DualTVL1 on the same frames."""
    from flowpipe.bench.tvl1 import run_tvl1_benchmark

    _print_json(
        run_tvl1_benchmark(
            pairs=pairs,
            batch=batch,
            device=device,
            preset=preset,
            backend=backend,
            quick=quick,
            no_opencv=no_opencv,
            data=data,
        )
    )


@bench.command("extract")
@click.option(
    "--max-frames", default=17, show_default=True, type=click.IntRange(min=2), help="per clip"
)
@click.option(
    "--batch", type=click.IntRange(min=1), help="frame pairs per chunk (default: extract's)"
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--copies",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="times the job extracts each clip, as separate videos",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click.option(
    "--tiny-videos",
    default=500,
    show_default=True,
    type=click.IntRange(min=0),
    help="tiny videos for the scheduler-overhead figure (0: skip)",
)
@click.option(
    "--consistency-cost",
    is_flag=True,
    help="time the job again without the forward-backward consistency figures",
)
@data_option
@user_errors
def bench_extract(
    max_frames: int,
    batch: int | None,
    workers: int,
    copies: int,
    device: str,
    tiny_videos: int,
    consistency_cost: bool,
    data: str | None,
) -> None:
    """flowpipe extract end to end against a decode -> OpenCV -> cv2.imwrite script."""
    from flowpipe.bench.extract import ExtractBench, run_extract_benchmark

    bench = ExtractBench(
        max_frames, batch, workers, copies, device, tiny_videos, data, consistency_cost
    )
    _print_json(run_extract_benchmark(bench))


@bench.command("extract-sweep")
@click.option("--videos-per-gpu", default="4,8", show_default=True, callback=parse_ints)
@click.option("--batches", default="32", show_default=True, callback=parse_ints, help="chunk sizes")
@click.option("--copies", default=4, show_default=True, type=click.IntRange(min=1))
@click.option("--max-frames", default=300, show_default=True, type=click.IntRange(min=2))
@click.option("--device", default="cuda", show_default=True, help="cpu: a smoke run")
@data_option
@user_errors
def bench_extract_sweep(
    videos_per_gpu: tuple[int, ...],
    batches: tuple[int, ...],
    copies: int,
    max_frames: int,
    device: str,
    data: str | None,
) -> None:
    """The extraction job per videos per GPU worker and chunk size, against the engine alone;
    a JSON line per run as it finishes, then the whole result."""
    from flowpipe.bench.extract_sweep import ExtractSweep, run_extract_sweep

    sweep = ExtractSweep(videos_per_gpu, batches, copies, max_frames, device, data)
    _print_json(run_extract_sweep(sweep, report=lambda line: print(line, flush=True)))


@bench.command("consistency")
@click.option(
    "--pairs", default=16, show_default=True, type=click.IntRange(min=1), help="pairs per chunk"
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click.option("--preset", type=click.Choice(PRESETS), default="opencv", show_default=True)
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@data_option
@user_errors
def bench_consistency(pairs: int, device: str, preset: str, rounds: int, data: str | None) -> None:
    """The forward-backward consistency figures' time against TV-L1 forward + backward flow
    of the same chunk of pairs (same run, same device)."""
    from flowpipe.bench.consistency import ConsistencyBench, consistency_cost

    _print_json(consistency_cost(ConsistencyBench(pairs, device, preset, rounds, data)))


@bench.command("report")
@click.option("--videos", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--flows", default=3, show_default=True, type=click.IntRange(min=1), help="per video")
@click.option("--samples", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--keep",
    type=click.Path(file_okay=False),
    default=None,
    help="build the dataset in this folder and keep it (reused when it is there already)",
)
@user_errors
def bench_report(videos: int, flows: int, samples: int, rounds: int, keep: str | None) -> None:
    """The report of many tiny videos: build time, bytes, time to open in headless Chromium,
    and a served view's time to its first pair."""
    from flowpipe.bench.report import ReportBench, run_report_benchmark

    _print_json(run_report_benchmark(ReportBench(videos, flows, samples, rounds, keep=keep)))


@bench.command("scale")
@click.option("--videos", default=200_000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--job-videos",
    callback=parse_ints,
    help="also time whole jobs of this many tiny videos on a 2-worker cluster, e.g. 2000,20000",
)
@click.option("--keep", type=click.Path(file_okay=False), help="generate into DIR and keep it")
@user_errors
def bench_scale(videos: int, job_videos: tuple[int, ...], keep: str | None) -> None:
    """What knowing a dataset costs at Kinetics scale: resume, info and the loader's
    construction over N finished videos, against one meta.json read per video."""
    from flowpipe.bench.scale import ScaleBench, run_scale_benchmark

    _print_json(run_scale_benchmark(ScaleBench(videos, job_videos, keep)))


@bench.command("train")
@click.option("--steps", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--quick", is_flag=True, help="112² and 16-frame inputs (smoke run)")
@user_errors
def bench_train(steps: int, quick: bool) -> None:
    """Training-step samples/s: temporal ResNet-18 (L=10, 224²) and I3D (64×224²)."""
    from flowpipe.bench.train import run_train_benchmark

    _print_json(run_train_benchmark(steps, quick))


@bench.command("loader")
@click.option(
    "--stacks",
    default=200,
    show_default=True,
    type=click.IntRange(min=1),
    help="stacks per loader and round",
)
@click.option(
    "--rounds",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="interleaved rounds; each loader's best counts",
)
@click.option("--quick", is_flag=True, help="tiny synthetic clips, few stacks (smoke run)")
@data_option
@user_errors
def bench_loader(stacks: int, rounds: int, quick: bool, data: str | None) -> None:
    """Flow-stack loader stacks/s (simple, trajectory, zip) against a PIL/ToTensor loader."""
    from flowpipe.bench.loader import run_loader_benchmark

    _print_json(run_loader_benchmark(stacks=stacks, rounds=rounds, quick=quick, data=data))
