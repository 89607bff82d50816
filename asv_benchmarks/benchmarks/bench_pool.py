"""asv benchmarks: pooling (fastconv vs torch.nn.functional on the CPU).

Every ``setup`` runs the op once so Numba compilation (or loading the cache)
is never timed.  The torch peer raises ``NotImplementedError`` in ``setup``
when torch is not importable, which asv reports as skipped.  Pooling is
memory-bound: ``time_fastconv_out`` reuses a preallocated output.
"""

import numpy as np

import fastconv

from ._smoke import cases

# (function name, input shape, keyword arguments)
CASES = {
    # ResNet stem: the speed targets (>= 10x torch NCHW max, >= 5x avg)
    "max2d_k3s2p1_resnet": ("max_pool2d", (8, 64, 112, 112),
                            dict(kernel_size=3, stride=2, padding=1)),
    "avg2d_k3s2p1_resnet": ("avg_pool2d", (8, 64, 112, 112),
                            dict(kernel_size=3, stride=2, padding=1)),
    "max2d_k2s2": ("max_pool2d", (8, 64, 56, 56), dict(kernel_size=2)),
    "max2d_k3s1p1_idx": ("max_pool2d", (2, 64, 56, 56),
                         dict(kernel_size=3, stride=1, padding=1, return_indices=True)),
    "avg2d_k2_ceil_excl": ("avg_pool2d", (8, 64, 55, 55),
                           dict(kernel_size=2, ceil_mode=True, count_include_pad=False)),
    "max1d_k4s2": ("max_pool1d", (16, 64, 4096), dict(kernel_size=4, stride=2, padding=1)),
    "avg3d_k2": ("avg_pool3d", (2, 32, 16, 64, 64), dict(kernel_size=2)),
    "max3d_k3s2p1": ("max_pool3d", (2, 32, 16, 64, 64), dict(kernel_size=3, stride=2, padding=1)),
    "avg1d_k3s2p1": ("avg_pool1d", (16, 64, 4096), dict(kernel_size=3, stride=2, padding=1)),
    "adaptive_avg_7x7": ("adaptive_avg_pool2d", (8, 512, 14, 14), dict(output_size=7)),
    "adaptive_max_7x7": ("adaptive_max_pool2d", (8, 512, 14, 14), dict(output_size=7)),
}
DTYPES = ["float32", "float64"]
FLOAT64_CASES = ("max2d_k3s2p1_resnet", "avg2d_k3s2p1_resnet")


def _setup(case, dtype):
    if dtype == "float64" and case not in FLOAT64_CASES:
        raise NotImplementedError("float64 is benchmarked on a few cases only")
    name, shape, kw = CASES[case]
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    return name, x, dict(kw)


class TimePool:
    """fastconv: a fresh output per call, and ``out=`` a preallocated one."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        name, self.x, self.kw = _setup(case, dtype)
        self.f = getattr(fastconv, name)
        self.out = self.f(self.x, **self.kw)

    def time_fastconv(self, case, dtype):
        self.f(self.x, **self.kw)

    def time_fastconv_out(self, case, dtype):
        self.f(self.x, out=self.out, **self.kw)


class TimePoolTorch:
    """torch.nn.functional on the same data, same thread count as Numba (peer)."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        name, x, self.kw = _setup(case, dtype)
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed") from None
        import numba

        torch.set_num_threads(numba.get_num_threads())
        self.torch = torch
        self.x = torch.from_numpy(x)
        self.f = getattr(torch.nn.functional, name)
        with torch.no_grad():
            self.f(self.x, **self.kw)

    def time_torch(self, case, dtype):
        with self.torch.no_grad():
            self.f(self.x, **self.kw)
