"""Every example in the public docstrings runs and prints what it says."""

import doctest
import importlib

import numpy as np
import pytest

MODULES = ["fastconv", "fastconv.shapes", "fastconv.conv", "fastconv.conv_transpose",
           "fastconv.pool", "fastconv.interpolate", "fastconv.signal"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    with np.printoptions(legacy=False):
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
                              verbose=False)
    assert res.attempted > 0, f"{name} has no examples"
    assert res.failed == 0
