"""Smoke mode for CI: FASTCONV_ASV_SMOKE=1 keeps the first two cases of every grid.

Every benchmark class still runs (so a broken benchmark fails CI), at a fraction
of the cost; history runs (`asv run`, `asv continuous`) use the full grids.
"""

import os

SMOKE = os.environ.get("FASTCONV_ASV_SMOKE") == "1"


def cases(grid, n=2):
    """The keys of ``grid`` (all of them, or the first ``n`` in smoke mode)."""
    keys = list(grid)
    return keys[:n] if SMOKE else keys
