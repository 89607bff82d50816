"""Slow, independent oracles built from scipy.signal / numpy (float64 throughout).

Nothing here imports fastconv: every oracle is written from the definitions.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

_NP_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def dilate_kernel(k, dilation):
    """Insert ``dilation-1`` zeros between taps along every axis of ``k``."""
    d = tuple(dilation)
    shape = tuple((s - 1) * di + 1 for s, di in zip(k.shape, d))
    out = np.zeros(shape, dtype=k.dtype)
    out[tuple(slice(None, None, di) for di in d)] = k
    return out


def pad(x, lo, hi, mode="zeros"):
    """Pad the trailing ``len(lo)`` axes of ``x`` as torch's padding modes do."""
    nd = len(lo)
    widths = [(0, 0)] * (x.ndim - nd) + list(zip(lo, hi))
    return np.pad(x, widths, mode=_NP_PAD[mode])


def conv_nd(x, w, b=None, stride=1, pad_lo=0, pad_hi=None, dilation=1, groups=1, mode="zeros"):
    """torch.nn.functional.conv{nd}d on batched input, from scipy.signal.correlate(direct)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    tup = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd
    stride, dilation = tup(stride), tup(dilation)
    pad_lo = tup(pad_lo)
    pad_hi = pad_lo if pad_hi is None else tup(pad_hi)
    xp = pad(x, pad_lo, pad_hi, mode)
    N, C = x.shape[:2]
    K, Cg = w.shape[:2]
    Kg = K // groups
    outs = []
    for n in range(N):
        chans = []
        for k in range(K):
            g = k // Kg
            acc = 0.0
            for c in range(Cg):
                kern = dilate_kernel(w[k, c], dilation)
                acc = acc + signal.correlate(xp[n, g * Cg + c], kern, mode="valid", method="direct")
            acc = acc[tuple(slice(None, None, s) for s in stride)]
            if b is not None:
                acc = acc + float(b[k])
            chans.append(acc)
        outs.append(np.stack(chans))
    return np.stack(outs)


def conv_transpose_nd(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv_transpose{nd}d on batched input, as a direct correlation.

    The input gets ``stride-1`` zeros between samples; it is correlated (``conv_nd``,
    stride 1, kernel dilation ``d``) with the spatially flipped weight whose in/out
    axes are swapped per group, padded by ``(d(k-1)-p, d(k-1)-p+output_padding)``
    per axis -- a negative pad crops the zero-inserted input instead.
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    tup = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd
    stride, padding = tup(stride), tup(padding)
    output_padding, dilation = tup(output_padding), tup(dilation)
    N, C = x.shape[:2]
    cg = C // groups
    ks = w.shape[2:]
    up = np.zeros((N, C) + tuple((L - 1) * s + 1 for L, s in zip(x.shape[2:], stride)))
    up[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)] = x
    flip = (slice(None), slice(None)) + (slice(None, None, -1),) * nd
    wf = np.concatenate(
        [w[g * cg:(g + 1) * cg].swapaxes(0, 1)[flip] for g in range(groups)], axis=0
    )
    lo, hi, crop = [], [], [slice(None), slice(None)]
    for ax in range(nd):
        a = dilation[ax] * (ks[ax] - 1) - padding[ax]
        bb = a + output_padding[ax]
        L = up.shape[2 + ax]
        crop.append(slice(max(0, -a), L - max(0, -bb)))
        lo.append(max(a, 0))
        hi.append(max(bb, 0))
    up = up[tuple(crop)]
    return conv_nd(up, wf, b, 1, tuple(lo), tuple(hi), dilation, groups)


# @@ REFERENCE-TRANSPOSE @@

# ---------------------------------------------------------------- pooling ----
# torch.nn.functional pooling from numpy.lib.stride_tricks.sliding_window_view on
# a -inf / 0 padded array, with the output size, divisor and index rules written
# out explicitly (no fastconv code).


def _pool_out_len(L, k, s, p, d, ceil_mode):
    span = d * (k - 1) + 1
    num = L + 2 * p - span
    if ceil_mode:
        o = -(-num // s) + 1
        if (o - 1) * s >= L + p:  # the last window must start inside input or left pad
            o -= 1
    else:
        o = num // s + 1
    return o


def _pool_windows(x, nd, kernel, stride, padding, dilation, ceil_mode, fill):
    """Windows view ``(N, C, *out, *kernel)`` of ``x`` padded with ``fill``."""
    from numpy.lib.stride_tricks import sliding_window_view

    sp = x.shape[2:]
    outs = [_pool_out_len(L, k, s, p, d, ceil_mode)
            for L, k, s, p, d in zip(sp, kernel, stride, padding, dilation)]
    widths = [(0, 0), (0, 0)]
    for L, k, s, p, d, o in zip(sp, kernel, stride, padding, dilation, outs):
        need = (o - 1) * s + d * (k - 1) + 1  # padded length the windows read
        widths.append((p, max(p, need - L - p)))
    xp = np.pad(x, widths, mode="constant", constant_values=fill)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    w = sliding_window_view(xp, spans, axis=tuple(range(2, 2 + nd)))
    sl = (slice(None), slice(None))
    sl += tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(outs, stride))
    sl += tuple(slice(None, None, d) for d in dilation)
    return w[sl], outs


def max_pool_ref(x, kernel, stride, padding, dilation, ceil_mode):
    """``(values, indices)`` of torch's max_pool{nd}d on batched ``(N, C, *sp)`` input.

    Values: max over the window of the -inf padded input, NaN if the window has
    a NaN.  Index (flat in the plane): the first maximum in scan order among the
    in-bounds taps, or the last NaN; a window with no in-bounds tap points at
    its first tap moved forward by ``dilation`` until non-negative (torch).
    """
    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    sp = x.shape[2:]
    win, outs = _pool_windows(x, nd, kernel, stride, padding, dilation, ceil_mode, -np.inf)
    flat = np.arange(int(np.prod(sp)), dtype=np.float64).reshape((1, 1) + sp)
    fwin, _ = _pool_windows(flat, nd, kernel, stride, padding, dilation, ceil_mode, -1.0)
    N, C = x.shape[:2]
    K = int(np.prod(kernel))
    wv = win.reshape(N, C, -1, K)
    wi = fwin.reshape(1, 1, -1, K)
    vals = np.empty(wv.shape[:3])
    idx = np.empty(wv.shape[:3], np.int64)
    starts = [np.arange(o) * s - p for o, s, p in zip(outs, stride, padding)]
    grid = np.stack([g.ravel() for g in np.meshgrid(*starts, indexing="ij")], axis=1)
    for n in range(N):
        for c in range(C):
            for j in range(wv.shape[2]):
                v = wv[n, c, j]
                ii = wi[0, 0, j]
                inb = ii >= 0
                if not inb.any():
                    st = []
                    for a in range(nd):
                        s0 = grid[j, a]
                        while s0 < 0:
                            s0 += dilation[a]
                        st.append(s0)
                    vals[n, c, j] = -np.inf
                    f = 0
                    for a in range(nd):
                        f = f * sp[a] + st[a]
                    idx[n, c, j] = f
                    continue
                vin = v[inb]
                iin = ii[inb]
                nan = np.isnan(vin)
                if nan.any():
                    pos = np.flatnonzero(nan)[-1]
                    vals[n, c, j] = np.nan
                else:
                    pos = int(np.argmax(vin))
                    vals[n, c, j] = vin[pos]
                idx[n, c, j] = int(iin[pos])
    return vals.reshape((N, C) + tuple(outs)), idx.reshape((N, C) + tuple(outs))


def max_pool_values_ref(x, kernel, stride, padding, dilation, ceil_mode):
    """Values only (vectorised): NaN-propagating max of the -inf padded windows."""
    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    win, _ = _pool_windows(x, nd, kernel, stride, padding, dilation, ceil_mode, -np.inf)
    return win.max(axis=tuple(range(-nd, 0)))


def avg_pool_ref(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """torch's avg_pool{nd}d: window sums over the zero padded input / divisor.

    Per axis, window ``[o*s - p, o*s - p + k)`` is clipped to the padded extent
    ``[-p, L + p)`` (size counted when ``count_include_pad``) and to the input
    ``[0, L)`` (size counted otherwise); the divisor is the product over axes,
    or ``divisor_override``.  A window with no input sample gives 0.
    """
    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    sp = x.shape[2:]
    ones = (1,) * nd
    win, outs = _pool_windows(x, nd, kernel, stride, padding, ones, ceil_mode, 0.0)
    sums = win.sum(axis=tuple(range(-nd, 0)))
    div = np.ones(tuple(outs))
    cnt_in = np.ones(tuple(outs))
    for a, (L, k, s, p, o) in enumerate(zip(sp, kernel, stride, padding, outs)):
        st = np.arange(o) * s - p
        incl = np.minimum(st + k, L + p) - st
        excl = np.minimum(st + k, L) - np.maximum(st, 0)
        shape = [1] * nd
        shape[a] = o
        div = div * (incl if count_include_pad else excl).reshape(shape)
        cnt_in = cnt_in * np.maximum(excl, 0).reshape(shape)
    if divisor_override is not None:
        div = np.full(tuple(outs), float(divisor_override))
    with np.errstate(invalid="ignore", divide="ignore"):
        res = sums / div
    return np.where(cnt_in > 0, res, 0.0)


def _adaptive_bounds(L, O):
    return [((i * L) // O, -((-(i + 1) * L) // O)) for i in range(O)]


def adaptive_pool2d_ref(x, output_size, kind):
    """torch's adaptive_{avg,max}_pool2d on ``(N, C, H, W)``; ``(values, indices)``.

    Cell ``(i, j)`` covers rows ``floor(i*H/OH) <= h < ceil((i+1)*H/OH)`` and the
    same for columns; max: NaN wins (last NaN), ties keep the first maximum.
    """
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    OH, OW = output_size
    vals = np.zeros((N, C, OH, OW))
    idx = np.zeros((N, C, OH, OW), np.int64)
    for i, (h0, h1) in enumerate(_adaptive_bounds(H, OH)):
        for j, (w0, w1) in enumerate(_adaptive_bounds(W, OW)):
            blk = x[:, :, h0:h1, w0:w1].reshape(N, C, -1)
            flat = (np.arange(h0, h1)[:, None] * W + np.arange(w0, w1)[None, :]).ravel()
            if kind == "avg":
                vals[:, :, i, j] = blk.sum(-1) / ((h1 - h0) * (w1 - w0))
                continue
            for n in range(N):
                for c in range(C):
                    b = blk[n, c]
                    nan = np.flatnonzero(np.isnan(b))
                    pos = nan[-1] if nan.size else int(np.argmax(b))
                    vals[n, c, i, j] = b[pos]
                    idx[n, c, i, j] = flat[pos]
    return vals, idx


# @@ REFERENCE-POOL @@

# ---------------------------------------------------------- interpolation ----
# torch.nn.functional.interpolate from explicit coordinate formulas;
# (bi/tri)linear sampled with scipy.ndimage.map_coordinates(order=1).


def interp_out_size(in_sp, size, scale_factor):
    """torch's size rule: ``size``, or ``floor(in * scale_factor)``."""
    nd = len(in_sp)
    if size is not None:
        return tuple(size) if isinstance(size, (tuple, list)) else (size,) * nd
    sf = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * nd
    return tuple(int(np.floor(L * float(f))) for L, f in zip(in_sp, sf))


def _ratio(L, O, scale):
    """Coordinate step: ``1/scale_factor`` when one is used, else ``in/out``."""
    return 1.0 / scale if scale is not None and scale > 0 else L / O


def nearest_index(L, O, scale, exact):
    """torch's nearest / nearest-exact source index, in its float32 arithmetic.

    nearest: ``O == L`` -> i; ``O == 2L`` -> i // 2; else ``min(floor(f32(i) * r32), L-1)``.
    nearest-exact: ``min(floor(f32((i + 0.5) * r32)), L-1)`` with ``r32 = float32(r)``.
    """
    i = np.arange(O)
    if not exact and O == L:
        return i
    if not exact and O == 2 * L:
        return i // 2
    r = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(L) / np.float32(O)
    if exact:
        src = np.floor(((i + 0.5) * np.float64(r)).astype(np.float32))
    else:
        src = np.floor(i.astype(np.float32) * r)
    return np.minimum(src.astype(np.int64), L - 1)


def source_coords(L, O, scale, align_corners, cubic=False):
    """Continuous source coordinate of every output sample (float64).

    align_corners: ``i*(L-1)/(O-1)`` (0 when O == 1); else ``(i+0.5)*r - 0.5``,
    clamped at 0 for linear modes.
    """
    i = np.arange(O, dtype=np.float64)
    if align_corners:
        return i * ((L - 1) / (O - 1)) if O > 1 else np.zeros(O)
    src = (i + 0.5) * _ratio(L, O, scale) - 0.5
    return src if cubic else np.maximum(src, 0.0)


def _scales_used(nd, scale_factor, recompute):
    if scale_factor is None or recompute:
        return (None,) * nd
    return tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * nd


def interpolate_ref(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                    recompute_scale_factor=None):
    """Float64 oracle of ``torch.nn.functional.interpolate`` (no antialias)."""
    from scipy import ndimage

    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    in_sp = x.shape[2:]
    out_sp = interp_out_size(in_sp, size, scale_factor)
    scales = _scales_used(nd, scale_factor, recompute_scale_factor)
    ac = bool(align_corners)
    N, C = x.shape[:2]
    if mode in ("nearest", "nearest-exact"):
        ix = [nearest_index(L, O, s, mode == "nearest-exact")
              for L, O, s in zip(in_sp, out_sp, scales)]
        return x[(slice(None), slice(None)) + np.ix_(*ix)]
    if mode == "bicubic":
        mats = [cubic_matrix(L, O, s, ac) for L, O, s in zip(in_sp, out_sp, scales)]
        return np.einsum("oh,pw,nchw->ncop", mats[0], mats[1], x)
    coords = []
    for L, O, s in zip(in_sp, out_sp, scales):
        if O == L:  # torch copies an axis whose size does not change
            coords.append(np.arange(O, dtype=np.float64))
        else:
            coords.append(source_coords(L, O, s, ac))
    grid = np.meshgrid(*coords, indexing="ij")
    out = np.empty((N, C) + tuple(out_sp))
    for n in range(N):
        for c in range(C):
            out[n, c] = ndimage.map_coordinates(x[n, c], grid, order=1, mode="nearest")
    return out


def cubic_kernel(s, A=-0.75):
    """Keys' cubic convolution kernel with torch's ``A = -0.75``."""
    s = np.abs(s)
    return np.where(
        s <= 1, ((A + 2) * s - (A + 3)) * s * s + 1,
        np.where(s < 2, ((A * s - 5 * A) * s + 8 * A) * s - 4 * A, 0.0),
    )


def cubic_matrix(L, O, scale, align_corners):
    """``(O, L)`` resampling matrix of bicubic along one axis, taps clamped to the border."""
    src = source_coords(L, O, scale, align_corners, cubic=True)
    M = np.zeros((O, L))
    for o, u in enumerate(src):
        i0 = int(np.floor(u))
        t = u - i0
        for j in (-1, 0, 1, 2):
            M[o, min(max(i0 + j, 0), L - 1)] += cubic_kernel(t - j)
    return M


# @@ REFERENCE-INTERP @@
