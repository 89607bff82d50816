"""CPU interpolation kernels (numba.njit, parallel).

Every mode is separable.  Per spatial axis a small table of source indices
``idx[tap, o]`` and weights ``w[tap, o]`` is computed once per call (NumPy, in
torch's arithmetic: float32 coordinates for float32 data), with 1 tap
(nearest), 2 taps (linear) or 4 clamped taps (cubic).  Inputs are viewed as
``(P, D, H, W)`` with ``P = N*C`` planes and identity tables on missing axes.

Kernels
-------
``_interp2d_t2`` / ``_interp2d_t4`` / ``_interp1d``
    2-D inputs: each task owns (plane, block of output rows); the horizontal
    interpolation of each input row it needs is computed once into a ring of
    TH cached rows (TH = vertical taps, 2 or 4), and output rows are the
    vertical blend of cached rows.  1-D: the horizontal pass alone.
``_interp_sep``
    3-D: each task owns (plane, output depth, block of output rows).  For
    each input row the block needs, the horizontal interpolation
    ``sum_t w[t, ox] * row[idx[t, ox]]`` is computed once into a small row
    cache; output rows are then the vertical blend of cached rows (contiguous,
    vectorised), and depth taps accumulate in the output row.  The evaluation
    order (W innermost, then H, then D) is torch's, so results agree to the
    rounding of the last operation.
``_nearest``
    A pure gather (x2 along W: contiguous reads, interleaved writes); an
    output row that repeats the previous source row is a contiguous copy of
    the previous output row.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import NJIT_OPTS, entry, num_threads, split_blocks
from .._tables import tables  # plain-NumPy tables, shared with _cuda


@njit(inline="always")
def _hgather(src, c, idw, ww, o0, o1):
    TW = idw.shape[0]
    if TW == 2:
        i0 = idw[0]
        i1 = idw[1]
        w0 = ww[0]
        w1 = ww[1]
        for ox in range(o0, o1):
            c[ox] = src[i0[ox]] * w0[ox] + src[i1[ox]] * w1[ox]
    elif TW == 4:
        i0 = idw[0]
        i1 = idw[1]
        i2 = idw[2]
        i3 = idw[3]
        w0 = ww[0]
        w1 = ww[1]
        w2 = ww[2]
        w3 = ww[3]
        for ox in range(o0, o1):
            c[ox] = (src[i0[ox]] * w0[ox] + src[i1[ox]] * w1[ox]
                     + src[i2[ox]] * w2[ox] + src[i3[ox]] * w3[ox])
    else:
        i0 = idw[0]
        w0 = ww[0]
        for ox in range(o0, o1):
            c[ox] = src[i0[ox]] * w0[ox]


@njit(inline="always")
def _hrow(src, c, idw, ww, f2, ilo, ihi, w2):
    """Horizontal pass of one input row into ``c`` (the cached row).

    Where the table is a x2 upsampling with consecutive taps (``f2``: the tap
    offsets of even and odd outputs, valid for ``ilo <= i < ihi``), the
    interior reads contiguous slices with de-interleaved weights
    ``w2[r, t, i - ilo] = ww[t, 2i + r]`` (no index loads, no negative-index
    fix-ups), so it vectorises; the arithmetic is identical to the gather.
    """
    OW = c.shape[0]
    TW = idw.shape[0]
    if ihi <= ilo:
        _hgather(src, c, idw, ww, np.int64(0), OW)
        return
    _hgather(src, c, idw, ww, np.int64(0), 2 * ilo)
    _hgather(src, c, idw, ww, 2 * ihi, OW)
    n = ihi - ilo
    sa = src[ilo + f2[0]:ihi + f2[0] + TW - 1]
    sb = src[ilo + f2[1]:ihi + f2[1] + TW - 1]
    cc = c[2 * ilo:2 * ihi]
    if TW == 2:
        e0 = w2[0, 0]
        e1 = w2[0, 1]
        d0 = w2[1, 0]
        d1 = w2[1, 1]
        for k in range(n):
            cc[2 * k] = sa[k] * e0[k] + sa[k + 1] * e1[k]
            cc[2 * k + 1] = sb[k] * d0[k] + sb[k + 1] * d1[k]
    else:
        e0 = w2[0, 0]
        e1 = w2[0, 1]
        e2 = w2[0, 2]
        e3 = w2[0, 3]
        d0 = w2[1, 0]
        d1 = w2[1, 1]
        d2 = w2[1, 2]
        d3 = w2[1, 3]
        for k in range(n):
            cc[2 * k] = (sa[k] * e0[k] + sa[k + 1] * e1[k]
                         + sa[k + 2] * e2[k] + sa[k + 3] * e3[k])
            cc[2 * k + 1] = (sb[k] * d0[k] + sb[k + 1] * d1[k]
                             + sb[k + 2] * d2[k] + sb[k + 3] * d3[k])


@entry
@njit(parallel=True, **NJIT_OPTS)
def _interp_sep(x, out, idd, wd, idh, wh, idw, ww, f2, ilo, ihi, w2, rb):
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    TD, TH = idd.shape[0], idh.shape[0]
    nrb = (OH + rb - 1) // rb
    for t in prange(P * OD * nrb):
        rbi = t % nrb
        t2 = t // nrb
        od = t2 % OD
        p = t2 // OD
        oh0 = rbi * rb
        oh1 = min(OH, oh0 + rb)
        lo = idh[0, oh0]
        hi = idh[TH - 1, oh1 - 1]
        for th in range(TH):
            lo = min(lo, idh[th, oh0])
            hi = max(hi, idh[th, oh1 - 1])
        cache = np.empty((hi - lo + 1, OW), dtype=out.dtype)
        have = np.zeros(hi - lo + 1, dtype=np.uint8)
        for td in range(TD):
            ds = idd[td, od]
            wdv = wd[td, od]
            have[:] = 0
            for oh in range(oh0, oh1):
                for th in range(TH):
                    r = idh[th, oh] - lo
                    if have[r] == 0:
                        have[r] = 1
                        _hrow(x[p, ds, idh[th, oh]], cache[r], idw, ww, f2, ilo, ihi, w2)
                dst = out[p, od, oh]
                if TH == 2:
                    c0 = cache[idh[0, oh] - lo]
                    c1 = cache[idh[1, oh] - lo]
                    a0 = wh[0, oh]
                    a1 = wh[1, oh]
                    if td == 0:
                        for ox in range(OW):
                            dst[ox] = (c0[ox] * a0 + c1[ox] * a1) * wdv
                    else:
                        for ox in range(OW):
                            dst[ox] += (c0[ox] * a0 + c1[ox] * a1) * wdv
                elif TH == 4:
                    c0 = cache[idh[0, oh] - lo]
                    c1 = cache[idh[1, oh] - lo]
                    c2 = cache[idh[2, oh] - lo]
                    c3 = cache[idh[3, oh] - lo]
                    a0 = wh[0, oh]
                    a1 = wh[1, oh]
                    a2 = wh[2, oh]
                    a3 = wh[3, oh]
                    if td == 0:
                        for ox in range(OW):
                            dst[ox] = (c0[ox] * a0 + c1[ox] * a1 + c2[ox] * a2
                                       + c3[ox] * a3) * wdv
                    else:
                        for ox in range(OW):
                            dst[ox] += (c0[ox] * a0 + c1[ox] * a1 + c2[ox] * a2
                                        + c3[ox] * a3) * wdv
                else:
                    c0 = cache[idh[0, oh] - lo]
                    a0 = wh[0, oh]
                    if td == 0:
                        for ox in range(OW):
                            dst[ox] = (c0[ox] * a0) * wdv
                    else:
                        for ox in range(OW):
                            dst[ox] += (c0[ox] * a0) * wdv


# 2-D kernels: the rows an output row needs are TH consecutive (clamped) input
# rows whose start never decreases, so row r lives in ring slot r % TH until a
# row r + TH replaces it, when r is no longer needed; rows that no output row
# reads (downsampling) are never computed.  One kernel per tap count: a single
# kernel with a branch per count (and a constant-size ring) vectorised the
# vertical blend worse (4.3 vs 2.5 ms measured for (8, 64, 64, 64) x2).


@entry
@njit(parallel=True, **NJIT_OPTS)
def _interp2d_t2(x, out, idh, wh, idw, ww, f2, ilo, ihi, w2, rb):
    """2-D, two vertical taps (bilinear)."""
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    TH = idh.shape[0]
    nrb = (OH + rb - 1) // rb
    for t in prange(P * nrb):
        rbi = t % nrb
        p = t // nrb
        oh0 = rbi * rb
        oh1 = min(OH, oh0 + rb)
        ring = np.empty((TH, OW), dtype=out.dtype)
        done = -1
        for oh in range(oh0, oh1):
            for th in range(TH):
                r = idh[th, oh]
                if r > done:
                    _hrow(x[p, r], ring[r % TH], idw, ww, f2, ilo, ihi, w2)
                    done = r
            dst = out[p, oh]
            c0 = ring[idh[0, oh] % TH]
            c1 = ring[idh[1, oh] % TH]
            a0 = wh[0, oh]
            a1 = wh[1, oh]
            for ox in range(OW):
                dst[ox] = c0[ox] * a0 + c1[ox] * a1


@entry
@njit(parallel=True, **NJIT_OPTS)
def _interp2d_t4(x, out, idh, wh, idw, ww, f2, ilo, ihi, w2, rb):
    """2-D, four vertical taps (bicubic)."""
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    TH = idh.shape[0]
    nrb = (OH + rb - 1) // rb
    for t in prange(P * nrb):
        rbi = t % nrb
        p = t // nrb
        oh0 = rbi * rb
        oh1 = min(OH, oh0 + rb)
        ring = np.empty((TH, OW), dtype=out.dtype)
        done = -1
        for oh in range(oh0, oh1):
            for th in range(TH):
                r = idh[th, oh]
                if r > done:
                    _hrow(x[p, r], ring[r % TH], idw, ww, f2, ilo, ihi, w2)
                    done = r
            dst = out[p, oh]
            c0 = ring[idh[0, oh] % TH]
            c1 = ring[idh[1, oh] % TH]
            c2 = ring[idh[2, oh] % TH]
            c3 = ring[idh[3, oh] % TH]
            a0 = wh[0, oh]
            a1 = wh[1, oh]
            a2 = wh[2, oh]
            a3 = wh[3, oh]
            for ox in range(OW):
                dst[ox] = c0[ox] * a0 + c1[ox] * a1 + c2[ox] * a2 + c3[ox] * a3


@entry
@njit(parallel=True, **NJIT_OPTS)
def _interp1d(x, out, idw, ww, f2, ilo, ihi, w2, rb):
    """1-D (linear): rows are independent; the horizontal pass writes the output."""
    P = x.shape[0]
    R = out.shape[1]
    nrb = (R + rb - 1) // rb
    for t in prange(P * nrb):
        rbi = t % nrb
        p = t // nrb
        for r in range(rbi * rb, min(R, rbi * rb + rb)):
            _hrow(x[p, r], out[p, r], idw, ww, f2, ilo, ihi, w2)


@entry
@njit(parallel=True, **NJIT_OPTS)
def _nearest(x, out, idd, idh, idw, f2, ilo, ihi, rb):
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    nrb = (OH + rb - 1) // rb
    for t in prange(P * OD * nrb):
        rbi = t % nrb
        t2 = t // nrb
        od = t2 % OD
        p = t2 // OD
        oh0 = rbi * rb
        oh1 = min(OH, oh0 + rb)
        ds = idd[od]
        for oh in range(oh0, oh1):
            dst = out[p, od, oh]
            if oh > oh0 and idh[oh] == idh[oh - 1]:
                prev = out[p, od, oh - 1]
                for ox in range(OW):
                    dst[ox] = prev[ox]
            elif ihi > ilo:  # x2 along W: contiguous reads, interleaved writes
                src = x[p, ds, idh[oh]]
                for ox in range(2 * ilo):
                    dst[ox] = src[idw[ox]]
                for ox in range(2 * ihi, OW):
                    dst[ox] = src[idw[ox]]
                sa = src[ilo + f2[0]:ihi + f2[0]]
                sb = src[ilo + f2[1]:ihi + f2[1]]
                cc = dst[2 * ilo:2 * ihi]
                for k in range(ihi - ilo):
                    cc[2 * k] = sa[k]
                    cc[2 * k + 1] = sb[k]
            else:
                src = x[p, ds, idh[oh]]
                for ox in range(OW):
                    dst[ox] = src[idw[ox]]


# --------------------------------------------------------------------------
# per-axis tables (torch's arithmetic, see aten/src/ATen/native/UpSample.h)
# --------------------------------------------------------------------------


def upsample2_structure(idx, L):
    """Detect a x2 upsampling table with consecutive taps.

    Returns ``(offsets, ilo, ihi)``: for ``ilo <= i < ihi`` output ``2i + r``
    reads ``i + offsets[r] + t`` at tap ``t``; ``ihi <= ilo`` means none.
    """
    T, O = idx.shape
    none = (np.zeros(2, np.int64), 0, 0)
    if O != 2 * L or T not in (1, 2, 4) or L < 8:
        return none
    i = np.arange(L)
    good = np.ones(L, bool)
    offs = np.zeros(2, np.int64)
    for r in range(2):
        d = idx[0, r::2] - i
        offs[r] = d[L // 2]
        good &= d == offs[r]
        for t in range(1, T):
            good &= idx[t, r::2] == idx[0, r::2] + t
    if not good[L // 2]:
        return none
    bad = np.flatnonzero(~good)
    lo = bad[bad < L // 2]
    hi = bad[bad > L // 2]
    ilo = int(lo[-1]) + 1 if lo.size else 0
    ihi = int(hi[0]) if hi.size else L
    return offs, ilo, ihi


def interpolate(p, x, out):
    """Resample ``x`` into ``out`` (C-contiguous, shape ``p.out_shape``)."""
    xc = np.ascontiguousarray(x, dtype=p.dtype)
    if out.size == 0:
        return out
    planes = p.batch * p.channels
    ins = (1,) * (3 - p.nd) + p.in_spatial
    outs = (1,) * (3 - p.nd) + p.out_spatial
    xv = xc.reshape((planes,) + ins)
    ov = out.reshape((planes,) + outs)
    (idd, wd), (idh, wh), (idw, ww) = tables(p)
    threads = num_threads()
    rb = split_blocks(outs[1], -(-4 * threads // (planes * outs[0])))
    # the row cache spans the input rows of a block: keep it O(128 rows) when downsampling
    rb = max(1, min(rb, 128, (128 * outs[1]) // max(ins[1], 1)))
    if p.mode in ("nearest", "nearest-exact"):
        f2, ilo, ihi = upsample2_structure(idw, p.in_spatial[-1])
        _nearest(xv, ov, idd[0], idh[0], idw[0], f2, ilo, ihi, rb)
    else:
        f2, ilo, ihi = upsample2_structure(idw, p.in_spatial[-1])
        T = idw.shape[0]
        w2 = np.empty((2, T, max(ihi - ilo, 0)), p.dtype)
        for r in range(2):
            w2[r] = ww[:, 2 * ilo + r:2 * ihi:2]
        x3 = xv.reshape(planes * ins[0], ins[1], ins[2])
        o3 = ov.reshape(planes * outs[0], outs[1], outs[2])
        if p.nd == 1:  # rows independent (unit H axis)
            _interp1d(x3, o3, idw, ww, f2, ilo, ihi, w2, rb)
        elif p.nd == 2 and idh.shape[0] == 2:
            _interp2d_t2(x3, o3, idh, wh, idw, ww, f2, ilo, ihi, w2, rb)
        elif p.nd == 2 and idh.shape[0] == 4:
            _interp2d_t4(x3, o3, idh, wh, idw, ww, f2, ilo, ihi, w2, rb)
        else:
            _interp_sep(xv, ov, idd, wd, idh, wh, idw, ww, f2, ilo, ihi, w2, rb)
    return out
