"""fastconv.signal against scipy.signal: values, dtype, shape and raised error type.

Oracles: scipy.signal itself (method='direct' in float64/complex128 for the
values; the same call with the user's dtypes for the result dtype, shape and
error type).  Float tolerances follow conftest's stated bound: direct sums are
within ``2 eps * terms * scale`` of the float64 oracle, where ``scale`` is the
oracle run on ``|in1|, |in2|`` (no cancellation assumed); FFT results are
within ``8 eps log2(N) ||in1||_2 ||in2||_2``.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal as ss

from fastconv import signal as fs

DTYPES = ["float32", "float64", "complex64", "complex128", "int32", "int64"]
MODES = ["full", "same", "valid"]
METHODS = ["direct", "fft", "auto"]
BOUNDARIES = ["fill", "wrap", "symm", "pad", "circular", "symmetric"]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _data(rng, shape, dtype, low=-8, high=8):
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        return rng.integers(low, high + 1, size=shape).astype(dt)
    a = rng.standard_normal(shape)
    if dt.kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dt)


def _outcome(fn, *args, **kw):
    """(result, None) or (None, exception type) -- warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kw), None
        except Exception as e:  # noqa: BLE001 - compared by type
            return None, type(e)


def _real_of(dt):
    return np.dtype(np.float32) if dt in (np.float32, np.complex64) else np.dtype(np.float64)


def check_values(actual, a, b, oracle, method="direct"):
    """Compare ``actual`` with ``oracle(a, b)`` computed in float64/complex128."""
    dt = actual.dtype
    hi = np.complex128 if (a.dtype.kind == "c" or b.dtype.kind == "c") else np.float64
    ref = oracle(a.astype(hi), b.astype(hi))
    assert actual.shape == ref.shape
    if dt.kind in "iub":
        exact = oracle(a, b)  # scipy in the user's dtype: wrap-around included
        np.testing.assert_array_equal(actual, exact)
        return
    eps = float(np.finfo(_real_of(dt)).eps)
    if method == "fft":
        n = int(np.prod([x + y - 1 for x, y in zip(a.shape, b.shape)])) or 1
        tol = 8 * eps * max(np.log2(n), 1) * np.linalg.norm(a.ravel().astype(hi)) * np.linalg.norm(
            b.ravel().astype(hi)) + 1e-30
    else:
        terms = max(int(np.prod(b.shape)), 1) * (4 if dt.kind == "c" else 1)
        scale = np.max(np.abs(oracle(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))),
                       initial=0.0)
        tol = 2 * eps * terms * max(scale, 1e-30) + float(np.finfo(_real_of(dt)).tiny)
    err = np.max(np.abs(actual.astype(np.complex128) - ref), initial=0.0)
    assert err <= tol, (err, tol)


def _shapes(draw, nd, lo=1, hi=7):
    s1 = tuple(draw(st.integers(lo, hi)) for _ in range(nd))
    s2 = tuple(draw(st.integers(lo, hi)) for _ in range(nd))
    return s1, s2


# --------------------------------------------------------------------------
# N-d correlate / convolve: hypothesis parity
# --------------------------------------------------------------------------


@settings(max_examples=60)
@given(data=st.data())
def test_nd_parity(data):
    nd = data.draw(st.integers(1, 3), label="nd")
    s1, s2 = _shapes(data.draw, nd, hi=7 if nd < 3 else 5)
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    dtype2 = data.draw(st.sampled_from([dtype, dtype, "float32", "int32", "complex64"]),
                       label="dtype2")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    method = data.draw(st.sampled_from(METHODS), label="method")
    name = data.draw(st.sampled_from(["correlate", "convolve"]), label="func")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    a = _data(rng, s1, dtype)
    b = _data(rng, s2, dtype2)
    mine, my_err = _outcome(getattr(fs, name), a, b, mode=mode, method=method)
    theirs, their_err = _outcome(getattr(ss, name), a, b, mode=mode,
                                 method="direct" if method == "direct" else method)
    assert my_err == their_err, (my_err, their_err)
    if their_err is not None:
        return
    assert mine.dtype == theirs.dtype
    assert mine.shape == theirs.shape
    used = method if method != "auto" else fs.choose_conv_method(a, b, mode)
    oracle = lambda x, y: getattr(ss, name)(x, y, mode=mode, method="direct")  # noqa: E731
    check_values(mine, a, b, oracle, used)


@settings(max_examples=30)
@given(data=st.data())
def test_nd_long_1d(data):
    """The blocked 1-D path: long signals, short and long filters, several blocks."""
    n = data.draw(st.integers(300, 5000), label="n")
    m = data.draw(st.sampled_from([1, 2, 3, 4, 5, 7, 8, 31, 64, 301]), label="taps")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    swap = data.draw(st.booleans(), label="kernel first")
    rng = np.random.default_rng(n * 7 + m)
    a = _data(rng, n, dtype)
    b = _data(rng, m, dtype)
    if swap:
        a, b = b, a
    for name in ("correlate", "convolve"):
        mine = getattr(fs, name)(a, b, mode, method="direct")
        theirs = getattr(ss, name)(a, b, mode, method="direct")
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        check_values(mine, a, b, lambda x, y: getattr(ss, name)(x, y, mode, method="direct"))


@settings(max_examples=25)
@given(data=st.data())
def test_nd_3d_generic(data):
    """The generic N-d kernel on larger 3-D volumes (rows longer than the tap blocks)."""
    s1 = tuple(data.draw(st.integers(3, 12)) for _ in range(2)) + (data.draw(st.integers(8, 40)),)
    s2 = tuple(data.draw(st.integers(1, 5)) for _ in range(2)) + (data.draw(st.integers(1, 11)),)
    dtype = data.draw(st.sampled_from(["float32", "float64", "complex64", "int64"]))
    mode = data.draw(st.sampled_from(["full", "same", "valid"]))
    rng = np.random.default_rng(sum(s1) * 31 + sum(s2))
    a = _data(rng, s1, dtype)
    b = _data(rng, s2, dtype)
    for name in ("correlate", "convolve"):
        mine, err = _outcome(getattr(fs, name), a, b, mode, method="direct")
        theirs, terr = _outcome(getattr(ss, name), a, b, mode, method="direct")
        assert err == terr
        if terr is None:
            assert mine.dtype == theirs.dtype
            check_values(mine, a, b, lambda x, y: getattr(ss, name)(x, y, mode, method="direct"))


# --------------------------------------------------------------------------
# 2-D functions: hypothesis parity
# --------------------------------------------------------------------------


@settings(max_examples=60)
@given(data=st.data())
def test_2d_parity(data):
    s1, s2 = _shapes(data.draw, 2, hi=8)
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    dtype2 = data.draw(st.sampled_from([dtype, "float64", "int32"]), label="dtype2")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    boundary = data.draw(st.sampled_from(BOUNDARIES), label="boundary")
    fill = data.draw(st.sampled_from([0, 0, 1.5, -2]), label="fillvalue")
    name = data.draw(st.sampled_from(["correlate2d", "convolve2d"]), label="func")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    a = _data(rng, s1, dtype)
    b = _data(rng, s2, dtype2)
    mine, my_err = _outcome(getattr(fs, name), a, b, mode, boundary, fill)
    theirs, their_err = _outcome(getattr(ss, name), a, b, mode, boundary, fill)
    assert my_err == their_err, (my_err, their_err)
    if their_err is not None:
        return
    assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
    oracle = lambda x, y: getattr(ss, name)(x, y, mode, boundary, fill)  # noqa: E731
    check_values(mine, a, b, oracle)


@pytest.mark.parametrize("K", [3, 5, 7])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary,fill", [("fill", 0.0), ("fill", -2.5), ("wrap", 0), ("symm", 0)])
def test_fused_border_columns(K, mode, boundary, fill):
    """The fused kernels' border columns (1 to K-1 per side: single columns, blocks of
    2-4 and a block of 4 plus a rest) against SciPy, with a non-zero fill too."""
    rng = np.random.default_rng(K)
    a = rng.standard_normal((23, 41))
    b = rng.standard_normal((K, K))
    for name in ("correlate2d", "convolve2d"):
        theirs = getattr(ss, name)(a, b, mode, boundary, fill)
        for dt, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
            mine = getattr(fs, name)(a.astype(dt), b.astype(dt), mode, boundary, fill)
            assert mine.shape == theirs.shape
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=tol * np.abs(theirs).max())


@settings(max_examples=40)
@given(data=st.data())
def test_2d_images_small_kernels(data):
    """Images large enough for the fused 3x3/5x5/7x7 interiors and the border frame."""
    h = data.draw(st.integers(4, 40), label="h")
    w = data.draw(st.integers(16, 70), label="w")
    k = data.draw(st.sampled_from([(3, 3), (5, 5), (7, 7), (2, 2), (4, 4), (3, 5), (1, 9)]))
    dtype = data.draw(st.sampled_from(["float32", "float64", "complex128", "int32"]))
    mode = data.draw(st.sampled_from(MODES), label="mode")
    boundary = data.draw(st.sampled_from(["fill", "wrap", "symm"]), label="boundary")
    rng = np.random.default_rng(h * 100 + w)
    a = _data(rng, (h, w), dtype)
    b = _data(rng, k, dtype)
    for name in ("correlate2d", "convolve2d"):
        mine, err = _outcome(getattr(fs, name), a, b, mode, boundary)
        theirs, terr = _outcome(getattr(ss, name), a, b, mode, boundary)
        assert err == terr
        if terr is not None:
            continue
        assert mine.dtype == theirs.dtype
        check_values(mine, a, b, lambda x, y: getattr(ss, name)(x, y, mode, boundary))
    for name in ("correlate", "convolve"):
        for method in ("direct", "fft"):
            mine, err = _outcome(getattr(fs, name), a, b, mode, method)
            theirs, terr = _outcome(getattr(ss, name), a, b, mode, method)
            assert err == terr
            if terr is None:
                assert mine.dtype == theirs.dtype
                check_values(mine, a, b,
                             lambda x, y: getattr(ss, name)(x, y, mode, method="direct"), method)


# --------------------------------------------------------------------------
# golden, hand-checked cases
# --------------------------------------------------------------------------


def test_golden_1d():
    x = [1.0, 2.0, 3.0]
    y = [0.0, 1.0, 0.5]
    # z[k] = sum_l x[l] y[l - k], k = -2..2
    np.testing.assert_array_equal(fs.correlate(x, y), [0.5, 2.0, 3.5, 3.0, 0.0])
    np.testing.assert_array_equal(fs.correlate(x, y, "same"), [2.0, 3.5, 3.0])
    np.testing.assert_array_equal(fs.correlate(x, y, "valid"), [3.5])
    np.testing.assert_array_equal(fs.convolve(x, y), [0.0, 1.0, 2.5, 4.0, 1.5])
    np.testing.assert_array_equal(fs.convolve(x, y, "same"), [1.0, 2.5, 4.0])
    # 'valid' with the larger operand second: scipy swaps
    np.testing.assert_array_equal(fs.correlate([1.0, 1.0], [1.0, 2.0, 3.0], "valid"), [5.0, 3.0])
    np.testing.assert_array_equal(fs.convolve([1.0, 1.0], [1.0, 2.0, 3.0], "valid"), [3.0, 5.0])


def test_golden_same_even_kernel_centering():
    """correlate's 'same' starts at (n2-1)//2, correlate2d's at n2//2 (scipy issue 1968)."""
    a = np.arange(1.0, 6.0)[None, :]  # [[1, 2, 3, 4, 5]]
    k = np.array([[1.0, 10.0]])
    # full correlation: [10, 21, 32, 43, 54, 5]
    np.testing.assert_array_equal(fs.correlate(a, k, "full"), [[10, 21, 32, 43, 54, 5]])
    np.testing.assert_array_equal(fs.correlate(a, k, "same"), [[10, 21, 32, 43, 54]])
    np.testing.assert_array_equal(fs.correlate2d(a, k, "same"), [[21, 32, 43, 54, 5]])
    # convolve and convolve2d agree: full [1, 12, 23, 34, 45, 50] -> first five
    np.testing.assert_array_equal(fs.convolve(a, k, "same"), [[1, 12, 23, 34, 45]])
    np.testing.assert_array_equal(fs.convolve2d(a, k, "same"), [[1, 12, 23, 34, 45]])


def test_golden_2d_boundaries():
    a = np.arange(9.0).reshape(3, 3)
    k = np.ones((2, 2))
    np.testing.assert_array_equal(fs.correlate2d(a, k, "same"),
                                  [[8, 12, 7], [20, 24, 13], [13, 15, 8]])
    np.testing.assert_array_equal(fs.correlate2d(a, k, "same", "wrap"),
                                  [[8, 12, 10], [20, 24, 22], [14, 18, 16]])
    np.testing.assert_array_equal(fs.correlate2d(a, k, "same", "fill", 1),
                                  [[8, 12, 9], [20, 24, 15], [15, 17, 11]])
    np.testing.assert_array_equal(fs.convolve2d(a, k, "same"),
                                  [[0, 1, 3], [3, 8, 12], [9, 20, 24]])
    # symmetric: the edge sample repeats; d/dx by [1, 0, -1]
    np.testing.assert_array_equal(fs.convolve2d(a, [[1.0, 0.0, -1.0]], "same", "symm"),
                                  [[1, 2, 1]] * 3)
    np.testing.assert_array_equal(fs.convolve2d(a, [[1.0, 0.0, -1.0]], "same", "symmetric"),
                                  [[1, 2, 1]] * 3)
    np.testing.assert_array_equal(fs.correlate2d(a, [[1.0]], "full", "circular"), a)


def test_golden_complex_conjugation():
    # correlate conjugates in2; convolve does not
    assert fs.correlate(np.array([1j]), np.array([1j]))[0] == 1
    assert fs.convolve(np.array([1j]), np.array([1j]))[0] == -1
    assert fs.correlate2d(np.array([[1j]]), np.array([[1j]]))[0, 0] == 1
    # correlate2d 'valid' with the larger operand second: scipy reverses without
    # conjugating, so the answer is the conjugate of correlate's
    a = np.array([[1 + 1j]])
    b = np.array([[1.0, 2j]])
    # z[k] = a[0] * conj(b[-k]), k = -1, 0: (1+1j)(-2j) = 2-2j, (1+1j)(1) = 1+1j
    np.testing.assert_array_equal(fs.correlate(a, b, "valid"), [[2 - 2j, 1 + 1j]])
    np.testing.assert_array_equal(fs.correlate2d(a, b, "valid"), [[2 + 2j, 1 - 1j]])
    np.testing.assert_array_equal(ss.correlate2d(a, b, "valid"), [[2 + 2j, 1 - 1j]])


def test_golden_integers_wrap_like_scipy():
    a = np.array([100, 100, 100], np.int8)
    r = fs.correlate(a, np.array([1, 1], np.int8), "valid")
    assert r.dtype == np.int8
    np.testing.assert_array_equal(r, [-56, -56])  # 200 wraps in int8
    big = np.array([2**30, 2**30, 3], np.int32)
    for name in ("correlate", "convolve"):
        mine = getattr(fs, name)(big, np.array([2, 1], np.int32), method="direct")
        theirs = getattr(ss, name)(big, np.array([2, 1], np.int32), method="direct")
        assert mine.dtype == np.int32
        np.testing.assert_array_equal(mine, theirs)
    m = fs.correlate2d(np.array([[2**31 - 1]], np.int32), np.array([[2]], np.int32))
    np.testing.assert_array_equal(m, ss.correlate2d(np.array([[2**31 - 1]], np.int32),
                                                    np.array([[2]], np.int32)))
    # uint8 and mixed integer dtypes keep scipy's dtype
    u = fs.convolve(np.array([200, 100], np.uint8), np.array([2], np.uint8))
    assert u.dtype == np.uint8
    np.testing.assert_array_equal(u, [144, 200])
    assert fs.correlate(np.ones(3, np.int16), np.ones(2, np.int32)).dtype == np.int32
    assert fs.correlate(np.ones(3, np.int32), np.ones(2, np.float32)).dtype == np.float64


def test_integers_never_fft():
    a = np.array([2**40 + 1, 3, -5], np.int64)
    b = np.array([2**20 + 3, 7], np.int64)
    exact = ss.correlate(a, b, method="direct")
    for method in METHODS:
        np.testing.assert_array_equal(fs.correlate(a, b, method=method), exact)
    assert fs.choose_conv_method(np.ones(10**5, int), np.ones(10**4, int)) == "direct"
    assert fs.choose_conv_method(np.ones(100, bool), np.ones(10, bool)) == "direct"


def test_golden_scalars_and_bool():
    assert fs.correlate(2.0, 1j) == -2j
    assert fs.convolve(2.0, 1j) == 2j
    assert fs.correlate(np.float32(2), np.int64(3)) == ss.correlate(np.float32(2), np.int64(3))
    assert fs.correlate(np.float32(2), np.int64(3)).dtype == ss.correlate(
        np.float32(2), np.int64(3)).dtype
    r = fs.correlate(np.array([True, False, True]), np.array([True, True]))
    assert r.dtype == np.bool_
    np.testing.assert_array_equal(r, ss.correlate(np.array([True, False, True]),
                                                  np.array([True, True])))
    r = fs.convolve(np.array([[True, False]]), np.array([[True]]), method="fft")
    assert r.dtype == np.bool_
    np.testing.assert_array_equal(r, [[True, False]])


@pytest.mark.parametrize("s1,s2,mode", [
    ((0, 3), (2, 2), "full"), ((0, 3), (1, 1), "full"), ((0, 3), (2, 2), "same"),
    ((0, 3), (0, 2), "valid"), ((3, 3), (0, 2), "valid"), ((2, 3), (0, 1), "same"),
    ((0,), (3,), "full"), ((3,), (0,), "same"), ((0,), (3,), "same"), ((0,), (0,), "valid"),
    ((0, 0), (0, 0), "full"),
])
@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_empty_like_scipy_direct(s1, s2, mode, name):
    a, b = np.ones(s1), np.ones(s2)
    for method in ("direct", "auto", "fft"):
        mine, err = _outcome(getattr(fs, name), a, b, mode, method)
        theirs, terr = _outcome(getattr(ss, name), a, b, mode, "direct")
        assert err == terr
        if terr is None:
            assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
            np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("s1,s2,mode,kw", [
    ((0, 3), (2, 2), "full", {}), ((0, 3), (2, 2), "full", {"fillvalue": 1}),
    ((2, 3), (0, 2), "full", {"fillvalue": 1}), ((2, 3), (0, 2), "same", {"fillvalue": 2}),
    ((0, 3), (0, 2), "valid", {}), ((0, 3), (0, 2), "same", {}), ((0, 0), (0, 0), "full", {}),
    ((2, 3), (0, 2), "full", {"boundary": "symm"}),
])
@pytest.mark.parametrize("name", ["correlate2d", "convolve2d"])
def test_empty_2d_like_scipy(s1, s2, mode, kw, name):
    mine, err = _outcome(getattr(fs, name), np.ones(s1), np.ones(s2), mode, **kw)
    theirs, terr = _outcome(getattr(ss, name), np.ones(s1), np.ones(s2), mode, **kw)
    assert err == terr
    if terr is None:
        assert mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)


def test_empty_2d_wrap_of_empty_input_is_an_error():
    # scipy crashes the interpreter here; fastconv raises
    with pytest.raises(ValueError, match="non-empty in1"):
        fs.correlate2d(np.ones((0, 3)), np.ones((2, 2)), boundary="wrap")


@pytest.mark.parametrize("fill", [None, np.array([2.0]), True, -1.5, "2", [1], np.float32(2.5)])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
def test_fillvalue_conversions(fill, dtype):
    a = np.arange(6).reshape(2, 3).astype(dtype)
    k = np.ones((2, 2), dtype)
    theirs, terr = _outcome(ss.correlate2d, a, k, "full", "fill", fill)
    mine, err = _outcome(fs.correlate2d, a, k, "full", "fill", fill)
    if terr is None and err is None:
        np.testing.assert_array_equal(mine, theirs)
    else:  # scipy only warns/raises ComplexWarning for ints from None / arrays
        assert err is None or err is terr


# --------------------------------------------------------------------------
# every error
# --------------------------------------------------------------------------


@pytest.mark.parametrize("call,exc,phrase", [
    (lambda m: m.correlate(np.ones(3), np.ones((2, 2))), ValueError, "same dimensionality"),
    (lambda m: m.convolve(np.ones(3), np.ones((2, 2))), ValueError, "dimensionality"),
    (lambda m: m.correlate(np.ones(3), 1.0), ValueError, "same dimensionality"),
    (lambda m: m.correlate(np.ones(3), np.ones(2), mode="nope"), ValueError,
     "Acceptable mode flags"),
    (lambda m: m.convolve(np.ones(3), np.ones(2), mode="nope"), ValueError, "mode flags"),
    (lambda m: m.correlate(np.ones(3), np.ones(2), method="nope"), ValueError,
     "Acceptable method flags"),
    (lambda m: m.convolve(np.ones(3), np.ones(2), method="nope"), ValueError,
     "Acceptable method flags"),
    (lambda m: m.correlate(np.ones((3, 2)), np.ones((2, 3)), "valid"), ValueError,
     "one must be at least as large as the other in every dimension"),
    (lambda m: m.convolve(np.ones((3, 2)), np.ones((2, 3)), "valid"), ValueError,
     "at least as large"),
    (lambda m: m.correlate2d(np.ones((3, 2)), np.ones((2, 3)), "valid"), ValueError,
     "at least as large"),
    (lambda m: m.correlate2d(np.ones(3), np.ones(3)), ValueError, "must both be 2-D"),
    (lambda m: m.convolve2d(np.ones((1, 2, 3)), np.ones((1, 1, 1))), ValueError,
     "must both be 2-D"),
    (lambda m: m.correlate2d(1.0, 2.0), ValueError, "2-D"),
    (lambda m: m.correlate2d(np.ones((2, 2)), np.ones((2, 2)), "nope"), ValueError,
     "Acceptable mode flags"),
    (lambda m: m.correlate2d(np.ones((2, 2)), np.ones((2, 2)), boundary="nope"), ValueError,
     "Acceptable boundary flags"),
    (lambda m: m.convolve2d(np.ones((2, 2)), np.ones((2, 2)), boundary="reflect"), ValueError,
     "Incorrect boundary value"),
    (lambda m: m.correlate2d(np.ones((2, 2)), np.ones((2, 2)), fillvalue=[1, 2]), ValueError,
     "`fillvalue` must be scalar or an array with one element"),
    (lambda m: m.correlate2d(np.ones((2, 2)), np.ones((2, 2)), fillvalue=1j), ValueError,
     "could not cast `fillvalue` directly to the output type"),
    (lambda m: m.correlate2d(np.ones((2, 2)), np.ones((2, 2)), fillvalue="a"), ValueError, ""),
    (lambda m: m.correlate2d(np.ones((2, 2), bool), np.ones((2, 2), bool)), ValueError,
     "not available for this type"),
    (lambda m: m.correlate2d(np.ones((2, 2), np.float16), np.ones((2, 2), np.float16)), ValueError,
     "not available for this type"),
    (lambda m: m.correlate2d(np.ones((2, 2), object), np.ones((2, 2))), ValueError,
     "not available for this type"),
    (lambda m: m.correlate(np.ones((2, 2), bool), np.ones((2, 2), bool)), ValueError,
     "Unsupported type"),
    (lambda m: m.correlate(np.ones((2, 2), np.float16), np.ones((2, 2), np.float16),
                           method="direct"),
     ValueError, "Unsupported type"),
    (lambda m: m.correlate(np.ones((2, 2), object), np.ones((2, 2)), method="direct"),
     ValueError, "Unsupported type"),
    (lambda m: m.correlate(np.ones(0), np.ones(3)), ValueError, "cannot be empty"),
    (lambda m: m.convolve(np.ones((2, 3)), np.ones((0, 1)), "same"), ValueError,
     "could not broadcast"),
    (lambda m: m.correlate2d(np.ones((0, 0)), np.ones((0, 0))), ValueError,
     "negative dimensions are not allowed"),
])
def test_errors_match_scipy(call, exc, phrase):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc) as theirs:
            call(ss)
        with pytest.raises(exc, match=phrase) as mine:
            call(fs)
    assert phrase in str(mine.value)
    assert phrase.lower() in str(theirs.value).lower() or not phrase or exc is ValueError


def test_errors_fastconv_only():
    a = np.ones((4, 4))
    with pytest.raises(TypeError, match="long double"):
        fs.correlate(a.astype(np.longdouble), a)
    with pytest.raises(ValueError, match="out has shape"):
        fs.correlate(a, a, out=np.empty((3, 3)))
    with pytest.raises(TypeError, match="out has dtype"):
        fs.correlate(a, a, out=np.empty((7, 7), np.float32))
    with pytest.raises(ValueError, match="overlaps"):
        buf = np.empty((4, 4))
        fs.correlate2d(buf, np.ones((1, 1)), out=buf)
    with pytest.raises(ValueError, match="could not be converted|Unsupported"):
        fs.correlate([[1, 2], [3]], [1])


class _FakeDevice:
    """Looks like a CUDA array to the dispatcher (no GPU needed)."""

    def __init__(self, shape, dtype="<f4"):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": dtype, "data": (0, False),
                                         "version": 3}


def test_cuda_operands():
    import fastconv

    with pytest.raises(TypeError, match="same device"):
        fs.correlate(np.ones(4), _FakeDevice((2,)))
    with pytest.raises(fastconv.BackendUnavailableError):
        fs.correlate(_FakeDevice((8,)), _FakeDevice((3,)))
    with pytest.raises(fastconv.BackendUnavailableError):
        fs.correlate2d(_FakeDevice((8, 8)), np.ones((3, 3), np.float32))


# --------------------------------------------------------------------------
# API behaviour
# --------------------------------------------------------------------------


def test_out_and_layouts(rng):
    a = np.asfortranarray(rng.standard_normal((20, 30)).astype(np.float32))
    k = rng.standard_normal((5, 5)).astype(np.float32)[::-1]
    a.setflags(write=False)
    a0 = a.copy()
    ref = ss.correlate2d(a, k, "same")
    out = np.empty((20, 30), np.float32)
    r = fs.correlate2d(a, k, "same", out=out)
    assert r is out
    check_values(out, a, k, lambda x, y: ss.correlate2d(x, y, "same"))
    big = np.zeros((20, 60), np.float32)
    r = fs.correlate2d(a, k, "same", out=big[:, ::2])
    assert r.base is big
    np.testing.assert_allclose(big[:, ::2], ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(a, a0)
    r = fs.correlate(a.tolist(), k.tolist(), "valid")
    assert r.dtype == np.float64


def test_choose_conv_method(rng):
    small = rng.standard_normal(1000)
    assert fs.choose_conv_method(small, np.ones(3)) == "direct"
    assert fs.choose_conv_method(rng.standard_normal((128, 128)), np.ones((128, 128))) == "fft"
    assert fs.choose_conv_method(rng.standard_normal(10**4), rng.standard_normal(10**4)) == "fft"
    assert fs.choose_conv_method(2.0, 3.0) == "direct"
    m, times = fs.choose_conv_method(small, np.ones(5), "same", measure=True)
    assert fs.correlate(2.0, 3.0, out=np.empty(())) == 6.0
    assert m in ("direct", "fft") and set(times) == {"direct", "fft"}
    with pytest.raises(ValueError, match="mode flags"):
        fs.choose_conv_method(small, small, "nope")
    # auto follows the chooser
    x = rng.standard_normal((64, 64))
    y = rng.standard_normal((40, 40))
    assert fs.choose_conv_method(x, y, "same") == "fft"
    np.testing.assert_allclose(fs.correlate(x, y, "same"), ss.correlate(x, y, "same", "direct"),
                               rtol=1e-9, atol=1e-9)


def test_higher_rank(rng):
    a = rng.standard_normal((3, 4, 2, 5))
    b = rng.standard_normal((2, 2, 1, 3))
    for mode in MODES:
        for name in ("correlate", "convolve"):
            mine = getattr(fs, name)(a, b, mode, method="direct")
            check_values(mine, a, b, lambda x, y: getattr(ss, name)(x, y, mode, method="direct"))


def test_import_is_light():
    code = ("import sys, fastconv, fastconv.signal; "
            "assert 'scipy' not in sys.modules, 'scipy imported'; "
            "assert 'fastconv._cpu.signal' not in sys.modules; "
            "assert 'numba.cuda' not in sys.modules; "
            "assert fastconv.signal.correlate is fastconv.signal.__dict__['correlate']; "
            "import numpy as np; "
            "fastconv.signal.correlate(np.ones(5), np.ones(2), method='direct'); "
            "assert 'scipy.fft' not in sys.modules and 'scipy.signal' not in sys.modules; "
            "fastconv.signal.correlate(np.ones(5), np.ones(2), method='fft'); "
            "assert 'scipy.fft' in sys.modules")
    # (numba itself imports the top-level scipy package when its kernels load)
    subprocess.run([sys.executable, "-c", code], check=True)
