"""CPU kernels of ``fastconv.signal`` (scipy.signal correlate/convolve, N-d and 2-D).

Every op arrives here as a *correlation* of ``x`` (= ``in1``) with a kernel
``k`` (``conj(in2)`` for correlate, ``in2`` reversed for convolve), written
with a per-axis offset ``off = start - (n2 - 1)``::

    out[o] = sum_j X[o + off + j] * k[j]        (X = x outside-extended)

``X`` is zero outside ``x`` (N-d functions, ``boundary='fill'`` with
``fillvalue=0``) or extended by ``fillvalue`` / wrap / symmetric reflection
(2-D functions).  ``SignalParams.start`` carries each function's own 'same'
placement (correlate2d's differs from correlate's for even kernels).

Kernels
-------
``_row_acc``
    The 1-D building block: ``acc[t] += sum_j k[j] * xr[a0 + t + off + j]``
    with zero outside ``xr``.  Interior outputs run taps in blocks of four
    over contiguous slices (vectorised by LLVM, one accumulator load/store per
    four FMAs); the few border outputs check bounds per tap.  No padded copy.
``_corr1d``
    Long 1-D signals: parallel over blocks of output samples.
``_corr3``
    N-d (viewed as 3-D): parallel over (depth, block of rows); each output row
    accumulates the ``_row_acc`` of every kernel row that overlaps the input.
    Works on a sub-region of the output, which the 2-D small-kernel path uses
    for its border frame.
``_fused3x3`` / ``_fused5x5`` / ``_fused7x7``
    2-D real (float32/float64) kernels: the interior uses explicit 512-bit
    vectors (``_simd``), two vectors of outputs per step with one FMA chain per
    kernel row and vector, all taps fused (no accumulator traffic); border rows
    and columns read the extended input through index maps, so the same kernels
    serve ``fill`` (any ``fillvalue``), ``wrap`` and ``symm``.  Measured against
    the auto-vectorised (ymm) form of the same loop: 3x3 0.39 -> 0.34 ms,
    7x7 2.16 -> 1.80 ms on 1024x1024 float32, 1 thread.
``_corr2d_mapped``
    Other 2-D kernels with a non-zero ``fillvalue``, ``wrap`` or ``symm``: each
    task gathers its rows through per-axis index maps into a small scratch tile,
    then runs ``_row_acc`` on it.

Complex dtypes run natively (LLVM vectorises the complex multiply-add); a
real/imaginary split through the real kernels measured slower (1e6 x 31 taps,
1 thread: complex128 35 ms native vs 49 ms split, complex64 10 vs 26 ms).

Dtypes: float32/float64/complex64/complex128 compute in their own type;
every integer (and bool) dtype computes in int64 and is cast back (integer
wrap-around is the same ring, so results equal scipy's own-type
accumulation), bool as ``!= 0``.  Kernel choice happens in :func:`_direct`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import NJIT_OPTS, entry, num_threads, split_blocks
from ._simd import lanes, vadd, vfma, vload, vmul, vprefetch, vsplat, vstore
from .._tables import _ext_map  # noqa: F401  (plain-NumPy tables shared with _cuda)

# FMA contraction only (no reassociation): results stay within the stated bound.
_FAST = dict(NJIT_OPTS, fastmath={"contract"})


@njit(**_FAST)
def _row_acc(xr, kr, acc, a0, n, off):
    """acc[t] += sum_j kr[j] * xr[a0 + t + off + j] for t < n (zero outside xr)."""
    W = xr.shape[0]
    KW = kr.shape[0]
    base = a0 + off
    tlo = min(max(0, -base), n)
    thi = max(tlo, min(n, W - KW + 1 - base))
    if tlo + (n - thi) <= 2 * KW + 32:
        # few border outputs: scalar, taps clipped to the input
        for t in range(tlo):
            s = acc[t]
            for j in range(max(0, -base - t), min(KW, W - base - t)):
                s += kr[j] * xr[base + t + j]
            acc[t] = s
        for t in range(thi, n):
            s = acc[t]
            for j in range(max(0, -base - t), min(KW, W - base - t)):
                s += kr[j] * xr[base + t + j]
            acc[t] = s
        border = False
    else:
        border = True
    # many border outputs (kernel as long as the row): one clipped AXPY per tap
    for j in range(KW if border else 0):
        kj = kr[j]
        # valid t for this tap: 0 <= base + t + j < W
        vlo = max(0, -base - j)
        vhi = min(n, W - base - j)
        e = min(vhi, tlo)
        if e > vlo:
            src = xr[base + vlo + j:base + e + j]
            dst = acc[vlo:e]
            for t in range(e - vlo):
                dst[t] += kj * src[t]
        b0 = max(vlo, thi)
        if vhi > b0:
            src = xr[base + b0 + j:base + vhi + j]
            dst = acc[b0:vhi]
            for t in range(vhi - b0):
                dst[t] += kj * src[t]
    m = thi - tlo
    if m <= 0:
        return
    a = acc[tlo:thi]
    j = 0
    while j + 4 <= KW:
        k0 = kr[j]
        k1 = kr[j + 1]
        k2 = kr[j + 2]
        k3 = kr[j + 3]
        s0 = xr[base + tlo + j:base + thi + j]
        s1 = xr[base + tlo + j + 1:base + thi + j + 1]
        s2 = xr[base + tlo + j + 2:base + thi + j + 2]
        s3 = xr[base + tlo + j + 3:base + thi + j + 3]
        for t in range(m):
            a[t] += k0 * s0[t] + k1 * s1[t] + k2 * s2[t] + k3 * s3[t]
        j += 4
    if KW - j == 3:
        k0 = kr[j]
        k1 = kr[j + 1]
        k2 = kr[j + 2]
        s0 = xr[base + tlo + j:base + thi + j]
        s1 = xr[base + tlo + j + 1:base + thi + j + 1]
        s2 = xr[base + tlo + j + 2:base + thi + j + 2]
        for t in range(m):
            a[t] += k0 * s0[t] + k1 * s1[t] + k2 * s2[t]
    elif KW - j == 2:
        k0 = kr[j]
        k1 = kr[j + 1]
        s0 = xr[base + tlo + j:base + thi + j]
        s1 = xr[base + tlo + j + 1:base + thi + j + 1]
        for t in range(m):
            a[t] += k0 * s0[t] + k1 * s1[t]
    elif KW - j == 1:
        k0 = kr[j]
        s0 = xr[base + tlo + j:base + thi + j]
        for t in range(m):
            a[t] += k0 * s0[t]


@entry
@njit(parallel=True, **_FAST)
def _corr1d(x, k, out, off, blk):
    """out[o] = sum_j x[o + off + j] * k[j]; parallel over blocks of ``blk`` outputs."""
    L = out.shape[0]
    nb = (L + blk - 1) // blk
    for b in prange(nb):
        s = b * blk
        e = min(L, s + blk)
        seg = out[s:e]
        seg[:] = 0
        _row_acc(x, k, seg, s, e - s, off)


@entry
@njit(parallel=True, **_FAST)
def _corr3(x, k, out, off0, off1, off2, lo0, hi0, lo1, hi1, lo2, hi2, rb):
    """out[lo:hi] (3-D region) of the zero-extended correlation; parallel over row blocks."""
    X0, X1 = x.shape[0], x.shape[1]
    K0, K1 = k.shape[0], k.shape[1]
    n1 = hi1 - lo1
    n2 = hi2 - lo2
    nrb = (n1 + rb - 1) // rb
    for t in prange((hi0 - lo0) * nrb):
        o0 = lo0 + t // nrb
        b = t % nrb
        for o1 in range(lo1 + b * rb, min(hi1, lo1 + (b + 1) * rb)):
            acc = out[o0, o1, lo2:hi2]
            acc[:] = 0
            for j0 in range(K0):
                i0 = o0 + off0 + j0
                if i0 < 0 or i0 >= X0:
                    continue
                for j1 in range(K1):
                    i1 = o1 + off1 + j1
                    if i1 < 0 or i1 >= X1:
                        continue
                    _row_acc(x[i0, i1], k[j0, j1], acc, lo2, n2, off2)


@entry
@njit(parallel=True, **_FAST)
def _corr2d_mapped(x, k, out, map0, map1, fill, rb):
    """2-D correlation of the extended input: padded row p of axis a reads x via map_a[p]
    (-1 = ``fill[0]``); out[o0, o1] = sum_j X[o0 + j0, o1 + j1] * k[j0, j1] in map
    coordinates.  Each task gathers its rows into a scratch tile."""
    OH, OW = out.shape
    KH, KW = k.shape
    Wp = OW + KW - 1
    fv = fill[0]
    nrb = (OH + rb - 1) // rb
    for b in prange(nrb):
        r0 = b * rb
        nr = min(OH, r0 + rb) - r0
        nrows = nr + KH - 1
        xs = np.empty((nrows, Wp), dtype=out.dtype)
        for r in range(nrows):
            ih = map0[r0 + r]
            dst = xs[r]
            if ih < 0:
                dst[:] = fv
            else:
                src = x[ih]
                for j in range(Wp):
                    iw = map1[j]
                    if iw >= 0:
                        dst[j] = src[iw]
                    else:
                        dst[j] = fv
        for r in range(nr):
            acc = out[r0 + r]
            acc[:] = 0
            for j0 in range(KH):
                _row_acc(xs[r + j0], k[j0], acc, np.int64(0), OW, np.int64(0))


@njit(**_FAST)
def _border_row(x, k, orow, o0, map0, map1, fv, tmp):
    """One output row of a 2-D correlation of the extended input: each kernel row's
    input row is gathered through the maps into ``tmp``, then ``_row_acc``."""
    OW = orow.shape[0]
    KH, KW = k.shape
    orow[:] = 0
    for j0 in range(KH):
        r = map0[o0 + j0]
        if r < 0:
            tmp[:] = fv
        else:
            xr = x[r]
            for q in range(OW + KW - 1):
                c = map1[q]
                if c >= 0:
                    tmp[q] = xr[c]
                else:
                    tmp[q] = fv
        _row_acc(tmp, k[j0], orow, np.int64(0), OW, np.int64(0))


@njit(**_FAST)
def _border_cols(x, k, orow, o0, map0, map1, fv, c0, c1, tmp):
    """Columns [0, c0) and [c1, OW) of an interior output row (its rows are in range).

    Up to four outputs at a time: per kernel row the input columns they need are
    gathered through ``map1`` into ``tmp``, then each output sums its taps in
    its own register accumulator (j0-major, j1-minor, as everywhere).  One
    accumulator chain per output, reading through the map at every tap, was
    bound by the add latency: 13 % of a 1024^2 7x7 call for 6 of 1024 columns.
    """
    OW = orow.shape[0]
    KH, KW = k.shape
    last = map1.shape[0] - 1
    for side in range(2):
        lo = 0 if side == 0 else c1
        hi = c0 if side == 0 else OW
        for o1 in range(lo, hi, 4):
            nb = min(4, hi - o1)
            orow[o1] = 0
            if nb == 1:  # a lone column (3x3 'same'): straight through the map
                for j0 in range(KH):
                    xr = x[map0[o0 + j0]]
                    for j1 in range(KW):
                        c = map1[o1 + j1]
                        if c >= 0:
                            orow[o1] += k[j0, j1] * xr[c]
                        else:
                            orow[o1] += k[j0, j1] * fv
                continue
            a0 = orow[o1]
            a1 = a0
            a2 = a0
            a3 = a0
            for j0 in range(KH):
                r = map0[o0 + j0]
                for t in range(KW + 3):  # past the row's end: any valid column
                    c = map1[min(o1 + t, last)]
                    tmp[t] = x[r, c] if c >= 0 else fv
                for j1 in range(KW):
                    w = k[j0, j1]
                    a0 += w * tmp[j1]
                    a1 += w * tmp[j1 + 1]
                    a2 += w * tmp[j1 + 2]
                    a3 += w * tmp[j1 + 3]
            orow[o1] = a0
            if nb > 1:
                orow[o1 + 1] = a1
            if nb > 2:
                orow[o1 + 2] = a2
            if nb > 3:
                orow[o1 + 3] = a3


@entry
@njit(parallel=True, **_FAST)
def _fused3x3(x, k, out, off0, off1, r0, r1, c0, c1, rb, map0, map1, fill):
    """3x3 real correlation, every output row.  Interior pixels: explicit
    512-bit vectors, two vectors of outputs per step, one FMA chain per kernel row
    and vector (independent chains hide the FMA latency); the tail of a row uses
    the same sum in scalar form.  Border rows/columns read the extended input
    through the index maps (-1 = fill[0])."""
    w00 = k[0, 0]
    w01 = k[0, 1]
    w02 = k[0, 2]
    w10 = k[1, 0]
    w11 = k[1, 1]
    w12 = k[1, 2]
    w20 = k[2, 0]
    w21 = k[2, 1]
    w22 = k[2, 2]
    OH, OW = out.shape
    fv = fill[0]
    n = c1 - c0
    LN = lanes(fill)
    nv = (n // (2 * LN)) * (2 * LN)
    nrb = (OH + rb - 1) // rb
    for b in prange(nrb):
        tmp = np.empty(OW + 2, dtype=out.dtype)
        v00 = vsplat(w00, fill)
        v01 = vsplat(w01, fill)
        v02 = vsplat(w02, fill)
        v10 = vsplat(w10, fill)
        v11 = vsplat(w11, fill)
        v12 = vsplat(w12, fill)
        v20 = vsplat(w20, fill)
        v21 = vsplat(w21, fill)
        v22 = vsplat(w22, fill)
        for o0 in range(b * rb, min(OH, (b + 1) * rb)):
            orow = out[o0]
            if o0 < r0 or o0 >= r1:
                _border_row(x, k, orow, o0, map0, map1, fv, tmp)
                continue
            i0 = o0 + off0
            j0 = c0 + off1
            x0 = x[i0 + 0, j0:j0 + n + 2]
            x1 = x[i0 + 1, j0:j0 + n + 2]
            x2 = x[i0 + 2, j0:j0 + n + 2]
            dst = orow[c0:c1]
            # software prefetch, one row ahead, of the next output row's new input row
            # and of its destination: the hardware streamers stop at page boundaries
            # and a 1024-wide row is one page, so from DRAM (data left the caches,
            # e.g. after 20 ms of other work) each row started with a full miss
            # (1024^2 after SciPy: 0.97 -> 0.79-0.81 ms; warm: 5 % faster).  Not in
            # the 5x5/7x7 kernels: there the extra loads cost 1-7 % when warm.
            xn = x[min(i0 + 3, x.shape[0] - 1), j0:j0 + n + 2]
            dn = out[min(o0 + 1, OH - 1), c0:c1]
            for t in range(0, nv, 2 * LN):
                u = t + LN
                vprefetch(xn, t)
                vprefetch(xn, u)
                vprefetch(dn, t)
                vprefetch(dn, u)
                a0 = vmul(v00, vload(x0, t))
                b0 = vmul(v00, vload(x0, u))
                a0 = vfma(v01, vload(x0, t + 1), a0)
                b0 = vfma(v01, vload(x0, u + 1), b0)
                a0 = vfma(v02, vload(x0, t + 2), a0)
                b0 = vfma(v02, vload(x0, u + 2), b0)
                a1 = vmul(v10, vload(x1, t))
                b1 = vmul(v10, vload(x1, u))
                a1 = vfma(v11, vload(x1, t + 1), a1)
                b1 = vfma(v11, vload(x1, u + 1), b1)
                a1 = vfma(v12, vload(x1, t + 2), a1)
                b1 = vfma(v12, vload(x1, u + 2), b1)
                a2 = vmul(v20, vload(x2, t))
                b2 = vmul(v20, vload(x2, u))
                a2 = vfma(v21, vload(x2, t + 1), a2)
                b2 = vfma(v21, vload(x2, u + 1), b2)
                a2 = vfma(v22, vload(x2, t + 2), a2)
                b2 = vfma(v22, vload(x2, u + 2), b2)
                vstore(dst, t, vadd(vadd(a0, a1), a2))
                vstore(dst, u, vadd(vadd(b0, b1), b2))
            t = nv
            while t < n:
                if n < LN:
                    for s in range(n):
                        dst[s] = (
                            (w00 * x0[s] + w01 * x0[s + 1] + w02 * x0[s + 2])
                            + (w10 * x1[s] + w11 * x1[s + 1] + w12 * x1[s + 2])
                            + (w20 * x2[s] + w21 * x2[s + 1] + w22 * x2[s + 2])
                        )
                    break
                t = min(t, n - LN)
                a0 = vmul(v00, vload(x0, t))
                a0 = vfma(v01, vload(x0, t + 1), a0)
                a0 = vfma(v02, vload(x0, t + 2), a0)
                a1 = vmul(v10, vload(x1, t))
                a1 = vfma(v11, vload(x1, t + 1), a1)
                a1 = vfma(v12, vload(x1, t + 2), a1)
                a2 = vmul(v20, vload(x2, t))
                a2 = vfma(v21, vload(x2, t + 1), a2)
                a2 = vfma(v22, vload(x2, t + 2), a2)
                vstore(dst, t, vadd(vadd(a0, a1), a2))
                t += LN
            _border_cols(x, k, orow, o0, map0, map1, fv, c0, c1, tmp)


@entry
@njit(parallel=True, **_FAST)
def _fused5x5(x, k, out, off0, off1, r0, r1, c0, c1, rb, map0, map1, fill):
    """5x5 real correlation, every output row.  Interior pixels: explicit
    512-bit vectors, two vectors of outputs per step, one FMA chain per kernel row
    and vector (independent chains hide the FMA latency); the tail of a row uses
    the same sum in scalar form.  Border rows/columns read the extended input
    through the index maps (-1 = fill[0])."""
    w00 = k[0, 0]
    w01 = k[0, 1]
    w02 = k[0, 2]
    w03 = k[0, 3]
    w04 = k[0, 4]
    w10 = k[1, 0]
    w11 = k[1, 1]
    w12 = k[1, 2]
    w13 = k[1, 3]
    w14 = k[1, 4]
    w20 = k[2, 0]
    w21 = k[2, 1]
    w22 = k[2, 2]
    w23 = k[2, 3]
    w24 = k[2, 4]
    w30 = k[3, 0]
    w31 = k[3, 1]
    w32 = k[3, 2]
    w33 = k[3, 3]
    w34 = k[3, 4]
    w40 = k[4, 0]
    w41 = k[4, 1]
    w42 = k[4, 2]
    w43 = k[4, 3]
    w44 = k[4, 4]
    OH, OW = out.shape
    fv = fill[0]
    n = c1 - c0
    LN = lanes(fill)
    nv = (n // (2 * LN)) * (2 * LN)
    nrb = (OH + rb - 1) // rb
    for b in prange(nrb):
        tmp = np.empty(OW + 4, dtype=out.dtype)
        v00 = vsplat(w00, fill)
        v01 = vsplat(w01, fill)
        v02 = vsplat(w02, fill)
        v03 = vsplat(w03, fill)
        v04 = vsplat(w04, fill)
        v10 = vsplat(w10, fill)
        v11 = vsplat(w11, fill)
        v12 = vsplat(w12, fill)
        v13 = vsplat(w13, fill)
        v14 = vsplat(w14, fill)
        v20 = vsplat(w20, fill)
        v21 = vsplat(w21, fill)
        v22 = vsplat(w22, fill)
        v23 = vsplat(w23, fill)
        v24 = vsplat(w24, fill)
        v30 = vsplat(w30, fill)
        v31 = vsplat(w31, fill)
        v32 = vsplat(w32, fill)
        v33 = vsplat(w33, fill)
        v34 = vsplat(w34, fill)
        v40 = vsplat(w40, fill)
        v41 = vsplat(w41, fill)
        v42 = vsplat(w42, fill)
        v43 = vsplat(w43, fill)
        v44 = vsplat(w44, fill)
        for o0 in range(b * rb, min(OH, (b + 1) * rb)):
            orow = out[o0]
            if o0 < r0 or o0 >= r1:
                _border_row(x, k, orow, o0, map0, map1, fv, tmp)
                continue
            i0 = o0 + off0
            j0 = c0 + off1
            x0 = x[i0 + 0, j0:j0 + n + 4]
            x1 = x[i0 + 1, j0:j0 + n + 4]
            x2 = x[i0 + 2, j0:j0 + n + 4]
            x3 = x[i0 + 3, j0:j0 + n + 4]
            x4 = x[i0 + 4, j0:j0 + n + 4]
            dst = orow[c0:c1]
            for t in range(0, nv, 2 * LN):
                u = t + LN
                a0 = vmul(v00, vload(x0, t))
                b0 = vmul(v00, vload(x0, u))
                a0 = vfma(v01, vload(x0, t + 1), a0)
                b0 = vfma(v01, vload(x0, u + 1), b0)
                a0 = vfma(v02, vload(x0, t + 2), a0)
                b0 = vfma(v02, vload(x0, u + 2), b0)
                a0 = vfma(v03, vload(x0, t + 3), a0)
                b0 = vfma(v03, vload(x0, u + 3), b0)
                a0 = vfma(v04, vload(x0, t + 4), a0)
                b0 = vfma(v04, vload(x0, u + 4), b0)
                a1 = vmul(v10, vload(x1, t))
                b1 = vmul(v10, vload(x1, u))
                a1 = vfma(v11, vload(x1, t + 1), a1)
                b1 = vfma(v11, vload(x1, u + 1), b1)
                a1 = vfma(v12, vload(x1, t + 2), a1)
                b1 = vfma(v12, vload(x1, u + 2), b1)
                a1 = vfma(v13, vload(x1, t + 3), a1)
                b1 = vfma(v13, vload(x1, u + 3), b1)
                a1 = vfma(v14, vload(x1, t + 4), a1)
                b1 = vfma(v14, vload(x1, u + 4), b1)
                a2 = vmul(v20, vload(x2, t))
                b2 = vmul(v20, vload(x2, u))
                a2 = vfma(v21, vload(x2, t + 1), a2)
                b2 = vfma(v21, vload(x2, u + 1), b2)
                a2 = vfma(v22, vload(x2, t + 2), a2)
                b2 = vfma(v22, vload(x2, u + 2), b2)
                a2 = vfma(v23, vload(x2, t + 3), a2)
                b2 = vfma(v23, vload(x2, u + 3), b2)
                a2 = vfma(v24, vload(x2, t + 4), a2)
                b2 = vfma(v24, vload(x2, u + 4), b2)
                a3 = vmul(v30, vload(x3, t))
                b3 = vmul(v30, vload(x3, u))
                a3 = vfma(v31, vload(x3, t + 1), a3)
                b3 = vfma(v31, vload(x3, u + 1), b3)
                a3 = vfma(v32, vload(x3, t + 2), a3)
                b3 = vfma(v32, vload(x3, u + 2), b3)
                a3 = vfma(v33, vload(x3, t + 3), a3)
                b3 = vfma(v33, vload(x3, u + 3), b3)
                a3 = vfma(v34, vload(x3, t + 4), a3)
                b3 = vfma(v34, vload(x3, u + 4), b3)
                a4 = vmul(v40, vload(x4, t))
                b4 = vmul(v40, vload(x4, u))
                a4 = vfma(v41, vload(x4, t + 1), a4)
                b4 = vfma(v41, vload(x4, u + 1), b4)
                a4 = vfma(v42, vload(x4, t + 2), a4)
                b4 = vfma(v42, vload(x4, u + 2), b4)
                a4 = vfma(v43, vload(x4, t + 3), a4)
                b4 = vfma(v43, vload(x4, u + 3), b4)
                a4 = vfma(v44, vload(x4, t + 4), a4)
                b4 = vfma(v44, vload(x4, u + 4), b4)
                vstore(dst, t, vadd(vadd(vadd(a0, a1), vadd(a2, a3)), a4))
                vstore(dst, u, vadd(vadd(vadd(b0, b1), vadd(b2, b3)), b4))
            t = nv
            while t < n:
                if n < LN:
                    for s in range(n):
                        dst[s] = (
                            (w00 * x0[s] + w01 * x0[s + 1] + w02 * x0[s + 2]
                                + w03 * x0[s + 3] + w04 * x0[s + 4])
                            + (w10 * x1[s] + w11 * x1[s + 1] + w12 * x1[s + 2]
                                + w13 * x1[s + 3] + w14 * x1[s + 4])
                            + (w20 * x2[s] + w21 * x2[s + 1] + w22 * x2[s + 2]
                                + w23 * x2[s + 3] + w24 * x2[s + 4])
                            + (w30 * x3[s] + w31 * x3[s + 1] + w32 * x3[s + 2]
                                + w33 * x3[s + 3] + w34 * x3[s + 4])
                            + (w40 * x4[s] + w41 * x4[s + 1] + w42 * x4[s + 2]
                                + w43 * x4[s + 3] + w44 * x4[s + 4])
                        )
                    break
                t = min(t, n - LN)
                a0 = vmul(v00, vload(x0, t))
                a0 = vfma(v01, vload(x0, t + 1), a0)
                a0 = vfma(v02, vload(x0, t + 2), a0)
                a0 = vfma(v03, vload(x0, t + 3), a0)
                a0 = vfma(v04, vload(x0, t + 4), a0)
                a1 = vmul(v10, vload(x1, t))
                a1 = vfma(v11, vload(x1, t + 1), a1)
                a1 = vfma(v12, vload(x1, t + 2), a1)
                a1 = vfma(v13, vload(x1, t + 3), a1)
                a1 = vfma(v14, vload(x1, t + 4), a1)
                a2 = vmul(v20, vload(x2, t))
                a2 = vfma(v21, vload(x2, t + 1), a2)
                a2 = vfma(v22, vload(x2, t + 2), a2)
                a2 = vfma(v23, vload(x2, t + 3), a2)
                a2 = vfma(v24, vload(x2, t + 4), a2)
                a3 = vmul(v30, vload(x3, t))
                a3 = vfma(v31, vload(x3, t + 1), a3)
                a3 = vfma(v32, vload(x3, t + 2), a3)
                a3 = vfma(v33, vload(x3, t + 3), a3)
                a3 = vfma(v34, vload(x3, t + 4), a3)
                a4 = vmul(v40, vload(x4, t))
                a4 = vfma(v41, vload(x4, t + 1), a4)
                a4 = vfma(v42, vload(x4, t + 2), a4)
                a4 = vfma(v43, vload(x4, t + 3), a4)
                a4 = vfma(v44, vload(x4, t + 4), a4)
                vstore(dst, t, vadd(vadd(vadd(a0, a1), vadd(a2, a3)), a4))
                t += LN
            _border_cols(x, k, orow, o0, map0, map1, fv, c0, c1, tmp)


@entry
@njit(parallel=True, **_FAST)
def _fused7x7(x, k, out, off0, off1, r0, r1, c0, c1, rb, map0, map1, fill):
    """7x7 real correlation, every output row.  Interior pixels: explicit
    512-bit vectors, two vectors of outputs per step, one FMA chain per kernel row
    and vector (independent chains hide the FMA latency); the tail of a row uses
    the same sum in scalar form.  Border rows/columns read the extended input
    through the index maps (-1 = fill[0])."""
    w00 = k[0, 0]
    w01 = k[0, 1]
    w02 = k[0, 2]
    w03 = k[0, 3]
    w04 = k[0, 4]
    w05 = k[0, 5]
    w06 = k[0, 6]
    w10 = k[1, 0]
    w11 = k[1, 1]
    w12 = k[1, 2]
    w13 = k[1, 3]
    w14 = k[1, 4]
    w15 = k[1, 5]
    w16 = k[1, 6]
    w20 = k[2, 0]
    w21 = k[2, 1]
    w22 = k[2, 2]
    w23 = k[2, 3]
    w24 = k[2, 4]
    w25 = k[2, 5]
    w26 = k[2, 6]
    w30 = k[3, 0]
    w31 = k[3, 1]
    w32 = k[3, 2]
    w33 = k[3, 3]
    w34 = k[3, 4]
    w35 = k[3, 5]
    w36 = k[3, 6]
    w40 = k[4, 0]
    w41 = k[4, 1]
    w42 = k[4, 2]
    w43 = k[4, 3]
    w44 = k[4, 4]
    w45 = k[4, 5]
    w46 = k[4, 6]
    w50 = k[5, 0]
    w51 = k[5, 1]
    w52 = k[5, 2]
    w53 = k[5, 3]
    w54 = k[5, 4]
    w55 = k[5, 5]
    w56 = k[5, 6]
    w60 = k[6, 0]
    w61 = k[6, 1]
    w62 = k[6, 2]
    w63 = k[6, 3]
    w64 = k[6, 4]
    w65 = k[6, 5]
    w66 = k[6, 6]
    OH, OW = out.shape
    fv = fill[0]
    n = c1 - c0
    LN = lanes(fill)
    nv = (n // (2 * LN)) * (2 * LN)
    nrb = (OH + rb - 1) // rb
    for b in prange(nrb):
        tmp = np.empty(OW + 6, dtype=out.dtype)
        v00 = vsplat(w00, fill)
        v01 = vsplat(w01, fill)
        v02 = vsplat(w02, fill)
        v03 = vsplat(w03, fill)
        v04 = vsplat(w04, fill)
        v05 = vsplat(w05, fill)
        v06 = vsplat(w06, fill)
        v10 = vsplat(w10, fill)
        v11 = vsplat(w11, fill)
        v12 = vsplat(w12, fill)
        v13 = vsplat(w13, fill)
        v14 = vsplat(w14, fill)
        v15 = vsplat(w15, fill)
        v16 = vsplat(w16, fill)
        v20 = vsplat(w20, fill)
        v21 = vsplat(w21, fill)
        v22 = vsplat(w22, fill)
        v23 = vsplat(w23, fill)
        v24 = vsplat(w24, fill)
        v25 = vsplat(w25, fill)
        v26 = vsplat(w26, fill)
        v30 = vsplat(w30, fill)
        v31 = vsplat(w31, fill)
        v32 = vsplat(w32, fill)
        v33 = vsplat(w33, fill)
        v34 = vsplat(w34, fill)
        v35 = vsplat(w35, fill)
        v36 = vsplat(w36, fill)
        v40 = vsplat(w40, fill)
        v41 = vsplat(w41, fill)
        v42 = vsplat(w42, fill)
        v43 = vsplat(w43, fill)
        v44 = vsplat(w44, fill)
        v45 = vsplat(w45, fill)
        v46 = vsplat(w46, fill)
        v50 = vsplat(w50, fill)
        v51 = vsplat(w51, fill)
        v52 = vsplat(w52, fill)
        v53 = vsplat(w53, fill)
        v54 = vsplat(w54, fill)
        v55 = vsplat(w55, fill)
        v56 = vsplat(w56, fill)
        v60 = vsplat(w60, fill)
        v61 = vsplat(w61, fill)
        v62 = vsplat(w62, fill)
        v63 = vsplat(w63, fill)
        v64 = vsplat(w64, fill)
        v65 = vsplat(w65, fill)
        v66 = vsplat(w66, fill)
        for o0 in range(b * rb, min(OH, (b + 1) * rb)):
            orow = out[o0]
            if o0 < r0 or o0 >= r1:
                _border_row(x, k, orow, o0, map0, map1, fv, tmp)
                continue
            i0 = o0 + off0
            j0 = c0 + off1
            x0 = x[i0 + 0, j0:j0 + n + 6]
            x1 = x[i0 + 1, j0:j0 + n + 6]
            x2 = x[i0 + 2, j0:j0 + n + 6]
            x3 = x[i0 + 3, j0:j0 + n + 6]
            x4 = x[i0 + 4, j0:j0 + n + 6]
            x5 = x[i0 + 5, j0:j0 + n + 6]
            x6 = x[i0 + 6, j0:j0 + n + 6]
            dst = orow[c0:c1]
            for t in range(0, nv, 2 * LN):
                u = t + LN
                a0 = vmul(v00, vload(x0, t))
                b0 = vmul(v00, vload(x0, u))
                a0 = vfma(v01, vload(x0, t + 1), a0)
                b0 = vfma(v01, vload(x0, u + 1), b0)
                a0 = vfma(v02, vload(x0, t + 2), a0)
                b0 = vfma(v02, vload(x0, u + 2), b0)
                a0 = vfma(v03, vload(x0, t + 3), a0)
                b0 = vfma(v03, vload(x0, u + 3), b0)
                a0 = vfma(v04, vload(x0, t + 4), a0)
                b0 = vfma(v04, vload(x0, u + 4), b0)
                a0 = vfma(v05, vload(x0, t + 5), a0)
                b0 = vfma(v05, vload(x0, u + 5), b0)
                a0 = vfma(v06, vload(x0, t + 6), a0)
                b0 = vfma(v06, vload(x0, u + 6), b0)
                a1 = vmul(v10, vload(x1, t))
                b1 = vmul(v10, vload(x1, u))
                a1 = vfma(v11, vload(x1, t + 1), a1)
                b1 = vfma(v11, vload(x1, u + 1), b1)
                a1 = vfma(v12, vload(x1, t + 2), a1)
                b1 = vfma(v12, vload(x1, u + 2), b1)
                a1 = vfma(v13, vload(x1, t + 3), a1)
                b1 = vfma(v13, vload(x1, u + 3), b1)
                a1 = vfma(v14, vload(x1, t + 4), a1)
                b1 = vfma(v14, vload(x1, u + 4), b1)
                a1 = vfma(v15, vload(x1, t + 5), a1)
                b1 = vfma(v15, vload(x1, u + 5), b1)
                a1 = vfma(v16, vload(x1, t + 6), a1)
                b1 = vfma(v16, vload(x1, u + 6), b1)
                a2 = vmul(v20, vload(x2, t))
                b2 = vmul(v20, vload(x2, u))
                a2 = vfma(v21, vload(x2, t + 1), a2)
                b2 = vfma(v21, vload(x2, u + 1), b2)
                a2 = vfma(v22, vload(x2, t + 2), a2)
                b2 = vfma(v22, vload(x2, u + 2), b2)
                a2 = vfma(v23, vload(x2, t + 3), a2)
                b2 = vfma(v23, vload(x2, u + 3), b2)
                a2 = vfma(v24, vload(x2, t + 4), a2)
                b2 = vfma(v24, vload(x2, u + 4), b2)
                a2 = vfma(v25, vload(x2, t + 5), a2)
                b2 = vfma(v25, vload(x2, u + 5), b2)
                a2 = vfma(v26, vload(x2, t + 6), a2)
                b2 = vfma(v26, vload(x2, u + 6), b2)
                a3 = vmul(v30, vload(x3, t))
                b3 = vmul(v30, vload(x3, u))
                a3 = vfma(v31, vload(x3, t + 1), a3)
                b3 = vfma(v31, vload(x3, u + 1), b3)
                a3 = vfma(v32, vload(x3, t + 2), a3)
                b3 = vfma(v32, vload(x3, u + 2), b3)
                a3 = vfma(v33, vload(x3, t + 3), a3)
                b3 = vfma(v33, vload(x3, u + 3), b3)
                a3 = vfma(v34, vload(x3, t + 4), a3)
                b3 = vfma(v34, vload(x3, u + 4), b3)
                a3 = vfma(v35, vload(x3, t + 5), a3)
                b3 = vfma(v35, vload(x3, u + 5), b3)
                a3 = vfma(v36, vload(x3, t + 6), a3)
                b3 = vfma(v36, vload(x3, u + 6), b3)
                a4 = vmul(v40, vload(x4, t))
                b4 = vmul(v40, vload(x4, u))
                a4 = vfma(v41, vload(x4, t + 1), a4)
                b4 = vfma(v41, vload(x4, u + 1), b4)
                a4 = vfma(v42, vload(x4, t + 2), a4)
                b4 = vfma(v42, vload(x4, u + 2), b4)
                a4 = vfma(v43, vload(x4, t + 3), a4)
                b4 = vfma(v43, vload(x4, u + 3), b4)
                a4 = vfma(v44, vload(x4, t + 4), a4)
                b4 = vfma(v44, vload(x4, u + 4), b4)
                a4 = vfma(v45, vload(x4, t + 5), a4)
                b4 = vfma(v45, vload(x4, u + 5), b4)
                a4 = vfma(v46, vload(x4, t + 6), a4)
                b4 = vfma(v46, vload(x4, u + 6), b4)
                a5 = vmul(v50, vload(x5, t))
                b5 = vmul(v50, vload(x5, u))
                a5 = vfma(v51, vload(x5, t + 1), a5)
                b5 = vfma(v51, vload(x5, u + 1), b5)
                a5 = vfma(v52, vload(x5, t + 2), a5)
                b5 = vfma(v52, vload(x5, u + 2), b5)
                a5 = vfma(v53, vload(x5, t + 3), a5)
                b5 = vfma(v53, vload(x5, u + 3), b5)
                a5 = vfma(v54, vload(x5, t + 4), a5)
                b5 = vfma(v54, vload(x5, u + 4), b5)
                a5 = vfma(v55, vload(x5, t + 5), a5)
                b5 = vfma(v55, vload(x5, u + 5), b5)
                a5 = vfma(v56, vload(x5, t + 6), a5)
                b5 = vfma(v56, vload(x5, u + 6), b5)
                a6 = vmul(v60, vload(x6, t))
                b6 = vmul(v60, vload(x6, u))
                a6 = vfma(v61, vload(x6, t + 1), a6)
                b6 = vfma(v61, vload(x6, u + 1), b6)
                a6 = vfma(v62, vload(x6, t + 2), a6)
                b6 = vfma(v62, vload(x6, u + 2), b6)
                a6 = vfma(v63, vload(x6, t + 3), a6)
                b6 = vfma(v63, vload(x6, u + 3), b6)
                a6 = vfma(v64, vload(x6, t + 4), a6)
                b6 = vfma(v64, vload(x6, u + 4), b6)
                a6 = vfma(v65, vload(x6, t + 5), a6)
                b6 = vfma(v65, vload(x6, u + 5), b6)
                a6 = vfma(v66, vload(x6, t + 6), a6)
                b6 = vfma(v66, vload(x6, u + 6), b6)
                vstore(dst, t, vadd(vadd(vadd(a0, a1), vadd(a2, a3)), vadd(vadd(a4, a5), a6)))
                vstore(dst, u, vadd(vadd(vadd(b0, b1), vadd(b2, b3)), vadd(vadd(b4, b5), b6)))
            t = nv
            while t < n:
                if n < LN:
                    for s in range(n):
                        dst[s] = (
                            (w00 * x0[s] + w01 * x0[s + 1] + w02 * x0[s + 2]
                                + w03 * x0[s + 3] + w04 * x0[s + 4] + w05 * x0[s + 5]
                                + w06 * x0[s + 6])
                            + (w10 * x1[s] + w11 * x1[s + 1] + w12 * x1[s + 2]
                                + w13 * x1[s + 3] + w14 * x1[s + 4] + w15 * x1[s + 5]
                                + w16 * x1[s + 6])
                            + (w20 * x2[s] + w21 * x2[s + 1] + w22 * x2[s + 2]
                                + w23 * x2[s + 3] + w24 * x2[s + 4] + w25 * x2[s + 5]
                                + w26 * x2[s + 6])
                            + (w30 * x3[s] + w31 * x3[s + 1] + w32 * x3[s + 2]
                                + w33 * x3[s + 3] + w34 * x3[s + 4] + w35 * x3[s + 5]
                                + w36 * x3[s + 6])
                            + (w40 * x4[s] + w41 * x4[s + 1] + w42 * x4[s + 2]
                                + w43 * x4[s + 3] + w44 * x4[s + 4] + w45 * x4[s + 5]
                                + w46 * x4[s + 6])
                            + (w50 * x5[s] + w51 * x5[s + 1] + w52 * x5[s + 2]
                                + w53 * x5[s + 3] + w54 * x5[s + 4] + w55 * x5[s + 5]
                                + w56 * x5[s + 6])
                            + (w60 * x6[s] + w61 * x6[s + 1] + w62 * x6[s + 2]
                                + w63 * x6[s + 3] + w64 * x6[s + 4] + w65 * x6[s + 5]
                                + w66 * x6[s + 6])
                        )
                    break
                t = min(t, n - LN)
                a0 = vmul(v00, vload(x0, t))
                a0 = vfma(v01, vload(x0, t + 1), a0)
                a0 = vfma(v02, vload(x0, t + 2), a0)
                a0 = vfma(v03, vload(x0, t + 3), a0)
                a0 = vfma(v04, vload(x0, t + 4), a0)
                a0 = vfma(v05, vload(x0, t + 5), a0)
                a0 = vfma(v06, vload(x0, t + 6), a0)
                a1 = vmul(v10, vload(x1, t))
                a1 = vfma(v11, vload(x1, t + 1), a1)
                a1 = vfma(v12, vload(x1, t + 2), a1)
                a1 = vfma(v13, vload(x1, t + 3), a1)
                a1 = vfma(v14, vload(x1, t + 4), a1)
                a1 = vfma(v15, vload(x1, t + 5), a1)
                a1 = vfma(v16, vload(x1, t + 6), a1)
                a2 = vmul(v20, vload(x2, t))
                a2 = vfma(v21, vload(x2, t + 1), a2)
                a2 = vfma(v22, vload(x2, t + 2), a2)
                a2 = vfma(v23, vload(x2, t + 3), a2)
                a2 = vfma(v24, vload(x2, t + 4), a2)
                a2 = vfma(v25, vload(x2, t + 5), a2)
                a2 = vfma(v26, vload(x2, t + 6), a2)
                a3 = vmul(v30, vload(x3, t))
                a3 = vfma(v31, vload(x3, t + 1), a3)
                a3 = vfma(v32, vload(x3, t + 2), a3)
                a3 = vfma(v33, vload(x3, t + 3), a3)
                a3 = vfma(v34, vload(x3, t + 4), a3)
                a3 = vfma(v35, vload(x3, t + 5), a3)
                a3 = vfma(v36, vload(x3, t + 6), a3)
                a4 = vmul(v40, vload(x4, t))
                a4 = vfma(v41, vload(x4, t + 1), a4)
                a4 = vfma(v42, vload(x4, t + 2), a4)
                a4 = vfma(v43, vload(x4, t + 3), a4)
                a4 = vfma(v44, vload(x4, t + 4), a4)
                a4 = vfma(v45, vload(x4, t + 5), a4)
                a4 = vfma(v46, vload(x4, t + 6), a4)
                a5 = vmul(v50, vload(x5, t))
                a5 = vfma(v51, vload(x5, t + 1), a5)
                a5 = vfma(v52, vload(x5, t + 2), a5)
                a5 = vfma(v53, vload(x5, t + 3), a5)
                a5 = vfma(v54, vload(x5, t + 4), a5)
                a5 = vfma(v55, vload(x5, t + 5), a5)
                a5 = vfma(v56, vload(x5, t + 6), a5)
                a6 = vmul(v60, vload(x6, t))
                a6 = vfma(v61, vload(x6, t + 1), a6)
                a6 = vfma(v62, vload(x6, t + 2), a6)
                a6 = vfma(v63, vload(x6, t + 3), a6)
                a6 = vfma(v64, vload(x6, t + 4), a6)
                a6 = vfma(v65, vload(x6, t + 5), a6)
                a6 = vfma(v66, vload(x6, t + 6), a6)
                vstore(dst, t, vadd(vadd(vadd(a0, a1), vadd(a2, a3)), vadd(vadd(a4, a5), a6)))
                t += LN
            _border_cols(x, k, orow, o0, map0, map1, fv, c0, c1, tmp)


# --------------------------------------------------------------------------
# Python-side selection
# --------------------------------------------------------------------------

_FUSED = {3: _fused3x3, 5: _fused5x5, 7: _fused7x7}


def _kernel_of(p, in2, cdt):
    """The correlation kernel: conj(in2) (correlate) or in2 reversed (convolve)."""
    k = np.asarray(in2)
    if p.flip:
        k = k[(slice(None, None, -1),) * k.ndim]
    elif k.dtype.kind == "c":
        k = np.conj(k)
    return np.ascontiguousarray(k, dtype=cdt)


def _offsets(p):
    return tuple(st - (n2 - 1) for st, n2 in zip(p.start, p.in2_shape))


def _rows_block(total_rows, outer, cap=64):
    threads = num_threads()
    rb = split_blocks(total_rows, -(-4 * threads // max(1, outer)))
    return max(1, min(rb, cap))


def _zero_corr(x, k, res, offs):
    """res = zero-extended correlation of x with k at offsets ``offs`` (any rank)."""
    nd = x.ndim
    if nd == 1:
        L = res.shape[0]
        threads = num_threads()
        blk = split_blocks(L, 4 * threads)
        blk = min(max(blk, 256), 16384)
        _corr1d(x, k, res, offs[0], blk)
        return
    if nd == 2 and res.dtype.kind == "f" and k.shape[0] == k.shape[1] and k.shape[0] in _FUSED:
        if _fused2d(x, k, res, offs):
            return
    if nd <= 3:
        pad = (1,) * (3 - nd)
        x3 = x.reshape(pad + x.shape)
        k3 = k.reshape(pad + k.shape)
        r3 = res.reshape(pad + res.shape)
        o = (0,) * (3 - nd) + tuple(offs)
        _region(x3, k3, r3, o, (0, 0, 0), r3.shape)
        return
    # rank > 3: sum of (rank-1)-d correlations over the leading axis
    res[...] = 0
    tmp = np.empty(res.shape[1:], res.dtype)
    for o0 in range(res.shape[0]):
        for j0 in range(k.shape[0]):
            i0 = o0 + offs[0] + j0
            if 0 <= i0 < x.shape[0]:
                _zero_corr(x[i0], k[j0], tmp, offs[1:])
                res[o0] += tmp


def _region(x3, k3, r3, o, lo, hi):
    n0 = hi[0] - lo[0]
    n1 = hi[1] - lo[1]
    if n0 <= 0 or n1 <= 0 or hi[2] - lo[2] <= 0:
        return
    rb = _rows_block(n1, n0)
    _corr3(x3, k3, r3, o[0], o[1], o[2], lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], rb)


def _fused2d(x, k, res, offs, boundary="fill", fillvalue=0):
    """Small square real kernels: fused interior, mapped frame, one launch.
    Returns False when the interior is too small to pay."""
    H, W = x.shape
    K = k.shape[0]
    OH, OW = res.shape
    # interior: outputs whose taps all fall inside x
    r0 = min(max(0, -offs[0]), OH)
    r1 = max(r0, min(OH, H - K + 1 - offs[0]))
    c0 = min(max(0, -offs[1]), OW)
    c1 = max(c0, min(OW, W - K + 1 - offs[1]))
    if (r1 - r0) < 4 or (c1 - c0) < 16:
        return False
    m0 = _ext_map(H, offs[0], OH + K - 1, boundary)
    m1 = _ext_map(W, offs[1], OW + K - 1, boundary)
    fill = np.array([fillvalue.real if isinstance(fillvalue, complex) else fillvalue],
                    dtype=res.dtype)
    rb = _rows_block(OH, 1, cap=32)
    _FUSED[K](x, k, res, offs[0], offs[1], r0, r1, c0, c1, rb, m0, m1, fill)
    return True


def _mapped2d(p, x, k, res, offs):
    OH, OW = res.shape
    KH, KW = k.shape
    H, W = x.shape
    boundary = p.boundary if H and W else "fill"
    if (res.dtype.kind == "f" and KH == KW and KH in _FUSED and H and W
            and _fused2d(x, k, res, offs, boundary, p.fillvalue)):
        return
    m0 = _ext_map(H, offs[0], OH + KH - 1, boundary)
    m1 = _ext_map(W, offs[1], OW + KW - 1, boundary)
    fill = np.array([p.fillvalue], dtype=np.complex128)
    if res.dtype.kind != "c":
        fill = fill.real
    fill = fill.astype(res.dtype)
    rb = _rows_block(OH, 1, cap=32)
    _corr2d_mapped(x, k, res, m0, m1, fill, rb)


def _empty(p, x, k, res):
    """An operand has size 0: zeros, or fillvalue * sum(k) where in1 is empty (2-D fill)."""
    res[...] = 0
    if p.func in ("correlate2d", "convolve2d") and x.size == 0 and k.size and p.fillvalue:
        fv = p.fillvalue if res.dtype.kind == "c" else p.fillvalue.real
        res[...] = np.asarray(fv).astype(res.dtype) * k.sum(dtype=res.dtype)


def _fft(p, x, k, res):
    """Correlation with k = convolution with k reversed, via scipy.fft (lazy import)."""
    import scipy.fft as sfft

    nd = x.ndim
    h = k[(slice(None, None, -1),) * nd]
    full = [a + b - 1 for a, b in zip(x.shape, k.shape)]
    cplx = res.dtype.kind == "c"
    fshape = [sfft.next_fast_len(n, not cplx) for n in full]
    axes = list(range(nd))
    workers = num_threads()
    if cplx:
        sp = sfft.fftn(x, fshape, axes=axes, workers=workers)
        sp *= sfft.fftn(h, fshape, axes=axes, workers=workers)
        r = sfft.ifftn(sp, fshape, axes=axes, workers=workers, overwrite_x=True)
    else:
        sp = sfft.rfftn(x, fshape, axes=axes, workers=workers)
        sp *= sfft.rfftn(h, fshape, axes=axes, workers=workers)
        r = sfft.irfftn(sp, fshape, axes=axes, workers=workers, overwrite_x=True)
    sl = tuple(slice(s, s + L) for s, L in zip(p.start, p.out_shape))
    res[...] = r[sl]


def _direct(p, in1, in2, out):
    cdt = p.compute
    x = np.ascontiguousarray(in1, dtype=cdt)
    k = _kernel_of(p, in2, cdt)
    res = out if out.dtype == cdt else np.empty(p.out_shape, cdt)
    offs = _offsets(p)
    if p.empty or res.size == 0:
        _empty(p, x, k, res)
    elif p.method == "fft" and cdt.kind in "fc":
        _fft(p, x, k, res)
    elif (p.func in ("correlate2d", "convolve2d") and p.mode != "valid"
          and (p.boundary != "fill" or p.fillvalue != 0)):
        _mapped2d(p, x, k, res, offs)
    elif k.size > x.size:
        # roles swapped (cheaper loops): out[o] = sum_i K[-(o + off) + i] x[i],
        # i.e. the reversed correlation of k with x at offset -(L-1) - off
        offs2 = tuple(-(L - 1) - o for L, o in zip(res.shape, offs))
        rev = (slice(None, None, -1),) * res.ndim
        _swapped(k, x, res, offs2, rev)
    else:
        _zero_corr(x, k, res, offs)
    if p.func == "correlate2d" and p.swapped and cdt.kind == "c":
        np.conjugate(res, out=res)  # scipy's correlate2d undoes its swap without conj
    if res is not out:
        if out.dtype == np.bool_:
            np.not_equal(res, 0, out=out)
        else:
            out[...] = res.astype(out.dtype)
    return out


def _swapped(k, x, res, offs2, rev):
    tmp = np.empty(res.shape, res.dtype)
    _zero_corr(k, x, tmp, offs2)
    res[...] = tmp[rev]


def correlate(p, in1, in2, out):
    """``correlate`` / ``convolve`` (N-d) and the 2-D functions, per ``p.func``."""
    return _direct(p, in1, in2, out)


convolve = correlate
correlate2d = correlate
convolve2d = correlate
