"""asv benchmarks: fastconv.signal vs scipy.signal (and OpenCV filter2D when importable).

Every ``setup`` runs the op once so Numba compilation (or loading the cache)
is never timed.  Peer classes raise ``NotImplementedError`` in ``setup`` when
the peer is not importable (asv reports them as skipped).  The issue-3 speed
targets are the ``img1024_k3``/``img1024_k7`` (correlate2d 'same'),
``vol64_k5`` (N-d direct) and ``sig1e6_t31`` (1-D 'same') cases; the
``TimeAuto`` grid checks that ``method='auto'`` stays close to the better of
direct and FFT.
"""

import numpy as np

from fastconv import signal as fs

from ._smoke import cases

# name: (function, in1 shape, in2 shape, keyword arguments)
CASES = {
    "img1024_k3": ("correlate2d", (1024, 1024), (3, 3), dict(mode="same")),
    "img1024_k7": ("correlate2d", (1024, 1024), (7, 7), dict(mode="same")),
    "img512_k5_symm": ("convolve2d", (512, 512), (5, 5), dict(mode="same", boundary="symm")),
    "img512_k4_wrap": ("correlate2d", (512, 512), (4, 4), dict(mode="same", boundary="wrap")),
    "vol64_k5": ("correlate", (64, 64, 64), (5, 5, 5), dict(method="direct")),
    "sig1e6_t31": ("correlate", (10**6,), (31,), dict(mode="same")),
    "sig1e6_t31_direct": ("correlate", (10**6,), (31,), dict(mode="same", method="direct")),
    "conv1e5_t255": ("convolve", (10**5,), (255,), dict(mode="full", method="direct")),
}
DTYPES = ["float32", "float64"]
OPENCV_CASES = ("img1024_k3", "img1024_k7")


def _setup(case, dtype):
    name, s1, s2, kw = CASES[case]
    rng = np.random.default_rng(0)
    a = rng.standard_normal(s1).astype(dtype)
    b = rng.standard_normal(s2).astype(dtype)
    return name, a, b, dict(kw)


class TimeSignal:
    """fastconv.signal, a fresh output per call and ``out=`` a preallocated one."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        name, self.a, self.b, self.kw = _setup(case, dtype)
        self.f = getattr(fs, name)
        self.out = self.f(self.a, self.b, **self.kw)

    def time_fastconv(self, case, dtype):
        self.f(self.a, self.b, **self.kw)

    def time_fastconv_out(self, case, dtype):
        self.f(self.a, self.b, out=self.out, **self.kw)


class TimeSignalScipy:
    """scipy.signal on the same data (peer).  For the 1-D 'same' case the peer is
    ``oaconvolve`` (what scipy users reach for with long signals)."""

    params = (cases(CASES), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        try:
            from scipy import signal as ss
        except ImportError:
            raise NotImplementedError("scipy is not installed") from None
        name, self.a, self.b, self.kw = _setup(case, dtype)
        if case.startswith("sig1e6"):
            self.b = self.b[::-1].copy()  # correlate == convolve with the reversed taps
            self.f = lambda a, b, mode, **_: ss.oaconvolve(a, b, mode)
        else:
            self.f = getattr(ss, name)
        if case == "vol64_k5":
            self.f(self.a[:16, :16, :16], self.b, **self.kw)
        else:
            self.f(self.a, self.b, **self.kw)

    def time_scipy(self, case, dtype):
        self.f(self.a, self.b, **self.kw)

    time_scipy.timeout = 240


class TimeSignalOpenCV:
    """cv2.filter2D with a constant (zero) border: correlate2d(mode='same') for odd
    kernels.  Same thread count as Numba."""

    params = (cases(OPENCV_CASES), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        try:
            import cv2
        except ImportError:
            raise NotImplementedError("opencv is not installed") from None
        import numba

        cv2.setNumThreads(numba.get_num_threads())
        _, self.a, self.b, _ = _setup(case, dtype)
        self.cv2 = cv2
        cv2.filter2D(self.a, -1, self.b, borderType=cv2.BORDER_CONSTANT)

    def time_opencv(self, case, dtype):
        self.cv2.filter2D(self.a, -1, self.b, borderType=self.cv2.BORDER_CONSTANT)


# method='auto' against both methods on a grid of shapes (float32, mode 'same')
GRID = {
    "1d_1e5_k31": ((10**5,), (31,)),
    "1d_1e5_k255": ((10**5,), (255,)),
    "1d_1e5_k2047": ((10**5,), (2047,)),
    "1d_1e4_k1e4": ((10**4,), (10**4,)),
    "2d_1024_k3": ((1024, 1024), (3, 3)),
    "2d_512_k15": ((512, 512), (15, 15)),
    "2d_512_k31": ((512, 512), (31, 31)),
    "2d_256_k64": ((256, 256), (64, 64)),
    "3d_64_k5": ((64, 64, 64), (5, 5, 5)),
    "3d_64_k9": ((64, 64, 64), (9, 9, 9)),
}


class TimeAuto:
    params = (cases(GRID), ["auto", "direct", "fft"])
    param_names = ["case", "method"]

    def setup(self, case, method):
        s1, s2 = GRID[case]
        rng = np.random.default_rng(1)
        self.a = rng.standard_normal(s1).astype(np.float32)
        self.b = rng.standard_normal(s2).astype(np.float32)
        fs.correlate(self.a, self.b, "same", method)

    def time_correlate(self, case, method):
        fs.correlate(self.a, self.b, "same", method)


class TimeChooseMethod:
    """Cost of signal.choose_conv_method's decision (paid by every method='auto' call)."""

    params = (cases(GRID),)
    param_names = ["case"]

    def setup(self, case):
        s1, s2 = GRID[case]
        rng = np.random.default_rng(1)
        self.a = rng.standard_normal(s1).astype(np.float32)
        self.b = rng.standard_normal(s2).astype(np.float32)
        fs.choose_conv_method(self.a, self.b, "same")

    def time_choose_conv_method(self, case):
        fs.choose_conv_method(self.a, self.b, "same")
