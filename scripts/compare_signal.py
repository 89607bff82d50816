"""Interleaved same-process timing of fastconv.signal against SciPy / OpenCV.

Usage:  NUMBA_NUM_THREADS=1 python scripts/compare_signal.py [targets|grid|fit] [--cpu]

``--cpu`` times with the process CPU clock instead of the wall clock: on a shared,
oversubscribed machine that removes the time the process spends descheduled
(meaningful for 1-thread runs, where every peer runs in the calling thread).

``targets`` prints the issue-3 speed ratios (median of interleaved repeats);
``grid`` prints, for a grid of shapes, fastconv direct / fft / auto times and
the auto/best ratio.
"""

from __future__ import annotations

import os
import sys
import time

# Interleaving Numba's libgomp pool with OpenCV's / scipy.fft's threads on few
# cores: spinning workers of one pool slow the other down (FACTS.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import scipy.signal as ss

import fastconv.signal as fs

try:
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None


_clock = time.perf_counter


def interleaved(fns, repeat=7, number=None, stat=np.median, target=5e-3):
    """Seconds per call of each function, sampled round-robin in a shuffled order.

    Each sample is a block of calls lasting about ``target`` seconds (calibrated
    per function), so the cache/allocator disturbance left by the previous
    function is amortised; ``stat`` reduces the samples (median by default)."""
    rng = np.random.default_rng(0)
    nums = {}
    for k, f in fns.items():
        f()
        t0 = _clock()
        f()
        per = _clock() - t0
        nums[k] = number or max(1, min(500, int(target / max(per, 1e-7))))
    times = {k: [] for k in fns}
    keys = list(fns)
    for _ in range(repeat):
        rng.shuffle(keys)
        for k in keys:
            f, n = fns[k], nums[k]
            t0 = _clock()
            for _ in range(n):
                f()
            times[k].append((_clock() - t0) / n)
    return {k: float(stat(v)) for k, v in times.items()}


def targets():
    import numba

    rng = np.random.default_rng(0)
    th = numba.get_num_threads()
    if cv2 is not None:
        cv2.setNumThreads(th)
    print(f"threads={th}")
    img = rng.standard_normal((1024, 1024)).astype(np.float32)
    for k in (3, 7):
        ker = rng.standard_normal((k, k)).astype(np.float32)
        fns = {
            "fastconv": lambda: fs.correlate2d(img, ker, mode="same"),
            "scipy": lambda: ss.correlate2d(img, ker, mode="same"),
        }
        if cv2 is not None:
            # filter2D correlates; anchor so that 'same' matches correlate2d (k odd: centre)
            fns["cv2"] = lambda: cv2.filter2D(img, -1, ker, borderType=cv2.BORDER_CONSTANT)
        t = interleaved(fns, repeat=5)
        msg = " ".join(f"{n}={v * 1e3:.3f}ms" for n, v in t.items())
        r = f"x scipy {t['scipy'] / t['fastconv']:.1f}"
        if cv2 is not None:
            r += f", x cv2 {t['cv2'] / t['fastconv']:.2f}"
        print(f"correlate2d 1024^2 {k}x{k} same f32: {msg}  -> {r}")
    a = rng.standard_normal((64, 64, 64)).astype(np.float32)
    b = rng.standard_normal((5, 5, 5)).astype(np.float32)
    t = interleaved({
        "fastconv": lambda: fs.correlate(a, b, method="direct"),
        "scipy": lambda: ss.correlate(a, b, method="direct"),
    }, repeat=3)
    print(f"correlate (64,)^3 * (5,)^3 full direct f32: fastconv={t['fastconv'] * 1e3:.2f}ms "
          f"scipy={t['scipy'] * 1e3:.1f}ms -> x {t['scipy'] / t['fastconv']:.1f}")
    for dt in (np.float32, np.float64):
        sig = rng.standard_normal(10**6).astype(dt)
        taps = rng.standard_normal(31).astype(dt)
        t = interleaved({
            "fastconv": lambda: fs.correlate(sig, taps, mode="same"),
            "direct": lambda: fs.correlate(sig, taps, mode="same", method="direct"),
            "oaconvolve": lambda: ss.oaconvolve(sig, taps[::-1], mode="same"),
        }, repeat=9)
        print(f"correlate 1e6 * 31 same {np.dtype(dt).name}: auto={t['fastconv'] * 1e3:.2f}ms "
              f"direct={t['direct'] * 1e3:.2f}ms oaconvolve={t['oaconvolve'] * 1e3:.2f}ms "
              f"-> x {t['oaconvolve'] / t['fastconv']:.1f}")


GRID = [
    ((1000,), (3,)), ((10**5,), (31,)), ((10**6,), (31,)), ((10**5,), (255,)),
    ((10**5,), (2047,)), ((10**4,), (10**4,)), ((4096,), (1024,)),
    ((256, 256), (3, 3)), ((1024, 1024), (3, 3)), ((1024, 1024), (7, 7)),
    ((512, 512), (15, 15)), ((512, 512), (31, 31)), ((256, 256), (64, 64)),
    ((128, 128), (128, 128)), ((64, 64, 64), (5, 5, 5)), ((64, 64, 64), (9, 9, 9)),
    ((32, 32, 32), (16, 16, 16)),
]


def grid(dtype=np.float32, modes=("full", "same")):
    """auto vs the better of direct and FFT.

    On a shared machine the raw ``auto`` timing is as noisy as the others, so the
    verdict uses the *choice*: ``ratio = t[chosen] / min(t[direct], t[fft])`` plus
    the (memoised) decision overhead, measured separately; the raw timing is
    printed too."""
    import timeit

    import numba

    from fastconv import _params

    rng = np.random.default_rng(1)
    print(f"threads={numba.get_num_threads()} dtype={np.dtype(dtype).name}")
    worst = 0.0
    for s1, s2 in GRID:
        a = rng.standard_normal(s1).astype(dtype)
        b = rng.standard_normal(s2).astype(dtype)
        for mode in modes:
            t = interleaved({
                "direct": lambda: fs.correlate(a, b, mode, "direct"),
                "fft": lambda: fs.correlate(a, b, mode, "fft"),
                "auto": lambda: fs.correlate(a, b, mode, "auto"),
            }, repeat=9, stat=np.min)
            best = min(t["direct"], t["fft"])
            ch = fs.choose_conv_method(a, b, mode)
            p = _params.signal_params("correlate", (a.shape, a.dtype), (b.shape, b.dtype),
                                      mode, "auto")
            n = 2000
            over = timeit.timeit(lambda: fs._resolve(p), number=n) / n
            ratio = (t[ch] + over) / best
            worst = max(worst, ratio)
            print(f"{str(s1):>16} {str(s2):>14} {mode:>5}: direct={t['direct'] * 1e3:9.3f}ms "
                  f"fft={t['fft'] * 1e3:9.3f}ms auto(raw)={t['auto'] * 1e3:9.3f}ms "
                  f"choice={ch:6} decision={over * 1e6:4.1f}us auto/best={ratio:.2f}")
    print(f"worst auto/best = {worst:.2f}")


def fit(dtype=np.float32):
    """Raw timings (min of repeats) for fitting the cost model in fastconv.signal."""
    import numba

    from fastconv import _params

    rng = np.random.default_rng(2)
    print(f"threads={numba.get_num_threads()} dtype={np.dtype(dtype).name}")
    print("s1 s2 mode macs rows direct_s fft_s model_direct model_fft")
    for s1, s2 in GRID + [((2000,), (64,)), ((300, 300), (9, 9)), ((300, 300), (4, 4)),
                          ((40, 40, 40), (3, 3, 3)), ((200, 200), (20, 20))]:
        a = rng.standard_normal(s1).astype(dtype)
        b = rng.standard_normal(s2).astype(dtype)
        mode = "same"
        t = interleaved({
            "direct": lambda: fs.correlate(a, b, mode, "direct"),
            "fft": lambda: fs.correlate(a, b, mode, "fft"),
        }, repeat=5, stat=np.min)
        p = _params.signal_params("correlate", (a.shape, a.dtype), (b.shape, b.dtype), mode, "auto")
        md, mf = fs._times(p, numba.get_num_threads())
        rows = np.prod(p.out_shape[:-1]) * np.prod(s2[:-1]) if len(s1) > 1 else 1
        print(f"{s1} {s2} {mode} {p.macs} {rows} {t['direct']:.3e} {t['fft']:.3e} "
              f"{md:.3e} {mf:.3e}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--cpu" in sys.argv:
        _clock = time.process_time
    what = args[0] if args else "targets"
    {"targets": targets, "grid": grid, "fit": fit}[what]()
