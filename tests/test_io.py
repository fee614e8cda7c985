"""Tests of flowpipe.io: exact .flo round trips, Middlebury ground truth, bad files, EPE."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from flowpipe.io import FloError, endpoint_error, known_flow_mask, read_flo, write_flo


def header(magic: float = 202021.25, width: int = 3, height: int = 2) -> bytes:
    """A .flo header with the given fields."""
    return np.array([magic], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (48, 33)])
def test_round_trip_exact(tmp_path: Path, shape: tuple[int, int]) -> None:
    flow = np.random.default_rng(0).normal(0, 20, (*shape, 2)).astype(np.float32)
    write_flo(tmp_path / "a.flo", flow)
    back = read_flo(tmp_path / "a.flo")
    assert back.dtype == np.float32 and back.shape == (*shape, 2)
    np.testing.assert_array_equal(back, flow)
    assert (tmp_path / "a.flo").stat().st_size == 12 + 8 * shape[0] * shape[1]


def test_layout_is_x_then_y_row_major(tmp_path: Path) -> None:
    flow = np.zeros((2, 3, 2), np.float32)
    flow[1, 2] = (5.0, -7.0)
    write_flo(tmp_path / "a.flo", flow)
    data = (tmp_path / "a.flo").read_bytes()
    assert data[:12] == header(width=3, height=2)
    values = np.frombuffer(data, "<f4", offset=12)
    np.testing.assert_array_equal(values[-2:], [5.0, -7.0])
    assert not values[:-2].any()


def test_write_converts_float64(tmp_path: Path) -> None:
    flow = np.random.default_rng(1).normal(size=(4, 6, 2))
    write_flo(tmp_path / "a.flo", flow)
    np.testing.assert_array_equal(read_flo(tmp_path / "a.flo"), flow.astype(np.float32))


def test_middlebury_ground_truth(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "middlebury" / "Grove2" / "flow10.flo"
    flow = read_flo(path)
    assert flow.shape == (480, 640, 2) and flow.dtype == np.float32
    assert known_flow_mask(flow).mean() > 0.5
    write_flo(tmp_path / "copy.flo", flow)
    assert (tmp_path / "copy.flo").read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (header(magic=1.0) + bytes(48), "magic"),
        (header() + bytes(47), "expected 60"),
        (header() + bytes(49), "expected 60"),
        (header()[:11], "too short"),
        (b"", "too short"),
        (header(width=0) + bytes(48), "implausible"),
        (header(height=-2) + bytes(48), "implausible"),
        (header(width=1 << 16, height=1), "implausible"),
    ],
)
def test_bad_files(tmp_path: Path, data: bytes, words: str) -> None:
    path = tmp_path / "bad.flo"
    path.write_bytes(data)
    with pytest.raises(FloError, match=words) as info:
        read_flo(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "shape", [(4, 5), (4, 5, 3), (4, 5, 1), (0, 5, 2), (4, 0, 2), (2, 4, 5, 2)]
)
def test_write_rejects_bad_shapes(tmp_path: Path, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="shape"):
        write_flo(tmp_path / "a.flo", np.zeros(shape, np.float32))
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "a.flo"
    path.write_bytes(b"old content")
    flow = np.full((3, 4, 2), 1.5, np.float32)
    write_flo(path, flow)
    write_flo(str(path), flow * 2)
    assert [p.name for p in tmp_path.iterdir()] == ["a.flo"]
    np.testing.assert_array_equal(read_flo(path), flow * 2)


def test_known_mask_and_endpoint_error() -> None:
    reference = np.zeros((2, 2, 2), np.float32)
    reference[0, 1] = (1e10, 1e10)
    reference[1, 0] = (1e10, 0.0)
    flow = np.zeros_like(reference)
    flow[0, 0] = (3.0, 4.0)
    flow[0, 1] = (100.0, 100.0)
    np.testing.assert_array_equal(known_flow_mask(reference), [[True, False], [False, True]])
    assert endpoint_error(flow, reference) == pytest.approx(2.5)
    assert endpoint_error(reference, reference) == 0.0


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_honour_the_umask(tmp_path, umask: int) -> None:
    from flowpipe.train.checkpoint import save_checkpoint

    old = os.umask(umask)
    try:
        write_flo(tmp_path / "a.flo", np.zeros((2, 3, 2), np.float32))
        save_checkpoint(tmp_path / "last.pt", {"epoch": 1})
    finally:
        os.umask(old)
    for name in ("a.flo", "last.pt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask
