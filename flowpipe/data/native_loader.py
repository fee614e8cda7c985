"""Native loops of the flow-stack loader (`loader_kernels.c`), built once per machine.

- `decode_boxes`: a stack's gray JPEG planes decoded by libjpeg(-turbo) straight into a box
  of the frame: rows above it skipped, columns cropped, rows below never decoded, and one
  decompressor for the whole stack, without cv2.imdecode's per-call overhead (the figures:
  docs/benchmarks.md, loader).
- `box_values`: each plane's box read once, mirrored when asked, dequantised (x negated when
  mirrored) and, like every plane the loops write, its mean subtracted while it is still in
  cache (a flip, a LUT and a mean per plane in numpy/torch cost more in call overhead and
  memory passes than the arithmetic).
- `trajectory_chain`: a chain of fields followed from a grid of points in one call: each step
  decodes only the box its points visit, samples the field's x and y codes with one address
  and one pair of weights per point (the two planes interleaved), dequantises (affine, so it
  commutes with interpolation), moves the points and keeps their bounding box; eight points
  at a time with AVX2 gathers where the compiler targets them, one at a time otherwise.

`library()` is None without a C compiler or libjpeg's header; `stacking` and `planes` then
use OpenCV for the same values.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Sequence
from importlib import resources

import numpy as np

from flowpipe.data.transforms import Box
from flowpipe.native import build
from flowpipe.storage.codec import CodecError, check_jpeg_bytes

_I64 = ctypes.c_int64
_I32 = ctypes.c_int32
_PTR = ctypes.c_void_p
_F32 = ctypes.c_float
_SIGNATURES = {
    "box_values": [_PTR, _I64, _I64, _I64, _I64, _I32, _F32, _I32, _PTR],
    "decode_boxes": [_I64, _PTR, _PTR, *[_I64] * 6, _PTR, _PTR, ctypes.c_char_p],
    "trajectory_chain": [
        _I64,
        _PTR,
        _PTR,
        _PTR,
        _I64,
        _I64,
        _F32,
        _F32,
        _PTR,
        _PTR,
        _I64,
        _PTR,
        _I32,
        _PTR,
        ctypes.c_char_p,
    ],
}


@functools.cache
def library() -> ctypes.CDLL | None:
    """The compiled loops (built once per machine); None without a compiler or libjpeg."""
    source = resources.files("flowpipe.data").joinpath("loader_kernels.c").read_text()
    lib = build(
        "loader",
        source,
        libraries=("jpeg",),
        fallback="the loaders decode with OpenCV (simple stacks 2.87x the PIL reference "
        "instead of 3.97x, docs/benchmarks.md)",
    )
    if lib is not None:
        for name, argtypes in _SIGNATURES.items():
            getattr(lib, name).argtypes = argtypes
        lib.box_values.restype = None
        lib.decode_boxes.restype = _I64
        lib.trajectory_chain.restype = _I64
    return lib


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


def _pointers(arrays: Sequence[np.ndarray]) -> ctypes.Array:
    return (_PTR * len(arrays))(*(a.ctypes.data for a in arrays))


class _Failure:
    """Where the C loops report a decoding failure."""

    def __init__(self) -> None:
        self.kind, self.message = _I32(0), ctypes.create_string_buffer(200)

    def check(self, failed: int, names: Sequence[str]) -> None:
        """CodecError naming the file when the call returned a failure (index >= 0)."""
        if failed >= 0:
            reason = self.message.value.decode(errors="replace")
            what = "corrupt JPEG data" if self.kind.value == 1 else "unexpected image"
            raise CodecError(f"{names[failed]}: {what} ({reason})")


def _jpeg_args(datas: Sequence[bytes], names: Sequence[str]) -> tuple[ctypes.Array, np.ndarray]:
    """The C arguments of JPEG byte strings (each checked to be whole first)."""
    for data, name in zip(datas, names, strict=True):
        check_jpeg_bytes(data, name)
    return (ctypes.c_char_p * len(datas))(*datas), np.array([len(d) for d in datas], np.int64)


def box_values(codes: np.ndarray, flip: bool, bound: float, centre: bool, out: np.ndarray) -> None:
    """out[k, c] = the dequantised square uint8 planes codes [n, 2, S, S] (a view with unit
    column stride, e.g. a box of whole planes), mirrored and x negated if flip, each plane's
    mean subtracted if centre."""
    n, _, size, _ = codes.shape
    plane, row, column = codes.strides[1:]
    if column != 1 or codes.strides[0] != 2 * plane:
        raise ValueError("box_values needs planes with unit column stride, x and y alternating")
    library().box_values(
        _ptr(codes), 2 * n, plane, row, size, int(flip), bound, int(centre), _ptr(out)
    )


def decode_boxes(
    datas: Sequence[bytes], names: Sequence[str], frame: tuple[int, int], box: Box
) -> np.ndarray:
    """uint8 [n, bh, bw]: the (x0, y0, bw, bh) box of gray JPEGs of frame (h, w); CodecError
    naming the file that fails."""
    x0, y0, bw, bh = box
    out = np.empty((len(datas), bh, bw), np.uint8)
    pointers, sizes = _jpeg_args(datas, names)
    failure = _Failure()
    failure.check(
        library().decode_boxes(
            len(datas),
            pointers,
            _ptr(sizes),
            *frame,
            x0,
            y0,
            bw,
            bh,
            _ptr(out),
            ctypes.byref(failure.kind),
            failure.message,
        ),
        names,
    )
    return out


def trajectory_chain(
    planes: Sequence[bytes] | Sequence[np.ndarray],
    names: Sequence[str],
    frame: tuple[int, int],
    affine: tuple[float, float],
    points: tuple[np.ndarray, np.ndarray],
    outs: Sequence[np.ndarray],
    centre: bool,
) -> None:
    """Follow a chain of fields (planes: x, y of each in chain order, as JPEG bytes or decoded
    uint8 frames) from points (float32 px, py, inside the frame, moved in place); outs[2s],
    outs[2s + 1] (float32, contiguous) get step s's x and y values (codes mapped by the
    affine (scale, offset)), each plane's mean subtracted if centre."""
    px, py = points
    failure = _Failure()
    if isinstance(planes[0], bytes):
        pointers, sizes = _jpeg_args(planes, names)
        sources = (pointers, _ptr(sizes), None)
    else:
        sources = (None, None, _pointers(planes))
    failed = library().trajectory_chain(
        len(outs) // 2,
        *sources,
        *frame,
        *affine,
        _ptr(px),
        _ptr(py),
        px.size,
        _pointers(outs),
        int(centre),
        ctypes.byref(failure.kind),
        failure.message,
    )
    failure.check(failed, names)
