"""Launch geometry for every CUDA kernel -- the one place it is computed.

Kernels use grid-stride loops, so any grid size is correct; the numbers here
only trade occupancy against launch overhead.  Tests (the CUDA simulator costs
~0.1-0.25 ms per simulated thread) shrink everything with :func:`limits`::

    with _launch.limits(threads=32, tile=(8, 4), max_blocks=2):
        ...   # tiny blocks, and grid-stride loops really loop

Plain Python, no numba.cuda import.
"""

from __future__ import annotations

import contextlib
import threading

# Defaults for real hardware.
_DEFAULTS = dict(
    threads=256,          # 1-D kernels: threads per block
    tile=(32, 8),         # tiled kernels: (x = output columns, y = output rows) per block
    max_blocks=65535,     # grid cap; grid-stride loops cover the rest
    shared_bytes=16384,   # dynamic shared memory a tiled kernel may ask for
)

_state = threading.local()


def _cfg():
    cfg = getattr(_state, "cfg", None)
    if cfg is None:
        cfg = _state.cfg = dict(_DEFAULTS)
    return cfg


@contextlib.contextmanager
def limits(threads=None, tile=None, max_blocks=None, shared_bytes=None):
    """Temporarily override launch geometry (thread-local); ``None`` keeps a value."""
    cfg = _cfg()
    old = dict(cfg)
    for k, v in dict(threads=threads, tile=tile, max_blocks=max_blocks,
                     shared_bytes=shared_bytes).items():
        if v is not None:
            cfg[k] = tuple(v) if k == "tile" else int(v)
    try:
        yield cfg
    finally:
        cfg.clear()
        cfg.update(old)


def current():
    """The launch geometry in force (a copy)."""
    return dict(_cfg())


def grid_1d(n):
    """``(blocks, threads)`` for a grid-stride loop over ``n`` items."""
    cfg = _cfg()
    t = cfg["threads"]
    blocks = max(1, min(cfg["max_blocks"], -(-int(n) // t)))
    return blocks, t


def tile_shape():
    """``(tx, ty)``: output columns x rows one block of a tiled kernel computes."""
    return _cfg()["tile"]


def grid_tiles(ntiles):
    """``(blocks, (tx, ty))`` for a block-stride loop over ``ntiles`` output tiles."""
    cfg = _cfg()
    blocks = max(1, min(cfg["max_blocks"], int(ntiles)))
    return blocks, tuple(cfg["tile"])


def shared_limit():
    """Bytes of dynamic shared memory a tiled kernel may use (else the direct kernel runs)."""
    return _cfg()["shared_bytes"]
