"""Pooling: max/avg pool 1d/2d/3d, ``adaptive_avg_pool2d``, ``adaptive_max_pool2d``.

Semantics are those of ``torch.nn.functional`` exactly: output sizes
(:func:`fastconv.shapes.pool_output_size`, including the ``ceil_mode`` rule),
the padding limit (at most half the kernel), indices flat per ``(N, C)``
plane, NaN propagation in max pooling, and the average-pool divisor rules.
"""

from __future__ import annotations

import numpy as np

from . import _dispatch, _params

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool2d", "adaptive_max_pool2d",
]


def _split_out(out, with_indices):
    if not with_indices:
        if isinstance(out, tuple):
            raise TypeError("out must be an array (a pair only with return_indices=True)")
        return out, None
    if out is None:
        return None, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("with return_indices=True, out must be None or a (values, indices) pair")
    return out[0], out[1]


def _run(backend, func, p, x, out, with_indices):
    vout, iout = _split_out(out, with_indices)
    if backend != _dispatch.CPU:
        # the CUDA dispatcher takes None, one array, or a (values, indices) pair of
        # which either may be None
        dev_out = (vout, iout) if with_indices else vout
        return _dispatch.run(backend, "pool", func, p, (x,), dev_out)
    vt, vout = _dispatch.check_out(vout, p.out_shape, p.dtype, (x,))
    if not with_indices:
        _dispatch.run(backend, "pool", func, p, (x,), vt)
        return _dispatch.finish(vt, vout)
    it, iout = _dispatch.check_out(iout, p.out_shape, np.dtype(np.int64), (x, vout))
    _dispatch.run(backend, "pool", func, p, (x,), (vt, it))
    return _dispatch.finish(vt, vout), _dispatch.finish(it, iout)


_plans = _dispatch.HostPlans()


def _max(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, out):
    backend, (x,), p = _plans.lookup(
        ("max", nd), {"input": x},
        (kernel_size, stride, padding, dilation, ceil_mode, return_indices),
        lambda x: _params.pool_params("max", nd, _params.array_meta(x), kernel_size, stride,
                                      padding, dilation, ceil_mode,
                                      return_indices=return_indices))
    return _run(backend, "max_pool", p, x, out, p.return_indices)


def _avg(nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
         out):
    backend, (x,), p = _plans.lookup(
        ("avg", nd), {"input": x},
        (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override),
        lambda x: _params.pool_params("avg", nd, _params.array_meta(x), kernel_size, stride,
                                      padding, 1, ceil_mode, count_include_pad,
                                      divisor_override))
    return _run(backend, "avg_pool", p, x, out, False)


_MAX_DOC = """{nd}-D max pooling over ``(N, C, {sp})`` (or unbatched ``(C, {sp})``) inputs.

    ``torch.nn.functional.max_pool{nd}d`` semantics: windows of ``kernel_size``
    taps spaced ``dilation`` apart, every ``stride`` samples, over the input
    padded by ``padding`` (-inf) on both sides.  A window containing NaN gives
    NaN.

    Parameters
    ----------
    x : array_like
        Input, float32 or float64 (integers compute in float64).
    kernel_size : int or tuple of int
        Window size per spatial axis.
    stride : int or tuple of int, optional
        Default ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit -inf padding; at most ``kernel_size // 2``.
    dilation : int or tuple of int, default 1
        Spacing between window taps.
    ceil_mode : bool, default False
        Round the output size up; a last window that would start in the
        right padding is dropped (torch's rule, see
        :func:`fastconv.shapes.pool_output_size`).
    return_indices : bool, default False
        Also return the int64 position of each maximum, flat within its
        ``(N, C)`` plane (``(d*H + h)*W + w``).  Ties keep the first
        maximum in scan order; with NaNs the last NaN.
    out : ndarray or (ndarray, ndarray), optional
        Preallocated result (a ``(values, indices)`` pair with
        ``return_indices``).

    Returns
    -------
    ndarray or (ndarray, ndarray)
        ``(N, C, {osp})`` values (and int64 indices).

    Raises
    ------
    ValueError
        Wrong rank, empty channel/spatial axes, non-positive kernel, stride
        or dilation, negative padding or padding above half the kernel, an
        empty output.
    TypeError
        Non-numeric input, non-integer arguments.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange({n}, dtype=np.float32).reshape({shape})
    >>> fastconv.max_pool{nd}d(x, 2){sel}
    {res}
"""

_AVG_DOC = """{nd}-D average pooling over ``(N, C, {sp})`` (or unbatched ``(C, {sp})``) inputs.

    ``torch.nn.functional.avg_pool{nd}d`` semantics.  Each window is clipped
    to the padded extent (``ceil_mode`` windows may run past it); its sum is
    divided by ``divisor_override`` when given, else by the clipped window
    size when ``count_include_pad`` (zeros of the padding count), else by
    the number of in-bounds samples.

    Parameters
    ----------
    x : array_like
        Input, float32 or float64 (integers compute in float64).
    kernel_size : int or tuple of int
        Window size per spatial axis.
    stride : int or tuple of int, optional
        Default ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit zero padding; at most ``kernel_size // 2``.
    ceil_mode : bool, default False
        Round the output size up (torch's rule).
    count_include_pad : bool, default True
        Whether padded zeros count in the divisor.
    divisor_override : int, optional
        Nonzero divisor used for every window.
    out : ndarray, optional
        Preallocated result.

    Returns
    -------
    ndarray
        ``(N, C, {osp})``.

    Raises
    ------
    ValueError
        As :func:`max_pool{nd}d`, and ``divisor_override=0``.
    TypeError
        Non-numeric input, non-integer arguments.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange({n}, dtype=np.float32).reshape({shape})
    >>> fastconv.avg_pool{nd}d(x, 2){sel}
    {ares}
"""


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, out=None):
    return _max(1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, out)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, out=None):
    return _max(2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, out)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, out=None):
    return _max(3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, out)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, out=None):
    return _avg(1, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override, out)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, out=None):
    return _avg(2, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override, out)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, out=None):
    return _avg(3, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override, out)


_EX = {
    1: dict(sp="L", osp="L_out", n=6, shape="1, 1, 6", sel="",
            res="array([[[1., 3., 5.]]], dtype=float32)",
            ares="array([[[0.5, 2.5, 4.5]]], dtype=float32)"),
    2: dict(sp="H, W", osp="H_out, W_out", n=16, shape="1, 1, 4, 4", sel="[0, 0]",
            res="array([[ 5.,  7.],\n           [13., 15.]], dtype=float32)",
            ares="array([[ 2.5,  4.5],\n           [10.5, 12.5]], dtype=float32)"),
    3: dict(sp="D, H, W", osp="D_out, H_out, W_out", n=8, shape="1, 1, 2, 2, 2",
            sel=".ravel()", res="array([7.], dtype=float32)",
            ares="array([3.5], dtype=float32)"),
}
for _nd, _f in ((1, max_pool1d), (2, max_pool2d), (3, max_pool3d)):
    _f.__doc__ = _MAX_DOC.format(nd=_nd, **_EX[_nd])
for _nd, _f in ((1, avg_pool1d), (2, avg_pool2d), (3, avg_pool3d)):
    _f.__doc__ = _AVG_DOC.format(nd=_nd, **_EX[_nd])


def adaptive_avg_pool2d(x, output_size, *, out=None):
    """2-D adaptive average pooling to a fixed output size.

    Output cell ``i`` along an axis of length ``L`` averages input samples
    ``floor(i*L/O) <= j < ceil((i+1)*L/O)`` (``torch.nn.functional.adaptive_avg_pool2d``).

    Parameters
    ----------
    x : array_like
        ``(N, C, H, W)`` or ``(C, H, W)``.
    output_size : int or (int or None, int or None)
        ``(H_out, W_out)``; ``None`` keeps the input size of that axis.
    out : ndarray, optional
        Preallocated result.

    Returns
    -------
    ndarray
        ``(N, C, H_out, W_out)``.

    Raises
    ------
    ValueError
        Wrong rank, empty non-batch axes, negative or mis-sized output_size.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> fastconv.adaptive_avg_pool2d(x, 2)[0, 0]
    array([[ 6.,  8.],
           [16., 18.]])
    """
    backend, (x,), p = _plans.lookup(
        "adaptive_avg", {"input": x}, (output_size,),
        lambda x: _params.adaptive_pool_params("avg", 2, _params.array_meta(x), output_size))
    return _run(backend, "adaptive_avg_pool", p, x, out, False)


def adaptive_max_pool2d(x, output_size, return_indices=False, *, out=None):
    """2-D adaptive max pooling to a fixed output size.

    Windows as :func:`adaptive_avg_pool2d`; NaN and tie rules and indices as
    :func:`max_pool2d` (``torch.nn.functional.adaptive_max_pool2d``).

    Parameters
    ----------
    x : array_like
        ``(N, C, H, W)`` or ``(C, H, W)``.
    output_size : int or (int or None, int or None)
        ``(H_out, W_out)``; ``None`` keeps the input size of that axis.
    return_indices : bool, default False
        Also return int64 flat indices ``h*W + w`` of the maxima.
    out : ndarray or (ndarray, ndarray), optional
        Preallocated result (a pair with ``return_indices``).

    Returns
    -------
    ndarray or (ndarray, ndarray)

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> v, i = fastconv.adaptive_max_pool2d(x, 2, return_indices=True)
    >>> v[0, 0], i[0, 0]
    (array([[12., 14.],
           [22., 24.]]), array([[12, 14],
           [22, 24]]))
    """
    backend, (x,), p = _plans.lookup(
        "adaptive_max", {"input": x}, (output_size, return_indices),
        lambda x: _params.adaptive_pool_params("max", 2, _params.array_meta(x), output_size,
                                               return_indices))
    return _run(backend, "adaptive_max_pool", p, x, out, p.return_indices)
