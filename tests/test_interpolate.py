"""interpolate (all modes) against the tests/reference.py oracles."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv as fc
from conftest import assert_close
from reference import interpolate_ref, nearest_index

DTYPES = [np.float32, np.float64]
RANK = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _tol_terms(mode, x, out_sp):
    """float32 coordinates carry ~eps*L error; each output sums up to 64 products."""
    L = max(max(x.shape[2:]), max(out_sp))
    return (16 if mode == "bicubic" else 4) * (L + 4)


def _check(x, dtype, **kw):
    mode = kw.get("mode", "nearest")
    got = fc.interpolate(x, **kw)
    ref = interpolate_ref(x, **kw)
    assert got.shape == ref.shape
    if mode.startswith("nearest"):
        np.testing.assert_array_equal(got, ref.astype(dtype))
        assert got.dtype == dtype
    else:
        scale = float(np.abs(x).max()) * (2.0 if mode == "bicubic" else 1.0)
        assert_close(got, ref, dtype, terms=_tol_terms(mode, x, got.shape[2:]), scale=scale)
    return got


# ----------------------------------------------------------------- golden ----


def test_golden_bilinear_align_corners():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    want = np.array([
        [1, 4 / 3, 5 / 3, 2],
        [5 / 3, 2, 7 / 3, 8 / 3],
        [7 / 3, 8 / 3, 3, 10 / 3],
        [3, 10 / 3, 11 / 3, 4],
    ])
    for dtype in DTYPES:
        got = fc.interpolate(x.astype(dtype), scale_factor=2, mode="bilinear", align_corners=True)
        assert got.dtype == dtype
        np.testing.assert_allclose(got[0, 0], want, rtol=0, atol=4 * np.finfo(dtype).eps * 4)


def test_golden_nearest_x2():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], np.float32)
    got = fc.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(got[0, 0], np.repeat(np.repeat(x[0, 0], 2, 0), 2, 1))
    assert got.dtype == np.float32


def test_golden_bilinear_half_pixel_and_linear_copy():
    x = np.array([[[0.0, 4.0]]])
    # align_corners=False, x2: coordinates -0.25->0, 0.25, 0.75, 1.25
    np.testing.assert_allclose(fc.interpolate(x, scale_factor=2, mode="linear")[0, 0],
                               [0, 1, 3, 4])
    # size unchanged with a factor: torch copies (1/scale is not used)
    y = np.array([[[0.0, 1.0, 5.0]]])
    np.testing.assert_array_equal(fc.interpolate(y, scale_factor=1.2, mode="linear"), y)
    # recompute_scale_factor: coordinates use in/out instead of 1/scale
    a = fc.interpolate(y, scale_factor=1.7, mode="linear")
    b = fc.interpolate(y, scale_factor=1.7, mode="linear", recompute_scale_factor=True)
    assert a.shape == b.shape == (1, 1, 5)
    r = 1 / 1.7  # source = (i + 0.5) * r - 0.5, clamped to [0, 2]
    np.testing.assert_allclose(
        a[0, 0], [0, 1.5 * r - 0.5, 2.5 * r - 0.5, 1 + 4 * (3.5 * r - 1.5), 5], rtol=1e-12)
    np.testing.assert_allclose(b[0, 0], [0, 0.4, 1.0, 3.4, 5], rtol=1e-12)  # r = 3/5


def test_golden_bicubic_and_nearest_exact():
    x = np.array([[[[0.0, 0.0, 1.0, 0.0, 0.0]]]])
    # one output on each input sample at x1 (cubic interpolates samples)
    np.testing.assert_allclose(fc.interpolate(x, size=(1, 5), mode="bicubic"), x, atol=1e-15)
    # x2 bicubic of a unit impulse: weights of t = 0.25 / 0.75 (A = -0.75)
    # source 0.5*i - 0.25; the impulse weight is K(distance), K(0.25) = 0.87890625,
    # K(0.75) = 0.26171875, K(1.25) = -0.10546875, K(1.75) = -0.03515625
    got = fc.interpolate(x, size=(1, 10), mode="bicubic")[0, 0, 0]
    np.testing.assert_allclose(got, [0, -0.03515625, -0.10546875, 0.26171875, 0.87890625,
                                     0.87890625, 0.26171875, -0.10546875, -0.03515625, 0],
                               atol=1e-15)
    y = np.arange(4.0).reshape(1, 1, 4)
    np.testing.assert_array_equal(fc.interpolate(y, size=3, mode="nearest-exact")[0, 0],
                                  [0, 2, 3])  # floor((i + 0.5) * 4/3)
    np.testing.assert_array_equal(fc.interpolate(y, size=3, mode="nearest")[0, 0], [0, 1, 2])


# --------------------------------------------------------------- property ----


@st.composite
def interp_case(draw):
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear", "bilinear", "bicubic",
                                 "trilinear"]))
    nd = RANK.get(mode) or draw(st.integers(1, 3))
    cap = 12 if nd < 3 else 5
    sp = tuple(draw(st.integers(1, cap)) for _ in range(nd))
    dtype = draw(st.sampled_from(DTYPES))
    ac = None if mode.startswith("nearest") else draw(st.booleans())
    kw = dict(mode=mode, align_corners=ac)
    if draw(st.booleans()):
        kw["size"] = tuple(draw(st.integers(1, 2 * cap)) for _ in range(nd))
    else:
        sf = tuple(draw(st.sampled_from([0.5, 0.75, 1.0, 1.3, 2.0, 2.5, 3.0, 1 / 3]))
                   for _ in range(nd))
        if any(int(np.floor(L * f)) < 1 for L, f in zip(sp, sf)):
            sf = tuple(max(f, 1.0) for f in sf)
        kw["scale_factor"] = sf
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return (n, c) + sp, dtype, kw


@given(interp_case(), st.integers(0, 2**31 - 1))
def test_interpolate_property(case, seed):
    shape, dtype, kw = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    _check(x, dtype, **kw)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("ac", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hw", [(9, 16), (8, 33), (3, 20)])
def test_x2_fast_path(mode, ac, dtype, hw, rng):
    # x2 along W takes the contiguous-slice horizontal pass (W >= 8)
    x = rng.standard_normal((2, 3) + hw).astype(dtype)
    _check(x, dtype, scale_factor=2, mode=mode, align_corners=ac)
    _check(x, dtype, size=(hw[0] * 2, hw[1] * 2), mode=mode, align_corners=ac)
    _check(x, dtype, scale_factor=(0.5, 2.0), mode=mode, align_corners=ac)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_x2_fast_path(mode, dtype, rng):
    x = rng.standard_normal((2, 3, 5, 17)).astype(dtype)
    _check(x, dtype, scale_factor=2, mode=mode)
    _check(x, dtype, scale_factor=(1.5, 2), mode=mode)
    _check(x[:, :, 0], dtype, size=34, mode=mode)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_float32_coordinates(mode):
    # ratios whose float32 products land next to integers
    for L, O in [(3, 9), (7, 3), (10, 3), (5, 11), (9, 27), (1000, 3001), (6, 2)]:
        x = np.arange(L, dtype=np.float64).reshape(1, 1, L)
        got = fc.interpolate(x, size=O, mode=mode)[0, 0]
        np.testing.assert_array_equal(got, nearest_index(L, O, None, mode == "nearest-exact"))


def test_large_nearest_rows_and_trilinear(rng):
    x = rng.standard_normal((1, 2, 3, 5, 20)).astype(np.float32)
    _check(x, np.float32, scale_factor=(2, 1.5, 2), mode="trilinear")
    _check(x, np.float32, scale_factor=(2, 1.5, 2), mode="trilinear", align_corners=True)
    _check(x, np.float32, scale_factor=(0.7, 2, 3), mode="nearest")
    _check(x[:, :, 0], np.float32, size=(11, 61), mode="nearest-exact")


# ------------------------------------------------------------ array forms ----


def test_layouts_out_and_dtypes(rng):
    x = rng.standard_normal((2, 3, 10, 12))
    ref = interpolate_ref(x, scale_factor=2, mode="bilinear")
    xf = np.asfortranarray(x)
    xs = np.repeat(x, 2, axis=3)[..., ::2]
    xr = x.copy()
    xr.flags.writeable = False
    for xx in (xf, xs, xr):
        assert_close(fc.interpolate(xx, scale_factor=2, mode="bilinear"), ref, np.float64,
                     terms=8)
    out = np.empty(ref.shape)
    assert fc.interpolate(x, scale_factor=2, mode="bilinear", out=out) is out
    assert_close(out, ref, np.float64, terms=8)
    big = np.zeros(ref.shape[:3] + (2 * ref.shape[3],))
    nc = big[..., ::2]
    fc.interpolate(x, scale_factor=2, mode="bilinear", out=nc)
    assert_close(nc, ref, np.float64, terms=8)
    assert fc.interpolate(x.astype(np.float32), size=5, mode="bicubic").dtype == np.float32
    xi = np.arange(4).reshape(1, 1, 4)
    r = fc.interpolate(xi, scale_factor=2)
    assert r.dtype == np.float64 and r.tolist() == [[[0, 0, 1, 1, 2, 2, 3, 3]]]
    assert fc.interpolate(np.zeros((0, 2, 4, 4)), size=5).shape == (0, 2, 5, 5)
    assert fc.interpolate([[[1.0, 2.0]]], size=4, mode="linear").shape == (1, 1, 4)


# ----------------------------------------------------------------- errors ----


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(), ValueError, "either size or scale_factor"),
        (dict(size=4, scale_factor=2), ValueError, "only one of size or scale_factor"),
        (dict(size=4, mode="linear"), ValueError, "3-D input"),
        (dict(size=4, mode="trilinear"), ValueError, "5-D input"),
        (dict(size=4, mode="area"), ValueError, "mode='area'"),
        (dict(size=4, mode=3), ValueError, "mode=3"),
        (dict(size=4, align_corners=True), ValueError, "align_corners"),
        (dict(size=4, mode="nearest-exact", align_corners=False), ValueError, "align_corners"),
        (dict(size=4, mode="bilinear", align_corners=1), TypeError, "align_corners"),
        (dict(size=(4, 4, 4)), ValueError, "size"),
        (dict(size=(4, 0)), ValueError, "sizes must be > 0"),
        (dict(size=-3), ValueError, "sizes must be > 0"),
        (dict(size=2.5), TypeError, "size"),
        (dict(size=(4, None)), TypeError, "size"),
        (dict(scale_factor=0.1), ValueError, "sizes must be > 0"),
        (dict(scale_factor=-2), ValueError, "sizes must be > 0"),
        (dict(scale_factor=(2, 2, 2)), ValueError, "scale_factor"),
        (dict(scale_factor=float("nan")), ValueError, "finite"),
        (dict(scale_factor=float("inf")), ValueError, "finite"),
        (dict(scale_factor="2"), TypeError, "scale_factor"),
        (dict(size=4, recompute_scale_factor=True), ValueError, "recompute_scale_factor"),
        (dict(scale_factor=2, recompute_scale_factor="yes"), TypeError, "recompute"),
        (dict(size=4, out=np.empty((1, 2, 4, 5), np.float32)), ValueError, "shape"),
        (dict(size=4, out=np.empty((1, 2, 4, 4))), TypeError, "dtype"),
        (dict(size=4, out=[0]), TypeError, "out"),
    ],
)
def test_errors(kw, exc, match):
    x = np.zeros((1, 2, 3, 3), np.float32)
    with pytest.raises(exc, match=match):
        fc.interpolate(x, **kw)


def test_errors_inputs():
    with pytest.raises(ValueError, match="3-D, 4-D or 5-D|3-D or 4-D or 5-D"):
        fc.interpolate(np.zeros((3, 3)), size=4)
    with pytest.raises(ValueError, match="sizes must be > 0"):
        fc.interpolate(np.zeros((1, 1, 0, 3)), size=4)
    with pytest.raises(ValueError, match="channel"):
        fc.interpolate(np.zeros((1, 0, 3, 3)), size=4)
    with pytest.raises(TypeError, match="dtype"):
        fc.interpolate(np.zeros((1, 1, 3, 3), bool), size=4)
    with pytest.raises(ValueError, match="4-D input"):
        fc.interpolate(np.zeros((1, 1, 3)), size=4, mode="bicubic")


# ------------------------------------------------- torch as an extra check ----


def test_against_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    cases = [
        ((2, 3, 11, 13), dict(scale_factor=2, mode="bilinear")),
        ((2, 3, 11, 13), dict(scale_factor=2, mode="bilinear", align_corners=True)),
        ((2, 3, 11, 13), dict(scale_factor=1.7, mode="bicubic")),
        ((2, 3, 11, 13), dict(size=(5, 29), mode="bicubic", align_corners=True)),
        ((2, 3, 11, 13), dict(scale_factor=(1.3, 2.2), mode="nearest")),
        ((2, 3, 11, 13), dict(scale_factor=0.3, mode="nearest-exact")),
        ((1, 2, 17), dict(scale_factor=2.5, mode="linear", recompute_scale_factor=True)),
        ((1, 2, 4, 5, 6), dict(scale_factor=1.5, mode="trilinear")),
        ((1, 2, 4, 5, 6), dict(size=(3, 7, 13), mode="nearest")),
    ]
    for shape, kw in cases:
        for dtype in DTYPES:
            x = rng.standard_normal(shape).astype(dtype)
            ref = F.interpolate(torch.from_numpy(x), **kw).numpy()
            got = fc.interpolate(x, **kw)
            assert got.dtype == ref.dtype
            if kw["mode"].startswith("nearest"):
                np.testing.assert_array_equal(got, ref)
            else:
                # coordinates are float32 for float32 data: error ~ eps * length
                tol = 8 * np.finfo(dtype).eps * float(np.abs(x).max()) * max(got.shape[2:])
                np.testing.assert_allclose(got, ref, rtol=0, atol=tol)
