"""CUDA pooling kernels (numba.cuda) and launchers.

Every rank is viewed as 4-D ``(P, D, H, W)`` with ``P = N*C`` planes, as on
the CPU.  Pooling is memory-bound: one output element per thread, grid-stride
over the flattened output (consecutive threads -> consecutive output columns,
so loads and stores coalesce along ``W``), the window scanned straight from
global memory (neighbouring threads share rows through L1/L2; a shared-memory
tile does not pay for windows this small).

Semantics follow the CPU kernels exactly: torch's window order (depth, row,
column), the NaN-propagating max (``v > m or v != v``), first maximum on ties,
flat per-plane indices, and the average divisors from the same per-axis
tables as the CPU backend.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from . import _launch
from ._common import cached_table, empty, view, view_or_copy

# Pure-Python table builders shared with the CPU backend (no second copy of
# the divisor / adaptive-window rules).
from .._tables import _adaptive_tables, _avg_divisors


@cuda.jit(cache=True)
def _max_pool(x, out, idx, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, with_idx):
    P, D, H, W = x.shape
    OD = out.shape[1]
    OH = out.shape[2]
    OW = out.shape[3]
    total = P * OD * OH * OW
    m = cuda.local.array(1, dtype=out.dtype)
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        ox = i % OW
        t = i // OW
        oh = t % OH
        t //= OH
        od = t % OD
        p = t // OD
        d0 = od * sd - pd
        h0 = oh * sh - ph
        w0 = ox * sw - pw
        m[0] = -math.inf
        best = -1
        for a in range(kd):
            di = d0 + a * dd
            if di < 0 or di >= D:
                continue
            for b in range(kh):
                hi = h0 + b * dh
                if hi < 0 or hi >= H:
                    continue
                for c in range(kw):
                    wi = w0 + c * dw
                    if wi < 0 or wi >= W:
                        continue
                    v = x[p, di, hi, wi]
                    if best < 0 or v > m[0] or v != v:
                        m[0] = v
                        best = (di * H + hi) * W + wi
        out[p, od, oh, ox] = m[0]
        if with_idx:
            idx[p, od, oh, ox] = best


@cuda.jit(cache=True)
def _avg_pool(x, out, divd, divh, divw, kd, kh, kw, sd, sh, sw, pd, ph, pw):
    P, D, H, W = x.shape
    OD = out.shape[1]
    OH = out.shape[2]
    OW = out.shape[3]
    total = P * OD * OH * OW
    s = cuda.local.array(1, dtype=out.dtype)
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        ox = i % OW
        t = i // OW
        oh = t % OH
        t //= OH
        od = t % OD
        p = t // OD
        d0 = od * sd - pd
        h0 = oh * sh - ph
        w0 = ox * sw - pw
        s[0] = 0
        for di in range(max(d0, 0), min(d0 + kd, D)):
            for hi in range(max(h0, 0), min(h0 + kh, H)):
                for wi in range(max(w0, 0), min(w0 + kw, W)):
                    s[0] += x[p, di, hi, wi]
        out[p, od, oh, ox] = s[0] / (divd[od] * divh[oh] * divw[ox])


@cuda.jit(cache=True)
def _adaptive_pool(x, out, idx, hs, he, ws, we, is_max, with_idx):
    P, H, W = x.shape
    OH = out.shape[1]
    OW = out.shape[2]
    total = P * OH * OW
    m = cuda.local.array(1, dtype=out.dtype)
    cnt = cuda.local.array(2, dtype=out.dtype)
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        ox = i % OW
        t = i // OW
        oh = t % OH
        p = t // OH
        h0 = hs[oh]
        h1 = he[oh]
        w0 = ws[ox]
        w1 = we[ox]
        if is_max:
            m[0] = -math.inf
            best = h0 * W + w0
            for b in range(h0, h1):
                for c in range(w0, w1):
                    v = x[p, b, c]
                    if v > m[0] or v != v:
                        m[0] = v
                        best = b * W + c
            out[p, oh, ox] = m[0]
            if with_idx:
                idx[p, oh, ox] = best
        else:
            m[0] = 0
            for b in range(h0, h1):
                for c in range(w0, w1):
                    m[0] += x[p, b, c]
            cnt[0] = h1 - h0
            cnt[1] = w1 - w0
            out[p, oh, ox] = m[0] / cnt[0] / cnt[1]


KERNELS = {"_max_pool": _max_pool, "_avg_pool": _avg_pool, "_adaptive_pool": _adaptive_pool}


def signatures(dt):
    from numba import types

    a4 = types.Array(dt, 4, "C")
    a3 = types.Array(dt, 3, "C")
    i4 = types.Array(types.int64, 4, "C")
    i3 = types.Array(types.int64, 3, "C")
    t = types.Array(types.int64, 1, "C")
    v = types.Array(dt, 1, "C")
    i = types.int64
    return {
        "_max_pool": (_max_pool, (a4, a4, i4) + (i,) * 12 + (types.boolean,)),
        "_avg_pool": (_avg_pool, (a4, a4, v, v, v) + (i,) * 9),
        "_adaptive_pool": (_adaptive_pool, (a3, a3, i3, t, t, t, t, types.boolean,
                                            types.boolean)),
    }


# --------------------------------------------------------------------------
# launchers
# --------------------------------------------------------------------------


def _to3(t, nd, fill):
    return (fill,) * (3 - nd) + tuple(t)


def _planes(p):
    return p.batch * p.channels


def _launch1d(n):
    return _launch.grid_1d(n)


def _dummy_idx(ndim, stream):
    return cached_table(("idx-dummy", ndim), lambda: np.zeros((1,) * ndim, np.int64), stream)


def max_pool(p, x, out=None, stream=0):
    """``max_pool{nd}d``; ``out`` is the values array, or ``(values, indices)``."""
    if out is None:
        out = empty(p.out_shape, p.dtype, stream)
        if p.return_indices:
            out = (out, empty(p.out_shape, np.int64, stream))
    vals, idx = out if p.return_indices else (out, None)
    if vals.size == 0:
        return out
    planes = _planes(p)
    outs = (planes,) + _to3(p.out_spatial, p.nd, 1)
    xv = view_or_copy(x, (planes,) + _to3(p.in_spatial, p.nd, 1), stream)
    ov = view(vals, outs)
    iv = view(idx, outs) if idx is not None else _dummy_idx(4, stream)
    kd, kh, kw = _to3(p.kernel, p.nd, 1)
    sd, sh, sw = _to3(p.stride, p.nd, 1)
    pd, ph, pw = _to3(p.padding, p.nd, 0)
    dd, dh, dw = _to3(p.dilation, p.nd, 1)
    blocks, threads = _launch1d(ov.size)
    _max_pool[blocks, threads, stream](xv, ov, iv, kd, kh, kw, sd, sh, sw, pd, ph, pw,
                                       dd, dh, dw, idx is not None)
    return out


def avg_pool(p, x, out=None, stream=0):
    """``avg_pool{nd}d`` into ``out``."""
    dt = np.dtype(p.dtype)
    if out is None:
        out = empty(p.out_shape, dt, stream)
    if out.size == 0:
        return out
    planes = _planes(p)
    xv = view_or_copy(x, (planes,) + _to3(p.in_spatial, p.nd, 1), stream)
    ov = view(out, (planes,) + _to3(p.out_spatial, p.nd, 1))
    facs = _avg_divisors(p, dt)
    key = ("avgdiv", p.in_spatial, p.kernel, p.stride, p.padding, p.out_spatial,
           p.count_include_pad, p.divisor_override, dt.str)
    divd, divh, divw = (cached_table(key + (ax,), lambda f=f: f, stream)
                        for ax, f in enumerate(facs))
    kd, kh, kw = _to3(p.kernel, p.nd, 1)
    sd, sh, sw = _to3(p.stride, p.nd, 1)
    pd, ph, pw = _to3(p.padding, p.nd, 0)
    blocks, threads = _launch1d(ov.size)
    _avg_pool[blocks, threads, stream](xv, ov, divd, divh, divw, kd, kh, kw, sd, sh, sw,
                                       pd, ph, pw)
    return out


def _adaptive(p, x, out, is_max, stream):
    dt = np.dtype(p.dtype)
    with_idx = bool(is_max and p.return_indices)
    if out is None:
        out = empty(p.out_shape, dt, stream)
        if with_idx:
            out = (out, empty(p.out_shape, np.int64, stream))
    vals, idx = out if with_idx else (out, None)
    if vals.size == 0:
        return out
    planes = _planes(p)
    (H, W), (OH, OW) = p.in_spatial, p.out_spatial
    xv = view_or_copy(x, (planes, H, W), stream)
    ov = view(vals, (planes, OH, OW))
    iv = view(idx, (planes, OH, OW)) if idx is not None else _dummy_idx(3, stream)
    hs, he = (cached_table(("adapt", H, OH, k), lambda a=a: a, stream)
              for k, a in enumerate(_adaptive_tables(H, OH)))
    ws, we = (cached_table(("adapt", W, OW, k), lambda a=a: a, stream)
              for k, a in enumerate(_adaptive_tables(W, OW)))
    blocks, threads = _launch1d(ov.size)
    _adaptive_pool[blocks, threads, stream](xv, ov, iv, hs, he, ws, we, is_max, with_idx)
    return out


def adaptive_avg_pool(p, x, out=None, stream=0):
    """``adaptive_avg_pool2d`` into ``out``."""
    return _adaptive(p, x, out, False, stream)


def adaptive_max_pool(p, x, out=None, stream=0):
    """``adaptive_max_pool2d``; ``out`` is the values array or ``(values, indices)``."""
    return _adaptive(p, x, out, True, stream)
