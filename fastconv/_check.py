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


# Other op families register their check cases here (name -> factory(rng, fastconv)).
EXTRA_CASES: dict = {}


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
