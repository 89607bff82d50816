"""Plain-NumPy index and weight tables shared by the CPU and CUDA backends.

Both kernel backends read the same per-axis tables -- padded-index maps for the
padding modes and scipy's boundaries, avg-pool divisors, adaptive-pool windows,
interpolation source indices and weights -- so the rules exist once.  Nothing
here compiles or touches a device; it sits beside ``shapes``/``_params`` in the
layering, below ``_cpu`` and ``_cuda`` (which never import each other).
"""

from __future__ import annotations

import numpy as np


def _to3(t, nd, fill):
    return (fill,) * (3 - nd) + tuple(t)


def _ext_map(n, lo, length, boundary):
    """Source index of extended coordinates lo .. lo+length-1 along an axis of size n."""
    src = np.arange(lo, lo + length, dtype=np.int64)
    if boundary == "fill":
        src[(src < 0) | (src >= n)] = -1
    elif boundary == "wrap":
        src %= n
    else:  # symm: reflect with the edge sample repeated, period 2n
        src %= 2 * n
        src = np.where(src >= n, 2 * n - 1 - src, src)
    return np.ascontiguousarray(src, dtype=np.int64)


def _scale_value(T, L, O, scale):
    """torch ``compute_scales_value<T>``: ``1/scale`` when given (> 0), else ``in/out``."""
    if scale is not None and scale > 0:
        return T(1.0 / scale)
    return T(L) / T(O)


def nearest_table(L, O, scale, exact):
    """Source index of every output sample along one axis (int64, shape ``(O,)``)."""
    i = np.arange(O, dtype=np.int64)
    if not exact:
        if O == L:
            return i
        if O == 2 * L:
            return i >> 1
    s = _scale_value(np.float32, L, O, scale)
    if exact:
        f = (i.astype(np.float64) + 0.5) * np.float64(s)
        src = np.floor(f.astype(np.float32)).astype(np.int64)
    else:
        src = np.floor(i.astype(np.float32) * s).astype(np.int64)
    return np.ascontiguousarray(np.minimum(src, L - 1))


def _source_coord(T, L, O, scale, align_corners, cubic):
    if align_corners:
        sc = T(L - 1) / T(O - 1) if O > 1 else T(0)
    else:
        sc = _scale_value(T, L, O, scale)
    i = np.arange(O).astype(T)
    if align_corners:
        return sc * i
    src = sc * (i + T(0.5)) - T(0.5)
    if not cubic:
        src = np.maximum(src, T(0))
    return src


def _floor_index(src, L):
    # torch: static_cast<int64_t>(floorf(real_input_index)), min L-1
    return np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), L - 1)


def linear_table(dtype, L, O, scale, align_corners):
    """``(idx (2, O) int64, w (2, O) dtype)`` for linear interpolation along one axis."""
    T = np.dtype(dtype).type
    idx = np.empty((2, O), np.int64)
    w = np.empty((2, O), dtype)
    if O == L:  # torch copies when the size does not change
        idx[0] = idx[1] = np.arange(O)
        w[0] = 1
        w[1] = 0
        return idx, w
    src = _source_coord(T, L, O, scale, align_corners, False)
    i0 = _floor_index(src, L)
    l1 = np.clip(src - i0.astype(T), T(0), T(1)).astype(dtype)
    idx[0] = i0
    idx[1] = i0 + (i0 < L - 1)
    w[0] = T(1) - l1
    w[1] = l1
    return idx, w


def cubic_table(dtype, L, O, scale, align_corners):
    """``(idx (4, O), w (4, O))``: torch's cubic convolution (A = -0.75), clamped taps."""
    T = np.dtype(dtype).type
    src = _source_coord(T, L, O, scale, align_corners, True)
    i0 = np.floor(src.astype(np.float32)).astype(np.int64)
    t = np.clip(src - i0.astype(T), T(0), T(1)).astype(dtype)
    A = T(-0.75)

    def cc1(x):
        return ((A + T(2)) * x - (A + T(3))) * x * x + T(1)

    def cc2(x):
        return ((A * x - T(5) * A) * x + T(8) * A) * x - T(4) * A

    w = np.empty((4, O), dtype)
    w[0] = cc2(t + T(1))
    w[1] = cc1(t)
    x2 = T(1) - t
    w[2] = cc1(x2)
    w[3] = cc2(x2 + T(1))
    idx = np.empty((4, O), np.int64)
    for j in range(4):
        idx[j] = np.clip(i0 - 1 + j, 0, L - 1)
    return idx, w


def _unit_table(dtype):
    return np.zeros((1, 1), np.int64), np.ones((1, 1), dtype)


def tables(p):
    """Per-axis ``(idx, w)`` tables in (D, H, W) order for ``p.mode``."""
    dtype = p.dtype
    out = [_unit_table(dtype)] * (3 - p.nd)
    for L, O, sc in zip(p.in_spatial, p.out_spatial, p.scales):
        if p.mode in ("nearest", "nearest-exact"):
            i = nearest_table(L, O, sc, p.mode == "nearest-exact")
            out.append((i.reshape(1, O), np.ones((1, O), dtype)))
        elif p.mode == "bicubic":
            out.append(cubic_table(dtype, L, O, sc, p.align_corners))
        else:
            out.append(linear_table(dtype, L, O, sc, p.align_corners))
    return out


def _avg_divisors(p, dtype):
    """Per-axis divisor factors (D, H, W order); their product is torch's divisor."""
    ins = _to3(p.in_spatial, p.nd, 1)
    ks = _to3(p.kernel, p.nd, 1)
    ss = _to3(p.stride, p.nd, 1)
    ps = _to3(p.padding, p.nd, 0)
    outs = _to3(p.out_spatial, p.nd, 1)
    facs = []
    for L, k, s, pad, o in zip(ins, ks, ss, ps, outs):
        start = np.arange(o, dtype=np.int64) * s - pad
        if p.divisor_override is not None:
            f = np.ones(o, dtype)
        elif p.count_include_pad:
            f = (np.minimum(start + k, L + pad) - start).astype(dtype)
        else:
            cnt = np.minimum(start + k, L) - np.maximum(start, 0)
            f = cnt.astype(dtype)
            f[cnt <= 0] = np.inf  # empty window: 0 / inf = 0, as torch writes 0
        facs.append(np.ascontiguousarray(f))
    if p.divisor_override is not None:
        facs[0] = facs[0] * dtype.type(p.divisor_override)
    return facs


def _adaptive_tables(L, O):
    i = np.arange(O, dtype=np.int64)
    start = (i * L) // O
    end = -((-(i + 1) * L) // O)
    return start, end


def pad_index_map(size, lo, hi, mode, length=None):
    """Source index of every padded coordinate along one axis (-1 = zero).

    ``mode`` is ``zeros``, ``reflect`` (no edge repeat, as ``numpy.pad``'s
    ``reflect``), ``replicate`` (edge) or ``circular`` (wrap).  ``length``
    truncates the map to the coordinates a kernel actually reads.
    """
    n = size + lo + hi if length is None else length
    src = np.arange(n, dtype=np.int64) - lo
    if mode == "zeros":
        src[(src < 0) | (src >= size)] = -1
    elif mode == "replicate":
        np.clip(src, 0, size - 1, out=src)
    elif mode == "circular":
        src %= size
    elif mode == "reflect":
        if size == 1:
            src[:] = 0
        else:
            period = 2 * (size - 1)
            src = np.abs(src) % period
            src = np.where(src >= size, period - src, src)
    else:  # pragma: no cover - validated earlier
        raise ValueError(mode)
    return np.ascontiguousarray(src, dtype=np.int64)
