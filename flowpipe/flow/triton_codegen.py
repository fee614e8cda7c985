"""Triton source of the TV-L1 kernels, generated once per shape of the work and imported.

Two kernels are generated rather than written by hand because their bodies are long,
regular, straight-line code:

- `iteration`, `steps` fused primal-dual iterations per launch. Each program computes its
  block's pixels after `steps` iterations from the state before them: the values its
  neighbours would compute in between (the halo) are recomputed from the old state, which
  the caches hold, so a launch reads the state once and writes it once, whatever `steps` is.
  The set of neighbour positions each intermediate value is needed at is derived here from
  the stencils (primal: px left, py up; dual: u right, u down).
- `median`, the ksize x ksize replicated-border median by the same pruned sorting network as
  the torch and C paths, in registers.
- `resident`, a whole warp of one pair in one program (small pyramid levels): median, then
  primal and dual half-steps over the pair's tiles, in place with a barrier between them,
  and OpenCV's stopping rule checked by the program itself: one launch per warp, no host.

In `iteration` and `median` state is read from one buffer set and written to the other (no
program reads what another writes in the same launch). See `triton_backend` for the flag
protocol those kernels share.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import tempfile
from types import ModuleType

from flowpipe.flow.ops import median_network_code
from flowpipe.native import cache_dir

Offset = tuple[int, int]
RIGHT, DOWN = (1, 0), (0, 1)
ORIGIN = (0, 0)
# The warp's constants, float32 or float16 (triton_warp.HALF_CONSTANTS): computed in float32.
CONSTANT_POINTERS = ("g_ptr", "rho_ptr", "inv_ptr")

_HEAD = '''import triton
import triton.language as tl

# Sizes change with every pyramid level: one compiled kernel for all of them.
NOT_SPECIALIZED = ["home", "row_stride", "height", "width"]


@triton.jit
def _pair_block(pairs_ptr, prev_ptr, row_stride, threshold, hw, BLOCK: tl.constexpr,
                ROWS: tl.constexpr):
    """This program's pair, pixel offsets and mask: in the frame, and the pair still going
    (every change row of its previous launch above the threshold)."""
    pair = tl.load(pairs_ptr + tl.program_id(1)).to(tl.int64)
    going = tl.load(prev_ptr + pair) > threshold
    for row in tl.static_range(1, ROWS):
        going = going & (tl.load(prev_ptr + row * row_stride + pair) > threshold)
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    return pair, going, offs, offs < tl.where(going, hw, 0)
'''


def _shift(a: Offset, b: Offset, sign: int = 1) -> Offset:
    return (a[0] + sign * b[0], a[1] + sign * b[1])


def _key(pos: Offset) -> str:
    return "_".join(f"m{-v}" if v < 0 else str(v) for v in pos)


def halo_sets(steps: int) -> tuple[list[set[Offset]], list[set[Offset]]]:
    """Positions (dx, dy) where the flow u_t and the duals p_t of iteration t are needed for
    the block's output after `steps` iterations; index 0 is the state loaded from memory."""
    need_u: list[set[Offset]] = [set() for _ in range(steps + 1)]
    need_p: list[set[Offset]] = [set() for _ in range(steps + 1)]
    need_u[steps].add(ORIGIN)
    need_p[steps].add(ORIGIN)
    for t in range(steps, 0, -1):
        for r in need_p[t]:  # dual: u_t at r, right, down; p_{t-1} at r
            need_u[t] |= {r, _shift(r, RIGHT), _shift(r, DOWN)}
            need_p[t - 1].add(r)
        for q in need_u[t]:  # primal: u_{t-1} at q; px left of q, py above q
            need_u[t - 1].add(q)
            need_p[t - 1] |= {q, _shift(q, RIGHT, -1), _shift(q, DOWN, -1)}
    return need_u, need_p


def _inside(pos: Offset) -> str:
    """The condition that position (x+dx, y+dy) lies in the frame."""
    dx, dy = pos
    terms = ["mask"]
    if dx < 0:
        terms.append(f"(x >= {-dx})")
    if dx > 0:
        terms.append(f"(x < width - {dx})")
    if dy < 0:
        terms.append(f"(y >= {-dy})")
    if dy > 0:
        terms.append(f"(y < height - {dy})")
    return " & ".join(terms)


def _loads(need_u: set[Offset], need_p: set[Offset], consts: set[Offset]) -> list[str]:
    lines = []
    for pos in sorted(need_u | need_p | consts):
        k = _key(pos)
        lines += [f"in_{k} = {_inside(pos)}", f"at_{k} = offs + ({pos[0]} + {pos[1]} * width)"]
        fields = []
        if pos in need_u:
            fields += [("u0a", "su", "flow"), ("u0b", "su", "flow + hw")]
        if pos in need_p:
            fields += [(f"p{n}0{c}", f"sp{n}", f"flow{h}") for n in ("x", "y")
                       for c, h in (("a", ""), ("b", " + hw"))]  # fmt: skip
        if pos in consts:
            fields += [("ga", "g_ptr", "flow"), ("gb", "g_ptr", "flow + hw"),
                       ("rho", "rho_ptr", "plane"), ("inv", "inv_ptr", "plane")]  # fmt: skip
        lines += [
            f"{name}_{k} = tl.load({ptr} + {base} + at_{k}, mask=in_{k}, other=0.0)"
            + (".to(tl.float32)" if ptr in CONSTANT_POINTERS else "")
            for name, ptr, base in fields
        ]
    return lines


def _primal(t: int, q: Offset) -> list[str]:
    k, left, up = _key(q), _key(_shift(q, RIGHT, -1)), _key(_shift(q, DOWN, -1))
    s = t - 1
    lines = [
        f"r_{k} = rho_{k} + ga_{k} * u{s}a_{k} + gb_{k} * u{s}b_{k}",
        f"st_{k} = tl.minimum(tl.maximum(-r_{k} * inv_{k}, -l_t), l_t)",
    ]
    for c in "ab":
        div = (
            f"(px{s}{c}_{k} - tl.where(x > {-q[0]}, px{s}{c}_{left}, 0.0))"
            f" + (py{s}{c}_{k} - tl.where(y > {-q[1]}, py{s}{c}_{up}, 0.0))"
        )
        lines.append(f"u{t}{c}_{k} = u{s}{c}_{k} + st_{k} * g{c}_{k} + theta * ({div})")
    return lines


def _dual(t: int, r: Offset) -> list[str]:
    k, right, down = _key(r), _key(_shift(r, RIGHT)), _key(_shift(r, DOWN))
    lines = []
    for c in "ab":
        lines += [
            f"dx_{c} = tl.where(x < width - {1 + r[0]}, u{t}{c}_{right} - u{t}{c}_{k}, 0.0)",
            f"dy_{c} = tl.where(y < height - {1 + r[1]}, u{t}{c}_{down} - u{t}{c}_{k}, 0.0)",
            f"nm_{c} = 1.0 / (1.0 + taut * tl.sqrt(dx_{c} * dx_{c} + dy_{c} * dy_{c}))",
            f"px{t}{c}_{k} = (px{t - 1}{c}_{k} + taut * dx_{c}) * nm_{c}",
            f"py{t}{c}_{k} = (py{t - 1}{c}_{k} + taut * dy_{c}) * nm_{c}",
        ]
    return lines


def iteration_source(steps: int, rows: int) -> str:
    """Source of `iteration`: `steps` fused iterations; `rows` change rows per launch."""
    need_u, need_p = halo_sets(steps)
    consts = set().union(*need_u[1:])
    body = _loads(need_u[0], need_p[0], consts)
    o = _key(ORIGIN)
    for t in range(1, steps + 1):
        for q in sorted(need_u[t]):
            body += _primal(t, q)
        for r in sorted(need_p[t]):
            body += _dual(t, r)
        body += [
            f"d = tl.where(mask, (u{t}a_{o} - u{t - 1}a_{o}) * (u{t}a_{o} - u{t - 1}a_{o})"
            f" + (u{t}b_{o} - u{t - 1}b_{o}) * (u{t}b_{o} - u{t - 1}b_{o}), 0.0)",
            f"tl.atomic_add(cur_ptr + {t - 1} * row_stride + pair, tl.sum(d, axis=0), mask=any_px)",
        ]
    body += [
        f"tl.store(d{name} + flow{h} + offs, {name}{steps}{c}_{o}, mask=mask)"
        for name in ("u", "px", "py")
        for c, h in (("a", ""), ("b", " + hw"))
    ]
    indent = "\n        "
    return f'''{_HEAD}

@triton.jit(do_not_specialize=NOT_SPECIALIZED)
def iteration(su, spx, spy, du, dpx, dpy, g_ptr, rho_ptr, inv_ptr, pairs_ptr, prev_ptr,
              cur_ptr, next_ptr, home_ptr, home, row_stride, threshold, height, width, l_t,
              theta, taut, BLOCK: tl.constexpr):
    """{steps} TV-L1 iteration(s) of BLOCK pixels of one pair, from (su, spx, spy) into
    (du, dpx, dpy); the squared flow change of each iteration summed into cur rows."""
    hw = height * width
    pair, going, offs, mask = _pair_block(pairs_ptr, prev_ptr, row_stride, threshold, hw, BLOCK,
                                          {rows})
    first = tl.program_id(0) == 0
    for row in tl.static_range({rows}):
        tl.store(next_ptr + row * row_stride + pair, 0.0, mask=first)
    for row in tl.static_range({steps}, {rows}):
        tl.store(cur_ptr + row * row_stride + pair, 1.0e30, mask=first)
    tl.store(home_ptr + pair, home, mask=first & going)
    if going:  # a pair that converged costs its programs a flag read, not the stencil
        any_px = tl.sum(mask.to(tl.int32), axis=0) > 0
        x = offs % width
        y = offs // width
        flow = pair * 2 * hw
        plane = pair * hw
        {indent.join(body)}
'''


def _median_lines(ksize: int, src: str, dst: str) -> list[str]:
    """The ksize x ksize median of both flow channels at offs (x, y) of pair `flow`, from the
    src pointer into dst."""
    r = ksize // 2
    taps = [(dx, dy) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    lines = []
    for dy in range(-r, r + 1):
        lines.append(f"ry{_key((0, dy))} = tl.minimum(tl.maximum(y + {dy}, 0), height - 1) * width")
    for dx in range(-r, r + 1):
        lines.append(f"cx{_key((dx, 0))} = tl.minimum(tl.maximum(x + {dx}, 0), width - 1)")
    for h in ("", " + hw"):
        for n, (dx, dy) in enumerate(taps):
            at = f"ry{_key((0, dy))} + cx{_key((dx, 0))}"
            lines.append(f"v{n} = tl.load({src} + flow{h} + {at}, mask=mask, other=0.0)")
        lines += median_network_code(len(taps), "tl.minimum(v{a}, v{b})",
                                     "tl.maximum(v{a}, v{b})",
                                     "lo = {lo}; v{b} = {hi}; v{a} = lo")  # fmt: skip
        lines.append(f"tl.store({dst} + flow{h} + offs, v{len(taps) // 2}, mask=mask)")
    return lines


def median_source(ksize: int, rows: int) -> str:
    """Source of `median`: the flow's ksize x ksize median into the other buffer set, the
    duals copied along, for the pairs still going."""
    lines = _median_lines(ksize, "su", "du")
    for h in ("", " + hw"):
        for n in ("x", "y"):
            lines.append(
                f"tl.store(dp{n} + flow{h} + offs,"
                f" tl.load(sp{n} + flow{h} + offs, mask=mask), mask=mask)"
            )
    indent = "\n        "
    return f'''{_HEAD}

@triton.jit(do_not_specialize=NOT_SPECIALIZED)
def median(su, spx, spy, du, dpx, dpy, pairs_ptr, prev_ptr, home_ptr, home, row_stride,
           threshold, height, width, BLOCK: tl.constexpr):
    """The {ksize}x{ksize} median of BLOCK pixels of one pair's flow."""
    hw = height * width
    pair, going, offs, mask = _pair_block(pairs_ptr, prev_ptr, row_stride, threshold, hw, BLOCK,
                                          {rows})
    tl.store(home_ptr + pair, home, mask=(tl.program_id(0) == 0) & going)
    if going:
        x = offs % width
        y = offs // width
        flow = pair * 2 * hw
        {indent.join(lines)}
'''


_RESIDENT = '''import triton
import triton.language as tl


@triton.jit
def _tile(start, lanes, hw, width):
    offs = start + lanes
    return offs, offs < hw, offs % width, offs // width


@triton.jit
def _primal(u_ptr, px_ptr, py_ptr, g_ptr, rho_ptr, inv_ptr, flow, plane, offs, mask, x, y, hw,
            width, l_t, theta):
    """Thresholding and the primal update of a tile, in place on u; its squared change."""
    ga = tl.load(g_ptr + flow + offs, mask=mask, other=0.0).to(tl.float32)
    gb = tl.load(g_ptr + flow + hw + offs, mask=mask, other=0.0).to(tl.float32)
    ua = tl.load(u_ptr + flow + offs, mask=mask, other=0.0)
    ub = tl.load(u_ptr + flow + hw + offs, mask=mask, other=0.0)
    rho = tl.load(rho_ptr + plane + offs, mask=mask, other=0.0).to(tl.float32)
    rho += ga * ua + gb * ub
    inv = tl.load(inv_ptr + plane + offs, mask=mask, other=0.0).to(tl.float32)
    st = tl.minimum(tl.maximum(-rho * inv, -l_t), l_t)
    left = mask & (x > 0)
    up = mask & (y > 0)
    div_a = (tl.load(px_ptr + flow + offs, mask=mask, other=0.0)
             - tl.load(px_ptr + flow + offs - 1, mask=left, other=0.0)) + (
        tl.load(py_ptr + flow + offs, mask=mask, other=0.0)
        - tl.load(py_ptr + flow + offs - width, mask=up, other=0.0))
    div_b = (tl.load(px_ptr + flow + hw + offs, mask=mask, other=0.0)
             - tl.load(px_ptr + flow + hw + offs - 1, mask=left, other=0.0)) + (
        tl.load(py_ptr + flow + hw + offs, mask=mask, other=0.0)
        - tl.load(py_ptr + flow + hw + offs - width, mask=up, other=0.0))
    na = ua + st * ga + theta * div_a
    nb = ub + st * gb + theta * div_b
    tl.store(u_ptr + flow + offs, na, mask=mask)
    tl.store(u_ptr + flow + hw + offs, nb, mask=mask)
    return tl.where(mask, (na - ua) * (na - ua) + (nb - ub) * (nb - ub), 0.0)


@triton.jit
def _dual(u_ptr, p_ptr, q_ptr, base, offs, mask, x, y, height, width, taut):
    """Chambolle's dual update of one flow channel's tile, in place on (p, q)."""
    u = tl.load(u_ptr + base + offs, mask=mask, other=0.0)
    right = tl.load(u_ptr + base + offs + 1, mask=mask & (x < width - 1), other=0.0)
    down = tl.load(u_ptr + base + offs + width, mask=mask & (y < height - 1), other=0.0)
    dx = tl.where(x < width - 1, right - u, 0.0)
    dy = tl.where(y < height - 1, down - u, 0.0)
    nm = 1.0 / (1.0 + taut * tl.sqrt(dx * dx + dy * dy))  # one division for both duals
    p = tl.load(p_ptr + base + offs, mask=mask, other=0.0)
    q = tl.load(q_ptr + base + offs, mask=mask, other=0.0)
    tl.store(p_ptr + base + offs, (p + taut * dx) * nm, mask=mask)
    tl.store(q_ptr + base + offs, (q + taut * dy) * nm, mask=mask)


@triton.jit(do_not_specialize=["height", "width", "outer", "inner"])
def resident(u_ptr, px_ptr, py_ptr, m_ptr, g_ptr, rho_ptr, inv_ptr, height, width, threshold,
             l_t, theta, taut, outer, inner, BLOCK: tl.constexpr):
    """One warp of pair program_id(0): outer loops of a median then inner iterations, until
    an iteration changes the flow by no more than threshold (squared, summed)."""
    pair = tl.program_id(0).to(tl.int64)
    hw = height * width
    flow = pair * 2 * hw
    plane = pair * hw
    lanes = tl.arange(0, BLOCK)
    change = threshold + 1.0
    n_outer = 0
    while (n_outer < outer) & (change > threshold):
        {median}
        n_inner = 0
        while (n_inner < inner) & (change > threshold):
            total = tl.zeros([BLOCK], dtype=tl.float32)
            for start in range(0, hw, BLOCK):
                offs, mask, x, y = _tile(start, lanes, hw, width)
                total += _primal(u_ptr, px_ptr, py_ptr, g_ptr, rho_ptr, inv_ptr, flow, plane,
                                 offs, mask, x, y, hw, width, l_t, theta)
            tl.debug_barrier()
            for start in range(0, hw, BLOCK):
                offs, mask, x, y = _tile(start, lanes, hw, width)
                _dual(u_ptr, px_ptr, py_ptr, flow, offs, mask, x, y, height, width, taut)
                _dual(u_ptr, px_ptr, py_ptr, flow + hw, offs, mask, x, y, height, width, taut)
            tl.debug_barrier()
            change = tl.sum(total, axis=0)
            n_inner += 1
        n_outer += 1
'''

_RESIDENT_MEDIAN = """for start in range(0, hw, BLOCK):
    offs, mask, x, y = _tile(start, lanes, hw, width)
    {lines}
tl.debug_barrier()
for start in range(0, 2 * hw, BLOCK):
    offs, mask, x, y = _tile(start, lanes, 2 * hw, width)
    tl.store(u_ptr + flow + offs, tl.load(m_ptr + flow + offs, mask=mask), mask=mask)
tl.debug_barrier()"""


def resident_source(ksize: int) -> str:
    """Source of `resident`, with a ksize x ksize median (none when ksize < 2) into the
    scratch m_ptr, copied back."""
    if ksize < 2:
        return _RESIDENT.replace("{median}", "pass")
    lines = _median_lines(ksize, "u_ptr", "m_ptr")
    median = _RESIDENT_MEDIAN.replace("{lines}", "\n    ".join(lines))
    return _RESIDENT.replace("{median}", median.replace("\n", "\n" + " " * 8))


@functools.cache
def iteration_kernel(steps: int, rows: int):  # noqa: ANN201 (a triton JITFunction)
    """The `iteration` kernel for `steps` fused iterations, built once per process."""
    return _import(f"tvl1_iteration{steps}x{rows}", iteration_source(steps, rows)).iteration


@functools.cache
def median_kernel(ksize: int, rows: int):  # noqa: ANN201 (a triton JITFunction)
    """The `median` kernel for a ksize x ksize window, built once per process."""
    return _import(f"tvl1_median{ksize}x{rows}", median_source(ksize, rows)).median


@functools.cache
def resident_kernel(ksize: int):  # noqa: ANN201 (a triton JITFunction)
    """The `resident` kernel with a ksize x ksize median, built once per process."""
    return _import(f"tvl1_resident{ksize}", resident_source(ksize)).resident


def _import(name: str, source: str) -> ModuleType:
    """Import generated source from a file in the cache (Triton reads kernels' source)."""
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    path = cache_dir() / "triton" / f"{name}_{key}.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
            f.write(source)
        os.replace(f.name, path)
    spec = importlib.util.spec_from_file_location(f"flowpipe_generated.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
