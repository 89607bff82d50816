"""Pooling on the CUDA simulator.

Oracles: the CPU backend (itself tested against ``tests/reference.py``) --
max values and indices must match exactly, averages to the stated bound --
and torch.nn.functional as an additional oracle when importable.
"""

import numpy as np
import pytest

import fastconv
from conftest import assert_close

pytestmark = pytest.mark.usefixtures("small_launch")
DTYPES = [np.float32, np.float64]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _host(r):
    return tuple(v.copy_to_host() for v in r) if isinstance(r, tuple) else r.copy_to_host()


MAX_CASES = [
    (1, (2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
    (1, (3, 9), dict(kernel_size=2, dilation=3, ceil_mode=True)),
    (2, (1, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1)),
    (2, (1, 2, 7, 8), dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True,
                           padding=(1, 1))),
    (3, (1, 2, 4, 5, 5), dict(kernel_size=(2, 3, 2), stride=(2, 1, 2), padding=(1, 1, 0))),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", range(len(MAX_CASES)))
def test_max_pool_values_and_indices(cuda, rng, case, dtype):
    nd, shape, kw = MAX_CASES[case]
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[::7] = x.flat[1]                   # ties: first maximum wins
    if case == 2:
        x[0, 1, 2, 3] = np.nan                 # NaN propagates
    fn = getattr(fastconv, f"max_pool{nd}d")
    v, i = _host(fn(cuda.to_device(x), return_indices=True, **kw))
    cv, ci = fn(x, return_indices=True, **kw)
    np.testing.assert_array_equal(v, cv)
    np.testing.assert_array_equal(i, ci)
    assert i.dtype == np.int64 and v.dtype == dtype
    v2 = fn(cuda.to_device(x), **kw).copy_to_host()
    np.testing.assert_array_equal(v2, cv)
    torch = _torch()
    if torch is not None:
        tf = getattr(torch.nn.functional, f"max_pool{nd}d")
        tv, ti = tf(torch.from_numpy(x), return_indices=True, **kw)
        np.testing.assert_array_equal(v, tv.numpy())
        np.testing.assert_array_equal(i, ti.numpy())


AVG_CASES = [
    (1, (2, 3, 10), dict(kernel_size=3, stride=2, padding=1)),
    (2, (1, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    (2, (2, 1, 5, 7), dict(kernel_size=(2, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True,
                           count_include_pad=False)),
    (2, (1, 2, 6, 6), dict(kernel_size=2, divisor_override=3)),
    (3, (1, 2, 4, 5, 5), dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0),
                              ceil_mode=True)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", range(len(AVG_CASES)))
def test_avg_pool(cuda, rng, case, dtype):
    nd, shape, kw = AVG_CASES[case]
    x = rng.standard_normal(shape).astype(dtype)
    fn = getattr(fastconv, f"avg_pool{nd}d")
    y = fn(cuda.to_device(x), **kw).copy_to_host()
    ref = fn(x.astype(np.float64), **kw)
    k = int(np.prod(kw["kernel_size"])) if not isinstance(kw["kernel_size"], int) else \
        kw["kernel_size"] ** nd
    scale = float(np.max(fn(np.abs(x).astype(np.float64), **kw)))
    assert_close(y, ref, dtype, terms=k + 2, scale=scale * k)
    torch = _torch()
    if torch is not None:
        t = getattr(torch.nn.functional, f"avg_pool{nd}d")(torch.from_numpy(x.astype(np.float64)),
                                                            **kw).numpy()
        assert_close(y, t, dtype, terms=k + 2, scale=scale * k)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_adaptive_pools(cuda, rng, dtype):
    x = rng.standard_normal((2, 2, 7, 5)).astype(dtype)
    x[1, 0, 3, 2] = np.nan
    a = fastconv.adaptive_avg_pool2d(cuda.to_device(x), (3, 4)).copy_to_host()
    ref = fastconv.adaptive_avg_pool2d(x.astype(np.float64), (3, 4))
    assert_close(a, ref, dtype, terms=12, scale=float(np.nanmax(np.abs(x))) * 12)
    v, i = _host(fastconv.adaptive_max_pool2d(cuda.to_device(x), (3, None), return_indices=True))
    cv, ci = fastconv.adaptive_max_pool2d(x, (3, None), return_indices=True)
    np.testing.assert_array_equal(v, cv)
    np.testing.assert_array_equal(i, ci)
    v1 = fastconv.adaptive_max_pool2d(cuda.to_device(x), 2).copy_to_host()
    np.testing.assert_array_equal(v1, fastconv.adaptive_max_pool2d(x, 2))


def test_pool_out_pair_and_errors(cuda, rng):
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    vo = cuda.device_array((1, 2, 3, 3), np.float32)
    io = cuda.device_array((1, 2, 3, 3), np.int64)
    r = fastconv.max_pool2d(cuda.to_device(x), 2, return_indices=True, out=(vo, io))
    assert r[0] is vo and r[1] is io
    cv, ci = fastconv.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(vo.copy_to_host(), cv)
    np.testing.assert_array_equal(io.copy_to_host(), ci)
    r = fastconv.max_pool2d(cuda.to_device(x), 2, return_indices=True, out=(None, io))
    np.testing.assert_array_equal(r[0].copy_to_host(), cv)
    with pytest.raises(TypeError, match=r"out\[1\] has dtype float32, expected int64"):
        fastconv.max_pool2d(cuda.to_device(x), 2, return_indices=True,
                            out=(vo, cuda.device_array((1, 2, 3, 3), np.float32)))
    with pytest.raises(ValueError, match=r"out\[1\] overlaps out\[0\]|out\[0\] overlaps out\[1\]"):
        big = cuda.device_array((1, 2, 3, 6), np.float32)
        fastconv.max_pool2d(cuda.to_device(x), 2, return_indices=True,
                            out=(big[:, :, :, :3], big.view(np.int64)))


def test_noncontiguous_inputs_are_copied_when_planes_cannot_merge(cuda, rng):
    x = rng.standard_normal((4, 3, 6, 7)).astype(np.float32)
    d = cuda.to_device(x)[::2, :, :, 1:]         # N stride 2*C*H*W: (N*C) view impossible
    ref = x[::2, :, :, 1:]
    np.testing.assert_array_equal(fastconv.max_pool2d(d, 2).copy_to_host(),
                                  fastconv.max_pool2d(np.ascontiguousarray(ref), 2))
    y = fastconv.interpolate(d, scale_factor=2, mode="nearest").copy_to_host()
    np.testing.assert_array_equal(y, fastconv.interpolate(np.ascontiguousarray(ref),
                                                          scale_factor=2, mode="nearest"))
    assert np.array_equal(d.copy_to_host(), ref)   # input untouched


def test_view_strides_rule():
    from fastconv._cuda._common import _view_strides

    f4 = np.dtype(np.float32)
    assert _view_strides((2, 3, 4), (48, 16, 4), (6, 4), f4) == (16, 4)
    assert _view_strides((2, 3, 4), (96, 16, 4), (6, 4), f4) is None
    assert _view_strides((3, 4), (32, 8), (1, 3, 1, 4), f4)[1::2] == (32, 8)
