"""asv benchmarks: interpolate (fastconv vs torch.nn.functional.interpolate on the CPU).

Every ``setup`` runs the op once so Numba compilation (or loading the cache)
is never timed.  The torch peer raises ``NotImplementedError`` in ``setup``
when torch is not importable.  Resampling is memory-bound and page faults are
expensive on small VMs: ``time_fastconv_out`` reuses a preallocated output.
"""

import numpy as np

import fastconv

from ._smoke import cases

# (input shape, keyword arguments)
CASES = {
    # speed targets: >= 3x torch (1 thread) and >= 1.5x torch
    "bilinear_x2_1x3x1024": ((1, 3, 1024, 1024), dict(scale_factor=2, mode="bilinear")),
    "bilinear_x2_8x64x64": ((8, 64, 64, 64), dict(scale_factor=2, mode="bilinear")),
    "bilinear_ac_x2_8x64x64": ((8, 64, 64, 64),
                               dict(scale_factor=2, mode="bilinear", align_corners=True)),
    "bilinear_down_0p37": ((1, 3, 1024, 1024), dict(scale_factor=0.37, mode="bilinear")),
    "bicubic_x2_1x3x512": ((1, 3, 512, 512), dict(scale_factor=2, mode="bicubic")),
    "nearest_x2_8x64x64": ((8, 64, 64, 64), dict(scale_factor=2, mode="nearest")),
    "nearest_exact_1p5": ((8, 64, 64, 64), dict(scale_factor=1.5, mode="nearest-exact")),
    "linear_x4_1d": ((8, 64, 4096), dict(scale_factor=4, mode="linear")),
    "trilinear_x2": ((1, 16, 32, 64, 64), dict(scale_factor=2, mode="trilinear")),
}
DTYPES = ["float32", "float64"]
FLOAT64_CASES = ("bilinear_x2_8x64x64",)


def _setup(case, dtype):
    if dtype == "float64" and case not in FLOAT64_CASES:
        raise NotImplementedError("float64 is benchmarked on a few cases only")
    shape, kw = CASES[case]
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    return x, dict(kw)


class TimeInterpolate:
    """fastconv: a fresh output per call, and ``out=`` a preallocated one."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        self.x, self.kw = _setup(case, dtype)
        self.out = fastconv.interpolate(self.x, **self.kw)

    def time_fastconv(self, case, dtype):
        fastconv.interpolate(self.x, **self.kw)

    def time_fastconv_out(self, case, dtype):
        fastconv.interpolate(self.x, out=self.out, **self.kw)


class TimeInterpolateTorch:
    """torch.nn.functional.interpolate on the same data, same thread count (peer)."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        x, self.kw = _setup(case, dtype)
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed") from None
        import numba

        torch.set_num_threads(numba.get_num_threads())
        self.torch = torch
        self.x = torch.from_numpy(x)
        with torch.no_grad():
            torch.nn.functional.interpolate(self.x, **self.kw)

    def time_torch(self, case, dtype):
        with self.torch.no_grad():
            self.torch.nn.functional.interpolate(self.x, **self.kw)
