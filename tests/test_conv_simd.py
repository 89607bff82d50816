"""fastconv._cpu.conv_simd (register-tiled SIMD conv) against the scipy-based oracle."""

from __future__ import annotations

import functools
import subprocess
import sys

import numba
import numpy as np
import pytest
from conftest import assert_close
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from reference import conv_nd

from fastconv import _params, shapes
from fastconv._cpu import conv_simd
from fastconv._cpu._common import run_serial

MODES = ["zeros", "reflect", "replicate", "circular"]


def _params_for(x, w, b, stride, padding, dilation, groups, mode):
    nd = w.ndim - 2
    return _params.conv_params(
        nd, (x.shape, x.dtype), (w.shape, w.dtype), None if b is None else (b.shape, b.dtype),
        stride, padding, dilation, groups, mode,
    )


def _check(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, mode="zeros"):
    p = _params_for(x, w, b, stride, padding, dilation, groups, mode)
    assert conv_simd.supported(p)
    out = np.full(p.out_shape, np.nan, p.dtype)
    res = conv_simd.conv(p, x, w, b, out)
    assert res is out
    ref = conv_nd(x, w, b, p.stride, p.pad_lo, p.pad_hi, p.dilation, groups, mode)
    absref = conv_nd(np.abs(x), np.abs(w), None if b is None else np.abs(b), p.stride,
                     p.pad_lo, p.pad_hi, p.dilation, groups, mode)
    terms = (w.shape[1] * int(np.prod(w.shape[2:]))) + 1
    assert_close(out, ref, p.dtype, terms=terms, scale=float(absref.max()) if absref.size else 1)
    return out


@st.composite
def conv_cases(draw, nd):
    dt = draw(st.sampled_from([np.float32, np.float64]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg = draw(st.integers(1, 5))
    kg = draw(st.integers(1, 11))
    k = tuple(draw(st.sampled_from([1, 2, 3, 5, 7])) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    mode = draw(st.sampled_from(MODES))
    span = [(kk - 1) * dd + 1 for kk, dd in zip(k, d)]
    if nd == 3:
        sizes = [draw(st.integers(max(1, sp - 2), sp + 4)) for sp in span]
    else:
        sizes = [draw(st.integers(max(1, sp - 2), sp + 20)) for sp in span]
    pads = []
    for sz, sp in zip(sizes, span):
        lim = sz - 1 if mode == "reflect" else (sz if mode == "circular" else 3)
        lim = max(0, min(lim, 3))
        need = max(0, sp - sz)
        if need > 2 * lim:
            return None
        lo = draw(st.integers(0, lim))
        hi = draw(st.integers(max(0, need - lo), lim)) if need - lo <= lim else lim
        if lo + hi < need:
            return None
        pads.append((lo, hi))
    return dt, groups, cg, kg, k, s, d, mode, sizes, pads


def _run_case(case, nd, seed=0):
    assume(case is not None)
    dt, groups, cg, kg, k, s, d, mode, sizes, pads = case
    rng = np.random.default_rng(seed)
    n = 2 if nd < 3 else 1
    x = rng.standard_normal((n, cg * groups) + tuple(sizes)).astype(dt)
    w = rng.standard_normal((kg * groups, cg) + k).astype(dt)
    b = rng.standard_normal(kg * groups).astype(dt)
    lo = tuple(a for a, _ in pads)
    hi = tuple(h for _, h in pads)
    out_sp = tuple(shapes.conv_output_size(sz, kk, ss, (a, h), dd)
                   for sz, kk, ss, a, h, dd in zip(sizes, k, s, lo, hi, d))
    assume(all(o >= 1 for o in out_sp))
    # asymmetric padding (as padding='same' produces) -> build the params directly
    p = _params.ConvParams(
        nd=nd, batched=True, batch=n, in_channels=cg * groups, out_channels=kg * groups,
        groups=groups, in_spatial=tuple(sizes), kernel=k, stride=s, dilation=d, pad_lo=lo,
        pad_hi=hi, padding_mode=mode, out_spatial=out_sp, dtype=np.dtype(dt), has_bias=True,
        depthwise=(cg == 1 and groups == cg * groups), out_shape=(n, kg * groups) + out_sp,
    )
    assume(conv_simd.supported(p))
    out = np.full(p.out_shape, np.nan, p.dtype)
    conv_simd.conv(p, x, w, b, out)
    ref = conv_nd(x, w, b, s, lo, hi, d, groups, mode)
    absref = conv_nd(np.abs(x), np.abs(w), np.abs(b), s, lo, hi, d, groups, mode)
    terms = cg * int(np.prod(k)) + 1
    assert_close(out, ref, dt, terms=terms, scale=float(absref.max()))


@settings(max_examples=30)
@given(conv_cases(2))
def test_conv2d_property(case):
    _run_case(case, 2)


@settings(max_examples=20)
@given(conv_cases(1))
def test_conv1d_property(case):
    _run_case(case, 1)


@settings(max_examples=10)
@given(conv_cases(3))
def test_conv3d_property(case):
    _run_case(case, 3)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("k,pad", [(1, 0), (3, 1), (3, 0), (5, 2), (7, 3), (4, 1)])
def test_conv2d_kernel_sizes(dt, k, pad, rng):
    x = rng.standard_normal((2, 9, 13, 37)).astype(dt)
    w = rng.standard_normal((19, 9, k, k)).astype(dt)
    b = rng.standard_normal(19).astype(dt)
    _check(x, w, b, padding=pad)


@pytest.mark.parametrize("mode", MODES)
def test_padding_modes_stride_dilation(mode, rng):
    x = rng.standard_normal((1, 4, 11, 17)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    _check(x, w, None, stride=(2, 3), padding=(2, 1), dilation=(2, 1), mode=mode)
    _check(x, w, None, stride=1, padding=2, dilation=2, mode=mode)

@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_shared_pad_pitch(dt, rng):
    """Stride-1 zero-padded rows share their pads: row pitch W + max(lo, hi)."""
    x = rng.standard_normal((1, 5, 9, 28)).astype(dt)
    w = rng.standard_normal((8, 5, 3, 3)).astype(dt)
    assert conv_simd._pitch(_params_for(x, w, None, 1, 2, 2, 1, "zeros")) == 30
    assert conv_simd._pitch(_params_for(x, w, None, 1, 1, 1, 1, "zeros")) == 29
    # other modes, strided rows and unpadded input keep their own layouts
    assert conv_simd._pitch(_params_for(x, w, None, 1, 1, 1, 1, "reflect")) == 30
    assert conv_simd._pitch(_params_for(x, w, None, (1, 2), 1, 1, 1, "zeros")) == 15
    assert conv_simd._pitch(_params_for(x, w, None, 1, 0, 1, 1, "zeros")) == 28
    _check(x, w, None, padding=2, dilation=2)
    _check(x, w, None, padding=(0, 1))
    _check(x, w, None, padding="same")
    # asymmetric ('same' with an even kernel) and pads wider than the kernel's
    # reach (the output is then wider than W + max(lo, hi))
    _check(x, rng.standard_normal((8, 5, 4, 4)).astype(dt), None, padding="same")
    _check(x, rng.standard_normal((8, 5, 1, 1)).astype(dt), None, padding=3)
    _check(x, rng.standard_normal((8, 5, 1, 2)).astype(dt), None, padding=(0, 3), dilation=3)



def test_grouped_uses_small_tiles(rng):
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    p = _params_for(x, w, b, 1, 1, 1, 4, "zeros")
    assert conv_simd._plan(p, 1)[0] == 4
    _check(x, w, b, padding=1, groups=4)


def test_stem_stride2(rng):
    x = rng.standard_normal((1, 3, 40, 45)).astype(np.float32)
    w = rng.standard_normal((16, 3, 7, 7)).astype(np.float32)
    _check(x, w, None, stride=2, padding=3)


def test_direct_path_reads_input_in_place(rng):
    # unpadded stride 1 -> the input is read in place; the last task falls back
    # to the scratch gather near the end of the array
    for shape in [(1, 5, 7, 9), (3, 16, 6, 50), (1, 8, 1, 3)]:
        x = rng.standard_normal(shape).astype(np.float32)
        w = rng.standard_normal((10, shape[1], 1, 1)).astype(np.float32)
        _check(x, w)
        if shape[2] >= 3 and shape[3] >= 3:
            w = rng.standard_normal((10, shape[1], 3, 3)).astype(np.float32)
            _check(x, w)
    # 1-D and 3-D, dilated, float64: the copied tail covers every tap offset
    x = rng.standard_normal((2, 3, 50)).astype(np.float64)
    _check(x, rng.standard_normal((9, 3, 5)), None, dilation=3)
    x = rng.standard_normal((1, 4, 5, 6, 7)).astype(np.float32)
    _check(x, rng.standard_normal((9, 4, 3, 2, 3)).astype(np.float32))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_tail_tiles(dt, rng):
    """The last pixels of a task run as one-vector tiles when they fit in two vectors;
    every remainder of the tile, in every layout (1x1 tile-major and K-block-major read
    in place, 3x3 in place, gathered and strided), on one thread and split."""
    T = 48 if dt == np.float32 else 24
    for wd in range(1, T + 20):
        cases = [
            ((1, 16, 1, wd), (8, 16, 1, 1), 1, 0),  # 1x1 tile-major, read in place
            ((1, 5, 1, wd), (9, 5, 1, 1), 1, 0),  # 1x1 K-block-major, read in place
            ((1, 3, 2, wd), (8, 3, 3, 3), 1, 1),  # gathered rows (pitch wd + 1)
            ((1, 3, 3, wd + 2), (8, 3, 3, 3), 1, 0),  # 3x3 read in place
            ((1, 3, 3, 2 * wd), (8, 3, 3, 3), 2, 1),  # strided phases
        ]
        for xs, ws, s, pad in cases:
            x = rng.standard_normal(xs).astype(dt)
            w = rng.standard_normal(ws).astype(dt)
            b = rng.standard_normal(ws[0]).astype(dt)
            _check(x, w, b, stride=s, padding=pad)
            if wd % 7 == 0:
                run_serial(functools.partial(_check, x, w, b, stride=s, padding=pad))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_stride2_phases(dt, rng):
    """Stride 2 along W: both column phases of the interior come from two contiguous
    loads (de-interleaved); the columns only one phase has, and the borders of every
    padding mode, are copied one by one.  Odd and even widths and paddings, dilation."""
    for wd in (5, 6, 17, 34, 35, 67):
        for pad in (0, 1, 2, 3):
            for mode, dil in (("zeros", 1), ("reflect", 1), ("circular", 2), ("zeros", 2)):
                if mode == "reflect" and pad >= wd:
                    continue
                if (3 - 1) * dil + 1 > wd + 2 * pad:
                    continue
                x = rng.standard_normal((1, 3, 5, wd)).astype(dt)
                w = rng.standard_normal((8, 3, 3, 3)).astype(dt)
                _check(x, w, None, stride=(1, 2), padding=pad, dilation=dil, mode=mode)
    x = rng.standard_normal((2, 4, 9, 40)).astype(dt)  # both axes strided, 1x1 and 7x7
    _check(x, rng.standard_normal((8, 4, 1, 1)).astype(dt), None, stride=2)
    _check(x, rng.standard_normal((8, 4, 7, 7)).astype(dt), None, stride=2, padding=3)


def _dense_reference(x, w, pad, groups):
    """float64 grouped 2-D correlation by windows and tensordot (NumPy only): an oracle
    fast enough for hundreds of channels, where the per-channel-pair SciPy one is not."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))
    cg, kg = x.shape[1] // groups, w.shape[0] // groups
    outs = []
    for g in range(groups):
        wg = w[g * kg:(g + 1) * kg].astype(np.float64)  # (kg, cg, kh, kw)
        part = win[:, g * cg:(g + 1) * cg]  # (n, cg, oh, ow, kh, kw)
        outs.append(np.tensordot(part, wg, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2))
    return np.concatenate(outs, axis=1)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_weights_packed_per_task(dt, rng, monkeypatch):
    """Weights larger than L2 with one row block per task: each task packs its own
    K-blocks (bias, K tail, groups, 1x1 and 3x3, padded and in place).  Against a
    float64 NumPy oracle; one thread and the packed-in-advance path bit for bit."""
    xs_, ws_ = rng.standard_normal((2, 6, 5, 7)), rng.standard_normal((4, 3, 3, 3))
    np.testing.assert_allclose(_dense_reference(xs_, ws_, 1, 2),  # the oracle itself
                               conv_nd(xs_, ws_, None, (1, 1), (1, 1), (1, 1), (1, 1), 2),
                               rtol=0, atol=1e-12)
    f = 1 if dt == np.float32 else 2  # half the input channels: the same bytes in float64
    cases = [
        # x shape, weight shape, padding, groups
        ((1, 256 // f, 6, 7), (256, 256 // f, 3, 3), 1, 1),
        ((2, 1024 // f, 3, 3), (300, 1024 // f, 1, 1), 0, 1),  # K tail, 1x1 in place
        ((1, 512 // f, 5, 5), (512, 256 // f, 3, 3), 0, 2),  # groups, in place
    ]
    for xs, ws, pad, g in cases:
        x = rng.standard_normal(xs).astype(dt)
        w = rng.standard_normal(ws).astype(dt)
        ref = _dense_reference(x, w, pad, g)
        absref = _dense_reference(np.abs(x), np.abs(w), pad, g)
        terms = int(np.prod(ws[1:])) + 1
        for b in (rng.standard_normal(ws[0]).astype(dt), None):
            p = _params_for(x, w, b, 1, pad, 1, g, "zeros")
            assert conv_simd._setup(p, 1, True, True, conv_simd._PACK_MIN)[9], (xs, ws)
            out = conv_simd.conv(p, x, w, b, np.empty(p.out_shape, dt))
            bias = 0.0 if b is None else b.astype(np.float64)[None, :, None, None]
            assert_close(out, ref + bias, dt, terms=terms,
                         scale=float((absref + np.abs(bias)).max()))
            np.testing.assert_array_equal(
                run_serial(conv_simd.conv, p, x, w, b, np.empty(p.out_shape, dt)), out)
            monkeypatch.setattr(conv_simd, "_WTASK", False)
            assert not conv_simd._setup(p, 1, True, True, conv_simd._PACK_MIN, False)[9]
            np.testing.assert_array_equal(conv_simd.conv(p, x, w, b, np.empty_like(out)), out)
            monkeypatch.setattr(conv_simd, "_WTASK", True)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_unpacked_weights_1x1(dt, rng, monkeypatch):
    """1x1 kernels whose per-task packing would apply, with whole 8-channel blocks: the
    micro-kernels read the user's weight rows in place (wtask == 2).  Bias or none,
    stride 1 and 2, groups, one thread and split; against a float64 NumPy oracle and
    bit for bit against the per-task packed blocks (same products, same order)."""
    f = 1 if dt == np.float32 else 2  # half the input channels: the same bytes in float64
    cases = [
        # x shape, weight shape, stride, groups
        ((1, 512 // f, 3, 5), (1024, 512 // f, 1, 1), 1, 1),
        ((1, 512 // f, 7, 6), (1024, 512 // f, 1, 1), 2, 1),
        ((1, 1024 // f, 2, 3), (1152, 512 // f, 1, 1), 1, 2),  # 576 channels per group
    ]
    saved = numba.get_num_threads()
    try:
        for xs, ws, s, g in cases:
            x = rng.standard_normal(xs).astype(dt)
            w = rng.standard_normal(ws).astype(dt)
            xv = x[:, :, ::s, ::s]  # a 1x1 at stride s reads these pixels
            ref = _dense_reference(np.ascontiguousarray(xv), w, 0, g)
            absref = _dense_reference(np.abs(np.ascontiguousarray(xv)), np.abs(w), 0, g)
            terms = ws[1] + 1
            for b in (rng.standard_normal(ws[0]).astype(dt), None):
                p = _params_for(x, w, b, s, 0, 1, g, "zeros")
                bias = 0.0 if b is None else b.astype(np.float64)[None, :, None, None]
                for th in (1, 2):
                    numba.set_num_threads(th)
                    assert conv_simd._setup(p, th, True, True, conv_simd._PACK_MIN)[9] == 2
                    out = conv_simd.conv(p, x, w, b, np.full(p.out_shape, np.nan, dt))
                    assert_close(out, ref + bias, dt, terms=terms,
                                 scale=float((absref + np.abs(bias)).max()))
                    monkeypatch.setattr(conv_simd, "_RAW", False)
                    assert conv_simd._setup(p, th, True, True, conv_simd._PACK_MIN, True, True,
                                            False)[9] == 1
                    np.testing.assert_array_equal(
                        conv_simd.conv(p, x, w, b, np.full(p.out_shape, np.nan, dt)), out)
                    monkeypatch.setattr(conv_simd, "_RAW", True)
    finally:
        numba.set_num_threads(saved)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_weights_packed_once_per_task(dt, rng, monkeypatch):
    """One image and one row block per task: each task packs its own K-blocks into
    its thread's slot of a per-call buffer, small weights too.  Cases: 4-channel
    groups (the 4 x 4 tile), a K tail, padded, in place (with its tail segment),
    strided, conv1d; on one and two threads.  Against the SciPy oracle, and bit
    for bit against the packed-in-advance path."""
    cases = [
        # x shape, weight shape, stride, padding, groups
        ((1, 32, 9, 10), (32, 4, 3, 3), 1, 1, 8),
        ((1, 12, 7, 7), (20, 12, 3, 3), 1, 0, 1),  # K tail, in place
        ((1, 6, 11, 9), (16, 3, 3, 3), 2, 1, 2),  # strided
        ((1, 16, 40), (24, 16, 5), 1, 2, 1),  # conv1d
    ]
    saved = numba.get_num_threads()
    packed_once = {1: 0, 2: 0}
    try:
        for xs, ws, s, pad, g in cases:
            x = rng.standard_normal(xs).astype(dt)
            w = rng.standard_normal(ws).astype(dt)
            b = rng.standard_normal(ws[0]).astype(dt)
            p = _params_for(x, w, b, s, pad, 1, g, "zeros")
            ref = conv_nd(x, w, b, p.stride, p.pad_lo, p.pad_hi, p.dilation, g)
            absref = conv_nd(np.abs(x), np.abs(w), np.abs(b), p.stride, p.pad_lo, p.pad_hi,
                             p.dilation, g)
            terms = ws[1] * int(np.prod(ws[2:])) + 1
            for th in (1, 2):
                numba.set_num_threads(th)
                st = conv_simd._setup(p, th, True, True, conv_simd._PACK_MIN)
                assert bool(st[9]) == (st[3] >= conv_simd._to5(p.out_spatial, p.nd)[1]), (xs, th)
                packed_once[th] += bool(st[9])
                out = conv_simd.conv(p, x, w, b, np.full(p.out_shape, np.nan, dt))
                assert_close(out, ref, dt, terms=terms, scale=float(absref.max()))
                monkeypatch.setattr(conv_simd, "_WTASK_ONCE", False)
                assert not conv_simd._setup(p, th, True, True, conv_simd._PACK_MIN, True,
                                            False)[9]
                np.testing.assert_array_equal(
                    conv_simd.conv(p, x, w, b, np.full(p.out_shape, np.nan, dt)), out)
                monkeypatch.setattr(conv_simd, "_WTASK_ONCE", True)
    finally:
        numba.set_num_threads(saved)
    assert packed_once[1] == len(cases) and packed_once[2] >= 2, packed_once


def test_direct_reads_stay_in_the_array():
    """The in-place (unpadded stride-1) layout never reads past the input: each input
    ends at a page boundary followed by an unreadable page (a read past it would crash
    the subprocess), and the results equal those of an ordinary copy."""
    code = (
        "import ctypes, mmap, numpy as np\n"
        "from fastconv import _params\n"
        "from fastconv._cpu import conv_simd\n"
        "libc = ctypes.CDLL(None)\n"
        "libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]\n"
        "keep = []\n"
        "def guarded(a):\n"
        "    n = a.nbytes\n"
        "    size = -(-n // mmap.PAGESIZE) * mmap.PAGESIZE\n"
        "    m = mmap.mmap(-1, size + mmap.PAGESIZE)\n"
        "    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))\n"
        "    assert libc.mprotect(addr + size, mmap.PAGESIZE, 0) == 0\n"
        "    keep.append(m)\n"
        "    g = np.frombuffer(m, a.dtype, a.size, size - n).reshape(a.shape)\n"
        "    g[...] = a\n"
        "    assert g.flags.writeable and g.ctypes.data + n == addr + size  # ends at the page\n"
        "    return g\n"
        "rng = np.random.default_rng(0)\n"
        "# x shape, w shape, tile-major 1x1, unpacked weights read in place\n"
        "cases = [((1, 16, 7, 7), (8, 16, 1, 1), 0, 1), ((2, 5, 7, 7), (9, 5, 1, 1), 0, 0),\n"
        "         ((1, 32, 3, 5), (16, 32, 1, 1), 0, 1), ((1, 4, 9, 9), (8, 4, 3, 3), 0, 0),\n"
        "         ((1, 3, 5, 40), (8, 3, 3, 3), 0, 0), ((1, 3, 50), (9, 3, 5), 0, 0),\n"
        "         ((1, 4, 5, 6, 7), (9, 4, 3, 2, 3), 0, 0),\n"
        "         ((1, 8, 7, 7), (16, 8, 1, 1), 0, 1), ((1, 8, 5, 5), (8, 8, 1, 1), 0, 1),\n"
        "         ((1, 16, 17, 17), (8, 16, 1, 1), 0, 1),  # few channels: K-block-major\n"
        "         ((2, 16, 7, 7), (8, 16, 1, 1), 1, 0), ((1, 72, 17, 17), (8, 72, 1, 1), 1, 0)]\n"
        "for dt in (np.float32, np.float64):\n"
        "    for xs, ws, tm, raw in cases:\n"
        "        x = rng.standard_normal(xs).astype(dt)\n"
        "        w = rng.standard_normal(ws).astype(dt)\n"
        "        p = _params.conv_params(len(ws) - 2, (x.shape, x.dtype), (w.shape, w.dtype),\n"
        "                                None, 1, 0, 1, 1, 'zeros')\n"
        "        st = conv_simd._setup(p, 1, True, True, 16)\n"
        "        assert st[5]  # the direct layout\n"
        "        assert (st[9] == 2) == bool(raw), (xs, st[9])\n"
        "        assert st[8] == bool(tm), (xs, st[8])\n"
        "        gx = guarded(x)\n"
        "        a = conv_simd.conv(p, gx, w, None, np.empty(p.out_shape, dt))\n"
        "        b = conv_simd.conv(p, x, w, None, np.empty(p.out_shape, dt))\n"
        "        assert np.array_equal(a, b), (dt, xs, ws)\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and "ok" in r.stdout, (r.returncode, r.stderr[-2000:])


def test_noncontiguous_readonly_inputs(rng):
    x = rng.standard_normal((2, 6, 14, 20)).astype(np.float64)[:, ::2, :, ::-1]
    w = np.asfortranarray(rng.standard_normal((8, 3, 3, 3)))
    b = rng.standard_normal(8)
    x.flags.writeable = False
    w.flags.writeable = False
    b.flags.writeable = False
    xc = x.copy()
    _check(x, w, b, padding=1)
    _check(np.ascontiguousarray(x), w, b)  # read-only, contiguous, direct path
    wc = np.ascontiguousarray(w)
    wc.flags.writeable = False
    _check(x, wc, b, padding=1)  # read-only C-contiguous weight and bias: packed from copies
    np.testing.assert_array_equal(x, xc)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape,groups,kb", [
    ((64, 64, 1, 3, 3), 1, 8), ((30, 6, 1, 3, 3), 3, 8), ((12, 5, 1, 3, 3), 3, 4),
    ((20, 7, 1, 1, 1), 1, 8), ((9, 2, 3, 2, 3), 1, 4), ((64, 3, 1, 7, 7), 1, 8),
])
def test_pack_matches_numpy_transpose(dt, shape, groups, kb, rng):
    # packed layout [groups][nkb][Cg][KD*KH][KW][kb], zero-padded blocks; bias [groups][nkb][kb]
    w = rng.standard_normal(shape).astype(dt)
    b = rng.standard_normal(shape[0]).astype(dt)
    K, Cg = shape[:2]
    kg = K // groups
    nkb = -(-kg // kb)
    wz = np.zeros((groups, nkb * kb) + shape[1:], dt)
    wz[:, :kg] = w.reshape((groups, kg) + shape[1:])
    ref = wz.reshape(groups, nkb, kb, -1).transpose(0, 1, 3, 2).reshape(-1)
    bz = np.zeros((groups, nkb * kb), dt)
    bz[:, :kg] = b.reshape(groups, kg)
    wp, bp = conv_simd.pack_wb(w, b, groups, kb)
    np.testing.assert_array_equal(wp, ref)
    np.testing.assert_array_equal(bp, bz.reshape(-1))
    wp0, bp0 = conv_simd.pack_wb(w, np.zeros(0, dt), groups, kb)
    np.testing.assert_array_equal(wp0, ref)
    assert not bp0.any()


def test_mixed_input_dtype_cast(rng):
    x = rng.standard_normal((1, 4, 9, 9))  # float64 input, float32 params -> cast
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    p = _params_for(x.astype(np.float32), w, None, 1, 1, 1, 1, "zeros")
    out = np.empty(p.out_shape, np.float32)
    conv_simd.conv(p, x, w, None, out)
    ref = conv_nd(x.astype(np.float32), w, None, 1, 1, 1, 1, 1)
    assert_close(out, ref, np.float32, terms=37, scale=float(np.abs(ref).max()) * 4)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_pointwise_tile_major(dt, rng, monkeypatch):
    """1x1 kernels with many input channels run tile-major with each tile's input packed;
    whole tiles of gapless rows take plain stores, the others the lane-masked ones.
    (One small image runs K-block-major by default, ``_SMALL_PIX``: switched off here
    to keep these small shapes on the tile-major path; see the test after this one.)"""
    monkeypatch.setattr(conv_simd, "_SMALL_PIX", 0)
    cases = [
        # x shape, K, stride, padding, groups
        ((2, 16, 7, 9), 8, 1, 0, 1),  # _PACK_MIN channels; direct, last tile from a copy
        ((1, 65, 5, 13), 13, 1, 0, 1),  # K tail (13): lane-masked stores for the last block
        ((2, 130, 9, 11), 64, 1, 0, 1),  # 8 K-blocks
        ((1, 40, 6, 10), 72, 1, 0, 1),  # 9 K-blocks
        ((1, 48, 11, 11), 24, 2, 0, 1),  # strided: gathered phases (rp == OW)
        ((2, 36, 7, 8), 20, 1, 1, 1),  # padded: rp != OW, lane-masked stores
        ((1, 64, 6, 7), 24, 1, 0, 2),  # 32 channels per group
        ((1, 33, 4, 4), 4, 1, 0, 1),  # 4 output channels: the 4-channel tile
    ]
    for xs, k, s, pad, g in cases:
        x = rng.standard_normal(xs).astype(dt)
        w = rng.standard_normal((k, xs[1] // g, 1, 1)).astype(dt)
        b = rng.standard_normal(k).astype(dt)
        p = _params_for(x, w, b, s, pad, 1, g, "zeros")
        assert conv_simd._setup(p, 1, True, True, conv_simd._PACK_MIN, True, True, True, 0)[8]
        _check(x, w, b, stride=s, padding=pad, groups=g)
        # one thread: one task per image, every K-block of a tile in one task
        run_serial(functools.partial(_check, x, w, b, stride=s, padding=pad, groups=g))
    # fewer channels than _PACK_MIN: K-block-major
    x = rng.standard_normal((1, 15, 5, 5)).astype(dt)
    w = rng.standard_normal((8, 15, 1, 1)).astype(dt)
    p = _params_for(x, w, None, 1, 0, 1, 1, "zeros")
    assert not conv_simd._setup(p, 1, True, True, conv_simd._PACK_MIN, True, True, True, 0)[8]
    _check(x, w)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_pointwise_small_image_not_tile_major(dt, rng):
    """One image of at most ``_SMALL_PIX`` output pixels with weights that fit in L2 runs
    K-block-major (unpacked weights with whole 8-channel blocks); more pixels or a
    second image stay tile-major.  Results against the oracle either way."""
    cases = [
        # x shape, K, tile-major expected
        ((1, 64, 14, 14), 64, False),  # 196 pixels
        ((1, 32, 16, 16), 24, False),  # 256 pixels
        ((1, 32, 16, 17), 136, True),  # 272 pixels (136 output channels: see below)
        ((2, 32, 14, 14), 24, True),  # two images
    ]
    for xs, k, tm in cases:
        x = rng.standard_normal(xs).astype(dt)
        w = rng.standard_normal((k, xs[1], 1, 1)).astype(dt)
        p = _params_for(x, w, None, 1, 0, 1, 1, "zeros")
        st = conv_simd._setup(p, 1, True, True, conv_simd._PACK_MIN, True, True, True,
                              conv_simd._SMALL_PIX)
        assert st[8] == tm and (st[9] == 2) == (not tm), (xs, st[8], st[9])
        _check(x, w)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_pointwise_few_channels_not_tile_major(dt, rng):
    """One unpadded stride-1 image whose input fits in ``_SMALL_IN`` bytes, with at most
    64 input and 128 output channels per group, runs K-block-major on the input read
    in place; past any of those bounds (or padded, strided, batched) it stays
    tile-major.  Results against the oracle either way, on one and two threads."""
    item = np.dtype(dt).itemsize
    side = int((conv_simd._SMALL_IN // (64 * item)) ** 0.5)  # 64 channels fill the bound
    cases = [
        # x shape, K, stride, padding, groups, tile-major expected
        ((1, 64, 24, 24), 64, 1, 0, 1, False),
        ((1, 16, 20, 20), 96, 1, 0, 1, False),
        ((1, 64, 20, 20), 128, 1, 0, 1, False),
        ((1, 128, 20, 20), 256, 1, 0, 2, False),  # 64 + 128 channels per group
        ((1, 64, side, side), 16, 1, 0, 1, False),  # input at the bound
        ((1, 64, side, side + 1), 16, 1, 0, 1, True),  # input past it
        ((1, 72, 20, 20), 64, 1, 0, 1, True),  # 72 input channels
        ((1, 64, 20, 20), 136, 1, 0, 1, True),  # 136 output channels
        ((1, 64, 20, 20), 64, 1, 1, 1, True),  # padded
        ((1, 64, 40, 40), 64, 2, 0, 1, True),  # strided (20x20 output: > _SMALL_PIX)
        ((2, 64, 20, 20), 64, 1, 0, 1, True),  # two images
    ]
    for xs, k, s, pad, g, tm in cases:
        x = rng.standard_normal(xs).astype(dt)
        w = rng.standard_normal((k, xs[1] // g, 1, 1)).astype(dt)
        b = rng.standard_normal(k).astype(dt)
        p = _params_for(x, w, b, s, pad, 1, g, "zeros")
        st = conv_simd._setup(p, 1, True, True, conv_simd._PACK_MIN, True, True, True,
                              conv_simd._SMALL_PIX)
        assert st[8] == tm, (xs, k, s, pad, g, st[8])
        assert conv_simd._setup(p, 1, True, True, conv_simd._PACK_MIN, True, True, True,
                                0)[8], "small_pix=0 switches the rule off"
        _check(x, w, b, stride=s, padding=pad, groups=g)
        run_serial(functools.partial(_check, x, w, b, stride=s, padding=pad, groups=g))


def test_unbatched_and_thread_split(rng):
    import numba

    x = rng.standard_normal((8, 20, 24)).astype(np.float32)  # unbatched (C, H, W)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    p = _params_for(x, w, None, 1, 1, 1, 1, "zeros")
    assert not p.batched
    out = np.empty(p.out_shape, np.float32)
    conv_simd.conv(p, x, w, None, out)
    ref = conv_nd(x[None], w, None, 1, 1, 1, 1, 1)[0]
    assert_close(out, ref, np.float32, terms=73, scale=float(np.abs(ref).max()) * 8)
    # a plan for more threads than rows still covers every output row
    for th in (1, 2, 3, 64):
        kb, nv, nkg, rb = conv_simd._plan(p, th)
        assert rb >= 1 and nkg >= 1
    assert numba.get_num_threads() >= 1


def test_scratch_reused_and_per_thread(rng):
    import threading

    x = rng.standard_normal((1, 6, 20, 21)).astype(np.float32)
    w = rng.standard_normal((8, 6, 3, 3)).astype(np.float32)
    ref = _check(x, w, None, padding=1)
    buf = conv_simd._scratch(np.float32, 1, 1)
    _check(x, w, None, padding=1)
    assert conv_simd._scratch(np.float32, 1, 1) is buf  # kept between calls
    # concurrent calls from Python threads (nogil kernels) use separate scratch
    p = _params_for(x, w, None, 1, 1, 1, 1, "zeros")
    outs = [np.empty(p.out_shape, np.float32) for _ in range(4)]
    ts = [threading.Thread(target=conv_simd.conv, args=(p, x, w, None, o)) for o in outs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for o in outs:
        np.testing.assert_array_equal(o, ref)


def test_supported_declines():
    def P(xs, ws, groups=1, dt=np.float32):
        return _params.conv_params(len(xs) - 2, (xs, np.dtype(dt)), (ws, np.dtype(dt)), None,
                                   1, 0, 1, groups, "zeros")

    assert conv_simd.supported(P((1, 8, 8, 8), (8, 8, 3, 3)))
    assert not conv_simd.supported(P((1, 8, 8, 8), (8, 1, 3, 3), groups=8))  # depthwise
    assert not conv_simd.supported(P((1, 8, 8, 8), (8, 1, 1, 1), groups=8))
    # one output channel (per group): the 4-channel tile, three channels idle
    assert conv_simd.supported(P((1, 8, 8, 8), (1, 8, 3, 3)))
    assert conv_simd.supported(P((1, 8, 8, 8), (4, 2, 3, 3), groups=4))
    # too few products per output for a tile: input channels x taps < 4
    assert not conv_simd.supported(P((1, 6, 8, 8), (6, 2, 1, 1), groups=3))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 64, 13, 11), (32, 2, 3, 3), dict(padding=1, groups=32)),
    ((1, 16, 20, 17), (1, 16, 3, 3), dict(padding=1)),
    ((1, 12, 19, 23), (4, 3, 5, 5), dict(padding=2, groups=4, stride=(1, 2))),
    ((2, 6, 40), (3, 2, 7), dict(padding=3, groups=3, dilation=2)),
    ((1, 4, 6, 7, 8), (2, 2, 3, 3, 3), dict(padding=1, groups=2)),
])
def test_one_output_channel_per_group(dt, xs, ws, kw):
    """K_g = 1 runs in the SIMD kernels (they used to decline it for the generic ones)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs).astype(dt)
    w = rng.standard_normal(ws).astype(dt)
    b = rng.standard_normal(ws[0]).astype(dt)
    x0, w0 = x.copy(), w.copy()
    _check(x, w, b, kw.get("stride", 1), kw["padding"], kw.get("dilation", 1),
           kw.get("groups", 1))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


def test_empty_output():
    x = np.zeros((0, 4, 5, 5), np.float32)
    w = np.zeros((8, 4, 3, 3), np.float32)
    p = _params_for(x, w, None, 1, 0, 1, 1, "zeros")
    out = np.empty(p.out_shape, np.float32)
    assert conv_simd.conv(p, x, w, None, out) is out


def test_generated_file_up_to_date():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, str(root / "scripts" / "gen_conv_simd.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_kernel_ceiling_script_runs():
    """scripts/kernel_ceiling.py (the throughput ladder of the Performance page) runs
    and prints every level; the rates themselves are not checked (timing)."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, str(root / "scripts" / "kernel_ceiling.py"),
                        "--channels", "8", "--size", "8", "--seconds", "0.01"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = re.findall(r"^  (.+?)\s+([0-9.]+) GFLOP/s\s+([0-9.]+) % of peak$", r.stdout, re.M)
    labels = [lab for lab, _, _ in rows]
    assert labels[:5] == ["FMA peak", "loop of the 8x3 tile's shape, L1",
                          "8x3 micro-kernel alone, L2", "call, hot",
                          "call, after an 8 MiB flush"], r.stdout
    assert all(float(g) > 0 for _, g, _ in rows)


def test_bench_cli_smoke(tmp_path, capsys):
    import json

    from fastconv import _bench

    path = tmp_path / "b.json"
    assert _bench.main(["--quick", "--only", "g32", "--budget", "0.01", "--threads", "1",
                        "--no-progress", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "conv2d 3x3 g32" in out and "FMA peak" in out
    res = json.loads(path.read_text())
    assert res["rows"] and res["rows"][0]["threads"] == 1
    row = res["rows"][0]
    assert "fastconv_ms" in row or "skipped" in row or "error" in row
    with pytest.raises(SystemExit):
        _bench.main(["--threads", "0"])


def test_bench_resnet50_suite(tmp_path, capsys):
    import json

    from fastconv import _bench

    assert sum(n for *_, n in _bench.RESNET50) == 53  # ResNet-50's convolutions
    assert len({(c, h, k, ks, s) for c, h, k, ks, s, _ in _bench.RESNET50}) == 23
    path = tmp_path / "r.json"
    assert _bench.main(["--suite", "resnet50", "--quick", "--only", "7,7)->", "--budget", "0.01",
                        "--threads", "1", "--no-progress", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    res = json.loads(path.read_text())
    assert res["suite"] == "resnet50" and len(res["rows"]) == 3
    assert sorted(r["count"] for r in res["rows"]) == [2, 2, 3]
    tot = res["totals"]["1"]
    assert tot["layers"] == 7
    assert tot["fastconv_ms"] == pytest.approx(sum(r["count"] * r["fastconv_ms"]
                                                   for r in res["rows"]))
    assert "network total (7 convolutions)" in out
    with pytest.raises(ValueError, match="suite="):
        _bench.run(suite="vgg", progress=False)


def test_bench_settles_the_allocator_first(monkeypatch):
    """run() frees a large block before the first row (see fastconv._bench.settle_allocator)."""
    from fastconv import _bench

    calls = []
    monkeypatch.setattr(_bench, "settle_allocator", lambda: calls.append("settle"))
    monkeypatch.setattr(_bench, "measure_peak", lambda *a: calls.append("peak") or 1.0)
    _bench.run(quick=True, only="no such workload", progress=False)
    assert calls[0] == "settle"


def test_suite_totals_weight_by_count():
    from fastconv._bench import suite_totals

    def row(th, n, ms, peers):
        return {"threads": th, "count": n, "fastconv_ms": ms,
                "peers": {k: {"ms": v} for k, v in peers.items()}}

    rows = [row(1, 2, 1.0, {"torch": 3.0, "scipy": 5.0}), row(1, 3, 2.0, {"torch": 1.0}),
            row(2, 1, 4.0, {"torch": 2.0}), {"threads": 1, "workload": "no count"}]
    tot = suite_totals(rows)
    assert tot[1]["layers"] == 5 and tot[1]["fastconv_ms"] == 8.0
    assert tot[1]["peers"] == {"torch": {"ms": 9.0, "ratio": 9.0 / 8.0}}  # scipy: one row only
    assert tot[2]["peers"]["torch"]["ratio"] == 0.5
    rows.append({"threads": 2, "count": 1, "error": "boom"})  # a failed row: no total
    assert 2 not in suite_totals(rows)


def test_bench_interleaving_balances_the_order():
    """Each round calls every function once, fastconv first; no call follows itself;
    two alternate strictly and with three each follows each other equally often."""
    import itertools
    from collections import Counter

    from fastconv import _bench

    def run(n, reps):
        log = []
        fns = [lambda k=k: log.append(k) for k in range(n)]
        med, got = _bench._interleaved(fns, budget=0.0, min_reps=reps, max_reps=reps)
        assert got == reps and len(med) == n and all(m >= 0 for m in med)
        return log[n:]  # after the sizing calls

    assert run(2, 5) == [0, 1] * 5
    seq = run(3, 8)
    rounds = [seq[i:i + 3] for i in range(0, len(seq), 3)]
    assert all(r[0] == 0 and sorted(r) == [0, 1, 2] for r in rounds)
    pairs = Counter(zip(seq, seq[1:]))
    assert all(a != b for a, b in pairs)
    assert set(pairs) == set(itertools.permutations(range(3), 2))
    assert max(pairs.values()) - min(pairs.values()) <= 1
    seq4 = run(4, 6)
    assert all(a != b for a, b in zip(seq4, seq4[1:]))


def test_without_avx512_same_results(tmp_path):
    """Compiled for a CPU without AVX-512 (haswell: AVX2) the 512-bit vectors are split
    by LLVM; results must be the same (first run compiles, ~30 s, then cached)."""
    import os
    import pathlib

    tests = pathlib.Path(__file__).resolve().parent
    code = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {str(tests)!r})\n"
        "from conftest import assert_close\n"
        "from fastconv import _params\n"
        "from fastconv._cpu import conv_simd\n"
        "import reference\n"
        "rng = np.random.default_rng(0)\n"
        "for dt in (np.float32, np.float64):\n"
        "    x = rng.standard_normal((2, 5, 9, 23)).astype(dt)\n"
        "    w = rng.standard_normal((11, 5, 3, 3)).astype(dt)\n"
        "    p = _params.conv_params(2, (x.shape, x.dtype), (w.shape, w.dtype), None,\n"
        "                            1, 1, 1, 1, 'reflect')\n"
        "    out = np.empty(p.out_shape, dt)\n"
        "    conv_simd.conv(p, x, w, None, out)\n"
        "    ref = reference.conv_nd(x, w, None, 1, 1, 1, 1, 1, 'reflect')\n"
        "    absref = reference.conv_nd(np.abs(x), np.abs(w), None, 1, 1, 1, 1, 1, 'reflect')\n"
        "    assert_close(out, ref, dt, terms=46, scale=float(absref.max()))\n"
        "print('ok')\n"
    )
    env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]


def test_serial_choice_model(monkeypatch):
    from fastconv._cpu import _common

    monkeypatch.setattr(_common, "_WAKE", {2: 70e-6, 3: 2e-6})
    assert _common.serial_is_faster(50e-6, 2)  # saves 25 us, waking costs 70
    assert not _common.serial_is_faster(1e-3, 2)  # saves 500 us
    assert not _common.serial_is_faster(50e-6, 3)  # spinning workers: 2 us
    assert not _common.serial_is_faster(1e-9, 1)
    # the wake cost is measured only when it could matter
    monkeypatch.setattr(_common, "wake_cost", lambda t: pytest.fail("measured"))
    assert not _common.serial_is_faster(1.0, 2)


def test_wake_cost_is_measured_once():
    from fastconv._cpu import _common

    t = _common.num_threads()
    _common._WAKE.pop(t, None)
    w = _common.wake_cost(t)
    assert 0 < w < 0.1 and _common._WAKE[t] == w and _common.wake_cost(t) == w


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_small_call_runs_on_one_thread_and_restores_the_count(monkeypatch):
    from fastconv._cpu import _common

    r = np.random.default_rng(3)
    x = r.standard_normal((1, 8, 9, 11)).astype(np.float32)
    w = r.standard_normal((16, 8, 3, 3)).astype(np.float32)
    p = _params_for(x, w, None, 1, 1, 1, 1, "zeros")
    ref = np.empty(p.out_shape, np.float32)
    saved = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        conv_simd.conv(p, x, w, None, ref)  # parallel split (the tests' default)
        monkeypatch.setattr(conv_simd, "_SERIAL_SMALL", True)
        monkeypatch.setattr(conv_simd, "serial_is_faster", lambda s, t: True)
        seen = []
        real = conv_simd._run

        def spy(*a):
            seen.append((a[-1], _common.num_threads()))
            return real(*a)

        monkeypatch.setattr(conv_simd, "_run", spy)
        out = np.full(p.out_shape, np.nan, np.float32)
        conv_simd.conv(p, x, w, None, out)
        assert seen == [(1, 1)]  # planned and run for one thread
        np.testing.assert_array_equal(out, ref)
        assert numba.get_num_threads() == 2  # restored
        monkeypatch.setattr(conv_simd, "_run", lambda *a: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            conv_simd.conv(p, x, w, None, out)
        assert numba.get_num_threads() == 2  # restored after an error too
        monkeypatch.setattr(conv_simd, "serial_is_faster", lambda s, t: False)
        seen.clear()
        monkeypatch.setattr(conv_simd, "_run", spy)
        conv_simd.conv(p, x, w, None, out)
        assert seen == [(2, 2)]
    finally:
        numba.set_num_threads(saved)


def _unaligned(a):
    """A writeable, C-contiguous copy of ``a`` whose data is not itemsize-aligned."""
    buf = np.zeros(a.nbytes + a.itemsize, np.uint8)
    u = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    u[...] = a
    assert not u.flags.aligned and u.flags.writeable and u.flags.c_contiguous
    return u


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_unaligned_operands(dt):
    """Unaligned input, weight and ``out``: the kernels get aligned copies (the task
    functions are compiled for aligned arrays only, conv_simd._tasks_sig), the
    result is the same and ``out`` is written."""
    import fastconv

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 8, 11, 13)).astype(dt)
    w = rng.standard_normal((16, 8, 3, 3)).astype(dt)
    ref = fastconv.conv2d(x, w, padding=1)
    xu, wu = _unaligned(x), _unaligned(w)
    np.testing.assert_array_equal(fastconv.conv2d(xu, wu, padding=1), ref)
    out = _unaligned(np.full_like(ref, np.nan))
    for _ in range(2):  # the second call may take a cached short path
        res = fastconv.conv2d(xu, wu, padding=1, out=out)
        assert res is out
        np.testing.assert_array_equal(out, ref)
