"""CUDA transposed convolution (numba.cuda), written as a gather (no atomics, no races).

conv_transpose1d/2d/3d are viewed as 5-D ``(N, C, D, H, W)`` with unit axes,
as on the CPU.  Along one axis with stride ``s``, padding ``p``, dilation
``d``, output ``o`` receives tap ``k`` from input ``i = (o + p - k*d) / s``
when that is an integer in ``[0, L)``.

``_tconv`` computes one output element per thread (grid-stride over the
flattened output, consecutive threads on consecutive output columns so the
stores coalesce), keeps one accumulator of the compute dtype and loops over
the taps that hit an input sample, then over the group's input channels.
Every output element is written exactly once by one thread: deterministic.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from . import _launch
from ._common import bias_or_zeros, empty, to5, to_device, view, view_or_copy


@cuda.jit(cache=True)
def _tconv(x, w, b, out, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups):
    C = x.shape[1]
    D = x.shape[2]
    H = x.shape[3]
    W = x.shape[4]
    Kg = w.shape[1]
    KD = w.shape[2]
    KH = w.shape[3]
    KW = w.shape[4]
    K = out.shape[1]
    OD = out.shape[2]
    OH = out.shape[3]
    OW = out.shape[4]
    Cg = C // groups
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
        j = k - g * Kg
        acc[0] = b[k]
        for kd in range(KD):
            td = od + pd - kd * dd
            if td < 0 or td % sd != 0:
                continue
            i_d = td // sd
            if i_d >= D:
                continue
            for kh in range(KH):
                th = oh + ph - kh * dh
                if th < 0 or th % sh != 0:
                    continue
                i_h = th // sh
                if i_h >= H:
                    continue
                for kw in range(KW):
                    tw = ow + pw - kw * dw
                    if tw < 0 or tw % sw != 0:
                        continue
                    i_w = tw // sw
                    if i_w >= W:
                        continue
                    for c in range(Cg):
                        ci = g * Cg + c
                        acc[0] += w[ci, j, kd, kh, kw] * x[n, ci, i_d, i_h, i_w]
        out[n, k, od, oh, ow] = acc[0]


KERNELS = {"_tconv": _tconv}


def signatures(dt):
    from numba import types

    a5 = types.Array(dt, 5, "C")
    i = types.int64
    return {"_tconv": (_tconv, (a5, a5, types.Array(dt, 1, "C"), a5) + (i,) * 10)}


def conv_transpose(p, x, w, b, out=None, stream=0):
    """conv_transpose{nd}d of device arrays into ``out`` (allocated when None)."""
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
    sd, sh, sw = to5(p.stride, p.nd)
    pd, ph, pw = (0,) * (3 - p.nd) + tuple(p.padding)
    dd, dh, dw = to5(p.dilation, p.nd)
    blocks, threads = _launch.grid_1d(o5.size)
    _tconv[blocks, threads, stream](x5, w5, bd, o5, sd, sh, sw, pd, ph, pw, dd, dh, dw, p.groups)
    return out
