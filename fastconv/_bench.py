"""``python -m fastconv bench``: the standard workload table against the installed peers.

Usage::

    python -m fastconv bench [--quick] [--threads N[,M...]] [--json PATH] [--plot PATH]
                             [--only SUBSTRING] [--budget SECONDS] [--suite NAME]

``--suite resnet50`` times instead the 23 distinct convolutions of ResNet-50
at batch 1 and adds a *network total*: each layer's median weighted by the
number of times it occurs (53 convolutions), for fastconv and each peer.

For every workload the fastconv call and each installed peer that has the op
(PyTorch CPU, SciPy, OpenCV, NumPy) are warmed up once (JIT compilation is
not timed), then called *interleaved* in the same process -- rounds that call
each once, fastconv first and the peers rotated between rounds (f, torch, f,
torch, ...; f, opencv, scipy, f, scipy, opencv, ...), so that each call
follows each other one equally often; the table shows medians, GFLOP/s, the speed ratio
``peer time / fastconv time`` (> 1: fastconv is faster) and, for the
compute-bound rows, the percentage of the FMA peak measured at start-up with
a 16-accumulator ``vfma`` loop written with :mod:`fastconv._cpu._simd`.

Peers are imported lazily; missing ones are skipped, as are workloads whose
fastconv op is not present (``getattr(fastconv, name, None) is None``).
Before the first row the bench allocates and frees a 30 MiB block
(:func:`settle_allocator`): glibc serves large allocations with fresh
``mmap`` pages -- page faults on every call that allocates its output -- until
a block of that size has been freed, which then raises its threshold to that
size.  A long-running process is in that state anyway; without it the rows
that run early pay faults that later ones do not (torch's stem ran in 3.4-3.7
ms as the first convolution of a process, 1.7 ms after any larger one).
``OMP_WAIT_POLICY=PASSIVE`` is set by default (unless already set) so that
idle OpenMP workers of one library do not spin against the other's calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

# --------------------------------------------------------------------------
# FMA peak (the ceiling for compute-bound rows)
# --------------------------------------------------------------------------

from numba import njit, prange  # noqa: E402  (the bench module is imported on demand)

from ._cpu._simd import vadd, vfma, vhsum, vload  # noqa: E402


@njit(parallel=True, cache=True, nogil=True)
def _fma_loop(a, n, parts):
    """``parts`` independent 16-accumulator FMA chains of ``n`` steps (the peak probe)."""
    res = np.zeros(parts, a.dtype)
    for t in prange(parts):
        x = vload(a, 0)
        y = vload(a, 16)
        c0 = vload(a, 32)
        c1 = c0
        c2 = c0
        c3 = c0
        c4 = c0
        c5 = c0
        c6 = c0
        c7 = c0
        c8 = c0
        c9 = c0
        c10 = c0
        c11 = c0
        c12 = c0
        c13 = c0
        c14 = c0
        c15 = c0
        for _ in range(n):
            c0 = vfma(c0, x, y)
            c1 = vfma(c1, x, y)
            c2 = vfma(c2, x, y)
            c3 = vfma(c3, x, y)
            c4 = vfma(c4, x, y)
            c5 = vfma(c5, x, y)
            c6 = vfma(c6, x, y)
            c7 = vfma(c7, x, y)
            c8 = vfma(c8, x, y)
            c9 = vfma(c9, x, y)
            c10 = vfma(c10, x, y)
            c11 = vfma(c11, x, y)
            c12 = vfma(c12, x, y)
            c13 = vfma(c13, x, y)
            c14 = vfma(c14, x, y)
            c15 = vfma(c15, x, y)
        s = vadd(vadd(vadd(c0, c1), vadd(c2, c3)), vadd(vadd(c4, c5), vadd(c6, c7)))
        s2 = vadd(vadd(vadd(c8, c9), vadd(c10, c11)), vadd(vadd(c12, c13), vadd(c14, c15)))
        res[t] = vhsum(vadd(s, s2))
    return res


def measure_peak(dtype, threads, seconds=0.3):
    """Best-of-5 GFLOP/s of the FMA loop for ``dtype`` on ``threads`` threads."""
    k = _fma_loop
    lanes = 64 // np.dtype(dtype).itemsize
    a = np.full(64, 0.999, dtype)
    a[16:32] = 1e-3
    k(a, 10, threads)
    n = 100_000
    t0 = time.perf_counter()
    k(a, n, threads)
    dt = max(time.perf_counter() - t0, 1e-6)
    n = max(10_000, int(n * (seconds / 5) / dt))
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        k(a, n, threads)
        dt = time.perf_counter() - t0
        best = max(best, threads * n * 16 * lanes * 2 / dt / 1e9)
    return best


# --------------------------------------------------------------------------
# workloads
# --------------------------------------------------------------------------


class Workload:
    """One row: ``setup()`` returns (fastconv callable, {peer: callable}, gflop or None)."""

    def __init__(self, name, op, setup, quick=True, dtype="float32", compute=True, note="",
                 count=None):
        self.name = name
        self.op = op  # attribute of fastconv that must exist
        self.setup = setup
        self.quick = quick
        self.dtype = dtype
        self.compute = compute  # compute-bound: report % of peak
        self.note = note
        self.count = count  # occurrences in a network (suite totals), or None


def _rng():
    return np.random.default_rng(0)


def _torch():
    try:
        import torch
    except Exception:
        return None
    return torch


def _conv_flops(n, k, cg, out_sp, kernel):
    return 2.0 * n * k * cg * float(np.prod(out_sp)) * float(np.prod(kernel))


def _conv_setup(xs, ws, stride=1, padding=0, dilation=1, groups=1, dtype=np.float32,
                generic=False):
    def setup():
        import fastconv
        from fastconv import shapes

        nd = len(xs) - 2
        r = _rng()
        x = r.standard_normal(xs).astype(dtype)
        w = r.standard_normal(ws).astype(dtype)
        b = r.standard_normal(ws[0]).astype(dtype)
        fn = getattr(fastconv, f"conv{nd}d")
        tup = lambda v: v if isinstance(v, tuple) else (v,) * nd
        out_sp = tuple(
            shapes.conv_output_size(s, k, st, (p, p), d)
            for s, k, st, p, d in zip(xs[2:], ws[2:], tup(stride), tup(padding), tup(dilation))
        )
        out = np.empty((xs[0], ws[0]) + out_sp, dtype)

        def f():
            fn(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups, out=out)

        if generic:
            f = _force_generic(f)
        peers = {}
        torch = _torch()
        if torch is not None:
            tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
            tf = getattr(torch.nn.functional, f"conv{nd}d")
            peers["torch"] = lambda: tf(tx, tw, tb, stride, padding, dilation, groups)
        return f, peers, _conv_flops(xs[0], ws[0], ws[1], out_sp, ws[2:]) / 1e9

    return setup


def _force_generic(f):
    """Run ``f`` with the SIMD kernels declined (the generic kernels of _cpu/conv.py)."""
    from fastconv._cpu import conv_simd

    def g():
        saved = conv_simd.supported
        conv_simd.supported = lambda p: False
        try:
            f()
        finally:
            conv_simd.supported = saved

    return g


def _convt_setup():
    def setup():
        import fastconv

        r = _rng()
        x = r.standard_normal((1, 256, 16, 16)).astype(np.float32)
        w = r.standard_normal((256, 128, 4, 4)).astype(np.float32)
        b = r.standard_normal(128).astype(np.float32)
        out = np.empty((1, 128, 32, 32), np.float32)

        def f():
            fastconv.conv_transpose2d(x, w, b, stride=2, padding=1, out=out)

        peers = {}
        torch = _torch()
        if torch is not None:
            tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
            peers["torch"] = lambda: torch.nn.functional.conv_transpose2d(tx, tw, tb, 2, 1)
        return f, peers, 2.0 * 256 * 16 * 16 * 128 * 16 / 1e9

    return setup


def _depthwise_setup(xs):
    def setup():
        import fastconv

        r = _rng()
        c = xs[1]
        x = r.standard_normal(xs).astype(np.float32)
        w = r.standard_normal((c, 1, 3, 3)).astype(np.float32)
        b = r.standard_normal(c).astype(np.float32)
        out = np.empty(xs, np.float32)

        def f():
            fastconv.conv2d(x, w, b, padding=1, groups=c, out=out)

        peers = {}
        torch = _torch()
        if torch is not None:
            tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
            peers["torch"] = lambda: torch.nn.functional.conv2d(tx, tw, tb, 1, 1, 1, c)
        return f, peers, 2.0 * np.prod(xs) * 9 / 1e9

    return setup


def _maxpool_setup():
    def setup():
        import fastconv

        x = _rng().standard_normal((8, 64, 112, 112)).astype(np.float32)
        out = np.empty((8, 64, 56, 56), np.float32)

        def f():
            fastconv.max_pool2d(x, 3, stride=2, padding=1, out=out)

        peers = {}
        torch = _torch()
        if torch is not None:
            tx = torch.from_numpy(x)
            peers["torch"] = lambda: torch.nn.functional.max_pool2d(tx, 3, 2, 1)
        return f, peers, None

    return setup


def _interp_setup(xs):
    def setup():
        import fastconv

        x = _rng().standard_normal(xs).astype(np.float32)
        out = np.empty(xs[:2] + (2 * xs[2], 2 * xs[3]), np.float32)

        def f():
            fastconv.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False, out=out)

        peers = {}
        torch = _torch()
        if torch is not None:
            tx = torch.from_numpy(x)
            peers["torch"] = lambda: torch.nn.functional.interpolate(
                tx, scale_factor=2, mode="bilinear", align_corners=False)
        return f, peers, None

    return setup


def _corr2d_setup(k):
    def setup():
        import fastconv

        r = _rng()
        a = r.standard_normal((1024, 1024)).astype(np.float32)
        kern = r.standard_normal((k, k)).astype(np.float32)
        out = np.empty((1024, 1024), np.float32)

        def f():
            fastconv.signal.correlate2d(a, kern, mode="same", out=out)

        peers = {}
        try:
            import cv2

            peers["opencv"] = lambda: cv2.filter2D(a, -1, kern, borderType=cv2.BORDER_CONSTANT)
        except Exception:
            pass
        try:
            from scipy import signal

            if k <= 3:
                peers["scipy"] = lambda: signal.correlate2d(a, kern, mode="same")
        except Exception:
            pass
        return f, peers, 2.0 * 1024 * 1024 * k * k / 1e9

    return setup


def _corr1d_setup():
    def setup():
        import fastconv

        r = _rng()
        a = r.standard_normal(1_000_000).astype(np.float32)
        kern = r.standard_normal(31).astype(np.float32)

        def f():
            fastconv.signal.correlate(a, kern, mode="full", method="direct")

        peers = {"numpy": lambda: np.correlate(a, kern, mode="full")}
        try:
            from scipy import signal

            peers["scipy"] = lambda: signal.oaconvolve(a, kern[::-1], mode="full")
        except Exception:
            pass
        return f, peers, 2.0 * 1_000_000 * 31 / 1e9

    return setup


def _has_signal(name):
    def check(fc):
        sig = getattr(fc, "signal", None)
        return sig is not None and getattr(sig, name, None) is not None

    return check


def workloads():
    f64 = np.float64
    W = Workload
    return [
        W("conv2d 3x3 p1 (1,64,56,56)->64", "conv2d",
          _conv_setup((1, 64, 56, 56), (64, 64, 3, 3), padding=1)),
        W("conv2d 3x3 p1 (8,64,56,56)->64", "conv2d",
          _conv_setup((8, 64, 56, 56), (64, 64, 3, 3), padding=1), quick=False),
        W("conv2d 1x1 (1,256,56,56)->64", "conv2d",
          _conv_setup((1, 256, 56, 56), (64, 256, 1, 1))),
        W("conv2d 7x7 s2 p3 (1,3,224,224)->64", "conv2d",
          _conv_setup((1, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3)),
        W("conv2d 3x3 d2 p2 (1,128,28,28)->128", "conv2d",
          _conv_setup((1, 128, 28, 28), (128, 128, 3, 3), padding=2, dilation=2)),
        W("conv2d 3x3 g32 (1,128,28,28)->128", "conv2d",
          _conv_setup((1, 128, 28, 28), (128, 4, 3, 3), padding=1, groups=32)),
        W("conv_transpose2d k4 s2 p1 (1,256,16,16)->128", "conv_transpose2d", _convt_setup()),
        W("conv1d k5 p2 (8,64,4096)->64", "conv1d",
          _conv_setup((8, 64, 4096), (64, 64, 5), padding=2), quick=False),
        W("conv3d k3 p1 (1,32,32,32,32)->32", "conv3d",
          _conv_setup((1, 32, 32, 32, 32), (32, 32, 3, 3, 3), padding=1), quick=False),
        W("conv2d f64 3x3 p1 (1,64,56,56)->64", "conv2d",
          _conv_setup((1, 64, 56, 56), (64, 64, 3, 3), padding=1, dtype=f64), dtype="float64"),
        W("depthwise 3x3 p1 (1,256,56,56)", "conv2d", _depthwise_setup((1, 256, 56, 56))),
        W("depthwise 3x3 p1 (8,144,56,56)", "conv2d", _depthwise_setup((8, 144, 56, 56)),
          quick=False),
        W("conv2d 3x3 p1 (1,64,56,56)->64 [generic path]", "conv2d",
          _conv_setup((1, 64, 56, 56), (64, 64, 3, 3), padding=1, generic=True), quick=False),
        W("max_pool2d k3 s2 p1 (8,64,112,112)", "max_pool2d", _maxpool_setup(), quick=False,
          compute=False),
        W("bilinear x2 (8,64,64,64)", "interpolate", _interp_setup((8, 64, 64, 64)),
          quick=False, compute=False),
        W("bilinear x2 (1,3,1024,1024)", "interpolate", _interp_setup((1, 3, 1024, 1024)),
          compute=False),
        W("signal.correlate2d same 1024^2 3x3", _has_signal("correlate2d"), _corr2d_setup(3),
          compute=False),
        W("signal.correlate2d same 1024^2 7x7", _has_signal("correlate2d"), _corr2d_setup(7),
          quick=False, compute=False),
        W("signal.correlate full n=1e6 k=31", _has_signal("correlate"), _corr1d_setup(),
          quick=False, compute=False),
    ]


# (C_in, H = W, C_out, kernel, stride, occurrences): every distinct convolution of
# ResNet-50 (torchvision, stride on the 3x3 of a bottleneck) at 224x224
RESNET50 = [
    (3, 224, 64, 7, 2, 1),
    (64, 56, 64, 1, 1, 1), (64, 56, 64, 3, 1, 3), (64, 56, 256, 1, 1, 4), (256, 56, 64, 1, 1, 2),
    (256, 56, 128, 1, 1, 1), (128, 56, 128, 3, 2, 1), (128, 28, 512, 1, 1, 4),
    (256, 56, 512, 1, 2, 1), (512, 28, 128, 1, 1, 3), (128, 28, 128, 3, 1, 3),
    (512, 28, 256, 1, 1, 1), (256, 28, 256, 3, 2, 1), (256, 14, 1024, 1, 1, 6),
    (512, 28, 1024, 1, 2, 1), (1024, 14, 256, 1, 1, 5), (256, 14, 256, 3, 1, 5),
    (1024, 14, 512, 1, 1, 1), (512, 14, 512, 3, 2, 1), (512, 7, 2048, 1, 1, 3),
    (1024, 14, 2048, 1, 2, 1), (2048, 7, 512, 1, 1, 2), (512, 7, 512, 3, 1, 2),
]


def resnet50_workloads(batch=1):
    """The convolutions of ResNet-50 at ``batch``, one row per distinct shape (with its
    occurrence count), padding ``k // 2``."""
    rows = []
    for c, h, k, ks, s, n in RESNET50:
        name = f"resnet50 {ks}x{ks}{' s2' if s == 2 else ''} ({batch},{c},{h},{h})->{k} x{n}"
        rows.append(Workload(name, "conv2d", _conv_setup((batch, c, h, h), (k, c, ks, ks),
                                                         stride=s, padding=ks // 2), count=n))
    return rows


SUITES = {"standard": workloads, "resnet50": resnet50_workloads}


def suite_totals(rows):
    """Per thread count, the count-weighted sum of the medians (rows with a ``count``):
    ``{threads: {"layers", "fastconv_ms", "peers": {name: {"ms", "ratio"}}}}``.  A peer
    is totalled only when it timed every counted row of that thread count."""
    out = {}
    for th in sorted({r["threads"] for r in rows}):
        rs = [r for r in rows if r["threads"] == th and r.get("count")]
        if not rs or any("fastconv_ms" not in r for r in rs):
            continue
        tot = {"layers": sum(r["count"] for r in rs),
               "fastconv_ms": sum(r["count"] * r["fastconv_ms"] for r in rs), "peers": {}}
        for name in rs[0]["peers"]:
            if all(name in r["peers"] for r in rs):
                ms = sum(r["count"] * r["peers"][name]["ms"] for r in rs)
                tot["peers"][name] = {"ms": ms, "ratio": ms / tot["fastconv_ms"]}
        out[th] = tot
    return out


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------


def _round_orders(n):
    """Call orders of successive rounds: ``0`` first, the others rotated by one each round.

    No implementation ever follows itself (the last of a round is never ``0``),
    two alternate strictly (0 1 0 1 ...), and with three every ordered pair of
    neighbours occurs once per two rounds (0 1 2 0 2 1 ...): each call follows
    each other one equally often.
    """
    rest = list(range(1, n))
    r = 0
    while True:
        k = r % max(1, len(rest))
        yield [0] + rest[k:] + rest[:k]
        r += 1


def _interleaved(fns, budget, min_reps, max_reps):
    """Median seconds per callable over rounds that call each once (see _round_orders).

    With a fixed order (fastconv, opencv, scipy, ...) fastconv's 1024^2 filter
    always ran right after SciPy's 20 ms ``correlate2d`` -- its data had left
    the caches -- and OpenCV always right after fastconv, with warm operands.
    """
    # one timed call each to size the repetition count
    first = []
    for f in fns:
        t0 = time.perf_counter()
        f()
        first.append(time.perf_counter() - t0)
    reps = int(budget / max(sum(first), 1e-6))
    reps = max(min_reps, min(max_reps, reps))
    times = [[] for _ in fns]
    orders = _round_orders(len(fns))
    for _ in range(reps):
        for i in next(orders):
            f = fns[i]
            t0 = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times], reps


class _Progress:
    def __init__(self, total, stream=sys.stderr, width=28):
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        self.width = width
        self.t0 = time.perf_counter()

    def show(self, label):
        frac = self.done / self.total
        n = int(round(frac * self.width))
        bar = "#" * n + "." * (self.width - n)
        el = time.perf_counter() - self.t0
        msg = f"\r[{bar}] {self.done}/{self.total} {el:5.1f}s {label[:48]:<48}"
        self.stream.write(msg)
        self.stream.flush()

    def step(self, label):
        self.done += 1
        self.show(label)

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def _set_threads(n):
    import numba

    n = min(n, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(n)
    try:
        import cv2

        cv2.setNumThreads(n)
    except Exception:
        pass
    return n


def settle_allocator(nbytes=30 << 20):
    """Allocate and free ``nbytes`` (at most glibc's 32 MiB cap), so that the dynamic
    mmap threshold of glibc's malloc rises to that size: from then on allocations
    below it (every library's fresh outputs) reuse heap memory instead of faulting
    in new pages on every call -- the state of any process that has run for a while."""
    a = np.empty(nbytes, np.uint8)
    del a


def run(quick=False, threads=(1,), only=None, budget=None, progress=True, suite="standard"):
    """Run the table of ``suite`` (a key of :data:`SUITES`); returns a dict (machine
    info, peaks, rows, and for suites with occurrence counts the network totals)."""
    import fastconv

    if suite not in SUITES:
        raise ValueError(f"suite={suite!r}: expected one of {sorted(SUITES)}")
    settle_allocator()
    rows = []
    wls = [w for w in SUITES[suite]() if (w.quick or not quick)]
    if only:
        wls = [w for w in wls if only.lower() in w.name.lower()]
    budget = budget if budget is not None else (0.35 if quick else 2.0)
    min_reps, max_reps = (3, 15) if quick else (5, 61)
    prog = _Progress(len(wls) * len(threads) + len(threads)) if progress else None
    peaks = {}
    for th in threads:
        th = _set_threads(th)
        if prog:
            prog.show(f"FMA peak, {th} thread(s)")
        p32 = measure_peak(np.float32, th, 0.15 if quick else 0.4)
        p64 = measure_peak(np.float64, th, 0.15 if quick else 0.4)
        peaks[th] = {"float32": p32, "float64": p64}
        if prog:
            prog.step(f"FMA peak {p32:.0f} GFLOP/s")
        for w in wls:
            if prog:
                prog.show(f"{w.name} ({th}t)")
            row = {"workload": w.name, "threads": th, "dtype": w.dtype}
            if w.count:
                row["count"] = w.count
            present = w.op(fastconv) if callable(w.op) else getattr(fastconv, w.op, None) is not None
            if not present:
                row["skipped"] = f"fastconv op {w.op!r} not present"
                rows.append(row)
                if prog:
                    prog.step(w.name)
                continue
            try:
                f, peers, gflop = w.setup()
                t0 = time.perf_counter()
                f()  # compile / warm (not timed in the table)
                row["first_call_s"] = time.perf_counter() - t0
                for pf in peers.values():
                    pf()
                names = list(peers)
                med, reps = _interleaved([f] + [peers[k] for k in names], budget, min_reps,
                                         max_reps)
            except Exception as e:  # a broken op must not kill the table
                row["error"] = f"{type(e).__name__}: {e}"
                rows.append(row)
                if prog:
                    prog.step(w.name)
                continue
            row["reps"] = reps
            row["fastconv_ms"] = med[0] * 1e3
            row["gflops"] = gflop / med[0] if gflop else None
            if gflop and w.compute:
                row["pct_peak"] = 100.0 * row["gflops"] / peaks[th][w.dtype]
            row["peers"] = {
                k: {"ms": m * 1e3, "ratio": m / med[0], "gflops": gflop / m if gflop else None}
                for k, m in zip(names, med[1:])
            }
            rows.append(row)
            if prog:
                prog.step(w.name)
    if prog:
        prog.close()
    res = {"machine": _machine(), "peaks_gflops": peaks, "rows": rows, "suite": suite,
           "quick": quick, "method": "median of interleaved calls; ratio = peer / fastconv"}
    totals = suite_totals(rows)
    if totals:
        res["totals"] = totals
    return res


def _machine():
    import numba

    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "threading_layer": None,
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
    }
    try:
        import llvmlite.binding as ll

        info["cpu_name"] = ll.get_host_cpu_name()
    except Exception:
        pass
    try:
        info["threading_layer"] = numba.threading_layer()
    except Exception:
        pass
    torch = _torch()
    if torch is not None:
        info["torch"] = torch.__version__
    for mod in ("scipy", "cv2"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            pass
    return info


def format_table(res):
    lines = []
    peaks = res["peaks_gflops"]
    for th, pk in peaks.items():
        lines.append(f"FMA peak ({th} thread(s)): fp32 {pk['float32']:.0f} GFLOP/s, "
                     f"fp64 {pk['float64']:.0f} GFLOP/s")
    hdr = f"{'workload':<46} {'thr':>3} {'ms':>9} {'GFLOP/s':>8} {'%peak':>6}  peers (ms, ratio = peer/fastconv)"
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for r in res["rows"]:
        head = f"{r['workload']:<46} {r['threads']:>3}"
        if "skipped" in r:
            lines.append(f"{head}   skipped: {r['skipped']}")
            continue
        if "error" in r:
            lines.append(f"{head}   error: {r['error']}")
            continue
        gf = f"{r['gflops']:.1f}" if r.get("gflops") else "-"
        pp = f"{r['pct_peak']:.0f}" if r.get("pct_peak") is not None else "-"
        peers = "  ".join(f"{k} {v['ms']:.3f} ({v['ratio']:.2f}x)" for k, v in r["peers"].items())
        lines.append(f"{head} {r['fastconv_ms']:>9.3f} {gf:>8} {pp:>6}  {peers or '(no peer)'}")
    for th, tot in res.get("totals", {}).items():
        peers = "  ".join(f"{k} {v['ms']:.3f} ({v['ratio']:.2f}x)" for k, v in tot["peers"].items())
        name = f"network total ({tot['layers']} convolutions)"
        lines.append(f"{name:<46} {th:>3} {tot['fastconv_ms']:>9.3f} {'':>8} {'':>6}  "
                     f"{peers or '(no peer)'}")
    lines.append("ratio > 1: fastconv faster.  " + res["method"])
    return "\n".join(lines)


def plot(res, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        print("matplotlib is not installed; no plot written", file=sys.stderr)
        return False
    bars = []
    for r in res["rows"]:
        for k, v in r.get("peers", {}).items():
            bars.append((f"{r['workload']} [{r['threads']}t] vs {k}", v["ratio"]))
    if not bars:
        return False
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(bars) + 1.2))
    labels = [b[0] for b in bars][::-1]
    vals = [b[1] for b in bars][::-1]
    colors = ["tab:green" if v >= 1 else "tab:red" for v in vals]
    ax.barh(range(len(vals)), vals, color=colors)
    ax.set_yticks(range(len(vals)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speed ratio peer time / fastconv time (> 1: fastconv faster)")
    ax.set_title(f"fastconv vs peers, {res['machine']['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _parse_threads(s):
    out = []
    for part in str(s).split(","):
        part = part.strip()
        if part:
            v = int(part)
            if v < 1:
                raise argparse.ArgumentTypeError(f"--threads {s!r}: thread counts must be >= 1")
            out.append(v)
    if not out:
        raise argparse.ArgumentTypeError(f"--threads {s!r}: expected N or N,M,...")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m fastconv bench",
        description="Standard workload table: fastconv vs the installed peers "
                    "(medians of interleaved calls).")
    ap.add_argument("--quick", action="store_true", help="fewer workloads and repetitions (< 60 s)")
    ap.add_argument("--threads", type=_parse_threads, default=None,
                    help="thread count(s), e.g. 1 or 1,2 (default: Numba's default)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--plot", metavar="PATH", help="write a bar chart of the ratios (matplotlib)")
    ap.add_argument("--only", metavar="TEXT", help="only workloads whose name contains TEXT")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds of timed calls per workload (default 2, quick 0.35)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    ap.add_argument("--suite", choices=sorted(SUITES), default="standard",
                    help="standard: the workload table (default); resnet50: the 23 distinct "
                         "convolutions of ResNet-50 at batch 1 and their network total")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numba

    threads = args.threads or [numba.config.NUMBA_NUM_THREADS]
    res = run(quick=args.quick, threads=threads, only=args.only, budget=args.budget,
              progress=not args.no_progress, suite=args.suite)
    print(format_table(res))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1, default=str)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        if plot(res, args.plot):
            print(f"wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
