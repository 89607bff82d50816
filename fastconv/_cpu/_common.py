"""Helpers shared by the CPU kernel modules (plain Python + small njit pieces)."""

from __future__ import annotations


# fastmath "contract" only: lets LLVM fuse a*b+c into FMA; no nnan/ninf/reassoc, so
# NaN/inf propagate and results stay within the stated tolerances.
NJIT_OPTS = dict(nogil=True, cache=True, fastmath={"contract"})


def split_blocks(total, parts_wanted, minimum=1):
    """Block length so that ``total`` splits into about ``parts_wanted`` blocks."""
    parts_wanted = max(1, parts_wanted)
    b = -(-total // parts_wanted)
    return max(minimum, min(total, b)) if total > 0 else 1
