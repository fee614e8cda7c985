"""The end-to-end demonstration on this machine: synth -> extract --rgb -> train the temporal,
I3D and spatial streams -> eval -> fuse, each step a real `flowpipe` command.

The motion classes include mirror pairs (left/right, clockwise/anticlockwise), so training
views are not mirrored (--no-flip) and testing uses the centre crop (the 10 crops include
mirrors). Run as `python -m flowpipe.train.demo OUT` (`make demo-train`); it prints and
writes OUT/demo.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

STREAM_ARGS = {  # (epochs, extra options); the lr drops tenfold after three quarters
    "temporal": (40, ["-L", "10", "--lr", "0.005", "--dropout", "0.5"]),
    "i3d": (30, ["-T", "8", "--lr", "0.01"]),
    "spatial": (20, ["--lr", "0.005"]),
}


def flowpipe(*args: str) -> str:
    """Run one flowpipe command (echoed), return its stdout; stop on failure."""
    print("$ flowpipe " + " ".join(args), file=sys.stderr, flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "flowpipe", *args], stdout=subprocess.PIPE, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"demo step failed: flowpipe {' '.join(args)}")
    return result.stdout


def run_demo(out: Path, videos_per_class: int = 9, crop: int = 48) -> dict:
    """All steps; returns test top-1 of each stream and fusion, with chance for comparison."""
    synth, data, split = out / "synth", out / "flow", str(out / "synth" / "videos")
    flowpipe(
        "synth",
        str(synth),
        "--videos-per-class",
        str(videos_per_class),
        "--frames",
        "16",
        "--size",
        "64x48",
    )
    flowpipe(
        "extract",
        "--list",
        f"{split}/labels.txt",
        "-o",
        str(data),
        "--rgb",
        "--preset",
        "fast",
        "--device",
        "cpu",
    )
    results: dict[str, Any] = {}
    test, train = [], []
    for stream, (epochs, extra) in STREAM_ARGS.items():
        run = out / stream
        resume = ["--resume"] if (run / "last.pt").exists() else []  # a rerun continues
        flowpipe(
            "train",
            stream,
            str(data),
            "-o",
            str(run),
            "--split",
            split,
            "--crop",
            str(crop),
            "--epochs",
            str(epochs),
            "--lr-steps",
            str(epochs * 3 // 4),
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--no-flip",
            *extra,
            *resume,
        )
        for subset, files in (("test", test), ("train", train)):
            scores = out / "scores" / f"{stream}_{subset}.npz"
            scores.parent.mkdir(parents=True, exist_ok=True)
            summary = json.loads(
                flowpipe(
                    "eval",
                    str(run / "last.pt"),
                    "-o",
                    str(scores),
                    "--split",
                    split,
                    "--subset",
                    subset,
                    "--test-stacks",
                    "10",
                    "--test-crops",
                    "1",
                )
            )
            files.append(str(scores))
            results[f"{stream}_{subset}_top1"] = summary["top1"]
    for method, extra in (("average", []), ("svm", ["--train-scores", ",".join(train)])):
        target = out / "scores" / f"fused_{method}.npz"
        fused = json.loads(flowpipe("fuse", *test, "-o", str(target), "--method", method, *extra))
        results[f"fused_{method}_test_top1"] = fused["fused"]["top1"]
    results["chance"] = 1 / 8
    (out / "demo.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m flowpipe.train.demo OUT")
    print(json.dumps(run_demo(Path(sys.argv[1])), indent=2))
