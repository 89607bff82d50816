"""CPU transposed-convolution kernels (numba.njit, parallel), written as a gather.

Formulation (one for conv_transpose1d/2d/3d, viewed as 3-D with unit dims)
--------------------------------------------------------------------------
Along one axis with stride ``s``, padding ``p``, dilation ``d`` and kernel
size ``K``, output ``o`` receives tap ``k`` from input ``i = (o + p - k*d)/s``
when that is an integer in ``[0, L)``.  Writing ``o = q*s + r`` (``r`` the
*phase*), the taps of phase ``r`` are the ``k`` with ``(r + p - k*d) % s == 0``
and read input ``q + off`` with ``off = (r + p - k*d) // s``.  So each phase
is a dense correlation over ``q`` with a small sub-kernel.

The weight is packed once per call into, for every (group, block of ``KB``
output channels, phase), a ``[taps][C_in/groups][KB]`` run
(:func:`pack_plan` gives the offsets), so the micro-kernel streams its weights
contiguously.  When a block is used by a single task (one image, one output
depth, one row block -- the common inference case) that task packs it into a
local buffer right before using it (``_pack_block``: in cache, no
weight-sized temporary); otherwise ``_pack`` packs the whole weight up front.

``_tconv`` runs in parallel over tasks = (batch, group, block of output
channels, output depth, block of ``q`` rows).  A task copies the input rows it
reads (all phases share them) into a small zero-bordered scratch slab -- the
padding is never materialised for the whole input -- then, per channel block
and phase, runs a register-tiled micro-kernel: 4 vectors of ``q`` positions
(each ``V`` lanes: 16 float32 / 8 float64, explicit ``<V x float>`` LLVM
vectors) x ``KB = 6`` output channels = 24 accumulators held in registers
across the whole ``taps x C_in/groups`` reduction (tap-major; phases of
exactly 4 taps -- 2x2 sub-kernels, e.g. k4 s2 -- take ``_micro4``, unrolled and
channel-major, so a channel's rows come from L2 once for all its taps: 1.12x
on (1,256,16,16)->128 k4 s2 p1), then scatters the tile into
the interleaved output (``o = q*s + r``) adding the bias.  Every output element
is written exactly once by exactly one task, by the same sequence of
operations whatever the task split: no races, results identical for any
thread count, no col2im buffer (memory: output + inputs + per-task scratch,
plus one packed copy of the weight when blocks are shared by several tasks).
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import cgutils, types
from numba.extending import intrinsic, models, register_model

from .._params import ConvParams
from ._common import (
    NJIT_OPTS, TaskLaunch, entry, function_at, num_threads, run_serial, serial_is_faster,
)
from ._simd import lanes, vgather, vstore_masked


KB = 6  # output channels per micro-tile (register block)
PACK_CH = 8  # input channels per weight-pack step (PACK_CH * KB = 48: whole vectors)
NV = 4  # vectors of output positions per micro-tile
MIN_TASK_FLOPS = 4_000_000  # below ~40 us of work per task, do not split further
# rough one-thread costs for the task split (:func:`_split`): elements copied into
# the scratch slab and weights packed per second, the fixed cost of a task and of
# the extra parallel region that packs the whole weight up front
_FILL_RATE = 4e9
_PACK_RATE = 2.5e9
_TASK_SECONDS = 3e-6
_REGION_SECONDS = 15e-6

# --------------------------------------------------------------------------
# a minimal explicit SIMD vector type: <16 x float> / <8 x double>
# --------------------------------------------------------------------------


class FcVec(types.Type):
    """An LLVM vector of ``lanes`` floats (register value, no memory)."""

    def __init__(self, dtype, lanes):
        self.dtype = dtype
        self.lanes = lanes
        super().__init__(name=f"FcVec({dtype}x{lanes})")


@register_model(FcVec)
class _FcVecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        elem = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(elem, fe_type.lanes))


def _vec_of(arr):
    if not isinstance(arr, types.Array) or arr.dtype not in (types.float32, types.float64):
        return None
    return FcVec(arr.dtype, 16 if arr.dtype == types.float32 else 8)


def _elem_ptr(context, builder, aty, arr, idx):
    ary = context.make_array(aty)(context, builder, arr)
    return builder.gep(ary.data, [idx])


@intrinsic
def vload(typingctx, arr, idx):
    """``lanes`` consecutive elements of a contiguous array from flat index ``idx``."""
    vt = _vec_of(arr)
    if vt is None:
        return None
    sig = vt(arr, types.intp)

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1])
        llvt = context.get_value_type(sig.return_type)
        vptr = builder.bitcast(ptr, llvt.as_pointer())
        return builder.load(vptr, align=context.get_abi_sizeof(llvt.element))

    return sig, codegen


@intrinsic
def vstore(typingctx, arr, idx, v):
    """Store vector ``v`` at flat index ``idx`` of a contiguous array."""
    vt = _vec_of(arr)
    if vt is None or not isinstance(v, FcVec):
        return None
    sig = types.void(arr, types.intp, vt)

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1])
        llvt = context.get_value_type(sig.args[2])
        vptr = builder.bitcast(ptr, llvt.as_pointer())
        builder.store(args[2], vptr, align=context.get_abi_sizeof(llvt.element))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vbcast(typingctx, arr, idx):
    """Vector with every lane equal to ``arr[idx]``."""
    vt = _vec_of(arr)
    if vt is None:
        return None
    sig = vt(arr, types.intp)

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1])
        val = builder.load(ptr)
        llvt = context.get_value_type(sig.return_type)
        undef = ir.Constant(llvt, ir.Undefined)
        v = builder.insert_element(undef, val, ir.Constant(ir.IntType(32), 0))
        mask = ir.Constant(ir.VectorType(ir.IntType(32), llvt.count), [0] * llvt.count)
        return builder.shuffle_vector(v, undef, mask)

    return sig, codegen


@intrinsic
def vzero(typingctx, arr):
    """Zero vector with the lane type of ``arr``."""
    vt = _vec_of(arr)
    if vt is None:
        return None
    sig = vt(arr)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(sig.return_type), None)

    return sig, codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """``a * b + c`` lane-wise, one fused multiply-add."""
    if not (isinstance(a, FcVec) and a == b == c):
        return None
    sig = a(a, a, a)

    def codegen(context, builder, sig, args):
        llvt = context.get_value_type(sig.return_type)
        bits = 32 if sig.return_type.dtype == types.float32 else 64
        fnty = ir.FunctionType(llvt, [llvt, llvt, llvt])
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fma.v{llvt.count}f{bits}")
        return builder.call(fn, list(args))

    return sig, codegen


# --------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------


@njit(**NJIT_OPTS)
def _micro(xs, plane, cg, toffs, twi, nt, wp, wb, o0, o1, o2, o3, tile, V):
    """tile[(i*KB + kk)*V : +V] = sum over t, c of
    xs[c*plane + toffs[t] + o_i : +V] * wp[wb + twi[t] + c*KB + kk].

    24 accumulators (4 position vectors x KB=6 channels) stay in registers for
    the whole reduction; each input vector feeds 6 FMAs, each weight 4.
    """
    a00 = vzero(xs)
    a01 = a00
    a02 = a00
    a03 = a00
    a04 = a00
    a05 = a00
    a10 = a00
    a11 = a00
    a12 = a00
    a13 = a00
    a14 = a00
    a15 = a00
    a20 = a00
    a21 = a00
    a22 = a00
    a23 = a00
    a24 = a00
    a25 = a00
    a30 = a00
    a31 = a00
    a32 = a00
    a33 = a00
    a34 = a00
    a35 = a00
    for t in range(nt):
        xt = toffs[t]
        wt = wb + twi[t]
        for c in range(cg):
            xo = xt + c * plane
            wo = wt + c * KB
            x0 = vload(xs, xo + o0)
            x1 = vload(xs, xo + o1)
            x2 = vload(xs, xo + o2)
            x3 = vload(xs, xo + o3)
            w = vbcast(wp, wo)
            a00 = vfma(x0, w, a00)
            a10 = vfma(x1, w, a10)
            a20 = vfma(x2, w, a20)
            a30 = vfma(x3, w, a30)
            w = vbcast(wp, wo + 1)
            a01 = vfma(x0, w, a01)
            a11 = vfma(x1, w, a11)
            a21 = vfma(x2, w, a21)
            a31 = vfma(x3, w, a31)
            w = vbcast(wp, wo + 2)
            a02 = vfma(x0, w, a02)
            a12 = vfma(x1, w, a12)
            a22 = vfma(x2, w, a22)
            a32 = vfma(x3, w, a32)
            w = vbcast(wp, wo + 3)
            a03 = vfma(x0, w, a03)
            a13 = vfma(x1, w, a13)
            a23 = vfma(x2, w, a23)
            a33 = vfma(x3, w, a33)
            w = vbcast(wp, wo + 4)
            a04 = vfma(x0, w, a04)
            a14 = vfma(x1, w, a14)
            a24 = vfma(x2, w, a24)
            a34 = vfma(x3, w, a34)
            w = vbcast(wp, wo + 5)
            a05 = vfma(x0, w, a05)
            a15 = vfma(x1, w, a15)
            a25 = vfma(x2, w, a25)
            a35 = vfma(x3, w, a35)
    vstore(tile, 0 * V, a00)
    vstore(tile, 1 * V, a01)
    vstore(tile, 2 * V, a02)
    vstore(tile, 3 * V, a03)
    vstore(tile, 4 * V, a04)
    vstore(tile, 5 * V, a05)
    vstore(tile, 6 * V, a10)
    vstore(tile, 7 * V, a11)
    vstore(tile, 8 * V, a12)
    vstore(tile, 9 * V, a13)
    vstore(tile, 10 * V, a14)
    vstore(tile, 11 * V, a15)
    vstore(tile, 12 * V, a20)
    vstore(tile, 13 * V, a21)
    vstore(tile, 14 * V, a22)
    vstore(tile, 15 * V, a23)
    vstore(tile, 16 * V, a24)
    vstore(tile, 17 * V, a25)
    vstore(tile, 18 * V, a30)
    vstore(tile, 19 * V, a31)
    vstore(tile, 20 * V, a32)
    vstore(tile, 21 * V, a33)
    vstore(tile, 22 * V, a34)
    vstore(tile, 23 * V, a35)


@njit(**NJIT_OPTS)
def _micro4(xs, plane, cg, toffs, twi, wp, wb, o0, o1, o2, o3, tile, V):
    """:func:`_micro` for phases of exactly 4 taps (2x2: k4 s2, k2 s1, ...), channel-major.

    The 4 taps of one channel read overlapping rows: taken together per channel,
    those rows come from L2 once and the other taps hit L1 (tap-major re-streams
    the whole channel slab from L2 once per tap).
    """
    a00 = vzero(xs)
    a01 = a00
    a02 = a00
    a03 = a00
    a04 = a00
    a05 = a00
    a10 = a00
    a11 = a00
    a12 = a00
    a13 = a00
    a14 = a00
    a15 = a00
    a20 = a00
    a21 = a00
    a22 = a00
    a23 = a00
    a24 = a00
    a25 = a00
    a30 = a00
    a31 = a00
    a32 = a00
    a33 = a00
    a34 = a00
    a35 = a00
    t0 = toffs[0]
    t1 = toffs[1]
    t2 = toffs[2]
    t3 = toffs[3]
    w0 = wb + twi[0]
    w1 = wb + twi[1]
    w2 = wb + twi[2]
    w3 = wb + twi[3]
    for c in range(cg):
        xc = c * plane
        wc = c * KB
        xo = xc + t0
        wo = w0 + wc
        x0 = vload(xs, xo + o0)
        x1 = vload(xs, xo + o1)
        x2 = vload(xs, xo + o2)
        x3 = vload(xs, xo + o3)
        w = vbcast(wp, wo)
        a00 = vfma(x0, w, a00)
        a10 = vfma(x1, w, a10)
        a20 = vfma(x2, w, a20)
        a30 = vfma(x3, w, a30)
        w = vbcast(wp, wo + 1)
        a01 = vfma(x0, w, a01)
        a11 = vfma(x1, w, a11)
        a21 = vfma(x2, w, a21)
        a31 = vfma(x3, w, a31)
        w = vbcast(wp, wo + 2)
        a02 = vfma(x0, w, a02)
        a12 = vfma(x1, w, a12)
        a22 = vfma(x2, w, a22)
        a32 = vfma(x3, w, a32)
        w = vbcast(wp, wo + 3)
        a03 = vfma(x0, w, a03)
        a13 = vfma(x1, w, a13)
        a23 = vfma(x2, w, a23)
        a33 = vfma(x3, w, a33)
        w = vbcast(wp, wo + 4)
        a04 = vfma(x0, w, a04)
        a14 = vfma(x1, w, a14)
        a24 = vfma(x2, w, a24)
        a34 = vfma(x3, w, a34)
        w = vbcast(wp, wo + 5)
        a05 = vfma(x0, w, a05)
        a15 = vfma(x1, w, a15)
        a25 = vfma(x2, w, a25)
        a35 = vfma(x3, w, a35)
        xo = xc + t1
        wo = w1 + wc
        x0 = vload(xs, xo + o0)
        x1 = vload(xs, xo + o1)
        x2 = vload(xs, xo + o2)
        x3 = vload(xs, xo + o3)
        w = vbcast(wp, wo)
        a00 = vfma(x0, w, a00)
        a10 = vfma(x1, w, a10)
        a20 = vfma(x2, w, a20)
        a30 = vfma(x3, w, a30)
        w = vbcast(wp, wo + 1)
        a01 = vfma(x0, w, a01)
        a11 = vfma(x1, w, a11)
        a21 = vfma(x2, w, a21)
        a31 = vfma(x3, w, a31)
        w = vbcast(wp, wo + 2)
        a02 = vfma(x0, w, a02)
        a12 = vfma(x1, w, a12)
        a22 = vfma(x2, w, a22)
        a32 = vfma(x3, w, a32)
        w = vbcast(wp, wo + 3)
        a03 = vfma(x0, w, a03)
        a13 = vfma(x1, w, a13)
        a23 = vfma(x2, w, a23)
        a33 = vfma(x3, w, a33)
        w = vbcast(wp, wo + 4)
        a04 = vfma(x0, w, a04)
        a14 = vfma(x1, w, a14)
        a24 = vfma(x2, w, a24)
        a34 = vfma(x3, w, a34)
        w = vbcast(wp, wo + 5)
        a05 = vfma(x0, w, a05)
        a15 = vfma(x1, w, a15)
        a25 = vfma(x2, w, a25)
        a35 = vfma(x3, w, a35)
        xo = xc + t2
        wo = w2 + wc
        x0 = vload(xs, xo + o0)
        x1 = vload(xs, xo + o1)
        x2 = vload(xs, xo + o2)
        x3 = vload(xs, xo + o3)
        w = vbcast(wp, wo)
        a00 = vfma(x0, w, a00)
        a10 = vfma(x1, w, a10)
        a20 = vfma(x2, w, a20)
        a30 = vfma(x3, w, a30)
        w = vbcast(wp, wo + 1)
        a01 = vfma(x0, w, a01)
        a11 = vfma(x1, w, a11)
        a21 = vfma(x2, w, a21)
        a31 = vfma(x3, w, a31)
        w = vbcast(wp, wo + 2)
        a02 = vfma(x0, w, a02)
        a12 = vfma(x1, w, a12)
        a22 = vfma(x2, w, a22)
        a32 = vfma(x3, w, a32)
        w = vbcast(wp, wo + 3)
        a03 = vfma(x0, w, a03)
        a13 = vfma(x1, w, a13)
        a23 = vfma(x2, w, a23)
        a33 = vfma(x3, w, a33)
        w = vbcast(wp, wo + 4)
        a04 = vfma(x0, w, a04)
        a14 = vfma(x1, w, a14)
        a24 = vfma(x2, w, a24)
        a34 = vfma(x3, w, a34)
        w = vbcast(wp, wo + 5)
        a05 = vfma(x0, w, a05)
        a15 = vfma(x1, w, a15)
        a25 = vfma(x2, w, a25)
        a35 = vfma(x3, w, a35)
        xo = xc + t3
        wo = w3 + wc
        x0 = vload(xs, xo + o0)
        x1 = vload(xs, xo + o1)
        x2 = vload(xs, xo + o2)
        x3 = vload(xs, xo + o3)
        w = vbcast(wp, wo)
        a00 = vfma(x0, w, a00)
        a10 = vfma(x1, w, a10)
        a20 = vfma(x2, w, a20)
        a30 = vfma(x3, w, a30)
        w = vbcast(wp, wo + 1)
        a01 = vfma(x0, w, a01)
        a11 = vfma(x1, w, a11)
        a21 = vfma(x2, w, a21)
        a31 = vfma(x3, w, a31)
        w = vbcast(wp, wo + 2)
        a02 = vfma(x0, w, a02)
        a12 = vfma(x1, w, a12)
        a22 = vfma(x2, w, a22)
        a32 = vfma(x3, w, a32)
        w = vbcast(wp, wo + 3)
        a03 = vfma(x0, w, a03)
        a13 = vfma(x1, w, a13)
        a23 = vfma(x2, w, a23)
        a33 = vfma(x3, w, a33)
        w = vbcast(wp, wo + 4)
        a04 = vfma(x0, w, a04)
        a14 = vfma(x1, w, a14)
        a24 = vfma(x2, w, a24)
        a34 = vfma(x3, w, a34)
        w = vbcast(wp, wo + 5)
        a05 = vfma(x0, w, a05)
        a15 = vfma(x1, w, a15)
        a25 = vfma(x2, w, a25)
        a35 = vfma(x3, w, a35)
    vstore(tile, 0 * V, a00)
    vstore(tile, 1 * V, a01)
    vstore(tile, 2 * V, a02)
    vstore(tile, 3 * V, a03)
    vstore(tile, 4 * V, a04)
    vstore(tile, 5 * V, a05)
    vstore(tile, 6 * V, a10)
    vstore(tile, 7 * V, a11)
    vstore(tile, 8 * V, a12)
    vstore(tile, 9 * V, a13)
    vstore(tile, 10 * V, a14)
    vstore(tile, 11 * V, a15)
    vstore(tile, 12 * V, a20)
    vstore(tile, 13 * V, a21)
    vstore(tile, 14 * V, a22)
    vstore(tile, 15 * V, a23)
    vstore(tile, 16 * V, a24)
    vstore(tile, 17 * V, a25)
    vstore(tile, 18 * V, a30)
    vstore(tile, 19 * V, a31)
    vstore(tile, 20 * V, a32)
    vstore(tile, 21 * V, a33)
    vstore(tile, 22 * V, a34)
    vstore(tile, 23 * V, a35)


@njit(**NJIT_OPTS)
def _fill(x, n, ci0, cg, didx, ndv, ih0, nrs, iw0, xw, xs):
    """xs[c, j, r, col] = x[n, ci0+c, didx[j], ih0+r, iw0+col] (zero outside the input).

    Flat indexing throughout (no per-row array views, which cost reference
    counting in Numba).
    """
    C, ID, IH, IW = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    xf = x.reshape(-1)
    lo = min(max(0, -iw0), xw)  # leading zero columns
    hi = min(max(lo, IW - iw0), xw)  # end of copied columns
    for c in range(cg):
        for j in range(ndv):
            pbase = ((n * C + ci0 + c) * ID + didx[j]) * IH
            for r in range(nrs):
                base = ((c * ndv + j) * nrs + r) * xw
                ih = ih0 + r
                if ih < 0 or ih >= IH:
                    for col in range(xw):
                        xs[base + col] = 0
                else:
                    src = (pbase + ih) * IW + iw0
                    for col in range(lo):
                        xs[base + col] = 0
                    for col in range(lo, hi):
                        xs[numba.uint64(base + col)] = xf[numba.uint64(src + col)]
                    for col in range(hi, xw):
                        xs[base + col] = 0


@njit(**NJIT_OPTS)
def _pack_block(wf, kg, kk_size, dofs, cg, g, cb, dst, base):
    """dst[base + dofs[k] + c*KB + kk] = w[g*cg + c, cb*KB + kk, k] (flat tap k; zero past C_out/G).

    ``dofs[k]`` = offset of the run of flat kernel tap ``k`` (each tap belongs to
    exactly one phase): ``wofs[phase] + t*cg*KB`` with ``t`` its index in the phase.

    For each tap the destination ``[c][kk]`` is one contiguous run, so it is
    written in whole vectors, each lane gathered from the weight (``vgather``
    with a fixed index pattern of ``PACK_CH`` input channels x ``KB`` output
    channels); the source block of ``PACK_CH`` channels stays in L1 while its
    taps are written.  Measured 4-5x faster than the scalar transpose, which
    was 14 % of a (1,256,16,16)->128 k4 s2 call.  Index patterns that overflow
    int32 take the scalar loop.
    """
    nk = min(KB, kg - cb * KB)
    cstr = kg * kk_size  # source elements between consecutive input channels
    src0 = ((g * cg) * kg + cb * KB) * kk_size
    if PACK_CH * cstr < 2**31:
        L = lanes(dst)
        gidx = np.empty(PACK_CH * KB, np.int32)
        for m in range(PACK_CH * KB):
            kk = m % KB
            gidx[m] = (m // KB) * cstr + kk * kk_size if kk < nk else -1
        M = cg * KB
        for c0 in range(0, cg, PACK_CH):
            m0 = c0 * KB
            mn = min(M - m0, PACK_CH * KB)
            s = src0 + c0 * cstr
            for k in range(kk_size):
                d = base + dofs[k] + m0
                for v in range(0, mn, L):
                    n = min(L, mn - v)
                    vstore_masked(dst, d + v, vgather(wf, s + k, gidx, v, 0, n), n)
        return
    for c in range(cg):
        s0 = src0 + c * cstr
        d0 = base + c * KB
        for k in range(kk_size):
            d = d0 + dofs[k]
            s = s0 + k
            for kk in range(KB):
                # unsigned indices: no negative-index wraparound code (1.5x faster)
                if kk < nk:
                    dst[numba.uint64(d + kk)] = wf[numba.uint64(s + kk * kk_size)]
                else:
                    dst[numba.uint64(d + kk)] = 0


@entry
@njit(parallel=True, **NJIT_OPTS)
def _pack(wf, kg, kk_size, wp, dofs, blk, ncob, cg, groups):
    """Whole packed weight: block (g, cb) at ``wp[(g*ncob + cb)*blk:]``, see :func:`_pack_block`."""
    for gc in prange(groups * ncob):
        _pack_block(wf, kg, kk_size, dofs, cg, gc // ncob, gc % ncob, wp, gc * blk)


def _task_sig(dt):
    """Numba signature of :func:`_tconv_task` for dtype ``dt``, as :func:`_tconv` calls it."""
    from numba import from_dtype, types

    d = from_dtype(np.dtype(dt))
    i8 = types.int64
    a1, a5 = types.Array(d, 1, "C"), types.Array(d, 5, "C")
    l1, l2 = types.Array(i8, 1, "C"), types.Array(i8, 2, "C")
    return types.none(i8, a5, a1, i8, l1, a1, types.boolean, a1, a5, i8, i8, i8,
                      l1, l2, l1, l2, l1, l2, l1, i8, i8, i8, i8, i8, i8)


_as_task = function_at(_task_sig)


@entry
@njit(parallel=True, **NJIT_OPTS)
def _tconv(taddr, x, wf, kk_size, dofs, wp, local_pack, b, out, sd, sh, sw, ntd, offd, nth,
           offh, ntw, offw, wofs, blk, ncob, groups, cbt, rbq, V):
    """Every task of the call, in parallel (see :func:`_tconv_task`, called at
    ``taddr``: :class:`Launch`).

    The parallel loop body is one call: the parfor passes and its outlined gufunc
    then type and optimise a one-line body instead of the task's ~100 lines
    (cold compile of the transposed family 9.9 -> 8.7 s).  One call per task is
    fine here: a task does hundreds of microseconds of work."""
    N = x.shape[0]
    OD, OH = out.shape[2], out.shape[3]
    qh_max = (OH + sh - 1) // sh
    ntb = (ncob + cbt - 1) // cbt
    nqb = (qh_max + rbq - 1) // rbq
    ntask = N * groups * ntb * OD * nqb
    task_fn = _as_task(taddr, x)
    for task in prange(ntask):
        # np.int64: the parfor types task as int64 here and uint64 in its gufunc
        task_fn(np.int64(task), x, wf, kk_size, dofs, wp, local_pack, b, out, sd, sh, sw,
                ntd, offd, nth, offh, ntw, offw, wofs, blk, ncob, groups, cbt, rbq, V)


class Launch(TaskLaunch):
    """:func:`_tconv` with the address of :func:`_tconv_task`: the task's code is not
    linked into the parfor's gufunc and wrappers (cold compile of the transposed
    family 8.8-9.1 -> 4.1-4.2 s, old and new alternated; per call within noise)."""

    signature = staticmethod(_task_sig)


@entry
@njit(**NJIT_OPTS)
def _tconv_task(task, x, wf, kk_size, dofs, wp, local_pack, b, out, sd, sh, sw, ntd, offd,
                nth, offh, ntw, offw, wofs, blk, ncob, groups, cbt, rbq, V):
    """Task ``task`` of :func:`_tconv`: output-depth plane ``od``, a block of output
    rows per phase and a run of K-blocks of one group of one image."""
    N, C, ID, IH, IW = x.shape
    K, OD, OH, OW = out.shape[1], out.shape[2], out.shape[3], out.shape[4]
    cg = C // groups
    kg = K // groups
    qh_max = (OH + sh - 1) // sh
    qw_max = (OW + sw - 1) // sw
    mnh = offh.min()
    mxh = offh.max()
    mnw = offw.min()
    mxw = offw.max()
    nchm = (qw_max + V - 1) // V
    xw = nchm * V + mxw - mnw
    ntb = (ncob + cbt - 1) // cbt
    nqb = (qh_max + rbq - 1) // rbq
    mtd = offd.shape[1]
    mth = offh.shape[1]
    mtw = offw.shape[1]
    mt = mtd * mth * mtw
    nphw = sh * sw
    of = out.reshape(-1)
    qbi = task % nqb
    t2 = task // nqb
    od = t2 % OD
    t2 //= OD
    tbi = t2 % ntb
    t2 //= ntb
    g = t2 % groups
    n = t2 // groups
    rd = od % sd
    qd = od // sd
    didx = np.empty(mtd, np.int64)
    dsel = np.empty(mtd, np.int64)
    ndv = np.int64(0)  # not a literal 0: Numba would also compile _fill for Literal[int](0)
    for jd in range(ntd[rd]):
        idd = qd + offd[rd, jd]
        if 0 <= idd < ID:
            didx[ndv] = idd
            dsel[ndv] = jd
            ndv += 1
    qh0 = qbi * rbq
    qh1 = min(qh_max, qh0 + rbq)
    nrs = qh1 - qh0 + mxh - mnh
    plane = max(1, ndv) * nrs * xw
    xs = np.empty(cg * plane + V, dtype=out.dtype)
    xs[cg * plane:] = 0
    if ndv > 0:
        _fill(x, n, g * cg, cg, didx, ndv, qh0 + mnh, nrs, mnw, xw, xs)
    # tap tables of every (rh, rw) phase of this task: scratch offset, weight offset
    toffs = np.empty((nphw, mt), np.int64)
    twi = np.empty((nphw, mt), np.int64)
    ntp = np.zeros(nphw, np.int64)
    for rh in range(sh):
        for rw in range(sw):
            pw = rh * sw + rw
            ph = rd * nphw + pw
            nt = 0
            for jv in range(ndv):
                jd = dsel[jv]
                for jh in range(nth[rh]):
                    for jw in range(ntw[rw]):
                        row = jv * nrs + offh[rh, jh] - mnh
                        toffs[pw, nt] = row * xw + offw[rw, jw] - mnw
                        twi[pw, nt] = wofs[ph] + ((jd * nth[rh] + jh) * ntw[rw] + jw) * cg * KB
                        nt += 1
            ntp[pw] = nt
    tile = np.empty(NV * KB * V, dtype=out.dtype)
    wl = np.empty(blk + 16 if local_pack else 1, dtype=out.dtype)
    wl[wl.shape[0] - 1] = 0
    cb0 = tbi * cbt
    cb1 = min(ncob, cb0 + cbt)
    for cb in range(cb0, cb1):
        if local_pack:
            # this task is the only user of block (g, cb): pack it into a local
            # buffer that stays in cache instead of a whole-weight pass
            _pack_block(wf, kg, kk_size, dofs, cg, g, cb, wl, np.int64(0))
            warr = wl
            wb = 0
        else:
            warr = wp
            wb = (g * ncob + cb) * blk
        for rh in range(sh):
            nqh = min(qh1, (OH - rh + sh - 1) // sh) - qh0
            if nqh <= 0:
                continue
            for rw in range(sw):
                qw = (OW - rw + sw - 1) // sw
                if qw <= 0:
                    continue
                pw = rh * sw + rw
                nch = (qw + V - 1) // V
                nslot = nqh * nch
                for s0 in range(0, nslot, NV):
                    ns = min(NV, nslot - s0)
                    o0 = (s0 // nch) * xw + (s0 % nch) * V
                    o1 = o0
                    o2 = o0
                    o3 = o0
                    if ns > 1:
                        o1 = ((s0 + 1) // nch) * xw + ((s0 + 1) % nch) * V
                    if ns > 2:
                        o2 = ((s0 + 2) // nch) * xw + ((s0 + 2) % nch) * V
                    if ns > 3:
                        o3 = ((s0 + 3) // nch) * xw + ((s0 + 3) % nch) * V
                    if ntp[pw] == 4:
                        _micro4(xs, plane, cg, toffs[pw], twi[pw], warr, wb,
                                o0, o1, o2, o3, tile, V)
                    else:
                        _micro(xs, plane, cg, toffs[pw], twi[pw], ntp[pw], warr, wb,
                               o0, o1, o2, o3, tile, V)
                    for i in range(ns):
                        s = s0 + i
                        oh = (qh0 + s // nch) * sh + rh
                        q0 = (s % nch) * V
                        nl = min(V, qw - q0)
                        for kk in range(min(KB, kg - cb * KB)):
                            co = g * kg + cb * KB + kk
                            bv = b[co]
                            ob = (((n * K + co) * OD + od) * OH + oh) * OW + q0 * sw + rw
                            tb = (i * KB + kk) * V
                            for lane in range(nl):
                                v = tile[numba.uint64(tb + lane)] + bv
                                of[numba.uint64(ob + lane * sw)] = v


# --------------------------------------------------------------------------
# Python driver
# --------------------------------------------------------------------------


_TCONV = Launch(_tconv, _tconv_task)


def _to3(v, nd, fill=1):
    return (fill,) * (3 - nd) + tuple(v)


@functools.lru_cache(maxsize=256)
def phase_taps(k, s, p, d):
    """Per phase ``r`` of one axis: ``(count[s], tap_k[s, m], tap_off[s, m])``.

    Tap ``k`` contributes to outputs ``o = q*s + r`` from input ``q + off`` with
    ``off = (r + p - k*d) / s`` whenever that division is exact.  Cached: the
    returned arrays are shared and must not be modified.
    """
    lists = []
    for r in range(s):
        lists.append([(kk, (r + p - kk * d) // s) for kk in range(k) if (r + p - kk * d) % s == 0])
    m = max(1, max(len(t) for t in lists))
    cnt = np.array([len(t) for t in lists], np.int64)
    tk = np.zeros((s, m), np.int64)
    toff = np.zeros((s, m), np.int64)
    for r, t in enumerate(lists):
        for j, (kk, off) in enumerate(t):
            tk[r, j] = kk
            toff[r, j] = off
    # padded entries reuse a real offset so min/max over the table stay meaningful
    for r, t in enumerate(lists):
        fillv = t[0][1] if t else (p + r) // s
        toff[r, len(t):] = fillv
    return cnt, tk, toff


def _writeable(a):
    return a if a.flags.writeable else a.copy()


def _bias(b, k, dtype):
    if b is None:
        return np.zeros(k, dtype)
    return np.ascontiguousarray(b, dtype=dtype)


def pack_plan(p, tables):
    """Offsets of the packed weight layout: ``(dofs, wofs, blk, ncob)``.

    Block ``(g, cb)`` (``KB`` output channels) holds, per phase ``ph`` at
    ``wofs[ph]``, ``[taps][C_in/groups][KB]``; ``dofs[k]`` is where flat kernel
    tap ``k`` starts (every tap belongs to exactly one phase per axis).
    """
    (ntd, tkd, _), (nth, tkh, _), (ntw, tkw, _) = tables
    sd, sh, sw = len(ntd), len(nth), len(ntw)
    KD, KH, KW = _to3(p.kernel, p.nd)
    kg = p.out_channels // p.groups
    cg = p.in_channels // p.groups
    ncob = -(-kg // KB)
    wofs = np.zeros(sd * sh * sw, np.int64)
    dofs = np.zeros(KD * KH * KW, np.int64)
    total = 0
    for rd in range(sd):
        for rh in range(sh):
            for rw in range(sw):
                wofs[(rd * sh + rh) * sw + rw] = total * cg * KB
                for jd in range(ntd[rd]):
                    for jh in range(nth[rh]):
                        for jw in range(ntw[rw]):
                            k = (tkd[rd, jd] * KH + tkh[rh, jh]) * KW + tkw[rw, jw]
                            dofs[k] = total * cg * KB
                            total += 1
    assert total == KD * KH * KW
    return dofs, wofs, total * cg * KB, ncob


def pack_weights(p, wc, tables):
    """The whole packed weight (1-D) plus :func:`pack_plan`'s offsets."""
    dofs, wofs, blk, ncob = pack_plan(p, tables)
    kg = p.out_channels // p.groups
    cg = p.in_channels // p.groups
    wp = np.empty(p.groups * ncob * blk + 16, wc.dtype)
    wp[-16:] = 0
    _pack(wc.reshape(-1), kg, math.prod(p.kernel), wp, dofs, blk, ncob, cg, p.groups)
    return wp, wofs, blk, ncob


_SERIAL_SMALL = True  # small calls may run on one thread (tests switch it off)


def conv_transpose(p, x, w, b, out):
    """Compute conv_transpose{nd}d into ``out`` (C-contiguous, shape ``p.out_shape``).

    Calls too small to pay for waking the other workers run on one thread, as in
    :func:`fastconv._cpu.conv_simd.conv` (estimated at ~125 / 62 GFLOP/s fp32 / fp64).

    A stride-1 transpose is an ordinary convolution (:func:`as_conv`) and runs as
    one, on the convolution kernels (:func:`fastconv._cpu.conv.conv`).
    """
    pc = as_conv(p) if _STRIDE1_AS_CONV else None
    if pc is not None:
        from . import conv as _conv  # the conv kernels' module is imported on demand

        wt = conv_weight(w, p)
        xb = np.asarray(x).reshape((p.batch, p.in_channels) + tuple(p.in_spatial))
        return _conv.conv(pc, xb, wt, b, out.reshape(pc.out_shape))
    threads = num_threads()
    if threads > 1 and _SERIAL_SMALL and out.size and serial_is_faster(_seconds(p), threads):
        return run_serial(_run, p, x, w, b, out)
    return _run(p, x, w, b, out)


_STRIDE1_AS_CONV = True  # stride-1 transposes on the convolution kernels (tests switch it off)


@functools.lru_cache(maxsize=256)
def as_conv(p):
    """The convolution equal to the stride-1 transpose ``p``, as ``ConvParams``, or None.

    With stride 1, output ``o`` sums ``x[o + p - k d] w[k]`` over the taps ``k``:
    a correlation with the kernel flipped (and its two channel axes swapped per
    group), padded by ``d (K - 1) - p`` before and that plus ``output_padding``
    after.  None for strides above 1 and for a padding larger than ``d (K - 1)``
    (the convolution would need a negative pad: a crop).
    """
    if any(s != 1 for s in p.stride):
        return None
    lo = tuple(d * (k - 1) - q for k, d, q in zip(p.kernel, p.dilation, p.padding))
    if min(lo) < 0:
        return None
    hi = tuple(a + op for a, op in zip(lo, p.output_padding))
    pc = ConvParams(
        nd=p.nd, batched=True, batch=p.batch, in_channels=p.in_channels,
        out_channels=p.out_channels, groups=p.groups, in_spatial=p.in_spatial,
        kernel=p.kernel, stride=p.stride, dilation=p.dilation, pad_lo=lo, pad_hi=hi,
        padding_mode="zeros", out_spatial=p.out_spatial, dtype=p.dtype,
        has_bias=p.has_bias, depthwise=p.groups == p.in_channels,
        out_shape=(p.batch, p.out_channels) + tuple(p.out_spatial),
    )
    assert pc.out_spatial == tuple(
        a + lo_ + hi_ - d * (k - 1)
        for a, lo_, hi_, d, k in zip(p.in_spatial, lo, hi, p.dilation, p.kernel))
    return pc


def conv_weight(w, p):
    """The transpose's weight ``(C_in, C_out/g, *k)`` as the convolution's
    ``(C_out, C_in/g, *k)``, taps flipped (a new C-contiguous array)."""
    g, nd = p.groups, p.nd
    cg, kg = p.in_channels // g, p.out_channels // g
    v = np.asarray(w).reshape((g, cg, kg) + tuple(p.kernel)).swapaxes(1, 2)
    v = v[(Ellipsis,) + (slice(None, None, -1),) * nd]
    return np.ascontiguousarray(v, dtype=p.dtype).reshape((g * kg, cg) + tuple(p.kernel))


@functools.lru_cache(maxsize=256)
def _seconds(p):
    return p.flops / (125e9 if np.dtype(p.dtype) == np.float32 else 62e9)


def _runs(total, parts):
    """Lengths of the even runs that split ``total`` into about ``parts``."""
    size = -(-total // parts)
    k = -(-total // size)
    return [size] * (k - 1) + [total - size * (k - 1)]


def _split(planes, depth, images, ncob, qh, nqb_min, threads, max_tasks, halo, fill, pack,
           task, region):
    """``(ntb, nqb)``: K-block runs and q-row blocks per (image, group, depth) plane.

    Numba's parallel loop gives every thread one contiguous, evenly sized chunk
    of the tasks (no stealing), so more tasks per thread balance nothing; what
    counts is the dearest thread's chunk.  Costs are in units of one K-block
    over one q-row.  A task also copies its rows and their halo into its
    scratch slab (``fill`` per row) and, when it is the only user of its
    K-blocks (one image and depth, one row block), packs them (``pack`` per
    block); otherwise one more parallel region packs the whole weight first
    (``region`` plus the blocks shared by the threads).  ``task`` is the fixed
    cost of a task.  The cheapest split wins; within 1 %, the one with fewer
    tasks.  Row blocks never exceed the scratch bound (``nqb_min`` blocks).

    It replaced a split that aimed at two tasks per thread, channels first, and
    cut rows at the scratch bound.  Two threads, float32, each call after a
    torch call: (1,256,16,16)->128 k4 s2 ran K-blocks 6+6 | 6+4, 1.17-1.18 ms
    (11 | 11 now: 1.05-1.11 ms); (1,64,64,64)->64 k3 s1 cut its 64 q-rows into
    60 + 4, 1.52-1.55 ms (32 | 32 now: 1.17-1.19 ms; one thread 2.50-2.66 ->
    2.13-2.20 ms); (1,64,56,56)->64 k3 s2 split 11 K-blocks 3+3 | 3+2, 1.49-1.56
    ms (rows 28 | 28 now: 1.27-1.31 ms).
    """
    outer = planes * depth
    if outer * nqb_min >= 8 * threads:
        return 1, nqb_min  # tasks enough: at most 1/8 of a task of imbalance
    limit = max(outer * nqb_min, min(max_tasks, 8 * threads))
    kbs = sorted({len(_runs(ncob, t)) for t in range(1, ncob + 1)})
    most = -(-qh // nqb_min)  # rows per block allowed by the scratch bound
    kqs = sorted({len(_runs(qh, t)) for t in range(nqb_min, qh + 1)})
    kqs = [k for k in kqs if -(-qh // k) <= most]
    options = []
    for kb in kbs:
        for kq in kqs:
            ntask = outer * kb * kq
            if ntask > limit:
                break
            local = images * kq == 1
            b = np.array(_runs(ncob, kb), np.float64)[:, None]
            r = np.array(_runs(qh, kq), np.float64)[None, :]
            cost = b * r + fill * (r + halo) + (pack * b if local else 0.0) + task
            # task order: plane, K-block run, depth, row block
            ends = np.cumsum(np.tile(np.tile(cost, (1, depth)).ravel(), planes))
            th = min(threads, ntask)
            cut = np.array([t * ntask // th for t in range(th + 1)])
            sums = np.diff(np.concatenate(([0.0], ends))[cut])
            worst = float(sums.max())
            if not local:
                worst += region + pack * ncob * planes / threads
            options.append((worst, ntask, kb, kq))
    least = min(o[0] for o in options)
    _, _, kb, kq = min((o for o in options if o[0] <= least * 1.01), key=lambda o: (o[1], o[0]))
    return kb, kq


@functools.lru_cache(maxsize=256)
def _plan(p, threads):
    """Everything about a call that depends only on its params and the thread count.

    Cached: recomputing it (phase tables, the task split, the packed-weight
    offsets, a Python loop over the kernel taps) cost tens of us per call with
    the interpreter's caches cold after a large kernel.  The arrays in it are
    shared between calls and only ever read.
    """
    dtype = np.dtype(p.dtype)
    nd = p.nd
    n = p.batch
    ks = _to3(p.kernel, nd)
    ss = _to3(p.stride, nd)
    ps = _to3(p.padding, nd, 0)
    ds = _to3(p.dilation, nd)
    tables = [phase_taps(ks[a], ss[a], ps[a], ds[a]) for a in range(3)]
    x5s = (n, p.in_channels) + _to3(p.in_spatial, nd)
    o5s = (n, p.out_channels) + _to3(p.out_spatial, nd)
    V = 16 if dtype == np.float32 else 8
    OD, OH, OW = o5s[2:]
    cg = p.in_channels // p.groups
    kg = p.out_channels // p.groups
    ncob = -(-kg // KB)
    qh_max = -(-OH // ss[1])
    qw_max = -(-OW // ss[2])
    offh, offw = tables[1][2], tables[2][2]
    xw = -(-qw_max // V) * V + int(offw.max() - offw.min())
    mtd = tables[0][1].shape[1]
    # q-row blocks: the per-task scratch slab is bounded (~1 MiB), rows split evenly
    halo = int(offh.max() - offh.min())
    row_bytes = cg * mtd * xw * dtype.itemsize
    cap = max(1, min(qh_max, (1 << 20) // max(1, row_bytes) - halo))
    nqb_min = -(-qh_max // cap)
    outer = n * p.groups * OD
    ntb, nqb = 1, nqb_min
    if threads > 1:
        # small problems: no split (a task should be worth waking a thread for)
        flops = 2 * n * p.in_channels * math.prod(p.in_spatial) * kg * math.prod(p.kernel)
        unit = _seconds(p) / (outer * ncob * qh_max)  # one K-block over one q-row
        ntb, nqb = _split(n * p.groups, OD, n * OD, ncob, qh_max, nqb_min, threads,
                          max(1, flops // MIN_TASK_FLOPS), halo,
                          fill=cg * mtd * xw / _FILL_RATE / unit,
                          pack=KB * cg * math.prod(p.kernel) / _PACK_RATE / unit,
                          task=_TASK_SECONDS / unit, region=_REGION_SECONDS / unit)
    rbq = -(-qh_max // nqb)
    cbt = -(-ncob // ntb)
    nqb = -(-qh_max // rbq)
    dofs, wofs, blk, ncob = pack_plan(p, tables)
    # a weight block used by a single task is packed by that task (in cache);
    # otherwise the whole weight is packed once up front
    local_pack = n * OD * nqb == 1
    kk = math.prod(p.kernel)
    args = (ss[0], ss[1], ss[2], tables[0][0], tables[0][2], tables[1][0], offh, tables[2][0],
            offw, wofs, blk, ncob, p.groups, cbt, rbq, V)
    return x5s, o5s, kk, kg, cg, dofs, blk, ncob, local_pack, args


def _run(p, x, w, b, out):
    if out.size == 0:
        return out
    dtype = p.dtype
    x5s, o5s, kk, kg, cg, dofs, blk, ncob, local_pack, args = _plan(p, num_threads())
    # read-only operands are copied: the task function is typed for writeable arrays
    # (_task_sig), and a read-only array is another Numba type, another compilation
    xc = _writeable(np.ascontiguousarray(x, dtype=dtype))
    wc = _writeable(np.ascontiguousarray(w, dtype=dtype))
    bc = _writeable(_bias(b, p.out_channels, dtype))
    wf = wc.reshape(-1)
    if local_pack:
        wp = np.zeros(1, dtype)
    else:
        wp = np.empty(p.groups * ncob * blk + 16, dtype)
        _pack(wf, kg, kk, wp, dofs, blk, ncob, cg, p.groups)
    _TCONV(xc.reshape(x5s), wf, kk, dofs, wp, local_pack, bc, out.reshape(o5s), *args)
    return out
