"""interpolate on the CUDA simulator.

Oracles: the CPU backend (tested against ``tests/reference.py``) to the
stated bound, and torch.nn.functional.interpolate when importable.
"""

import numpy as np
import pytest

import fastconv
from conftest import assert_close

pytestmark = pytest.mark.usefixtures("small_launch")
DTYPES = [np.float32, np.float64]

CASES = [
    ((1, 2, 5), dict(scale_factor=2, mode="nearest"), 1),
    ((1, 2, 4, 5), dict(size=(7, 3), mode="nearest-exact"), 1),
    ((1, 1, 3, 3, 4), dict(scale_factor=(1.5, 2, 0.5), mode="nearest"), 1),
    ((2, 1, 6), dict(size=9, mode="linear", align_corners=True), 2),
    ((1, 2, 4, 5), dict(scale_factor=2, mode="bilinear"), 4),
    ((1, 1, 5, 4), dict(size=(3, 7), mode="bilinear", align_corners=False), 4),
    ((1, 2, 4, 4), dict(scale_factor=(1.7, 2.3), mode="bicubic", align_corners=False,
                        recompute_scale_factor=False), 16),
    ((1, 1, 3, 4, 3), dict(size=(4, 5, 5), mode="trilinear", align_corners=True), 8),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_interpolate(cuda, rng, case, dtype):
    shape, kw, taps = CASES[case]
    x = rng.standard_normal(shape).astype(dtype)
    y = fastconv.interpolate(cuda.to_device(x), **kw).copy_to_host()
    cpu = fastconv.interpolate(x, **kw)
    assert y.dtype == dtype and y.shape == cpu.shape
    scale = float(np.max(np.abs(x))) * (2.0 if taps == 16 else 1.0)
    if taps == 1:
        np.testing.assert_array_equal(y, cpu)
    else:
        assert_close(y, cpu.astype(np.float64), dtype, terms=2 * taps, scale=scale)
    try:
        import torch
    except ImportError:
        return
    t = torch.nn.functional.interpolate(torch.from_numpy(x), **kw).numpy()
    if taps == 1:
        np.testing.assert_array_equal(y, t)
    else:
        assert_close(y, t.astype(np.float64), dtype, terms=2 * taps, scale=scale)
