"""CUDA convolution kernels (numba.cuda) and their launchers.

Same formulation as the CPU backend: conv1d/2d/3d are viewed as 5-D
``(N, C, D, H, W)`` with unit axes, and every ``padding_mode`` is implemented
by per-axis index maps (source index of each padded coordinate, ``-1`` =
zero) copied once to the device and cached.

Kernels
-------
``_conv_tiled``
    The workhorse.  A block owns a tile of ``blockDim.x`` output columns x
    ``blockDim.y`` output rows for up to ``KB = 4`` output channels of one
    (batch, group, depth) slice; each thread keeps ``KB`` accumulators in
    registers (compute dtype, explicitly typed).  For each depth tap and chunk
    of up to ``MAX_CHANNELS`` input channels (as many as fit the shared-memory
    budget) the block stages the padded input patches the tile reads and the
    matching ``KB x KH x KW`` weights in dynamic shared memory (coalesced
    along ``W``), synchronises once, and every thread runs all taps of the
    chunk from shared memory.  Block-stride loop over tiles.  Serves dense,
    grouped, depthwise (``kb = 1``) and 1x1.
``_conv_direct``
    One output element per thread, grid-stride, taps read straight from
    global memory.  Used when a tile's patch would not fit the shared-memory
    budget (huge dilation/stride).

All kernels take device arrays and integers only; accumulators are
``cuda.local.array(n, out.dtype)`` with constant ``n`` (promoted to
registers), so float32 sums stay float32 and float64 stay float64.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numba import cuda

from . import _launch
from ._common import bias_or_zeros, empty, index_map, to5, to_device, view, view_or_copy

KB = 4  # output channels per thread in _conv_tiled (register tile)


@cuda.jit(cache=True)
def _conv_tiled(x, w, b, out, mapd, maph, mapw, sd, sh, sw, dd, dh, dw, groups, kb, cc, KH, KW):
    # x (N, C, D, H, W); w (K, C/groups, KD, KH*KW); out (N, K, OD, OH, OW)
    K = w.shape[0]
    Cg = w.shape[1]
    KD = w.shape[2]
    OD = out.shape[2]
    OH = out.shape[3]
    OW = out.shape[4]
    LH = maph.shape[0]
    LW = mapw.shape[0]
    Kg = K // groups
    KHW = KH * KW
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    TX = cuda.blockDim.x
    TY = cuda.blockDim.y
    tid = ty * TX + tx
    nthr = TX * TY
    ntx = (OW + TX - 1) // TX
    nty = (OH + TY - 1) // TY
    nkb = (Kg + kb - 1) // kb
    PW = (TX - 1) * sw + (KW - 1) * dw + 1
    PH = (TY - 1) * sh + (KH - 1) * dh + 1
    npatch = PH * PW
    wbase = cc * npatch
    # dynamic shared memory: [cc input patches | cc x KB x KH*KW weights]
    smem = cuda.shared.array(0, dtype=out.dtype)
    acc = cuda.local.array(KB, dtype=out.dtype)
    ntiles = x.shape[0] * groups * nkb * OD * nty * ntx
    for t in range(cuda.blockIdx.x, ntiles, cuda.gridDim.x):
        bx = t % ntx
        t2 = t // ntx
        by = t2 % nty
        t2 //= nty
        od = t2 % OD
        t2 //= OD
        kbi = t2 % nkb
        t2 //= nkb
        g = t2 % groups
        n = t2 // groups
        ow0 = bx * TX
        oh0 = by * TY
        k0 = g * Kg + kbi * kb
        nk = min(g * Kg + Kg, k0 + kb) - k0
        active = ty < OH - oh0 and tx < OW - ow0
        for i in range(KB):
            acc[i] = b[k0 + min(i, nk - 1)]
        for kd in range(KD):
            idd = mapd[od * sd + kd * dd]
            for c0 in range(0, Cg, cc):
                nc = min(cc, Cg - c0)
                # stage the padded input patches of nc channels (coalesced along W) ...
                for c in range(nc):
                    ci = g * Cg + c0 + c
                    pb = c * npatch
                    for r in range(ty, PH, TY):
                        gr = oh0 * sh + r
                        ih = -1
                        if idd >= 0 and gr < LH:
                            ih = maph[gr]
                        for j in range(tx, PW, TX):
                            gc = ow0 * sw + j
                            smem[pb + r * PW + j] = 0
                            if ih >= 0 and gc < LW:
                                iw = mapw[gc]
                                if iw >= 0:
                                    smem[pb + r * PW + j] = x[n, ci, idd, ih, iw]
                # ... and their weights for the tile's output channels (zero past nk)
                for c in range(nc):
                    for i in range(KB):
                        wb = wbase + (c * KB + i) * KHW
                        for r in range(tid, KHW, nthr):
                            smem[wb + r] = 0
                            if i < nk:
                                smem[wb + r] = w[k0 + i, c0 + c, kd, r]
                cuda.syncthreads()
                if active:
                    for c in range(nc):
                        pb = c * npatch + tx * sw
                        wb = wbase + c * KB * KHW
                        for kh in range(KH):
                            base = pb + (ty * sh + kh * dh) * PW
                            wrow = wb + kh * KW
                            for kw in range(KW):
                                v = smem[base + kw * dw]
                                for i in range(KB):
                                    if i < nk:
                                        acc[i] += smem[wrow + i * KHW + kw] * v
                cuda.syncthreads()
        if active:
            oh = oh0 + ty
            ow = ow0 + tx
            for i in range(KB):
                if i < nk:
                    out[n, k0 + i, od, oh, ow] = acc[i]


@cuda.jit(cache=True)
def _conv_direct(x, w, b, out, mapd, maph, mapw, sd, sh, sw, dd, dh, dw, groups):
    K = w.shape[0]
    Cg = w.shape[1]
    KD = w.shape[2]
    KH = w.shape[3]
    KW = w.shape[4]
    OD = out.shape[2]
    OH = out.shape[3]
    OW = out.shape[4]
    Kg = K // groups
    total = out.shape[0] * K * OD * OH * OW
    acc = cuda.local.array(1, dtype=out.dtype)
    for idx in range(cuda.grid(1), total, cuda.gridsize(1)):
        ow = idx % OW
        t = idx // OW
        oh = t % OH
        t //= OH
        od = t % OD
        t //= OD
        k = t % K
        n = t // K
        g = k // Kg
        acc[0] = b[k]
        for c in range(Cg):
            ci = g * Cg + c
            for kd in range(KD):
                idd = mapd[od * sd + kd * dd]
                if idd < 0:
                    continue
                for kh in range(KH):
                    ih = maph[oh * sh + kh * dh]
                    if ih < 0:
                        continue
                    for kw in range(KW):
                        iw = mapw[ow * sw + kw * dw]
                        if iw >= 0:
                            acc[0] += w[k, c, kd, kh, kw] * x[n, ci, idd, ih, iw]
        out[n, k, od, oh, ow] = acc[0]


KERNELS = {"_conv_tiled": _conv_tiled, "_conv_direct": _conv_direct}


def signatures(dt):
    """``{name: (kernel, argtypes)}`` of the specialisations launched for compute dtype ``dt``.

    (C-contiguous operands; strided views compile further 'A'-layout variants lazily.)
    """
    from numba import types

    a5 = types.Array(dt, 5, "C")
    m = types.Array(types.int32, 1, "C")
    b = types.Array(dt, 1, "C")
    i = types.int64
    common = (a5, a5, b, a5, m, m, m) + (i,) * 7
    tiled = (a5, types.Array(dt, 4, "C"), b, a5, m, m, m) + (i,) * 11
    return {"_conv_tiled": (_conv_tiled, tiled), "_conv_direct": (_conv_direct, common)}


# --------------------------------------------------------------------------
# launchers
# --------------------------------------------------------------------------


def _maps(p, stream):
    ins = to5(p.in_spatial, p.nd)
    lo = (0,) * (3 - p.nd) + tuple(p.pad_lo)
    hi = (0,) * (3 - p.nd) + tuple(p.pad_hi)
    ks, ss, ds, outs = (to5(v, p.nd) for v in (p.kernel, p.stride, p.dilation, p.out_spatial))
    maps = []
    for ax in range(3):
        need = (outs[ax] - 1) * ss[ax] + (ks[ax] - 1) * ds[ax] + 1
        maps.append(index_map(ins[ax], lo[ax], hi[ax], p.padding_mode, need, stream))
    return maps


def _channel_bytes(p, tile):
    """Shared memory one input channel of a tile needs: its patch + KB x KH x KW weights."""
    _, kh, kw = to5(p.kernel, p.nd)
    _, sh, sw = to5(p.stride, p.nd)
    _, dh, dw = to5(p.dilation, p.nd)
    ph = (tile[1] - 1) * sh + (kh - 1) * dh + 1
    pw = (tile[0] - 1) * sw + (kw - 1) * dw + 1
    return (ph * pw + KB * kh * kw) * np.dtype(p.dtype).itemsize


MAX_CHANNELS = 8  # input channels staged per barrier pair in _conv_tiled


def plan(p):
    """``(kernel name, kb, cc)`` the launcher picks for conv params ``p`` (tests/reports).

    ``kb``: output channels per thread (1 for depthwise-like groups); ``cc``:
    input channels staged in shared memory per ``syncthreads`` pair, as many
    as fit the budget (up to ``MAX_CHANNELS``); none fit -> the direct kernel.
    """
    per = _channel_bytes(p, _launch.tile_shape())
    cg = p.in_channels // p.groups
    cc = min(cg, MAX_CHANNELS, _launch.shared_limit() // per)
    if cc < 1:
        return "_conv_direct", 1, 0
    kg = p.out_channels // p.groups
    return "_conv_tiled", (1 if kg < 3 else min(KB, kg)), cc


def conv(p, x, w, b, out=None, stream=0):
    """conv{nd}d of device arrays into ``out`` (a device array of ``p.out_shape``; allocated if None)."""
    dt = np.dtype(p.dtype)
    if out is None:
        out = empty(p.out_shape, dt, stream)
    if out.size == 0:
        return out
    n = p.batch
    x5 = view_or_copy(x, (n, p.in_channels) + to5(p.in_spatial, p.nd), stream)
    w = to_device(w, dt, stream)
    w5 = view(w, tuple(w.shape[:2]) + to5(p.kernel, p.nd))
    o5 = view(out, (n, p.out_channels) + to5(p.out_spatial, p.nd))
    bd = bias_or_zeros(b, p.out_channels, dt, stream)
    mapd, maph, mapw = _maps(p, stream)
    sd, sh, sw = to5(p.stride, p.nd)
    dd, dh, dw = to5(p.dilation, p.nd)
    name, kb, cc = plan(p)
    if name == "_conv_direct":
        blocks, threads = _launch.grid_1d(o5.size)
        _conv_direct[blocks, threads, stream](
            x5, w5, bd, o5, mapd, maph, mapw, sd, sh, sw, dd, dh, dw, p.groups
        )
        return out
    tile = _launch.tile_shape()
    OD, OH, OW = to5(p.out_spatial, p.nd)
    kg = p.out_channels // p.groups
    ntiles = n * p.groups * (-(-kg // kb)) * OD * (-(-OH // tile[1])) * (-(-OW // tile[0]))
    blocks, threads = _launch.grid_tiles(ntiles)
    smem = cc * _channel_bytes(p, tile)
    _, KH, KW = to5(p.kernel, p.nd)
    w4 = view_or_copy(w5, tuple(w5.shape[:3]) + (KH * KW,), stream)
    _conv_tiled[blocks, threads, stream, smem](
        x5, w4, bd, o5, mapd, maph, mapw, sd, sh, sw, dd, dh, dw, p.groups, kb, cc, KH, KW
    )
    return out


def separable(params, x, dw, pw, b, out=None, stream=0):
    """Depthwise then pointwise; the intermediate is one device array of the depthwise output."""
    dwp, pwp = params
    dt = np.dtype(pwp.dtype)
    dwp = dataclasses.replace(dwp, dtype=dt)
    if out is None:
        out = empty(pwp.out_shape, dt, stream)
    mid = empty(dwp.out_shape, dt, stream)
    conv(dwp, x, dw, None, mid, stream)
    pw = to_device(pw, dt, stream)
    pw4 = view(pw, (pwp.out_channels, pwp.in_channels, 1, 1))
    conv(pwp, mid, pw4, b, out, stream)
    return out
