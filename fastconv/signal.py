"""``fastconv.signal``: drop-in replacements for scipy.signal's convolution functions.

``correlate``, ``convolve`` (N-d, ``method`` direct / fft / auto),
``correlate2d``, ``convolve2d`` (2-D, boundaries fill / wrap / symm) and
``choose_conv_method`` keep scipy.signal's names, arguments, output shape and
dtype, even-kernel ``'same'`` placement, operand swap in ``'valid'`` mode and
error types.  ``method='direct'`` runs fastconv's Numba kernels;
``method='fft'`` uses ``scipy.fft`` (SciPy is imported lazily, only then);
``method='auto'`` picks with a cost model fitted to fastconv's own direct
kernels.  Integer and boolean inputs are always computed exactly (direct).

Importing this module imports neither SciPy nor any kernel.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import time

import numpy as np

from . import _dispatch, _params

__all__ = ["correlate", "convolve", "correlate2d", "convolve2d", "choose_conv_method"]


# --------------------------------------------------------------------------
# operands
# --------------------------------------------------------------------------


def _host_array(name, a):
    try:
        arr = np.asarray(a)
    except Exception as e:  # ragged lists etc.
        raise ValueError(f"{name} could not be converted to an array: {e}") from None
    if arr.dtype.kind not in "biufc":
        # scipy: "Unsupported type" / "convolve2d not available for this type."
        raise ValueError(
            f"{name} has dtype {arr.dtype}: Unsupported type (expected a numeric array); "
            "convolve2d not available for this type."
        )
    return arr


def _prepare(in1, in2):
    """``(backend, in1, in2, meta1, meta2)``; bool host arrays travel as uint8 views."""
    metas = {}
    conv = {}
    for name, a in (("in1", in1), ("in2", in2)):
        if _dispatch.is_cuda_array(a):
            conv[name] = a
            continue
        arr = _host_array(name, a)
        metas[name] = (tuple(arr.shape), arr.dtype)
        conv[name] = arr.view(np.uint8) if arr.dtype == np.bool_ else arr
    backend, ops = _dispatch.operands(in1=conv["in1"], in2=conv["in2"])
    x, w = ops["in1"], ops["in2"]
    m1 = metas.get("in1") or _params.array_meta(x)
    m2 = metas.get("in2") or _params.array_meta(w)
    return backend, x, w, m1, m2


def _run(p, backend, x, w, out):
    if backend == _dispatch.CPU:
        target, out = _dispatch.check_out(out, p.out_shape, p.dtype, (x, w))
        _dispatch.run(backend, "signal", p.func, p, (x, w), target)
        return _dispatch.finish(target, out)
    return _dispatch.run(backend, "signal", p.func, p, (x, w), out)


def _scalar(in1, in2, conj, out=None):
    """Both operands 0-d: scipy returns ``in1 * conj(in2)`` (``in1 * in2`` for convolve)."""
    a = np.asarray(in1)
    b = np.asarray(in2)
    if conj and b.dtype.kind == "c":
        b = np.conj(b)
    r = a * b
    if out is None:
        return r
    target, out = _dispatch.check_out(out, (), np.asarray(r).dtype, ())
    target[...] = r
    return _dispatch.finish(target, out)


def _both_0d(in1, in2):
    if _dispatch.is_cuda_array(in1) or _dispatch.is_cuda_array(in2):
        return False
    try:
        return np.ndim(in1) == 0 and np.ndim(in2) == 0
    except ValueError:  # ragged sequences: reported by _prepare
        return False


# --------------------------------------------------------------------------
# method choice
# --------------------------------------------------------------------------

# Cost model, fitted on this library's kernels with ``scripts/compare_signal.py fit``
# (min of interleaved repeats, 1 and 2 threads, 2 vCPU AVX-512 Xeon).  Seconds:
#   direct = (_D_MAC[k] * macs + _D_ROW * row_calls * (1 + taps / 4)) / par + _D_CALL
#   fft    = _F_PT[k] * 3 * points * log2(n) / fft_par + _F_CALL
# ``macs`` counts only the taps that touch data; ``row_calls`` the 1-D row
# correlations of the generic N-d kernel (0 for the 1-D and fused 2-D paths);
# ``points`` is the padded FFT size (halved for real transforms).
_D_MAC = {"f4": 6.0e-11, "f8": 1.1e-10, "c8": 2.4e-10, "c16": 4.4e-10}
_D_ROW = 3.0e-8
_D_CALL = 1.5e-5
_F_PT = {"f4": 4.5e-10, "f8": 6.5e-10, "c8": 5.5e-10, "c16": 8.0e-10}
_F_1D = 1.6  # 1-D transforms cost more per point (cache misses, no parallel rows)
_F_CALL = 5.0e-5


def _kind_key(dtype):
    return ("c" if dtype.kind == "c" else "f") + str(dtype.itemsize)


_SMOOTH = []


def _fast_len(n):
    """The next 2-3-5-smooth integer >= n (scipy.fft.next_fast_len for real
    transforms), without importing SciPy."""
    if not _SMOOTH:
        lim = 1 << 40
        vals = []
        p5 = 1
        while p5 <= lim:
            p35 = p5
            while p35 <= lim:
                v = p35
                while v <= lim:
                    vals.append(v)
                    v *= 2
                p35 *= 3
            p5 *= 5
        _SMOOTH.extend(sorted(vals))
    return _SMOOTH[bisect.bisect_left(_SMOOTH, max(n, 1))]


def _times(p, threads):
    """Model times ``(direct, fft)`` in seconds of a params object on ``threads``."""
    key = _kind_key(p.compute)
    if key not in _D_MAC:
        key = "f8"
    s1, s2 = p.in1_shape, p.in2_shape
    nd = len(s1)
    outer = math.prod(p.out_shape[:-1])
    fused = nd == 2 and p.compute.kind == "f" and s2[0] == s2[1] and s2[0] in (3, 5, 7)
    if nd == 1 or fused:
        rows = 0
        par = min(threads, max(1, (p.out_shape[0] // 2048) if nd == 1 else outer))
    else:
        rows = outer * math.prod(s2[:-1]) * (1 + s2[-1] / 4)
        par = min(threads, max(1, outer))
    t_direct = (_D_MAC[key] * p.macs + _D_ROW * rows) / (0.9 * par if par > 1 else 1) + _D_CALL
    if t_direct < _F_CALL:  # no FFT can win
        return t_direct, math.inf
    real = p.compute.kind != "c"
    n = 1
    for a, b in zip(s1, s2):
        n *= _fast_len(a + b - 1)
    points = n / 2 if real else n
    fft_par = 1 + 0.7 * (threads - 1) if nd > 1 else 1 / _F_1D
    t_fft = _F_PT[key] * 3 * points * math.log2(max(n, 2)) / fft_par + _F_CALL
    return t_direct, t_fft


_RESOLVED = {}


def _resolve(p):
    """Turn method 'auto' into 'direct' or 'fft'; integers and bools never use FFT.

    Decisions are memoised per (params, threads): repeated calls on the same
    shapes pay a dictionary lookup, not the model."""
    if p.method == "direct":
        return p
    if p.compute.kind not in "fc" or p.empty:
        return dataclasses.replace(p, method="direct")
    if p.method == "fft":
        return p
    threads = _num_threads()
    key = (p, threads)
    r = _RESOLVED.get(key)
    if r is None:
        td, tf = _times(p, threads)
        r = dataclasses.replace(p, method="fft" if tf < td else "direct")
        if len(_RESOLVED) > 512:
            _RESOLVED.clear()
        _RESOLVED[key] = r
    return r


def _num_threads():
    from ._cpu._common import num_threads  # numba is imported by the kernels anyway

    return num_threads()


def choose_conv_method(in1, in2, mode="full", measure=False):
    """Find the faster way (``'direct'`` or ``'fft'``) to correlate/convolve two arrays.

    Same signature and return values as :func:`scipy.signal.choose_conv_method`,
    but the choice is made for *fastconv's* direct kernels (much faster than
    SciPy's), with a cost model fitted on them.  Integer and boolean inputs
    always get ``'direct'`` (exact; FFT would round).

    Parameters
    ----------
    in1, in2 : array_like
        The operands of :func:`convolve` / :func:`correlate` (same rank).
    mode : {'full', 'valid', 'same'}
    measure : bool, default False
        Time both methods on these arrays and return ``(method, times)``.

    Returns
    -------
    method : str
        ``'direct'`` or ``'fft'``.
    times : dict, optional
        Only with ``measure=True``: best wall time in seconds per method.
    """
    if measure:
        times = {}
        for m in ("fft", "direct"):
            convolve(in1, in2, mode=mode, method=m)  # compile / warm up
            best = math.inf
            for _ in range(3):
                t0 = time.perf_counter()
                convolve(in1, in2, mode=mode, method=m)
                best = min(best, time.perf_counter() - t0)
            times[m] = best
        return ("fft" if times["fft"] < times["direct"] else "direct"), times
    if _both_0d(in1, in2):
        return "direct"
    backend, x, w, m1, m2 = _prepare(in1, in2)
    p = _params.signal_params("convolve", m1, m2, mode, "auto")
    return _resolve(p).method


# --------------------------------------------------------------------------
# N-d functions
# --------------------------------------------------------------------------


def correlate(in1, in2, mode="full", method="auto", *, out=None):
    r"""Cross-correlate two N-dimensional arrays (``scipy.signal.correlate``).

    .. math:: z[k] = \sum_l \mathrm{in1}[l] \, \overline{\mathrm{in2}[l - k]}

    over the overlap; ``'full'`` gives every lag (``n1 + n2 - 1`` per axis),
    ``'same'`` the ``in1``-sized centre (start ``(n2 - 1) // 2`` per axis of
    the full result) and ``'valid'`` the lags without zero padding (either
    operand may be the larger one, but in every axis).

    Parameters
    ----------
    in1, in2 : array_like
        Same rank.  Real, complex or integer (integer inputs give an integer
        result, accumulated with wrap-around as scipy does).
    mode : {'full', 'valid', 'same'}, default 'full'
    method : {'auto', 'direct', 'fft'}, default 'auto'
        ``'direct'``: fastconv's Numba kernels; ``'fft'``: via ``scipy.fft``;
        ``'auto'``: :func:`choose_conv_method`'s choice.
    out : ndarray, optional
        Preallocated result (shape and dtype as returned).

    Returns
    -------
    ndarray
        dtype ``np.result_type(in1, in2)``.  Two 0-d operands give
        ``in1 * conj(in2)`` as in SciPy.

    Raises
    ------
    ValueError
        Different ranks, unknown mode or method, 'valid' mode with neither
        operand at least as large as the other in every axis, unsupported
        dtypes (scipy's ``Unsupported type``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import signal
    >>> signal.correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    array([0.5, 2. , 3.5, 3. , 0. ])
    >>> signal.correlate([1, 2, 3], [0, 1, 0.5], mode="same")
    array([2. , 3.5, 3. ])
    """
    if _both_0d(in1, in2):
        return _scalar(in1, in2, conj=True, out=out)
    backend, x, w, m1, m2 = _prepare(in1, in2)
    p = _resolve(_params.signal_params("correlate", m1, m2, mode, method))
    return _run(p, backend, x, w, out)


def convolve(in1, in2, mode="full", method="auto", *, out=None):
    r"""Convolve two N-dimensional arrays (``scipy.signal.convolve``).

    .. math:: z[k] = \sum_l \mathrm{in1}[l] \, \mathrm{in2}[k - l]

    Modes, methods, dtypes and errors as :func:`correlate` (the ``'same'``
    centre also starts at ``(n2 - 1) // 2``).

    Examples
    --------
    >>> from fastconv import signal
    >>> signal.convolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> signal.convolve([[1, 2], [3, 4]], [[1, 1]], mode="full")
    array([[1, 3, 2],
           [3, 7, 4]])
    """
    if _both_0d(in1, in2):
        return _scalar(in1, in2, conj=False, out=out)
    backend, x, w, m1, m2 = _prepare(in1, in2)
    p = _resolve(_params.signal_params("convolve", m1, m2, mode, method))
    return _run(p, backend, x, w, out)


# --------------------------------------------------------------------------
# 2-D functions
# --------------------------------------------------------------------------


def _two_d(func, in1, in2, mode, boundary, fillvalue, out):
    if _both_0d(in1, in2):
        raise ValueError(f"{func} inputs must both be 2-D arrays, got two 0-d arrays")
    backend, x, w, m1, m2 = _prepare(in1, in2)
    p = _params.signal2d_params(func, m1, m2, mode, boundary, fillvalue)
    return _run(p, backend, x, w, out)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, out=None):
    """Cross-correlate two 2-D arrays (``scipy.signal.correlate2d``).

    Parameters
    ----------
    in1, in2 : array_like
        2-D arrays.
    mode : {'full', 'valid', 'same'}, default 'full'
        ``'same'`` keeps ``in1``'s shape, starting at ``n2 // 2`` of the full
        result -- one sample later than :func:`correlate` for even kernel
        lengths, exactly as SciPy (scipy issue 1968).
    boundary : {'fill', 'wrap', 'symm'}, default 'fill'
        Also SciPy's aliases ``'pad'``, ``'circular'``, ``'symmetric'``.
        ``fill`` pads with ``fillvalue``; ``wrap`` is periodic; ``symm``
        mirrors with the edge sample repeated.
    fillvalue : scalar, default 0
        Converted to complex, then to the output dtype (as SciPy; a non-zero
        imaginary part with a real output is a ``ValueError``).
    out : ndarray, optional

    Notes
    -----
    In ``'valid'`` mode with ``in2`` the larger operand, SciPy swaps the
    operands and reverses the result without conjugating it; for complex
    inputs that is the conjugate of :func:`correlate`'s answer.  Mirrored.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import signal
    >>> a = np.arange(9.0).reshape(3, 3)
    >>> signal.correlate2d(a, np.ones((2, 2)), mode="same")
    array([[ 8., 12.,  7.],
           [20., 24., 13.],
           [13., 15.,  8.]])
    >>> signal.correlate2d(a, np.ones((2, 2)), mode="same", boundary="wrap")
    array([[ 8., 12., 10.],
           [20., 24., 22.],
           [14., 18., 16.]])
    """
    return _two_d("correlate2d", in1, in2, mode, boundary, fillvalue, out)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, out=None):
    """Convolve two 2-D arrays (``scipy.signal.convolve2d``).

    Same arguments as :func:`correlate2d`; the ``'same'`` centre starts at
    ``(n2 - 1) // 2`` of the full result (as :func:`convolve`).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import signal
    >>> a = np.arange(9.0).reshape(3, 3)
    >>> signal.convolve2d(a, np.ones((2, 2)), mode="same")
    array([[ 0.,  1.,  3.],
           [ 3.,  8., 12.],
           [ 9., 20., 24.]])
    >>> signal.convolve2d(a, [[1.0, 0.0, -1.0]], mode="same", boundary="symm")
    array([[1., 2., 1.],
           [1., 2., 1.],
           [1., 2., 1.]])
    """
    return _two_d("convolve2d", in1, in2, mode, boundary, fillvalue, out)
