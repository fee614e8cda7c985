"""The Triton path's solver step: one kernel launch advances every pair of a pool by one step.

A program works on BLOCK pixels of one pair (a tile; the host's tile table lists the tiles of
the pairs in flight). Each pair is at its own point of the solver's path (`solver.py`): the
program reads the step its pair took in the previous launch and, after an iteration, that
iteration's change, decides the pair's step in this one (`next_step`, the rules of
`solver.Cursor`), and takes it:

- LEVEL: start a level: u = the coarser level's flow upsampled (`level_flow`), or 0 for a
  pair entering the pool; duals 0; the first warp's constants (`triton_warp.warp_consts_at`);
- WARP: the next warp's constants, and the median of its first outer loop (both read the
  same u);
- MEDIAN: the median at the start of an outer loop (`triton_median`);
- ITERATE: one primal-dual iteration (`iterate_tile`), its squared change summed into the
  pair's change row;
- IDLE: nothing (the pair finished its level's last warp; the host moves it on).

A launch reads each pair's state from one of its two buffer sets and writes the other (no
program reads what another writes). Every step but IDLE writes, so while a pair steps its
latest state alternates between the sets with the launches: the tile table gives the pair's
parity, set by the host when it starts the pair's level, and its record's `home` says which set
holds it once it idles. The per-pair records (step, iterations, warp, home) are double-buffered
the same way, written by the pair's first program, and so are the change rows (a ring of three:
previous, current, next). The host looks at the records every `check_every` launches
(`triton_engine`); `hand_back` copies the flows of pairs that finished to their callers'
tensors.
"""

from __future__ import annotations

import triton
import triton.language as tl

from flowpipe.flow.triton_median import medians
from flowpipe.flow.triton_warp import warp_consts_at

# A pair's step in a launch; ENTER and ADVANCE are the host's requests to start a level (the
# first, from zero flow; the next, from the coarser level's flow). `triton_engine.Step` holds
# the same numbers for the host.
IDLE = tl.constexpr(0)
LEVEL = tl.constexpr(1)
WARP = tl.constexpr(2)
MEDIAN = tl.constexpr(3)
ITERATE = tl.constexpr(4)
ENTER = tl.constexpr(5)
ADVANCE = tl.constexpr(6)

median3 = medians().median3
median5 = medians().median5
NOT_SPECIALIZED = ["slots", "plane", "row", "max_iterations", "inner", "warps", "launch_parity"]
# Pixels a level's or a warp's start works on at a time in `step` (its registers per pixel
# are the bicubic sampling's): 128 keeps the kernel at its iteration's registers at the
# default block (docs/engine.md, "Registers").
START_PIXELS = 128


def step_constexprs(block: int, ksize: int, cubic: bool) -> dict[str, object]:
    """`step`'s compile-time arguments for tiles of `block` pixels, a median of `ksize`
    (0: none) and a bicubic (else bilinear) warp."""
    start = min(block, START_PIXELS)
    return {"BLOCK": block, "KSIZE": ksize, "CUBIC": cubic, "START_BLOCK": start}


@triton.jit
def _field(ptr, at, plane, inside):
    """Both channels (planes ptr and ptr + plane) at offsets `at`, 0 outside `inside`."""
    a = tl.load(ptr + at, mask=inside, other=0.0)
    b = tl.load(ptr + plane + at, mask=inside, other=0.0)
    return a, b


@triton.jit
def _data_step(con, plane, at, inside, u_a, u_b, l_t):
    """Wedel's thresholding at offsets `at`: the step of u along the warped gradient g, from
    the residual rho + g . u and 1 / |g|^2, clamped to +-l_t; per flow channel. con holds
    the planes g_a, g_b, rho, inv."""
    g_a, g_b = _field(con, at, plane, inside)
    rho = tl.load(con + 2 * plane + at, mask=inside, other=0.0)
    inv = tl.load(con + 3 * plane + at, mask=inside, other=0.0)
    r = rho + g_a * u_a + g_b * u_b
    st = tl.minimum(tl.maximum(-r * inv, -l_t), l_t)
    return st * g_a, st * g_b


@triton.jit
def _primal(u, step, px, px_left, py, py_up, theta):
    """One flow channel after the primal step: the data step plus theta times the duals'
    divergence (backward differences; px_left / py_up are 0 at the left / top border)."""
    return u + step + theta * ((px - px_left) + (py - py_up))


@triton.jit
def _dual(u, u_right, u_down, px, py, x, y, height, width, taut):
    """Chambolle's dual step of one flow channel, from the new u here and at the right and
    lower neighbours (forward differences, 0 on the last column / row)."""
    dx = tl.where(x < width - 1, u_right - u, 0.0)
    dy = tl.where(y < height - 1, u_down - u, 0.0)
    nm = 1.0 / (1.0 + taut * tl.sqrt(dx * dx + dy * dy))  # one division for both duals
    return (px + taut * dx) * nm, (py + taut * dy) * nm


@triton.jit
def read_stencil(src, con, plane, offs, mask, x, y, height, width, l_t):
    """What one TV-L1 iteration at pixels `offs` of one pair reads from its state planes src
    (u_a, u_b, px_a, px_b, py_a, py_b, `plane` apart) and the warp's constants con: the flow
    here, at the right neighbour (r) and at the lower one (d); the duals their divergences
    read (left of each, l, and above each, u); and the data term's step at the three
    positions (`_data_step`). Returns them as tuples for `iterate_tile`: (flow, duals here and
    left / above, duals at r, duals at d, steps).

    The dual step at a pixel needs the new u of its right and lower neighbours, which the
    program recomputes from the old state (the primal step at three positions) rather than
    waiting for them."""
    right = mask & (x < width - 1)
    down = mask & (y < height - 1)
    su, spx, spy = src, src + 2 * plane, src + 4 * plane
    u_a, u_b = _field(su, offs, plane, mask)
    ur_a, ur_b = _field(su, offs + 1, plane, right)
    ud_a, ud_b = _field(su, offs + width, plane, down)
    px_a, px_b = _field(spx, offs, plane, mask)
    py_a, py_b = _field(spy, offs, plane, mask)
    pxl_a, pxl_b = _field(spx, offs - 1, plane, mask & (x > 0))
    pyu_a, pyu_b = _field(spy, offs - width, plane, mask & (y > 0))
    pxr_a, pxr_b = _field(spx, offs + 1, plane, right)
    pyr_a, pyr_b = _field(spy, offs + 1, plane, right)
    pyru_a, pyru_b = _field(spy, offs + 1 - width, plane, right & (y > 0))
    pxd_a, pxd_b = _field(spx, offs + width, plane, down)
    pyd_a, pyd_b = _field(spy, offs + width, plane, down)
    pxdl_a, pxdl_b = _field(spx, offs + width - 1, plane, down & (x > 0))
    s_a, s_b = _data_step(con, plane, offs, mask, u_a, u_b, l_t)
    sr_a, sr_b = _data_step(con, plane, offs + 1, right, ur_a, ur_b, l_t)
    sd_a, sd_b = _data_step(con, plane, offs + width, down, ud_a, ud_b, l_t)
    flow = (u_a, u_b, ur_a, ur_b, ud_a, ud_b)
    duals = (px_a, px_b, py_a, py_b, pxl_a, pxl_b, pyu_a, pyu_b)
    duals_r = (pxr_a, pxr_b, pyr_a, pyr_b, pyru_a, pyru_b)
    duals_d = (pxd_a, pxd_b, pyd_a, pyd_b, pxdl_a, pxdl_b)
    return flow, duals, duals_r, duals_d, (s_a, s_b, sr_a, sr_b, sd_a, sd_b)


@triton.jit
def iterate_tile(stencil, dst, plane, offs, mask, x, y, height, width, theta, taut):
    """One TV-L1 iteration at pixels `offs` of one pair from what `read_stencil` read, into
    the state planes dst; returns each pixel's squared change of u (0 outside `mask`)."""
    flow, duals, duals_r, duals_d, steps = stencil
    u_a, u_b, ur_a, ur_b, ud_a, ud_b = flow
    px_a, px_b, py_a, py_b, pxl_a, pxl_b, pyu_a, pyu_b = duals
    pxr_a, pxr_b, pyr_a, pyr_b, pyru_a, pyru_b = duals_r
    pxd_a, pxd_b, pyd_a, pyd_b, pxdl_a, pxdl_b = duals_d
    s_a, s_b, sr_a, sr_b, sd_a, sd_b = steps
    # The primal step at the three positions.
    n_a = _primal(u_a, s_a, px_a, pxl_a, py_a, pyu_a, theta)
    n_b = _primal(u_b, s_b, px_b, pxl_b, py_b, pyu_b, theta)
    nr_a = _primal(ur_a, sr_a, pxr_a, px_a, pyr_a, pyru_a, theta)
    nr_b = _primal(ur_b, sr_b, pxr_b, px_b, pyr_b, pyru_b, theta)
    nd_a = _primal(ud_a, sd_a, pxd_a, pxdl_a, pyd_a, py_a, theta)
    nd_b = _primal(ud_b, sd_b, pxd_b, pxdl_b, pyd_b, py_b, theta)
    # The dual step here, then the new state.
    qx_a, qy_a = _dual(n_a, nr_a, nd_a, px_a, py_a, x, y, height, width, taut)
    qx_b, qy_b = _dual(n_b, nr_b, nd_b, px_b, py_b, x, y, height, width, taut)
    tl.store(dst + offs, n_a, mask=mask)
    tl.store(dst + plane + offs, n_b, mask=mask)
    tl.store(dst + 2 * plane + offs, qx_a, mask=mask)
    tl.store(dst + 3 * plane + offs, qx_b, mask=mask)
    tl.store(dst + 4 * plane + offs, qy_a, mask=mask)
    tl.store(dst + 5 * plane + offs, qy_b, mask=mask)
    return tl.where(mask, (n_a - u_a) * (n_a - u_a) + (n_b - u_b) * (n_b - u_b), 0.0)


@triton.jit
def median_tile(src, dst, plane, offs, mask, x, y, height, width, KSIZE: tl.constexpr):
    """The flow's KSIZE x KSIZE median at pixels `offs`, from src into dst, the duals copied."""
    for c in tl.static_range(2):
        if KSIZE == 5:
            m = median5(src + c * plane, x, y, mask, height, width)
        else:
            m = median3(src + c * plane, x, y, mask, height, width)
        tl.store(dst + c * plane + offs, m, mask=mask)
    copy_planes(src, dst, plane, offs, mask, 2)


@triton.jit
def copy_planes(src, dst, plane, offs, mask, FIRST: tl.constexpr):
    """State planes FIRST to 5 at pixels `offs`, from src into dst."""
    for c in tl.static_range(FIRST, 6):
        at = c * plane + offs
        tl.store(dst + at, tl.load(src + at, mask=mask), mask=mask)


@triton.jit
def level_flow(coarse, plane, ch, cw, x, y, mask, step_y, step_x, scale_step):
    """The coarser level's flow (planes coarse, coarse + plane; ch x cw) at pixels (x, y) of
    the next level, as `solver.level_flow`: OpenCV's mapping (positions in float64), linear
    along y then x, divided by scale_step."""
    fy_pos = tl.minimum(tl.maximum((y.to(tl.float64) + 0.5) * step_y - 0.5, 0.0), ch - 1.0)
    fx_pos = tl.minimum(tl.maximum((x.to(tl.float64) + 0.5) * step_x - 0.5, 0.0), cw - 1.0)
    y0 = tl.minimum(tl.floor(fy_pos).to(tl.int32), ch - 1)
    x0 = tl.minimum(tl.floor(fx_pos).to(tl.int32), cw - 1)
    y1 = tl.minimum(y0 + 1, ch - 1)
    x1 = tl.minimum(x0 + 1, cw - 1)
    fy = (fy_pos - y0).to(tl.float32)
    fx = (fx_pos - x0).to(tl.float32)
    u_a = _bilinear(coarse, y0, y1, x0, x1, cw, fy, fx, mask)
    u_b = _bilinear(coarse + plane, y0, y1, x0, x1, cw, fy, fx, mask)
    return u_a / scale_step, u_b / scale_step


@triton.jit
def _bilinear(ptr, y0, y1, x0, x1, cw, fy, fx, mask):
    """Linear along y at columns x0 and x1, then along x (resize_linear's order)."""
    a0 = tl.load(ptr + y0 * cw + x0, mask=mask, other=0.0)
    b0 = tl.load(ptr + y1 * cw + x0, mask=mask, other=0.0)
    a1 = tl.load(ptr + y0 * cw + x1, mask=mask, other=0.0)
    b1 = tl.load(ptr + y1 * cw + x1, mask=mask, other=0.0)
    t0 = a0 + (b0 - a0) * fy
    t1 = a1 + (b1 - a1) * fy
    return t0 + (t1 - t0) * fx


@triton.jit
def next_step(kind, iterations, warp, change, threshold, max_iterations, inner, warps, KSIZE):
    """The step a pair takes in this launch, from the one it took in the last (`kind`, after
    which it had done `iterations` iterations of warp `warp`, and `change` that iteration's
    change): the rules of `solver.Cursor`. Returns (step, iterations, warp) after it."""
    start = (kind == ENTER) | (kind == ADVANCE)
    ended = (change <= threshold) | (iterations >= max_iterations)
    last_warp = warp + 1 >= warps
    if KSIZE > 1:
        resume = tl.where(iterations % inner == 0, MEDIAN, ITERATE)  # an outer loop starts
        first = MEDIAN
    else:
        resume = ITERATE
        first = ITERATE
    step = tl.where(kind == ITERATE, tl.where(ended, tl.where(last_warp, IDLE, WARP), resume), IDLE)
    step = tl.where((kind == WARP) | (kind == MEDIAN), ITERATE, step)
    step = tl.where(kind == LEVEL, first, step)
    step = tl.where(start, LEVEL, step)
    warp = tl.where(start, 0, tl.where(step == WARP, warp + 1, warp))
    iterations = tl.where(start | (step == WARP), 0, iterations)
    return step, iterations + (step == ITERATE).to(tl.int32), warp


@triton.jit(do_not_specialize=NOT_SPECIALIZED)
def step(
    state,
    consts,
    pyramid,
    meta,
    thresholds,
    scales,
    prev_steps,
    next_steps,
    prev_row,
    cur_row,
    next_row,
    history,
    tiles,
    slots,
    plane,
    row,
    l_t,
    theta,
    taut,
    eps,
    subpixel,
    scale_step,
    max_iterations,
    inner,
    warps,
    launch_parity,
    BLOCK: tl.constexpr,
    KSIZE: tl.constexpr,
    CUBIC: tl.constexpr,
    START_BLOCK: tl.constexpr,
):
    """One step of the pair of tile program_id(0) at BLOCK of its pixels: tiles rows (slot,
    2 x tile + the pair's parity, height, width) at the pairs' level sizes; the pair's state
    is in set (launch_parity + its parity) % 2 if it steps. Per slot: state [2 sets, slots, 6,
    plane], consts [slots, 4, plane] (g_a, g_b, rho, inv), pyramid rows of `row` floats (per
    level I0, I1, dI1/dx, dI1/dy), meta (h, w, the level's offset in the pyramid row, the
    coarser level's h and w), thresholds, scales (float64 steps of the upsampling along y and
    x), step records (step, iterations, warp, home) read from prev_steps and written to
    next_steps, change rows, history (the step, for the host's figures). A start takes
    START_BLOCK of the tile's pixels at a time (`step_constexprs`)."""
    entry = tiles + 4 * tl.program_id(0)
    slot = tl.load(entry).to(tl.int64)
    code = tl.load(entry + 1)
    height = tl.load(entry + 2)
    width = tl.load(entry + 3)
    tile = code // 2
    hw = height * width
    offs = tile * BLOCK + tl.arange(0, BLOCK)
    mask = offs < hw
    x = offs % width
    y = offs // width
    # Every step but IDLE writes the pair's other set, so a stepping pair's latest state is in
    # the set of the launch's parity and its own (the tile table's): the state is read, for
    # an iteration, beside the pair's record rather than after it (one round of dependent
    # loads fewer); other steps (about a tenth of them) do not use what it read.
    home = (launch_parity + code % 2) % 2
    src = state + (home.to(tl.int64) * slots + slot) * 6 * plane
    dst = state + ((1 - home).to(tl.int64) * slots + slot) * 6 * plane
    con = consts + slot * 4 * plane
    kind = tl.load(prev_steps + 4 * slot)
    done = tl.load(prev_steps + 4 * slot + 1)
    warp = tl.load(prev_steps + 4 * slot + 2)
    recorded_home = tl.load(prev_steps + 4 * slot + 3)
    threshold = tl.load(thresholds + slot)
    change = tl.load(prev_row + slot)
    stencil = read_stencil(src, con, plane, offs, mask, x, y, height, width, l_t)
    now, done, warp = next_step(
        kind, done, warp, change, threshold, max_iterations, inner, warps, KSIZE
    )
    first = tile == 0
    tl.store(next_steps + 4 * slot, now, mask=first)
    tl.store(next_steps + 4 * slot + 1, done, mask=first)
    tl.store(next_steps + 4 * slot + 2, warp, mask=first)
    tl.store(next_steps + 4 * slot + 3, tl.where(now == IDLE, recorded_home, 1 - home), mask=first)
    tl.store(next_row + slot, 0.0, mask=first)
    tl.store(history + slot, now, mask=first)
    if now == ITERATE:
        d = iterate_tile(stencil, dst, plane, offs, mask, x, y, height, width, theta, taut)
        any_px = tl.sum(mask.to(tl.int32), axis=0) > 0
        tl.atomic_add(cur_row + slot, tl.sum(d, axis=0), mask=any_px)
    elif now == MEDIAN:
        median_tile(src, dst, plane, offs, mask, x, y, height, width, KSIZE)
    elif now != IDLE:
        # A start samples the images around each pixel, which takes more registers per pixel
        # than an iteration: it works on START_BLOCK pixels of the tile at a time (a loop,
        # not unrolled), so that the kernel needs no more registers than its iteration.
        images = pyramid + slot * row + tl.load(meta + 5 * slot + 2)
        for part in range(0, BLOCK, START_BLOCK):
            start_tile(
                src,
                dst,
                con,
                images,
                plane,
                tile * BLOCK + part + tl.arange(0, START_BLOCK),
                meta + 5 * slot,
                scales + 2 * slot,
                kind == ADVANCE,
                now == WARP,
                eps,
                subpixel,
                scale_step,
                CUBIC,
            )
        if now == WARP:
            if KSIZE > 1:
                median_tile(src, dst, plane, offs, mask, x, y, height, width, KSIZE)
            else:
                copy_planes(src, dst, plane, offs, mask, 0)  # it writes the other set too


@triton.jit
def start_tile(
    src,
    dst,
    con,
    images,
    plane,
    offs,
    meta,
    scales,
    advance,
    warp,
    eps,
    subpixel,
    scale_step,
    CUBIC: tl.constexpr,
):
    """A start at pixels `offs` of one pair (its meta and scales rows): the flow it starts
    from, written to dst with zero duals if a level starts (the coarser level's, upsampled
    from src, if `advance`; else 0), or src's if a warp starts; then the warp's constants."""
    height = tl.load(meta)
    width = tl.load(meta + 1)
    hw = height * width
    mask = offs < hw
    x = offs % width
    y = offs // width
    if warp:
        u_a, u_b = _field(src, offs, plane, mask)
    else:
        if advance:
            ch = tl.load(meta + 3)
            cw = tl.load(meta + 4)
            step_y = tl.load(scales)
            step_x = tl.load(scales + 1)
            u_a, u_b = level_flow(src, plane, ch, cw, x, y, mask, step_y, step_x, scale_step)
        else:
            u_a = tl.zeros(offs.shape, dtype=tl.float32)
            u_b = tl.zeros(offs.shape, dtype=tl.float32)
        tl.store(dst + offs, u_a, mask=mask)
        tl.store(dst + plane + offs, u_b, mask=mask)
        for c in tl.static_range(2, 6):
            tl.store(dst + c * plane + offs, tl.zeros(offs.shape, dtype=tl.float32), mask=mask)
    warp_consts_at(
        images + hw,
        images,
        x.to(tl.float32),
        y.to(tl.float32),
        u_a,
        u_b,
        offs,
        mask,
        width,
        height,
        hw,
        eps,
        subpixel,
        con,
        0,
        plane,
        con + 2 * plane,
        con + 3 * plane,
        0,
        CUBIC,
    )


@triton.jit(do_not_specialize=["slots", "plane"])
def hand_back(state, table, slots, plane, BLOCK: tl.constexpr):
    """Finished pairs' flows out of the state arena, BLOCK pixels of pair program_id(1) per
    program: table rows (slot, home, address of a contiguous float32 [2,H,W] destination,
    H*W), int64."""
    row = table + 4 * tl.program_id(1)
    slot = tl.load(row)
    home = tl.load(row + 1)
    dst = tl.load(row + 2).to(tl.pointer_type(tl.float32), bitcast=True)
    hw = tl.load(row + 3)
    src = state + (home * slots + slot) * 6 * plane
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < hw
    tl.store(dst + offs, tl.load(src + offs, mask=mask), mask=mask)
    tl.store(dst + hw + offs, tl.load(src + plane + offs, mask=mask), mask=mask)
