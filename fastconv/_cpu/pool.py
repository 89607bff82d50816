"""CPU pooling kernels (numba.njit, parallel).

Every rank is viewed as 4-D ``(P, D, H, W)`` with ``P = N*C`` planes and unit
dims for missing spatial axes.  Pooling is memory-bound, so the kernels read
each input row a small number of times, keep only O(row) scratch per task and
never build a padded copy of the input.

Kernels
-------
``_max_sep`` / ``_avg_sep``
    Values only, any kernel/stride/padding/dilation.  Each task owns
    (plane, output depth, block of output rows).  Per output row the window's
    in-bounds input rows are reduced element-wise into one scratch row whose
    padded columns hold the neutral value (-inf / 0); the horizontal
    reduction with stride and dilation then reads that row.  Max pooling
    runs a plain max plus a NaN flag; an output row whose window rows hold
    a NaN is recomputed with the NaN-propagating max.
``_max_3x3`` / ``_avg_3x3``
    2-D ``3x3`` windows without dilation (the ResNet stem ``k3 s2 p1``):
    the three input rows are combined in one pass, the horizontal max/sum of
    three taps is fused with the store.
``_max_idx_sep``
    ``return_indices=True``, separable: per column (value, flat index) from
    the vertical pass, then the horizontal choice "NaN with the largest index,
    else the largest value with the smallest index" -- the same result as
    torch's scan (ties keep the first maximum, the last NaN wins).
``_max_idx``
    Direct window scan in torch's order, used only when some window lies
    wholly in the padding (torch then points at its first tap moved forward by
    the dilation).
``_adaptive_avg`` / ``_adaptive_max``
    Windows ``[floor(i*L/O), ceil((i+1)*L/O))`` from per-axis tables.

NaN: max pooling propagates NaN (``v > m or v != v`` selects ``v``); average
pooling propagates it arithmetically.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import NJIT_OPTS, entry, num_threads, split_blocks
from .._tables import _avg_divisors, _adaptive_tables  # noqa: F401  (plain-NumPy tables shared with _cuda)


@njit(inline="always")
def _pmax(a, m):
    """NaN-propagating max: ``a`` wins when larger or NaN (torch's rule)."""
    return a if (a > m or a != a) else m


@njit(inline="always")
def _fmax(a, m):
    """Plain max (one ``vmaxps``); NaN handled by the caller's flag."""
    return a if a > m else m


@njit(inline="always")
def _hcopy(v, dst, sw):
    """dst[ox] = v[ox * sw] (first horizontal tap)."""
    OW = dst.shape[0]
    if sw == 1:
        for ox in range(OW):
            dst[ox] = v[ox]
    elif sw == 2:
        for ox in range(OW):
            dst[ox] = v[2 * ox]
    else:
        for ox in range(OW):
            dst[ox] = v[ox * sw]


@entry
@njit(parallel=True, **NJIT_OPTS)
def _max_sep(x, out, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, rb):
    # plain max plus a NaN flag per output row; a flagged row is recomputed
    # with the NaN-propagating max (rare), so the common path stays vmaxps
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    nrb = (OH + rb - 1) // rb
    Wp = max((OW - 1) * sw + (kw - 1) * dw + 1, pw + W)
    for t in prange(P * OD * nrb):
        rbi = t % nrb
        t2 = t // nrb
        od = t2 % OD
        p = t2 // OD
        v = np.empty(Wp, dtype=out.dtype)
        neg = v.dtype.type(-np.inf)
        for j in range(pw):
            v[j] = neg
        for j in range(pw + W, Wp):
            v[j] = neg
        seg = v[pw:pw + W]
        oh1 = min(OH, rbi * rb + rb)
        for oh in range(rbi * rb, oh1):
            nf = False
            for rep in range(2):  # second pass only when the window rows hold a NaN
                exact = rep == 1
                first = True
                for a in range(kd):
                    idd = od * sd - pd + a * dd
                    if idd < 0 or idd >= D:
                        continue
                    for b in range(kh):
                        ih = oh * sh - ph + b * dh
                        if ih < 0 or ih >= H:
                            continue
                        row = x[p, idd, ih]
                        if first:
                            for j in range(W):
                                val = row[j]
                                nf |= val != val
                                seg[j] = val
                            first = False
                        elif exact:
                            for j in range(W):
                                seg[j] = _pmax(row[j], seg[j])
                        else:
                            for j in range(W):
                                val = row[j]
                                nf |= val != val
                                seg[j] = _fmax(val, seg[j])
                if first:
                    for j in range(W):
                        seg[j] = neg
                dst = out[p, od, oh]
                _hcopy(v, dst, sw)
                for c in range(1, kw):
                    vs = v[c * dw:]  # a slice: indices below are provably >= 0
                    if exact:
                        for ox in range(OW):
                            dst[ox] = _pmax(vs[ox * sw], dst[ox])
                    elif sw == 1:
                        for ox in range(OW):
                            dst[ox] = _fmax(vs[ox], dst[ox])
                    elif sw == 2:
                        for ox in range(OW):
                            dst[ox] = _fmax(vs[2 * ox], dst[ox])
                    else:
                        for ox in range(OW):
                            dst[ox] = _fmax(vs[ox * sw], dst[ox])
                if not nf:
                    break


@entry
@njit(parallel=True, **NJIT_OPTS)
def _max_3x3(x, out, sh, sw, ph, pw, rb):
    # x (P, H, W), out (P, OH, OW); 3x3 window, no dilation, ph, pw <= 1.
    # Fast path with plain max plus a NaN flag per output row; a row whose
    # window holds a NaN is recomputed with the NaN-propagating max.
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    nrb = (OH + rb - 1) // rb
    Wp = max((OW - 1) * sw + 3, pw + W)
    for t in prange(P * nrb):
        rbi = t % nrb
        p = t // nrb
        v = np.empty(Wp, dtype=out.dtype)
        neg = v.dtype.type(-np.inf)
        for j in range(pw):
            v[j] = neg
        for j in range(pw + W, Wp):
            v[j] = neg
        seg = v[pw:pw + W]
        oh1 = min(OH, rbi * rb + rb)
        for oh in range(rbi * rb, oh1):
            i0 = oh * sh - ph
            # rows outside the input are replaced by an in-window row (max is idempotent)
            ia = i0 if i0 >= 0 else i0 + 1
            ib = i0 + 1 if i0 + 1 < H else ia
            ic = i0 + 2 if i0 + 2 < H else ib
            r0 = x[p, ia]
            r1 = x[p, ib]
            r2 = x[p, ic]
            nf = False
            for j in range(W):
                a = r0[j]
                b = r1[j]
                c = r2[j]
                nf |= (a != a) | (b != b) | (c != c)
                seg[j] = _fmax(c, _fmax(b, a))
            dst = out[p, oh]
            if nf:
                for j in range(W):
                    seg[j] = _pmax(r2[j], _pmax(r1[j], r0[j]))
                for ox in range(OW):
                    i = ox * sw
                    dst[ox] = _pmax(v[i + 2], _pmax(v[i + 1], v[i]))
            elif sw == 2:
                for ox in range(OW):
                    i = 2 * ox
                    dst[ox] = _fmax(v[i + 2], _fmax(v[i + 1], v[i]))
            else:
                for ox in range(OW):
                    i = ox * sw
                    dst[ox] = _fmax(v[i + 2], _fmax(v[i + 1], v[i]))


@entry
@njit(parallel=True, **NJIT_OPTS)
def _avg_sep(x, out, kd, kh, kw, sd, sh, sw, pd, ph, pw, divd, divh, divw, rb):
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    nrb = (OH + rb - 1) // rb
    Wp = max((OW - 1) * sw + kw, pw + W)
    for t in prange(P * OD * nrb):
        rbi = t % nrb
        t2 = t // nrb
        od = t2 % OD
        p = t2 // OD
        v = np.zeros(Wp, dtype=out.dtype)
        seg = v[pw:pw + W]
        oh1 = min(OH, rbi * rb + rb)
        for oh in range(rbi * rb, oh1):
            first = True
            for a in range(kd):
                idd = od * sd - pd + a
                if idd < 0 or idd >= D:
                    continue
                for b in range(kh):
                    ih = oh * sh - ph + b
                    if ih < 0 or ih >= H:
                        continue
                    row = x[p, idd, ih]
                    if first:
                        for j in range(W):
                            seg[j] = row[j]
                        first = False
                    else:
                        for j in range(W):
                            seg[j] += row[j]
            if first:
                for j in range(W):
                    seg[j] = 0
            dst = out[p, od, oh]
            _hcopy(v, dst, sw)
            for c in range(1, kw):
                vs = v[c:]
                if sw == 1:
                    for ox in range(OW):
                        dst[ox] += vs[ox]
                elif sw == 2:
                    for ox in range(OW):
                        dst[ox] += vs[2 * ox]
                else:
                    for ox in range(OW):
                        dst[ox] += vs[ox * sw]
            dr = divd[od] * divh[oh]
            for ox in range(OW):
                dst[ox] = dst[ox] / (dr * divw[ox])


@entry
@njit(parallel=True, **NJIT_OPTS)
def _avg_3x3(x, out, sh, sw, ph, pw, divh, divw, rb):
    # x (P, H, W), out (P, OH, OW); 3x3 window, ph, pw <= 1
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    nrb = (OH + rb - 1) // rb
    Wp = max((OW - 1) * sw + 3, pw + W)
    for t in prange(P * nrb):
        rbi = t % nrb
        p = t // nrb
        v = np.zeros(Wp, dtype=out.dtype)
        zero = np.zeros(W, dtype=out.dtype)
        seg = v[pw:pw + W]
        oh1 = min(OH, rbi * rb + rb)
        for oh in range(rbi * rb, oh1):
            i0 = oh * sh - ph
            r0 = x[p, i0] if (i0 >= 0 and i0 < H) else zero
            r1 = x[p, i0 + 1] if (i0 + 1 >= 0 and i0 + 1 < H) else zero
            r2 = x[p, i0 + 2] if (i0 + 2 >= 0 and i0 + 2 < H) else zero
            for j in range(W):
                seg[j] = r0[j] + r1[j] + r2[j]
            dst = out[p, oh]
            dr = divh[oh]
            if sw == 2:
                for ox in range(OW):
                    i = 2 * ox
                    dst[ox] = (v[i] + v[i + 1] + v[i + 2]) / (dr * divw[ox])
            else:
                for ox in range(OW):
                    i = ox * sw
                    dst[ox] = (v[i] + v[i + 1] + v[i + 2]) / (dr * divw[ox])


@entry
@njit(parallel=True, **NJIT_OPTS)
def _max_idx_sep(x, out, idx, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, rb):
    """Values and indices, separable; only for windows with an in-bounds tap on every axis.

    Torch's sequential rule (``v > m or isnan(v)`` in scan order, i.e. in
    increasing flat index) is equivalent to the associative choice "NaN with
    the largest index, else the largest value with the smallest index", which
    the horizontal pass applies to the per-column results of the vertical pass.
    """
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    nrb = (OH + rb - 1) // rb
    Wp = max((OW - 1) * sw + (kw - 1) * dw + 1, pw + W)
    big = np.iinfo(np.int64).max
    for t in prange(P * OD * nrb):
        rbi = t % nrb
        t2 = t // nrb
        od = t2 % OD
        p = t2 // OD
        v = np.empty(Wp, dtype=out.dtype)
        vi = np.empty(Wp, dtype=np.int64)
        neg = v.dtype.type(-np.inf)
        for j in range(Wp):
            v[j] = neg
            vi[j] = big  # padding never wins a tie
        seg = v[pw:pw + W]
        segi = vi[pw:pw + W]
        oh1 = min(OH, rbi * rb + rb)
        for oh in range(rbi * rb, oh1):
            first = True
            for a in range(kd):
                idd = od * sd - pd + a * dd
                if idd < 0 or idd >= D:
                    continue
                for b in range(kh):
                    ih = oh * sh - ph + b * dh
                    if ih < 0 or ih >= H:
                        continue
                    row = x[p, idd, ih]
                    base = (idd * H + ih) * W
                    if first:
                        for j in range(W):
                            seg[j] = row[j]
                            segi[j] = base + j
                        first = False
                    else:
                        for j in range(W):
                            val = row[j]
                            if val > seg[j] or val != val:
                                seg[j] = val
                                segi[j] = base + j
            dst = out[p, od, oh]
            irow = idx[p, od, oh]
            for ox in range(OW):
                i = ox * sw
                m = v[i]
                mi = vi[i]
                for c in range(1, kw):
                    val = v[i + c * dw]
                    ci = vi[i + c * dw]
                    if val != val:
                        if m == m or ci > mi:
                            m = val
                            mi = ci
                    elif m != m:
                        pass
                    elif val > m or (val == m and ci < mi):
                        m = val
                        mi = ci
                dst[ox] = m
                irow[ox] = mi


@entry
@njit(parallel=True, **NJIT_OPTS)
def _max_idx(x, out, idx, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw):
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    for t in prange(P * OD * OH):
        oh = t % OH
        t2 = t // OH
        od = t2 % OD
        p = t2 // OD
        d0 = od * sd - pd
        d1 = min(d0 + (kd - 1) * dd + 1, D)
        while d0 < 0:
            d0 += dd
        h0 = oh * sh - ph
        h1 = min(h0 + (kh - 1) * dh + 1, H)
        while h0 < 0:
            h0 += dh
        vrow = out[p, od, oh]
        irow = idx[p, od, oh]
        for ox in range(OW):
            w0 = ox * sw - pw
            w1 = min(w0 + (kw - 1) * dw + 1, W)
            while w0 < 0:
                w0 += dw
            best = (d0 * H + h0) * W + w0
            m = vrow.dtype.type(-np.inf)
            for a in range(d0, d1, dd):
                for b in range(h0, h1, dh):
                    row = x[p, a, b]
                    base = (a * H + b) * W
                    for c in range(w0, w1, dw):
                        val = row[c]
                        if val > m or val != val:
                            m = val
                            best = base + c
            vrow[ox] = m
            irow[ox] = best


@entry
@njit(parallel=True, **NJIT_OPTS)
def _adaptive_avg(x, out, hs, he, ws, we):
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    for t in prange(P * OH):
        oh = t % OH
        p = t // OH
        h0 = hs[oh]
        h1 = he[oh]
        kh = out.dtype.type(h1 - h0)
        dst = out[p, oh]
        for ox in range(OW):
            w0 = ws[ox]
            w1 = we[ox]
            s = dst.dtype.type(0)
            for b in range(h0, h1):
                row = x[p, b]
                for c in range(w0, w1):
                    s += row[c]
            dst[ox] = s / kh / out.dtype.type(w1 - w0)


@entry
@njit(parallel=True, **NJIT_OPTS)
def _adaptive_max(x, out, idx, hs, he, ws, we, want_idx):
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    for t in prange(P * OH):
        oh = t % OH
        p = t // OH
        h0 = hs[oh]
        h1 = he[oh]
        dst = out[p, oh]
        for ox in range(OW):
            w0 = ws[ox]
            w1 = we[ox]
            m = dst.dtype.type(-np.inf)
            best = h0 * W + w0
            for b in range(h0, h1):
                row = x[p, b]
                for c in range(w0, w1):
                    val = row[c]
                    if val > m or val != val:
                        m = val
                        best = b * W + c
            dst[ox] = m
            if want_idx:
                idx[p, oh, ox] = best


# --------------------------------------------------------------------------
# Python-side selection
# --------------------------------------------------------------------------


def _to3(t, nd, fill):
    return (fill,) * (3 - nd) + tuple(t)


def _planes(p, x):
    """C-contiguous ``(P, D, H, W)`` view of the input in the compute dtype."""
    xc = np.ascontiguousarray(x, dtype=p.dtype)
    planes = p.batch * p.channels
    return xc.reshape((planes,) + _to3(p.in_spatial, p.nd, 1)), planes


def _row_block(planes_times_depth, rows):
    threads = num_threads()
    rb = split_blocks(rows, -(-4 * threads // max(1, planes_times_depth)))
    return max(1, min(rb, 64))


def _every_window_hits_input(p):
    """True when every window has an in-bounds tap on every axis (always with dilation 1)."""
    for L, k, s, pad, d, o in zip(p.in_spatial, p.kernel, p.stride, p.padding, p.dilation,
                                  p.out_spatial):
        start = np.arange(o)[:, None] * s - pad + np.arange(k)[None, :] * d
        if not ((start >= 0) & (start < L)).any(axis=1).all():
            return False
    return True


def max_pool(p, x, out):
    """``max_pool{nd}d``; ``out`` is the values array, or ``(values, indices)``."""
    xv, planes = _planes(p, x)
    vals, idx = out if p.return_indices else (out, None)
    if vals.size == 0:
        return out
    OD, OH, OW = _to3(p.out_spatial, p.nd, 1)
    ov = vals.reshape(planes, OD, OH, OW)
    kd, kh, kw = _to3(p.kernel, p.nd, 1)
    sd, sh, sw = _to3(p.stride, p.nd, 1)
    pd, ph, pw = _to3(p.padding, p.nd, 0)
    dd, dh, dw = _to3(p.dilation, p.nd, 1)
    rb = _row_block(planes * OD, OH)
    if idx is not None:
        oi = idx.reshape(planes, OD, OH, OW)
        if _every_window_hits_input(p):
            _max_idx_sep(xv, ov, oi, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, rb)
        else:  # some window lies wholly in the padding: torch's start-index rule
            _max_idx(xv, ov, oi, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw)
        return out
    if kd == 1 and (kh, kw, dh, dw) == (3, 3, 1, 1) and sd == 1:
        H, W = xv.shape[2], xv.shape[3]
        _max_3x3(xv.reshape(planes * xv.shape[1], H, W), ov.reshape(planes * OD, OH, OW),
                 sh, sw, ph, pw, rb)
        return out
    _max_sep(xv, ov, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, rb)
    return out


def avg_pool(p, x, out):
    """``avg_pool{nd}d`` into ``out``."""
    xv, planes = _planes(p, x)
    if out.size == 0:
        return out
    OD, OH, OW = _to3(p.out_spatial, p.nd, 1)
    ov = out.reshape(planes, OD, OH, OW)
    kd, kh, kw = _to3(p.kernel, p.nd, 1)
    sd, sh, sw = _to3(p.stride, p.nd, 1)
    pd, ph, pw = _to3(p.padding, p.nd, 0)
    divd, divh, divw = _avg_divisors(p, p.dtype)
    rb = _row_block(planes * OD, OH)
    if kd == 1 and (kh, kw) == (3, 3) and sd == 1:
        H, W = xv.shape[2], xv.shape[3]
        divh = np.ascontiguousarray(divh * divd[0])
        _avg_3x3(xv.reshape(planes * xv.shape[1], H, W), ov.reshape(planes * OD, OH, OW),
                 sh, sw, ph, pw, divh, divw, rb)
        return out
    _avg_sep(xv, ov, kd, kh, kw, sd, sh, sw, pd, ph, pw, divd, divh, divw, rb)
    return out


def _adaptive_setup(p, x):
    xc = np.ascontiguousarray(x, dtype=p.dtype)
    planes = p.batch * p.channels
    (H, W), (OH, OW) = p.in_spatial, p.out_spatial
    hs, he = _adaptive_tables(H, OH)
    ws, we = _adaptive_tables(W, OW)
    return xc.reshape(planes, H, W), planes, (hs, he, ws, we)


def adaptive_avg_pool(p, x, out):
    """``adaptive_avg_pool2d`` into ``out``."""
    if out.size == 0:
        return out
    xv, planes, tabs = _adaptive_setup(p, x)
    _adaptive_avg(xv, out.reshape((planes,) + p.out_spatial), *tabs)
    return out


def adaptive_max_pool(p, x, out):
    """``adaptive_max_pool2d``; ``out`` is the values array or ``(values, indices)``."""
    vals, idx = out if p.return_indices else (out, None)
    if vals.size == 0:
        return out
    xv, planes, tabs = _adaptive_setup(p, x)
    if idx is None:
        idx_arr = np.zeros((1, 1, 1), np.int64)  # not written
    else:
        idx_arr = idx.reshape((planes,) + p.out_spatial)
    _adaptive_max(xv, vals.reshape((planes,) + p.out_spatial), idx_arr, *tabs, idx is not None)
    return out
