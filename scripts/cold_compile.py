"""Cold compile of the conv family for one dtype: issue #6's "< 60 s" budget.

    python scripts/cold_compile.py [float32|float64] [--warm]

Runs itself again in a child process whose ``NUMBA_CACHE_DIR`` is a new empty
directory, so nothing is cached, and times the first call of each kernel
family, in order:

* conv2d 3x3 -> the 8x3 SIMD driver and its micro-kernels (KW 3, the generic
  KW loop and the tail tiles);
* conv2d 1x1, 5x5, 7x7 -> the same driver's other micro-kernels (all
  specialisations of one driver compile on its first call; later calls add
  nothing, which the times show);
* grouped conv2d with 4 channels per group -> the 4x4 SIMD driver;
* depthwise 3x3 "same" and depthwise 5x5 -> the two depthwise kernels;
* 1x1 convs with 3 input channels (per group) -> the generic row and
  pointwise kernels (the SIMD kernels need input channels x taps >= 4);
* conv_transpose2d k4 s2 -> the transposed kernel.

``--warm`` runs a second child with the cache the first one wrote and prints
the first call's latency in a fresh process (issue #6: "< 50 ms"), after
Numba's own start-up, which is paid by an uncached trivial function first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

CALLS = [
    ("conv2d 3x3 (8x3 driver)", "conv2d", (1, 16, 20, 20), (16, 16, 3, 3), dict(padding=1)),
    ("conv2d 1x1", "conv2d", (1, 32, 12, 12), (16, 32, 1, 1), {}),
    ("conv2d 5x5", "conv2d", (1, 8, 20, 20), (16, 8, 5, 5), dict(padding=2)),
    ("conv2d 7x7 s2", "conv2d", (1, 3, 40, 40), (16, 3, 7, 7), dict(stride=2, padding=3)),
    ("grouped 4/group (4x4 driver)", "conv2d", (1, 32, 14, 14), (32, 4, 3, 3),
     dict(padding=1, groups=8)),
    ("depthwise 3x3 same", "conv2d", (1, 16, 20, 20), (16, 1, 3, 3), dict(padding=1, groups=16)),
    ("depthwise 5x5", "conv2d", (1, 16, 20, 20), (16, 1, 5, 5), dict(padding=2, groups=16)),
    ("generic rows (grouped 1x1, 3/group)", "conv2d", (1, 6, 10, 10), (4, 3, 1, 1),
     dict(groups=2)),
    ("generic pointwise (1x1, 3 in)", "conv2d", (1, 3, 10, 10), (8, 3, 1, 1), {}),
    ("conv1d k5", "conv1d", (2, 8, 64), (8, 8, 5), dict(padding=2)),
    ("conv3d k3", "conv3d", (1, 4, 8, 8, 8), (8, 4, 3, 3, 3), dict(padding=1)),
    ("conv_transpose2d k4 s2", "conv_transpose2d", (1, 16, 8, 8), (16, 8, 4, 4),
     dict(stride=2, padding=1)),
]


def child(dtype):
    import numba
    import numpy as np

    import fastconv

    numba.njit(lambda a: a + 1)(1)  # Numba's once-per-process start-up, outside the timing
    rng = np.random.default_rng(0)
    total = 0.0
    for label, fn, xs, ws, kw in CALLS:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        t = time.perf_counter()
        getattr(fastconv, fn)(x, w, **kw)
        dt = time.perf_counter() - t
        total += dt
        print(f"  {label:32s} {dt * 1e3:9.1f} ms", flush=True)
    print(f"  {'total':32s} {total:9.2f} s", flush=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    dtype = args[0] if args else "float32"
    if os.environ.get("_FASTCONV_COLD_CHILD"):
        child(dtype)
        return
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, _FASTCONV_COLD_CHILD="1")
        # as an installed package: Python writes the .pyc of the 4800-line generated
        # module (without it, compiling that source adds ~50 ms to each warm first call)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        print(f"cold ({dtype}, empty cache):", flush=True)
        subprocess.run([sys.executable, __file__, dtype], env=env, check=True)
        if "--warm" in sys.argv:
            print(f"warm ({dtype}, the cache just written, a new process):", flush=True)
            subprocess.run([sys.executable, __file__, dtype], env=env, check=True)


if __name__ == "__main__":
    main()
