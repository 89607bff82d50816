"""Argument validation: one normaliser per op family, each returning a frozen params object.

Everything here looks only at shapes, dtypes and Python arguments (never at
array data), works for NumPy and CUDA arrays alike, and raises ``TypeError`` /
``ValueError`` naming the argument, the value and what was expected *before*
any kernel runs.  Shape arithmetic itself lives in :mod:`fastconv.shapes`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from . import shapes

# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def array_meta(a):
    """``(shape, dtype)`` of a NumPy array or any object with a CUDA array interface."""
    iface = getattr(a, "__cuda_array_interface__", None)
    if iface is not None:
        return tuple(int(s) for s in iface["shape"]), np.dtype(iface["typestr"])
    return tuple(a.shape), np.dtype(a.dtype)


def check_kind(name, dtype, allow_complex=False, allow_int=True):
    """Reject dtypes no op accepts (bool, object, strings, datetimes, structured)."""
    kind = dtype.kind
    ok = "f" + ("iu" if allow_int else "") + ("c" if allow_complex else "")
    if kind not in ok:
        what = "real floating" if not allow_complex else "numeric"
        raise TypeError(f"{name} has dtype {dtype}, expected a {what} array (float32 or float64)")


def float_result_dtype(**dtypes):
    """``np.result_type`` of the operands, mapped onto float32/float64.

    Integer-only operands compute in float64 (as NumPy's true division);
    float16 computes in float32; long double is rejected.
    """
    for name, dt in dtypes.items():
        if dt is not None:
            check_kind(name, dt)
    dt = np.result_type(*[d for d in dtypes.values() if d is not None])
    if dt.kind in "iu":
        return np.dtype(np.float64)
    if dt == np.float16:
        return np.dtype(np.float32)
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype {dt} is not supported; expected float32 or float64")
    return dt


def as_int(name, value, minimum=None):
    """An ``int`` from an integer-like value, with an optional lower bound."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r} must be an integer, not a bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}={value!r} must be an integer, got {type(value).__name__}") from None
    if minimum is not None and v < minimum:
        raise ValueError(f"{name}={v} must be >= {minimum}")
    return int(v)


def ntuple(name, value, nd, minimum=None):
    """An int or a length-``nd`` sequence of ints -> tuple of ``nd`` ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != nd:
            raise ValueError(
                f"{name}={tuple(value)!r} must be an int or a tuple of {nd} ints"
            )
        vals = tuple(as_int(name, v) for v in value)
    elif isinstance(value, np.ndarray) and value.ndim == 1:
        return ntuple(name, value.tolist(), nd, minimum)
    else:
        vals = (as_int(name, value),) * nd
    if minimum is not None:
        for v in vals:
            if v < minimum:
                raise ValueError(f"{name}={_fmt(value)} must be >= {minimum} in every axis")
    return vals


def _fmt(value):
    return tuple(value) if isinstance(value, list) else value


def check_rank(name, shape, ranks, what):
    if len(shape) not in ranks:
        exp = " or ".join(f"{r}-D" for r in ranks)
        raise ValueError(f"{name} must be {exp} {what}, got {len(shape)}-D with shape {shape}")


# --------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


@dataclass(frozen=True)
class ConvParams:
    """Normalised arguments of conv1d/2d/3d, depthwise and separable conv.

    Spatial tuples have ``nd`` entries.  ``in_shape``/``out_shape`` are the
    user-visible shapes (no batch axis when ``batched`` is False).
    """

    nd: int
    batched: bool
    batch: int
    in_channels: int
    out_channels: int
    groups: int
    in_spatial: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    pad_lo: tuple
    pad_hi: tuple
    padding_mode: str
    out_spatial: tuple
    dtype: np.dtype
    has_bias: bool
    depthwise: bool  # groups == in_channels and one input channel per group
    out_shape: tuple

    @property
    def unpadded(self):
        return not any(self.pad_lo) and not any(self.pad_hi)

    @property
    def pointwise(self):
        """1x1 kernel, stride 1, no padding, no groups: a plain channel mix."""
        return (
            all(k == 1 for k in self.kernel)
            and all(s == 1 for s in self.stride)
            and self.unpadded
            and self.groups == 1
        )

    @property
    def flops(self):
        """Multiply-adds x 2 of the op (the usual GFLOP/s numerator)."""
        cg = self.in_channels // self.groups
        n = self.batch * self.out_channels * int(np.prod(self.out_spatial))
        return 2 * n * cg * int(np.prod(self.kernel))


def _conv_padding(padding, nd, kernel, dilation, stride):
    if isinstance(padding, str):
        if padding == "valid":
            z = (0,) * nd
            return z, z
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"padding='same' requires stride=1 in every axis, got stride={stride}"
                )
            lohi = [shapes.same_padding(k, d) for k, d in zip(kernel, dilation)]
            return tuple(a for a, _ in lohi), tuple(b for _, b in lohi)
        raise ValueError(
            f"padding={padding!r} is not a padding mode; expected an int, a tuple of ints, "
            "'valid' or 'same'"
        )
    p = ntuple("padding", padding, nd, minimum=0)
    return p, p


def conv_params(nd, x_meta, w_meta, b_meta, stride, padding, dilation, groups, padding_mode):
    """Validate conv{nd}d arguments; ``*_meta`` are ``(shape, dtype)`` pairs (bias may be None)."""
    xs, xdt = x_meta
    ws, wdt = w_meta
    check_rank("input", xs, (nd + 1, nd + 2), f"(C, *spatial) or (N, C, *spatial) for conv{nd}d")
    check_rank("weight", ws, (nd + 2,), f"(C_out, C_in/groups, *kernel) for conv{nd}d")
    dtype = float_result_dtype(
        input=xdt, weight=wdt, bias=None if b_meta is None else b_meta[1]
    )
    batched = len(xs) == nd + 2
    n = xs[0] if batched else 1
    cin = xs[1] if batched else xs[0]
    in_sp = tuple(xs[-nd:])
    cout, cg = ws[0], ws[1]
    kernel = tuple(ws[2:])
    g = as_int("groups", groups, 1)
    if cin < 1:
        raise ValueError(f"input has {cin} channels, expected at least 1")
    if cin % g:
        raise ValueError(f"groups={g} does not divide in_channels={cin}")
    if cout < 1 or cout % g:
        raise ValueError(f"groups={g} does not divide out_channels={cout} (weight.shape[0])")
    if cg * g != cin:
        raise ValueError(
            f"weight.shape[1]={cg} must be in_channels/groups = {cin}/{g} = {cin // g} "
            f"(weight shape {ws}, input shape {xs})"
        )
    if any(k < 1 for k in kernel):
        raise ValueError(f"weight has an empty kernel, shape {ws}")
    if b_meta is not None:
        bs = b_meta[0]
        if bs != (cout,):
            raise ValueError(f"bias must have shape ({cout},) = (out_channels,), got {bs}")
    s = ntuple("stride", stride, nd, minimum=1)
    d = ntuple("dilation", dilation, nd, minimum=1)
    lo, hi = _conv_padding(padding, nd, kernel, d, s)
    if padding_mode not in PADDING_MODES:
        raise ValueError(
            f"padding_mode={padding_mode!r} is not supported; expected one of {PADDING_MODES}"
        )
    if padding_mode != "zeros":
        for ax, (a, b, L) in enumerate(zip(lo, hi, in_sp)):
            if padding_mode == "reflect" and max(a, b) >= max(L, 1):
                raise ValueError(
                    f"padding_mode='reflect' needs padding < input size: padding ({a}, {b}) "
                    f"on spatial axis {ax} of size {L}"
                )
            if padding_mode == "circular" and max(a, b) > L:
                raise ValueError(
                    f"padding_mode='circular' needs padding <= input size: padding ({a}, {b}) "
                    f"on spatial axis {ax} of size {L}"
                )
    out_sp = []
    for ax in range(nd):
        span = shapes.effective_kernel_size(kernel[ax], d[ax])
        padded = in_sp[ax] + lo[ax] + hi[ax]
        if span > padded:
            raise ValueError(
                f"kernel size {kernel[ax]} with dilation {d[ax]} spans {span} samples, "
                f"larger than the padded input ({padded}) on spatial axis {ax}"
            )
        out_sp.append(shapes.conv_output_size(in_sp[ax], kernel[ax], s[ax], (lo[ax], hi[ax]), d[ax]))
    out_sp = tuple(out_sp)
    out_shape = ((n,) if batched else ()) + (cout,) + out_sp
    return ConvParams(
        nd=nd, batched=batched, batch=n, in_channels=cin, out_channels=cout, groups=g,
        in_spatial=in_sp, kernel=kernel, stride=s, dilation=d, pad_lo=lo, pad_hi=hi,
        padding_mode=padding_mode, out_spatial=out_sp, dtype=dtype,
        has_bias=b_meta is not None, depthwise=(g == cin and cg == 1), out_shape=out_shape,
    )


def depthwise_params(x_meta, w_meta, b_meta, stride, padding, dilation):
    """``depthwise_conv2d``: weight must be ``(C*m, 1, kh, kw)``."""
    ws = w_meta[0]
    xs = x_meta[0]
    check_rank("input", xs, (3, 4), "(C, H, W) or (N, C, H, W) for depthwise_conv2d")
    check_rank("weight", ws, (4,), "(C*multiplier, 1, kh, kw) for depthwise_conv2d")
    c = xs[-3]
    if ws[1] != 1 or ws[0] < 1 or ws[0] % max(c, 1):
        raise ValueError(
            f"weight shape {ws} must be (C*multiplier, 1, kh, kw) with C = in_channels = {c}"
        )
    return conv_params(2, x_meta, w_meta, b_meta, stride, padding, dilation, c, "zeros")


def separable_params(x_meta, dw_meta, pw_meta, b_meta, stride, padding, dilation):
    """``separable_conv2d``: depthwise ``(C*m,1,kh,kw)`` then pointwise ``(K, C*m, 1, 1)``."""
    dwp = depthwise_params(x_meta, dw_meta, None, stride, padding, dilation)
    ps = pw_meta[0]
    check_rank("pointwise_weight", ps, (4, 2), "(C_out, C*multiplier, 1, 1) or (C_out, C*multiplier)")
    if len(ps) == 4 and ps[2:] != (1, 1):
        raise ValueError(f"pointwise_weight must have a 1x1 kernel, got shape {ps}")
    mid = dwp.out_channels
    if ps[1] != mid:
        raise ValueError(
            f"pointwise_weight.shape[1]={ps[1]} must equal depthwise out channels {mid}"
        )
    mid_shape = ((dwp.batch,) if dwp.batched else ()) + (mid,) + dwp.out_spatial
    pwp = conv_params(
        2, (mid_shape, dwp.dtype), ((ps[0], ps[1], 1, 1), pw_meta[1]), b_meta, 1, 0, 1, 1, "zeros"
    )
    return dwp, pwp


# --------------------------------------------------------------------------
# transposed convolution
# --------------------------------------------------------------------------

# @@ TRANSPOSE-PARAMS @@

# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------

# @@ POOL-PARAMS @@

# --------------------------------------------------------------------------
# interpolation
# --------------------------------------------------------------------------

# @@ INTERP-PARAMS @@

# --------------------------------------------------------------------------
# signal family
# --------------------------------------------------------------------------

# @@ SIGNAL-PARAMS @@
