"""The engine-only run of `flowpipe bench extract` regroups the job's chunks as the GPU flow
service does: one frame size per solver call, every pair kept, in order."""

from __future__ import annotations

import numpy as np

from flowpipe.bench.extract import merged_by_size


def _chunk(first: int, count: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.arange(first, first + count, dtype=np.uint8).reshape(-1, 1, 1)
    prev = np.broadcast_to(ids, (count, *shape)).copy()
    return prev, prev + 100


def test_chunks_of_two_frame_sizes_merge_per_size_in_calls_of_at_most_size_pairs() -> None:
    chunks = [_chunk(0, 5, (4, 6)), _chunk(5, 3, (2, 2)), _chunk(8, 4, (4, 6))]
    merged = merged_by_size(chunks, 4)
    assert [len(prev) for prev, _ in merged] == [4, 4, 1, 3]
    ids = [int(prev[k, 0, 0]) for prev, _ in merged for k in range(len(prev))]
    assert ids == [0, 1, 2, 3, 4, 8, 9, 10, 11, 5, 6, 7]
    assert all(np.array_equal(nxt, prev + 100) for prev, nxt in merged)
    assert {prev.shape[1:] for prev, _ in merged[:3]} == {(4, 6)}
    assert merged[3][0].shape[1:] == (2, 2)


def test_bench_extract_ends_without_worker_tracebacks() -> None:
    """The whole benchmark (jobs on local clusters started and shut down) prints its JSON and
    nothing else: no worker-shutdown tracebacks on stderr."""
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "flowpipe", "bench", "extract", "--max-frames", "3"]
    done = subprocess.run(
        [*command, "--tiny-videos", "4"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    result = json.loads(done.stdout)
    assert result["frames"] > 0 and result["scheduler"]["videos"] == 4
