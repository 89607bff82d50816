"""Helpers shared by the CPU kernel modules (plain Python + small njit pieces)."""

from __future__ import annotations

from numba.np.ufunc import parallel as _parallel


# fastmath "contract" only: lets LLVM fuse a*b+c into FMA; no nnan/ninf/reassoc, so
# NaN/inf propagate and results stay within the stated tolerances.
NJIT_OPTS = dict(nogil=True, cache=True, fastmath={"contract"})


def split_blocks(total, parts_wanted, minimum=1):
    """Block length so that ``total`` splits into about ``parts_wanted`` blocks."""
    parts_wanted = max(1, parts_wanted)
    b = -(-total // parts_wanted)
    return max(minimum, min(total, b)) if total > 0 else 1


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
    return _parallel.get_num_threads()
