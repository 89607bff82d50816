"""Conv family on the CUDA simulator vs the scipy-based oracles (tiny shapes)."""

import numpy as np
import pytest

import fastconv
from conftest import assert_close
from reference import conv_nd

pytestmark = pytest.mark.usefixtures("small_launch")

DTYPES = [np.float32, np.float64]


def _dev(cuda, a):
    return cuda.to_device(np.ascontiguousarray(a))


def _terms(w, groups=1):
    return int(np.prod(w.shape[1:])) + 1


def _scale(x, w, b, **kw):
    return float(np.max(np.abs(conv_nd(np.abs(x), np.abs(w), None if b is None else np.abs(b),
                                       **kw))))


# (nd, x shape, w shape, kwargs for fastconv, kwargs for the oracle)
CASES = [
    (1, (2, 3, 9), (4, 3, 3), dict(), dict()),
    (1, (1, 4, 10), (4, 2, 3), dict(stride=2, padding=2, dilation=2, groups=2,
                                    padding_mode="circular"),
     dict(stride=2, pad_lo=2, dilation=2, groups=2, mode="circular")),
    (2, (1, 3, 6, 7), (5, 3, 3, 3), dict(padding=1), dict(pad_lo=1)),
    (2, (2, 4, 7, 6), (6, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2,
                                         padding_mode="reflect"),
     dict(stride=(2, 1), pad_lo=(1, 2), dilation=(1, 2), groups=2, mode="reflect")),
    (2, (1, 2, 5, 6), (3, 2, 2, 4), dict(padding="same", padding_mode="replicate"),
     dict(pad_lo=(0, 1), pad_hi=(1, 2), mode="replicate")),
    (2, (1, 5, 4, 5), (3, 5, 1, 1), dict(), dict()),                       # pointwise
    (2, (1, 3, 5, 5), (7, 3, 3, 3), dict(stride=3, padding=2), dict(stride=3, pad_lo=2)),
    (3, (1, 2, 4, 5, 4), (3, 2, 2, 3, 2), dict(padding=(1, 0, 1), padding_mode="circular"),
     dict(pad_lo=(1, 0, 1), mode="circular")),
    (3, (1, 4, 3, 4, 4), (4, 1, 3, 1, 2), dict(stride=(1, 2, 1), dilation=(1, 1, 2), groups=4,
                                             padding=(1, 0, 1)),
     dict(stride=(1, 2, 1), dilation=(1, 1, 2), groups=4, pad_lo=(1, 0, 1))),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_conv_matches_oracle(cuda, rng, case, dtype):
    nd, xs, ws, kw, rk = CASES[case]
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if case % 2 else None
    fn = {1: fastconv.conv1d, 2: fastconv.conv2d, 3: fastconv.conv3d}[nd]
    y = fn(_dev(cuda, x), w, b, **kw)
    assert getattr(y, "__cuda_ndarray__", False)
    ref = conv_nd(x, w, b, **rk)
    assert_close(y.copy_to_host(), ref, dtype, terms=_terms(w), scale=_scale(x, w, b, **rk))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_direct_kernel_when_patch_exceeds_shared_budget(cuda, rng, dtype):
    from fastconv import _params
    from fastconv._cuda import _launch
    from fastconv._cuda import conv as cconv

    x = rng.standard_normal((1, 2, 7, 8)).astype(dtype)
    w = rng.standard_normal((3, 2, 2, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    with _launch.limits(shared_bytes=0):
        p = _params.conv_params(2, _params.array_meta(x), _params.array_meta(w),
                                _params.array_meta(b), 2, 1, (2, 1), 1, "reflect")
        assert cconv.plan(p)[0] == "_conv_direct"
        y = fastconv.conv2d(_dev(cuda, x), _dev(cuda, w), _dev(cuda, b), stride=2, padding=1,
                            dilation=(2, 1), padding_mode="reflect")
    ref = conv_nd(x, w, b, stride=2, pad_lo=1, dilation=(2, 1), mode="reflect")
    assert_close(y.copy_to_host(), ref, dtype, terms=13, scale=_scale(x, w, b, stride=2, pad_lo=1,
                                                                      dilation=(2, 1)))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("mult", [1, 3])
def test_depthwise(cuda, rng, dtype, mult):
    x = rng.standard_normal((2, 3, 6, 5)).astype(dtype)
    w = rng.standard_normal((3 * mult, 1, 3, 3)).astype(dtype)
    b = rng.standard_normal(3 * mult).astype(dtype)
    y = fastconv.depthwise_conv2d(_dev(cuda, x), w, b, stride=(1, 2), padding=1)
    ref = conv_nd(x, w, b, stride=(1, 2), pad_lo=1, groups=3)
    assert_close(y.copy_to_host(), ref, dtype, terms=10, scale=_scale(x, w, b, stride=(1, 2),
                                                                      pad_lo=1, groups=3))
    y2 = fastconv.conv2d(_dev(cuda, x), w, b, stride=(1, 2), padding=1, groups=3)
    np.testing.assert_array_equal(y2.copy_to_host(), y.copy_to_host())


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_separable(cuda, rng, dtype):
    x = rng.standard_normal((1, 3, 5, 6)).astype(dtype)
    dw = rng.standard_normal((6, 1, 3, 3)).astype(dtype)
    pw = rng.standard_normal((4, 6, 1, 1)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    y = fastconv.separable_conv2d(_dev(cuda, x), dw, pw[:, :, 0, 0], b, padding=1, dilation=2)
    mid = conv_nd(x, dw, None, pad_lo=1, dilation=2, groups=3)
    ref = conv_nd(mid, pw, b)
    amid = conv_nd(np.abs(x), np.abs(dw), None, pad_lo=1, dilation=2, groups=3)
    scale = float(np.max(conv_nd(amid, np.abs(pw), np.abs(b))))
    assert_close(y.copy_to_host(), ref, dtype, terms=6 * 10 + 1, scale=scale)


def test_unbatched_mixed_dtype_and_noncontiguous_input(cuda, rng):
    x = rng.standard_normal((3, 6, 10)).astype(np.float32)
    w = rng.standard_normal((2, 3, 2, 2))  # float64 host weight -> float64 result
    dx = cuda.to_device(x)[:, :, ::2]      # non-contiguous device view
    y = fastconv.conv2d(dx, w, padding=1)
    assert y.dtype == np.float64 and y.shape == (2, 7, 6)
    ref = conv_nd(x[None, :, :, ::2], w, None, pad_lo=1)[0]
    assert_close(y.copy_to_host(), ref, np.float64, terms=13,
                 scale=_scale(x[None, :, :, ::2], w, None, pad_lo=1))


def test_out_contiguous_and_strided(cuda, rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    ref = conv_nd(x, w, None, pad_lo=1)
    out = cuda.device_array((1, 3, 5, 5), np.float32)
    y = fastconv.conv2d(cuda.to_device(x), w, padding=1, out=out)
    assert y is out
    assert_close(out.copy_to_host(), ref, np.float32, terms=18, scale=_scale(x, w, None, pad_lo=1))
    big = cuda.to_device(np.full((1, 3, 5, 10), 7.0, np.float32))
    view = big[:, :, :, ::2]
    y = fastconv.conv2d(cuda.to_device(x), w, padding=1, out=view)
    assert y is view
    host = big.copy_to_host()
    assert_close(host[:, :, :, ::2], ref, np.float32, terms=18, scale=_scale(x, w, None, pad_lo=1))
    assert np.all(host[:, :, :, 1::2] == 7.0)


def test_grid_stride_with_one_block(cuda, rng):
    from fastconv._cuda import _launch

    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((5, 3, 3, 3))
    with _launch.limits(max_blocks=1, tile=(2, 2), threads=4):
        y = fastconv.conv2d(cuda.to_device(x), w, padding=1).copy_to_host()
        with _launch.limits(shared_bytes=0):
            y2 = fastconv.conv2d(cuda.to_device(x), w, padding=1).copy_to_host()
    ref = conv_nd(x, w, None, pad_lo=1)
    assert_close(y, ref, np.float64, terms=27, scale=_scale(x, w, None, pad_lo=1))
    assert_close(y2, ref, np.float64, terms=27, scale=_scale(x, w, None, pad_lo=1))


def test_device_weights_and_bias_used_in_place(cuda, rng):
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    w = rng.standard_normal((2, 2, 1, 1)).astype(np.float32)
    b = np.array([1.5, -2.0], np.float32)
    y = fastconv.conv2d(cuda.to_device(x), cuda.to_device(w), cuda.to_device(b))
    ref = conv_nd(x, w, b)
    assert_close(y.copy_to_host(), ref, np.float32, terms=3, scale=_scale(x, w, b))


from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def _conv_args(draw):
    nd = draw(st.sampled_from([1, 2]))
    g = draw(st.sampled_from([1, 2]))
    cg = draw(st.integers(1, 2))
    kg = draw(st.integers(1, 3))
    ks = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    sp = tuple(draw(st.integers(max(2, (k - 1) * di + 1), 6)) for k, di in zip(ks, d))
    p = tuple(draw(st.integers(0, min(2, L - 1))) for L in sp)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return nd, g, cg, kg, ks, s, d, mode, sp, p, dtype


@settings(max_examples=12)
@given(args=_conv_args(), seed=st.integers(0, 2**16))
def test_conv_property(args, seed):
    from numba import cuda

    nd, g, cg, kg, ks, s, d, mode, sp, p, dtype = args
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, g * cg) + sp).astype(dtype)
    w = rng.standard_normal((g * kg, cg) + ks).astype(dtype)
    b = rng.standard_normal(g * kg).astype(dtype)
    fn = fastconv.conv1d if nd == 1 else fastconv.conv2d
    y = fn(cuda.to_device(x), w, b, stride=s, padding=p, dilation=d, groups=g, padding_mode=mode)
    ref = conv_nd(x, w, b, stride=s, pad_lo=p, dilation=d, groups=g, mode=mode)
    assert_close(y.copy_to_host(), ref, dtype, terms=cg * int(np.prod(ks)) + 1,
                 scale=_scale(x, w, b, stride=s, pad_lo=p, dilation=d, groups=g, mode=mode))


@pytest.mark.parametrize("budget_channels", [1, 3, 8])
def test_channel_chunks_in_shared_memory(cuda, rng, budget_channels):
    from fastconv import _params
    from fastconv._cuda import _launch
    from fastconv._cuda import conv as cconv

    x = rng.standard_normal((1, 10, 5, 6))
    w = rng.standard_normal((5, 10, 3, 2))
    p = _params.conv_params(2, _params.array_meta(x), _params.array_meta(w), None, 1, 1, 1, 1,
                            "zeros")
    per = cconv._channel_bytes(p, _launch.tile_shape())
    with _launch.limits(shared_bytes=per * budget_channels):
        assert cconv.plan(p) == ("_conv_tiled", 4, budget_channels)
        y = fastconv.conv2d(cuda.to_device(x), w, padding=1).copy_to_host()
    ref = conv_nd(x, w, None, pad_lo=1)
    assert_close(y, ref, np.float64, terms=61, scale=_scale(x, w, None, pad_lo=1))
