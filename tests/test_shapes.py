"""fastconv.shapes: torch's size rules, 'same' splits, receptive fields, parameter counts."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastconv import shapes


def test_golden_dilated_stack():
    layers = [(3, 1, r) for r in (1, 2, 5, 1, 2, 5)]
    assert shapes.stack_output_sizes(64, layers) == [62, 58, 48, 46, 42, 32]
    rf = shapes.receptive_field(layers)
    assert rf.size == 33 and rf.jump == 1
    assert rf.sizes == (3, 7, 17, 19, 23, 33)


def test_golden_param_counts():
    assert shapes.conv_params(256, 256, 3, bias=False) == 589_824
    bottleneck = (shapes.conv_params(256, 64, 1, bias=False) + shapes.conv_params(64, 64, 3, bias=False)
                  + shapes.conv_params(64, 256, 1, bias=False))
    assert bottleneck == 69_632
    assert shapes.conv_params(16, 32, 3, bias=False) == 4_608
    sep = shapes.conv_params(16, 16, 3, groups=16, bias=False) + shapes.conv_params(16, 32, 1, bias=False)
    assert sep == 656
    assert shapes.conv_params(3, 64, (7, 7)) == 3 * 64 * 49 + 64
    assert shapes.conv_params(4, 8, (3, 3, 3), groups=2) == 8 * 2 * 27 + 8


def test_golden_sizes():
    assert shapes.conv_output_size(5, 2) == 4
    assert shapes.conv_output_size(5, 2, stride=2) == 2
    assert shapes.conv_output_size(5, 2, dilation=2) == 3
    assert shapes.conv_output_size(5, 2, padding=1) == 6
    assert shapes.conv_output_size(224, 7, 2, 3) == 112
    assert shapes.conv_transpose_output_size(16, 4, 2, 1) == 32
    assert shapes.conv_transpose_output_size(126, 3) == 128
    assert shapes.conv_transpose_output_size(7, 3, 2, 1, output_padding=1) == 14
    assert shapes.pool_output_size(112, 3, 2, 1) == 56
    assert shapes.pool_output_size(5, 2, 2) == 2
    assert shapes.pool_output_size(5, 2, 2, ceil_mode=True) == 3
    # ceil_mode: the last window may not start in the right padding
    assert shapes.pool_output_size(4, 2, 2, padding=1, ceil_mode=True) == 3
    assert shapes.pool_output_size(6, 3, 3, padding=1, ceil_mode=True) == 3
    assert shapes.pool_output_size(5, 2, 2, padding=1, ceil_mode=True) == 3  # 4th window dropped
    assert shapes.conv_output_shape((10, 11), (3, 2), stride=(1, 2)) == (8, 5)
    assert shapes.conv_output_shape((8,), 3, padding=((1, 2),)) == (9,)


@pytest.mark.parametrize("k, d, expect", [(1, 1, (0, 0)), (2, 1, (0, 1)), (3, 1, (1, 1)),
                                          (4, 1, (1, 2)), (4, 2, (3, 3)), (3, 3, (3, 3)), (2, 3, (1, 2))])
def test_same_padding(k, d, expect):
    assert shapes.same_padding(k, d) == expect
    lo, hi = expect
    assert shapes.conv_output_size(13, k, 1, (lo, hi), d) == 13


def test_gridding():
    r = shapes.gridding([2, 2, 2])
    assert r.common_factor == 2 and r.has_gridding
    assert r.holes == (1, 3, 5, 7, 9, 11) and r.span == 13
    ok = shapes.gridding([1, 2, 5])
    assert not ok.has_gridding and ok.common_factor == 1 and ok.span == 17
    # rates without a common factor can still leave holes when they jump too far
    assert shapes.gridding([1, 7]).holes == (3, 4, 5, 6, 10, 11, 12, 13)
    with pytest.raises(ValueError):
        shapes.gridding([])


def _torch_pool_size(n, k, s, p, d, ceil):
    num = n + 2 * p - d * (k - 1) - 1
    out = (num + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


@given(st.integers(1, 60), st.integers(1, 7), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3),
       st.booleans())
def test_pool_size_matches_torch_formula(n, k, s, p, d, ceil):
    if p > d * (k - 1) // 2 + 0 or d * (k - 1) + 1 > n + 2 * p:
        return
    assert shapes.pool_output_size(n, k, s, p, d, ceil) == _torch_pool_size(n, k, s, p, d, ceil)


@given(st.integers(1, 50), st.integers(1, 6), st.integers(1, 4), st.integers(0, 4), st.integers(1, 4))
def test_conv_size_is_number_of_windows(n, k, s, p, d):
    span = d * (k - 1) + 1
    windows = [i for i in range(0, n + 2 * p - span + 1, s)]
    got = shapes.conv_output_size(n, k, s, p, d)
    assert got == (len(windows) if n + 2 * p >= span else got)
    if n + 2 * p >= span:
        assert got == math.floor((n + 2 * p - span) / s) + 1


@pytest.mark.parametrize("call, exc", [
    (lambda: shapes.conv_output_size(5, 0), ValueError),
    (lambda: shapes.conv_output_size(5, 2, stride=0), ValueError),
    (lambda: shapes.conv_output_size(5, 2, padding=-1), ValueError),
    (lambda: shapes.conv_output_size(5, 2.5), TypeError),
    (lambda: shapes.conv_params(4, 8, 3, groups=3), ValueError),
    (lambda: shapes.receptive_field([(3, 1, 1, 1)]), ValueError),
    (lambda: shapes.stack_output_sizes(4, [(3, 1, 2)]), ValueError),
])
def test_shape_errors(call, exc):
    with pytest.raises(exc):
        call()
