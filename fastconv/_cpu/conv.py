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
        k0 = g * Kg + kbi * kb
        nk = min(g * Kg + Kg, k0 + kb) - k0
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


@njit(parallel=True, **NJIT_OPTS)
def _conv_rows_k3(x, w, b, out, sd, sh, sw, dd, dh, dw, mapd, maph, mapw, j0, j1, lo,
                  groups, kb, rb):
    """3x3 (x KD) taps fused for two output channels at a time: each accumulator
    row update carries 9 FMAs per channel and shares the 9 input loads, so the
    loop is FMA bound rather than load/store bound.  Stride 1 along W only
    (the caller picks `_conv_rows` otherwise)."""
    N = x.shape[0]
    K, Cg, KD, KH, KW = w.shape
    OD, OH, OW = out.shape[2], out.shape[3], out.shape[4]
    Kg = K // groups
    nkb = (Kg + kb - 1) // kb
    nrb = (OH + rb - 1) // rb
    Wp = OW + 2 * dw
    d2 = 2 * dw
    for t in prange(N * groups * nkb * OD * nrb):
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
        k0 = g * Kg + kbi * kb
        nk = min(g * Kg + Kg, k0 + kb) - k0
        xs = np.empty((Cg, KD, (nr - 1) * sh + 2 * dh + 1, Wp), dtype=out.dtype)
        _fill_tile(x, xs, n, g * Cg, od, oh0, sd, sh, dd, mapd, maph, mapw, j0, j1, lo)
        # Stride 1 along H: the rows of the tile are computed as one flat run
        # of L = (nr-1)*Wp + OW positions over the flattened scratch (the 2*dw
        # columns between rows are computed and dropped), so the slices are made
        # once per (channel, depth tap) and the vector loop is long.
        hstep = Wp * sh
        L = (nr - 1) * hstep + OW if sh == 1 else OW
        nrun = 1 if sh == 1 else nr
        acc = np.empty((nk, L), dtype=out.dtype)
        for r in range(nrun):
            _init_rows(acc, b, k0, L)
            for c in range(Cg):
                for kd in range(KD):
                    xf = xs[c, kd].reshape(-1)
                    o0 = r * hstep
                    o1 = o0 + dh * Wp
                    o2 = o0 + 2 * dh * Wp
                    p00 = xf[o0:o0 + L]
                    p01 = xf[o0 + dw:o0 + dw + L]
                    p02 = xf[o0 + d2:o0 + d2 + L]
                    p10 = xf[o1:o1 + L]
                    p11 = xf[o1 + dw:o1 + dw + L]
                    p12 = xf[o1 + d2:o1 + d2 + L]
                    p20 = xf[o2:o2 + L]
                    p21 = xf[o2 + dw:o2 + dw + L]
                    p22 = xf[o2 + d2:o2 + d2 + L]
                    for kk in range(0, nk, 2):
                        ka = k0 + kk
                        kz = ka + 1 if kk + 1 < nk else ka
                        a00 = w[ka, c, kd, 0, 0]
                        a01 = w[ka, c, kd, 0, 1]
                        a02 = w[ka, c, kd, 0, 2]
                        a10 = w[ka, c, kd, 1, 0]
                        a11 = w[ka, c, kd, 1, 1]
                        a12 = w[ka, c, kd, 1, 2]
                        a20 = w[ka, c, kd, 2, 0]
                        a21 = w[ka, c, kd, 2, 1]
                        a22 = w[ka, c, kd, 2, 2]
                        ra = acc[kk, 0:L]
                        if kz != ka:
                            b00 = w[kz, c, kd, 0, 0]
                            b01 = w[kz, c, kd, 0, 1]
                            b02 = w[kz, c, kd, 0, 2]
                            b10 = w[kz, c, kd, 1, 0]
                            b11 = w[kz, c, kd, 1, 1]
                            b12 = w[kz, c, kd, 1, 2]
                            b20 = w[kz, c, kd, 2, 0]
                            b21 = w[kz, c, kd, 2, 1]
                            b22 = w[kz, c, kd, 2, 2]
                            rz = acc[kk + 1, 0:L]
                            for i in range(L):
                                x00 = p00[i]
                                x01 = p01[i]
                                x02 = p02[i]
                                x10 = p10[i]
                                x11 = p11[i]
                                x12 = p12[i]
                                x20 = p20[i]
                                x21 = p21[i]
                                x22 = p22[i]
                                ra[i] += (a00 * x00 + a01 * x01 + a02 * x02
                                          + a10 * x10 + a11 * x11 + a12 * x12
                                          + a20 * x20 + a21 * x21 + a22 * x22)
                                rz[i] += (b00 * x00 + b01 * x01 + b02 * x02
                                          + b10 * x10 + b11 * x11 + b12 * x12
                                          + b20 * x20 + b21 * x21 + b22 * x22)
                        else:
                            for i in range(L):
                                ra[i] += (a00 * p00[i] + a01 * p01[i] + a02 * p02[i]
                                          + a10 * p10[i] + a11 * p11[i] + a12 * p12[i]
                                          + a20 * p20[i] + a21 * p21[i] + a22 * p22[i])
            if sh == 1:
                for rr in range(nr):
                    for kk in range(nk):
                        dst = out[n, k0 + kk, od, oh0 + rr, 0:OW]
                        a = acc[kk, rr * Wp:rr * Wp + OW]
                        for i in range(OW):
                            dst[i] = a[i]
            else:
                _store_rows(out, acc, n, k0, od, oh0 + r, OW)


@njit(parallel=True, **NJIT_OPTS)
def _conv_pointwise(x, w, b, out, kb, pb):
    """1x1 conv as a channel mix over flattened pixels: x (N, C, P), w (K, C).

    Four input channels are summed per accumulator update, so each load/store
    of the accumulator row carries four FMAs instead of one."""
    N, C, P = x.shape
    K = w.shape[0]
    nkb = (K + kb - 1) // kb
    npb = (P + pb - 1) // pb
    C4 = C - C % 4
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
        _init_rows(acc, b, k0, m)
        for c in range(0, C4, 4):
            s0 = x[n, c, p0:p0 + m]
            s1 = x[n, c + 1, p0:p0 + m]
            s2 = x[n, c + 2, p0:p0 + m]
            s3 = x[n, c + 3, p0:p0 + m]
            for kk in range(nk):
                w0 = w[k0 + kk, c]
                w1 = w[k0 + kk, c + 1]
                w2 = w[k0 + kk, c + 2]
                w3 = w[k0 + kk, c + 3]
                a = acc[kk, 0:m]
                for i in range(m):
                    a[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i]
        for c in range(C4, C):
            src = x[n, c, p0:p0 + m]
            for kk in range(nk):
                wv = w[k0 + kk, c]
                a = acc[kk, 0:m]
                for i in range(m):
                    a[i] += wv * src[i]
        for kk in range(nk):
            dst = out[n, k0 + kk, p0:p0 + m]
            a = acc[kk, 0:m]
            for i in range(m):
                dst[i] = a[i]


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


@njit(parallel=True, **NJIT_OPTS)
def _depthwise2d_3x3(x, w, b, out, sh, sw, dh, dw, maph, mapw, j0, j1, lo, rb):
    """Depthwise 3x3, stride 1 along W: all nine taps fused per output pixel."""
    N, C = x.shape[0], x.shape[1]
    K = w.shape[0]
    m = K // C
    OH, OW = out.shape[2], out.shape[3]
    nrb = (OH + rb - 1) // rb
    Wp = OW + 2 * dw
    d2 = 2 * dw
    for t in prange(N * C * nrb):
        rbi = t % nrb
        t2 = t // nrb
        c = t2 % C
        n = t2 // C
        oh0 = rbi * rb
        nr = min(OH, oh0 + rb) - oh0
        xs = np.empty(((nr - 1) * sh + 2 * dh + 1, Wp), dtype=out.dtype)
        _fill_plane(x[n, c], xs.reshape(-1), oh0 * sh, maph, mapw, j0, j1, lo)
        xf = xs.reshape(-1)
        acc = np.empty((nr - 1) * Wp * sh + OW, dtype=out.dtype)
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
            # stride 1 along H: one flat run over the tile (see _conv_rows_k3)
            hstep = Wp * sh
            L = (nr - 1) * hstep + OW if sh == 1 else OW
            for r in range(1 if sh == 1 else nr):
                o0 = r * hstep
                o1 = o0 + dh * Wp
                o2 = o0 + 2 * dh * Wp
                p00 = xf[o0:o0 + L]
                p01 = xf[o0 + dw:o0 + dw + L]
                p02 = xf[o0 + d2:o0 + d2 + L]
                p10 = xf[o1:o1 + L]
                p11 = xf[o1 + dw:o1 + dw + L]
                p12 = xf[o1 + d2:o1 + d2 + L]
                p20 = xf[o2:o2 + L]
                p21 = xf[o2 + dw:o2 + dw + L]
                p22 = xf[o2 + d2:o2 + d2 + L]
                a = acc[0:L]
                for i in range(L):
                    a[i] = (bv
                            + w00 * p00[i] + w01 * p01[i] + w02 * p02[i]
                            + w10 * p10[i] + w11 * p11[i] + w12 * p12[i]
                            + w20 * p20[i] + w21 * p21[i] + w22 * p22[i])
                if sh == 1:
                    for rr in range(nr):
                        dst = out[n, k, oh0 + rr, 0:OW]
                        src = acc[rr * Wp:rr * Wp + OW]
                        for i in range(OW):
                            dst[i] = src[i]
                else:
                    dst = out[n, k, oh0 + r, 0:OW]
                    for i in range(OW):
                        dst[i] = a[i]


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


def _interior(lo, size, length):
    """[j0, j1): padded coordinates whose source is the identity ``j - lo``."""
    j0 = min(max(lo, 0), length)
    j1 = max(j0, min(length, lo + size))
    return j0, j1


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
    OW = p.out_spatial[-1]
    # rows per task: enough tasks for every thread (4 per thread to balance),
    # and an accumulator run (rows x padded width) that stays in L1/L2.
    rb = split_blocks(OH, -(-4 * threads // outer))
    rb = max(1, min(rb, 2048 // max(1, OW + 2 * dw)))
    lo = p.pad_lo[-1]
    j0, j1 = _interior(lo, p.in_spatial[-1], mapw.shape[0])
    k3 = nd >= 2 and p.kernel[-2:] == (3, 3) and sw == 1
    kern = _conv_rows_k3 if k3 else _conv_rows
    kern(x5, w5, bc, o5, sd, sh, sw, dd, dh, dw, mapd, maph, mapw, j0, j1, lo, p.groups, kb, rb)
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
    OW = p.out_spatial[-1]
    rb = split_blocks(OH, -(-4 * threads // (n * p.in_channels)))
    rb = max(1, min(rb, 8192 // max(1, (OW + (p.kernel[1] - 1) * dw) * sh)))
    kern = _depthwise2d_3x3 if p.kernel == (3, 3) and sw == 1 else _depthwise2d
    lo = p.pad_lo[-1]
    j0, j1 = _interior(lo, p.in_spatial[-1], mapw.shape[0])
    kern(x4, w3, bc, o4, sh, sw, dh, dw, maph, mapw, j0, j1, lo, rb)
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
