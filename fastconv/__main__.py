"""Command line: ``python -m fastconv info | check | bench``.

info   versions, threading layer, SIMD width, backends, Numba cache location
       (``--cuda-resources``: registers / spills / shared memory per CUDA kernel)
check  every public op on random data against a slow oracle; exits 1 on a failure
bench  the standard workload table against the installed peers (see --help)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys


def _version(mod):
    try:
        m = __import__(mod)
        return getattr(m, "__version__", "?")
    except Exception:
        return "not installed"


def _simd_width():
    try:
        import llvmlite.binding as ll

        feats = ll.get_host_cpu_features()
        name = ll.get_host_cpu_name()
        if feats.get("avx512f", False):
            return 512, name
        if feats.get("avx2", False) or feats.get("avx", False):
            return 256, name
        return 128, name
    except Exception:
        return None, "unknown"


def _cuda_status():
    """Probe the CUDA backend without failing (imports numba.cuda: only in `info`)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "simulator (NUMBA_ENABLE_CUDASIM=1)"
    try:
        from numba import cuda
    except Exception as e:
        return f"unavailable (numba.cuda import failed: {type(e).__name__})"
    try:
        if cuda.is_available():
            dev = cuda.get_current_device()
            return f"available: {dev.name.decode() if isinstance(dev.name, bytes) else dev.name}"
        return "no GPU found (install fastconv[cuda12] on a GPU machine)"
    except Exception as e:
        return f"unavailable ({type(e).__name__}: {e})"


def cmd_info(args):
    import numba
    import numpy as np

    import fastconv

    # run one tiny parallel kernel so the threading layer is initialised
    fastconv.conv2d(np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 2, 2), np.float32))
    width, cpu = _simd_width()
    cache = os.environ.get("NUMBA_CACHE_DIR") or "(default: __pycache__ beside each kernel module)"
    rows = [
        ("fastconv", fastconv.__version__),
        ("python", platform.python_version()),
        ("numpy", np.__version__),
        ("numba", numba.__version__),
        ("llvmlite", _version("llvmlite")),
        ("scipy (tests, signal fft)", _version("scipy")),
        ("torch (optional peer)", _version("torch")),
        ("cpu", f"{cpu}, {os.cpu_count()} logical cores"),
        ("SIMD width", f"{width}-bit" if width else "unknown"),
        ("threading layer", numba.threading_layer()),
        ("threads", str(numba.get_num_threads())),
        ("numba cache", cache),
        ("backend cpu", "available"),
        ("backend cuda", _cuda_status()),
    ]
    for k, v in rows:
        print(f"{k:28s} {v}")
    if args.cuda_resources:
        try:
            from ._cuda._resources import resource_report
        except ImportError as e:
            print(f"\nCUDA resource report unavailable: {e}")
            return 1
        print()
        return _print_resources(resource_report())
    return 0


def _print_resources(rows):
    rows = list(rows)
    if not rows:
        print("no CUDA kernels compiled")
        return 1
    keys = list(rows[0].keys()) if isinstance(rows[0], dict) else None
    if keys:
        print("  ".join(f"{k:>12s}" if i else f"{k:34s}" for i, k in enumerate(keys)))
        for r in rows:
            print("  ".join(f"{str(r[k]):>12s}" if i else f"{str(r[k]):34s}" for i, k in enumerate(keys)))
    else:
        for r in rows:
            print(r)
    return 0


def cmd_check(args):
    from ._check import run_check

    return 1 if run_check(backend=args.backend) else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        from . import _bench

        return _bench.main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m fastconv", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_info = sub.add_parser("info", help="versions, threading, SIMD width, backends, cache")
    p_info.add_argument("--cuda-resources", action="store_true",
                        help="compile every CUDA kernel and list registers/spills/shared memory")
    p_check = sub.add_parser("check", help="run every op against a slow oracle")
    p_check.add_argument("--backend", choices=["cpu", "cuda"], default="cpu")
    sub.add_parser("bench", help="workload table vs torch/scipy/opencv (bench --help)")
    args = ap.parse_args(argv)
    return {"info": cmd_info, "check": cmd_check}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
