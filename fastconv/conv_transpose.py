"""Transposed convolution: ``conv_transpose1d``, ``conv_transpose2d``, ``conv_transpose3d``.

Semantics are those of ``torch.nn.functional.conv_transpose{1,2,3}d`` (the
adjoint of ``conv{nd}d`` with the same weight), plus ``output_size=`` as
``torch.nn.ConvTranspose{nd}d.forward`` accepts it.
"""

from __future__ import annotations

from . import _dispatch, _params

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


def _meta(a):
    return None if a is None else _params.array_meta(a)


_conv_transpose_params = _params.memoised(_params.conv_transpose_params)


_plans = _dispatch.HostPlans()


def _conv_transpose(nd, x, weight, bias, stride, padding, output_padding, groups, dilation,
                    output_size, out):
    backend, arrays, p = _plans.lookup(
        nd, {"input": x, "weight": weight, "bias": bias},
        (stride, padding, output_padding, groups, dilation, output_size),
        lambda x, w, b: _conv_transpose_params(nd, _meta(x), _meta(w), _meta(b), stride, padding,
                                               output_padding, groups, dilation, output_size))
    if backend == _dispatch.CPU:
        target, out = _dispatch.check_out(out, p.out_shape, p.dtype, arrays)
        _dispatch.run(backend, "conv_transpose", "conv_transpose", p, arrays, target)
        return _dispatch.finish(target, out)
    return _dispatch.run(backend, "conv_transpose", "conv_transpose", p, arrays, out)


_DOC = """
    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C_in, {sp})`` or unbatched ``(C_in, {sp})``.
    weight : array_like
        Filters of shape ``(C_in, C_out/groups, {ks})`` (the layout of the
        ``conv{nd}d`` weight this op is the adjoint of).
    bias : array_like, optional
        Shape ``(C_out,)``, added to every output position.
    stride : int or tuple of int, default 1
        Spacing of the input samples in the output (``stride-1`` zeros between
        them in the equivalent direct convolution).
    padding : int or tuple of int, default 0
        ``dilation*(kernel_size-1) - padding`` zeros are added on both sides
        of the (zero-inserted) input; i.e. ``padding`` is removed from both
        ends of the full result.  Must be >= 0.
    output_padding : int or tuple of int, default 0
        Extra size added to one side (the end) of every output axis; must be
        smaller than ``stride`` or ``dilation`` on each axis.
    groups : int, default 1
        Split channels into ``groups`` independent transposed convolutions;
        must divide ``C_in``.  ``C_out = groups * weight.shape[1]``.
    dilation : int or tuple of int, default 1
        Spacing between kernel taps.
    output_size : sequence of int, optional
        Wanted spatial output size (or full size including ``N, C`` /
        ``C``); derives ``output_padding`` exactly as
        ``torch.nn.ConvTranspose{nd}d.forward`` does and raises ``ValueError``
        when the size is not in ``[min, min + stride - 1]``.
    out : ndarray, optional
        Preallocated output with the result's shape and dtype.

    Returns
    -------
    ndarray
        Shape ``(N, C_out, {osp})`` (unbatched input: no ``N``) with, per axis,
        ``L_out = (L-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1``
        (:func:`fastconv.shapes.conv_transpose_output_size`); dtype
        ``np.result_type`` of the operands (float32 or float64).

    Raises
    ------
    ValueError
        Wrong ranks, ``groups`` not dividing ``C_in``, a weight whose first axis
        is not ``C_in``, negative padding, zero stride or dilation,
        ``output_padding`` too large, an output size below 1, an unreachable
        ``output_size``, ``out`` of the wrong shape.
    TypeError
        Non-numeric, bool or complex arrays, ``out`` of the wrong dtype, a CUDA
        operand next to a host input.
"""


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, output_size=None, out=None):
    return _conv_transpose(1, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, output_size, out)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, output_size=None, out=None):
    return _conv_transpose(2, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, output_size, out)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, output_size=None, out=None):
    return _conv_transpose(3, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, output_size, out)


conv_transpose1d.__doc__ = """1-D transposed convolution over ``(N, C, L)`` inputs.
""" + _DOC.format(sp="L", ks="k", osp="L_out", nd=1) + """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[1.0, 2.0, 3.0]]])
    >>> fastconv.conv_transpose1d(x, np.ones((1, 1, 2)))
    array([[[1., 3., 5., 3.]]])
    >>> fastconv.conv_transpose1d(x, np.ones((1, 1, 2)), stride=2)
    array([[[1., 1., 2., 2., 3., 3.]]])
"""

conv_transpose2d.__doc__ = """2-D transposed convolution over ``(N, C, H, W)`` inputs.
""" + _DOC.format(sp="H, W", ks="kh, kw", osp="H_out, W_out", nd=2) + """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 256, 16, 16), np.float32)
    >>> w = np.ones((256, 128, 4, 4), np.float32)
    >>> fastconv.conv_transpose2d(x, w, stride=2, padding=1).shape
    (1, 128, 32, 32)
    >>> fastconv.conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> fastconv.conv_transpose2d(np.ones((1, 3, 3)), np.ones((1, 1, 3, 3)), stride=2,
    ...                           padding=1, output_size=(6, 6)).shape
    (1, 6, 6)
"""

conv_transpose3d.__doc__ = """3-D transposed convolution over ``(N, C, D, H, W)`` inputs.
""" + _DOC.format(sp="D, H, W", ks="kd, kh, kw", osp="D_out, H_out, W_out", nd=3) + """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 2, 4, 4, 4))
    >>> fastconv.conv_transpose3d(x, np.ones((2, 3, 2, 2, 2)), stride=2).shape
    (1, 3, 8, 8, 8)
"""
