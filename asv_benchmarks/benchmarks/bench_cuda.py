"""asv benchmarks: the CUDA backend on a real GPU (numba device arrays; torch CUDA peer).

Every ``setup`` raises ``NotImplementedError`` (asv: skipped) unless a real GPU
is usable -- never under the CUDA simulator -- and runs the op once, so JIT
compilation and the first host->device copies are not timed.  GPU work is
asynchronous: every timed call ends with a device synchronisation, so the
numbers are kernel time + launch overhead.
"""

import os

import numpy as np

import fastconv

from ._smoke import cases

# (function, input shape, weight shape or None, keyword arguments)
CASES = {
    "conv2d_3x3_64_56": ("conv2d", (8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1)),
    "conv2d_1x1_256_56": ("conv2d", (8, 256, 56, 56), (64, 256, 1, 1), dict()),
    "conv2d_3x3_s2_g32": ("conv2d", (8, 128, 28, 28), (128, 4, 3, 3),
                          dict(stride=2, padding=1, groups=32)),
    "depthwise_3x3_256_56": ("depthwise_conv2d", (8, 256, 56, 56), (256, 1, 3, 3),
                             dict(padding=1)),
    "conv1d_k31_4096": ("conv1d", (8, 16, 4096), (16, 16, 31), dict(padding=15)),
    "conv3d_3x3x3_16": ("conv3d", (2, 16, 16, 32, 32), (16, 16, 3, 3, 3), dict(padding=1)),
    "conv_transpose2d_k4s2": ("conv_transpose2d", (1, 256, 16, 16), (256, 128, 4, 4),
                              dict(stride=2, padding=1)),
    "max_pool2d_k3s2p1": ("max_pool2d", (8, 64, 112, 112), None,
                          dict(kernel_size=3, stride=2, padding=1)),
    "avg_pool2d_k3s2p1": ("avg_pool2d", (8, 64, 112, 112), None,
                          dict(kernel_size=3, stride=2, padding=1)),
    "bilinear_x2": ("interpolate", (8, 64, 64, 64), None,
                    dict(scale_factor=2, mode="bilinear")),
}
DTYPES = ["float32", "float64"]


def _cuda():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        raise NotImplementedError("the CUDA simulator is not benchmarked")
    try:
        from numba import cuda
    except Exception as e:
        raise NotImplementedError(f"numba.cuda unavailable: {e}")
    if not cuda.is_available():
        raise NotImplementedError("no CUDA GPU")
    return cuda


def _operands(case, dtype):
    name, xs, ws, kw = CASES[case]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(dtype)
    w = None if ws is None else rng.standard_normal(ws).astype(dtype)
    return name, x, w, dict(kw)


class TimeCuda:
    """fastconv on numba device arrays (weights already on the device)."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]
    timeout = 300

    def setup(self, case, dtype):
        cuda = self.cuda = _cuda()
        name, x, w, self.kw = _operands(case, dtype)
        self.f = getattr(fastconv, name)
        self.x = cuda.to_device(x)
        self.args = () if w is None else (cuda.to_device(w),)
        self.out = self.f(self.x, *self.args, **self.kw)
        cuda.synchronize()

    def time_fastconv(self, case, dtype):
        self.f(self.x, *self.args, **self.kw)
        self.cuda.synchronize()

    def time_fastconv_out(self, case, dtype):
        self.f(self.x, *self.args, out=self.out, **self.kw)
        self.cuda.synchronize()


class TimeCudaTorch:
    """torch.nn.functional on the same GPU (peer; skipped without torch CUDA)."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]
    timeout = 300

    def setup(self, case, dtype):
        _cuda()
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch not installed")
        if not torch.cuda.is_available():
            raise NotImplementedError("torch has no CUDA device")
        self.torch = torch
        name, x, w, kw = _operands(case, dtype)
        F = torch.nn.functional
        tx = torch.from_numpy(x).cuda()
        tw = None if w is None else torch.from_numpy(w).cuda()
        if name == "depthwise_conv2d":
            name, kw = "conv2d", dict(kw, groups=x.shape[1])
        fn = getattr(F, name)
        self.call = (lambda: fn(tx, tw, **kw)) if tw is not None else (lambda: fn(tx, **kw))
        self.call()
        torch.cuda.synchronize()

    def time_torch(self, case, dtype):
        self.call()
        self.torch.cuda.synchronize()


class _CudaStub:
    """An object exposing ``__cuda_array_interface__`` (never dereferenced)."""

    def __init__(self, shape, dtype):
        self.__cuda_array_interface__ = {
            "shape": tuple(shape), "typestr": np.dtype(dtype).str, "data": (0x1000, False),
            "version": 3, "strides": None, "stream": None,
        }


class TimeBackendUnavailable:
    """``fastconv.BackendUnavailableError``: how fast a CUDA operand is refused where no GPU is
    usable -- the price of code that tries the GPU and falls back to NumPy arrays.

    Runs only on machines without a usable GPU (elsewhere there is nothing to refuse) and
    never under the CUDA simulator.  The setup raises once, so the lazy ``numba.cuda``
    import is not timed.
    """

    def setup(self):
        if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
            raise NotImplementedError("the CUDA simulator accepts its own device arrays")
        self.x = _CudaStub((1, 8, 16, 16), np.float32)
        self.w = np.ones((8, 8, 3, 3), np.float32)
        try:
            fastconv.conv2d(self.x, self.w, padding=1)
        except fastconv.BackendUnavailableError:
            return
        raise NotImplementedError("a CUDA GPU is usable here: nothing is refused")

    def time_refuse_cuda_operand(self):
        try:
            fastconv.conv2d(self.x, self.w, padding=1)
        except fastconv.BackendUnavailableError:
            pass
