"""CUDA-simulator test process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest tests_cudasim``.

The simulator must be switched on before numba is imported, so these tests run
in their own pytest process; without the variable every test here is skipped.
The normal run never collects this folder (``testpaths = ["tests"]``).

Oracles and the tolerance rule are the CPU tests' own (``tests/reference.py``,
``assert_close`` from ``tests/conftest.py``), imported by path.
"""

import importlib.util
import os
import pathlib
import sys

import pytest

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


def _load_cpu_conftest():
    spec = importlib.util.spec_from_file_location("_fastconv_cpu_conftest", TESTS / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_cpu_conftest = _load_cpu_conftest()
assert_close = _cpu_conftest.assert_close


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(
        reason="CUDA-simulator tests: run with NUMBA_ENABLE_CUDASIM=1 python -m pytest tests_cudasim"
    )
    for item in items:
        item.add_marker(pytest.mark.cudasim)
        if not SIM:
            item.add_marker(skip)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(2024)


@pytest.fixture
def small_launch():
    """Tiny blocks and a capped grid so grid-stride loops really loop in the simulator."""
    from fastconv._cuda import _launch

    with _launch.limits(threads=16, tile=(4, 4), max_blocks=3):
        yield


@pytest.fixture
def cuda():
    if not SIM:
        pytest.skip("needs NUMBA_ENABLE_CUDASIM=1")
    from numba import cuda as _cuda

    return _cuda
