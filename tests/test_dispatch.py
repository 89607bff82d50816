"""Backend selection by array type and the light import."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv
import reference
from fastconv import _dispatch


class FakeCudaArray:
    """Stands in for a device array: exposes only __cuda_array_interface__."""

    def __init__(self, shape, typestr="<f4"):
        self.__cuda_array_interface__ = {
            "shape": shape, "typestr": typestr, "data": (0, False), "version": 3, "strides": None,
        }


def test_import_is_light():
    code = ("import sys, time; t=time.perf_counter(); import fastconv; dt=time.perf_counter()-t;"
            "assert 'numba.cuda' not in sys.modules, 'numba.cuda imported';"
            "assert 'scipy' not in sys.modules, 'scipy imported';"
            "print(dt)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 5.0  # the 0.5 s target is tracked by asv, not a timed test


def test_first_call_keeps_torchs_thread_count():
    # Numba's OpenMP pool, started by the first parallel kernel, used to reset the
    # libgomp that torch loaded (and had started with a torch call) to
    # NUMBA_NUM_THREADS (numba#9387).
    pytest.importorskip("torch")
    code = ("import torch; torch.set_num_threads(1)\n"
            "torch.nn.functional.conv2d(torch.ones(1, 4, 8, 8), torch.ones(4, 4, 3, 3))\n"
            "import numpy as np, numba, fastconv\n"
            "x = np.ones((1, 4, 8, 8), np.float32); w = np.ones((4, 4, 3, 3), np.float32)\n"
            "fastconv.conv2d(x, w, padding=1)\n"
            "fastconv.signal.correlate(np.ones(64), np.ones(5))\n"
            "print(torch.get_num_threads(), numba.get_num_threads())")
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    assert out.stdout.split() == ["1", "2"]


def test_backend_of_numpy_and_lists():
    backend, ops = _dispatch.operands(input=[[1.0]], weight=np.ones(2), bias=None)
    assert backend == "cpu" and isinstance(ops["input"], np.ndarray) and ops["bias"] is None


def test_cuda_input_routes_to_cuda_backend():
    assert _dispatch.is_cuda_array(FakeCudaArray((1, 1, 4, 4)))
    backend, ops = _dispatch.operands(input=FakeCudaArray((1, 1, 4, 4)), weight=np.ones((1, 1, 2, 2)))
    assert backend == "cuda"
    assert isinstance(ops["weight"], np.ndarray)  # host weights are copied later by the backend


def test_cuda_operand_with_host_input_is_type_error():
    with pytest.raises(TypeError, match="weight is a CUDA array but input is a host"):
        fastconv.conv2d(np.ones((1, 1, 4, 4)), FakeCudaArray((1, 1, 2, 2)))


def test_meta_reads_interface():
    from fastconv._params import array_meta

    assert array_meta(FakeCudaArray((2, 3), "<f8")) == ((2, 3), np.dtype(np.float64))


def test_torch_requires_grad_is_type_error():
    torch = pytest.importorskip("torch")
    x = torch.ones((1, 1, 4, 4), requires_grad=True)
    with pytest.raises(TypeError, match=r"detach\(\)"):
        fastconv.conv2d(x, np.ones((1, 1, 2, 2)))


def test_torch_cpu_tensor_is_host():
    torch = pytest.importorskip("torch")
    y = fastconv.conv2d(torch.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2), np.float32))
    assert isinstance(y, np.ndarray) and y.dtype == np.float32


# -- the short path for repeated host calls (HostPlans) -----------------------------------


def _xw(dt=np.float32):
    r = np.random.default_rng(5)
    return r.standard_normal((1, 4, 9, 9)).astype(dt), r.standard_normal((6, 4, 3, 3)).astype(dt)


def test_host_plan_hit_gives_the_full_path_result():
    from fastconv import conv as conv_mod

    x, w = _xw()
    b = np.arange(6, dtype=np.float32)
    conv_mod._plans.cache.clear()
    first = fastconv.conv2d(x, w, b, padding=1)  # full path, remembered
    key = conv_mod._plans.key(2, (x, w, b), (1, 1, 1, 1, "zeros"))
    assert key in conv_mod._plans.cache
    again = fastconv.conv2d(x, w, b, padding=1)  # short path
    np.testing.assert_array_equal(first, again)
    out = np.full_like(first, np.nan)
    assert fastconv.conv2d(x, w, b, padding=1, out=out) is out
    np.testing.assert_array_equal(out, first)
    # non-contiguous out: written through a temporary, as on the full path
    big = np.zeros(first.shape[:-1] + (2 * first.shape[-1],), np.float32)
    fastconv.conv2d(x, w, b, padding=1, out=big[..., ::2])
    np.testing.assert_array_equal(big[..., ::2], first)


@pytest.mark.parametrize("bad", [True, 1.0, np.int64(1), [1, 1]])
def test_host_plan_not_served_for_non_plain_arguments(bad):
    """A bool/float/NumPy scalar/list compares equal to a cached int yet validates on its own."""
    from fastconv import conv as conv_mod

    x, w = _xw()
    fastconv.conv2d(x, w, stride=1)
    good = conv_mod._plans.key(2, (x, w, None), (1, 0, 1, 1, "zeros"))
    assert good in conv_mod._plans.cache
    k = conv_mod._plans.key(2, (x, w, None), (bad, 0, 1, 1, "zeros"))
    assert k is None or k != good
    if isinstance(bad, (bool, float)):
        with pytest.raises(TypeError, match="stride"):
            fastconv.conv2d(x, w, stride=bad)
    else:
        assert fastconv.conv2d(x, w, stride=bad).shape == (1, 6, 7, 7)


def test_host_plan_keys_on_dtype_and_shape_and_rejects_bad_dtypes():
    x, w = _xw()
    fastconv.conv2d(x, w)
    with pytest.raises(TypeError, match="input has dtype bool"):
        fastconv.conv2d(x > 0, w)
    y64 = fastconv.conv2d(x.astype(np.float64), w.astype(np.float64))
    assert y64.dtype == np.float64
    with pytest.raises(ValueError, match="groups"):
        fastconv.conv2d(x[:, :3], w)


def test_host_plan_runs_the_current_kernel(monkeypatch):
    """Switching a kernel off (tests, `bench` generic rows) still works after a cached call."""
    from fastconv._cpu import conv as cpu

    x, w = _xw()
    fastconv.conv2d(x, w)
    fastconv.conv2d(x, w)
    calls = []
    real = cpu.conv
    monkeypatch.setattr(cpu, "conv", lambda *a, **k: calls.append(1) or real(*a, **k))
    fastconv.conv2d(x, w)
    assert calls == [1]


def test_host_plan_skips_other_array_types():
    torch = pytest.importorskip("torch")
    from fastconv import conv as conv_mod

    x, w = _xw()
    ref = fastconv.conv2d(x, w)
    assert conv_mod._plans.key(2, (torch.from_numpy(x), w, None), (1, 0, 1, 1, "zeros")) is None
    res = fastconv.conv2d(torch.from_numpy(x), w)
    np.testing.assert_array_equal(np.asarray(res), ref)


def test_host_plan_conv_transpose():
    from fastconv import conv_transpose as ct_mod

    x, w = _xw()
    w = np.ascontiguousarray(w.transpose(1, 0, 2, 3))  # (C_in, C_out, kh, kw)
    a = fastconv.conv_transpose2d(x, w, stride=2, padding=1)
    key = ct_mod._plans.key(2, (x, w, None), (2, 1, 0, 1, 1, None))
    assert key in ct_mod._plans.cache
    np.testing.assert_array_equal(fastconv.conv_transpose2d(x, w, stride=2, padding=1), a)
    with pytest.raises(TypeError):
        fastconv.conv_transpose2d(x, w, stride=2.0, padding=1)


def test_host_plan_cache_is_bounded_and_cpu_only():
    plans = _dispatch.HostPlans(maxsize=3)
    for i in range(7):
        plans.remember(("k", i), i, _dispatch.CPU)
        assert len(plans.cache) <= 3
    plans.remember(None, 1, _dispatch.CPU)
    plans.remember(("gpu",), 1, _dispatch.CUDA)
    assert None not in plans.cache and ("gpu",) not in plans.cache
    assert plans.get(None) is None


def test_host_plan_keys_keep_bools_and_floats_apart_from_ints():
    plans = _dispatch.HostPlans()
    x = np.ones((2, 3), np.float32)
    k_int = plans.key("t", (x,), (1, 2, (1, 2), "s", None))
    assert k_int == ("t", (2, 3), np.dtype(np.float32), 1, 2, (1, 2), "s", None)
    for other in [(True, 2, (1, 2), "s", None), (1.0, 2, (1, 2), "s", None)]:
        k = plans.key("t", (x,), other)
        assert k is not None and k != k_int and hash(k) is not None
    assert plans.key("t", (x,), (True,)) != plans.key("t", (x,), (False,))
    assert plans.key("t", (x,), (2.0,)) == plans.key("t", (x,), (2.0,))
    for bad in [np.int64(1), [1, 2], (1, True), (1, 2.0), np.float32(2)]:
        assert plans.key("t", (x,), (bad,)) is None
    assert plans.key("t", (x.tolist(),), ()) is None
    assert plans.key("t", (np.asarray(x).view(np.matrix),), ()) is None  # subclasses


def test_host_plans_pool_interpolate_depthwise_separable():
    """Each family's short path gives the full path's result and keeps its errors."""
    import importlib

    from fastconv import conv as conv_mod, pool as pool_mod

    interp_mod = importlib.import_module("fastconv.interpolate")  # the name is the function

    r = np.random.default_rng(2)
    x = r.standard_normal((2, 4, 10, 10)).astype(np.float32)
    dw = r.standard_normal((4, 1, 3, 3)).astype(np.float32)
    pw = r.standard_normal((6, 4, 1, 1)).astype(np.float32)
    calls = [
        (pool_mod, lambda: fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)),
        (pool_mod, lambda: fastconv.max_pool2d(x, 2, ceil_mode=True)),
        (pool_mod, lambda: fastconv.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
        (pool_mod, lambda: fastconv.adaptive_avg_pool2d(x, 3)),
        (pool_mod, lambda: fastconv.adaptive_max_pool2d(x, (3, 4), return_indices=True)),
        (interp_mod, lambda: fastconv.interpolate(x, scale_factor=2.0, mode="bilinear")),
        (interp_mod, lambda: fastconv.interpolate(x, size=(7, 13), mode="nearest")),
        (conv_mod, lambda: fastconv.depthwise_conv2d(x, dw, padding=1)),
        (conv_mod, lambda: fastconv.separable_conv2d(x, dw, pw, padding=1)),
    ]
    for mod, call in calls:
        mod._plans.cache.clear()
        first = call()
        assert mod._plans.cache, call  # remembered
        again = call()
        for a, b in zip(first if isinstance(first, tuple) else (first,),
                        again if isinstance(again, tuple) else (again,)):
            np.testing.assert_array_equal(a, b)
    # errors still raised after a cached call with similar arguments
    with pytest.raises(TypeError):
        fastconv.max_pool2d(x, 3, 2, 1, return_indices=1)
    with pytest.raises(TypeError):
        fastconv.max_pool2d(x, 3.0, 2, 1, return_indices=True)
    with pytest.raises(ValueError):
        fastconv.adaptive_avg_pool2d(x, -1)


def test_params_hash_is_cached_and_not_pickled():
    import pickle

    from fastconv import _params

    x, w = _xw()
    p = _params.conv_params(2, (x.shape, x.dtype), (w.shape, w.dtype), None, 1, 1, 1, 1, "zeros")
    q = _params.conv_params(2, (x.shape, x.dtype), (w.shape, w.dtype), None, 1, 1, 1, 1, "zeros")
    assert p is not q and p == q and hash(p) == hash(q)
    assert p.__dict__["_hash"] == hash(p)
    r = pickle.loads(pickle.dumps(p))
    assert "_hash" not in r.__dict__ and r == p and hash(r) == hash(p)
    other = _params.conv_params(2, (x.shape, x.dtype), (w.shape, w.dtype), None, 1, 0, 1, 1,
                                "zeros")
    assert other != p and {p: 1}.get(other) is None


def test_num_threads_follows_numba():
    import threading

    import numba

    from fastconv._cpu._common import num_threads

    saved = numba.get_num_threads()
    try:
        for n in range(1, numba.config.NUMBA_NUM_THREADS + 1):
            numba.set_num_threads(n)
            assert num_threads() == numba.get_num_threads() == n
        numba.set_num_threads(1)
        seen = []
        t = threading.Thread(target=lambda: seen.append((num_threads(), numba.get_num_threads())))
        t.start()
        t.join()
        assert seen[0][0] == seen[0][1]  # thread-local, as Numba's own
    finally:
        numba.set_num_threads(saved)


# --- the short path of repeated host calls (HostPlans.runner / conv_simd.runner) ---

SHORT_CASES = [
    ((2, 8, 9, 11), (12, 8, 3, 3), dict(padding=1)),
    ((1, 8, 10, 10), (8, 4, 3, 3), dict(padding=1, groups=2)),
    ((1, 6, 12, 13), (4, 6, 3, 3), dict(stride=2, dilation=2, padding=2)),
    ((2, 16, 7, 7), (24, 16, 1, 1), {}),
    ((8, 9, 9), (8, 8, 3, 3), dict(padding="same")),  # unbatched
    ((1, 4, 6, 6, 6), (4, 4, 3, 3, 3), dict(padding=1)),
    ((2, 8, 40), (8, 8, 5), dict(padding=2, padding_mode="reflect")),
]


def _short_key(x, w, b, kw):
    from fastconv import conv as conv_mod

    nd = w.ndim - 2
    args = (kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1),
            kw.get("groups", 1), kw.get("padding_mode", "zeros"))
    return conv_mod._plans, conv_mod._plans.key(nd, (x, w, b), args)


def _short_operands(xs, ws, dtype, bias):
    r = np.random.default_rng(11)
    x = r.standard_normal(xs).astype(dtype)
    w = r.standard_normal(ws).astype(dtype)
    return x, w, (r.standard_normal(ws[0]).astype(dtype) if bias else None)


@pytest.mark.parametrize("xs, ws, kw", SHORT_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [False, True])
def test_short_path_gives_the_full_path_result(xs, ws, kw, dtype, bias):
    x, w, b = _short_operands(xs, ws, dtype, bias)
    copies = [None if a is None else a.copy() for a in (x, w, b)]
    fn = getattr(fastconv, f"conv{w.ndim - 2}d")
    plans, key = _short_key(x, w, b, kw)
    plans.fast.pop(key, None)
    full = fn(x, w, b, **kw)  # the full path, which stores the runner
    run = plans.runner(key)
    assert callable(run)
    direct = run(x, w, b, None)  # served, not declined
    assert direct is not None
    np.testing.assert_array_equal(direct, full)
    np.testing.assert_array_equal(fn(x, w, b, **kw), full)
    out = np.full_like(full, np.nan)
    assert fn(x, w, b, **kw, out=out) is out
    np.testing.assert_array_equal(out, full)
    for a, c in zip((x, w, b), copies):
        if a is not None:
            np.testing.assert_array_equal(a, c)  # inputs are never modified
    bl = None if b is None else b.astype(np.float64)
    xb = x if x.ndim == w.ndim else x[None]  # unbatched: the oracle takes a batch
    ref = reference.conv_nd(xb.astype(np.float64), w.astype(np.float64), bl,
                            **_ref_kwargs(x, w, kw)).reshape(full.shape)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(full, ref, rtol=tol, atol=tol * np.abs(ref).max())


def _ref_kwargs(x, w, kw):
    nd = w.ndim - 2
    pad = kw.get("padding", 0)
    if pad == "same":
        d = kw.get("dilation", 1)
        tot = [d * (k - 1) for k in w.shape[2:]]
        lo, hi = tuple(t // 2 for t in tot), tuple(t - t // 2 for t in tot)
    else:
        lo = hi = (pad,) * nd
    return dict(stride=kw.get("stride", 1), pad_lo=lo, pad_hi=hi, dilation=kw.get("dilation", 1),
                groups=kw.get("groups", 1), mode=kw.get("padding_mode", "zeros"))


def test_short_path_declines_what_the_full_path_must_handle(monkeypatch):
    x, w, b = _short_operands((1, 8, 9, 9), (8, 8, 3, 3), np.float32, True)
    kw = dict(padding=1)
    plans, key = _short_key(x, w, b, kw)
    full = fastconv.conv2d(x, w, b, **kw)
    run = plans.runner(key)
    assert run(x, w, b, None) is not None
    # a non-contiguous input of the same shape and dtype (same cache key)
    xs = np.zeros((1, 8, 9, 18), np.float32)[..., ::2]
    xs[...] = x
    assert run(xs, w, b, None) is None
    np.testing.assert_array_equal(fastconv.conv2d(xs, w, b, **kw), full)
    # read-only operands (another Numba type)
    xr = x.copy()
    xr.flags.writeable = False
    assert run(xr, w, b, None) is None
    np.testing.assert_array_equal(fastconv.conv2d(xr, w, b, **kw), full)
    # a non-contiguous out: written through a temporary by the full path
    big = np.zeros((1, 8, 9, 18), np.float32)
    assert run(x, w, b, big[..., ::2]) is None
    fastconv.conv2d(x, w, b, **kw, out=big[..., ::2])
    np.testing.assert_array_equal(big[..., ::2], full)
    # outs the full path rejects: its errors, not the short path's silence
    with pytest.raises(ValueError, match="overlaps"):
        fastconv.conv2d(x, w, b, **kw, out=x)
    with pytest.raises(TypeError, match="dtype"):
        fastconv.conv2d(x, w, b, **kw, out=np.empty(full.shape, np.float64))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        fastconv.conv2d(x, w, b, **kw, out=full.tolist())
    with pytest.raises(ValueError, match="shape"):
        fastconv.conv2d(x, w, b, **kw, out=np.empty((1, 8, 9, 8), np.float32))
    # a kernel switched off after the runner was made
    from fastconv._cpu import conv_simd

    monkeypatch.setattr(conv_simd, "supported", lambda p: False)
    assert run(x, w, b, None) is None
    np.testing.assert_allclose(fastconv.conv2d(x, w, b, **kw), full, rtol=1e-5, atol=1e-4)


def test_short_path_declines_after_a_thread_count_change():
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    x, w, b = _short_operands((1, 8, 9, 9), (8, 8, 3, 3), np.float32, False)
    plans, key = _short_key(x, w, b, {})
    n = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        plans.fast.pop(key, None)
        full = fastconv.conv2d(x, w)
        run = plans.runner(key)
        assert run(x, w, None, None) is not None
        numba.set_num_threads(1)
        assert run(x, w, None, None) is None
        np.testing.assert_array_equal(fastconv.conv2d(x, w), full)
        run1 = plans.runner(key)  # the declined call made one for this thread count
        assert run1 is not run and run1(x, w, None, None) is not None
        np.testing.assert_array_equal(fastconv.conv2d(x, w), full)
        numba.set_num_threads(2)
        assert run1(x, w, None, None) is None
        fastconv.conv2d(x, w)
        assert plans.runner(key)(x, w, None, None) is not None
    finally:
        numba.set_num_threads(n)


def test_short_path_not_made_for_generic_kernels_or_conversions():
    from fastconv import conv as conv_mod

    x, w, _ = _short_operands((1, 8, 9, 9), (8, 1, 3, 3), np.float32, False)
    fastconv.conv2d(x, w, groups=8)  # depthwise: its own kernel, no short path
    assert conv_mod._plans.runner(_short_key(x, w, None, dict(groups=8))[1]) is False
    x16 = x.astype(np.float16)  # converted to float32 on every call
    w8 = np.ones((4, 8, 3, 3), np.float32)
    fastconv.conv2d(x16, w8)
    assert conv_mod._plans.runner(_short_key(x16, w8, None, {})[1]) is False


def test_short_paths_are_bounded():
    plans = _dispatch.HostPlans(maxsize=2)
    for i in range(5):
        key = ("t", i)
        plans.remember(key, object(), _dispatch.CPU)
        plans.learn(key, "pool", None, ())  # the pool module has no runner: False
        assert plans.runner(key) is False and len(plans.fast) <= 2
    plans.learn(("never validated",), "pool", None, ())
    assert plans.runner(("never validated",)) is None


def test_short_path_from_several_python_threads():
    # each Python thread has its own scratch; the runner's cached one is its maker's
    from concurrent.futures import ThreadPoolExecutor

    r = np.random.default_rng(3)
    w = r.standard_normal((16, 8, 3, 3)).astype(np.float32)
    xs = [r.standard_normal((1, 8, 20, 20)).astype(np.float32) for _ in range(8)]
    expect = [fastconv.conv2d(x, w, padding=1) for x in xs]  # also makes the runner
    plans, key = _short_key(xs[0], w, None, dict(padding=1))
    assert callable(plans.runner(key))

    def work(i):
        return [fastconv.conv2d(xs[(i + j) % 8], w, padding=1) for j in range(40)]

    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(work, range(4)))
    for i, res in enumerate(results):
        for j, y in enumerate(res):
            np.testing.assert_array_equal(y, expect[(i + j) % 8])
