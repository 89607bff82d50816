"""asv benchmarks: the convolution family on the CPU (fastconv vs torch / SciPy peers).

Shapes are the standard workloads of ``python -m fastconv bench`` (see
docs/families/performance.rst).  Every ``setup`` runs the op once so Numba's
JIT compilation (or cache load) is not timed; peer classes raise
``NotImplementedError`` in ``setup`` (asv: skipped) when the peer is missing.
Outputs are preallocated (``out=``) so page faults of a fresh result are not
timed either.
"""

import numpy as np

import fastconv

from ._smoke import cases

# name -> (rank, input shape, weight shape, keyword arguments)
CONV = {
    "3x3_64_56_b1": (2, (1, 64, 56, 56), (64, 64, 3, 3), dict(padding=1)),
    "3x3_64_56_b8": (2, (8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1)),
    "1x1_256to64_56": (2, (1, 256, 56, 56), (64, 256, 1, 1), dict()),
    "stem_7x7_s2": (2, (1, 3, 224, 224), (64, 3, 7, 7), dict(stride=2, padding=3)),
    "3x3_d2_128_28": (2, (1, 128, 28, 28), (128, 128, 3, 3), dict(padding=2, dilation=2)),
    "3x3_g32_128_28": (2, (1, 128, 28, 28), (128, 4, 3, 3), dict(padding=1, groups=32)),
    "depthwise_3x3_256_56": (2, (1, 256, 56, 56), (256, 1, 3, 3), dict(padding=1, groups=256)),
    "depthwise_3x3_144_56_b8": (2, (8, 144, 56, 56), (144, 1, 3, 3),
                                dict(padding=1, groups=144)),
    "conv1d_k5_64_4096_b8": (1, (8, 64, 4096), (64, 64, 5), dict(padding=2)),
    "conv3d_k3_32_32": (3, (1, 32, 32, 32, 32), (32, 32, 3, 3, 3), dict(padding=1)),
    # paths added on 2026-11-23: the vector depthwise kernel (5x5, stride 2), a long
    # strided 1-D signal folded into rows, a small-image batch stacked into one image
    "depthwise_5x5_96_56": (2, (1, 96, 56, 56), (96, 1, 5, 5), dict(padding=2, groups=96)),
    "depthwise_3x3_s2_96_112": (2, (1, 96, 112, 112), (96, 1, 3, 3),
                                dict(stride=2, padding=1, groups=96)),
    "conv1d_k3_s2_256_4096": (1, (1, 256, 4096), (256, 256, 3), dict(stride=2, padding=1)),
    "3x3_512_7_b4": (2, (4, 512, 7, 7), (512, 512, 3, 3), dict(padding=1)),
    # later that day: depthwise taps as one flat loop (narrow rows), and grouped calls
    # with 2 input / 1 output channel per group, which moved to the SIMD tile
    "depthwise_7x7_192_28": (2, (1, 192, 28, 28), (192, 1, 7, 7), dict(padding=3, groups=192)),
    "3x3_g64_128_28": (2, (1, 128, 28, 28), (128, 2, 3, 3), dict(padding=1, groups=64)),
    "3x3_g32_1out_64_56": (2, (1, 64, 56, 56), (32, 2, 3, 3), dict(padding=1, groups=32)),
    "3x3_512_7_b8": (2, (8, 512, 7, 7), (512, 512, 3, 3), dict(padding=1)),  # stacked since
}
DTYPES = ["float32", "float64"]

# single-channel 2-D correlation, where SciPy has the op (scipy.signal.correlate2d)
SIGNAL2D = {"256x256_k3": ((256, 256), (3, 3)), "256x256_k7": ((256, 256), (7, 7))}


def _operands(case, dtype):
    nd, xs, ws, kw = CONV[case]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    return nd, x, w, b, dict(kw)


class TimeConv:
    """fastconv.conv{1,2,3}d into a preallocated output."""

    params = (cases(CONV), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        nd, self.x, self.w, self.b, self.kw = _operands(case, dtype)
        self.fn = getattr(fastconv, f"conv{nd}d")
        self.out = self.fn(self.x, self.w, self.b, **self.kw)  # compile / cache load

    def time_conv(self, case, dtype):
        self.fn(self.x, self.w, self.b, out=self.out, **self.kw)


class TimeConvTorch:
    """torch.nn.functional.conv{1,2,3}d on the same operands (CPU)."""

    params = (cases(CONV), DTYPES)
    param_names = ["case", "dtype"]

    def setup(self, case, dtype):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")
        nd, x, w, b, kw = _operands(case, dtype)
        self.x, self.w, self.b = (torch.from_numpy(a) for a in (x, w, b))
        self.fn = getattr(torch.nn.functional, f"conv{nd}d")
        self.kw = kw
        self.fn(self.x, self.w, self.b, **kw)

    def time_conv(self, case, dtype):
        self.fn(self.x, self.w, self.b, **self.kw)


class TimeConvTranspose2d:
    """conv_transpose2d (1,256,16,16) -> 128, k4 s2 p1 (the decoder upsampling layer)."""

    params = (DTYPES,)
    param_names = ["dtype"]

    def setup(self, dtype):
        if getattr(fastconv, "conv_transpose2d", None) is None:
            raise NotImplementedError("fastconv.conv_transpose2d not present")
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((1, 256, 16, 16)).astype(dtype)
        self.w = rng.standard_normal((256, 128, 4, 4)).astype(dtype)
        self.out = fastconv.conv_transpose2d(self.x, self.w, stride=2, padding=1)

    def time_conv_transpose2d(self, dtype):
        fastconv.conv_transpose2d(self.x, self.w, stride=2, padding=1, out=self.out)


class TimeConvTranspose2dTorch:
    params = (DTYPES,)
    param_names = ["dtype"]

    def setup(self, dtype):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")
        rng = np.random.default_rng(0)
        self.x = torch.from_numpy(rng.standard_normal((1, 256, 16, 16)).astype(dtype))
        self.w = torch.from_numpy(rng.standard_normal((256, 128, 4, 4)).astype(dtype))
        torch.nn.functional.conv_transpose2d(self.x, self.w, stride=2, padding=1)

    def time_conv_transpose2d(self, dtype):
        import torch

        torch.nn.functional.conv_transpose2d(self.x, self.w, stride=2, padding=1)


class TimeConvSingleChannel:
    """conv2d with one input and one output channel, 'same' size (a 2-D filter)."""

    params = (cases(SIGNAL2D),)
    param_names = ["case"]

    def setup(self, case):
        xs, ks = SIGNAL2D[case]
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((1, 1) + xs).astype(np.float64)
        self.w = rng.standard_normal((1, 1) + ks).astype(np.float64)
        self.out = fastconv.conv2d(self.x, self.w, padding="same")

    def time_conv2d_single_channel(self, case):
        fastconv.conv2d(self.x, self.w, padding="same", out=self.out)


class TimeConvSingleChannelScipy:
    """scipy.signal.correlate2d(mode='same') on the same plane (the SciPy peer)."""

    params = (cases(SIGNAL2D),)
    param_names = ["case"]

    def setup(self, case):
        try:
            from scipy import signal
        except ImportError:
            raise NotImplementedError("scipy is not installed")
        xs, ks = SIGNAL2D[case]
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal(xs)
        self.w = rng.standard_normal(ks)
        self.f = signal.correlate2d
        self.f(self.x, self.w, mode="same")

    def time_correlate2d(self, case):
        self.f(self.x, self.w, mode="same")


def timeraw_import_fastconv():
    """Fresh-process ``import fastconv`` (compiles nothing)."""
    return "import fastconv"


timeraw_import_fastconv.repeat = 5
timeraw_import_fastconv.number = 1


class TimeSeparable:
    """separable_conv2d (fused depthwise 3x3 + pointwise) vs torch's two calls."""

    params = (["fastconv", "torch"],)
    param_names = ["impl"]

    def setup(self, impl):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((1, 128, 56, 56)).astype(np.float32)
        dw = rng.standard_normal((128, 1, 3, 3)).astype(np.float32)
        pw = rng.standard_normal((128, 128, 1, 1)).astype(np.float32)
        if impl == "fastconv":
            self.out = fastconv.separable_conv2d(x, dw, pw, padding=1)
            self.run = lambda: fastconv.separable_conv2d(x, dw, pw, padding=1, out=self.out)
        else:
            try:
                import torch
                import torch.nn.functional as F
            except ImportError:
                raise NotImplementedError("torch is not installed")
            tx, tdw, tpw = (torch.from_numpy(a) for a in (x, dw, pw))
            self.run = lambda: F.conv2d(F.conv2d(tx, tdw, padding=1, groups=128), tpw)
        self.run()

    def time_separable_conv2d(self, impl):
        self.run()


def _resnet50_layers():
    """name -> (C_in, H, C_out, kernel, stride, count) of ``python -m fastconv bench --suite
    resnet50`` (fastconv._bench.RESNET50, the 23 distinct convolutions of ResNet-50)."""
    from fastconv._bench import RESNET50

    return {f"{ks}x{ks}_s{s}_{c}to{k}_{h}": (c, h, k, ks, s, n) for c, h, k, ks, s, n in RESNET50}


RESNET50_LAYERS = _resnet50_layers()


def _resnet50_operands(layer):
    """float32 input and weight of ``layer`` (batch 1) and its stride/padding keywords."""
    c, h, k, ks, s, _ = RESNET50_LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, c, h, h)).astype(np.float32)
    w = rng.standard_normal((k, c, ks, ks)).astype(np.float32)
    return x, w, dict(stride=s, padding=ks // 2)


class TimeResNet50Layer:
    """fastconv.conv2d on each distinct ResNet-50 convolution at batch 1 (float32)."""

    params = (cases(RESNET50_LAYERS),)
    param_names = ["layer"]

    def setup(self, layer):
        self.x, self.w, self.kw = _resnet50_operands(layer)
        self.out = fastconv.conv2d(self.x, self.w, **self.kw)  # compile / cache load

    def time_conv(self, layer):
        fastconv.conv2d(self.x, self.w, out=self.out, **self.kw)


class TimeResNet50LayerTorch:
    """torch.nn.functional.conv2d on the same ResNet-50 convolutions (CPU)."""

    params = (cases(RESNET50_LAYERS),)
    param_names = ["layer"]

    def setup(self, layer):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")
        x, w, self.kw = _resnet50_operands(layer)
        self.x, self.w = torch.from_numpy(x), torch.from_numpy(w)
        torch.nn.functional.conv2d(self.x, self.w, **self.kw)

    def time_conv(self, layer):
        import torch

        torch.nn.functional.conv2d(self.x, self.w, **self.kw)
