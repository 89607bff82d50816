"""Self-check behind ``python -m fastconv check``: every public op against a slow oracle.

The oracles here are written with NumPy only (``sliding_window_view`` + ``einsum``
on explicitly padded arrays, explicit coordinate formulas), independently of the
kernels, so the check runs on a machine with nothing but fastconv's runtime
dependencies.  The test suite uses stronger scipy.signal-based oracles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

_NP_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _windows(xp, k, d, s):
    """Strided windows of the trailing len(k) axes: shape (..., *out, *k)."""
    nd = len(k)
    span = tuple((ki - 1) * di + 1 for ki, di in zip(k, d))
    v = np.lib.stride_tricks.sliding_window_view(xp, span, axis=tuple(range(-nd, 0)))
    sl = (Ellipsis,) + tuple(slice(None, None, si) for si in s) + tuple(
        slice(None, None, di) for di in d)
    return v[sl]


def ref_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """Batched conv{nd}d in float64 via sliding windows and einsum."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    tup = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd
    s, d, p = tup(stride), tup(dilation), tup(padding)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pi, pi) for pi in p], mode=_NP_PAD[padding_mode])
    N, C = x.shape[:2]
    K, Cg = w.shape[:2]
    Kg = K // groups
    outs = []
    for g in range(groups):
        win = _windows(xp[:, g * Cg:(g + 1) * Cg], w.shape[2:], d, s)
        # win: (N, Cg, *out, *k)
        letters = "defgh"[:nd]
        kl = "ijklm"[:nd]
        expr = f"nc{letters}{kl},oc{kl}->no{letters}"
        outs.append(np.einsum(expr, win, w[g * Kg:(g + 1) * Kg]))
    y = np.concatenate(outs, axis=1)
    if b is not None:
        y = y + np.asarray(b, np.float64).reshape((1, K) + (1,) * nd)
    return y


@dataclass
class Case:
    name: str
    run: Callable[[], tuple]  # returns (actual, reference, tolerance)


def _tol(dtype, terms, scale):
    return 2 * float(np.finfo(dtype).eps) * max(terms, 1) * max(scale, 1.0)


def _conv_cases(rng, fc):
    cases = []

    def conv_case(name, nd, xs, ws, dtype, **kw):
        def run():
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            b = rng.standard_normal(ws[0]).astype(dtype)
            f = {1: fc.conv1d, 2: fc.conv2d, 3: fc.conv3d}[nd]
            y = f(x, w, b, **kw)
            r = ref_conv(x, w, b, **kw)
            sc = float(np.max(ref_conv(np.abs(x), np.abs(w), np.abs(b), **kw)))
            return y, r, _tol(dtype, np.prod(ws[1:]) + 1, sc)
        cases.append(Case(name, run))

    for dt in (np.float32, np.float64):
        t = np.dtype(dt).name
        conv_case(f"conv1d k5 s2 {t}", 1, (2, 4, 40), (6, 4, 5), dt, stride=2, padding=2)
        conv_case(f"conv2d 3x3 {t}", 2, (2, 8, 17, 19), (12, 8, 3, 3), dt, padding=1)
        conv_case(f"conv2d 5x5 d2 g2 {t}", 2, (1, 8, 20, 20), (8, 4, 5, 5), dt, padding=4,
                  dilation=2, groups=2)
        conv_case(f"conv2d 3x3 reflect {t}", 2, (1, 3, 9, 9), (4, 3, 3, 3), dt, padding=1,
                  padding_mode="reflect")
        conv_case(f"conv2d 1x1 {t}", 2, (2, 16, 9, 9), (8, 16, 1, 1), dt)
        conv_case(f"conv2d depthwise 3x3 {t}", 2, (2, 8, 15, 15), (16, 1, 3, 3), dt, padding=1,
                  groups=8)
        conv_case(f"conv3d 3x3x3 circular {t}", 3, (1, 3, 6, 7, 8), (4, 3, 3, 3, 3), dt, padding=1,
                  padding_mode="circular")

    def sep():
        x = rng.standard_normal((1, 4, 10, 10)).astype(np.float32)
        dw = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
        pw = rng.standard_normal((5, 8, 1, 1)).astype(np.float32)
        y = fc.separable_conv2d(x, dw, pw, padding=1)
        r = ref_conv(ref_conv(x, dw, padding=1, groups=4), pw)
        sc = float(np.max(ref_conv(ref_conv(np.abs(x), np.abs(dw), padding=1, groups=4), np.abs(pw))))
        return y, r, _tol(np.float32, 9 + 8, sc)

    cases.append(Case("separable_conv2d float32", sep))
    return cases


def ref_conv_transpose(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed conv as a correlation of the zero-inserted input with the flipped,
    in/out-swapped weight, dilation d and padding (d(k-1)-p, d(k-1)-p+op) per axis."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    tup = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd
    s, p, op, d = tup(stride), tup(padding), tup(output_padding), tup(dilation)
    N, Cin = x.shape[:2]
    k = w.shape[2:]
    up = np.zeros((N, Cin) + tuple((L - 1) * si + 1 for L, si in zip(x.shape[2:], s)))
    up[(slice(None), slice(None)) + tuple(slice(None, None, si) for si in s)] = x
    for ax in range(nd):
        lo = d[ax] * (k[ax] - 1) - p[ax]
        hi = lo + op[ax]
        a = 2 + ax
        if lo < 0:
            up = np.take(up, range(-lo, up.shape[a]), axis=a)
            lo = 0
        if hi < 0:
            up = np.take(up, range(0, up.shape[a] + hi), axis=a)
            hi = 0
        widths = [(0, 0)] * up.ndim
        widths[a] = (lo, hi)
        up = np.pad(up, widths)
    cin_g = Cin // groups
    cout_g = w.shape[1]
    flip = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]
    wc = np.empty((cout_g * groups, cin_g) + k)
    for g in range(groups):
        blk = flip[g * cin_g:(g + 1) * cin_g]  # (cin_g, cout_g, *k)
        wc[g * cout_g:(g + 1) * cout_g] = np.swapaxes(blk, 0, 1)
    return ref_conv(up, wc, b, dilation=d, groups=groups)


def ref_pool(x, k, s, p, d, ceil_mode, kind, count_include_pad=True):
    """max/avg pooling over the trailing axes via sliding windows on a padded array."""
    from . import shapes

    x = np.asarray(x, np.float64)
    nd = len(k)
    sp = x.shape[-nd:]
    outs = [shapes.pool_output_size(L, ki, si, pi, di, ceil_mode)
            for L, ki, si, pi, di in zip(sp, k, s, p, d)]
    # pad enough on the right for every (ceil-mode) window
    need = [(o - 1) * si + (ki - 1) * di + 1 for o, si, ki, di in zip(outs, s, k, d)]
    widths = [(0, 0)] * (x.ndim - nd) + [(pi, max(0, n - L - pi)) for pi, n, L in zip(p, need, sp)]
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, widths, constant_values=fill)
    win = _windows(xp, k, d, s)[(Ellipsis,) + tuple(slice(0, o) for o in outs) + (slice(None),) * nd]
    axes = tuple(range(-nd, 0))
    if kind == "max":
        return win.max(axis=axes)
    total = win.sum(axis=axes)
    ones = np.pad(np.ones(sp), [(pi, max(0, n - L - pi)) for pi, n, L in zip(p, need, sp)])
    if count_include_pad:  # window clipped to the padded extent (input + padding both sides)
        ext = np.pad(np.ones([L + 2 * pi for L, pi in zip(sp, p)]),
                     [(0, max(0, n - L - 2 * pi)) for pi, n, L in zip(p, need, sp)])
        cnt = _windows(ext, k, d, s)
    else:
        cnt = _windows(ones, k, d, s)
    cnt = cnt[tuple(slice(0, o) for o in outs)].sum(axis=axes)
    return total / cnt


def ref_bilinear(x, out_hw, align_corners):
    """Bilinear resize of (N, C, H, W) to ``out_hw`` from the explicit coordinate formula."""
    x = np.asarray(x, np.float64)
    res = x
    for ax, O in zip((2, 3), out_hw):
        L = x.shape[ax]
        dst = np.arange(O, dtype=np.float64)
        if align_corners:
            src = dst * ((L - 1) / (O - 1)) if O > 1 else np.zeros(O)
        else:
            src = np.maximum((dst + 0.5) * (L / O) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), L - 1)
        i1 = np.minimum(i0 + 1, L - 1)
        lam = src - i0
        a = np.take(res, i0, axis=ax)
        b = np.take(res, i1, axis=ax)
        shape = [1] * 4
        shape[ax] = O
        lam = lam.reshape(shape)
        res = a * (1 - lam) + b * lam
    return res


def _nn_cases(rng, fc):
    cases = []
    if getattr(fc, "conv_transpose2d", None) is not None:
        def ct(nd, xs, ws, **kw):
            def run():
                x = rng.standard_normal(xs).astype(np.float32)
                w = rng.standard_normal(ws).astype(np.float32)
                b = rng.standard_normal(ws[1] * kw.get("groups", 1)).astype(np.float32)
                f = {1: fc.conv_transpose1d, 2: fc.conv_transpose2d, 3: fc.conv_transpose3d}[nd]
                y = f(x, w, b, **kw)
                r = ref_conv_transpose(x, w, b, **kw)
                sc = float(np.max(ref_conv_transpose(np.abs(x), np.abs(w), np.abs(b), **kw)))
                return y, r, _tol(np.float32, np.prod(ws[1:]) * ws[0], sc)
            return run
        cases.append(Case("conv_transpose1d k3 s2", ct(1, (2, 3, 9), (3, 4, 3), stride=2, padding=1,
                                                       output_padding=1)))
        cases.append(Case("conv_transpose2d k4 s2 p1 g2", ct(2, (1, 4, 6, 7), (4, 3, 4, 4), stride=2,
                                                             padding=1, groups=2)))
        cases.append(Case("conv_transpose3d k3 d2", ct(3, (1, 2, 4, 4, 5), (2, 3, 3, 3, 3), dilation=2)))
    if getattr(fc, "max_pool2d", None) is not None:
        def pool(kind, nd, xs, k, s, p, d, ceil, **kw):
            def run():
                x = rng.standard_normal(xs).astype(np.float32)
                if kind == "max":
                    f = {1: fc.max_pool1d, 2: fc.max_pool2d, 3: fc.max_pool3d}[nd]
                    y = f(x, k, s, p, d, ceil_mode=ceil)
                    r = ref_pool(x, (k,) * nd, (s,) * nd, (p,) * nd, (d,) * nd, ceil, "max")
                    return y, r, 0.0
                f = {1: fc.avg_pool1d, 2: fc.avg_pool2d, 3: fc.avg_pool3d}[nd]
                y = f(x, k, s, p, ceil_mode=ceil, **kw)
                r = ref_pool(x, (k,) * nd, (s,) * nd, (p,) * nd, (1,) * nd, ceil, "avg", **kw)
                return y, r, _tol(np.float32, k ** nd, float(np.max(np.abs(x))))
            return run
        cases.append(Case("max_pool2d k3 s2 p1", pool("max", 2, (2, 3, 15, 16), 3, 2, 1, 1, False)))
        cases.append(Case("max_pool1d k2 d2 ceil", pool("max", 1, (2, 3, 17), 2, 2, 1, 2, True)))
        cases.append(Case("max_pool3d k2", pool("max", 3, (1, 2, 6, 7, 8), 2, 2, 0, 1, False)))
        cases.append(Case("avg_pool2d k3 s2 p1", pool("avg", 2, (2, 3, 15, 16), 3, 2, 1, 1, False)))
        cases.append(Case("avg_pool2d ceil exclude-pad", pool("avg", 2, (1, 2, 9, 10), 3, 2, 1, 1, True,
                                                              count_include_pad=False)))
        cases.append(Case("avg_pool1d k4 s3", pool("avg", 1, (2, 3, 20), 4, 3, 2, 1, True)))
        cases.append(Case("avg_pool3d k2", pool("avg", 3, (1, 2, 6, 7, 8), 2, 2, 1, 1, False)))
    if getattr(fc, "interpolate", None) is not None:
        def bil(ac):
            def run():
                x = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
                y = fc.interpolate(x, size=(13, 20), mode="bilinear", align_corners=ac)
                # float32 weights and lerps: a few roundings of values up to max|x|
                return y, ref_bilinear(x, (13, 20), ac), _tol(np.float32, 4, float(np.max(np.abs(x))))
            return run

        def near():
            x = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
            y = fc.interpolate(x, size=(14, 27), mode="nearest")
            r = np.repeat(np.repeat(x, 2, axis=2), 3, axis=3)
            return y, r.astype(np.float64), 0.0

        cases.append(Case("interpolate bilinear", bil(False)))
        cases.append(Case("interpolate bilinear align_corners", bil(True)))
        cases.append(Case("interpolate nearest x2/x3", near))
    return cases


def _signal_cases(rng, fc):
    sig = getattr(fc, "signal", None)
    if sig is None:
        return []
    try:
        from scipy import signal as ss
    except ImportError:  # pragma: no cover - scipy is in every extra but not a runtime dep
        ss = None
    cases = []

    def c2d(mode, boundary, dt):
        def run():
            a = rng.standard_normal((40, 33)).astype(dt)
            k = rng.standard_normal((5, 4)).astype(dt)
            y = sig.correlate2d(a, k, mode=mode, boundary=boundary)
            if ss is not None:
                r = ss.correlate2d(a.astype(np.float64), k.astype(np.float64), mode=mode, boundary=boundary)
            else:  # 'full' with zero fill from sliding windows
                ap = np.pad(a.astype(np.float64), ((4, 4), (3, 3)))
                r = np.einsum("ijkl,kl->ij", _windows(ap, (5, 4), (1, 1), (1, 1)), k)
            return y, r, _tol(dt, 20, float(np.max(np.abs(r))) + 20 * 16)
        return run

    for mode, bnd in (("full", "fill"), ("same", "wrap"), ("valid", "fill"), ("same", "symm")):
        if ss is None and (mode, bnd) != ("full", "fill"):
            continue
        cases.append(Case(f"signal.correlate2d {mode} {bnd}", c2d(mode, bnd, np.float32)))

    def corr1d(mode):
        def run():
            a = rng.standard_normal(5000)
            k = rng.standard_normal(31)
            y = sig.correlate(a, k, mode=mode, method="direct")
            return y, np.correlate(a, k, mode=mode), _tol(np.float64, 31, 200.0)
        return run

    for mode in ("full", "same", "valid"):
        cases.append(Case(f"signal.correlate 1-D {mode}", corr1d(mode)))

    def conv3d():
        a = rng.standard_normal((12, 11, 10))
        k = rng.standard_normal((3, 4, 5))
        y = sig.convolve(a, k, mode="full", method="direct")
        kf = k[::-1, ::-1, ::-1]
        ap = np.pad(a, [(2, 2), (3, 3), (4, 4)])
        r = np.einsum("ijkabc,abc->ijk", _windows(ap, k.shape, (1, 1, 1), (1, 1, 1)), kf)
        return y, r, _tol(np.float64, 60, 300.0)

    cases.append(Case("signal.convolve 3-D full", conv3d))
    return cases


# Other op families register their check cases here (name -> factory(rng, fastconv)).
EXTRA_CASES: dict = {"nn": _nn_cases, "signal": _signal_cases}


def all_cases(rng):
    import fastconv as fc

    cases = _conv_cases(rng, fc)
    for factory in EXTRA_CASES.values():
        cases.extend(factory(rng, fc))
    return cases


def run_check(backend="cpu", out=None):
    """Run every case; print a pass/fail table; return the number of failures."""
    import sys

    out = out or sys.stdout
    rng = np.random.default_rng(2024)
    convert = None
    if backend == "cuda":
        try:
            from ._cuda._check import wrap_for_device  # provided by the CUDA backend
        except ImportError as e:
            print(f"CUDA check unavailable: {e}", file=out)
            return 1
        convert = wrap_for_device
    cases = all_cases(rng)
    failures = 0
    print(f"{'case':42s} {'result':7s} {'max err':>10s} {'tol':>10s} {'time':>8s}", file=out)
    for case in cases:
        t0 = time.perf_counter()
        try:
            if convert is not None:
                with convert():
                    y, r, tol = case.run()
            else:
                y, r, tol = case.run()
            y = np.asarray(y)
            if y.shape != r.shape:
                raise AssertionError(f"shape {y.shape} != {r.shape}")
            err = float(np.max(np.abs(y.astype(np.float64) - r))) if r.size else 0.0
            ok = err <= tol or (np.isnan(err) and np.array_equal(np.isnan(y), np.isnan(r)))
            msg = f"{err:10.2e} {tol:10.2e}"
        except Exception as e:  # report and go on
            ok, msg = False, f"{type(e).__name__}: {e}"[:60]
        dt = time.perf_counter() - t0
        failures += not ok
        print(f"{case.name:42s} {'PASS' if ok else 'FAIL':7s} {msg} {dt:7.2f}s", file=out, flush=True)
    print(f"{len(cases) - failures} passed, {failures} failed", file=out)
    return failures
