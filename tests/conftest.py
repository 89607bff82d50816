import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Deterministic in CI: derandomized, bounded examples, no deadline (first calls compile).
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=int(os.environ.get("FASTCONV_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Stated tolerance for every float comparison against the float64 oracles:
#   |actual - ref| <= 2 * eps(dtype) * terms * scale
# where ``terms`` is the number of products summed per output and ``scale`` the
# largest |partial sum| magnitude (by default max|ref|, or max of the oracle run
# on |x|, |w| when cancellation is possible).  That is the worst-case bound of
# recursive summation, so it can't flake; a wrong tap or index is O(scale) off.


def assert_close(actual, ref, dtype, terms=1, scale=None):
    """Compare ``actual`` (of ``dtype``) with a float64 reference, see the bound above."""
    actual = np.asarray(actual)
    ref = np.asarray(ref, np.float64)
    assert actual.shape == ref.shape, (actual.shape, ref.shape)
    assert actual.dtype == np.dtype(dtype), (actual.dtype, dtype)
    if scale is None:
        scale = float(np.max(np.abs(ref))) if ref.size else 1.0
    eps = float(np.finfo(dtype).eps)
    tol = 2 * eps * max(terms, 1) * max(scale, 1e-30) + np.finfo(dtype).tiny
    np.testing.assert_allclose(actual.astype(np.float64), ref, rtol=0, atol=tol)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="session")
def _parallel_split_on_small_shapes():
    """Keep small test shapes on the parallel split that large calls take.

    With more than one thread, ``conv_simd`` and ``conv_transpose`` run calls too small to pay for
    waking the workers on one thread (``_SERIAL_SMALL``); nearly every test shape
    is that small, so the tests switch the choice off to keep exercising the
    multi-task split.  The serial choice has its own tests (test_conv_simd.py).
    """
    from fastconv._cpu import conv_simd, conv_transpose

    mods = (conv_simd, conv_transpose)
    saved = [m._SERIAL_SMALL for m in mods]
    for m in mods:
        m._SERIAL_SMALL = False
    yield
    for m, v in zip(mods, saved):
        m._SERIAL_SMALL = v
