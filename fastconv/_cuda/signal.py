"""CUDA kernels of ``fastconv.signal`` (scipy.signal correlate/convolve, N-d and 2-D).

As on the CPU, every op is a *correlation* of ``x`` (= ``in1``) with a kernel
``k`` (``conj(in2)`` for correlate, ``in2`` reversed for convolve)::

    out[o] = sum_j X[o + off + j] * k[j],      off = start - (n2 - 1)

``X`` is ``x`` extended per axis through an index map (the CPU backend's own
``_ext_map``: ``-1`` = outside -> ``fillvalue``, or wrap / symmetric).  Arrays
are viewed as 5-D (rank <= 5 on this backend).

Kernels
-------
``_corr``   one output element per thread, grid-stride; accumulator in the
            compute dtype (float32/float64/complex64/complex128, int64 for
            every integer and bool input -- the cast back wraps as scipy's
            own-type arithmetic does).
``_prep``   builds the correlation kernel on the device: cast to the compute
            dtype, reversed for convolve.
``_conj``   in-place complex conjugate (correlate's kernel; correlate2d's
            swapped complex result, as scipy does).
``_cast`` / ``_nonzero``  compute dtype -> result dtype (bool as ``!= 0``).

``method='fft'`` and ``'auto'`` run the direct kernel on the GPU (results
agree with the FFT to rounding).
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from . import _launch
from ._common import cached_table, empty, view
from .._tables import _ext_map


@cuda.jit(cache=True)
def _corr(x, k, out, m0, m1, m2, m3, m4, fill, use_fill):
    O0, O1, O2, O3, O4 = out.shape
    K0, K1, K2, K3, K4 = k.shape
    total = O0 * O1 * O2 * O3 * O4
    acc = cuda.local.array(1, dtype=out.dtype)
    for idx in range(cuda.grid(1), total, cuda.gridsize(1)):
        o4 = idx % O4
        t = idx // O4
        o3 = t % O3
        t //= O3
        o2 = t % O2
        t //= O2
        o1 = t % O1
        o0 = t // O1
        acc[0] = 0
        for j0 in range(K0):
            i0 = m0[o0 + j0]
            for j1 in range(K1):
                i1 = m1[o1 + j1]
                for j2 in range(K2):
                    i2 = m2[o2 + j2]
                    for j3 in range(K3):
                        i3 = m3[o3 + j3]
                        out_row = i0 < 0 or i1 < 0 or i2 < 0 or i3 < 0
                        for j4 in range(K4):
                            i4 = m4[o4 + j4]
                            if out_row or i4 < 0:
                                if use_fill:
                                    acc[0] += fill[0] * k[j0, j1, j2, j3, j4]
                            else:
                                acc[0] += x[i0, i1, i2, i3, i4] * k[j0, j1, j2, j3, j4]
        out[o0, o1, o2, o3, o4] = acc[0]


@cuda.jit(cache=True)
def _prep(src, dst, flip):
    A, B, C, D, E = dst.shape
    total = A * B * C * D * E
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        e = i % E
        t = i // E
        d = t % D
        t //= D
        c = t % C
        t //= C
        b = t % B
        a = t // B
        if flip:
            dst[a, b, c, d, e] = src[A - 1 - a, B - 1 - b, C - 1 - c, D - 1 - d, E - 1 - e]
        else:
            dst[a, b, c, d, e] = src[a, b, c, d, e]


@cuda.jit(cache=True)
def _conj(a):
    for i in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        a[i] = a[i].conjugate()


@cuda.jit(cache=True)
def _cast(src, dst):
    for i in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
        dst[i] = src[i]


@cuda.jit(cache=True)
def _cast_int(src, dst, bits):
    """int64 -> signed ``bits``-bit with two's-complement wrap-around (uint: same bits)."""
    for i in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
        v = src[i]
        if bits < 64:
            half = 1 << (bits - 1)
            v = ((v + half) & ((1 << bits) - 1)) - half
        dst[i] = v


@cuda.jit(cache=True)
def _nonzero(src, dst):
    for i in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
        dst[i] = src[i] != 0


KERNELS = {"_corr": _corr, "_prep": _prep, "_conj": _conj, "_cast": _cast,
           "_cast_int": _cast_int, "_nonzero": _nonzero}


def signatures(dt):
    """Real float specialisations (complex/int64 ones compile lazily the same way)."""
    from numba import types

    a5 = types.Array(dt, 5, "C")
    m = types.Array(types.int64, 1, "C")
    v = types.Array(dt, 1, "C")
    cdt = types.complex64 if dt == types.float32 else types.complex128
    half = types.Array(types.float16 if dt == types.float32 else types.int32, 1, "C")
    return {
        "_corr": (_corr, (a5, a5, a5, m, m, m, m, m, v, types.boolean)),
        "_prep": (_prep, (types.Array(dt, 5, "A"), a5, types.boolean)),
        "_conj": (_conj, (types.Array(cdt, 1, "C"),)),
        "_cast": (_cast, (v, half)),
        "_cast_int": (_cast_int, (types.Array(types.int64, 1, "C"),
                                  types.Array(types.int16, 1, "C"), types.int64)),
        "_nonzero": (_nonzero, (v, types.Array(types.boolean, 1, "C"))),
    }


def _grid(n):
    return _launch.grid_1d(n)


def _pad5(shape):
    return (1,) * (5 - len(shape)) + tuple(shape)


def _flat(a):
    return view(a, (a.size,))


def correlate(p, in1, in2, out=None, stream=0):
    """``correlate`` / ``convolve`` (N-d) and the 2-D functions, per ``p.func``."""
    cdt = np.dtype(p.compute)
    dt = np.dtype(p.dtype)
    if p.nd > 5:
        raise ValueError(
            f"{p.func}: the CUDA backend handles arrays of up to 5 dimensions, got {p.nd}"
        )
    if out is None:
        out = empty(p.out_shape, dt, stream)
    if out.size == 0:
        return out
    res = out if dt == cdt else empty(p.out_shape, cdt, stream)
    if p.empty:
        _empty(p, in2, res, cdt, stream)
    else:
        # kernel: compute dtype, reversed for convolve, conjugated for correlate
        k = empty(p.in2_shape, cdt, stream)
        kb, kt = _grid(k.size)
        _prep[kb, kt, stream](view(in2, _pad5(p.in2_shape)), view(k, _pad5(p.in2_shape)), p.flip)
        if not p.flip and cdt.kind == "c":
            _conj[kb, kt, stream](_flat(k))
        offs = tuple(st - (n2 - 1) for st, n2 in zip(p.start, p.in2_shape))
        boundary = p.boundary if all(p.in1_shape) else "fill"
        maps = [cached_table(("sigmap", 1, 0, 1, "fill"), lambda: np.zeros(1, np.int64), stream)
                ] * (5 - p.nd)
        for n, off, L, K in zip(p.in1_shape, offs, p.out_shape, p.in2_shape):
            maps.append(cached_table(("sigmap", n, off, L + K - 1, boundary),
                                     lambda n=n, off=off, L=L, K=K: _ext_map(n, off, L + K - 1,
                                                                             boundary), stream))
        fv = p.fillvalue if cdt.kind == "c" else p.fillvalue.real
        use_fill = bool(fv != 0) and p.func in ("correlate2d", "convolve2d")
        fill = cached_table(("sigfill", cdt.str, complex(fv)),
                            lambda: np.array([fv], dtype=np.result_type(type(fv), cdt)).astype(cdt),
                            stream)
        blocks, threads = _grid(res.size)
        _corr[blocks, threads, stream](view(in1, _pad5(p.in1_shape)), view(k, _pad5(p.in2_shape)),
                                       view(res, _pad5(p.out_shape)), *maps, fill, use_fill)
        if p.func == "correlate2d" and p.swapped and cdt.kind == "c":
            b, t = _grid(res.size)
            _conj[b, t, stream](_flat(res))
    if res is not out:
        b, t = _grid(out.size)
        if dt == np.bool_:
            _nonzero[b, t, stream](_flat(res), _flat(out))
        elif dt.kind in "iu":
            signed = _flat(out).view(np.dtype(f"i{dt.itemsize}"))
            _cast_int[b, t, stream](_flat(res), signed, 8 * dt.itemsize)
        else:
            _cast[b, t, stream](_flat(res), _flat(out))
    return out


def _empty(p, in2, res, cdt, stream):
    """An operand has size 0: zeros, or fillvalue * sum(k) where in1 is empty (2-D fill)."""
    val = np.zeros((), cdt)
    if (p.func in ("correlate2d", "convolve2d") and 0 in p.in1_shape and 0 not in p.in2_shape
            and p.fillvalue):
        k = np.asarray(in2.copy_to_host(), dtype=cdt)
        if not p.flip and cdt.kind == "c":
            k = np.conj(k)
        fv = p.fillvalue if cdt.kind == "c" else p.fillvalue.real
        val = np.asarray(fv).astype(cdt) * k.sum(dtype=cdt)
    host = np.full(p.out_shape, val, cdt)
    res.copy_to_device(host, stream=stream)


convolve = correlate
correlate2d = correlate
convolve2d = correlate
