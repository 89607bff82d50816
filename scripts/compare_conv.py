"""Same-process, interleaved timing of fastconv's conv family against torch (CPU).

Usage: NUMBA_NUM_THREADS=2 python scripts/compare_conv.py [--threads N] [--repeat R]
Prints median times, GFLOP/s and the fastconv/torch speed ratio (>1 = fastconv faster).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _median_interleaved(fns, repeat):
    times = [[] for _ in fns]
    for _ in range(repeat):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    import numba

    import fastconv

    if args.threads:
        numba.set_num_threads(args.threads)
    threads = numba.get_num_threads()
    try:
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    cases = [
        ("conv2d 3x3 (1,64,56,56)->64", (1, 64, 56, 56), (64, 64, 3, 3), dict(padding=1), 1),
        ("conv2d 3x3 (8,64,56,56)->64", (8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1), 1),
        ("conv2d 1x1 (1,256,56,56)->64", (1, 256, 56, 56), (64, 256, 1, 1), dict(), 1),
        ("grouped g=32 (1,128,28,28)->128", (1, 128, 28, 28), (128, 4, 3, 3), dict(padding=1), 32),
        ("depthwise 3x3 (1,256,56,56)", (1, 256, 56, 56), (256, 1, 3, 3), dict(padding=1), 256),
        ("depthwise 3x3 (8,144,56,56)", (8, 144, 56, 56), (144, 1, 3, 3), dict(padding=1), 144),
        ("dilated 3x3 d2 (1,128,28,28)->128", (1, 128, 28, 28), (128, 128, 3, 3), dict(padding=2, dilation=2), 1),
        ("stem 7x7 s2 (1,3,224,224)->64", (1, 3, 224, 224), (64, 3, 7, 7), dict(padding=3, stride=2), 1),
    ]
    print(f"threads={threads}")
    print(f"{'case':38s} {'fastconv ms':>12s} {'GF/s':>7s} {'torch ms':>10s} {'GF/s':>7s} {'ratio':>7s}")
    for name, xs, ws, kw, g in cases:
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32)
        out = fastconv.conv2d(x, w, groups=g, **kw)
        flops = 2 * out.size * ws[1] * ws[2] * ws[3]
        fns = [lambda: fastconv.conv2d(x, w, groups=g, out=out, **kw)]
        if torch is not None:
            tx, tw = torch.from_numpy(x), torch.from_numpy(w)
            ref = F.conv2d(tx, tw, groups=g, **kw).numpy()
            err = float(np.max(np.abs(ref - out)))
            assert err < 1e-2 * max(1.0, float(np.max(np.abs(ref)))), (name, err)
            fns.append(lambda: F.conv2d(tx, tw, groups=g, **kw))
        ts = _median_interleaved(fns, args.repeat)
        tf = ts[0]
        line = f"{name:38s} {tf*1e3:12.3f} {flops/tf/1e9:7.1f}"
        if torch is not None:
            tt = ts[1]
            line += f" {tt*1e3:10.3f} {flops/tt/1e9:7.1f} {tt/tf:7.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
