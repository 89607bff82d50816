"""fastconv.signal on the CUDA simulator vs scipy.signal (the family's oracle)."""

import numpy as np
import pytest
from scipy import signal as ss

from conftest import assert_close
from fastconv import signal as fs

pytestmark = pytest.mark.usefixtures("small_launch")


def _arr(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(-5, 6, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


ND_CASES = [
    ("correlate", (9,), (4,), "full", np.float32),
    ("convolve", (9,), (4,), "same", np.float64),
    ("correlate", (3,), (7,), "valid", np.float64),       # in2 larger: scipy swaps
    ("correlate", (5, 6), (2, 3), "same", np.complex64),
    ("convolve", (5, 4), (3, 3), "full", np.complex128),
    ("convolve", (4, 5), (2, 2), "valid", np.int32),
    ("correlate", (3, 4, 3), (2, 2, 2), "full", np.float32),
]


@pytest.mark.parametrize("case", range(len(ND_CASES)))
def test_correlate_convolve(cuda, rng, case):
    func, s1, s2, mode, dtype = ND_CASES[case]
    a = _arr(rng, s1, dtype)
    b = _arr(rng, s2, dtype)
    y = getattr(fs, func)(cuda.to_device(a), b, mode=mode).copy_to_host()
    ref = getattr(ss, func)(a, b, mode=mode, method="direct")
    assert y.dtype == ref.dtype and y.shape == ref.shape
    if np.dtype(dtype).kind in "iu":
        np.testing.assert_array_equal(y, ref)
    else:
        real = np.float32 if np.dtype(dtype) in (np.float32, np.complex64) else np.float64
        scale = float(np.max(ss.correlate(np.abs(a), np.abs(b), mode=mode, method="direct")))
        assert_close(np.abs(y - ref).astype(real), np.zeros(ref.shape), real,
                     terms=2 * b.size, scale=2 * scale)


CASES_2D = [
    ("correlate2d", (5, 6), (3, 2), "full", "fill", 0, np.float32),
    ("convolve2d", (5, 6), (3, 2), "same", "wrap", 0, np.float64),
    ("correlate2d", (4, 5), (2, 4), "same", "symm", 0, np.float64),
    ("convolve2d", (4, 4), (3, 3), "full", "fill", 2.5, np.float32),
    ("correlate2d", (2, 3), (4, 5), "valid", "fill", 0, np.complex128),  # swapped + complex
    ("correlate2d", (4, 3), (2, 2), "same", "symm", 0, np.int64),
    ("convolve2d", (4, 5), (3, 2), "same", "fill", 1 - 2j, np.complex64),
]


@pytest.mark.parametrize("case", range(len(CASES_2D)))
def test_2d(cuda, rng, case):
    func, s1, s2, mode, boundary, fv, dtype = CASES_2D[case]
    a = _arr(rng, s1, dtype)
    b = _arr(rng, s2, dtype)
    y = getattr(fs, func)(cuda.to_device(a), cuda.to_device(b), mode=mode, boundary=boundary,
                          fillvalue=fv).copy_to_host()
    ref = getattr(ss, func)(a, b, mode=mode, boundary=boundary, fillvalue=fv)
    assert y.dtype == ref.dtype and y.shape == ref.shape
    if np.dtype(dtype).kind in "iu":
        np.testing.assert_array_equal(y, ref)
    else:
        real = np.float32 if np.dtype(dtype) in (np.float32, np.complex64) else np.float64
        scale = (float(np.max(np.abs(a))) + abs(fv)) * float(np.sum(np.abs(b)))
        assert_close(np.abs(y - ref).astype(real), np.zeros(ref.shape), real,
                     terms=2 * b.size, scale=2 * scale)


def test_fft_method_and_mixed_dtypes(cuda, rng):
    a = rng.standard_normal(12).astype(np.float32)
    b = rng.standard_normal(5)                   # host float64 -> float64 result
    y = fs.convolve(cuda.to_device(a), b, method="fft").copy_to_host()
    ref = ss.convolve(a, b, method="direct")
    assert y.dtype == np.float64
    assert_close(y, ref, np.float64, terms=5,
                 scale=float(np.max(ss.convolve(np.abs(a), np.abs(b)))))


def test_bool_and_small_int_results(cuda):
    a = np.array([True, False, True, False, False, True])
    b = np.array([True, True])
    y = fs.correlate(cuda.to_device(a), b).copy_to_host()
    ref = ss.correlate(a, b)
    assert y.dtype == ref.dtype == np.bool_
    np.testing.assert_array_equal(y, ref)
    ai = np.array([100, 120, 127], np.int8)
    y = fs.convolve(cuda.to_device(ai), np.array([2, 1], np.int8)).copy_to_host()
    np.testing.assert_array_equal(y, ss.convolve(ai, np.array([2, 1], np.int8), method="direct"))


def test_empty_in1_2d_fill(cuda):
    a = np.zeros((0, 3))
    b = np.arange(4.0).reshape(2, 2)
    cpu = fs.correlate2d(a, b, mode="full", fillvalue=2.0)
    y = fs.correlate2d(cuda.to_device(a), b, mode="full", fillvalue=2.0).copy_to_host()
    np.testing.assert_array_equal(y, cpu)
    np.testing.assert_array_equal(y, ss.correlate2d(a, b, mode="full", fillvalue=2.0))
