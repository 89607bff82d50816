"""conv1d/2d/3d, depthwise and separable conv against the scipy.signal oracle."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv import shapes
from conftest import assert_close
import reference

CONV = {1: fastconv.conv1d, 2: fastconv.conv2d, 3: fastconv.conv3d}
DTYPES = [np.float32, np.float64]


def _terms(w):
    return int(np.prod(w.shape[1:])) + 1


def _scale(x, w, b, **kw):
    """Oracle on |x|, |w|, |b|: the largest partial-sum magnitude, for the tolerance."""
    return float(np.max(reference.conv_nd(np.abs(x), np.abs(w), None if b is None else np.abs(b), **kw)))


# --------------------------------------------------------------------------
# golden cases (hand-checked, from the seed articles)
# --------------------------------------------------------------------------

X25 = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
K22 = np.ones((1, 1, 2, 2))


def test_golden_plain():
    np.testing.assert_array_equal(
        fastconv.conv2d(X25, K22)[0, 0],
        [[12, 16, 20, 24], [32, 36, 40, 44], [52, 56, 60, 64], [72, 76, 80, 84]],
    )


def test_golden_stride2():
    np.testing.assert_array_equal(fastconv.conv2d(X25, K22, stride=2)[0, 0], [[12, 20], [52, 60]])


def test_golden_dilation2():
    np.testing.assert_array_equal(
        fastconv.conv2d(X25, K22, dilation=2)[0, 0],
        [[24, 28, 32], [44, 48, 52], [64, 68, 72]],
    )


def test_golden_padding1():
    # every output is the sum of the 2x2 window of the zero-padded input
    xp = np.pad(X25[0, 0], 1)
    expect = xp[:-1, :-1] + xp[1:, :-1] + xp[:-1, 1:] + xp[1:, 1:]
    y = fastconv.conv2d(X25, K22, padding=1)[0, 0]
    assert y.shape == (6, 6)
    np.testing.assert_array_equal(y, expect)
    assert y[0, 0] == 0 and y[0, 1] == 1 and y[5, 5] == 24 and y[1, 1] == 12


def test_golden_padding_modes_1d():
    x = np.arange(1.0, 5.0).reshape(1, 1, 4)  # [1 2 3 4]
    w = np.array([[[1.0, 0.0, 0.0]]])  # picks the left neighbour
    got = {m: fastconv.conv1d(x, w, padding=1, padding_mode=m)[0, 0].tolist()
           for m in ("zeros", "reflect", "replicate", "circular")}
    assert got == {
        "zeros": [0, 1, 2, 3],
        "reflect": [2, 1, 2, 3],
        "replicate": [1, 1, 2, 3],
        "circular": [4, 1, 2, 3],
    }


def test_same_even_kernel_extra_pad_after():
    x = np.arange(6.0).reshape(1, 1, 6)
    w = np.array([[[1.0, 10.0, 100.0, 1000.0]]])
    y = fastconv.conv1d(x, w, padding="same")
    # torch pads (1, 2) for k=4: y[i] = x[i-1] + 10 x[i] + 100 x[i+1] + 1000 x[i+2]
    xp = np.concatenate([[0.0], x[0, 0], [0.0, 0.0]])
    expect = [xp[i] + 10 * xp[i + 1] + 100 * xp[i + 2] + 1000 * xp[i + 3] for i in range(6)]
    np.testing.assert_array_equal(y[0, 0], expect)


def test_unbatched_and_bias():
    x = np.ones((2, 4, 4))
    w = np.ones((3, 2, 3, 3))
    y = fastconv.conv2d(x, w, np.array([1.0, 2.0, 3.0]))
    assert y.shape == (3, 2, 2)
    np.testing.assert_array_equal(y[:, 0, 0], [19, 20, 21])


# --------------------------------------------------------------------------
# property tests against the oracle
# --------------------------------------------------------------------------


@st.composite
def conv_case(draw, nd=None):
    nd = draw(st.integers(1, 3)) if nd is None else nd
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg = draw(st.integers(1, 3))
    kg = draw(st.integers(1, 3))
    n = draw(st.integers(1, 2))
    maxsp = {1: 14, 2: 9, 3: 6}[nd]
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    use_same = draw(st.booleans()) and all(si == 1 for si in s)
    sp = tuple(draw(st.integers(1, maxsp)) for _ in range(nd))
    if use_same:
        padding = "same"
        lohi = [fastconv.shapes.same_padding(ki, di) for ki, di in zip(k, d)]
        lo = tuple(a for a, _ in lohi)
        hi = tuple(b for _, b in lohi)
    else:
        padding = tuple(draw(st.integers(0, 3)) for _ in range(nd))
        lo = hi = padding
    # make the case valid: padded input must hold the dilated kernel, mode limits
    sp = tuple(
        max(L, (ki - 1) * di + 1 - a - b, (max(a, b) + 1) if mode == "reflect" else 1, max(a, b))
        for L, ki, di, a, b in zip(sp, k, d, lo, hi)
    )
    dtype = draw(st.sampled_from(DTYPES))
    bias = draw(st.booleans())
    return dict(nd=nd, groups=groups, cin=cg * groups, cout=kg * groups, n=n, k=k, d=d, s=s,
                mode=mode, padding=padding, lo=lo, hi=hi, sp=sp, dtype=dtype, bias=bias)


def _run_case(c, seed=0, layout="C"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c["n"], c["cin"]) + c["sp"]).astype(c["dtype"])
    w = rng.standard_normal((c["cout"], c["cin"] // c["groups"]) + c["k"]).astype(c["dtype"])
    b = rng.standard_normal(c["cout"]).astype(c["dtype"]) if c["bias"] else None
    if layout == "F":
        x = np.asfortranarray(x)
    elif layout == "strided":
        big = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
        big[..., ::2] = x
        x = big[..., ::2]
    x.setflags(write=False)
    w.setflags(write=False)
    x0, w0 = x.copy(), w.copy()
    y = CONV[c["nd"]](x, w, b, stride=c["s"], padding=c["padding"], dilation=c["d"],
                      groups=c["groups"], padding_mode=c["mode"])
    np.testing.assert_array_equal(x, x0)  # inputs never modified
    np.testing.assert_array_equal(w, w0)
    kw = dict(stride=c["s"], pad_lo=c["lo"], pad_hi=c["hi"], dilation=c["d"],
              groups=c["groups"], mode=c["mode"])
    ref = reference.conv_nd(x, w, b, **kw)
    assert_close(y, ref, c["dtype"], terms=_terms(w), scale=_scale(x, w, b, **kw))


@given(conv_case())
def test_conv_matches_oracle(c):
    _run_case(c)


@given(conv_case())
def test_generic_kernels_match_oracle(c):
    """The row-blocked generic kernels (the fallback and reference) with SIMD switched off."""
    from unittest import mock

    from fastconv._cpu import conv_simd

    with mock.patch.object(conv_simd, "supported", lambda p: False):
        _run_case(c, seed=1)


@given(conv_case(nd=2), st.sampled_from(["F", "strided"]))
def test_conv_noncontiguous_inputs(c, layout):
    _run_case(c, layout=layout)


@given(
    st.integers(1, 3), st.integers(1, 2), st.sampled_from([(3, 3), (5, 5), (3, 5), (1, 1)]),
    st.integers(1, 2), st.integers(1, 2), st.integers(0, 2), st.sampled_from(DTYPES),
    st.sampled_from(["zeros", "replicate"]),
)
def test_depthwise_matches_oracle(cin, mult, k, s, d, p, dtype, mode):
    rng = np.random.default_rng(cin * 7 + mult)
    h = max(8, (k[0] - 1) * d + 1)
    x = rng.standard_normal((2, cin, h, h + 3)).astype(dtype)
    w = rng.standard_normal((cin * mult, 1) + k).astype(dtype)
    b = rng.standard_normal(cin * mult).astype(dtype)
    y = fastconv.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=cin, padding_mode=mode)
    kw = dict(stride=s, pad_lo=p, dilation=d, groups=cin, mode=mode)
    assert_close(y, reference.conv_nd(x, w, b, **kw), dtype, terms=_terms(w),
                 scale=_scale(x, w, b, **kw))
    if mode == "zeros":
        y2 = fastconv.depthwise_conv2d(x, w, b, stride=s, padding=p, dilation=d)
        np.testing.assert_array_equal(y, y2)


def test_depthwise_takes_the_depthwise_kernel(monkeypatch):
    from fastconv._cpu import conv as cpu

    calls = []
    real = cpu.depthwise
    monkeypatch.setattr(cpu, "depthwise", lambda *a: calls.append(1) or real(*a))
    x = np.ones((1, 4, 6, 6), np.float32)
    fastconv.conv2d(x, np.ones((8, 1, 3, 3), np.float32), groups=4, padding=1)
    assert calls == [1]


DW_SIMD_CASES = [
    # (input H, W; kernel; stride; dilation; padding; multiplier; mode): rows of one
    # vector or less, of two, and wide ones (four vectors a group, a masked tail);
    # strides 1-3 in either axis (3 along W takes the other kernel)
    ((9, 12), (5, 5), (1, 1), (1, 1), 2, 1, "zeros"),
    ((20, 28), (7, 7), (1, 1), (1, 1), 3, 1, "zeros"),
    ((11, 70), (3, 5), (1, 1), (2, 1), (2, 2), 2, "reflect"),
    ((31, 45), (3, 3), (2, 2), (1, 1), 1, 1, "zeros"),
    ((17, 130), (5, 5), (3, 2), (1, 2), 4, 1, "replicate"),
    ((12, 33), (1, 1), (1, 2), (1, 1), 0, 3, "zeros"),
    ((14, 40), (3, 3), (2, 3), (1, 1), 1, 1, "zeros"),
    ((10, 50), (3, 3), (1, 1), (1, 1), 0, 1, "circular"),
]


@pytest.mark.parametrize("hw, k, s, d, p, mult, mode", DW_SIMD_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_depthwise_vector_kernel(hw, k, s, d, p, mult, mode, dtype, monkeypatch):
    """The explicit-vector depthwise kernel (stride <= 2 along W) against the oracle
    and against the accumulator-pass kernel it replaced; inputs untouched."""
    from fastconv._cpu import conv as cpu

    cin = 3
    rng = np.random.default_rng(sum(hw) + k[0])
    x = rng.standard_normal((2, cin) + hw).astype(dtype)
    w = rng.standard_normal((cin * mult, 1) + k).astype(dtype)
    b = rng.standard_normal(cin * mult).astype(dtype)
    x0, w0 = x.copy(), w.copy()
    ran = []
    for name in ("_depthwise2d_simd", "_depthwise2d", "_depthwise3x3_same"):
        real = getattr(cpu, name)
        monkeypatch.setattr(cpu, name, lambda *a, _r=real, _n=name: ran.append(_n) or _r(*a))
    kw = dict(stride=s, padding=p, dilation=d, groups=cin, padding_mode=mode)
    y = fastconv.conv2d(x, w, b, **kw)
    assert ran == (["_depthwise2d_simd"] if s[1] <= 2 else ["_depthwise2d"])
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    pad = p if isinstance(p, tuple) else (p, p)
    ref_kw = dict(stride=s, pad_lo=pad, dilation=d, groups=cin, mode=mode)
    assert_close(y, reference.conv_nd(x, w, b, **ref_kw), dtype, terms=_terms(w),
                 scale=_scale(x, w, b, **ref_kw))
    monkeypatch.setattr(cpu, "_DW_SIMD", False)
    old = fastconv.conv2d(x, w, b, **kw)
    assert_close(y, old, dtype, terms=2 * _terms(w), scale=_scale(x, w, b, **ref_kw))


@given(st.integers(1, 3), st.integers(1, 2), st.integers(1, 5), st.sampled_from(DTYPES),
       st.integers(0, 2), st.booleans())
def test_separable_matches_composition(cin, mult, cout, dtype, p, bias):
    rng = np.random.default_rng(cin + 10 * cout)
    x = rng.standard_normal((2, cin, 7, 9)).astype(dtype)
    dw = rng.standard_normal((cin * mult, 1, 3, 3)).astype(dtype)
    pw = rng.standard_normal((cout, cin * mult, 1, 1)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if bias else None
    y = fastconv.separable_conv2d(x, dw, pw, b, padding=p)
    mid = reference.conv_nd(x, dw, None, pad_lo=p, groups=cin)
    ref = reference.conv_nd(mid, pw, b)
    scale = float(np.max(reference.conv_nd(
        reference.conv_nd(np.abs(x), np.abs(dw), None, pad_lo=p, groups=cin), np.abs(pw), None)))
    assert_close(y, ref, dtype, terms=9 + cin * mult + 1, scale=scale)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_1x1_pointwise_path(nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 6) + (5,) * nd).astype(np.float32)
    w = rng.standard_normal((7, 6) + (1,) * nd).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    y = CONV[nd](x, w, b)
    assert_close(y, reference.conv_nd(x, w, b), np.float32, terms=7,
                 scale=float(np.max(reference.conv_nd(np.abs(x), np.abs(w), np.abs(b)))))


@pytest.mark.parametrize("simd", [True, False])
def test_bigger_shapes_all_paths(simd, monkeypatch):
    """Shapes large enough for several tasks per thread and long vector runs."""
    from fastconv._cpu import conv_simd

    if not simd:
        monkeypatch.setattr(conv_simd, "supported", lambda p: False)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 16, 30, 37)).astype(np.float32)
    for w_shape, kw in [((24, 16, 3, 3), dict(padding=1)), ((24, 16, 5, 5), dict(padding=2, stride=2)),
                        ((16, 1, 3, 3), dict(padding=1, groups=16)), ((24, 16, 1, 1), {}),
                        ((24, 4, 3, 3), dict(padding=2, dilation=2, groups=4))]:
        w = rng.standard_normal(w_shape).astype(np.float32)
        y = fastconv.conv2d(x, w, **kw)
        rk = dict(stride=kw.get("stride", 1), pad_lo=kw.get("padding", 0),
                  dilation=kw.get("dilation", 1), groups=kw.get("groups", 1))
        assert_close(y, reference.conv_nd(x, w, **rk), np.float32, terms=_terms(w),
                     scale=_scale(x, w, None, **rk))


def test_dtype_promotion_and_ints():
    x = np.ones((1, 1, 4, 4), np.float32)
    assert fastconv.conv2d(x, np.ones((1, 1, 2, 2), np.float32)).dtype == np.float32
    assert fastconv.conv2d(x, np.ones((1, 1, 2, 2), np.float64)).dtype == np.float64
    y = fastconv.conv2d(np.ones((1, 1, 3, 3), np.int32), np.ones((1, 1, 2, 2), np.int64))
    assert y.dtype == np.float64 and float(y[0, 0, 0, 0]) == 4.0
    # nested lists work like np.asarray
    assert fastconv.conv1d([[[1.0, 2.0, 3.0]]], [[[1.0, 1.0]]]).tolist() == [[[3.0, 5.0]]]


def test_out_argument():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    ref = fastconv.conv2d(x, w)
    out = np.empty_like(ref)
    r = fastconv.conv2d(x, w, out=out)
    assert r is out
    np.testing.assert_array_equal(out, ref)
    # non-contiguous out is filled through a temporary
    big = np.zeros((1, 3, 4, 8), np.float32)
    view = big[..., ::2]
    assert fastconv.conv2d(x, w, out=view) is view
    np.testing.assert_array_equal(view, ref)
    assert np.all(big[..., 1::2] == 0)


def test_zero_batch():
    y = fastconv.conv2d(np.ones((0, 2, 5, 5)), np.ones((3, 2, 3, 3)))
    assert y.shape == (0, 3, 3, 3)


def test_nan_propagates():
    x = np.ones((1, 1, 5, 5), np.float32)
    x[0, 0, 2, 2] = np.nan
    y = fastconv.conv2d(x, np.ones((1, 1, 3, 3), np.float32))
    assert np.isnan(y).sum() == 9


def test_torch_parity_if_available():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 6, 11, 13)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 2)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    for kw in [dict(padding=1), dict(padding="same", dilation=2), dict(stride=2, padding=(1, 0))]:
        y = fastconv.conv2d(x, w, b, groups=2, **kw)
        t = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), groups=2, **kw)
        np.testing.assert_allclose(y, t.numpy(), rtol=1e-4, atol=1e-4)
    for mode in ("reflect", "replicate", "circular"):
        m = torch.nn.Conv2d(6, 9, (3, 2), padding=1, groups=3, padding_mode=mode)
        wt = rng.standard_normal((9, 2, 3, 2)).astype(np.float32)
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(wt))
            m.bias.zero_()
            t = m(torch.from_numpy(x)).numpy()
        y = fastconv.conv2d(x, wt, padding=1, groups=3, padding_mode=mode)
        np.testing.assert_allclose(y, t, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------
# errors (raised before any kernel runs, naming argument and value)
# --------------------------------------------------------------------------

X = np.ones((1, 4, 8, 8), np.float32)
W = np.ones((6, 4, 3, 3), np.float32)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: fastconv.conv2d(np.ones((8, 8)), W), ValueError, "input must be 3-D or 4-D"),
        (lambda: fastconv.conv2d(X, np.ones((6, 4, 3))), ValueError, "weight must be 4-D"),
        (lambda: fastconv.conv2d(X, np.ones((6, 4, 3, 3)), groups=3), ValueError,
         "groups=3 does not divide in_channels=4"),
        (lambda: fastconv.conv2d(X, np.ones((5, 2, 3, 3)), groups=2), ValueError,
         "groups=2 does not divide out_channels=5"),
        (lambda: fastconv.conv2d(X, np.ones((6, 3, 3, 3))), ValueError, r"weight.shape\[1\]=3"),
        (lambda: fastconv.conv2d(X, W, padding=-1), ValueError, "padding=-1 must be >= 0"),
        (lambda: fastconv.conv2d(X, W, stride=0), ValueError, "stride=0 must be >= 1"),
        (lambda: fastconv.conv2d(X, W, stride=(1, 0)), ValueError, r"stride=\(1, 0\) must be >= 1"),
        (lambda: fastconv.conv2d(X, W, dilation=0), ValueError, "dilation=0 must be >= 1"),
        (lambda: fastconv.conv2d(X, W, stride=(1, 1, 1)), ValueError, "stride=.* must be an int or a tuple of 2"),
        (lambda: fastconv.conv2d(X, np.ones((6, 4, 9, 9))), ValueError, "larger than the padded input"),
        (lambda: fastconv.conv2d(X, W, dilation=4), ValueError, "larger than the padded input"),
        (lambda: fastconv.conv2d(X, W, padding="full"), ValueError, "padding='full' is not a padding mode"),
        (lambda: fastconv.conv2d(X, W, padding="same", stride=2), ValueError, "padding='same' requires stride=1"),
        (lambda: fastconv.conv2d(X, W, padding_mode="mirror"), ValueError, "padding_mode='mirror'"),
        (lambda: fastconv.conv2d(X, W, padding=8, padding_mode="reflect"), ValueError, "padding < input size"),
        (lambda: fastconv.conv2d(X, W, padding=9, padding_mode="circular"), ValueError, "padding <= input size"),
        (lambda: fastconv.conv2d(X, W, np.ones(5)), ValueError, r"bias must have shape \(6,\)"),
        (lambda: fastconv.conv2d(X.astype(bool), W), TypeError, "input has dtype bool"),
        (lambda: fastconv.conv2d(X, W.astype(object)), TypeError, "weight has dtype object"),
        (lambda: fastconv.conv2d(np.array([["a"]]), W), TypeError, "input has dtype <U1"),
        (lambda: fastconv.conv2d(X.astype(np.complex64), W), TypeError, "complex64"),
        (lambda: fastconv.conv2d(X, W, groups=0), ValueError, "groups=0 must be >= 1"),
        (lambda: fastconv.conv2d(X, W, groups=1.5), TypeError, "groups=1.5 must be an integer"),
        (lambda: fastconv.conv2d(X, W, stride=True), TypeError, "stride=True must be an integer"),
        (lambda: fastconv.conv2d(X, W, out=np.empty((1, 6, 5, 5), np.float32)), ValueError, "out has shape"),
        (lambda: fastconv.conv2d(X, W, out=np.empty((1, 6, 6, 6), np.float64)), TypeError, "out has dtype float64"),
        (lambda: fastconv.conv2d(X, W, out=[1]), TypeError, "out must be a numpy.ndarray"),
        (lambda: fastconv.conv1d(np.ones((1, 4, 8)), np.ones((4, 4, 3)), padding=(1, 1)), ValueError,
         r"padding=\(1, 1\) must be an int or a tuple of 1"),
        (lambda: fastconv.depthwise_conv2d(X, np.ones((4, 2, 3, 3))), ValueError, "must be \\(C\\*multiplier, 1"),
        (lambda: fastconv.separable_conv2d(X, np.ones((4, 1, 3, 3)), np.ones((6, 5, 1, 1))), ValueError,
         r"pointwise_weight.shape\[1\]=5"),
        (lambda: fastconv.separable_conv2d(X, np.ones((4, 1, 3, 3)), np.ones((6, 4, 3, 3))), ValueError,
         "1x1 kernel"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_out_overlapping_input_rejected():
    buf = np.zeros((1, 1, 6, 6))
    with pytest.raises(ValueError, match="overlaps"):
        fastconv.conv2d(buf, np.ones((1, 1, 1, 1)), out=buf)


def test_out_read_only_rejected():
    o = np.empty((1, 6, 6, 6), np.float32)
    o.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        fastconv.conv2d(X, W, out=o)


def test_errors_before_kernel(monkeypatch):
    """Validation happens before any kernel: a kernel that would fail is never reached."""
    from fastconv._cpu import conv as cpu

    monkeypatch.setattr(cpu, "conv", lambda *a, **k: pytest.fail("kernel ran"))
    with pytest.raises(ValueError):
        fastconv.conv2d(X, W, groups=3)


def test_params_memo_never_serves_a_different_argument():
    """The validator cache keys on exact ints: bools/floats still fail, every time."""
    from fastconv import _params
    from fastconv.conv import _conv_params

    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    ref = fastconv.conv2d(x, w, stride=1, padding=1)
    for _ in range(2):
        with pytest.raises(TypeError, match="stride=True"):
            fastconv.conv2d(x, w, stride=True, padding=1)
        with pytest.raises(TypeError, match="stride=1.0"):
            fastconv.conv2d(x, w, stride=1.0, padding=1)
        with pytest.raises(ValueError, match="padding"):
            fastconv.conv2d(x, w, padding=-1)
    np.testing.assert_array_equal(fastconv.conv2d(x, w, stride=np.int64(1), padding=(1, 1)), ref)
    key = (2, ((1, 2, 6, 6), np.dtype(np.float32)), ((3, 2, 3, 3), np.dtype(np.float32)), None,
           1, 1, 1, 1, "zeros")
    assert key in _conv_params.cache
    assert _conv_params(*key) is _conv_params.cache[key]
    assert _conv_params(*key) == _params.conv_params(*key)
    assert all(type(v) in (int, str, tuple) for k in _conv_params.cache for v in k[4:])


def _switched_off(monkeypatch, switch, plan, call):
    """``call()`` with the CPU conv module's ``switch`` off (``plan``'s cache cleared
    around it, so the plan is made again both ways)."""
    from fastconv._cpu import conv as cpu

    monkeypatch.setattr(cpu, switch, False)
    plan.cache_clear()
    try:
        return call()
    finally:
        plan.cache_clear()


FOLD_CASES = [
    # (x shape, weight shape, kwargs, dtype): long 1-D signals at stride > 1, whose
    # padded signals exceed 1.5x L2 per group; L_out with and without a divisor near
    # the row size, groups, dilation, unbatched
    ((1, 96, 4200), (4, 96, 3), dict(stride=2, padding=1), np.float32),
    ((2, 48, 4100), (6, 48, 5), dict(stride=3, padding=2, dilation=2), np.float64),
    ((2, 200, 4001), (8, 100, 3), dict(stride=2, groups=2), np.float32),
    ((96, 4403), (5, 96, 4), dict(stride=2, padding=3), np.float32),
]


@pytest.mark.parametrize("xs, ws, kw, dtype", FOLD_CASES)
def test_long_strided_conv1d_runs_folded(xs, ws, kw, dtype, monkeypatch):
    """Folded into 2-D rows: the oracle's result, the unfolded path's result, into a
    given ``out`` too, inputs untouched, and no runner (it would skip the fold)."""
    from fastconv._cpu import conv as cpu

    rng = np.random.default_rng(xs[-1])
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    x0 = x.copy()
    folds = []
    real = cpu._fold
    monkeypatch.setattr(cpu, "_fold", lambda *a: folds.append(1) or real(*a))
    y = fastconv.conv1d(x, w, b, **kw)
    out = np.full_like(y, np.nan)
    fastconv.conv1d(x, w, b, out=out, **kw)
    assert len(folds) == 2
    np.testing.assert_array_equal(out, y)
    np.testing.assert_array_equal(x, x0)
    xb = x if x.ndim == 3 else x[None]
    ref_kw = dict(stride=kw["stride"], pad_lo=kw.get("padding", 0),
                  dilation=kw.get("dilation", 1), groups=kw.get("groups", 1))
    ref = reference.conv_nd(xb, w, b, **ref_kw)
    assert_close(y if x.ndim == 3 else y[None], ref, dtype, terms=_terms(w),
                 scale=_scale(xb, w, b, **ref_kw))
    plain = _switched_off(monkeypatch, "_FOLD_1D", cpu._fold_plan,
                          lambda: fastconv.conv1d(x, w, b, **kw))
    assert len(folds) == 2
    assert_close(y, plain, dtype, terms=2 * _terms(w), scale=_scale(xb, w, b, **ref_kw))


def test_fold_plan_bounds():
    from fastconv import _params
    from fastconv._cpu import conv as cpu

    def plan(xs, ws, stride, padding=0, dtype=np.float32):
        p = _params.conv_params(1, (xs, np.dtype(dtype)), (ws, np.dtype(dtype)), None,
                                stride, padding, 1, 1, "zeros")
        return cpu._fold_plan(p)

    assert plan((1, 64, 4096), (64, 64, 3), 2, 1) is None  # 1 MiB of signal: fits
    assert plan((1, 128, 4096), (64, 128, 3), 1, 1) is None  # stride 1: never folded
    p2, S, H2, W2 = plan((2, 128, 4096), (128, 128, 3), 2, 1)
    assert S * H2 == 2048 and W2 == (S - 1) * 2 + 3 and H2 >= 4
    assert p2.kernel == (1, 3) and p2.stride == (1, 2) and p2.out_spatial == (H2, S)


STACK_CASES = [
    # (x shape, weight shape, kwargs, dtype): batches of small images whose weights
    # exceed L2: symmetric and 'same' (uneven) padding, dilation, groups, stride 2
    # along W, a bias or none
    ((3, 256, 7, 7), (160, 256, 3, 3), dict(padding=1), np.float32, True),
    ((2, 256, 6, 9), (384, 128, 4, 3), dict(padding="same", groups=2), np.float32, False),
    ((2, 128, 8, 8), (128, 128, 3, 3), dict(padding=2, dilation=2), np.float64, True),
    ((4, 256, 9, 11), (128, 256, 3, 3), dict(padding=(0, 1), stride=(1, 2)), np.float32, True),
    # up to 8 images when each has at most 64 output pixels
    ((7, 288, 6, 5), (128, 288, 3, 3), dict(padding=1), np.float32, True),
]


@pytest.mark.parametrize("xs, ws, kw, dtype, bias", STACK_CASES)
def test_small_image_batches_run_stacked(xs, ws, kw, dtype, bias, monkeypatch):
    """Stacked into one tall image: the oracle's result and the per-image path's,
    into a given ``out`` too, inputs untouched, no runner (it would skip the stack)."""
    from fastconv._cpu import conv as cpu

    rng = np.random.default_rng(xs[1] + xs[0])
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if bias else None
    x0 = x.copy()
    runs = []
    real = cpu._run_stacked
    monkeypatch.setattr(cpu, "_run_stacked", lambda *a: runs.append(1) or real(*a))
    y = fastconv.conv2d(x, w, b, **kw)
    out = np.full_like(y, np.nan)
    fastconv.conv2d(x, w, b, out=out, **kw)
    fastconv.conv2d(x, w, b, out=out, **kw)  # a repeated call: no runner either
    assert len(runs) == 3
    np.testing.assert_array_equal(out, y)
    np.testing.assert_array_equal(x, x0)
    k = ws[2:]
    pad = kw.get("padding", 0)
    if pad == "same":
        lohi = [shapes.same_padding(n, 1) for n in k]
        lo, hi = tuple(a for a, _ in lohi), tuple(c for _, c in lohi)
    else:
        lo = hi = pad
    ref_kw = dict(stride=kw.get("stride", 1), pad_lo=lo, pad_hi=hi,
                  dilation=kw.get("dilation", 1), groups=kw.get("groups", 1))
    assert_close(y, reference.conv_nd(x, w, b, **ref_kw), dtype, terms=_terms(w),
                 scale=_scale(x, w, b, **ref_kw))
    plain = _switched_off(monkeypatch, "_STACK", cpu._stack_plan,
                          lambda: fastconv.conv2d(x, w, b, **kw))
    assert len(runs) == 3
    assert_close(y, plain, dtype, terms=2 * _terms(w), scale=_scale(x, w, b, **ref_kw))


def test_stack_plan_bounds():
    from fastconv import _params
    from fastconv._cpu import conv as cpu

    def plan(xs, ws, stride=1, padding=1, mode="zeros"):
        f32 = np.dtype(np.float32)
        return cpu._stack_plan(_params.conv_params(2, (xs, f32), (ws, f32), None, stride,
                                                   padding, 1, 1, mode))

    big = (512, 512, 3, 3)  # 9.4 MB of weights
    assert plan((1, 512, 7, 7), big) is None  # one image
    assert plan((8, 512, 7, 7), big, stride=(2, 1)) is None  # stride along H
    assert plan((8, 512, 7, 7), (512, 512, 1, 1), padding=0) is None  # 1x1
    assert plan((2, 512, 20, 20), big) is None  # large images
    assert plan((9, 512, 7, 7), big) is None  # large batches
    assert plan((5, 512, 8, 9), big) is None  # ... of images above 64 output pixels
    assert plan((8, 256, 14, 14), (256, 256, 3, 3)) is None
    p2, gap, lo = plan((8, 512, 7, 7), big)  # up to 8 images of at most 64
    assert p2.in_spatial == (1 + 8 * 7 + 7 + 1, 7) and p2.out_spatial == (63, 7)
    assert plan((8, 64, 7, 7), (64, 64, 3, 3)) is None  # weights in L2
    assert plan((8, 512, 7, 7), big, mode="reflect") is None
    p2, gap, lo = plan((4, 512, 7, 7), big)
    assert (gap, lo) == (1, 1) and p2.in_spatial == (1 + 4 * 7 + 3 + 1, 7)
    assert p2.out_spatial == (31, 7) and p2.pad_lo == (0, 1) and p2.batch == 1
