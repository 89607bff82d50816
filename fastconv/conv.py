"""Convolution: ``conv1d``, ``conv2d``, ``conv3d``, ``depthwise_conv2d``, ``separable_conv2d``.

Semantics are those of ``torch.nn.functional.conv{1,2,3}d`` (cross-correlation,
no kernel flip) with ``padding_mode`` as in ``torch.nn.Conv{1,2,3}d``.
"""

from __future__ import annotations

from . import _dispatch, _params

__all__ = ["conv1d", "conv2d", "conv3d", "depthwise_conv2d", "separable_conv2d"]


def _meta(a):
    return None if a is None else _params.array_meta(a)


def _run_conv(p, backend, x, weight, bias, out):
    if backend == _dispatch.CPU:
        target, out = _dispatch.check_out(out, p.out_shape, p.dtype, (x, weight, bias))
        _dispatch.run(backend, "conv", "conv", p, (x, weight, bias), target)
        return _dispatch.finish(target, out)
    return _dispatch.run(backend, "conv", "conv", p, (x, weight, bias), out)


_conv_params = _params.memoised(_params.conv_params)


_plans = _dispatch.HostPlans()


def _conv(nd, x, weight, bias, stride, padding, dilation, groups, padding_mode, out):
    args = (stride, padding, dilation, groups, padding_mode)
    key = _plans.key(nd, (x, weight, bias), args)
    fast = _plans.runner(key)
    if fast:  # a repeated host call: the short path, unless it declines
        y = fast(x, weight, bias, out)
        if y is not None:
            return y
    backend, (x, weight, bias), p = _plans.lookup(
        nd, {"input": x, "weight": weight, "bias": bias}, args,
        lambda x, w, b: _conv_params(nd, _meta(x), _meta(w), _meta(b), stride, padding,
                                     dilation, groups, padding_mode), key)
    y = _run_conv(p, backend, x, weight, bias, out)
    if fast is not False:  # none yet, or it declined: maybe made for another thread count
        _plans.learn(key, "conv", p, (x, weight, bias))
    return y


_COMMON_DOC = """
    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C_in, {sp})`` or unbatched ``(C_in, {sp})``.
    weight : array_like
        Filters of shape ``(C_out, C_in/groups, {ks})``.
    bias : array_like, optional
        Shape ``(C_out,)``, added to every output position.
    stride : int or tuple of int, default 1
        Step of the sliding window per spatial axis.
    padding : int, tuple of int, 'valid' or 'same', default 0
        Implicit padding on both sides of every spatial axis.  ``'same'``
        keeps the size (stride 1 only); an odd total puts the extra element
        after, as PyTorch does.
    dilation : int or tuple of int, default 1
        Spacing between kernel taps.
    groups : int, default 1
        Split channels into ``groups`` independent convolutions; must divide
        ``C_in`` and ``C_out``.
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}, default 'zeros'
        How the padded border is filled (as ``torch.nn.Conv{nd}d``).
    out : ndarray, optional
        Preallocated output with the result's shape and dtype.

    Returns
    -------
    ndarray
        Shape ``(N, C_out, {osp})`` (unbatched input: no ``N``); dtype
        ``np.result_type`` of the operands (float32 or float64).

    Raises
    ------
    ValueError
        Wrong ranks, channel/group mismatch, negative padding, zero stride or
        dilation, a kernel larger than the padded input, unknown modes.
    TypeError
        Non-numeric or complex arrays, a CUDA operand next to a host input.
"""


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", *, out=None):
    return _conv(1, x, weight, bias, stride, padding, dilation, groups, padding_mode, out)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", *, out=None):
    return _conv(2, x, weight, bias, stride, padding, dilation, groups, padding_mode, out)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", *, out=None):
    return _conv(3, x, weight, bias, stride, padding, dilation, groups, padding_mode, out)


conv1d.__doc__ = """1-D convolution (cross-correlation) over ``(N, C, L)`` inputs.
""" + _COMMON_DOC.format(sp="L", ks="k", osp="L_out", nd=1) + """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    >>> fastconv.conv1d(x, np.ones((1, 1, 3), np.float32))
    array([[[ 3.,  6.,  9., 12.]]], dtype=float32)
    >>> fastconv.conv1d(x, np.ones((1, 1, 3), np.float32), padding='same', padding_mode='circular')
    array([[[ 6.,  3.,  6.,  9., 12.,  9.]]], dtype=float32)
"""

conv2d.__doc__ = """2-D convolution (cross-correlation) over ``(N, C, H, W)`` inputs.

    With ``groups == C_in`` and a ``(C_in*m, 1, kh, kw)`` weight this takes the
    same fast kernel as :func:`depthwise_conv2d`.
""" + _COMMON_DOC.format(sp="H, W", ks="kh, kw", osp="H_out, W_out", nd=2) + """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> k = np.ones((1, 1, 2, 2))
    >>> fastconv.conv2d(x, k)[0, 0]
    array([[12., 16., 20., 24.],
           [32., 36., 40., 44.],
           [52., 56., 60., 64.],
           [72., 76., 80., 84.]])
    >>> fastconv.conv2d(x, k, stride=2)[0, 0]
    array([[12., 20.],
           [52., 60.]])
    >>> fastconv.conv2d(x, k, dilation=2)[0, 0]
    array([[24., 28., 32.],
           [44., 48., 52.],
           [64., 68., 72.]])
"""

conv3d.__doc__ = """3-D convolution (cross-correlation) over ``(N, C, D, H, W)`` inputs.
""" + _COMMON_DOC.format(sp="D, H, W", ks="kd, kh, kw", osp="D_out, H_out, W_out", nd=3) + """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 2, 4, 4, 4))
    >>> fastconv.conv3d(x, np.ones((3, 2, 3, 3, 3)), padding=1).shape
    (1, 3, 4, 4, 4)
"""


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *, out=None):
    """Depthwise 2-D convolution: each input channel convolved with its own filters.

    Equivalent to ``conv2d(x, weight, bias, stride, padding, dilation, groups=C)``
    with ``weight`` of shape ``(C*m, 1, kh, kw)`` (``m`` = depth multiplier);
    output channel ``c*m + j`` is input channel ``c`` filtered by ``weight[c*m + j]``.

    Parameters
    ----------
    x : array_like
        ``(N, C, H, W)`` or ``(C, H, W)``.
    weight : array_like
        ``(C*m, 1, kh, kw)``.
    bias : array_like, optional
        ``(C*m,)``.
    stride, padding, dilation
        As :func:`conv2d` (zero padding).
    out : ndarray, optional
        Preallocated output.

    Returns
    -------
    ndarray
        ``(N, C*m, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 2, 4, 4), np.float32)
    >>> w = np.ones((2, 1, 3, 3), np.float32)
    >>> fastconv.depthwise_conv2d(x, w, padding=1)[0, 0]
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]], dtype=float32)
    """
    backend, (x, weight, bias), p = _plans.lookup(
        "depthwise", {"input": x, "weight": weight, "bias": bias}, (stride, padding, dilation),
        lambda x, w, b: _params.depthwise_params(_meta(x), _meta(w), _meta(b), stride, padding,
                                                 dilation))
    return _run_conv(p, backend, x, weight, bias, out)


def separable_conv2d(x, depthwise_weight, pointwise_weight, bias=None, stride=1, padding=0,
                     dilation=1, *, out=None):
    """Depthwise-separable 2-D convolution: depthwise filters, then a 1x1 channel mix.

    The two steps are fused per block of output rows on the CPU, so the
    ``(N, C*m, H_out, W_out)`` intermediate is never allocated.

    ``conv2d(depthwise_conv2d(x, depthwise_weight, None, stride, padding, dilation),
    pointwise_weight, bias)`` in one call.

    Parameters
    ----------
    x : array_like
        ``(N, C, H, W)`` or ``(C, H, W)``.
    depthwise_weight : array_like
        ``(C*m, 1, kh, kw)``.
    pointwise_weight : array_like
        ``(C_out, C*m, 1, 1)`` (or ``(C_out, C*m)``).
    bias : array_like, optional
        ``(C_out,)``, added after the pointwise step.
    stride, padding, dilation
        Of the depthwise step, as :func:`conv2d`.
    out : ndarray, optional
        Preallocated output.

    Returns
    -------
    ndarray
        ``(N, C_out, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 16, 8, 8), np.float32)
    >>> dw = np.ones((16, 1, 3, 3), np.float32)
    >>> pw = np.ones((32, 16, 1, 1), np.float32)
    >>> y = fastconv.separable_conv2d(x, dw, pw, padding=1)
    >>> y.shape, float(y[0, 0, 4, 4])
    ((1, 32, 8, 8), 144.0)
    """
    backend, (x, dw, pw, bias), (dwp, pwp) = _plans.lookup(
        "separable",
        {"input": x, "depthwise_weight": depthwise_weight, "pointwise_weight": pointwise_weight,
         "bias": bias},
        (stride, padding, dilation),
        lambda x, dw, pw, b: _params.separable_params(_meta(x), _meta(dw), _meta(pw), _meta(b),
                                                      stride, padding, dilation))
    if backend == _dispatch.CPU:
        target, out = _dispatch.check_out(out, pwp.out_shape, pwp.dtype, (x, dw, pw, bias))
        _dispatch.run(backend, "conv", "separable", (dwp, pwp), (x, dw, pw, bias), target)
        return _dispatch.finish(target, out)
    return _dispatch.run(backend, "conv", "separable", (dwp, pwp), (x, dw, pw, bias), out)
