"""Helpers shared by the CPU kernel modules (plain Python + small njit pieces)."""

from __future__ import annotations

import sys
import time

import numpy as np
from numba import njit, prange
from numba.np.ufunc import parallel as _parallel


# fastmath "contract" only: lets LLVM fuse a*b+c into FMA; no nnan/ninf/reassoc, so
# NaN/inf propagate and results stay within the stated tolerances.
NJIT_OPTS = dict(nogil=True, cache=True, fastmath={"contract"})


def split_blocks(total, parts_wanted, minimum=1):
    """Block length so that ``total`` splits into about ``parts_wanted`` blocks."""
    parts_wanted = max(1, parts_wanted)
    b = -(-total // parts_wanted)
    return max(minimum, min(total, b)) if total > 0 else 1


def launch_threads():
    """Start Numba's threading layer (once), keeping torch's thread count.

    With the OpenMP layer, Numba's pool binds to the ``libgomp`` that torch
    loaded first and, when it starts its workers, sets that library's thread
    count to ``NUMBA_NUM_THREADS``: a ``torch.set_num_threads(1)`` made
    before fastconv's first parallel call was silently undone (numba issue
    #9387; on this 2-vCPU machine torch's grouped conv (1,128,28,28)->128 then
    ran on two threads, 155 us at 200 % CPU instead of 230 us at 100 %).
    torch's count is read before the launch and set again after it; Numba's own
    thread count is not affected by torch's.
    """
    if getattr(_parallel, "_is_initialized", False):
        return
    torch = sys.modules.get("torch")
    keep = None
    if torch is not None:
        try:
            keep = torch.get_num_threads()
        except Exception:  # a partly imported or unusual torch: leave it alone
            keep = None
    _parallel._launch_threads()
    if keep is not None:
        torch.set_num_threads(keep)


def num_threads():
    """``numba.get_num_threads()``, minus its lock round trip once threads are up.

    The public function takes two locks (one of them a process-wide lock) on
    every call to make sure the threading layer is launched: about 7 us per call
    when the interpreter's caches are cold after a large kernel (measured
    interleaved with torch, grouped conv (1,128,28,28)->128: 128 vs 119 us).
    Once the layer is up, its thread-local count is read directly; anything
    unexpected (another Numba version) falls back to the public function.
    """
    if getattr(_parallel, "_is_initialized", False):
        get = getattr(_parallel, "_get_num_threads", None)
        if get is not None:
            n = get()
            if n > 0:
                return n
    launch_threads()
    return _parallel.get_num_threads()


def thread_count_getter():
    """The function behind :func:`num_threads` once the threading layer is up (one
    call instead of two and an attribute check), or :func:`num_threads` itself."""
    launch_threads()
    get = getattr(_parallel, "_get_num_threads", None)
    return num_threads if get is None or get() <= 0 else get


def set_num_threads(n):
    """``numba.set_num_threads(n)`` without the lock round trip once threads are up
    (see :func:`num_threads`); ``n`` must be in ``1..NUMBA_NUM_THREADS``."""
    if getattr(_parallel, "_is_initialized", False):
        setter = getattr(_parallel, "_set_num_threads", None)
        if setter is not None:
            setter(n)
            return
    launch_threads()
    _parallel.set_num_threads(n)


@njit(parallel=True, cache=True)
def _empty_region(a):
    for i in prange(a.size):
        a[i] += 1.0


_WAKE = {}


def wake_cost(threads):
    """Seconds one parallel region costs on ``threads`` threads with nothing to do.

    Measured once per process and thread count (median of 7 regions).  It is
    the price of waking the threading layer's workers: ~2 us with libgomp's
    default spinning workers, ~70 us on this 2-vCPU VM under
    ``OMP_WAIT_POLICY=PASSIVE`` (they sleep after every region; the bench sets
    it so that one library's idle workers do not spin against another's), and
    ~130 us with the workqueue layer.
    """
    w = _WAKE.get(threads)
    if w is None:
        a = np.zeros(max(threads, 1))
        _empty_region(a)  # compiled or loaded from the cache: not timed
        ts = []
        for _ in range(7):
            t0 = time.perf_counter()
            _empty_region(a)
            ts.append(time.perf_counter() - t0)
        w = _WAKE[threads] = sorted(ts)[3]
    return w


def serial_is_faster(seconds, threads, bound=200e-6):
    """True when a parallel call estimated at ``seconds`` on one thread should run on one.

    Splitting saves about ``seconds * (1 - 1/threads)``; waking the workers
    costs :func:`wake_cost`.  The wake cost is only measured for calls that
    could save less than ``bound`` (never for large ones).
    """
    if threads <= 1:
        return False
    saved = seconds * (1.0 - 1.0 / threads)
    return saved < bound and saved < wake_cost(threads)


def run_serial(fn, *args):
    """``fn(*args)`` with Numba's thread count at 1 (this Python thread only), then restored.

    A plain call, not a ``contextlib`` context manager: its generator protocol
    costs ~8 more Python calls, ~4 % of a small call when the
    interpreter's caches are cold (grouped g=32 (1,128,28,28) on two threads,
    each call after a torch call, medians of 8 blocks in two runs: 165 -> 159
    and 155 -> 149 us).
    """
    n = num_threads()
    set_num_threads(1)
    try:
        return fn(*args)
    finally:
        set_num_threads(n)
