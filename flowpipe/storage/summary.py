"""`flowpipe info OUT`: what an extracted dataset holds and what its storage saves."""

from __future__ import annotations

from typing import Any

import numpy as np

from flowpipe.storage.dataset import DatasetStore

FLOAT32_BYTES = 4


def dataset_summary(root: str, done: dict[str, dict] | None = None) -> dict[str, Any]:
    """Videos, flows, failures, bytes on disk, ratio to float32 flow, and the end-point error
    that quantisation + JPEG add (measured by extraction on one field per video). `done`: the
    store's list_done(), when the caller has it already (it reads every meta.json)."""
    store = DatasetStore(root)
    manifest = store.read_manifest()
    done = store.list_done() if done is None else done
    if manifest is None and not done:
        raise ValueError(f"{root}: not a flowpipe dataset (no flowpipe.json and no finished video)")
    fields = {vid: m["flows"] * (2 if m["settings"]["backward"] else 1) for vid, m in done.items()}
    float_bytes = sum(
        n * 2 * FLOAT32_BYTES * done[vid]["size"][0] * done[vid]["size"][1]
        for vid, n in fields.items()
    )
    used = store.bytes_used()
    errors = [m["quantization_jpeg_epe"] for m in done.values() if m.get("quantization_jpeg_epe")]
    failures = store.read_failures()
    return {
        "root": root,
        "videos": len(done),
        "frames": sum(m["frames"] for m in done.values()),
        "flows": sum(m["flows"] for m in done.values()),
        "flow_fields": sum(fields.values()),
        "failures": len(failures),
        "failed_inputs": [f"{f['path']}: {f['message']}" for f in failures],
        "bytes": used,
        "float32_bytes": float_bytes,
        "ratio_to_float32": float_bytes / used if used else None,
        "quantization_jpeg_epe_px": float(np.mean(errors)) if errors else None,
        "settings": (manifest or {}).get("settings"),
    }
