"""Transposed convolution on the CUDA simulator vs ``reference.conv_transpose_nd``."""

import numpy as np
import pytest

import fastconv
from conftest import assert_close
from reference import conv_transpose_nd

pytestmark = pytest.mark.usefixtures("small_launch")
DTYPES = [np.float32, np.float64]

# (nd, x shape, w shape (C_in, C_out/g, *k), kwargs)
CASES = [
    (1, (2, 3, 5), (3, 2, 3), dict()),
    (1, (1, 4, 4), (4, 1, 3), dict(stride=3, padding=1, output_padding=2, groups=2, dilation=2)),
    (2, (1, 2, 3, 4), (2, 3, 4, 4), dict(stride=2, padding=1)),
    (2, (2, 4, 3, 3), (4, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0),
                                         dilation=(1, 2), groups=2)),
    (3, (1, 2, 2, 3, 2), (2, 2, 2, 3, 2), dict(stride=(1, 2, 2), padding=(0, 1, 0),
                                              output_padding=(0, 1, 1))),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_conv_transpose_matches_oracle(cuda, rng, case, dtype):
    nd, xs, ws, kw = CASES[case]
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1)).astype(dtype) if case % 2 == 0 else None
    fn = getattr(fastconv, f"conv_transpose{nd}d")
    y = fn(cuda.to_device(x), w, b, **kw)
    ref = conv_transpose_nd(x, w, b, **kw)
    scale = float(np.max(np.abs(conv_transpose_nd(np.abs(x), np.abs(w),
                                                  None if b is None else np.abs(b), **kw))))
    terms = xs[1] // kw.get("groups", 1) * int(np.prod(ws[2:])) + 1
    assert_close(y.copy_to_host(), ref, dtype, terms=terms, scale=scale)


def test_conv_transpose_unbatched_device_weight_and_output_size(cuda, rng):
    x = rng.standard_normal((2, 3, 3))
    w = rng.standard_normal((2, 1, 3, 3))
    y = fastconv.conv_transpose2d(cuda.to_device(x), cuda.to_device(w), None, stride=2, padding=1,
                                  output_size=(6, 6))
    assert y.shape == (1, 6, 6)
    ref = conv_transpose_nd(x[None], w, None, stride=2, padding=1, output_padding=1)[0]
    assert_close(y.copy_to_host(), ref, np.float64, terms=19,
                 scale=float(np.max(np.abs(conv_transpose_nd(np.abs(x[None]), np.abs(w),
                                                              stride=2, padding=1,
                                                              output_padding=1)))))
