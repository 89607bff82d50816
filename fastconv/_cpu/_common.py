"""Helpers shared by the CPU kernel modules (plain Python + small njit pieces)."""

from __future__ import annotations

import numpy as np

# fastmath "contract" only: lets LLVM fuse a*b+c into FMA; no nnan/ninf/reassoc, so
# NaN/inf propagate and results stay within the stated tolerances.
NJIT_OPTS = dict(nogil=True, cache=True, fastmath={"contract"})


def pad_index_map(size, lo, hi, mode, length=None):
    """Source index of every padded coordinate along one axis (-1 = zero).

    ``mode`` is ``zeros``, ``reflect`` (no edge repeat, as ``numpy.pad``'s
    ``reflect``), ``replicate`` (edge) or ``circular`` (wrap).  ``length``
    truncates the map to the coordinates a kernel actually reads.
    """
    n = size + lo + hi if length is None else length
    src = np.arange(n, dtype=np.int64) - lo
    if mode == "zeros":
        src[(src < 0) | (src >= size)] = -1
    elif mode == "replicate":
        np.clip(src, 0, size - 1, out=src)
    elif mode == "circular":
        src %= size
    elif mode == "reflect":
        if size == 1:
            src[:] = 0
        else:
            period = 2 * (size - 1)
            src = np.abs(src) % period
            src = np.where(src >= size, period - src, src)
    else:  # pragma: no cover - validated earlier
        raise ValueError(mode)
    return np.ascontiguousarray(src, dtype=np.int64)


def split_blocks(total, parts_wanted, minimum=1):
    """Block length so that ``total`` splits into about ``parts_wanted`` blocks."""
    parts_wanted = max(1, parts_wanted)
    b = -(-total // parts_wanted)
    return max(minimum, min(total, b)) if total > 0 else 1
