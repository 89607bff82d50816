"""Unit tests of the explicit-SIMD layer fastconv._cpu._simd (both vector types)."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from fastconv._cpu import _simd
from fastconv._cpu._simd import (
    lanes, vadd, vbroadcast, veven, vfma, vgather, vget, vhsum, vload, vload_bits, vload_lanes,
    vload_masked, vmul, vodd, vprefetch, vsplat, vstore, vstore_lanes, vstore_masked, vzeros,
    vzip_hi, vzip_lo, vcol_store_lanes, vtile, vtile_masked, vtile_pack, vtile_pack_masked,
    vtile_store,
)

DTYPES = [np.float32, np.float64]


@njit(cache=True)
def _lanes(a):
    return lanes(a)


@njit(cache=True)
def _load_store(a, i, out, j):
    vstore(out, j, vload(a, i))


@njit(cache=True)
def _fma(a, b, c, out):
    vstore(out, 0, vfma(vload(a, 0), vload(b, 0), vload(c, 0)))


@njit(cache=True)
def _bcast(a, i, out):
    vstore(out, 0, vbroadcast(a, i))


@njit(cache=True)
def _splat(x, out):
    vstore(out, 0, vsplat(x, out))


@njit(cache=True)
def _arith(a, b, out):
    v = vadd(vmul(vload(a, 0), vload(b, 0)), vzeros(a))
    vstore(out, 0, v)
    return vhsum(v), vget(v, 1)


@njit(cache=True)
def _masked(a, i, n, out, j, m):
    vstore_masked(out, j, vload_masked(a, i, n), m)


@njit(cache=True)
def _lanes_store(a, out, i, lo, hi):
    vprefetch(a, 0)
    vstore_lanes(out, i, vload(a, 0), lo, hi)


@njit(cache=True)
def _lanes_load(a, i, lo, hi, out):
    vstore(out, 0, vload_lanes(a, i, lo, hi))


@njit(cache=True)
def _bits_load(a, i, bits, out):
    vstore(out, 0, vload_bits(a, i, bits))


@njit(cache=True)
def _gather(a, i, idx, j, lo, hi, out):
    vstore(out, 0, vgather(a, i, idx, j, lo, hi))


@njit(cache=True)
def _shuffles(a, out):
    """out = veven, vodd, vzip_lo, vzip_hi of the two vectors in ``a``."""
    L = lanes(a)
    x = vload(a, 0)
    y = vload(a, L)
    vstore(out, 0, veven(x, y))
    vstore(out, L, vodd(x, y))
    vstore(out, 2 * L, vzip_lo(x, y))
    vstore(out, 3 * L, vzip_hi(x, y))


@njit(cache=True)
def _axpy(alpha, x, y):
    """y += alpha * x with full vectors and a masked tail (any length)."""
    L = lanes(x)
    n = x.size
    va = vsplat(alpha, x)
    i = 0
    while i + L <= n:
        vstore(y, i, vfma(va, vload(x, i), vload(y, i)))
        i += L
    if i < n:
        r = n - i
        vstore_masked(y, i, vfma(va, vload_masked(x, i, r), vload_masked(y, i, r)), r)


def test_vector_types_are_module_level():
    assert _simd.f32x16.count == 16 and _simd.f64x8.count == 8
    assert str(_simd.f32x16) == "vec16xfloat32"
    assert _simd.f32x16 == _simd.VecType(_simd.f32x16.dtype, 16)


@pytest.mark.parametrize("dt", DTYPES)
def test_lanes(dt):
    assert _lanes(np.zeros(1, dt)) == 64 // np.dtype(dt).itemsize


@pytest.mark.parametrize("dt", DTYPES)
def test_load_store_offsets(dt):
    L = 64 // np.dtype(dt).itemsize
    a = np.arange(3 * L, dtype=dt)
    out = np.full(3 * L, -1, dt)
    _load_store(a, 5, out, 3)  # unaligned on both sides
    exp = np.full(3 * L, -1, dt)
    exp[3:3 + L] = a[5:5 + L]
    np.testing.assert_array_equal(out, exp)


@pytest.mark.parametrize("dt", DTYPES)
def test_fma_is_fused(dt, rng):
    L = 64 // np.dtype(dt).itemsize
    a, b, c = (rng.standard_normal(L).astype(dt) for _ in range(3))
    out = np.empty(L, dt)
    _fma(a, b, c, out)
    exact = a.astype(np.longdouble) * b + c
    # a fused multiply-add rounds once: result is the correctly rounded exact value
    np.testing.assert_array_equal(out, exact.astype(dt))


@pytest.mark.parametrize("dt", DTYPES)
def test_broadcast_and_splat(dt):
    L = 64 // np.dtype(dt).itemsize
    out = np.empty(L, dt)
    _bcast(np.array([1, 2.5, 3], dt), 1, out)
    np.testing.assert_array_equal(out, np.full(L, 2.5, dt))
    _splat(-3.25, out)
    np.testing.assert_array_equal(out, np.full(L, -3.25, dt))
    _splat(7, out)  # an integer scalar is converted
    np.testing.assert_array_equal(out, np.full(L, 7, dt))


@pytest.mark.parametrize("dt", DTYPES)
def test_arith_hsum_get(dt):
    L = 64 // np.dtype(dt).itemsize
    a = np.arange(L, dtype=dt)
    b = np.full(L, 2, dt)
    out = np.empty(L, dt)
    s, g = _arith(a, b, out)
    np.testing.assert_array_equal(out, 2 * a)
    assert s == 2 * a.sum() and g == 2


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 5, 7, 8, 15, 16])
def test_masked_tail(dt, n):
    L = 64 // np.dtype(dt).itemsize
    n = min(n, L)
    a = np.arange(1, L + 1, dtype=dt)
    # source exactly n long: masked lanes must not be read (no fault, value 0)
    src = a[:n].copy()
    out = np.full(L + 4, -1, dt)
    _masked(np.concatenate([src, np.zeros(L, dt)]), 0, n, out, 2, L)
    exp = np.full(L + 4, -1, dt)
    exp[2:2 + L] = 0
    exp[2:2 + n] = a[:n]
    np.testing.assert_array_equal(out, exp)
    # masked store touches only the first m lanes
    out = np.full(L + 4, -1, dt)
    _masked(a, 0, L, out, 1, n)
    exp = np.full(L + 4, -1, dt)
    exp[1:1 + n] = a[:n]
    np.testing.assert_array_equal(out, exp)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("lo,hi", [(0, 0), (0, 3), (2, 7), (5, 16), (3, 99), (-4, 2), (7, 7)])
def test_store_lane_range(dt, lo, hi):
    L = 64 // np.dtype(dt).itemsize
    a = np.arange(1, L + 1, dtype=dt)
    out = np.full(L + 8, -1, dt)
    _lanes_store(a, out, 4, lo, hi)
    exp = np.full(L + 8, -1, dt)
    for k in range(max(lo, 0), min(hi, L)):
        exp[4 + k] = a[k]
    np.testing.assert_array_equal(out, exp)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("lo,hi", [(0, 0), (0, 3), (2, 7), (5, 16), (3, 99), (-4, 2), (7, 7)])
def test_load_lane_range(dt, lo, hi):
    L = 64 // np.dtype(dt).itemsize
    a = np.arange(1, L + 1, dtype=dt)
    out = np.full(L, -1, dt)
    _lanes_load(a, 0, lo, hi, out)
    exp = np.zeros(L, dt)
    for k in range(max(lo, 0), min(hi, L)):
        exp[k] = a[k]
    np.testing.assert_array_equal(out, exp)


@pytest.mark.parametrize("dt", DTYPES)
def test_load_lanes_reads_only_its_lanes(dt):
    """A padded-row gather loads from before/after a row: off lanes are not read."""
    L = 64 // np.dtype(dt).itemsize
    a = np.arange(1, 6, dtype=dt)  # exactly 5 elements: lanes outside would read past it
    out = np.full(L, -1, dt)
    _lanes_load(a, -2, 2, 7, out)  # lane k reads a[k - 2]: lanes 2..6 hold a[0..4]
    exp = np.zeros(L, dt)
    exp[2:7] = a
    np.testing.assert_array_equal(out, exp)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("bits", [0, 1, 0b1011_0110, (1 << 16) - 1, -1, (1 << 40) | 0b100])
def test_load_bits(dt, bits, rng):
    """Lane k is a[i + k] when bit k is set, else 0; higher bits are ignored."""
    L = 64 // np.dtype(dt).itemsize
    a = rng.standard_normal(L + 5).astype(dt)
    out = np.full(L, np.nan, dt)
    _bits_load(a, 3, bits, out)
    on = np.array([(bits >> k) & 1 for k in range(L)], bool)
    np.testing.assert_array_equal(out, np.where(on, a[3:3 + L], 0))


@pytest.mark.parametrize("dt", DTYPES)
def test_load_bits_reads_only_its_lanes(dt):
    """Off lanes are not read: lanes before and after a 5-element array stay off."""
    L = 64 // np.dtype(dt).itemsize
    a = np.arange(1, 6, dtype=dt)
    out = np.full(L, -1, dt)
    _bits_load(a, -2, 0b111_1100, out)  # lanes 2..6 hold a[0..4]
    exp = np.zeros(L, dt)
    exp[2:7] = a
    np.testing.assert_array_equal(out, exp)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("ity", [np.int32, np.int64])
@pytest.mark.parametrize("lo,hi", [(0, 99), (1, 5), (3, 3), (-2, 7)])
def test_gather(dt, ity, lo, hi, rng):
    L = 64 // np.dtype(dt).itemsize
    a = rng.standard_normal(40).astype(dt)
    idx = rng.integers(-3, 30, size=L + 3).astype(ity)  # negative: lane off
    idx[3 + max(lo, 0)] = -1  # at least one switched-off index inside the range
    out = np.full(L, np.nan, dt)
    _gather(a, 7, idx, 3, lo, hi, out)
    exp = np.zeros(L, dt)
    for k in range(max(lo, 0), min(hi, L)):
        if idx[3 + k] >= 0:
            exp[k] = a[7 + idx[3 + k]]
    np.testing.assert_array_equal(out, exp)


@pytest.mark.parametrize("dt", DTYPES)
def test_two_vector_shuffles(dt, rng):
    """veven / vodd: the two column phases of a stride-2 run of 2 L elements;
    vzip_lo / vzip_hi: the two vectors interleaved lane by lane (their inverse)."""
    L = 64 // np.dtype(dt).itemsize
    a = rng.standard_normal(2 * L).astype(dt)
    out = np.full(4 * L, np.nan, dt)
    _shuffles(a, out)
    np.testing.assert_array_equal(out[:L], a[0::2])
    np.testing.assert_array_equal(out[L:2 * L], a[1::2])
    np.testing.assert_array_equal(out[2 * L:], np.stack([a[:L], a[L:]], axis=1).reshape(-1))
    back = np.full(4 * L, np.nan, dt)
    _shuffles(out[2 * L:], back)  # even / odd lanes undo the zip
    np.testing.assert_array_equal(back[:2 * L], a)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [1, 8, 16, 17, 33, 100])
def test_axpy_any_length(dt, n, rng):
    x = rng.standard_normal(n).astype(dt)
    y = rng.standard_normal(n).astype(dt)
    exp = (np.longdouble(0.5) * x.astype(np.longdouble) + y).astype(dt)
    # exact-length arrays: the masked tail never touches memory past the end
    _axpy(0.5, x, y)
    np.testing.assert_array_equal(y, exp)


@njit(cache=True)
def _tile_steps(xs, wp, bp, n, pk, out, col, nk, lo, hi):
    # a 2-channel x 3-vector tile: one step of each kind, then both stores
    L = lanes(xs)
    b = (vbroadcast(bp, 0), vbroadcast(bp, 1))
    acc = (b, b, b)
    acc = vtile(acc, xs, 0, wp, 0, 3)  # weights wp[0], wp[3]
    acc = vtile_masked(acc, xs, 1, n, wp, 1, 3)  # wp[1], wp[4]
    acc = vtile_pack(acc, xs, 2, pk, 0, wp, 6, 1)  # wp[6], wp[7]
    acc = vtile_pack_masked(acc, xs, 3, n, pk, 3 * L, wp, 8, 1)  # wp[8], wp[9]
    vtile_store(out, 0, 3 * L, acc)
    vcol_store_lanes(col, 0, L, acc[1], nk, lo, hi)


def _tile_reference(xs, wp, bp, n, L):
    """acc[v][j] of :func:`_tile_steps` in float64, and the two packed copies."""
    def x(at, masked):
        v = xs[at:at + 3 * L].astype(np.float64)
        return np.where(np.arange(3 * L) < n, v, 0) if masked else v

    acc = np.empty((3, 2, L))
    acc[:, 0], acc[:, 1] = bp[0], bp[1]
    steps = [(x(0, False), 0, 3), (x(1, True), 1, 3), (x(2, False), 6, 1), (x(3, True), 8, 1)]
    for xv, wb, ws in steps:
        for j in range(2):
            acc[:, j] += float(wp[wb + j * ws]) * xv.reshape(3, L)
    return acc, steps[2][0], steps[3][0]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 16, 19, 48])
def test_register_tile(dt, n, rng):
    """vtile* step a 2 x 3 tile (strided and packed weights, masked loads, packing),
    vtile_store writes it whole and vcol_store_lanes one vector of it per channel."""
    L = 64 // np.dtype(dt).itemsize
    n = min(n, 3 * L)
    xs = rng.standard_normal(3 * L + 3).astype(dt)
    wp, bp = rng.standard_normal(10).astype(dt), rng.standard_normal(2).astype(dt)
    pk = np.full(6 * L, np.nan, dt)
    out = np.full(6 * L, np.nan, dt)
    col = np.full(2 * L, np.nan, dt)
    _tile_steps(xs, wp, bp, n, pk, out, col, 1, 2, 7)
    acc, pk0, pk1 = _tile_reference(xs, wp, bp, n, L)
    tol = 8 * np.finfo(dt).eps * (1 + np.abs(acc).max())
    # out: channel j's three vectors at j * 3L
    np.testing.assert_allclose(out, acc.transpose(1, 0, 2).reshape(-1), rtol=0, atol=tol)
    np.testing.assert_array_equal(pk, np.concatenate([pk0, pk1]).astype(dt))
    exp_col = np.full(2 * L, np.nan)
    exp_col[2:7] = acc[1, 0, 2:7]  # nk = 1: channel 1 untouched
    np.testing.assert_allclose(col, exp_col, rtol=0, atol=tol)


def test_rejects_bad_types():
    from numba.core.errors import TypingError

    @njit
    def bad(a):
        return vload(a, 0)

    with pytest.raises(TypingError):
        bad(np.zeros(4, np.int32))
    with pytest.raises(TypingError):
        bad(np.zeros((4, 4), np.float32))

    @njit
    def bad_tile(a, w):
        acc = ((vzeros(w),),)  # a float64 tile stepped with float32 input
        return vtile(acc, a, 0, w, 0, 1)

    with pytest.raises(TypingError):
        bad_tile(np.zeros(32, np.float32), np.zeros(32, np.float64))
