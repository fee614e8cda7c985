"""`flowpipe bench train`: training-step throughput (samples/s) of the temporal ResNet-18
(L=10, 224²) and the I3D flow net (64×224²), on the CPU and, when present, the GPU.

Inputs are random tensors of the real shapes: this measures the network's forward + backward
+ SGD step as the trainer runs it (same AMP and memory format), not the loader.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import torch
import torch.nn.functional as F

from flowpipe.models import build_model

NUM_CLASSES = 101


def _cases(quick: bool) -> list[dict[str, Any]]:
    """(name, arch, input shape per sample, batch) of the measured networks."""
    size, frames = (112, 16) if quick else (224, 64)
    return [
        {
            "name": "temporal_resnet18_L10",
            "arch": "resnet18",
            "shape": (20, size, size),
            "batch": 8,
        },
        {
            "name": f"i3d_flow_{frames}x{size}",
            "arch": "i3d",
            "shape": (2, frames, size, size),
            "batch": 1 if quick else 2,
        },
    ]


def _step_rate(case: dict[str, Any], device: torch.device, steps: int) -> float:
    """Samples/s of SGD steps on random inputs (one warm-up step not counted)."""
    model = build_model(case["arch"], case["shape"][0], NUM_CLASSES).to(device)
    cuda = device.type == "cuda"
    if cuda:
        fmt = torch.channels_last_3d if case["arch"] == "i3d" else torch.channels_last
        model = model.to(memory_format=fmt)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(case["batch"], *case["shape"], device=device)
    y = torch.randint(0, NUM_CLASSES, (case["batch"],), device=device)
    model.train()
    for i in range(steps + 1):
        if i == 1:
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if cuda:
        torch.cuda.synchronize()
    return case["batch"] * steps / (time.perf_counter() - start)


def run_train_benchmark(steps: int = 3, quick: bool = False) -> dict[str, Any]:
    """Samples/s of each network on each available device."""
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    results: dict[str, Any] = {}
    for device in devices:
        for case in _cases(quick):
            key = f"{case['name']}_{device.type}_samples_per_s"
            results[key] = round(_step_rate(case, device, steps), 3)
    return {
        "benchmark": "train",
        "steps": steps,
        "quick": quick,
        "cuda": "skipped (no GPU)" if len(devices) == 1 else torch.cuda.get_device_name(),
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        **results,
    }
