"""asv benchmarks: transposed convolution (fastconv vs torch.nn.functional on the CPU).

Every ``setup`` runs the op once so Numba compilation (or loading the cache)
is never timed.  The torch peer raises ``NotImplementedError`` in ``setup``
when torch is not importable, which asv reports as skipped.
"""

import numpy as np

import fastconv

from ._smoke import cases

# (name, input shape, C_out, kernel, stride, padding, output_padding, groups, dilation)
CASES = {
    # DCGAN / U-Net decoder block: the speed target
    "dec256x16_k4s2": ((1, 256, 16, 16), 128, (4, 4), 2, 1, 0, 1, 1),
    "dec64x56_k3s2": ((1, 64, 56, 56), 64, (3, 3), 2, 1, 1, 1, 1),
    "batch8_k2s2": ((8, 64, 32, 32), 32, (2, 2), 2, 0, 0, 1, 1),
    "s1_k3": ((1, 64, 64, 64), 64, (3, 3), 1, 1, 0, 1, 1),
    "grouped_g8": ((1, 128, 28, 28), 128, (4, 4), 2, 1, 0, 8, 1),
    "1d_k8s4": ((4, 64, 1024), 64, (8,), 4, 2, 0, 1, 1),
    "3d_k4s2": ((1, 32, 8, 16, 16), 16, (4, 4, 4), 2, 1, 0, 1, 1),
}
DTYPES = ["float32", "float64"]
OPS = {1: fastconv.conv_transpose1d, 2: fastconv.conv_transpose2d, 3: fastconv.conv_transpose3d}
FLOAT64_CASES = ("dec256x16_k4s2", "1d_k8s4")


def _arrays(case, dtype):
    xs, cout, k, s, p, op, g, d = CASES[case]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal((xs[1], cout // g) + k) * 0.05).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    kw = dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    return x, w, b, kw, len(k)


def _skip_float64(case, dtype):
    if dtype == "float64" and case not in FLOAT64_CASES:
        raise NotImplementedError("float64 is benchmarked on a few cases only")


class TimeConvTranspose:
    """fastconv, a fresh output per call."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        _skip_float64(case, dtype)
        self.x, self.w, self.b, self.kw, nd = _arrays(case, dtype)
        self.f = OPS[nd]
        self.out = self.f(self.x, self.w, self.b, **self.kw)

    def time_fastconv(self, case, dtype):
        self.f(self.x, self.w, self.b, **self.kw)

    def time_fastconv_out(self, case, dtype):
        self.f(self.x, self.w, self.b, out=self.out, **self.kw)


class TimeConvTransposeTorch:
    """torch.nn.functional.conv_transpose{nd}d on the same data (peer)."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        _skip_float64(case, dtype)
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed") from None
        x, w, b, self.kw, nd = _arrays(case, dtype)
        self.torch = torch
        self.x, self.w, self.b = (torch.from_numpy(a) for a in (x, w, b))
        self.f = getattr(torch.nn.functional, f"conv_transpose{nd}d")
        with torch.no_grad():
            self.out = self.f(self.x, self.w, self.b, **self.kw)

    def time_torch(self, case, dtype):
        with self.torch.no_grad():
            self.f(self.x, self.w, self.b, **self.kw)


class TrackTransposeGflops:
    """GFLOP/s of fastconv (dense multiply-adds x 2 / median time), float32."""

    params = (cases(CASES),)
    param_names = ["case"]
    unit = "GFLOP/s"

    def setup(self, case):
        self.x, self.w, self.b, self.kw, nd = _arrays(case, "float32")
        self.f = OPS[nd]
        self.out = self.f(self.x, self.w, self.b, **self.kw)

    def track_gflops(self, case):
        import time

        ts = []
        for _ in range(7):
            t0 = time.perf_counter()
            self.f(self.x, self.w, self.b, out=self.out, **self.kw)
            ts.append(time.perf_counter() - t0)
        flops = 2 * self.x.size * (self.w.shape[1]) * int(np.prod(self.w.shape[2:]))
        return flops / float(np.median(ts)) / 1e9
