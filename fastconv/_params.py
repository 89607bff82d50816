"""Argument validation: one normaliser per op family, each returning a frozen params object.

Everything here looks only at shapes, dtypes and Python arguments (never at
array data), works for NumPy and CUDA arrays alike, and raises ``TypeError`` /
``ValueError`` naming the argument, the value and what was expected *before*
any kernel runs.  Shape arithmetic itself lives in :mod:`fastconv.shapes`.
"""

from __future__ import annotations

import functools
import operator
import dataclasses
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


def _plain(v):
    """True for an argument whose hash and ``==`` pin it down exactly.

    Exact ``int`` and ``str`` values, ``None`` and tuples of exact ints: a bool,
    a float or a NumPy scalar could compare equal to an int yet validate
    differently, so such calls are never served from a cache.
    """
    t = type(v)
    if t is int or t is str or v is None:
        return True
    if t is tuple:
        for e in v:
            if type(e) is not int:
                return False
        return True
    return False


def memoised(validator, maxsize=512):
    """Cache ``validator(nd, *metas, *args)`` for plain arguments.

    The metas come from :func:`array_meta` (int shapes and ``np.dtype``s);
    the trailing Python arguments are cached only when :func:`_plain`.  The
    params objects are frozen, so calls can share them; errors are never cached
    (they are raised again on every call).  Saves ~10 us per call, which is
    noticeable next to the kernels of small convolutions.
    """
    cache = {}

    @functools.wraps(validator)
    def wrapper(*args):
        for a in args:
            meta = type(a) is tuple and len(a) == 2 and isinstance(a[1], np.dtype) and _plain(a[0])
            if not (meta or _plain(a)):
                return validator(*args)
        p = cache.get(args)
        if p is None:
            p = validator(*args)
            if len(cache) >= maxsize:
                cache.clear()
            cache[args] = p
        return p

    wrapper.cache = cache
    return wrapper


def check_rank(name, shape, ranks, what):
    if len(shape) not in ranks:
        exp = " or ".join(f"{r}-D" for r in ranks)
        raise ValueError(f"{name} must be {exp} {what}, got {len(shape)}-D with shape {shape}")


def _hash_once(cls):
    """Give a frozen params dataclass a hash computed once per object.

    The kernels' plan caches (``functools.lru_cache`` on params) hash the same
    params object several times per call; the generated dataclass hash rebuilds
    a tuple of every field each time, which costs microseconds per call when
    the interpreter's caches are cold after a large kernel.  Equality is
    unchanged; the stored hash is left out of pickles (string hashes differ
    between processes).
    """
    names = tuple(f.name for f in dataclasses.fields(cls))

    def __hash__(self):
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash(tuple(getattr(self, n) for n in names))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    cls.__hash__ = __hash__
    cls.__getstate__ = __getstate__
    return cls


# --------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


@_hash_once
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

@_hash_once
@dataclass(frozen=True)
class ConvTransposeParams:
    """Normalised arguments of conv_transpose1d/2d/3d.

    ``weight`` is ``(C_in, C_out/groups, *kernel)``.  Spatial tuples have
    ``nd`` entries; ``out_shape`` is the user-visible output shape.
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
    padding: tuple
    output_padding: tuple
    dilation: tuple
    out_spatial: tuple
    dtype: np.dtype
    has_bias: bool
    out_shape: tuple

    @property
    def flops(self):
        """Multiply-adds x 2 of the dense formulation (the usual GFLOP/s numerator)."""
        kg = self.out_channels // self.groups
        n = self.batch * self.in_channels * int(np.prod(self.in_spatial))
        return 2 * n * kg * int(np.prod(self.kernel))


def _transpose_output_padding(nd, in_sp, kernel, s, p, d, output_size, batched):
    """``output_padding`` derived from ``output_size`` as ``nn.ConvTransposeNd._output_padding``."""
    if isinstance(output_size, np.ndarray):
        output_size = output_size.tolist()
    if not isinstance(output_size, (tuple, list)):
        try:
            output_size = [as_int("output_size", output_size)] * nd
        except TypeError:
            raise TypeError(
                f"output_size={output_size!r} must be a sequence of ints"
            ) from None
    size = [as_int("output_size", v) for v in output_size]
    extra = 2 if batched else 1
    if len(size) == nd + extra:
        size = size[extra:]
    if len(size) != nd:
        raise ValueError(
            f"output_size={tuple(output_size)!r} must have {nd} or {nd + extra} entries "
            f"for a {nd + extra}-D input"
        )
    res = []
    for ax in range(nd):
        lo = shapes.conv_transpose_output_size(in_sp[ax], kernel[ax], s[ax], p[ax], 0, d[ax])
        hi = lo + s[ax] - 1
        if not lo <= size[ax] <= hi:
            mins = [shapes.conv_transpose_output_size(in_sp[a], kernel[a], s[a], p[a], 0, d[a])
                    for a in range(nd)]
            maxs = [m + s[a] - 1 for a, m in enumerate(mins)]
            raise ValueError(
                f"output_size={tuple(size)!r} is not reachable: valid sizes range from "
                f"{tuple(mins)} to {tuple(maxs)} (for an input of spatial size {tuple(in_sp)})"
            )
        res.append(size[ax] - lo)
    return tuple(res)


def conv_transpose_params(nd, x_meta, w_meta, b_meta, stride, padding, output_padding, groups,
                          dilation, output_size=None):
    """Validate conv_transpose{nd}d arguments (torch semantics); metas are ``(shape, dtype)``."""
    xs, xdt = x_meta
    ws, wdt = w_meta
    check_rank("input", xs, (nd + 1, nd + 2),
               f"(C, *spatial) or (N, C, *spatial) for conv_transpose{nd}d")
    check_rank("weight", ws, (nd + 2,),
               f"(C_in, C_out/groups, *kernel) for conv_transpose{nd}d")
    dtype = float_result_dtype(
        input=xdt, weight=wdt, bias=None if b_meta is None else b_meta[1]
    )
    batched = len(xs) == nd + 2
    n = xs[0] if batched else 1
    cin = xs[1] if batched else xs[0]
    in_sp = tuple(xs[-nd:])
    g = as_int("groups", groups, 1)
    if cin < 1:
        raise ValueError(f"input has {cin} channels, expected at least 1")
    if any(v < 1 for v in in_sp):
        raise ValueError(f"input has an empty spatial axis, shape {xs}")
    if cin % g:
        raise ValueError(f"groups={g} does not divide in_channels={cin}")
    if ws[0] != cin:
        raise ValueError(
            f"weight.shape[0]={ws[0]} must equal in_channels={cin} "
            f"(weight shape {ws}, input shape {xs}; weight is (C_in, C_out/groups, *kernel))"
        )
    kg = ws[1]
    if kg < 1:
        raise ValueError(f"weight.shape[1]={kg} must be >= 1 (C_out/groups), weight shape {ws}")
    cout = kg * g
    kernel = tuple(ws[2:])
    if any(k < 1 for k in kernel):
        raise ValueError(f"weight has an empty kernel, shape {ws}")
    if b_meta is not None and b_meta[0] != (cout,):
        raise ValueError(f"bias must have shape ({cout},) = (out_channels,), got {b_meta[0]}")
    s = ntuple("stride", stride, nd, minimum=1)
    p = ntuple("padding", padding, nd, minimum=0)
    d = ntuple("dilation", dilation, nd, minimum=1)
    op = ntuple("output_padding", output_padding, nd, minimum=0)
    if output_size is not None:
        derived = _transpose_output_padding(nd, in_sp, kernel, s, p, d, output_size, batched)
        if any(op) and op != derived:
            raise ValueError(
                f"output_padding={_fmt(output_padding)} contradicts output_size="
                f"{_fmt(output_size)} (which needs output_padding={derived}); give only one"
            )
        op = derived
    for ax in range(nd):
        if op[ax] >= max(s[ax], d[ax]):
            raise ValueError(
                f"output_padding={_fmt(output_padding) if output_size is None else op} must be "
                f"smaller than stride or dilation on every axis: axis {ax} has output_padding "
                f"{op[ax]}, stride {s[ax]}, dilation {d[ax]}"
            )
    out_sp = tuple(
        shapes.conv_transpose_output_size(in_sp[a], kernel[a], s[a], p[a], op[a], d[a])
        for a in range(nd)
    )
    if any(o < 1 for o in out_sp):
        raise ValueError(
            f"output size {out_sp} is too small (must be >= 1 on every axis) for input spatial "
            f"size {in_sp}, kernel {kernel}, stride {s}, padding {p}, dilation {d}, "
            f"output_padding {op}"
        )
    out_shape = ((n,) if batched else ()) + (cout,) + out_sp
    return ConvTransposeParams(
        nd=nd, batched=batched, batch=n, in_channels=cin, out_channels=cout, groups=g,
        in_spatial=in_sp, kernel=kernel, stride=s, padding=p, output_padding=op, dilation=d,
        out_spatial=out_sp, dtype=dtype, has_bias=b_meta is not None, out_shape=out_shape,
    )


# @@ TRANSPOSE-PARAMS @@

# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------

@_hash_once
@dataclass(frozen=True)
class PoolParams:
    """Normalised arguments of max_pool{1,2,3}d / avg_pool{1,2,3}d.

    ``kind`` is ``"max"`` or ``"avg"``; spatial tuples have ``nd`` entries;
    ``out_shape`` is the user-visible shape (no batch axis when unbatched).
    """

    kind: str
    nd: int
    batched: bool
    batch: int
    channels: int
    in_spatial: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    ceil_mode: bool
    count_include_pad: bool
    divisor_override: object  # None or a nonzero int
    return_indices: bool
    out_spatial: tuple
    dtype: np.dtype
    out_shape: tuple


def _pool_tuple(name, value, nd, minimum):
    """torch accepts an int, a 1-tuple (broadcast) or an ``nd``-tuple."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, (tuple, list)) and len(value) != nd:
        raise ValueError(f"{name}={tuple(value)!r} must be an int or a tuple of 1 or {nd} ints")
    return ntuple(name, value, nd, minimum=minimum)


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r} must be a bool")
    return bool(value)


def _pool_input(fname, nd, xs, xdt):
    check_rank("input", xs, (nd + 1, nd + 2), f"(C, *spatial) or (N, C, *spatial) for {fname}")
    dtype = float_result_dtype(input=xdt)
    batched = len(xs) == nd + 2
    n = xs[0] if batched else 1
    c = xs[1] if batched else xs[0]
    sp = tuple(xs[-nd:])
    nonbatch = xs[1:] if batched else xs
    if any(s < 1 for s in nonbatch):
        raise ValueError(
            f"input of {fname} must have non-zero size for non-batch dimensions, got shape {xs}"
        )
    return dtype, batched, n, c, sp


def pool_params(kind, nd, x_meta, kernel_size, stride=None, padding=0, dilation=1,
                ceil_mode=False, count_include_pad=True, divisor_override=None,
                return_indices=False):
    """Validate ``{kind}_pool{nd}d`` arguments (torch.nn.functional semantics)."""
    fname = f"{kind}_pool{nd}d"
    xs, xdt = x_meta
    dtype, batched, n, c, sp = _pool_input(fname, nd, xs, xdt)
    k = _pool_tuple("kernel_size", kernel_size, nd, 1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k
    else:
        s = _pool_tuple("stride", stride, nd, 1)
    p = _pool_tuple("padding", padding, nd, 0)
    d = _pool_tuple("dilation", dilation, nd, 1)
    ceil_mode = _check_bool("ceil_mode", ceil_mode)
    count_include_pad = _check_bool("count_include_pad", count_include_pad)
    return_indices = _check_bool("return_indices", return_indices)
    if divisor_override is not None:
        divisor_override = as_int("divisor_override", divisor_override)
        if divisor_override == 0:
            raise ValueError("divisor_override=0 must be a nonzero integer")
    for ax in range(nd):
        if p[ax] > k[ax] // 2:
            raise ValueError(
                f"padding={_fmt(padding)} must be at most half the kernel size "
                f"(kernel_size={k[ax]} allows padding <= {k[ax] // 2}) on spatial axis {ax}"
            )
    out_sp = tuple(
        shapes.pool_output_size(sp[ax], k[ax], s[ax], p[ax], d[ax], ceil_mode) for ax in range(nd)
    )
    if any(o < 1 for o in out_sp):
        raise ValueError(
            f"{fname}: input spatial size {sp} is too small for kernel_size={k}, "
            f"dilation={d}, padding={p}: the output would be {out_sp}"
        )
    out_shape = ((n,) if batched else ()) + (c,) + out_sp
    return PoolParams(
        kind=kind, nd=nd, batched=batched, batch=n, channels=c, in_spatial=sp, kernel=k,
        stride=s, padding=p, dilation=d, ceil_mode=ceil_mode,
        count_include_pad=count_include_pad, divisor_override=divisor_override,
        return_indices=return_indices, out_spatial=out_sp, dtype=dtype, out_shape=out_shape,
    )


@_hash_once
@dataclass(frozen=True)
class AdaptivePoolParams:
    """Normalised arguments of adaptive_avg_pool2d / adaptive_max_pool2d."""

    kind: str
    nd: int
    batched: bool
    batch: int
    channels: int
    in_spatial: tuple
    out_spatial: tuple
    return_indices: bool
    dtype: np.dtype
    out_shape: tuple


def adaptive_pool_params(kind, nd, x_meta, output_size, return_indices=False):
    """Validate ``adaptive_{kind}_pool{nd}d``; ``None`` entries keep the input size."""
    fname = f"adaptive_{kind}_pool{nd}d"
    xs, xdt = x_meta
    dtype, batched, n, c, sp = _pool_input(fname, nd, xs, xdt)
    return_indices = _check_bool("return_indices", return_indices)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != nd:
            raise ValueError(
                f"output_size={tuple(output_size)!r} must be an int or a tuple of {nd} "
                "ints (or None)"
            )
        vals = output_size
    else:
        if output_size is None:
            raise TypeError("output_size=None: expected an int or a tuple of ints (or None)")
        vals = (output_size,) * nd
    out_sp = tuple(
        sp[ax] if v is None else as_int("output_size", v, 0) for ax, v in enumerate(vals)
    )
    out_shape = ((n,) if batched else ()) + (c,) + out_sp
    return AdaptivePoolParams(
        kind=kind, nd=nd, batched=batched, batch=n, channels=c, in_spatial=sp,
        out_spatial=out_sp, return_indices=return_indices, dtype=dtype, out_shape=out_shape,
    )


# @@ POOL-PARAMS @@

# --------------------------------------------------------------------------
# interpolation
# --------------------------------------------------------------------------

INTERP_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear")
_INTERP_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


@_hash_once
@dataclass(frozen=True)
class InterpParams:
    """Normalised arguments of ``interpolate``.

    ``scales`` holds, per spatial axis, the user's scale factor that torch uses
    for the coordinate mapping (``1/scale``), or ``None`` when the mapping is
    ``in/out`` (``size`` given, or ``recompute_scale_factor=True``).
    """

    mode: str
    nd: int
    batch: int
    channels: int
    in_spatial: tuple
    out_spatial: tuple
    scales: tuple
    align_corners: bool
    dtype: np.dtype
    out_shape: tuple


def _is_int_like(v):
    if isinstance(v, (bool, np.bool_)):
        return False
    try:
        operator.index(v)
        return True
    except TypeError:
        return False


def _as_scale(v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"scale_factor={v!r} must be a real number (or a tuple of them)")
    f = float(v)
    if not np.isfinite(f):
        raise ValueError(f"scale_factor={v!r} must be finite")
    return f


def interp_params(x_meta, size=None, scale_factor=None, mode="nearest", align_corners=None,
                  recompute_scale_factor=None):
    """Validate ``interpolate`` arguments (``torch.nn.functional.interpolate`` rules)."""
    xs, xdt = x_meta
    if not isinstance(mode, str) or mode not in INTERP_MODES:
        raise ValueError(f"mode={mode!r} is not supported; expected one of {INTERP_MODES}")
    if mode in ("nearest", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                f"align_corners={align_corners!r} can only be set with the interpolating modes "
                f"linear | bilinear | bicubic | trilinear, not mode={mode!r}"
            )
        align_corners = False
    else:
        if align_corners is None:
            align_corners = False
        elif not isinstance(align_corners, (bool, np.bool_)):
            raise TypeError(f"align_corners={align_corners!r} must be a bool or None")
        align_corners = bool(align_corners)
    if mode in _INTERP_RANK:
        r = _INTERP_RANK[mode]
        if len(xs) != r:
            raise ValueError(
                f"mode={mode!r} needs a {r}-D input (N, C, {r - 2} spatial axes), "
                f"got {len(xs)}-D with shape {xs}"
            )
    else:
        check_rank("input", xs, (3, 4, 5), f"(N, C, *spatial) for mode={mode!r}")
    dtype = float_result_dtype(input=xdt)
    nd = len(xs) - 2
    n, c = xs[0], xs[1]
    in_sp = tuple(xs[2:])
    if recompute_scale_factor is not None and not isinstance(recompute_scale_factor, (bool, np.bool_)):
        raise TypeError(f"recompute_scale_factor={recompute_scale_factor!r} must be a bool or None")
    if size is not None and scale_factor is not None:
        raise ValueError(
            f"size={size!r} and scale_factor={scale_factor!r}: only one of size or scale_factor "
            "should be defined"
        )
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(
                "recompute_scale_factor=True is not meaningful with an explicit size "
                f"(size={size!r})"
            )
        vals = tuple(size) if isinstance(size, (tuple, list)) else (size,) * nd
        if len(vals) != nd:
            raise ValueError(
                f"size={tuple(size)!r} must have {nd} entries, one per spatial axis of the "
                f"input shape {xs}"
            )
        for v in vals:
            if not _is_int_like(v):
                raise TypeError(f"size={size!r} must be an int or a tuple of {nd} ints")
        out_sp = tuple(int(operator.index(v)) for v in vals)
        scales = (None,) * nd
    elif scale_factor is not None:
        vals = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * nd
        if len(vals) != nd:
            raise ValueError(
                f"scale_factor={tuple(scale_factor)!r} must have {nd} entries, one per spatial "
                f"axis of the input shape {xs}"
            )
        sf = tuple(_as_scale(v) for v in vals)
        out_sp = tuple(int(np.floor(float(L) * f)) for L, f in zip(in_sp, sf))
        scales = (None,) * nd if recompute_scale_factor else sf
    else:
        raise ValueError("interpolate: either size or scale_factor should be defined (got neither)")
    if any(L < 1 for L in in_sp) or any(o < 1 for o in out_sp):
        raise ValueError(
            f"interpolate: input and output spatial sizes must be > 0, got input {in_sp} "
            f"and output {out_sp}"
        )
    if c < 1:
        raise ValueError(f"interpolate: input must have at least one channel, got shape {xs}")
    return InterpParams(
        mode=mode, nd=nd, batch=n, channels=c, in_spatial=in_sp, out_spatial=out_sp,
        scales=scales, align_corners=align_corners, dtype=dtype,
        out_shape=(n, c) + out_sp,
    )


# @@ INTERP-PARAMS @@

# --------------------------------------------------------------------------
# signal family
# --------------------------------------------------------------------------

import math  # noqa: E402  (signal block)

SIGNAL_MODES = ("full", "same", "valid")
SIGNAL_METHODS = ("auto", "direct", "fft")
# scipy.signal's boundary aliases (``_boundarydict``); 'reflect' is accepted by
# the name table but rejected by its C code with "Incorrect boundary value."
SIGNAL_BOUNDARIES = {"fill": "fill", "pad": "fill", "wrap": "wrap", "circular": "wrap",
                     "symm": "symm", "symmetric": "symm"}
_MODE_MSG = "Acceptable mode flags are 'valid', 'same', or 'full'."
_METHOD_MSG = "Acceptable method flags are 'auto', 'direct', or 'fft'."
_BOUNDARY_MSG = ("Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), "
                 "and 'symmetric' (or 'symm').")
_VALID_MSG = "For 'valid' mode, one must be at least as large as the other in every dimension"


@_hash_once
@dataclass(frozen=True)
class SignalParams:
    """Normalised arguments of ``fastconv.signal`` correlate/convolve(2d).

    Every op is computed as the *correlation* of ``in1`` with a kernel ``K``
    (``conj(in2)`` for correlate, ``in2`` reversed for convolve); the full
    result ``z`` has shape ``n1 + n2 - 1`` per axis with
    ``z[k] = sum_j in1[k - (n2-1) + j] * K[j]``.  The output is
    ``z[start : start + out_shape]`` per axis.

    ``dtype`` is the result dtype (scipy's), ``compute`` the dtype the kernels
    run in (integers of every width run in int64 -- wrap-around arithmetic is
    the same ring, so the cast back is exact -- bool in int64 then ``!= 0``,
    float16 in float32).
    """

    func: str
    mode: str
    method: str  # 'direct' or 'fft' (auto resolved by the public module)
    in1_shape: tuple
    in2_shape: tuple
    out_shape: tuple
    start: tuple
    dtype: np.dtype
    compute: np.dtype
    swapped: bool        # 'valid' with in2 the larger operand
    boundary: str = "fill"
    fillvalue: complex = 0j
    empty: bool = False  # an operand has size 0: the output is zeros (or empty)

    @property
    def nd(self):
        return len(self.in1_shape)

    @property
    def flip(self):
        return self.func in ("convolve", "convolve2d")

    @property
    def macs(self):
        """Multiply-adds of the direct method (taps that touch the data)."""
        return _signal_direct_macs(self.in1_shape, self.in2_shape, self.out_shape, self.start)


def _signal_direct_macs(s1, s2, so, start):
    total = 1
    for n1, n2, L, st in zip(s1, s2, so, start):
        off = st - (n2 - 1)
        # sum over outputs o of the number of taps j with 0 <= o+off+j < n1
        # overlap length at position p = o + off is |[p, p+n2) & [0, n1)|
        total *= _overlap_sum(off, off + L - 1, n1, n2)
    return total


def _overlap_sum(p0, p1, n1, n2):
    """sum_{p=p0}^{p1} |[p, p+n2) & [0, n1)|, in closed form: the overlap is
    linear in p between the breakpoints -n2, 0, n1-n2, n1."""
    def f(p):  # overlap at one position
        return max(0, min(p + n2, n1) - max(p, 0))

    if p1 < p0:
        return 0
    pts = sorted({p0, p1 + 1} | {b for b in (-n2, 0, n1 - n2, n1) if p0 < b <= p1})
    s = 0
    for a, b in zip(pts[:-1], pts[1:]):  # [a, b): an arithmetic series
        s += (f(a) + f(b - 1)) * (b - a) // 2
    return s


def _signal_valid_swap(s1, s2):
    """scipy's ``_inputs_swap_needed`` for mode 'valid' (raises its ValueError)."""
    if not s1:
        return False
    ok1 = all(a >= b for a, b in zip(s1, s2))
    ok2 = all(b >= a for a, b in zip(s1, s2))
    if not (ok1 or ok2):
        raise ValueError(f"{_VALID_MSG}: in1.shape={s1}, in2.shape={s2}")
    return not ok1


def _signal_kind_error(func, dtype, nd_direct):
    """Reject dtypes scipy rejects, with scipy's error type and key phrase."""
    k = dtype.kind
    if k in "iuc":
        return
    if k == "f":
        if dtype.itemsize > 8:
            raise TypeError(
                f"{func}: dtype {dtype} (long double) is not supported by fastconv; "
                "use float64/complex128 or scipy.signal"
            )
        if dtype == np.float16 and nd_direct:
            raise ValueError(f"{func}: Unsupported type float16 for the direct N-d method")
        return
    if k == "b":
        if nd_direct:
            raise ValueError(f"{func}: Unsupported type bool for the direct N-d method")
        return
    raise ValueError(f"{func}: Unsupported type {dtype}; expected a numeric array")


def _signal_compute(dtype):
    if dtype.kind in "biu":
        return np.dtype(np.int64)
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


def signal_params(func, m1, m2, mode, method):
    """``correlate`` / ``convolve`` (N-d, scipy.signal semantics).

    ``m1``/``m2`` are ``(shape, dtype)``.  Raises scipy's errors in scipy's
    order: dimensionality, 'valid' sizes, mode, method.  0-d operands are
    handled by the caller before this.
    """
    s1, d1 = m1
    s2, d2 = m2
    if len(s1) != len(s2):
        raise ValueError(
            f"in1 and in2 should have the same dimensionality: in1 is {len(s1)}-D "
            f"{s1}, in2 is {len(s2)}-D {s2}"
        )
    if not isinstance(mode, str) or mode not in SIGNAL_MODES:
        raise ValueError(f"{_MODE_MSG} Got mode={mode!r}")
    swapped = _signal_valid_swap(s1, s2) if mode == "valid" else False
    if not isinstance(method, str) or method not in SIGNAL_METHODS:
        raise ValueError(f"{_METHOD_MSG} Got method={method!r}")
    dtype = np.result_type(d1, d2)
    # scipy's N-d direct kernel rejects bool and float16; 'auto' always picks
    # direct for bool
    nd_direct = len(s1) > 1 and (method == "direct" or (method == "auto" and dtype == np.bool_))
    _signal_kind_error(func, dtype, nd_direct)
    return _signal_finish(func, s1, s2, mode, method, dtype, swapped, corr2d=None)


def _signal_finish(func, s1, s2, mode, method, dtype, swapped, corr2d, boundary="fill",
                   fillvalue=0j):
    empty = any(n == 0 for n in s1) or any(n == 0 for n in s2)
    if mode == "full":
        out_shape = tuple(a + b - 1 for a, b in zip(s1, s2))
        start = (0,) * len(s1)
    elif mode == "same":
        out_shape = tuple(s1)
        # correlate2d centres even kernels one sample later (scipy issue 1968)
        start = tuple((b // 2) if corr2d is True else (b - 1) // 2 for b in s2)
    else:
        out_shape = tuple(abs(a - b) + 1 for a, b in zip(s1, s2))
        start = tuple(min(a, b) - 1 for a, b in zip(s1, s2))
    if empty:
        if corr2d is None:
            _signal_empty_check(func, s1, s2, mode)
        else:
            if any(n < 0 for n in out_shape):
                raise ValueError(
                    f"{func}: in1.shape={s1} and in2.shape={s2} give a full size {out_shape}; "
                    "negative dimensions are not allowed"
                )
            if boundary != "fill" and 0 in s1 and mode != "valid":
                raise ValueError(
                    f"{func}: boundary={boundary!r} needs a non-empty in1, got shape {s1}"
                )
        out_shape = tuple(max(n, 0) for n in out_shape)
        start = tuple(max(st, 0) for st in start)
    return SignalParams(
        func=func, mode=mode, method=method, in1_shape=tuple(s1), in2_shape=tuple(s2),
        out_shape=out_shape, start=start, dtype=dtype, compute=_signal_compute(dtype),
        swapped=swapped, boundary=boundary, fillvalue=fillvalue, empty=empty,
    )


def _signal_empty_check(func, s1, s2, mode):
    """Size-0 operands: accept exactly what scipy's direct method accepts.

    SciPy zero-pads ``in1`` (after its size-based swap) into the full shape;
    that fails for most empty combinations in 'full' and 'same' mode.
    """
    if len(s1) == 1 and (mode != "same" or s1[0] >= s2[0]):
        # scipy takes numpy.correlate / numpy.convolve here, which refuse empty arrays
        which = "a" if s1[0] == 0 else "v"
        raise ValueError(f"{func}: 1-D {mode!r} mode with an empty operand: {which} cannot be "
                         f"empty (in1.shape={s1}, in2.shape={s2})")
    if mode == "valid":
        return
    a, b = s1, s2
    if mode == "full" and math.prod(s2) > math.prod(s1):
        a, b = s2, s1
    ps = [x + y - 1 for x, y in zip(a, b)]
    if any(p < 0 for p in ps):
        raise ValueError(
            f"{func}: an empty operand gives a negative full size {tuple(ps)} "
            f"(in1.shape={s1}, in2.shape={s2}); negative dimensions are not allowed"
        )
    for x, p in zip(a, ps):
        if not (x == min(x, p) or x == 1):
            raise ValueError(
                f"{func}: could not broadcast an operand of shape {tuple(a)} into the "
                f"zero-padded full shape {tuple(ps)} (empty operand: in1.shape={s1}, "
                f"in2.shape={s2})"
            )


def _signal_fillvalue(fillvalue, dtype):
    """scipy's ``fillvalue`` rules: one element, converted to complex, then cast."""
    if fillvalue is None:
        return complex(np.nan, 0) if dtype.kind in "fc" else 0j
    arr = np.asarray(fillvalue)
    if arr.size != 1:
        raise ValueError(
            f"`fillvalue` must be scalar or an array with one element, got shape {arr.shape}"
        )
    v = arr.reshape(()).item()
    try:
        c = complex(v.decode() if isinstance(v, bytes) else v)
    except (TypeError, ValueError) as e:
        raise ValueError(f"fillvalue={fillvalue!r} could not be converted to complex: {e}") from None
    if dtype.kind != "c" and c.imag != 0:
        raise ValueError(
            f"could not cast `fillvalue` directly to the output type {dtype} "
            f"(it was first converted to complex): fillvalue={fillvalue!r}"
        )
    if dtype.kind in "iu":
        if not math.isfinite(c.real):
            raise ValueError(f"fillvalue={fillvalue!r} cannot be cast to {dtype}")
        c = complex(int(c.real), 0)
    return c


def signal2d_params(func, m1, m2, mode, boundary, fillvalue):
    """``correlate2d`` / ``convolve2d`` (scipy.signal semantics, 2-D only)."""
    s1, d1 = m1
    s2, d2 = m2
    if not len(s1) == len(s2) == 2:
        raise ValueError(
            f"{func} inputs must both be 2-D arrays, got in1.shape={s1}, in2.shape={s2}"
        )
    swapped = _signal_valid_swap(s1, s2) if mode == "valid" else False
    if not isinstance(mode, str) or mode not in SIGNAL_MODES:
        raise ValueError(f"{_MODE_MSG} Got mode={mode!r}")
    if boundary == "reflect":
        raise ValueError("Incorrect boundary value. boundary='reflect' is not implemented "
                         "by scipy.signal's 2-D convolution")
    if not isinstance(boundary, str) or boundary not in SIGNAL_BOUNDARIES:
        raise ValueError(f"{_BOUNDARY_MSG} Got boundary={boundary!r}")
    dtype = np.result_type(d1, d2)
    if dtype.kind not in "iufc" or dtype == np.float16:
        raise ValueError(f"convolve2d not available for this type: {dtype}")
    if dtype.kind == "f" and dtype.itemsize > 8 or dtype.kind == "c" and dtype.itemsize > 16:
        raise TypeError(f"{func}: dtype {dtype} (long double) is not supported by fastconv")
    fv = _signal_fillvalue(fillvalue, dtype)
    p = _signal_finish(func, s1, s2, mode, "direct", dtype, swapped, corr2d=(func == "correlate2d"),
                       boundary=SIGNAL_BOUNDARIES[boundary], fillvalue=fv)
    return p


# @@ SIGNAL-PARAMS @@
