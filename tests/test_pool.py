"""Pooling: max/avg pool 1d/2d/3d and adaptive 2d against tests/reference.py oracles."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv as fc
from conftest import assert_close as _assert_close
from reference import adaptive_pool2d_ref, avg_pool_ref, max_pool_ref, max_pool_values_ref

MAX = {1: fc.max_pool1d, 2: fc.max_pool2d, 3: fc.max_pool3d}
AVG = {1: fc.avg_pool1d, 2: fc.avg_pool2d, 3: fc.avg_pool3d}
DTYPES = [np.float32, np.float64]


def assert_close(actual, ref, dtype, terms=1, scale=None):
    """conftest's bound on the finite entries; NaN/inf entries must match exactly."""
    actual = np.asarray(actual)
    ref = np.asarray(ref, np.float64)
    fin = np.isfinite(ref)
    np.testing.assert_array_equal(actual[~fin].astype(np.float64), ref[~fin])
    if scale is None:
        scale = float(np.abs(ref[fin]).max()) if fin.any() else 1.0
    _assert_close(np.where(fin, actual, 0).astype(actual.dtype), np.where(fin, ref, 0), dtype,
                  terms, scale)


def _check_max(x, k, s, p, d, ceil_mode, dtype, batched=True):
    nd = len(k)
    xb = x if batched else x[None]
    ref_v, ref_i = max_pool_ref(xb, k, s, p, d, ceil_mode)
    if not batched:
        ref_v, ref_i = ref_v[0], ref_i[0]
    v = MAX[nd](x, k, s, p, d, ceil_mode)
    assert_close(v, ref_v, dtype)
    v2, i2 = MAX[nd](x, k, s, p, d, ceil_mode, return_indices=True)
    assert_close(v2, ref_v, dtype)
    assert i2.dtype == np.int64
    np.testing.assert_array_equal(i2, ref_i)


# ----------------------------------------------------------------- golden ----


def test_golden_max_avg_2x2():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(fc.max_pool2d(x, 2)[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(fc.avg_pool2d(x, 2)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    v, i = fc.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(i[0, 0], [[5, 7], [13, 15]])


def test_golden_padding_and_divisors():
    x = np.ones((1, 1, 3, 3))
    # 3x3 windows, stride 2, pad 1 over a 3x3 of ones: corners see 4 real samples
    np.testing.assert_allclose(fc.avg_pool2d(x, 3, 2, 1)[0, 0], [[4 / 9, 4 / 9], [4 / 9, 4 / 9]])
    np.testing.assert_allclose(
        fc.avg_pool2d(x, 3, 2, 1, count_include_pad=False)[0, 0], [[1, 1], [1, 1]])
    np.testing.assert_allclose(
        fc.avg_pool2d(x, 3, 2, 1, divisor_override=2)[0, 0], [[2, 2], [2, 2]])
    # ceil_mode: window past the padded extent is clipped to it (divisor 2, not 3)
    y = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    np.testing.assert_allclose(fc.avg_pool1d(y, 3, 2, ceil_mode=True), [[[2.0, 3.5]]])
    np.testing.assert_allclose(fc.max_pool1d(y, 3, 2, ceil_mode=True), [[[3.0, 4.0]]])


def test_golden_nan_and_inf_indices():
    x = np.array([1.0, np.nan, 3.0, np.nan], np.float32).reshape(1, 1, 1, 4)
    v, i = fc.max_pool2d(x, (1, 4), return_indices=True)
    assert np.isnan(v[0, 0, 0, 0]) and i[0, 0, 0, 0] == 3  # NaN wins, the last NaN
    assert np.isnan(fc.max_pool2d(x, (1, 4))[0, 0, 0, 0])
    ninf = np.full((1, 1, 1, 4), -np.inf)
    v, i = fc.max_pool2d(ninf, (1, 3), (1, 2), (0, 1), return_indices=True)
    np.testing.assert_array_equal(i[0, 0, 0], [0, 1])  # first in-bounds tap
    assert np.all(v == -np.inf)
    ties = np.array([[[2.0, 5.0, 5.0, 1.0]]])
    assert fc.max_pool1d(ties, 4, return_indices=True)[1][0, 0, 0] == 1  # first maximum


def test_golden_window_wholly_in_padding():
    # k=2, dilation 3, padding 1 on L=2: the only window reads taps -1 and 2, both
    # outside; torch returns -inf and the first tap moved by the dilation (index 2)
    x = np.array([[[5.0, 7.0]]])
    v, i = fc.max_pool1d(x, 2, 1, 1, 3, return_indices=True)
    assert v.tolist() == [[[-np.inf]]] and i.tolist() == [[[2]]]
    ref_v, ref_i = max_pool_ref(x, (2,), (1,), (1,), (3,), False)
    assert ref_i.tolist() == [[[2]]]
    v, i = fc.max_pool2d(np.ones((1, 1, 4, 2)), (1, 2), 1, (0, 1), (1, 3),
                         return_indices=True)
    np.testing.assert_array_equal(i[0, 0, :, 0], [2, 4, 6, 8])


def test_golden_adaptive():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    # rows/cols [0,3) and [2,5)
    np.testing.assert_allclose(fc.adaptive_avg_pool2d(x, 2)[0, 0], [[6, 8], [16, 18]])
    v, i = fc.adaptive_max_pool2d(x, (2, 2), return_indices=True)
    np.testing.assert_array_equal(v[0, 0], [[12, 14], [22, 24]])
    np.testing.assert_array_equal(i[0, 0], [[12, 14], [22, 24]])
    assert fc.adaptive_avg_pool2d(x, (None, 1)).shape == (1, 1, 5, 1)
    assert fc.adaptive_avg_pool2d(x, (0, 3)).shape == (1, 1, 0, 3)


# --------------------------------------------------------------- property ----


@st.composite
def pool_case(draw, dilate=True):
    nd = draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    p = tuple(draw(st.integers(0, kk // 2)) for kk in k)
    d = tuple(draw(st.integers(1, 3)) if dilate else 1 for _ in range(nd))
    ceil_mode = draw(st.booleans())
    # input at least as long as the dilated kernel minus the padding
    sp = tuple(max(1, (dd * (kk - 1) + 1) - 2 * pp) + draw(st.integers(0, 6 if nd < 3 else 3))
               for kk, dd, pp in zip(k, d, p))
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(DTYPES))
    batched = draw(st.booleans())
    return nd, (n, c) + sp, k, s, p, d, ceil_mode, dtype, batched


@given(pool_case(), st.integers(0, 2**31 - 1))
def test_max_pool_property(case, seed):
    nd, shape, k, s, p, d, ceil_mode, dtype, batched = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    if rng.random() < 0.3:  # sprinkle NaN / infinities
        x.flat[rng.integers(0, x.size, 2)] = [np.nan, -np.inf]
    if rng.random() < 0.3:  # ties
        x = np.round(x).astype(dtype)
    _check_max(x if batched else x[0], k, s, p, d, ceil_mode, dtype, batched)


@given(pool_case(dilate=False), st.booleans(), st.sampled_from([None, 3, -2]),
       st.integers(0, 2**31 - 1))
def test_avg_pool_property(case, cip, div, seed):
    nd, shape, k, s, p, _, ceil_mode, dtype, batched = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    ref = avg_pool_ref(x, k, s, p, ceil_mode, cip, div)
    got = AVG[nd](x if batched else x[0], k, s, p, ceil_mode, cip, div)
    ref = ref if batched else ref[0]
    assert_close(got, ref, dtype, terms=int(np.prod(k)) + 1,
                 scale=float(np.prod(k)) * float(np.abs(x).max()) / min(abs(div or 1), 1))


@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 10), st.integers(0, 10),
       st.sampled_from(DTYPES), st.integers(0, 2**31 - 1))
def test_adaptive_property(H, W, OH, OW, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, H, W)).astype(dtype)
    if rng.random() < 0.3:
        x.flat[rng.integers(0, x.size)] = np.nan
    ref_v, ref_i = adaptive_pool2d_ref(x, (OH, OW), "avg")
    assert_close(fc.adaptive_avg_pool2d(x, (OH, OW)), ref_v, dtype, terms=H * W + 2)
    ref_v, ref_i = adaptive_pool2d_ref(x, (OH, OW), "max")
    v, i = fc.adaptive_max_pool2d(x, (OH, OW), return_indices=True)
    assert_close(v, ref_v, dtype)
    np.testing.assert_array_equal(i, ref_i)
    assert_close(fc.adaptive_max_pool2d(x[0], (OH, OW)), ref_v[0], dtype)


# ----------------------------------------------------- specialised kernels ----


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s", [1, 2, 3])
@pytest.mark.parametrize("p", [0, 1])
@pytest.mark.parametrize("hw", [(7, 9), (8, 8), (3, 3), (20, 33)])
def test_3x3_paths(dtype, s, p, hw, rng):
    x = rng.standard_normal((2, 3) + hw).astype(dtype)
    x[0, 1, hw[0] // 2, hw[1] // 2] = np.nan  # one row takes the NaN-exact path
    x[1, 2, 0, 0] = np.inf
    for ceil_mode in (False, True):
        ref_v = max_pool_values_ref(x, (3, 3), (s, s), (p, p), (1, 1), ceil_mode)
        assert_close(fc.max_pool2d(x, 3, s, p, ceil_mode=ceil_mode), ref_v, dtype)
        for cip in (True, False):
            y = np.nan_to_num(x, nan=0.5, posinf=2.0)
            ref = avg_pool_ref(y, (3, 3), (s, s), (p, p), ceil_mode, cip, None)
            assert_close(fc.avg_pool2d(y, 3, s, p, ceil_mode, cip), ref, dtype, terms=10,
                         scale=9 * float(np.abs(y).max()))


def test_3x3_asymmetric_stride_and_kd1_3d(rng):
    x = rng.standard_normal((1, 2, 9, 10)).astype(np.float32)
    ref = max_pool_values_ref(x, (3, 3), (1, 2), (1, 0), (1, 1), False)
    assert_close(fc.max_pool2d(x, 3, (1, 2), (1, 0)), ref, np.float32)
    x3 = rng.standard_normal((1, 2, 3, 9, 10))
    ref = max_pool_values_ref(x3, (1, 3, 3), (1, 2, 2), (0, 1, 1), (1, 1, 1), False)
    assert_close(fc.max_pool3d(x3, (1, 3, 3), (1, 2, 2), (0, 1, 1)), ref, np.float64)
    ref = avg_pool_ref(x3, (1, 3, 3), (1, 2, 2), (0, 1, 1), False, True, 5)
    assert_close(fc.avg_pool3d(x3, (1, 3, 3), (1, 2, 2), (0, 1, 1), divisor_override=5), ref,
                 np.float64, terms=10)


# ------------------------------------------------------------ array forms ----


def test_layouts_out_and_dtypes(rng):
    x = rng.standard_normal((2, 3, 10, 12))
    ref_v, ref_i = max_pool_ref(x, (3, 3), (2, 2), (1, 1), (1, 1), False)
    xf = np.asfortranarray(x)
    xs = np.repeat(x, 2, axis=3)[..., ::2]
    xr = x.copy()
    xr.flags.writeable = False
    for xx in (xf, xs, xr):
        assert_close(fc.max_pool2d(xx, 3, 2, 1), ref_v, np.float64)
    assert np.array_equal(xr, x)
    out = np.empty(ref_v.shape)
    assert fc.max_pool2d(x, 3, 2, 1, out=out) is out
    assert_close(out, ref_v, np.float64)
    vo, io = np.empty(ref_v.shape), np.empty(ref_v.shape, np.int64)
    v, i = fc.max_pool2d(x, 3, 2, 1, return_indices=True, out=(vo, io))
    assert v is vo and i is io
    np.testing.assert_array_equal(io, ref_i)
    big = np.zeros(ref_v.shape[:3] + (2 * ref_v.shape[3],))
    nc = big[..., ::2]
    fc.avg_pool2d(x, 3, 2, 1, out=nc)
    assert_close(nc, avg_pool_ref(x, (3, 3), (2, 2), (1, 1), False, True, None), np.float64,
                 terms=10, scale=9 * np.abs(x).max())
    # float32 stays float32, ints compute in float64
    assert fc.avg_pool2d(x.astype(np.float32), 2).dtype == np.float32
    xi = np.arange(16).reshape(1, 1, 4, 4)
    r = fc.max_pool2d(xi, 2)
    assert r.dtype == np.float64 and np.array_equal(r[0, 0], [[5, 7], [13, 15]])
    # list input and empty batch
    assert fc.max_pool1d([[[1.0, 3.0, 2.0]]], 2).tolist() == [[[3.0]]]
    assert fc.avg_pool2d(np.zeros((0, 2, 4, 4)), 2).shape == (0, 2, 2, 2)
    v, i = fc.max_pool2d(np.zeros((0, 2, 4, 4)), 2, return_indices=True)
    assert v.shape == i.shape == (0, 2, 2, 2)
    # single-element tuples broadcast like torch
    assert fc.max_pool2d(x, (2,), stride=(1,)).shape == (2, 3, 9, 11)
    # adaptive out=
    o = np.empty((2, 3, 4, 5))
    assert fc.adaptive_avg_pool2d(x, (4, 5), out=o) is o


# ----------------------------------------------------------------- errors ----


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda x: fc.max_pool2d(x, 0), ValueError, "kernel_size"),
        (lambda x: fc.max_pool2d(x, 2, stride=0), ValueError, "stride"),
        (lambda x: fc.max_pool2d(x, 2, padding=-1), ValueError, "padding"),
        (lambda x: fc.max_pool2d(x, 2, padding=2), ValueError, "half the kernel"),
        (lambda x: fc.avg_pool2d(x, 3, padding=2), ValueError, "half the kernel"),
        (lambda x: fc.max_pool2d(x, 2, dilation=0), ValueError, "dilation"),
        (lambda x: fc.max_pool2d(x, (2, 2, 2)), ValueError, "kernel_size"),
        (lambda x: fc.max_pool2d(x, 2.5), TypeError, "kernel_size"),
        (lambda x: fc.max_pool2d(x, 9), ValueError, "too small"),
        (lambda x: fc.max_pool2d(x, 2, dilation=8), ValueError, "too small"),
        (lambda x: fc.max_pool2d(x, 2, ceil_mode="yes"), TypeError, "ceil_mode"),
        (lambda x: fc.max_pool2d(x, 2, return_indices=1), TypeError, "return_indices"),
        (lambda x: fc.avg_pool2d(x, 2, divisor_override=0), ValueError, "divisor_override"),
        (lambda x: fc.avg_pool2d(x, 2, divisor_override=1.5), TypeError, "divisor_override"),
        (lambda x: fc.avg_pool2d(x, 2, count_include_pad=None), TypeError, "count_include_pad"),
        (lambda x: fc.max_pool2d(x[0, 0], 2), ValueError, "3-D or 4-D"),
        (lambda x: fc.max_pool1d(x, 2), ValueError, "2-D or 3-D"),
        (lambda x: fc.max_pool3d(x[0], 2), ValueError, "4-D or 5-D"),
        (lambda x: fc.max_pool2d(x[:, :0], 2), ValueError, "non-zero"),
        (lambda x: fc.max_pool2d(x[:, :, :0], 2), ValueError, "non-zero"),
        (lambda x: fc.max_pool2d(x.astype(bool), 2), TypeError, "dtype"),
        (lambda x: fc.max_pool2d(x.astype(complex), 2), TypeError, "dtype"),
        (lambda x: fc.max_pool2d(x, 2, out=np.empty((1, 2, 3, 3))), ValueError, "shape"),
        (lambda x: fc.max_pool2d(x, 2, out=np.empty((1, 2, 4, 4))), TypeError, "dtype"),
        (lambda x: fc.max_pool2d(x, 2, return_indices=True, out=np.empty((1, 2, 4, 4))),
         TypeError, "pair"),
        (lambda x: fc.max_pool2d(x, 2, return_indices=True,
                                 out=(np.empty((1, 2, 4, 4), np.float32),
                                      np.empty((1, 2, 4, 4), np.int32))), TypeError, "dtype"),
        (lambda x: fc.max_pool2d(x, 2, out=(None, None)), TypeError, "pair"),
        (lambda x: fc.max_pool2d(x, 2, out=x[:, :, ::2, ::2]), ValueError, "overlap"),
        (lambda x: fc.adaptive_avg_pool2d(x, (2, 2, 2)), ValueError, "output_size"),
        (lambda x: fc.adaptive_avg_pool2d(x, -1), ValueError, "output_size"),
        (lambda x: fc.adaptive_avg_pool2d(x, 2.0), TypeError, "output_size"),
        (lambda x: fc.adaptive_avg_pool2d(x, None), TypeError, "output_size"),
        (lambda x: fc.adaptive_max_pool2d(x[:, :, :0], 2), ValueError, "non-zero"),
        (lambda x: fc.adaptive_max_pool2d(x[0, 0], 2), ValueError, "3-D or 4-D"),
    ],
)
def test_errors(call, exc, match):
    x = np.zeros((1, 2, 8, 8), np.float32)
    with pytest.raises(exc, match=match):
        call(x)


# ------------------------------------------------- torch as an extra check ----


def test_against_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    cases = [
        (2, (2, 3, 11, 13), (3, 3), (2, 2), (1, 1), (1, 1), False),
        (2, (1, 2, 9, 10), (3, 2), (2, 1), (1, 0), (2, 3), True),
        (1, (2, 3, 17), (4,), (3,), (2,), (2,), True),
        (3, (1, 2, 5, 6, 7), (3, 2, 3), (2, 2, 1), (1, 1, 0), (1, 2, 1), True),
    ]
    tmax = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
    tavg = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
    for nd, shape, k, s, p, d, cm in cases:
        x = rng.standard_normal(shape).astype(np.float32)
        x.flat[3] = np.nan
        tx = torch.from_numpy(x)
        tv, ti = tmax[nd](tx, k, s, p, d, cm, return_indices=True)
        v, i = MAX[nd](x, k, s, p, d, cm, return_indices=True)
        np.testing.assert_array_equal(v, tv.numpy())
        np.testing.assert_array_equal(i, ti.numpy())
        np.testing.assert_array_equal(MAX[nd](x, k, s, p, d, cm), tv.numpy())
        y = np.nan_to_num(x)
        for cip in (True, False):
            for div in (None, 4):
                ref = tavg[nd](torch.from_numpy(y), k, s, p, cm, cip, *([div] if nd > 1 else []))
                got = AVG[nd](y, k, s, p, cm, cip, div if nd > 1 else None)
                np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-6)
    x = rng.standard_normal((2, 3, 9, 11)).astype(np.float32)
    tx = torch.from_numpy(x)
    for os_ in [(4, 5), (9, 11), (13, 2), 1]:
        np.testing.assert_allclose(fc.adaptive_avg_pool2d(x, os_),
                                   F.adaptive_avg_pool2d(tx, os_).numpy(), rtol=1e-5, atol=1e-6)
        v, i = fc.adaptive_max_pool2d(x, os_, return_indices=True)
        tv, ti = F.adaptive_max_pool2d(tx, os_, return_indices=True)
        np.testing.assert_array_equal(v, tv.numpy())
        np.testing.assert_array_equal(i, ti.numpy())
