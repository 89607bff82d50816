"""conv_transpose1d/2d/3d against the zero-insertion oracle (tests/reference.py)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastconv
from fastconv import shapes
from conftest import assert_close
import reference

FUNCS = {1: fastconv.conv_transpose1d, 2: fastconv.conv_transpose2d, 3: fastconv.conv_transpose3d}


def _check(y, x, w, b, stride, padding, output_padding, dilation, groups, dtype, cheap=False):
    """Compare with the oracle under the stated summation bound.

    ``scale`` is the oracle run on ``|x|, |w|, |b|`` (the largest partial-sum
    magnitude); ``cheap=True`` uses the looser ``terms * max|x| * max|w| + max|b|``
    instead and saves the second oracle run.
    """
    batched = y.ndim == w.ndim
    xb = x if batched else x[None]
    ref = reference.conv_transpose_nd(xb, w, b, stride, padding, output_padding, dilation, groups)
    terms = (x.shape[-w.ndim + 1] // groups) * int(np.prod(w.shape[2:])) + 1
    if cheap:
        scale = terms * float(np.abs(x).max()) * float(np.abs(w).max())
        scale += 0.0 if b is None else float(np.abs(b).max())
    else:
        mag = reference.conv_transpose_nd(
            np.abs(xb), np.abs(w), None if b is None else np.abs(b),
            stride, padding, output_padding, dilation, groups,
        )
        scale = float(mag.max()) if mag.size else 1.0
    if not batched:
        ref = ref[0]
    assert_close(y, ref, dtype, terms=terms, scale=scale)


@st.composite
def transpose_case(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    cg = draw(st.integers(1, 3))
    kg = draw(st.integers(1, 3 if nd < 3 else 2))
    batch = draw(st.sampled_from([None, 1, 2]))
    maxk = 4 if nd < 3 else 3
    sp, ks, ss, ps, ops, ds = [], [], [], [], [], []
    for _ in range(nd):
        L = draw(st.integers(1, 7 if nd < 3 else 4))
        k = draw(st.integers(1, maxk))
        s = draw(st.integers(1, 3))
        d = draw(st.integers(1, 2))
        p = draw(st.integers(0, 3))
        op = draw(st.integers(0, max(s, d) - 1))
        assume(shapes.conv_transpose_output_size(L, k, s, p, op, d) >= 1)
        sp.append(L)
        ks.append(k)
        ss.append(s)
        ds.append(d)
        ps.append(p)
        ops.append(op)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    has_bias = draw(st.booleans())
    scalar = draw(st.booleans())
    if scalar and len(set(ss)) == 1 and len(set(ps)) == 1 and len(set(ops)) == 1 \
            and len(set(ds)) == 1:
        ss, ps, ops, ds = ss[0], ps[0], ops[0], ds[0]
    else:
        ss, ps, ops, ds = tuple(ss), tuple(ps), tuple(ops), tuple(ds)
    seed = draw(st.integers(0, 2**16))
    return nd, groups, cg, kg, batch, tuple(sp), tuple(ks), ss, ps, ops, ds, dtype, has_bias, seed


@settings(max_examples=100)
@given(transpose_case())
def test_matches_reference(case):
    nd, groups, cg, kg, batch, sp, ks, s, p, op, d, dtype, has_bias, seed = case
    rng = np.random.default_rng(seed)
    C = cg * groups
    xshape = ((batch,) if batch else ()) + (C,) + sp
    x = rng.standard_normal(xshape).astype(dtype)
    w = rng.standard_normal((C, kg) + ks).astype(dtype)
    b = rng.standard_normal(kg * groups).astype(dtype) if has_bias else None
    y = FUNCS[nd](x, w, b, s, p, op, groups, d)
    assert y.dtype == np.dtype(dtype)
    tup = lambda v: v if isinstance(v, tuple) else (v,) * nd
    exp_sp = shapes.conv_transpose_output_shape(sp, ks, tup(s), tup(p), tup(op), tup(d))
    assert y.shape == ((batch,) if batch else ()) + (kg * groups,) + exp_sp
    _check(y, x, w, b, s, p, op, d, groups, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exhaustive_small_grid(dtype):
    # every (k, s, d, p, output_padding) combination up to k=4, s=3, d=3, p=3 along W of a
    # 2-D problem (H carries a different fixed setting) -- hypothesis' derandomized draws
    # favour small values, this grid does not
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 3, 6)).astype(dtype)
    for k in range(1, 5):
        w = rng.standard_normal((2, 3, 2, k)).astype(dtype)
        b = rng.standard_normal(3).astype(dtype)
        for s in range(1, 4):
            for d in range(1, 4):
                for p in range(0, 4):
                    for op in range(max(s, d)):
                        if shapes.conv_transpose_output_size(6, k, s, p, op, d) < 1:
                            continue
                        args = ((2, s), (1, p), (1, op), (1, d))
                        y = fastconv.conv_transpose2d(x, w, b, args[0], args[1], args[2], 1,
                                                      args[3])
                        _check(y, x, w, b, *args, 1, dtype, cheap=True)


# ---------------------------------------------------------------- golden cases


def test_golden_1d():
    x = np.array([[[1.0, 2.0, 3.0]]])
    w = np.ones((1, 1, 2))
    np.testing.assert_array_equal(fastconv.conv_transpose1d(x, w), [[[1, 3, 5, 3]]])
    np.testing.assert_array_equal(fastconv.conv_transpose1d(x, w, stride=2), [[[1, 1, 2, 2, 3, 3]]])
    # padding crops one sample per side; output_padding appends one (zero) sample
    np.testing.assert_array_equal(
        fastconv.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1), [[[1, 2, 2, 3, 3]]]
    )
    # dilation 2 with stride 1: taps two apart
    np.testing.assert_array_equal(
        fastconv.conv_transpose1d(x, np.array([[[1.0, 10.0]]]), dilation=2),
        [[[1, 2, 13, 20, 30]]],
    )
    # bias is added everywhere, including positions no input reaches
    np.testing.assert_array_equal(
        fastconv.conv_transpose1d(x, np.ones((1, 1, 1)), np.array([0.5]), stride=2,
                                  output_padding=1),
        [[[1.5, 0.5, 2.5, 0.5, 3.5, 0.5]]],
    )


def test_golden_2d_stride2_k4():
    # a single impulse reproduces the kernel at 2*(i,j) - padding
    x = np.zeros((1, 1, 3, 3), np.float32)
    x[0, 0, 1, 1] = 1
    w = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    y = fastconv.conv_transpose2d(x, w, stride=2, padding=1)
    assert y.shape == (1, 1, 6, 6)
    exp = np.zeros((6, 6), np.float32)
    exp[1:5, 1:5] = w[0, 0]
    np.testing.assert_array_equal(y[0, 0], exp)


def test_golden_groups():
    # two groups: each input channel feeds only its own group's output channels
    x = np.stack([np.ones((2, 2)), 2 * np.ones((2, 2))])[None]
    w = np.ones((2, 1, 1, 1))
    w[1] *= 10
    y = fastconv.conv_transpose2d(x, w, groups=2)
    np.testing.assert_array_equal(y[0, 0], np.ones((2, 2)))
    np.testing.assert_array_equal(y[0, 1], 20 * np.ones((2, 2)))


def test_conv_then_transpose_restores_size():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 128, 128)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = fastconv.conv2d(x, w)
    assert y.shape == (1, 4, 126, 126)
    wt = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    z = fastconv.conv_transpose2d(y, wt)
    assert z.shape == (1, 2, 128, 128)
    # 1-D and 3-D as well
    assert fastconv.conv_transpose1d(np.ones((1, 1, 126)), np.ones((1, 1, 3))).shape == (1, 1, 128)
    assert fastconv.conv_transpose3d(np.ones((1, 1, 6, 6, 6)), np.ones((1, 1, 3, 3, 3))).shape \
        == (1, 1, 8, 8, 8)
    # stride 2: 32 -> 16 -> 32 with k4 s2 p1 (the decoder block)
    xs = rng.standard_normal((1, 2, 32, 32))
    down = fastconv.conv2d(xs, rng.standard_normal((3, 2, 4, 4)), stride=2, padding=1)
    up = fastconv.conv_transpose2d(down, rng.standard_normal((3, 2, 4, 4)), stride=2, padding=1)
    assert down.shape[-2:] == (16, 16) and up.shape[-2:] == (32, 32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adjoint_of_conv(dtype):
    # <conv(x, w), y> == <x, conv_transpose(y, w)> for the same weight
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 11, 9)).astype(dtype)
    w = rng.standard_normal((6, 2, 3, 4)).astype(dtype)
    kw = dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1), groups=2)
    y = fastconv.conv2d(x, w, **kw)
    v = rng.standard_normal(y.shape).astype(dtype)
    sizes = x.shape[2:]
    xt = fastconv.conv_transpose2d(v, w, output_size=sizes, **kw)
    assert xt.shape == x.shape
    lhs = float(np.sum(y.astype(np.float64) * v))
    rhs = float(np.sum(x.astype(np.float64) * xt))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert abs(lhs - rhs) <= tol * (abs(lhs) + 10)


def test_four_tap_phases_channel_major_kernel():
    # every phase with exactly 4 taps (k4 s2 in 2-D, k2 s1, k4 s1 in 1-D) takes the
    # unrolled channel-major micro-kernel; odd channel counts leave partial blocks
    rng = np.random.default_rng(11)
    cases = [
        (2, (1, 19, 9, 13), (19, 13, 4, 4), dict(stride=2, padding=1)),
        (2, (2, 8, 5, 7), (8, 7, 2, 2), dict(stride=1, padding=0)),
        (2, (1, 5, 6, 6), (5, 9, 4, 4), dict(stride=2, padding=(0, 2), dilation=1)),
        (1, (3, 6, 40), (6, 11, 4), dict(stride=1, padding=2)),
    ]
    fns = {1: fastconv.conv_transpose1d, 2: fastconv.conv_transpose2d}
    for dtype in (np.float32, np.float64):
        for nd, xs, ws, kw in cases:
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            b = rng.standard_normal(ws[1]).astype(dtype)
            y = fns[nd](x, w, b, **kw)
            _check(y, x, w, b, kw["stride"], kw["padding"], 0, kw.get("dilation", 1), 1, dtype)


def test_larger_shapes_and_odd_widths():
    # more channels than one register block, widths not a multiple of the vector
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((1, 9, 7, 19)).astype(dtype)
        w = rng.standard_normal((9, 13, 4, 3)).astype(dtype)
        b = rng.standard_normal(13).astype(dtype)
        y = fastconv.conv_transpose2d(x, w, b, stride=(2, 3), padding=(1, 0), output_padding=(1, 2))
        _check(y, x, w, b, (2, 3), (1, 0), (1, 2), 1, 1, dtype)


def test_row_blocks_and_thread_counts_are_bitwise_identical():
    # wide float64 rows force several q-row blocks per task (bounded scratch) and the
    # whole-weight packing path; the single-thread split packs per task.  Every
    # output is computed by the same sequence of operations whatever the split.
    import numba

    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 48, 24, 400))
    w = rng.standard_normal((48, 7, 3, 3))
    b = rng.standard_normal(7)
    y = fastconv.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)
    _check(y, x, w, b, 2, 1, 1, 1, 1, np.float64, cheap=True)
    x1 = rng.standard_normal((1, 64, 16, 16)).astype(np.float32)
    w1 = rng.standard_normal((64, 13, 4, 4)).astype(np.float32)
    y1 = fastconv.conv_transpose2d(x1, w1, stride=2, padding=1)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        np.testing.assert_array_equal(
            fastconv.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1), y
        )
        np.testing.assert_array_equal(fastconv.conv_transpose2d(x1, w1, stride=2, padding=1), y1)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(fastconv.conv_transpose2d(x1[0], w1, stride=2, padding=1), y1[0])


def test_unbatched_equals_batched():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 6))
    w = rng.standard_normal((3, 2, 3, 2))
    y = fastconv.conv_transpose2d(x, w, stride=2)
    assert y.shape == (2, 11, 12)
    np.testing.assert_array_equal(y, fastconv.conv_transpose2d(x[None], w, stride=2)[0])


def test_empty_batch():
    y = fastconv.conv_transpose2d(np.ones((0, 2, 3, 3)), np.ones((2, 4, 2, 2)), stride=2)
    assert y.shape == (0, 4, 6, 6)


def test_mixed_dtypes_and_lists():
    x = np.ones((1, 1, 3), np.float32)
    assert fastconv.conv_transpose1d(x, np.ones((1, 1, 2), np.float32)).dtype == np.float32
    assert fastconv.conv_transpose1d(x, np.ones((1, 1, 2), np.float64)).dtype == np.float64
    assert fastconv.conv_transpose1d(x.astype(np.int32), np.ones((1, 1, 2), np.int64)).dtype \
        == np.float64
    y = fastconv.conv_transpose1d([[[1, 2, 3]]], [[[1.0, 1.0]]])
    np.testing.assert_array_equal(y, [[[1, 3, 5, 3]]])


# ---------------------------------------------------------------- output_size


def test_output_size_derives_output_padding():
    x = np.ones((1, 2, 4, 5))
    w = np.ones((2, 1, 3, 3))
    base = fastconv.conv_transpose2d(x, w, stride=(2, 3), padding=1)
    assert base.shape[-2:] == (7, 13)
    for size in [(7, 13), (8, 14), (8, 15), [1, 1, 8, 15], np.array([7, 15])]:
        y = fastconv.conv_transpose2d(x, w, stride=(2, 3), padding=1, output_size=size)
        exp_sp = tuple(int(v) for v in size)[-2:]
        assert y.shape == (1, 1) + exp_sp
        op = (exp_sp[0] - 7, exp_sp[1] - 13)
        np.testing.assert_array_equal(
            y, fastconv.conv_transpose2d(x, w, stride=(2, 3), padding=1, output_padding=op)
        )
    # unbatched: (C, H, W) sizes accepted
    y = fastconv.conv_transpose2d(x[0], w, stride=2, padding=1, output_size=(1, 8, 10))
    assert y.shape == (1, 8, 10)
    # a consistent explicit output_padding is fine
    y = fastconv.conv_transpose1d(np.ones((1, 1, 3)), np.ones((1, 1, 2)), stride=2,
                                  output_padding=1, output_size=[7])
    assert y.shape == (1, 1, 7)


def test_output_size_errors():
    x = np.ones((1, 2, 4, 5))
    w = np.ones((2, 1, 3, 3))
    with pytest.raises(ValueError, match="output_size=.*valid sizes range from"):
        fastconv.conv_transpose2d(x, w, stride=2, padding=1, output_size=(9, 9))
    with pytest.raises(ValueError, match="output_size=.*valid sizes range from"):
        fastconv.conv_transpose2d(x, w, stride=2, padding=1, output_size=(6, 9))
    with pytest.raises(ValueError, match="must have 2 or 4 entries"):
        fastconv.conv_transpose2d(x, w, stride=2, output_size=(9, 9, 9))
    with pytest.raises(TypeError, match="output_size"):
        fastconv.conv_transpose2d(x, w, stride=2, output_size=(9.5, 9))
    with pytest.raises(TypeError, match="output_size"):
        fastconv.conv_transpose2d(x, w, stride=2, output_size="big")
    with pytest.raises(ValueError, match="contradicts output_size"):
        fastconv.conv_transpose1d(np.ones((1, 1, 3)), np.ones((1, 1, 2)), stride=2,
                                  output_padding=1, output_size=[6])


# ---------------------------------------------------------------- layouts, out=


def test_inputs_never_modified_and_any_layout():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 6, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(3)
    ref = fastconv.conv_transpose2d(x, w, b, stride=2, padding=1)
    xf = np.asfortranarray(x)
    wf = np.asfortranarray(w)
    xn = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    xstrided = np.zeros((2, 4, 12, 5))
    xstrided[:, :, ::2] = x
    xv = xstrided[:, :, ::2]
    bstr = np.repeat(b, 2)[::2]
    for xi, wi, bi in [(xf, wf, b), (xn, w, bstr), (xv, w[::1], b)]:
        copies = [a.copy() for a in (xi, wi, bi)]
        for a in (xi, wi, bi):
            a.flags.writeable = False
        y = fastconv.conv_transpose2d(xi, wi, bi, stride=2, padding=1)
        np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)
        for a, c in zip((xi, wi, bi), copies):
            np.testing.assert_array_equal(a, c)


def test_out_argument():
    x = np.ones((1, 2, 3, 3), np.float32)
    w = np.ones((2, 3, 2, 2), np.float32)
    exp = fastconv.conv_transpose2d(x, w, stride=2)
    out = np.full(exp.shape, np.nan, np.float32)
    r = fastconv.conv_transpose2d(x, w, stride=2, out=out)
    assert r is out
    np.testing.assert_array_equal(out, exp)
    # non-contiguous out
    big = np.full((1, 3, 6, 12), np.nan, np.float32)
    view = big[..., ::2]
    r = fastconv.conv_transpose2d(x, w, stride=2, out=view)
    assert r is view
    np.testing.assert_array_equal(view, exp)
    assert np.isnan(big[..., 1::2]).all()


@pytest.mark.parametrize(
    "out, exc, match",
    [
        (np.empty((1, 3, 6, 5), np.float32), ValueError, "out has shape"),
        (np.empty((1, 3, 6, 6), np.float64), TypeError, "out has dtype"),
        ([0.0], TypeError, "out must be a numpy.ndarray"),
    ],
)
def test_out_errors(out, exc, match):
    x = np.ones((1, 2, 3, 3), np.float32)
    w = np.ones((2, 3, 2, 2), np.float32)
    with pytest.raises(exc, match=match):
        fastconv.conv_transpose2d(x, w, stride=2, out=out)


def test_out_read_only_and_overlap():
    x = np.ones((1, 1, 3), np.float64)
    w = np.ones((1, 1, 1), np.float64)
    out = np.empty((1, 1, 3))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastconv.conv_transpose1d(x, w, out=out)
    with pytest.raises(ValueError, match="overlaps"):
        fastconv.conv_transpose1d(x, w, out=x)


# ---------------------------------------------------------------- errors


def _xw(nd=2):
    return np.ones((1, 4) + (5,) * nd), np.ones((4, 2) + (3,) * nd)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(groups=3), ValueError, "groups=3 does not divide in_channels=4"),
        (dict(groups=0), ValueError, "groups=0 must be >= 1"),
        (dict(groups=1.5), TypeError, "groups=1.5 must be an integer"),
        (dict(stride=0), ValueError, "stride=0 must be >= 1"),
        (dict(stride=(1, 0)), ValueError, r"stride=\(1, 0\) must be >= 1"),
        (dict(stride=(1, 1, 1)), ValueError, "must be an int or a tuple of 2 ints"),
        (dict(dilation=0), ValueError, "dilation=0 must be >= 1"),
        (dict(padding=-1), ValueError, "padding=-1 must be >= 0"),
        (dict(padding="same"), TypeError, "padding='same' must be an integer"),
        (dict(output_padding=-1), ValueError, "output_padding=-1 must be >= 0"),
        (dict(output_padding=1), ValueError,
         "output_padding=1 must be smaller than stride or dilation"),
        (dict(stride=2, output_padding=2), ValueError, "smaller than stride or dilation"),
        (dict(stride=2, dilation=3, output_padding=(2, 3)), ValueError,
         "axis 1 has output_padding 3"),
        (dict(padding=4), ValueError, "output size .* is too small"),
        (dict(bias=np.ones(3)), ValueError, r"bias must have shape \(2,\)"),
    ],
)
def test_argument_errors(kwargs, exc, match):
    x, w = _xw()
    with pytest.raises(exc, match=match):
        fastconv.conv_transpose2d(x, w, **kwargs)


def test_groups_change_out_channels_and_weight_shape_errors():
    x, w = _xw()
    assert fastconv.conv_transpose2d(x, w, groups=2).shape == (1, 4, 7, 7)
    with pytest.raises(ValueError, match="weight.shape\\[0\\]=3 must equal in_channels=4"):
        fastconv.conv_transpose2d(x, np.ones((3, 2, 3, 3)))
    with pytest.raises(ValueError, match="empty kernel"):
        fastconv.conv_transpose2d(x, np.ones((4, 2, 0, 3)))
    with pytest.raises(ValueError, match="weight.shape\\[1\\]=0"):
        fastconv.conv_transpose2d(x, np.ones((4, 0, 3, 3)))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_rank_errors(nd):
    f = FUNCS[nd]
    x, w = _xw(nd)
    with pytest.raises(ValueError, match=f"input must be {nd + 1}-D or {nd + 2}-D"):
        f(np.ones((1,) * (nd + 3)), w)
    with pytest.raises(ValueError, match=f"input must be {nd + 1}-D or {nd + 2}-D"):
        f(np.ones((4,) * nd), w)
    with pytest.raises(ValueError, match=f"weight must be {nd + 2}-D"):
        f(x, np.ones((4, 2) + (3,) * (nd + 1)))


def test_empty_inputs_rejected():
    with pytest.raises(ValueError, match="empty spatial axis"):
        fastconv.conv_transpose2d(np.ones((1, 1, 0, 3)), np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="0 channels"):
        fastconv.conv_transpose2d(np.ones((1, 0, 3, 3)), np.ones((0, 1, 2, 2)))


@pytest.mark.parametrize(
    "bad, exc",
    [
        (np.ones((1, 4, 5, 5), bool), TypeError),
        (np.ones((1, 4, 5, 5), object), TypeError),
        (np.ones((1, 4, 5, 5), np.complex128), TypeError),
        (np.ones((1, 4, 5, 5), np.longdouble), TypeError),
    ],
)
def test_dtype_errors(bad, exc):
    x, w = _xw()
    with pytest.raises(exc, match="dtype"):
        fastconv.conv_transpose2d(bad, w)
    with pytest.raises(exc, match="dtype"):
        fastconv.conv_transpose2d(x, bad.reshape(4, 5, 5, 1))
    with pytest.raises(exc, match="dtype"):
        fastconv.conv_transpose2d(x, w, bad[0, 0, 0, :2])


# ---------------------------------------------------------------- torch (extra oracle)


@pytest.mark.parametrize(
    "nd, xshape, wshape, kw",
    [
        (1, (2, 4, 9), (4, 3, 5),
         dict(stride=3, padding=2, output_padding=1, dilation=2, groups=2)),
        (2, (1, 256, 4, 4), (256, 7, 4, 4), dict(stride=2, padding=1)),
        (2, (2, 6, 5, 7), (6, 2, 3, 2), dict(stride=(1, 3), padding=(2, 0), output_padding=(0, 2),
                                             dilation=(3, 1), groups=3)),
        (3, (1, 4, 3, 4, 5), (4, 2, 3, 2, 3), dict(stride=(2, 1, 2), padding=(1, 0, 1),
                                                   output_padding=(1, 0, 0), groups=2)),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(nd, xshape, wshape, kw, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    x = rng.standard_normal(xshape).astype(dtype)
    w = rng.standard_normal(wshape).astype(dtype)
    b = rng.standard_normal(wshape[1] * kw.get("groups", 1)).astype(dtype)
    y = FUNCS[nd](x, w, b, **kw)
    with torch.no_grad():
        t = getattr(F, f"conv_transpose{nd}d")(
            torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **kw
        ).numpy()
    terms = (xshape[1] // kw.get("groups", 1)) * int(np.prod(wshape[2:])) + 1
    mag = reference.conv_transpose_nd(
        np.abs(x), np.abs(w), np.abs(b), kw.get("stride", 1), kw.get("padding", 0),
        kw.get("output_padding", 0), kw.get("dilation", 1), kw.get("groups", 1),
    )
    # both sides carry rounding error: twice the bound
    assert_close(y, t, dtype, terms=2 * terms, scale=float(mag.max()))


def test_output_size_matches_torch_module():
    torch = pytest.importorskip("torch")
    m = torch.nn.ConvTranspose2d(3, 2, (3, 4), stride=(2, 3), padding=(1, 1), bias=False)
    x = np.random.default_rng(0).standard_normal((1, 3, 5, 4)).astype(np.float32)
    w = m.weight.detach().numpy()
    for size in [(9, 11), (10, 12), (10, 13), (1, 2, 9, 13)]:
        with torch.no_grad():
            t = m(torch.from_numpy(x), output_size=list(size)).numpy()
        y = fastconv.conv_transpose2d(x, w, stride=(2, 3), padding=1, output_size=size)
        assert y.shape == t.shape
        np.testing.assert_allclose(y, t, rtol=0, atol=1e-4)


def test_small_call_may_run_on_one_thread(monkeypatch):
    """The serial choice (see conv_simd) gives the parallel result and restores the count."""
    import numba

    from fastconv._cpu import _common, conv_transpose as ct

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 Numba threads")
    r = np.random.default_rng(4)
    x = r.standard_normal((1, 8, 6, 7)).astype(np.float32)
    w = r.standard_normal((8, 12, 4, 4)).astype(np.float32)
    saved = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        ref = fastconv.conv_transpose2d(x, w, stride=2, padding=1)
        monkeypatch.setattr(ct, "_SERIAL_SMALL", True)
        monkeypatch.setattr(ct, "serial_is_faster", lambda s, t: True)
        seen = []
        real = ct._run
        monkeypatch.setattr(ct, "_run", lambda *a: seen.append(_common.num_threads()) or real(*a))
        np.testing.assert_array_equal(fastconv.conv_transpose2d(x, w, stride=2, padding=1), ref)
        assert seen == [1] and numba.get_num_threads() == 2
    finally:
        numba.set_num_threads(saved)


def _tplan(xs, ws, threads, dtype=np.float32, **kw):
    """(K-blocks per task, q-rows per task, local pack, K-blocks) of the CPU plan."""
    from fastconv import _params
    from fastconv._cpu import conv_transpose as ct

    nd = len(xs) - 2
    p = _params.conv_transpose_params(nd, (xs, np.dtype(dtype)), (ws, np.dtype(dtype)), None,
                                      kw.get("stride", 1), kw.get("padding", 0), 0,
                                      kw.get("groups", 1), 1)
    plan = ct._plan.__wrapped__(p, threads)
    return plan[-1][-3], plan[-1][-2], plan[-2], plan[7]


def test_task_split_balances_two_threads():
    # 22 K-blocks of one 16x16 image: 11 | 11 (it was 6+6 | 6+4, two tasks per thread)
    assert _tplan((1, 256, 16, 16), (256, 128, 4, 4), 2, stride=2, padding=1) == (11, 16, True, 22)
    # 64 q-rows, two row blocks for the scratch bound: 32 + 32 (it was 60 + 4),
    # on one thread as on two
    assert _tplan((1, 64, 64, 64), (64, 64, 3, 3), 2, padding=1)[:2] == (11, 32)
    assert _tplan((1, 64, 64, 64), (64, 64, 3, 3), 1, padding=1)[:2] == (11, 32)
    # one thread: one task per plane when the scratch allows
    assert _tplan((1, 256, 16, 16), (256, 128, 4, 4), 1, stride=2, padding=1)[:2] == (22, 16)
    # plenty of planes: no split at all
    assert _tplan((8, 64, 32, 32), (64, 32, 2, 2), 2, stride=2)[:2] == (6, 32)


@pytest.mark.parametrize("threads", [2, 3, 4, 16])
def test_task_split_bounds(threads):
    """Any split: even runs, within the scratch bound, at most 8 tasks per thread
    (or the scratch minimum), never more tasks than the work justifies."""
    from fastconv._cpu import conv_transpose as ct

    rng = np.random.default_rng(threads)
    for _ in range(200):
        planes, depth = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        ncob, qh = int(rng.integers(1, 60)), int(rng.integers(1, 90))
        nqb_min = -(-qh // int(rng.integers(1, qh + 1)))  # as _plan: from a row bound
        max_tasks = int(rng.integers(1, 40))
        kb, kq = ct._split(planes, depth, planes * depth, ncob, qh, nqb_min, threads, max_tasks,
                           int(rng.integers(0, 3)), fill=float(rng.uniform(0, 0.2)),
                           pack=float(rng.uniform(0, 1)), task=0.2, region=1.0)
        assert 1 <= kb <= ncob and nqb_min <= kq <= qh
        assert len(ct._runs(ncob, kb)) == kb and len(ct._runs(qh, kq)) == kq
        assert -(-qh // kq) <= -(-qh // nqb_min)  # rows per block within the bound
        ntask = planes * depth * kb * kq
        assert ntask <= max(planes * depth * nqb_min, min(max_tasks, 8 * threads))


STRIDE1_CASES = [
    # (x shape, weight shape, kwargs, runs as a convolution): groups, depthwise,
    # dilation + output_padding, asymmetric pads, 1-D, 3-D, unbatched, no bias
    ((2, 12, 9, 11), (12, 5, 3, 3), dict(padding=1), True),
    ((1, 8, 7, 6), (8, 3, 3, 2), dict(padding=(2, 0), groups=2), True),
    ((1, 16, 10, 10), (16, 1, 3, 3), dict(padding=1, groups=16), True),
    ((2, 6, 13), (6, 4, 5), dict(padding=3, dilation=2, output_padding=1), True),
    ((1, 4, 5, 6, 7), (4, 4, 3, 3, 3), dict(padding=(0, 1, 2)), True),
    ((9, 8, 8), (9, 2, 4, 4), dict(padding=1, groups=3), True),
    ((1, 8, 10, 10), (8, 4, 3, 3), dict(padding=3), False),  # pad > d (k - 1): a crop
]


@pytest.mark.parametrize("xs, ws, kw, as_conv", STRIDE1_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_stride1_runs_as_a_convolution(xs, ws, kw, as_conv, dtype, bias, monkeypatch):
    """Stride 1 on the convolution kernels: the oracle's result, the transpose kernel's
    result within the same bound, inputs untouched; a crop keeps the transpose kernel."""
    from fastconv._cpu import conv as conv_mod, conv_transpose as ct

    nd = len(ws) - 2
    rng = np.random.default_rng(len(xs) * 7 + ws[0])
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    g = kw.get("groups", 1)
    b = rng.standard_normal(ws[1] * g).astype(dtype) if bias else None
    saved = [a.copy() for a in (x, w) + ((b,) if bias else ())]
    seen = []
    real = conv_mod.conv
    monkeypatch.setattr(conv_mod, "conv", lambda *a: seen.append(a[0]) or real(*a))
    y = FUNCS[nd](x, w, b, **kw)
    assert len(seen) == int(as_conv)
    for a, s in zip((x, w) + ((b,) if bias else ()), saved):
        np.testing.assert_array_equal(a, s)
    _check(y, x, w, b, 1, kw.get("padding", 0), kw.get("output_padding", 0),
           kw.get("dilation", 1), g, dtype)
    monkeypatch.setattr(ct, "_STRIDE1_AS_CONV", False)
    seen.clear()
    _check(FUNCS[nd](x, w, b, **kw), x, w, b, 1, kw.get("padding", 0),
           kw.get("output_padding", 0), kw.get("dilation", 1), g, dtype)
    assert not seen


def test_as_conv_declines_strides_and_crops():
    from fastconv import _params
    from fastconv._cpu import conv_transpose as ct

    def params(stride, padding, dilation=1):
        m = (1, 4, 9, 9), np.dtype(np.float32)
        return _params.conv_transpose_params(2, m, ((4, 2, 3, 3), np.dtype(np.float32)), None,
                                             stride, padding, 0, 1, dilation)

    assert ct.as_conv(params(2, 1)) is None
    assert ct.as_conv(params((1, 2), 1)) is None
    assert ct.as_conv(params(1, 3)) is None  # pad 3 > 2 = d (k - 1): a crop
    pc = ct.as_conv(params(1, 1))
    assert (pc.pad_lo, pc.pad_hi, pc.out_spatial) == ((1, 1), (1, 1), (9, 9))
    pc = ct.as_conv(params(1, 3, dilation=2))  # 2 * 2 - 3 = 1 on each side
    assert (pc.pad_lo, pc.dilation, pc.out_spatial) == ((1, 1), (2, 2), (7, 7))
