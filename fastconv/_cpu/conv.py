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
``_depthwise2d`` / ``_depthwise2d_3x3``
    ``groups == C`` with one input channel per group: each task pads one
    plane's row block into scratch and fuses all taps per output row.

Kernel choice happens in :func:`conv` (Python), from the params object, so
faster micro-kernels slot in without touching the public API.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ._common import NJIT_OPTS, pad_index_map, split_blocks


@njit(parallel=True, **NJIT_OPTS)
def _conv_rows(x, w, b, out, sd, sh, sw, dd, dh, dw, mapd, maph, mapw, groups, kb, rb):
    N, C, D, H, W = x.shape
    K, Cg, KD, KH, KW = w.shape
    OD, OH, OW = out.shape[2], out.shape[3], out.shape[4]
    Kg = K // groups
    nkb = (Kg + kb - 1) // kb
    nrb = (OH + rb - 1) // rb
    Wp = (OW - 1) * sw + (KW - 1) * dw + 1
    ntask = N * groups * nkb * OD * nrb
    for t in prange(ntask):
        rbi = t % nrb
        t2 = t // nrb
        od = t2 % OD
        t2 //= OD
        kbi = t2 % nkb
        t2 //= nkb
        g = t2 % groups
        n = t2 // groups
        oh0 = rbi * rb
        nr = min(OH, oh0 + rb) - oh0
        nrows = (nr - 1) * sh + (KH - 1) * dh + 1
        k0 = g * Kg + kbi * kb
        nk = min(g * Kg + Kg, k0 + kb) - k0
        # gather the padded input rows of this task
        xs = np.empty((Cg, KD, nrows, Wp), dtype=out.dtype)
        for c in range(Cg):
            ci = g * Cg + c
            for kd in range(KD):
                idd = mapd[od * sd + kd * dd]
                for r in range(nrows):
                    ih = maph[oh0 * sh + r]
                    dst = xs[c, kd, r]
                    if idd < 0 or ih < 0:
                        dst[:] = 0
                    else:
                        src = x[n, ci, idd, ih]
                        for j in range(Wp):
                            iw = mapw[j]
                            if iw >= 0:
                                dst[j] = src[iw]
                            else:
                                dst[j] = 0
        acc = np.empty((nk, OW), dtype=out.dtype)
        for r in range(nr):
            for kk in range(nk):
                bv = b[k0 + kk]
                for ox in range(OW):
                    acc[kk, ox] = bv
            for c in range(Cg):
                for kd in range(KD):
                    for kh in range(KH):
                        row = xs[c, kd, r * sh + kh * dh]
                        for kw in range(KW):
                            off = kw * dw
                            for kk in range(nk):
                                wv = w[k0 + kk, c, kd, kh, kw]
                                a = acc[kk]
                                if sw == 1:
                                    seg = row[off:off + OW]
                                    for ox in range(OW):
                                        a[ox] += wv * seg[ox]
                                else:
                                    for ox in range(OW):
                                        a[ox] += wv * row[off + ox * sw]
            for kk in range(nk):
                dst = out[n, k0 + kk, od, oh0 + r]
                a = acc[kk]
                for ox in range(OW):
                    dst[ox] = a[ox]


@njit(parallel=True, **NJIT_OPTS)
def _conv_pointwise(x, w, b, out, kb, pb):
    # x (N, C, P), w (K, C), out (N, K, P)
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
        np_ = min(P, p0 + pb) - p0
        k0 = kbi * kb
        nk = min(K, k0 + kb) - k0
        acc = np.empty((nk, np_), dtype=out.dtype)
        for kk in range(nk):
            bv = b[k0 + kk]
            for p in range(np_):
                acc[kk, p] = bv
        for c in range(C):
            src = x[n, c, p0:p0 + np_]
            for kk in range(nk):
                wv = w[k0 + kk, c]
                a = acc[kk]
                for p in range(np_):
                    a[p] += wv * src[p]
        for kk in range(nk):
            dst = out[n, k0 + kk, p0:p0 + np_]
            a = acc[kk]
            for p in range(np_):
                dst[p] = a[p]


@njit(**NJIT_OPTS)
def _fill_plane_rows(src, xs, oh0, sh, maph, mapw):
    """xs[r, j] = padded(src)[oh0*sh + r, j] through the index maps."""
    nrows, Wp = xs.shape
    for r in range(nrows):
        ih = maph[oh0 * sh + r]
        dst = xs[r]
        if ih < 0:
            dst[:] = 0
        else:
            srow = src[ih]
            for j in range(Wp):
                iw = mapw[j]
                if iw >= 0:
                    dst[j] = srow[iw]
                else:
                    dst[j] = 0


@njit(parallel=True, **NJIT_OPTS)
def _depthwise2d(x, w, b, out, sh, sw, dh, dw, maph, mapw, rb):
    # x (N, C, H, W), w (C*m, KH, KW), out (N, C*m, OH, OW)
    N, C, H, W = x.shape
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
        nrows = (nr - 1) * sh + (KH - 1) * dh + 1
        xs = np.empty((nrows, Wp), dtype=out.dtype)
        _fill_plane_rows(x[n, c], xs, oh0, sh, maph, mapw)
        acc = np.empty(OW, dtype=out.dtype)
        for j in range(m):
            k = c * m + j
            bv = b[k]
            for r in range(nr):
                for ox in range(OW):
                    acc[ox] = bv
                for kh in range(KH):
                    row = xs[r * sh + kh * dh]
                    for kw in range(KW):
                        wv = w[k, kh, kw]
                        off = kw * dw
                        if sw == 1:
                            seg = row[off:off + OW]
                            for ox in range(OW):
                                acc[ox] += wv * seg[ox]
                        else:
                            for ox in range(OW):
                                acc[ox] += wv * row[off + ox * sw]
                dst = out[n, k, oh0 + r]
                for ox in range(OW):
                    dst[ox] = acc[ox]


@njit(parallel=True, **NJIT_OPTS)
def _depthwise2d_3x3(x, w, b, out, sh, sw, dh, dw, maph, mapw, rb):
    # all nine taps fused in one expression per output pixel
    N, C, H, W = x.shape
    K = w.shape[0]
    m = K // C
    OH, OW = out.shape[2], out.shape[3]
    nrb = (OH + rb - 1) // rb
    Wp = (OW - 1) * sw + 2 * dw + 1
    for t in prange(N * C * nrb):
        rbi = t % nrb
        t2 = t // nrb
        c = t2 % C
        n = t2 // C
        oh0 = rbi * rb
        nr = min(OH, oh0 + rb) - oh0
        nrows = (nr - 1) * sh + 2 * dh + 1
        xs = np.empty((nrows, Wp), dtype=out.dtype)
        _fill_plane_rows(x[n, c], xs, oh0, sh, maph, mapw)
        for j in range(m):
            k = c * m + j
            w00 = w[k, 0, 0]
            w01 = w[k, 0, 1]
            w02 = w[k, 0, 2]
            w10 = w[k, 1, 0]
            w11 = w[k, 1, 1]
            w12 = w[k, 1, 2]
            w20 = w[k, 2, 0]
            w21 = w[k, 2, 1]
            w22 = w[k, 2, 2]
            bv = b[k]
            for r in range(nr):
                r0 = xs[r * sh]
                r1 = xs[r * sh + dh]
                r2 = xs[r * sh + 2 * dh]
                dst = out[n, k, oh0 + r]
                if sw == 1:
                    for ox in range(OW):
                        dst[ox] = (
                            bv
                            + w00 * r0[ox] + w01 * r0[ox + dw] + w02 * r0[ox + 2 * dw]
                            + w10 * r1[ox] + w11 * r1[ox + dw] + w12 * r1[ox + 2 * dw]
                            + w20 * r2[ox] + w21 * r2[ox + dw] + w22 * r2[ox + 2 * dw]
                        )
                else:
                    for ox in range(OW):
                        i = ox * sw
                        dst[ox] = (
                            bv
                            + w00 * r0[i] + w01 * r0[i + dw] + w02 * r0[i + 2 * dw]
                            + w10 * r1[i] + w11 * r1[i + dw] + w12 * r1[i + 2 * dw]
                            + w20 * r2[i] + w21 * r2[i + dw] + w22 * r2[i + 2 * dw]
                        )


# --------------------------------------------------------------------------
# Python-side selection
# --------------------------------------------------------------------------


def _to5(shape_sp, nd):
    return (1,) * (3 - nd) + tuple(shape_sp)


def _maps(p):
    """Per-axis padded-index maps (5-D order D, H, W), truncated to what is read."""
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
    return maps


def _bias(b, k, dtype):
    if b is None:
        return np.zeros(k, dtype)
    return np.ascontiguousarray(b, dtype=dtype)


def conv(p, x, w, b, out):
    """Compute conv{nd}d into ``out`` (C-contiguous, shape ``p.out_shape``)."""
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
    threads = numba.get_num_threads()
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
    rb = split_blocks(OH, -(-4 * threads // outer))
    rb = min(rb, 16)
    _conv_rows(x5, w5, bc, o5, sd, sh, sw, dd, dh, dw, mapd, maph, mapw, p.groups, kb, rb)
    return out


def depthwise(p, xc, wc, bc, out):
    """Depthwise 2-D conv (``groups == C``, weight ``(C*m, 1, kh, kw)``)."""
    n = p.batch
    x4 = xc.reshape((n, p.in_channels) + p.in_spatial)
    o4 = out.reshape((n, p.out_channels) + p.out_spatial)
    w3 = wc.reshape((p.out_channels,) + p.kernel)
    _, maph, mapw = _maps(p)
    sh, sw = p.stride
    dh, dw = p.dilation
    threads = numba.get_num_threads()
    OH = p.out_spatial[0]
    rb = split_blocks(OH, -(-4 * threads // (n * p.in_channels)))
    rb = min(rb, 32)
    kern = _depthwise2d_3x3 if p.kernel == (3, 3) else _depthwise2d
    kern(x4, w3, bc, o4, sh, sw, dh, dw, maph, mapw, rb)
    return out


def separable(params, x, dw, pw, b, out):
    """Depthwise then pointwise; the intermediate is one ``(N, C*m, H_out, W_out)`` array."""
    import dataclasses

    dwp, pwp = params
    dwp = dataclasses.replace(dwp, dtype=pwp.dtype)
    mid = np.empty(dwp.out_shape, pwp.dtype)
    conv(dwp, x, dw, None, mid)
    pw4 = np.asarray(pw).reshape(pwp.out_channels, pwp.in_channels, 1, 1)
    conv(pwp, mid, pw4, b, out)
    return out
