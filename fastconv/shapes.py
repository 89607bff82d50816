"""Shape arithmetic for every fastconv op (pure Python, no NumPy needed).

This module is the single place where output sizes, ``'same'`` padding
splits, receptive fields and parameter counts are computed.  The ops use it
themselves, so what it returns is exactly what the ops produce.

All formulas follow PyTorch (``torch.nn.functional``) exactly:

* convolution:      ``floor((L + lo + hi - d*(k-1) - 1) / s) + 1``
* transposed conv:  ``(L-1)*s - 2*p + d*(k-1) + output_padding + 1``
* pooling:          as convolution, with ``ceil`` instead of ``floor`` when
  ``ceil_mode=True`` and the rule that the last window must start inside the
  input or the left padding.

Examples
--------
>>> from fastconv import shapes
>>> shapes.conv_output_size(5, 2)
4
>>> shapes.conv_output_size(5, 2, stride=2)
2
>>> shapes.same_padding(4)            # even kernel: the extra pad goes after
(1, 2)
>>> shapes.stack_output_sizes(64, [(3, 1, r) for r in (1, 2, 5, 1, 2, 5)])
[62, 58, 48, 46, 42, 32]
>>> shapes.conv_params(256, 256, 3, bias=False)
589824
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = [
    "conv_output_size",
    "conv_output_shape",
    "conv_transpose_output_size",
    "conv_transpose_output_shape",
    "pool_output_size",
    "pool_output_shape",
    "same_padding",
    "effective_kernel_size",
    "receptive_field",
    "stack_output_sizes",
    "conv_params",
    "gridding",
    "GriddingReport",
    "ReceptiveField",
]


def _as_int(name, value, minimum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import operator

            value_i = operator.index(value)
        except TypeError:
            raise TypeError(
                f"{name}={value!r} must be an integer, got {type(value).__name__}"
            ) from None
        value = value_i
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value} must be >= {minimum}")
    return int(value)


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``dilation * (kernel_size - 1) + 1``.

    >>> effective_kernel_size(3, 2)
    5
    """
    k = _as_int("kernel_size", kernel_size, 1)
    d = _as_int("dilation", dilation, 1)
    return d * (k - 1) + 1


def _split_pad(padding):
    if isinstance(padding, tuple):
        if len(padding) != 2:
            raise ValueError(
                f"padding={padding!r} must be an int or a (before, after) pair"
            )
        lo = _as_int("padding", padding[0], 0)
        hi = _as_int("padding", padding[1], 0)
        return lo, hi
    p = _as_int("padding", padding, 0)
    return p, p


def conv_output_size(
    in_size: int, kernel_size: int, stride: int = 1, padding=0, dilation: int = 1
) -> int:
    """Output length of a convolution along one axis (PyTorch's rule).

    Parameters
    ----------
    in_size : int
        Input length.
    kernel_size, stride, dilation : int
        Kernel length, step and tap spacing (all >= 1).
    padding : int or (int, int)
        Zeros (or mode padding) added before and after; a single int pads
        both sides equally.

    Returns
    -------
    int
        ``floor((in_size + lo + hi - dilation*(kernel_size-1) - 1) / stride) + 1``.
        It is below 1 when the dilated kernel is longer than the padded
        input; the ops reject that case.

    Examples
    --------
    >>> conv_output_size(5, 2, padding=1)
    6
    >>> conv_output_size(56, 3, stride=2, padding=1)
    28
    """
    n = _as_int("in_size", in_size, 0)
    s = _as_int("stride", stride, 1)
    lo, hi = _split_pad(padding)
    span = effective_kernel_size(kernel_size, dilation)
    return (n + lo + hi - span) // s + 1


def _per_axis(name, value, ndim):
    if isinstance(value, (tuple, list)):
        if len(value) != ndim:
            raise ValueError(
                f"{name}={tuple(value)!r} must have {ndim} entries (one per spatial axis)"
            )
        return tuple(value)
    return (value,) * ndim


def conv_output_shape(in_shape, kernel_size, stride=1, padding=0, dilation=1):
    """Spatial output shape of an N-d convolution; arguments per axis or scalar.

    ``padding`` may be an int, a tuple of ints (one per axis) or a tuple of
    ``(before, after)`` pairs.

    >>> conv_output_shape((56, 56), 3, padding=1)
    (56, 56)
    >>> conv_output_shape((10, 11), (3, 2), stride=(1, 2))
    (8, 5)
    """
    in_shape = tuple(in_shape)
    nd = len(in_shape)
    ks = _per_axis("kernel_size", kernel_size, nd)
    ss = _per_axis("stride", stride, nd)
    ps = _per_axis("padding", padding, nd)
    ds = _per_axis("dilation", dilation, nd)
    return tuple(
        conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip(in_shape, ks, ss, ps, ds)
    )


def conv_transpose_output_size(
    in_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length of a transposed convolution along one axis.

    ``(in_size - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1``

    >>> conv_transpose_output_size(16, 4, stride=2, padding=1)
    32
    >>> conv_transpose_output_size(126, 3)
    128
    """
    n = _as_int("in_size", in_size, 0)
    s = _as_int("stride", stride, 1)
    p = _as_int("padding", padding, 0)
    op = _as_int("output_padding", output_padding, 0)
    span = effective_kernel_size(kernel_size, dilation)
    return (n - 1) * s - 2 * p + span - 1 + op + 1


def conv_transpose_output_shape(
    in_shape, kernel_size, stride=1, padding=0, output_padding=0, dilation=1
):
    """Spatial output shape of an N-d transposed convolution.

    >>> conv_transpose_output_shape((16, 16), 4, stride=2, padding=1)
    (32, 32)
    """
    in_shape = tuple(in_shape)
    nd = len(in_shape)
    return tuple(
        conv_transpose_output_size(n, k, s, p, o, d)
        for n, k, s, p, o, d in zip(
            in_shape,
            _per_axis("kernel_size", kernel_size, nd),
            _per_axis("stride", stride, nd),
            _per_axis("padding", padding, nd),
            _per_axis("output_padding", output_padding, nd),
            _per_axis("dilation", dilation, nd),
        )
    )


def pool_output_size(
    in_size: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of max/avg pooling along one axis (PyTorch's rule).

    With ``ceil_mode=True`` the division rounds up, but the last window must
    start inside the input or the left padding; a window that would start in
    the right padding is dropped.  ``stride=None`` means ``stride=kernel_size``.

    >>> pool_output_size(112, 3, 2, 1)
    56
    >>> pool_output_size(5, 2, 2, ceil_mode=True)
    3
    >>> pool_output_size(6, 2, 2, padding=1, ceil_mode=True)
    4
    """
    n = _as_int("in_size", in_size, 0)
    k = _as_int("kernel_size", kernel_size, 1)
    s = k if stride is None else _as_int("stride", stride, 1)
    p = _as_int("padding", padding, 0)
    span = effective_kernel_size(k, dilation)
    num = n + 2 * p - span
    if ceil_mode:
        out = -((-num) // s) + 1
        if (out - 1) * s >= n + p:
            out -= 1
    else:
        out = num // s + 1
    return out


def pool_output_shape(in_shape, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Spatial output shape of N-d pooling.

    >>> pool_output_shape((112, 112), 3, 2, 1)
    (56, 56)
    """
    in_shape = tuple(in_shape)
    nd = len(in_shape)
    ks = _per_axis("kernel_size", kernel_size, nd)
    ss = ks if stride is None else _per_axis("stride", stride, nd)
    return tuple(
        pool_output_size(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(
            in_shape, ks, ss, _per_axis("padding", padding, nd), _per_axis("dilation", dilation, nd)
        )
    )


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """``(before, after)`` padding that keeps the length at stride 1.

    The total is ``dilation*(kernel_size-1)``; when it is odd the extra
    element goes *after*, as in ``torch.nn.functional.conv2d(padding='same')``.

    >>> same_padding(3)
    (1, 1)
    >>> same_padding(4)
    (1, 2)
    >>> same_padding(4, dilation=2)
    (3, 3)
    """
    total = effective_kernel_size(kernel_size, dilation) - 1
    lo = total // 2
    return lo, total - lo


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of a layer stack.

    Attributes
    ----------
    size : int
        Input samples one output sample sees (along one axis).
    jump : int
        Input-sample distance between neighbouring outputs (product of strides).
    sizes : tuple of int
        Receptive field after each layer.
    """

    size: int
    jump: int
    sizes: tuple


def _layer(spec):
    if isinstance(spec, int):
        spec = (spec,)
    spec = tuple(spec)
    if not 1 <= len(spec) <= 3:
        raise ValueError(
            f"layer={spec!r} must be kernel_size or (kernel_size, stride[, dilation])"
        )
    k = _as_int("kernel_size", spec[0], 1)
    s = _as_int("stride", spec[1], 1) if len(spec) > 1 else 1
    d = _as_int("dilation", spec[2], 1) if len(spec) > 2 else 1
    return k, s, d


def receptive_field(layers: Iterable) -> ReceptiveField:
    """Receptive field of a stack of ``(kernel_size, stride, dilation)`` layers.

    Each layer adds ``dilation*(kernel_size-1)`` times the current jump.

    >>> receptive_field([(3, 1, 1)] * 2).size
    5
    >>> receptive_field([(3, 1, r) for r in (1, 2, 5, 1, 2, 5)]).size
    33
    >>> receptive_field([(7, 2), (3, 2), (3, 1)]).jump
    4
    """
    rf, jump, sizes = 1, 1, []
    for spec in layers:
        k, s, d = _layer(spec)
        rf += d * (k - 1) * jump
        jump *= s
        sizes.append(rf)
    return ReceptiveField(rf, jump, tuple(sizes))


def stack_output_sizes(in_size: int, layers: Iterable, padding=0) -> list:
    """Output length after each layer of a stack (``padding`` applied to every layer).

    Raises ``ValueError`` when a layer's output would be empty.

    >>> stack_output_sizes(64, [(3, 1, 1), (3, 1, 2)])
    [62, 58]
    """
    n = _as_int("in_size", in_size, 1)
    out = []
    for i, spec in enumerate(layers):
        k, s, d = _layer(spec)
        n = conv_output_size(n, k, s, padding, d)
        if n < 1:
            raise ValueError(
                f"layer {i} (kernel_size={k}, stride={s}, dilation={d}) leaves no output"
            )
        out.append(n)
    return out


def conv_params(
    in_channels: int,
    out_channels: int,
    kernel_size,
    groups: int = 1,
    bias: bool = True,
) -> int:
    """Number of learnable parameters of a convolution layer.

    ``out_channels * (in_channels // groups) * prod(kernel_size) (+ out_channels)``

    >>> conv_params(256, 256, 3, bias=False)
    589824
    >>> conv_params(16, 16, 3, groups=16, bias=False) + conv_params(16, 32, 1, bias=False)
    656
    """
    cin = _as_int("in_channels", in_channels, 1)
    cout = _as_int("out_channels", out_channels, 1)
    g = _as_int("groups", groups, 1)
    if cin % g:
        raise ValueError(f"groups={g} does not divide in_channels={cin}")
    if cout % g:
        raise ValueError(f"groups={g} does not divide out_channels={cout}")
    if isinstance(kernel_size, (tuple, list)):
        ks = [_as_int("kernel_size", k, 1) for k in kernel_size]
    else:
        ks = [_as_int("kernel_size", kernel_size, 1)] * 2
    n = cout * (cin // g) * math.prod(ks)
    return n + (cout if bias else 0)


@dataclass(frozen=True)
class GriddingReport:
    """Result of :func:`gridding`.

    Attributes
    ----------
    rates : tuple of int
        The dilation rates examined.
    common_factor : int
        Greatest common divisor of the rates; > 1 means gridding.
    span : int
        Receptive field of the stack (along one axis).
    holes : tuple of int
        Offsets inside the receptive field (0 = its first sample) that no
        path through the stack reaches.
    has_gridding : bool
        True when there are holes.
    """

    rates: tuple
    common_factor: int
    span: int
    holes: tuple

    @property
    def has_gridding(self) -> bool:
        return bool(self.holes)


def gridding(rates: Sequence[int], kernel_size: int = 3) -> GriddingReport:
    """Check a stack of dilated convolutions for gridding (holes in the receptive field).

    A stack of stride-1 convolutions with dilation rates ``r_i`` reaches the
    input offsets ``sum_i r_i * j_i`` with ``0 <= j_i < kernel_size``.  When the
    rates share a factor ``g > 1`` only multiples of ``g`` are reached; the
    hybrid-dilated-convolution rule is to choose rates without such a factor
    (e.g. 1, 2, 5 rather than 2, 4, 8).

    >>> gridding([2, 2, 2]).common_factor
    2
    >>> gridding([2, 2, 2]).holes[:3]
    (1, 3, 5)
    >>> gridding([1, 2, 5]).has_gridding
    False
    """
    rs = tuple(_as_int("rate", r, 1) for r in rates)
    if not rs:
        raise ValueError("rates=() must name at least one dilation rate")
    k = _as_int("kernel_size", kernel_size, 1)
    reach = {0}
    for r in rs:
        reach = {a + r * j for a in reach for j in range(k)}
    span = max(reach) + 1
    holes = tuple(i for i in range(span) if i not in reach)
    g = 0
    for r in rs:
        g = math.gcd(g, r)
    return GriddingReport(rs, g, span, holes)
