"""CUDA interpolation (numba.cuda): every mode as a separable table gather.

The per-axis tables -- source index ``idx[tap, o]`` and weight ``w[tap, o]``
(1 tap nearest, 2 linear, 4 clamped cubic) in torch's arithmetic -- are the
CPU backend's own (:func:`fastconv._cpu.interpolate.tables`, pure NumPy),
copied to the device and cached.  Inputs are viewed as ``(P, D, H, W)``
planes with identity tables on missing axes.

``_interp`` computes one output element per thread (grid-stride, consecutive
threads on consecutive output columns: coalesced stores, neighbouring loads)
in the CPU kernel's evaluation order -- W taps innermost, then H, then D --
accumulating in the compute dtype.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from . import _launch
from ._common import cached_table, empty, view, view_or_copy
from .._tables import tables as _tables


@cuda.jit(cache=True)
def _interp(x, out, idd, wd, idh, wh, idw, ww):
    P = x.shape[0]
    OD = out.shape[1]
    OH = out.shape[2]
    OW = out.shape[3]
    TD = idd.shape[0]
    TH = idh.shape[0]
    TW = idw.shape[0]
    total = P * OD * OH * OW
    acc = cuda.local.array(3, dtype=out.dtype)  # [0] result, [1] vertical, [2] horizontal
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        ox = i % OW
        t = i // OW
        oh = t % OH
        t //= OH
        od = t % OD
        p = t // OD
        acc[0] = 0
        for td in range(TD):
            ds = idd[td, od]
            acc[1] = 0
            for th in range(TH):
                hs = idh[th, oh]
                acc[2] = 0
                for tw in range(TW):
                    acc[2] += x[p, ds, hs, idw[tw, ox]] * ww[tw, ox]
                acc[1] += acc[2] * wh[th, oh]
            acc[0] += acc[1] * wd[td, od]
        out[p, od, oh, ox] = acc[0]


KERNELS = {"_interp": _interp}


def signatures(dt):
    from numba import types

    a4 = types.Array(dt, 4, "C")
    it = types.Array(types.int64, 2, "C")
    wt = types.Array(dt, 2, "C")
    return {"_interp": (_interp, (a4, a4, it, wt, it, wt, it, wt))}


def interpolate(p, x, out=None, stream=0):
    """Resample device array ``x`` into ``out`` (allocated when None)."""
    dt = np.dtype(p.dtype)
    if out is None:
        out = empty(p.out_shape, dt, stream)
    if out.size == 0:
        return out
    planes = p.batch * p.channels
    ins = (1,) * (3 - p.nd) + tuple(p.in_spatial)
    outs = (1,) * (3 - p.nd) + tuple(p.out_spatial)
    xv = view_or_copy(x, (planes,) + ins, stream)
    ov = view(out, (planes,) + outs)
    key = ("interp", p.mode, p.nd, p.in_spatial, p.out_spatial, p.scales, p.align_corners, dt.str)
    tabs = None
    dev = []
    for ax in range(3):
        for part in range(2):
            def make(ax=ax, part=part):
                nonlocal tabs
                if tabs is None:
                    tabs = _tables(p)
                return np.ascontiguousarray(tabs[ax][part])
            dev.append(cached_table(key + (ax, part), make, stream))
    blocks, threads = _launch.grid_1d(ov.size)
    _interp[blocks, threads, stream](xv, ov, *dev)
    return out
