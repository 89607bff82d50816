"""Slow, independent oracles built from scipy.signal / numpy (float64 throughout).

Nothing here imports fastconv: every oracle is written from the definitions.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

_NP_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def dilate_kernel(k, dilation):
    """Insert ``dilation-1`` zeros between taps along every axis of ``k``."""
    d = tuple(dilation)
    shape = tuple((s - 1) * di + 1 for s, di in zip(k.shape, d))
    out = np.zeros(shape, dtype=k.dtype)
    out[tuple(slice(None, None, di) for di in d)] = k
    return out


def pad(x, lo, hi, mode="zeros"):
    """Pad the trailing ``len(lo)`` axes of ``x`` as torch's padding modes do."""
    nd = len(lo)
    widths = [(0, 0)] * (x.ndim - nd) + list(zip(lo, hi))
    return np.pad(x, widths, mode=_NP_PAD[mode])


def conv_nd(x, w, b=None, stride=1, pad_lo=0, pad_hi=None, dilation=1, groups=1, mode="zeros"):
    """torch.nn.functional.conv{nd}d on batched input, from scipy.signal.correlate(direct)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    tup = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd
    stride, dilation = tup(stride), tup(dilation)
    pad_lo = tup(pad_lo)
    pad_hi = pad_lo if pad_hi is None else tup(pad_hi)
    xp = pad(x, pad_lo, pad_hi, mode)
    N, C = x.shape[:2]
    K, Cg = w.shape[:2]
    Kg = K // groups
    outs = []
    for n in range(N):
        chans = []
        for k in range(K):
            g = k // Kg
            acc = 0.0
            for c in range(Cg):
                kern = dilate_kernel(w[k, c], dilation)
                acc = acc + signal.correlate(xp[n, g * Cg + c], kern, mode="valid", method="direct")
            acc = acc[tuple(slice(None, None, s) for s in stride)]
            if b is not None:
                acc = acc + float(b[k])
            chans.append(acc)
        outs.append(np.stack(chans))
    return np.stack(outs)


# @@ REFERENCE-TRANSPOSE @@

# @@ REFERENCE-POOL @@

# @@ REFERENCE-INTERP @@
