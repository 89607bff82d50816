"""Routing rules of the CUDA dispatcher, on simulator device arrays and CAI stubs."""

import subprocess
import sys

import numpy as np
import pytest

import fastconv
from fastconv import BackendUnavailableError


class _Dev:
    def __init__(self, i):
        self.id = i


class Stub:
    """A foreign CUDA array: only ``__cuda_array_interface__`` (and a CuPy-style ``device``)."""

    def __init__(self, shape, dtype=np.float32, device=0, ptr=0x10000, readonly=False):
        self.device = _Dev(device)
        self.__cuda_array_interface__ = {
            "shape": tuple(shape), "typestr": np.dtype(dtype).str, "data": (ptr, readonly),
            "version": 3, "strides": None, "stream": None,
        }


def test_result_is_a_simulator_device_array(cuda):
    x = cuda.to_device(np.ones((1, 1, 4, 4), np.float32))
    y = fastconv.conv2d(x, np.ones((2, 1, 2, 2), np.float32))
    assert getattr(y, "__cuda_ndarray__", False)
    assert y.shape == (1, 2, 3, 3) and y.dtype == np.float32
    np.testing.assert_array_equal(y.copy_to_host(), np.full((1, 2, 3, 3), 4, np.float32))


def test_host_input_with_device_weight_is_type_error(cuda):
    with pytest.raises(TypeError, match="weight is a CUDA array"):
        fastconv.conv2d(np.ones((1, 1, 3, 3)), cuda.to_device(np.ones((1, 1, 2, 2))))


def test_validation_before_any_kernel(cuda):
    x = cuda.to_device(np.ones((1, 4, 5, 5), np.float32))
    with pytest.raises(ValueError, match="groups=3 does not divide in_channels=4"):
        fastconv.conv2d(x, np.ones((3, 1, 3, 3), np.float32), groups=3)


def test_out_checks(cuda):
    x = cuda.to_device(np.ones((1, 1, 4, 4), np.float32))
    w = np.ones((2, 1, 2, 2), np.float32)
    with pytest.raises(TypeError, match="out is a host array"):
        fastconv.conv2d(x, w, out=np.empty((1, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"out has shape \(1, 2, 3, 4\), expected \(1, 2, 3, 3\)"):
        fastconv.conv2d(x, w, out=cuda.device_array((1, 2, 3, 4), np.float32))
    with pytest.raises(TypeError, match="out has dtype float64, expected float32"):
        fastconv.conv2d(x, w, out=cuda.device_array((1, 2, 3, 3), np.float64))
    big = cuda.device_array((1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="out overlaps input"):
        fastconv.conv2d(big[:, :1], np.ones((2, 1, 1, 1), np.float32), out=big[:, :, :, :])


def test_out_on_another_device_is_value_error(cuda):
    x = Stub((1, 1, 4, 4), device=0)
    out = Stub((1, 2, 3, 3), device=1, ptr=0x90000)
    with pytest.raises(ValueError, match="different CUDA devices"):
        fastconv.conv2d(x, np.ones((2, 1, 2, 2), np.float32), out=out)


def test_operands_on_two_devices_is_value_error(cuda):
    x = Stub((1, 1, 4, 4), device=0)
    w = Stub((2, 1, 2, 2), device=1, ptr=0x90000)
    with pytest.raises(ValueError, match=r"input on device 0, operand 1 on device 1"):
        fastconv.conv2d(x, w)


def test_readonly_out_is_value_error(cuda):
    x = Stub((1, 1, 4, 4))
    out = Stub((1, 2, 3, 3), ptr=0x90000, readonly=True)
    with pytest.raises(ValueError, match="out is read-only"):
        fastconv.conv2d(x, np.ones((2, 1, 2, 2), np.float32), out=out)


def test_foreign_cuda_array_under_simulator_is_backend_unavailable(cuda):
    with pytest.raises(BackendUnavailableError, match="simulator"):
        fastconv.conv2d(Stub((1, 1, 4, 4)), np.ones((2, 1, 2, 2), np.float32))
    assert issubclass(BackendUnavailableError, RuntimeError)


def test_stub_shapes_drive_validation(cuda):
    with pytest.raises(ValueError, match="weight.shape\\[1\\]=2"):
        fastconv.conv2d(Stub((1, 3, 4, 4)), np.ones((2, 2, 2, 2), np.float32))


def test_check_helpers_roundtrip(cuda, rng):
    from fastconv._cuda import _check

    assert _check.mode() == "simulator"
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    y = _check.run_on_cuda(fastconv.conv2d, x, w, padding=1)
    assert isinstance(y, np.ndarray) and y.shape == (1, 3, 5, 5)
    assert _check.compare(fastconv.conv2d, x, w, padding=1) < 1e-5
    out = np.empty((1, 3, 5, 5), np.float32)
    assert _check.run_on_cuda(fastconv.conv2d, x, w, padding=1, out=out,
                              device_operands="all") is out
    np.testing.assert_allclose(out, y, rtol=0, atol=1e-6)


def test_launch_limits_restore():
    from fastconv._cuda import _launch

    before = _launch.current()
    with _launch.limits(threads=8, tile=(2, 2), max_blocks=1, shared_bytes=64):
        assert _launch.grid_1d(100) == (1, 8)
        assert _launch.grid_tiles(9) == (1, (2, 2))
        assert _launch.shared_limit() == 64
    assert _launch.current() == before
    assert _launch.grid_1d(0)[0] == 1


def test_import_fastconv_stays_light():
    code = "import fastconv, sys; assert 'numba.cuda' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_wrap_for_device_patches_and_restores(cuda, rng):
    from fastconv import signal as fsig
    from fastconv._cuda import _check, _launch

    orig_conv, orig_corr = fastconv.conv2d, fsig.correlate
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    with _check.wrap_for_device():
        assert fastconv.conv2d is not orig_conv
        assert _launch.current()["tile"] == _check.SIM_LIMITS["tile"]
        y = fastconv.conv2d(x, w, padding=1)
        z = fsig.correlate(np.arange(5.0), np.ones(2))
        v, i = fastconv.max_pool2d(x, 2, return_indices=True)
    assert fastconv.conv2d is orig_conv and fsig.correlate is orig_corr
    assert isinstance(y, np.ndarray) and isinstance(z, np.ndarray) and isinstance(i, np.ndarray)
    np.testing.assert_allclose(y, orig_conv(x, w, padding=1), rtol=0, atol=1e-5)
    np.testing.assert_allclose(z, np.correlate(np.arange(5.0), np.ones(2), "full"))


# --------------------------------------------------------------------------
# library-specific paths (CuPy / torch / foreign CAI) with fake modules
# --------------------------------------------------------------------------


class _FakeCuda:
    """Records which numba stream constructor the dispatcher picked."""

    def external_stream(self, ptr):
        return ("external", ptr)

    def default_stream(self):
        return ("default",)

    def legacy_default_stream(self):
        return ("legacy",)

    def per_thread_default_stream(self):
        return ("per-thread",)

    def device_array(self, shape, dtype, stream=0):
        return ("numba", shape, np.dtype(dtype), stream)


def _fake_cupy(monkeypatch, ptr):
    import types

    cp = types.ModuleType("cupy")

    class ndarray:
        __cuda_array_interface__ = {"shape": (1,), "typestr": "<f4", "data": (1, False),
                                    "version": 3}

        def __init__(self, dev=0):
            self.device = _Dev(dev)

    class _Stream:
        def __init__(self, p):
            self.ptr = p

    class _Device:
        def __init__(self, i):
            self.i = i

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    cp.ndarray = ndarray
    cp.cuda = types.SimpleNamespace(get_current_stream=lambda: _Stream(ptr), Device=_Device)
    cp.empty = lambda shape, dtype: ("cupy", tuple(shape), np.dtype(dtype))
    monkeypatch.setitem(sys.modules, "cupy", cp)
    return cp


def _fake_torch(monkeypatch, ptr):
    import types

    torch = types.ModuleType("torch")

    class Tensor:
        requires_grad = False

        def __init__(self, index=0):
            self.device = types.SimpleNamespace(type="cuda", index=index)

    torch.Tensor = Tensor
    torch.float32, torch.float64 = "t.float32", "t.float64"
    torch.cuda = types.SimpleNamespace(
        current_stream=lambda device: types.SimpleNamespace(cuda_stream=ptr))
    torch.empty = lambda shape, dtype, device: ("torch", tuple(shape), dtype, device.index)
    monkeypatch.setitem(sys.modules, "torch", torch)
    return torch


def test_stream_and_output_follow_cupy(monkeypatch):
    from fastconv import _dispatch as d

    cp = _fake_cupy(monkeypatch, 0xABC)
    x = cp.ndarray(dev=1)
    fc = _FakeCuda()
    assert d._cuda_stream_for(x, fc, False, 1) == ("external", 0xABC)
    assert d._cuda_device_index(x, fc, False) == 1
    assert d._cuda_alloc_like(x, (2, 3), np.dtype(np.float32), fc, False, 1, None) == \
        ("cupy", (2, 3), np.dtype(np.float32))
    cp0 = _fake_cupy(monkeypatch, 0)
    assert d._cuda_stream_for(cp0.ndarray(), fc, False, 0) == ("default",)


def test_stream_and_output_follow_torch(monkeypatch):
    from fastconv import _dispatch as d

    torch = _fake_torch(monkeypatch, 0x1234)
    x = torch.Tensor(index=2)
    fc = _FakeCuda()
    assert d._cuda_stream_for(x, fc, False, 2) == ("external", 0x1234)
    assert d._cuda_device_index(x, fc, False) == 2
    assert d._cuda_alloc_like(x, (4,), np.dtype(np.float64), fc, False, 2, None) == \
        ("torch", (4,), "t.float64", 2)


def test_foreign_cai_stream_rules():
    from fastconv import _dispatch as d

    fc = _FakeCuda()
    s = Stub((2,))
    assert d._cuda_stream_for(s, fc, False, 0) == ("default",)
    for value, expect in ((1, ("legacy",)), (2, ("per-thread",)), (77, ("external", 77))):
        s.__cuda_array_interface__["stream"] = value
        assert d._cuda_stream_for(s, fc, False, 0) == expect
    assert d._cuda_alloc_like(s, (3,), np.dtype(np.float32), fc, False, 0, "S") == \
        ("numba", (3,), np.dtype(np.float32), "S")


def test_overlap_extents_of_foreign_arrays():
    from fastconv import _dispatch as d

    a = Stub((4, 4), ptr=1000)
    b = Stub((4,), ptr=1000 + 4 * 15)          # last element of a
    c = Stub((4,), ptr=1000 + 4 * 16)          # just past a
    assert d._cuda_overlap(a, b) and not d._cuda_overlap(a, c)
    a.__cuda_array_interface__["strides"] = (32, 4)   # rows of a 8-wide buffer
    assert d._cuda_extent(a) == (1000, 1000 + 3 * 32 + 3 * 4 + 4)


def test_empty_batch_and_integer_device_input(cuda):
    y = fastconv.conv2d(cuda.to_device(np.ones((0, 1, 4, 4), np.float32)),
                        np.ones((2, 1, 2, 2), np.float32))
    assert y.shape == (0, 2, 3, 3)
    xi = np.arange(16, dtype=np.int32).reshape(1, 1, 4, 4)
    y = fastconv.conv2d(cuda.to_device(xi), np.ones((1, 1, 2, 2), np.float32))
    assert y.dtype == np.float64                 # int input computes in float64, as on the CPU
    np.testing.assert_array_equal(y.copy_to_host(), fastconv.conv2d(xi, np.ones((1, 1, 2, 2),
                                                                               np.float32)))
