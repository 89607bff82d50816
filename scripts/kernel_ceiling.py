"""Where a 3x3 conv2d call loses FMA throughput, one level at a time.

    python scripts/kernel_ceiling.py [--channels 64] [--size 56] [--seconds 1.5]

Measures, on one thread, float32, for conv2d (1, C, S, S) -> C, 3x3, padding 1:

1. ``peak``: the FMA peak of ``fastconv bench`` (16 independent accumulators,
   no memory operands);
2. ``loop``: a synthetic loop of the 8x3 micro-kernel's shape -- per step 3
   vector loads and 8 weight broadcasts from L1, 24 FMAs into 24 accumulators;
3. ``micro-kernel``: the generated 8x3 KW=3 micro-kernel alone, called in a
   loop over a padded scratch of the call's layout (C channels, the row pitch
   of the call) that stays in L2 between calls: no gather, no weight pack, no
   Python;
4. ``call, hot``: the whole ``fastconv.conv2d`` call, repeated back to back;
5. ``call, after flush``: each call after writing 8 MiB (what any other
   library's call between two of ours does to the caches);
6. ``call, after torch``: each call after ``torch.nn.functional.conv2d`` of the
   same shapes -- the interleaved measure of ``fastconv bench`` (torch only).

Rows 4-6 count the call's useful FLOPs; rows 2-3 count the FLOPs they execute.
The steps between rows are what each layer costs: the loop shape itself, the
per-tile stores, the pad lanes and the gather, then the caches.  Timing
differs by +-5 % between runs on this VM: compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

import fastconv  # noqa: E402
from fastconv._bench import measure_peak  # noqa: E402
from fastconv._cpu._simd import vbroadcast, vfma, vload, vstore  # noqa: E402


@njit(fastmath={"contract"}, cache=True)
def _loop(xs, ws, out, reps):
    """``reps`` x 64 steps of the 8x3 tile: 3 loads, 8 broadcasts, 24 FMAs per step
    (float32, 16 lanes; the offsets cycle through 1 KiB of ``xs`` and ``ws``)."""
    a0 = vbroadcast(ws, 0)
    a1 = a0
    a2 = a0
    a3 = a0
    a4 = a0
    a5 = a0
    a6 = a0
    a7 = a0
    b0 = a0
    b1 = a0
    b2 = a0
    b3 = a0
    b4 = a0
    b5 = a0
    b6 = a0
    b7 = a0
    c0 = a0
    c1 = a0
    c2 = a0
    c3 = a0
    c4 = a0
    c5 = a0
    c6 = a0
    c7 = a0
    for _ in range(reps):
        for i in range(64):
            o = (i * 57) & 1023  # a row pitch of 57: most loads are unaligned
            x0 = vload(xs, o + 1)
            x1 = vload(xs, o + 17)
            x2 = vload(xs, o + 33)
            wb = (i * 8) & 255
            w = vbroadcast(ws, wb)
            a0 = vfma(w, x0, a0)
            b0 = vfma(w, x1, b0)
            c0 = vfma(w, x2, c0)
            w = vbroadcast(ws, wb + 1)
            a1 = vfma(w, x0, a1)
            b1 = vfma(w, x1, b1)
            c1 = vfma(w, x2, c1)
            w = vbroadcast(ws, wb + 2)
            a2 = vfma(w, x0, a2)
            b2 = vfma(w, x1, b2)
            c2 = vfma(w, x2, c2)
            w = vbroadcast(ws, wb + 3)
            a3 = vfma(w, x0, a3)
            b3 = vfma(w, x1, b3)
            c3 = vfma(w, x2, c3)
            w = vbroadcast(ws, wb + 4)
            a4 = vfma(w, x0, a4)
            b4 = vfma(w, x1, b4)
            c4 = vfma(w, x2, c4)
            w = vbroadcast(ws, wb + 5)
            a5 = vfma(w, x0, a5)
            b5 = vfma(w, x1, b5)
            c5 = vfma(w, x2, c5)
            w = vbroadcast(ws, wb + 6)
            a6 = vfma(w, x0, a6)
            b6 = vfma(w, x1, b6)
            c6 = vfma(w, x2, c6)
            w = vbroadcast(ws, wb + 7)
            a7 = vfma(w, x0, a7)
            b7 = vfma(w, x1, b7)
            c7 = vfma(w, x2, c7)
    # every accumulator is stored, so none of the work is dead
    for k, v in enumerate((a0, a1, a2, a3, a4, a5, a6, a7)):
        vstore(out, 16 * k, v)
    for k, v in enumerate((b0, b1, b2, b3, b4, b5, b6, b7)):
        vstore(out, 128 + 16 * k, v)
    for k, v in enumerate((c0, c1, c2, c3, c4, c5, c6, c7)):
        vstore(out, 256 + 16 * k, v)


def _best_rate(run, flops, seconds):
    """GFLOP/s of the fastest of 5 timed runs (after one untimed run)."""
    run()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return flops / best / 1e9


def loop_rate(seconds):
    xs = np.full(2048, 1e-3, np.float32)
    ws = np.full(512, 1e-3, np.float32)
    out = np.zeros(384, np.float32)
    reps = max(1, int(seconds / 5 * 2e9 / (64 * 24 * 16 * 2)))
    return _best_rate(lambda: _loop(xs, ws, out, reps), reps * 64 * 24 * 32, seconds)


_MK = {}


def _mk_loop():
    """An njit loop calling the generated 8x3 KW=3 micro-kernel (compiled on first use)."""
    if "f" not in _MK:
        from fastconv._cpu._conv_simd_gen import _mk_kb8_nv3_k3 as mk

        @njit
        def f(reps, xs, wp, bp, of, cg, cstride, toff, koff, qb, rp, ow, nr, ocs, pk):
            for _ in range(reps):
                mk(xs, wp, bp, of, 0, cg * 72, 0, 0, 1, 8, cg, cstride, toff, 3, koff, 3, 0,
                   qb, rp, ow, nr, 0, ocs, pk, 0)

        _MK["f"] = f
    return _MK["f"]


def micro_kernel_rate(C, S, seconds):
    """GFLOP/s of the micro-kernel over one K-block and 13 tiles of 48 pixels (the row
    pitch S + 1 of the zero-padded call; the scratch, ~C x 13 rows, stays in L2)."""
    T, ntiles = 48, 13
    rp, ow = S + 1, S
    nr = -(-ntiles * T // rp)
    cstride = ((nr + 2) * rp + T + 64) // 16 * 16 + 16
    rng = np.random.default_rng(0)
    xs = rng.standard_normal(C * cstride + 256).astype(np.float32)
    wp = rng.standard_normal(C * 72).astype(np.float32)
    bp = np.zeros(8, np.float32)
    ocs = nr * ow
    of = np.zeros(8 * ocs + 64, np.float32)
    toff = np.array([0, rp, 2 * rp], np.int64)
    koff = np.array([0, 1, 2], np.int64)
    pk = np.zeros(1, np.float32)
    f = _mk_loop()
    flops_per_call = ntiles * T * 8 * C * 9 * 2
    reps = max(1, int(seconds / 5 * 1.5e11 / flops_per_call))
    return _best_rate(lambda: f(reps, xs, wp, bp, of, C, cstride, toff, koff, ntiles * T, rp,
                                ow, nr, ocs, pk), reps * flops_per_call, seconds)


def _median_rate(f, before, flops, seconds):
    """GFLOP/s from the median time of ``f`` over ``seconds``, ``before()`` run untimed
    ahead of every call."""
    f()
    before()
    ts = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(ts) < 5:
        before()
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return flops / float(np.median(ts)) / 1e9


def call_rates(C, S, seconds):
    """{label: GFLOP/s} of the whole conv2d call: hot, after a flush, after torch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, C, S, S)).astype(np.float32)
    w = rng.standard_normal((C, C, 3, 3)).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    out = np.empty((1, C, S, S), np.float32)
    flops = 2 * C * C * 9 * S * S

    def f():
        fastconv.conv2d(x, w, b, padding=1, out=out)

    junk = np.zeros(8 << 18, np.float32)  # 8 MiB

    def flush():
        np.add(junk, 1.0, out=junk)

    rates = {"call, hot": _median_rate(f, lambda: None, flops, seconds),
             "call, after an 8 MiB flush": _median_rate(f, flush, flops, seconds)}
    try:
        import torch
    except ImportError:
        return rates
    torch.set_num_threads(1)
    tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))

    def tf():
        torch.nn.functional.conv2d(tx, tw, tb, 1, 1)

    rates["call, after torch (the bench)"] = _median_rate(f, tf, flops, seconds)
    return rates


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=64, help="C (input = output channels)")
    ap.add_argument("--size", type=int, default=56, help="S (height = width)")
    ap.add_argument("--seconds", type=float, default=1.5, help="time per row")
    args = ap.parse_args(argv)
    numba.set_num_threads(1)
    C, S, sec = args.channels, args.size, args.seconds
    print(f"conv2d (1,{C},{S},{S})->{C} 3x3 p1, float32, 1 thread")
    peak = measure_peak(np.float32, 1, min(0.4, sec))
    rows = [("FMA peak", peak),
            ("loop of the 8x3 tile's shape, L1", loop_rate(sec)),
            ("8x3 micro-kernel alone, L2", micro_kernel_rate(C, S, sec))]
    rows += list(call_rates(C, S, sec).items())
    for label, r in rows:
        print(f"  {label:34s} {r:7.1f} GFLOP/s  {100 * r / peak:5.1f} % of peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
