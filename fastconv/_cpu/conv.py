"""CPU convolution kernels (numba.njit, parallel).

One formulation serves conv1d/2d/3d: inputs are viewed as 5-D
``(N, C, D, H, W)`` with unit dims for the missing axes, which costs nothing
measurable because the innermost loops run along ``W``.

Kernels
-------
``_conv_rows``
    General case: any stride, dilation, groups, padding mode.  Each parallel
    task owns (batch, group, block of output channels, output depth, block of
    output rows); it gathers the input rows it needs -- padded through per-axis
    index maps, which implement every ``padding_mode`` -- into a small scratch
    tile, then accumulates rows of outputs for several output channels with
    contiguous, vectorisable inner loops.  No padded copy of the whole input.
``_conv_pointwise``
    1x1, stride 1, unpadded, ungrouped: a channel mix over flattened pixels.
``_depthwise3x3_same``
    Depthwise 3x3, stride 1, zero padding 1 (MobileNet's case): no scratch,
    flat vector runs straight over the input, exact fix-up of the border.
``_depthwise2d_simd``
    Other depthwise cases with stride 1 or 2 along W: each task pads one
    plane's row block into scratch (all padding modes), then runs four output
    vectors at a time through every tap with the accumulators in registers
    (explicit 512-bit vectors), one flat loop over the taps.  Against the
    accumulator-pass kernel below (on the Xeon of the earlier measurements),
    float32, one thread, each call after a torch call: depthwise 5x5
    (1,96,56,56) 1.38-1.49 -> 0.36-0.41 ms (0.29x -> 1.05-1.09x torch), 3x3
    stride 2 (1,96,112,112) 1.66-1.96 -> 0.46-0.51 ms (0.42x -> 1.53-1.66x),
    7x7 (1,128,28,28) 1.38-1.66 -> 0.30-0.36 ms (0.12x -> 0.49-0.57x).
``_depthwise2d``
    The remaining depthwise cases (stride 3 or more along W) and the
    reference: one accumulator pass over the row per tap.
``_separable_fused``
    Depthwise then pointwise per block of output rows: the depthwise result
    exists only as a per-task tile, never as a full intermediate array.

Kernel choice happens in :func:`conv` (Python), from the params object, so
faster micro-kernels slot in without touching the public API.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

from .. import _dispatch
from .._params import ConvParams
from .._tables import pad_index_map
from . import conv_simd
from ._simd import lanes, vbroadcast, veven, vfma, vload, vsplat, vstore, vstore_lanes
from ._common import NJIT_OPTS, entry, num_threads, split_blocks


# Vectorisation rule for every hot loop below: index only contiguous 1-D slices
# (``row[off:off + n]``) with the bare loop variable.  Indexing ``row[ox + off]``
# or a row view ``acc[k]`` makes Numba emit negative-index wraparound code that
# stops LLVM from vectorising the loop (measured: scalar code, 3-8x slower).


@njit(**NJIT_OPTS)
def _fill_plane(src, dst, row0, maph, mapw, j0, j1, lo):
    """Padded rows ``row0 .. row0 + nrows`` of the 2-D plane ``src`` into the
    flat scratch ``dst`` (``nrows * Wp``), through the per-axis index maps
    (-1 = zero).  ``[j0, j1)`` is the interior run where ``mapw[j] == j - lo``,
    copied with a contiguous loop; only the border columns go through the map.
    Flat indexing, no per-row slices or calls: this is ~2x faster."""
    W = src.shape[1]
    Wp = mapw.shape[0]
    nrows = dst.shape[0] // Wp
    sf = src.reshape(-1)
    for r in range(nrows):
        ih = maph[row0 + r]
        base = r * Wp
        if ih < 0:
            z = dst[base:base + Wp]
            for j in range(Wp):
                z[j] = 0
        else:
            sb = ih * W
            for j in range(j0):
                iw = mapw[j]
                dst[base + j] = sf[sb + iw] if iw >= 0 else 0
            d = dst[base + j0:base + j1]
            sv = sf[sb + j0 - lo:sb + j1 - lo]
            for j in range(j1 - j0):
                d[j] = sv[j]
            for j in range(j1, Wp):
                iw = mapw[j]
                dst[base + j] = sf[sb + iw] if iw >= 0 else 0


@njit(**NJIT_OPTS)
def _fill_tile(x, xs, n, ci0, od, oh0, sd, sh, dd, mapd, maph, mapw, j0, j1, lo):
    """Gather the padded input rows a task reads into ``xs[c, kd, r, :]``."""
    Cg, KD = xs.shape[0], xs.shape[1]
    for c in range(Cg):
        for kd in range(KD):
            idd = mapd[od * sd + kd * dd]
            dst = xs[c, kd].reshape(-1)
            if idd < 0:
                dst[:] = 0
            else:
                _fill_plane(x[n, ci0 + c, idd], dst, oh0 * sh, maph, mapw, j0, j1, lo)


@njit(**NJIT_OPTS)
def _axpy(a, row, off, sw, wv, n):
    """a[0:n] += wv * row[off + i*sw] for i < n (contiguous fast path for sw == 1)."""
    if sw == 1:
        av = a[0:n]
        seg = row[off:off + n]
        for i in range(n):
            av[i] += wv * seg[i]
    else:
        for i in range(n):
            a[i] += wv * row[off + i * sw]


@njit(**NJIT_OPTS)
def _store_rows(out, acc, n, k0, od, oh, OW):
    for kk in range(acc.shape[0]):
        dst = out[n, k0 + kk, od, oh, 0:OW]
        a = acc[kk, 0:OW]
        for i in range(OW):
            dst[i] = a[i]


@njit(**NJIT_OPTS)
def _init_rows(acc, b, k0, OW):
    for kk in range(acc.shape[0]):
        bv = b[k0 + kk]
        a = acc[kk, 0:OW]
        for i in range(OW):
            a[i] = bv


@njit(**NJIT_OPTS)
def _decode_task(t, nrb, OD, nkb, groups, rb, OH, Kg, kb):
    """Task t of (batch, group, channel block, output depth, row block), innermost last.

    Returns ``(n, g, od, oh0, nr, k0, nk)``: rows ``oh0 .. oh0+nr`` of output
    channels ``k0 .. k0+nk``."""
    rbi = t % nrb
    t2 = t // nrb
    od = t2 % OD
    t2 //= OD
    kbi = t2 % nkb
    t2 //= nkb
    g = t2 % groups
    n = t2 // groups
    oh0 = rbi * rb
    k0 = g * Kg + kbi * kb
    return n, g, od, oh0, min(OH, oh0 + rb) - oh0, k0, min(g * Kg + Kg, k0 + kb) - k0


@entry
@njit(parallel=True, **NJIT_OPTS)
def _conv_rows(x, w, b, out, sd, sh, sw, dd, dh, dw, mapd, maph, mapw, j0, j1, lo,
               groups, kb, rb):
    """General kernel: any kernel size, stride, dilation, groups and padding mode."""
    N = x.shape[0]
    K, Cg, KD, KH, KW = w.shape
    OD, OH, OW = out.shape[2], out.shape[3], out.shape[4]
    Kg = K // groups
    nkb = (Kg + kb - 1) // kb
    nrb = (OH + rb - 1) // rb
    Wp = (OW - 1) * sw + (KW - 1) * dw + 1
    for t in prange(N * groups * nkb * OD * nrb):
        # np.int64(t): t is int64 in the driver's typing and uint64 in the parfor's
        # gufunc; without the cast _decode_task compiles twice
        n, g, od, oh0, nr, k0, nk = _decode_task(np.int64(t), nrb, OD, nkb, groups, rb, OH,
                                                 Kg, kb)
        xs = np.empty((Cg, KD, (nr - 1) * sh + (KH - 1) * dh + 1, Wp), dtype=out.dtype)
        _fill_tile(x, xs, n, g * Cg, od, oh0, sd, sh, dd, mapd, maph, mapw, j0, j1, lo)
        acc = np.empty((nk, OW), dtype=out.dtype)
        for r in range(nr):
            _init_rows(acc, b, k0, OW)
            for c in range(Cg):
                for kd in range(KD):
                    for kh in range(KH):
                        row = xs[c, kd, r * sh + kh * dh, :]
                        for kw in range(KW):
                            for kk in range(nk):
                                _axpy(acc[kk, :], row, kw * dw, sw, w[k0 + kk, c, kd, kh, kw], OW)
            _store_rows(out, acc, n, k0, od, oh0 + r, OW)


@njit(**NJIT_OPTS)
def _mix_block(src, p0, m, w, b, k0, acc):
    """acc[kk, :m] = b[k0+kk] + sum_c w[k0+kk, c] * src[c, p0:p0+m] for kk < acc.shape[0].

    Four input channels are summed per accumulator update, so each load/store of
    the accumulator row carries four FMAs instead of one; the block of output
    channels shares every load of ``src``."""
    C = src.shape[0]
    nk = acc.shape[0]
    C4 = C - C % 4
    _init_rows(acc, b, k0, m)
    for c in range(0, C4, 4):
        s0 = src[c, p0:p0 + m]
        s1 = src[c + 1, p0:p0 + m]
        s2 = src[c + 2, p0:p0 + m]
        s3 = src[c + 3, p0:p0 + m]
        for kk in range(nk):
            w0 = w[k0 + kk, c]
            w1 = w[k0 + kk, c + 1]
            w2 = w[k0 + kk, c + 2]
            w3 = w[k0 + kk, c + 3]
            a = acc[kk, 0:m]
            for i in range(m):
                a[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i]
    for c in range(C4, C):
        sv = src[c, p0:p0 + m]
        for kk in range(nk):
            wv = w[k0 + kk, c]
            a = acc[kk, 0:m]
            for i in range(m):
                a[i] += wv * sv[i]


@entry
@njit(parallel=True, **NJIT_OPTS)
def _conv_pointwise(x, w, b, out, kb, pb):
    """1x1 conv as a channel mix over flattened pixels: x (N, C, P), w (K, C)."""
    N, C, P = x.shape
    K = w.shape[0]
    nkb = (K + kb - 1) // kb
    npb = (P + pb - 1) // pb
    for t in prange(N * nkb * npb):
        pbi = t % npb
        t2 = t // npb
        kbi = t2 % nkb
        n = t2 // nkb
        p0 = pbi * pb
        m = min(P, p0 + pb) - p0
        k0 = kbi * kb
        nk = min(K, k0 + kb) - k0
        acc = np.empty((nk, m), dtype=out.dtype)
        _mix_block(x[n], p0, m, w, b, k0, acc)
        for kk in range(nk):
            dst = out[n, k0 + kk, p0:p0 + m]
            a = acc[kk, 0:m]
            for i in range(m):
                dst[i] = a[i]


@entry
@njit(parallel=True, **NJIT_OPTS)
def _depthwise2d(x, w, b, out, sh, sw, dh, dw, maph, mapw, j0, j1, lo, rb):
    """Depthwise, any kernel: x (N, C, H, W), w (C*m, KH, KW), out (N, C*m, OH, OW)."""
    N, C = x.shape[0], x.shape[1]
    K, KH, KW = w.shape
    m = K // C
    OH, OW = out.shape[2], out.shape[3]
    nrb = (OH + rb - 1) // rb
    Wp = (OW - 1) * sw + (KW - 1) * dw + 1
    for t in prange(N * C * nrb):
        rbi = t % nrb
        t2 = t // nrb
        c = t2 % C
        n = t2 // C
        oh0 = rbi * rb
        nr = min(OH, oh0 + rb) - oh0
        xs = np.empty(((nr - 1) * sh + (KH - 1) * dh + 1, Wp), dtype=out.dtype)
        _fill_plane(x[n, c], xs.reshape(-1), oh0 * sh, maph, mapw, j0, j1, lo)
        acc = np.empty(OW, dtype=out.dtype)
        for j in range(m):
            k = c * m + j
            bv = b[k]
            for r in range(nr):
                acc[:] = bv
                for kh in range(KH):
                    row = xs[r * sh + kh * dh, :]
                    for kw in range(KW):
                        _axpy(acc, row, kw * dw, sw, w[k, kh, kw], OW)
                dst = out[n, k, oh0 + r, 0:OW]
                for i in range(OW):
                    dst[i] = acc[i]


@entry
@njit(parallel=True, **NJIT_OPTS)
def _depthwise2d_simd(x, w, b, out, sh, sw, dh, dw, maph, mapw, j0, j1, lo, rb):
    """Depthwise, any kernel, stride 1 or 2 along W: explicit vectors, taps fused.

    A task (image, channel, block of output rows) copies its padded input rows
    into a scratch (:func:`_fill_plane`), then computes its outputs four
    vectors at a time -- four vectors of a row (:func:`_dw_rows4`), or two of
    two rows or one of four rows when the row is at most two vectors wide
    (:func:`_dw_group`) -- with the four accumulators in registers through all
    ``KH x KW`` taps.  Each tap is one broadcast weight and four loads; with
    stride 2 along W, two loads and an even-lane shuffle per vector.  Loads may
    run past a row into the next one or into the scratch's zeroed slack; those
    lanes and rows are never stored.  (Eight accumulators, two rows of four
    vectors, measured 20-50 % slower on rows 56 wide and equal on narrow ones.)
    """
    N, C = x.shape[0], x.shape[1]
    K, KH, KW = w.shape
    m = K // C
    OH, OW = out.shape[2], out.shape[3]
    nrb = (OH + rb - 1) // rb
    Wp = mapw.shape[0]
    wf = w.reshape(-1)
    L = lanes(wf)
    vs = 2 if OW > 2 * L else (1 if OW > L else 0)
    V = 1 << vs  # vectors per row of a group
    R = 4 // V  # rows of a group
    # offsets of the group's vectors 1-3 from the first: row i // V, vector i % V
    o1 = (1 >> vs) * sh * Wp + (1 & (V - 1)) * L * sw
    o2 = (2 >> vs) * sh * Wp + (2 & (V - 1)) * L * sw
    o3 = (3 >> vs) * sh * Wp + (3 & (V - 1)) * L * sw
    # one flat loop over the KH * KW taps, offsets from this table: the nested kh / kw
    # loops (runtime bounds) ran at 2.7-3.0 cycles per vector FMA on Zen 5, the flat
    # loop at 1.5-1.7 (7x7 (1,192,28,28), one thread: 0.46 -> 0.32 ms)
    ntp = KH * KW
    toff = np.empty(ntp, np.int64)
    for kh in range(KH):
        for kw in range(KW):
            toff[kh * KW + kw] = kh * dh * Wp + kw * dw
    for t in prange(N * C * nrb):
        rbi = t % nrb
        t2 = t // nrb
        c = t2 % C
        n = t2 // C
        oh0 = rbi * rb
        nr = min(OH, oh0 + rb) - oh0
        rows = (nr - 1) * sh + (KH - 1) * dh + 1
        used = rows * Wp
        buf = np.empty(used + (R - 1) * sh * Wp + 8 * L * sw + 64, dtype=out.dtype)
        buf[used:] = 0
        _fill_plane(x[n, c], buf[:used], oh0 * sh, maph, mapw, j0, j1, lo)
        for j in range(m):
            k = c * m + j
            bv = vsplat(b[k], wf)
            of = out[n, k].reshape(-1)
            if vs == 2:
                # wide rows: constant offsets (25 % faster than the general form
                # below on 56-wide rows)
                _dw_rows4(buf, wf, of, bv, k, KH, KW, Wp, oh0, nr, OW, sh, sw, toff)
                continue
            _dw_group(buf, wf, of, bv, k, KH, KW, Wp, oh0, nr, OW, vs, sh, sw, o1, o2, o3,
                      toff)


@njit(**NJIT_OPTS)
def _dw_rows4(buf, wf, of, bv, k, KH, KW, Wp, oh0, nr, OW, sh, sw, toff):
    """The rows of one :func:`_depthwise2d_simd` task, four vectors of a row at a time.

    Its tap loop repeats :func:`_dw_group`'s with the offsets written as
    constants.  One loop shared by both (a function returning the four
    accumulators) ran 5x5 (1,96,56,56) in 0.43-0.46 ms instead of 0.39-0.41 and
    3x3 dilation 2 (1,64,56,56) in 0.19 instead of 0.16 ms: not inlined, the
    offsets stay in registers."""
    L = lanes(wf)
    for r in range(nr):
        ob = (oh0 + r) * OW
        for ox0 in range(0, OW, 4 * L):
            a0 = bv
            a1 = bv
            a2 = bv
            a3 = bv
            base = r * sh * Wp + ox0 * sw
            wk = k * KH * KW
            for t in range(KH * KW):  # tap t = (kh, kw): offset toff[t] (see the caller)
                wv = vbroadcast(wf, wk + t)
                p = base + toff[t]
                if sw == 1:
                    a0 = vfma(wv, vload(buf, p), a0)
                    a1 = vfma(wv, vload(buf, p + L), a1)
                    a2 = vfma(wv, vload(buf, p + 2 * L), a2)
                    a3 = vfma(wv, vload(buf, p + 3 * L), a3)
                else:
                    a0 = vfma(wv, veven(vload(buf, p), vload(buf, p + L)), a0)
                    a1 = vfma(wv, veven(vload(buf, p + 2 * L), vload(buf, p + 3 * L)), a1)
                    a2 = vfma(wv, veven(vload(buf, p + 4 * L), vload(buf, p + 5 * L)), a2)
                    a3 = vfma(wv, veven(vload(buf, p + 6 * L), vload(buf, p + 7 * L)), a3)
            rest = OW - ox0
            if rest >= 4 * L:
                vstore(of, ob + ox0, a0)
                vstore(of, ob + ox0 + L, a1)
                vstore(of, ob + ox0 + 2 * L, a2)
                vstore(of, ob + ox0 + 3 * L, a3)
            else:
                vstore_lanes(of, ob + ox0, a0, 0, rest)
                vstore_lanes(of, ob + ox0 + L, a1, 0, rest - L)
                vstore_lanes(of, ob + ox0 + 2 * L, a2, 0, rest - 2 * L)
                vstore_lanes(of, ob + ox0 + 3 * L, a3, 0, rest - 3 * L)


@njit(**NJIT_OPTS)
def _dw_group(buf, wf, of, bv, k, KH, KW, Wp, oh0, nr, OW, vs, sh, sw, o1, o2, o3, toff):
    """The rows of one :func:`_depthwise2d_simd` task in groups of ``4 >> vs`` rows x
    ``1 << vs`` vectors (rows of at most two vectors).  One call per task and
    filter, stores inline: a call per group and a store helper per vector cost
    atomic reference counts of the array arguments each time (1x1 depthwise
    (1,128,28,28), one thread, back to back: 139 -> 76 us; (1,512,14,14) 207 ->
    154 us)."""
    L = lanes(wf)
    V = 1 << vs
    R = 4 >> vs
    # row and column of the group's vectors 1-3 (vector 0: row 0, column 0)
    r1, r2, r3 = 1 >> vs, 2 >> vs, 3 >> vs
    c1, c2, c3 = (1 & (V - 1)) * L, (2 & (V - 1)) * L, (3 & (V - 1)) * L
    for r in range(0, nr, R):
        ob = (oh0 + r) * OW
        left = nr - r
        for ox0 in range(0, OW, L * V):
            a0 = bv
            a1 = bv
            a2 = bv
            a3 = bv
            base = r * sh * Wp + ox0 * sw
            wk = k * KH * KW
            for t in range(KH * KW):  # tap t = (kh, kw): offset toff[t] (see the caller)
                wv = vbroadcast(wf, wk + t)
                p = base + toff[t]
                if sw == 1:
                    a0 = vfma(wv, vload(buf, p), a0)
                    a1 = vfma(wv, vload(buf, p + o1), a1)
                    a2 = vfma(wv, vload(buf, p + o2), a2)
                    a3 = vfma(wv, vload(buf, p + o3), a3)
                else:
                    a0 = vfma(wv, veven(vload(buf, p), vload(buf, p + L)), a0)
                    a1 = vfma(wv, veven(vload(buf, p + o1), vload(buf, p + o1 + L)), a1)
                    a2 = vfma(wv, veven(vload(buf, p + o2), vload(buf, p + o2 + L)), a2)
                    a3 = vfma(wv, veven(vload(buf, p + o3), vload(buf, p + o3 + L)), a3)
            # lanes below OW of each vector's row (rows past the task's end: none)
            vstore_lanes(of, ob + ox0, a0, 0, OW - ox0)
            if r1 < left:
                vstore_lanes(of, ob + r1 * OW + ox0 + c1, a1, 0, OW - ox0 - c1)
            if r2 < left:
                vstore_lanes(of, ob + r2 * OW + ox0 + c2, a2, 0, OW - ox0 - c2)
            if r3 < left:
                vstore_lanes(of, ob + r3 * OW + ox0 + c3, a3, 0, OW - ox0 - c3)


@njit(**NJIT_OPTS)
def _dw_point(xp, w, k, oh, ox, bv):
    """One output of a depthwise 3x3 / pad 1 / stride 1 conv, with explicit zero borders."""
    H, W = xp.shape
    acc = bv
    for kh in range(3):
        ih = oh + kh - 1
        if 0 <= ih < H:
            for kw in range(3):
                iw = ox + kw - 1
                if 0 <= iw < W:
                    acc += w[k, kh, kw] * xp[ih, iw]
    return acc


@entry
@njit(parallel=True, **NJIT_OPTS)
def _depthwise3x3_same(x, w, b, out, rb):
    """Depthwise 3x3, stride 1, dilation 1, zero padding 1: no scratch at all.

    Output and input planes have the same shape, so output row run ``i`` reads the
    input at flat offsets ``i + (kh-1)*W + (kw-1)``: rows ``1 .. H-2`` of a block are
    one long flat vector loop reading ``x`` directly.  The positions where that flat
    view wraps across a row (columns 0 and W-1) and the first/last rows are then
    recomputed exactly with explicit bounds.  Reads ``x`` once, writes ``out`` once.
    """
    N, C, H, W = x.shape
    K = w.shape[0]
    m = K // C
    nrb = (H + rb - 1) // rb
    for t in prange(N * C * nrb):
        rbi = t % nrb
        t2 = t // nrb
        c = t2 % C
        n = t2 // C
        r0 = rbi * rb
        r1 = min(H, r0 + rb)
        xp = x[n, c]
        xf = xp.reshape(-1)
        a0 = max(r0, 1)
        a1 = min(r1, H - 1)
        for j in range(m):
            k = c * m + j
            bv = b[k]
            of = out[n, k].reshape(-1)
            if a1 > a0:
                i0 = a0 * W + 1
                L = (a1 - a0) * W - 2
                if L > 0:
                    w00 = w[k, 0, 0]
                    w01 = w[k, 0, 1]
                    w02 = w[k, 0, 2]
                    w10 = w[k, 1, 0]
                    w11 = w[k, 1, 1]
                    w12 = w[k, 1, 2]
                    w20 = w[k, 2, 0]
                    w21 = w[k, 2, 1]
                    w22 = w[k, 2, 2]
                    u = i0 - W - 1
                    v = i0 - 1
                    z = i0 + W - 1
                    p00 = xf[u:u + L]
                    p01 = xf[u + 1:u + 1 + L]
                    p02 = xf[u + 2:u + 2 + L]
                    p10 = xf[v:v + L]
                    p11 = xf[v + 1:v + 1 + L]
                    p12 = xf[v + 2:v + 2 + L]
                    p20 = xf[z:z + L]
                    p21 = xf[z + 1:z + 1 + L]
                    p22 = xf[z + 2:z + 2 + L]
                    dst = of[i0:i0 + L]
                    for i in range(L):
                        dst[i] = (bv
                                  + w00 * p00[i] + w01 * p01[i] + w02 * p02[i]
                                  + w10 * p10[i] + w11 * p11[i] + w12 * p12[i]
                                  + w20 * p20[i] + w21 * p21[i] + w22 * p22[i])
                if W < 3 or H < 3:
                    for oh in range(a0, a1):
                        of[oh * W] = _dw_point(xp, w, k, oh, np.int64(0), bv)
                        of[oh * W + W - 1] = _dw_point(xp, w, k, oh, W - 1, bv)
                else:
                    _dw_side_columns(xf, of, w, k, bv, a0, a1, W)
            for oh in range(r0, r1):
                if oh < a0 or oh >= a1:
                    if W < 3 or H < 3:
                        for ox in range(W):
                            of[oh * W + ox] = _dw_point(xp, w, k, oh, ox, bv)
                    else:
                        _dw_edge_row(xp, xf, of, w, k, bv, oh, H, W)


@njit(**NJIT_OPTS)
def _dw_side_columns(xf, of, w, k, bv, a0, a1, W):
    """Columns 0 and W-1 of rows a0..a1-1 (1 <= a0, a1 <= H-1): six taps, no branches."""
    w00 = w[k, 0, 0]
    w01 = w[k, 0, 1]
    w02 = w[k, 0, 2]
    w10 = w[k, 1, 0]
    w11 = w[k, 1, 1]
    w12 = w[k, 1, 2]
    w20 = w[k, 2, 0]
    w21 = w[k, 2, 1]
    w22 = w[k, 2, 2]
    for oh in range(a0, a1):
        u = (oh - 1) * W
        v = oh * W
        z = (oh + 1) * W
        of[v] = (bv + w01 * xf[u] + w02 * xf[u + 1] + w11 * xf[v] + w12 * xf[v + 1]
                 + w21 * xf[z] + w22 * xf[z + 1])
        e = W - 2
        of[v + W - 1] = (bv + w00 * xf[u + e] + w01 * xf[u + e + 1] + w10 * xf[v + e]
                         + w11 * xf[v + e + 1] + w20 * xf[z + e] + w21 * xf[z + e + 1])


@njit(**NJIT_OPTS)
def _dw_edge_row(xp, xf, of, w, k, bv, oh, H, W):
    """Row 0 or H-1 (H, W >= 3): the two in-bounds input rows as vector runs, corners exact."""
    if oh == 0:
        ra, rb_, ka = 0, 1, 1  # input rows 0, 1 meet kernel rows 1, 2
    else:
        ra, rb_, ka = H - 2, H - 1, 0  # input rows H-2, H-1 meet kernel rows 0, 1
    wa0 = w[k, ka, 0]
    wa1 = w[k, ka, 1]
    wa2 = w[k, ka, 2]
    wb0 = w[k, ka + 1, 0]
    wb1 = w[k, ka + 1, 1]
    wb2 = w[k, ka + 1, 2]
    L = W - 2
    p0 = xf[ra * W:ra * W + L]
    p1 = xf[ra * W + 1:ra * W + 1 + L]
    p2 = xf[ra * W + 2:ra * W + 2 + L]
    q0 = xf[rb_ * W:rb_ * W + L]
    q1 = xf[rb_ * W + 1:rb_ * W + 1 + L]
    q2 = xf[rb_ * W + 2:rb_ * W + 2 + L]
    dst = of[oh * W + 1:oh * W + 1 + L]
    for i in range(L):
        dst[i] = (bv + wa0 * p0[i] + wa1 * p1[i] + wa2 * p2[i]
                  + wb0 * q0[i] + wb1 * q1[i] + wb2 * q2[i])
    of[oh * W] = _dw_point(xp, w, k, oh, np.int64(0), bv)
    of[oh * W + W - 1] = _dw_point(xp, w, k, oh, W - 1, bv)


@entry
@njit(parallel=True, **NJIT_OPTS)
def _separable_fused(x, dwt, pw, b, out, sh, sw, dh, dw, maph, mapw, j0, j1, lo, rb):
    """Depthwise (C*m, KH, KW) then pointwise (K, C*m), fused per block of output rows.

    Each task computes the depthwise rows of every channel into a tile
    ``mid[C*m, rows*OW]`` and mixes it into ``out`` right away, so no
    ``(N, C*m, H_out, W_out)`` intermediate is ever allocated."""
    N, C = x.shape[0], x.shape[1]
    CM, KH, KW = dwt.shape
    m = CM // C
    K = pw.shape[0]
    OH, OW = out.shape[2], out.shape[3]
    nrb = (OH + rb - 1) // rb
    Wp = mapw.shape[0]
    for t in prange(N * nrb):
        rbi = t % nrb
        n = t // nrb
        oh0 = rbi * rb
        nr = min(OH, oh0 + rb) - oh0
        P = nr * OW
        nrows = (nr - 1) * sh + (KH - 1) * dh + 1
        xs = np.empty(nrows * Wp, dtype=out.dtype)
        mid = np.empty((CM, P), dtype=out.dtype)
        for c in range(C):
            _fill_plane(x[n, c], xs, oh0 * sh, maph, mapw, j0, j1, lo)
            for j in range(m):
                k = c * m + j
                for r in range(nr):
                    a = mid[k, r * OW:(r + 1) * OW]
                    a[:] = 0
                    for kh in range(KH):
                        rowoff = (r * sh + kh * dh) * Wp
                        for kw in range(KW):
                            _axpy(a, xs, rowoff + kw * dw, sw, dwt[k, kh, kw], OW)
        acc = np.empty((min(8, K), P), dtype=out.dtype)
        for k0 in range(0, K, 8):
            nk = min(K, k0 + 8) - k0
            blk = acc[0:nk]
            _mix_block(mid, np.int64(0), P, pw, b, k0, blk)
            for kk in range(nk):
                o = out[n, k0 + kk].reshape(-1)[oh0 * OW:oh0 * OW + P]
                a = blk[kk, 0:P]
                for i in range(P):
                    o[i] = a[i]


# --------------------------------------------------------------------------
# Python-side selection
# --------------------------------------------------------------------------


def _to5(shape_sp, nd):
    return (1,) * (3 - nd) + tuple(shape_sp)


@functools.lru_cache(maxsize=256)
def _maps(p):
    """Per-axis padded-index maps (5-D order D, H, W), truncated to what is read.

    Cached per params (three NumPy constructions per call otherwise); the maps
    are shared between calls and only read by the kernels.
    """
    nd = p.nd
    ins = _to5(p.in_spatial, nd)
    lo = (0,) * (3 - nd) + p.pad_lo
    hi = (0,) * (3 - nd) + p.pad_hi
    ks = _to5(p.kernel, nd)
    ss = _to5(p.stride, nd)
    ds = _to5(p.dilation, nd)
    outs = _to5(p.out_spatial, nd)
    maps = []
    for ax in range(3):
        need = (outs[ax] - 1) * ss[ax] + (ks[ax] - 1) * ds[ax] + 1
        maps.append(pad_index_map(ins[ax], lo[ax], hi[ax], p.padding_mode, need))
    return tuple(maps)


def _interior(lo, size, length):
    """[j0, j1): padded coordinates whose source is the identity ``j - lo``."""
    j0 = min(max(lo, 0), length)
    j1 = max(j0, min(length, lo + size))
    return j0, j1


def _bias(b, k, dtype):
    if b is None:
        return np.zeros(k, dtype)
    return np.ascontiguousarray(b, dtype=dtype)


def _chain():
    """The functions between the dispatcher and :func:`conv_simd.conv` (see :func:`runner`)."""
    return (_dispatch.run, conv, _fold_plan, _stack_plan)


_FOLD_1D = True  # long 1-D convolutions as 2-D rows (see _fold_plan; tests switch it off)


@functools.lru_cache(maxsize=256)
def _fold_plan(p):
    """``(p2, S, H2, W2)`` when the 1-D conv ``p`` runs as a 2-D one on folded rows, or None.

    The SIMD kernels split a call into blocks of output rows; a 1-D signal is one
    row, so each task gathered every input channel's whole padded signal into
    its scratch and every K-block streamed it from beyond L2 (2 MiB for 128
    channels of 4096 samples).  Cut into rows of ``S`` outputs, output row ``i``
    reads the padded samples ``[i S s, i S s + W2)``: a copy of the input
    with that halo per row is a 2-D input ``(N, C, H2, W2)`` for a ``(1, k)``
    kernel, unpadded, whose output ``(N, K, H2, S)`` is the 1-D output (its
    first ``L_out`` samples).  Rows are sized so that one row of every input
    channel takes a quarter of L2, ``S`` a divisor of ``L_out`` when one is
    near (then the result lands in ``out`` directly).

    Only for strides above 1, when the padded signals of a group's input
    channels exceed 1.5x L2, and for at least 4 rows.  One thread, float32,
    each call after a torch call, folded vs not: k3 s2 (2,128,4096)->128
    4.65-4.74 -> 3.43-3.52 ms (0.63x -> 0.85x torch), (1,256,4096)->256
    10.6-10.8 -> 6.1-6.3 ms, (1,512,2048)->512 20.4-21.0 -> 11.8-12.1 ms, k5 s2
    (4,96,8192)->96 18.4-22.1 -> 12.3-12.6 ms (0.67x -> 1.00x).  Stride 1 gained
    nothing consistent (-3 % to +9 %), and (2,64,4096)->64 k3 s2 (1.07 MB of
    signal) lost 15 % to the extra copy.
    """
    if not _FOLD_1D or p.nd != 1 or p.padding_mode != "zeros" or p.depthwise:
        return None
    if not conv_simd.supported(p):
        return None
    item = np.dtype(p.dtype).itemsize
    cg = p.in_channels // p.groups
    k, s, d = p.kernel[0], p.stride[0], p.dilation[0]
    if s == 1 or cg * (p.in_spatial[0] + p.pad_lo[0] + p.pad_hi[0]) * item <= 1.5 * conv_simd._L2:
        return None
    lout = p.out_spatial[0]
    target = max(64, (conv_simd._L2 // 4) // (cg * item * s))
    if lout < 4 * target:
        return None
    S = next((v for v in range(target, target // 2, -1) if lout % v == 0), target)
    H2 = -(-lout // S)
    W2 = (S - 1) * s + (k - 1) * d + 1
    K = p.out_channels
    p2 = ConvParams(
        nd=2, batched=True, batch=p.batch, in_channels=p.in_channels, out_channels=K,
        groups=p.groups, in_spatial=(H2, W2), kernel=(1, k), stride=(1, s), dilation=(1, d),
        pad_lo=(0, 0), pad_hi=(0, 0), padding_mode="zeros", out_spatial=(H2, S),
        dtype=p.dtype, has_bias=p.has_bias, depthwise=False, out_shape=(p.batch, K, H2, S),
    )
    return p2, S, H2, W2


def _fold(p, x, plan):
    """The folded 2-D input of :func:`_fold_plan`: row ``i`` = padded samples
    ``[i S s, i S s + W2)`` of every (image, channel), zeros outside the signal."""
    p2, S, H2, W2 = plan
    L, lo, step = p.in_spatial[0], p.pad_lo[0], S * p.stride[0]
    x3 = np.asarray(x).reshape(p.batch, p.in_channels, L)
    xf = np.empty((p.batch, p.in_channels, H2, W2), p.dtype)
    for i in range(H2):
        a = i * step - lo  # input sample of column 0
        t0, t1 = max(0, -a), min(W2, L - a)  # columns inside the signal
        if t1 <= t0:
            xf[:, :, i, :] = 0
            continue
        xf[:, :, i, :t0] = 0
        xf[:, :, i, t0:t1] = x3[:, :, a + t0:a + t1]
        xf[:, :, i, t1:] = 0
    return xf


_STACK = True  # small images of a batch stacked into one (see _stack_plan; tests switch it off)


@functools.lru_cache(maxsize=256)
def _stack_plan(p):
    """``(p2, gap, lo)`` when the batch of 2-D conv ``p`` runs as one tall image, or None.

    With weights larger than L2, every image's tasks read all of them from
    memory: a batch of 8 (512, 7, 7) images read the 9.4 MB weight 8 times and
    took 8 times the (1, 512, 7, 7) call.  Stride 1 along H lets the images
    stand on top of each other, ``gap = max(pad_top, pad_bottom)`` zero rows
    apart (every output row of an image then reads only its own rows and
    zeros), as one image with no vertical padding; image ``n``'s output rows
    are rows ``n (H + gap) ...`` of the tall result, the rows between them are
    computed and dropped.  Costs: a copy of the input and of the output, and
    ``gap`` extra output rows per image.  Only for zero padding, weights of a
    group above L2, 2-4 images of at most 256 output pixels (2-8 of at most
    64) and kernels at least 2 rows high.  Float32, 3x3 512->512 on 7x7 images,
    each call after a torch call (on the Xeon): batch 4 on one thread 10.0-10.1
    -> 8.1-8.4 ms (0.72x -> 0.85x torch), on two 4.84-4.91 -> 4.04-4.22 ms
    (0.66x -> 0.77x); batch 2 on two 2.54-2.56 -> 2.15-2.24 ms.  Batches 5-8
    of 7x7 images on the AMD Zen 5 (per-image -> stacked, calls alternated,
    two rounds on two threads): batch 8 one thread 12.4-13.7 -> 11.1-11.6 ms,
    two 6.32-6.56 -> 6.06-6.28 ms; batch 5 8.55 -> 6.75 and 4.34-4.62 ->
    3.63-3.77 ms; batch 7 12.1 -> 10.6 and 5.87-6.06 -> 5.43-5.54 ms; only batch
    6 on two threads lost (4.87-5.09 -> 5.03-5.37 ms; one thread 10.4 -> 9.9);
    1024->512 and 256->1024 at batch 8 gained 4-20 %.  (On the Xeon batch 8
    lost on two threads, 0.64x -> 0.59x.)  (8,256,14,14) lost on both
    machines (Zen 5: 9.38 -> 9.63 ms on one thread, 4.66 -> 5.06 on two): 14x14
    images stay at most 4.  Nor are 1x1 kernels stacked: (8,2048,7,7)->512 lost
    25 % (the 1x1 kernels' own choices for one large image).
    """
    if not _STACK or p.nd != 2 or p.batch < 2 or p.padding_mode != "zeros" or p.depthwise:
        return None
    if p.stride[0] != 1 or p.kernel[0] < 2 or not conv_simd.supported(p):
        return None
    OH, OW = p.out_spatial
    if (p.batch > (8 if OH * OW <= 64 else 4) or OH * OW > 256
            or conv_simd._weights_per_group(p) <= conv_simd._L2):
        return None
    H, W = p.in_spatial
    lo, hi = p.pad_lo[0], p.pad_hi[0]
    gap = max(lo, hi)
    rows = lo + p.batch * H + (p.batch - 1) * gap + hi
    span = (p.kernel[0] - 1) * p.dilation[0]
    K = p.out_channels
    p2 = ConvParams(
        nd=2, batched=True, batch=1, in_channels=p.in_channels, out_channels=K,
        groups=p.groups, in_spatial=(rows, W), kernel=p.kernel, stride=p.stride,
        dilation=p.dilation, pad_lo=(0, p.pad_lo[1]), pad_hi=(0, p.pad_hi[1]),
        padding_mode="zeros", out_spatial=(rows - span, OW), dtype=p.dtype,
        has_bias=p.has_bias, depthwise=False, out_shape=(1, K, rows - span, OW),
    )
    return p2, gap, lo


def _run_stacked(p, x, w, b, out, plan):
    """:func:`_stack_plan`'s call: stack, convolve, and copy each image's rows out."""
    p2, gap, lo = plan
    N, C = p.batch, p.in_channels
    H, W = p.in_spatial
    OH = p.out_spatial[0]
    x4 = np.asarray(x).reshape((N, C, H, W))
    xs = np.empty((1, C) + p2.in_spatial, p.dtype)
    xs[0, :, :lo] = 0
    for n in range(N):
        r0 = lo + n * (H + gap)
        xs[0, :, r0:r0 + H] = x4[n]
        xs[0, :, r0 + H:r0 + H + gap] = 0  # the gap below (the bottom padding after the last)
    xs[0, :, lo + N * H + (N - 1) * gap:] = 0
    o2 = conv_simd.conv(p2, xs, w, b, np.empty(p2.out_shape, p.dtype))
    o4 = out.reshape((N, p.out_channels) + tuple(p.out_spatial))
    for n in range(N):
        o4[n] = o2[0, :, n * (H + gap):n * (H + gap) + OH]
    return out


def runner(p, x, w, b):
    """A short path for repeated calls like ``conv(p, x, w, b, out)``, or None.

    Only the SIMD kernels have one (:func:`fastconv._cpu.conv_simd.runner`); it
    declines (returns None) once any function of this chain has been replaced.
    """
    if (not conv_simd.supported(p) or _fold_plan(p) is not None
            or _stack_plan(p) is not None):
        return None
    return conv_simd.runner(p, x, w, b, _chain)


def conv(p, x, w, b, out):
    """Compute conv{nd}d into ``out`` (C-contiguous, shape ``p.out_shape``).

    Kernel choice: the explicit-SIMD register-tiled kernels of
    :mod:`fastconv._cpu.conv_simd` whenever they take the case (called through
    the module so benchmarks and tests can switch them off); otherwise 1x1,
    depthwise and the row-blocked generic kernels below, which also serve as
    the tested reference implementation.
    """
    stack = _stack_plan(p)
    if stack is not None:
        return _run_stacked(p, x, w, b, out, stack)
    plan = _fold_plan(p)
    if plan is not None:
        p2, S, H2, W2 = plan
        xf = _fold(p, x, plan)
        w4 = np.asarray(w).reshape(p.out_channels, p.in_channels // p.groups, 1, p.kernel[0])
        lout = p.out_spatial[0]
        if H2 * S == lout and out.flags.c_contiguous:
            conv_simd.conv(p2, xf, w4, b, out.reshape(p2.out_shape))
        else:
            o2 = conv_simd.conv(p2, xf, w4, b, np.empty(p2.out_shape, p.dtype))
            out.reshape(p.batch, p.out_channels, lout)[...] = o2.reshape(
                p.batch, p.out_channels, H2 * S)[:, :, :lout]
        return out
    if conv_simd.supported(p):
        return conv_simd.conv(p, x, w, b, out)
    dtype = p.dtype
    nd = p.nd
    n = p.batch
    xc = np.ascontiguousarray(x, dtype=dtype)
    wc = np.ascontiguousarray(w, dtype=dtype)
    bc = _bias(b, p.out_channels, dtype)
    if out.size == 0:
        return out
    x5 = xc.reshape((n, p.in_channels) + _to5(p.in_spatial, nd))
    o5 = out.reshape((n, p.out_channels) + _to5(p.out_spatial, nd))
    threads = num_threads()
    if p.pointwise:
        P = int(np.prod(p.in_spatial))
        kb = min(8, p.out_channels)
        nkb = -(-p.out_channels // kb)
        pb = split_blocks(P, max(1, (4 * threads) // max(1, n * nkb)))
        pb = min(max(pb, 64), 1024)
        _conv_pointwise(
            x5.reshape(n, p.in_channels, P), wc.reshape(p.out_channels, p.in_channels), bc,
            o5.reshape(n, p.out_channels, P), kb, pb,
        )
        return out
    if p.depthwise and nd == 2:
        depthwise(p, xc, wc, bc, out)
        return out
    w5 = wc.reshape(wc.shape[:2] + _to5(p.kernel, nd))
    mapd, maph, mapw = _maps(p)
    sd, sh, sw = _to5(p.stride, nd)
    dd, dh, dw = _to5(p.dilation, nd)
    kg = p.out_channels // p.groups
    kb = min(8, kg)
    nkb = -(-kg // kb)
    OD, OH = _to5(p.out_spatial, nd)[:2]
    outer = n * p.groups * nkb * OD
    OW = p.out_spatial[-1]
    # rows per task: enough tasks for every thread (4 per thread to balance),
    # and an accumulator run (rows x padded width) that stays in L1/L2.
    rb = split_blocks(OH, -(-4 * threads // outer))
    rb = max(1, min(rb, 2048 // max(1, OW + 2 * dw)))
    lo = p.pad_lo[-1]
    j0, j1 = _interior(lo, p.in_spatial[-1], mapw.shape[0])
    _conv_rows(x5, w5, bc, o5, sd, sh, sw, dd, dh, dw, mapd, maph, mapw, j0, j1, lo, p.groups, kb, rb)
    return out


_DW_SIMD = True  # the explicit-vector depthwise kernel (A/B and tests switch it off)


def depthwise(p, xc, wc, bc, out):
    """Depthwise 2-D conv (``groups == C``, weight ``(C*m, 1, kh, kw)``)."""
    n = p.batch
    x4 = xc.reshape((n, p.in_channels) + p.in_spatial)
    o4 = out.reshape((n, p.out_channels) + p.out_spatial)
    w3 = wc.reshape((p.out_channels,) + p.kernel)
    _, maph, mapw = _maps(p)
    sh, sw = p.stride
    dh, dw = p.dilation
    threads = num_threads()
    OH = p.out_spatial[0]
    OW = p.out_spatial[-1]
    rb = split_blocks(OH, -(-4 * threads // (n * p.in_channels)))
    rb = max(1, min(rb, 8192 // max(1, (OW + (p.kernel[1] - 1) * dw) * sh)))
    if (p.kernel == (3, 3) and p.stride == (1, 1) and p.dilation == (1, 1)
            and p.pad_lo == (1, 1) and p.pad_hi == (1, 1) and p.padding_mode == "zeros"
            and min(p.in_spatial) >= 2):
        _depthwise3x3_same(x4, w3, bc, o4, split_blocks(OH, -(-4 * threads // (n * p.in_channels))))
        return out
    # the vector kernel takes strides 1 and 2 along W; the accumulator-pass one the rest
    kern = _depthwise2d_simd if _DW_SIMD and sw in (1, 2) else _depthwise2d
    lo = p.pad_lo[-1]
    j0, j1 = _interior(lo, p.in_spatial[-1], mapw.shape[0])
    kern(x4, w3, bc, o4, sh, sw, dh, dw, maph, mapw, j0, j1, lo, rb)
    return out


def separable(params, x, dw, pw, b, out):
    """Depthwise then pointwise, fused per row block (no full intermediate)."""
    dwp, pwp = params
    dtype = pwp.dtype
    n = dwp.batch
    xc = np.ascontiguousarray(x, dtype=dtype)
    dwt = np.ascontiguousarray(dw, dtype=dtype).reshape((dwp.out_channels,) + dwp.kernel)
    pw2 = np.ascontiguousarray(pw, dtype=dtype).reshape(pwp.out_channels, pwp.in_channels)
    bc = _bias(b, pwp.out_channels, dtype)
    if out.size == 0:
        return out
    x4 = xc.reshape((n, dwp.in_channels) + dwp.in_spatial)
    o4 = out.reshape((n, pwp.out_channels) + pwp.out_spatial)
    _, maph, mapw = _maps(dwp)
    sh, sw = dwp.stride
    dh, dw_ = dwp.dilation
    OH, OW = dwp.out_spatial
    threads = num_threads()
    # rows per task: >= 4 tasks per thread when possible, and a mid tile of <= ~256 KiB
    rb = split_blocks(OH, -(-4 * threads // n))
    rb = max(1, min(rb, (256 * 1024 // dtype.itemsize) // max(1, dwp.out_channels * OW)))
    lo = dwp.pad_lo[-1]
    j0, j1 = _interior(lo, dwp.in_spatial[-1], mapw.shape[0])
    _separable_fused(x4, dwt, pw2, bc, o4, sh, sw, dh, dw_, maph, mapw, j0, j1, lo, rb)
    return out
