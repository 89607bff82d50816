"""CUDA backend on real hardware (``gpu`` marker) and its behaviour without one.

* ``gpu`` tests: CuPy and torch CUDA inputs, results compared with
  ``torch.nn.functional`` on the device; output type/device/stream rules.
  Skipped cleanly when no GPU (or the library) is present.
* Without a GPU (and without the simulator) a CUDA input must raise
  ``fastconv.BackendUnavailableError`` with a clear message; importing
  fastconv must not import ``numba.cuda``.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def _gpu_available():
    if SIM:
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:
        return False


HAVE_GPU = _gpu_available()
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason="needs a CUDA GPU")


class _CAIStub:
    """Looks like a CUDA array (``__cuda_array_interface__``) -- no memory behind it."""

    def __init__(self, shape, dtype=np.float32):
        self.__cuda_array_interface__ = {
            "shape": tuple(shape), "typestr": np.dtype(dtype).str, "data": (0x1000, False),
            "version": 3, "strides": None, "stream": None,
        }


# --------------------------------------------------------------------------
# no GPU: clear errors, light import
# --------------------------------------------------------------------------


def test_import_does_not_load_numba_cuda():
    code = "import fastconv, sys; assert 'numba.cuda' not in sys.modules, 'numba.cuda imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(HAVE_GPU or SIM, reason="a GPU (or the simulator) is present")
def test_cuda_input_without_gpu_is_backend_unavailable():
    x = _CAIStub((1, 1, 4, 4))
    with pytest.raises(fastconv.BackendUnavailableError, match="CUDA") as ei:
        fastconv.conv2d(x, np.ones((1, 1, 2, 2), np.float32))
    assert isinstance(ei.value, RuntimeError)
    msg = str(ei.value)
    assert "NUMBA_ENABLE_CUDASIM" in msg or "fastconv[cuda12]" in msg


def test_validation_precedes_backend_checks():
    x = _CAIStub((1, 4, 5, 5))
    with pytest.raises(ValueError, match="groups=3 does not divide in_channels=4"):
        fastconv.conv2d(x, np.ones((3, 1, 3, 3), np.float32), groups=3)


def test_numpy_calls_never_touch_cuda():
    code = ("import numpy as np, fastconv, sys; "
            "fastconv.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))); "
            "assert 'numba.cuda' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------
# real hardware
# --------------------------------------------------------------------------


def _torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    return torch


def _cupy():
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("CuPy sees no device")
    except Exception as e:  # pragma: no cover
        pytest.skip(f"CuPy has no usable device: {e}")
    return cp


TOL = {np.float32: 2e-4, np.float64: 1e-10}


@pytest.mark.gpu
@needs_gpu
@pytest.mark.filterwarnings("ignore::Warning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_conv_family_matches_torch_on_device(dtype):
    torch = _torch_cuda()
    F = torch.nn.functional
    tdt = getattr(torch, np.dtype(dtype).name)
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(2, 6, 17, 19, device="cuda", dtype=tdt, generator=g)
    w = torch.randn(8, 3, 3, 3, device="cuda", dtype=tdt, generator=g)
    b = torch.randn(8, device="cuda", dtype=tdt, generator=g)
    y = fastconv.conv2d(x, w, b, stride=(1, 2), padding=1, dilation=(2, 1), groups=2)
    assert isinstance(y, torch.Tensor) and y.device == x.device and y.dtype == tdt
    torch.testing.assert_close(y, F.conv2d(x, w, b, (1, 2), 1, (2, 1), 2), rtol=0,
                               atol=TOL[dtype] * 30)
    y = fastconv.conv2d(x, w[:, :, :2], padding="same", groups=2, padding_mode="reflect")
    ref = F.conv2d(F.pad(x, (1, 1, 0, 1), mode="reflect"), w[:, :, :2], groups=2)
    torch.testing.assert_close(y, ref, rtol=0, atol=TOL[dtype] * 30)
    dw = torch.randn(12, 1, 3, 3, device="cuda", dtype=tdt, generator=g)
    torch.testing.assert_close(fastconv.depthwise_conv2d(x, dw, None, 2, 1),
                               F.conv2d(x, dw, None, 2, 1, 1, 6), rtol=0, atol=TOL[dtype] * 30)
    x3 = torch.randn(1, 2, 5, 6, 7, device="cuda", dtype=tdt, generator=g)
    w3 = torch.randn(3, 2, 3, 3, 3, device="cuda", dtype=tdt, generator=g)
    torch.testing.assert_close(fastconv.conv3d(x3, w3, padding=1),
                               F.conv3d(x3, w3, padding=1), rtol=0, atol=TOL[dtype] * 100)
    wt = torch.randn(6, 4, 4, 4, device="cuda", dtype=tdt, generator=g)
    torch.testing.assert_close(fastconv.conv_transpose2d(x, wt, stride=2, padding=1),
                               F.conv_transpose2d(x, wt, stride=2, padding=1), rtol=0,
                               atol=TOL[dtype] * 100)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.filterwarnings("ignore::Warning")
def test_torch_pool_and_interpolate_on_device():
    torch = _torch_cuda()
    F = torch.nn.functional
    x = torch.randn(2, 3, 15, 16, device="cuda")
    v, i = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    tv, ti = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert torch.equal(v, tv) and torch.equal(i, ti)
    torch.testing.assert_close(fastconv.avg_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1))
    torch.testing.assert_close(fastconv.interpolate(x, scale_factor=2, mode="bilinear"),
                               F.interpolate(x, scale_factor=2, mode="bilinear"))


@pytest.mark.gpu
@needs_gpu
@pytest.mark.filterwarnings("ignore::Warning")
def test_torch_out_stream_and_errors():
    torch = _torch_cuda()
    x = torch.randn(1, 2, 8, 8, device="cuda")
    w = np.ones((3, 2, 3, 3), np.float32)            # host weight: copied to the device
    out = torch.empty(1, 3, 6, 6, device="cuda")
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        r = fastconv.conv2d(x, w, out=out)
    s.synchronize()
    assert r is out
    torch.testing.assert_close(out, torch.nn.functional.conv2d(x, torch.from_numpy(w).cuda()))
    with pytest.raises(TypeError, match="detach"):
        fastconv.conv2d(x.requires_grad_(), w)
    with pytest.raises(ValueError, match="out has shape"):
        fastconv.conv2d(x.detach(), w, out=torch.empty(1, 3, 5, 5, device="cuda"))
    with pytest.raises(TypeError, match="out is a host array"):
        fastconv.conv2d(x.detach(), w, out=np.empty((1, 3, 6, 6), np.float32))
    if torch.cuda.device_count() > 1:
        with pytest.raises(ValueError, match="different CUDA devices"):
            fastconv.conv2d(x.detach(), torch.from_numpy(w).to("cuda:1"))


@pytest.mark.gpu
@needs_gpu
@pytest.mark.filterwarnings("ignore::Warning")
def test_cupy_in_cupy_out():
    cp = _cupy()
    rng = np.random.default_rng(0)
    xh = rng.standard_normal((1, 3, 9, 10)).astype(np.float32)
    wh = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    x = cp.asarray(xh)
    y = fastconv.conv2d(x, wh, padding=1)
    assert isinstance(y, cp.ndarray) and y.device.id == x.device.id
    np.testing.assert_allclose(cp.asnumpy(y), fastconv.conv2d(xh, wh, padding=1), rtol=0,
                               atol=1e-4)
    with cp.cuda.Stream(non_blocking=True) as s:
        y2 = fastconv.conv2d(x, cp.asarray(wh), padding=1)
    s.synchronize()
    np.testing.assert_allclose(cp.asnumpy(y2), cp.asnumpy(y), rtol=0, atol=0)
    from fastconv import signal as fs
    a = cp.asarray(rng.standard_normal((20, 21)))
    k = rng.standard_normal((3, 4))
    from scipy import signal as ss
    np.testing.assert_allclose(cp.asnumpy(fs.correlate2d(a, k, boundary="wrap")),
                               ss.correlate2d(cp.asnumpy(a), k, boundary="wrap"), atol=1e-12)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.filterwarnings("ignore::Warning")
def test_numba_device_array_in_numba_out():
    from numba import cuda

    x = cuda.to_device(np.ones((1, 1, 5, 5), np.float32))
    y = fastconv.conv2d(x, np.ones((2, 1, 3, 3), np.float32))
    assert isinstance(y, type(x))
    np.testing.assert_array_equal(y.copy_to_host(), np.full((1, 2, 3, 3), 9, np.float32))
