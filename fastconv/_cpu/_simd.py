"""A small explicit-SIMD layer for Numba: LLVM vector types and a few intrinsics.

Two vector types are defined at module level (so ``cache=True`` kernels that
use them can be pickled and reloaded):

``f32x16``  ``<16 x float>``  -- one zmm register of float32
``f64x8``   ``<8 x double>``  -- one zmm register of float64

The lane count follows the array's dtype: an operation on a float32 array
yields an ``f32x16``, on a float64 array an ``f64x8``.  On CPUs without
AVX-512, LLVM legalises the 512-bit operations into pairs of ymm (or four xmm)
instructions, so results are identical, only slower.

Intrinsics (all usable inside ``@njit`` code only; no bounds checks -- the
caller guarantees ``0 <= i`` and ``i + lanes <= a.size``, or ``i + n`` for
the masked forms):

=========================  ====================================================
``vload(a, i)``            ``a[i:i+L]`` as a vector (``a`` 1-D contiguous)
``vstore(a, i, v)``        ``a[i:i+L] = v``
``vload_masked(a, i, n)``  lanes ``< n`` from ``a[i:i+n]``, other lanes 0
``vstore_masked(a, i, v, n)``  store only the first ``n`` lanes
``vstore_lanes(a, i, v, lo, hi)``  store lanes ``lo <= k < hi`` to ``a[i+k]``
``vload_lanes(a, i, lo, hi)``  lanes ``lo <= k < hi`` from ``a[i+k]``, other lanes 0
                           (only those lanes are read: the others may lie
                           outside ``a``)
``vload_bits(a, i, bits)``  lanes ``k`` with bit ``k`` of the integer ``bits`` set from
                           ``a[i+k]``, other lanes 0 (and not read): a mask
                           computed once, for loops that reuse it
``vgather(a, i, idx, j, lo, hi)``  lane ``k`` = ``a[i + idx[j+k]]`` for ``lo <= k < hi``
                           and ``idx[j+k] >= 0``, else 0 (``idx``: int32/int64;
                           one ``vgatherdps`` for int32 indices on AVX-512)
``vbroadcast(a, i)``       ``a[i]`` in every lane
``vsplat(x, a)``           the scalar ``x`` (cast to ``a``'s dtype) in every lane
``vzeros(a)``              zero vector of ``a``'s dtype
``vfma(x, y, z)``          ``x * y + z`` fused (``llvm.fma``)
``vadd(x, y)``, ``vmul(x, y)``  lane-wise
``veven(x, y)``, ``vodd(x, y)``  lanes 0, 2, 4, ... (1, 3, 5, ...) of ``x`` then ``y``
                           joined (``2 L`` lanes): de-interleaves two loads of a
                           stride-2 run into its two column phases (one
                           ``vpermt2ps`` each instead of a gather)
``vzip_lo(x, y)``          ``x0, y0, x1, y1, ...`` (low halves interleaved; one
                           ``vpermt2ps``/``vunpcklps``-type shuffle)
``vzip_hi(x, y)``          the same from the high halves
``vhsum(v)``               sum of the lanes (scalar)
``vget(v, k)``             lane ``k`` (scalar)
``lanes(a)``               the lane count for ``a``'s dtype (16 or 8), a constant
``vprefetch(a, i)``        prefetch hint for the line of ``a[i]``
=========================  ====================================================

Register tiles (one call per micro-kernel step; ``acc`` a tuple of NV tuples of KB
vectors, ``acc[v][j]`` = output channel ``j``, pixel vector ``v``):

``vtile(acc, xs, xb, wp, wb, ws)``
    ``acc[v][j] += wp[wb + j*ws] * xs[xb + v*L:][:L]``, returns the new tile
``vtile_masked(acc, xs, xb, n, wp, wb, ws)``
    the same with loads of the lanes ``< n - v*L`` only (others 0, not read)
``vtile_pack(acc, xs, xb, pk, pb, wp, wb, ws)``
    :func:`vtile` that also stores the loaded vectors to ``pk[pb + v*L:]``
``vtile_pack_masked(acc, xs, xb, n, pk, pb, wp, wb, ws)``
    both
``vtile_store(a, i, step, acc)``
    ``a[i + j*step + v*L:][:L] = acc[v][j]`` for the whole tile
``vcol_store_lanes(a, i, step, acc[v], nk, lo, hi)``
    lanes ``lo <= k < hi`` of ``acc[v][j]`` to ``a[i + j*step + k]`` for ``j < nk``
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

__all__ = [
    "VecType", "f32x16", "f64x8", "vload", "vstore", "vload_masked", "vstore_masked",
    "vbroadcast", "vsplat", "vzeros", "vfma", "vadd", "vmul", "vhsum", "vget", "lanes", "vprefetch",
    "vzip_lo", "vzip_hi",
    "vstore_lanes", "vload_lanes", "vload_bits", "vgather", "veven", "vodd",
    "vtile", "vtile_masked", "vtile_pack", "vtile_pack_masked", "vtile_store", "vcol_store_lanes",
]

VECTOR_BYTES = 64


class VecType(types.Type):
    """A fixed-width LLVM vector of ``dtype`` with ``count`` lanes."""

    def __init__(self, dtype, count):
        self.dtype = dtype
        self.count = count
        super().__init__(name=f"vec{count}x{dtype}")

    @property
    def key(self):
        return (self.dtype, self.count)


f32x16 = VecType(types.float32, 16)
f64x8 = VecType(types.float64, 8)

_BY_DTYPE = {types.float32: f32x16, types.float64: f64x8}


@register_model(VecType)
class VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        elem = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(elem, fe_type.count))


def _vec_of_array(arr):
    if not isinstance(arr, types.Array) or arr.ndim != 1:
        return None
    return _BY_DTYPE.get(arr.dtype)


def _elem_ptr(context, builder, arrty, arr, idx, idxty):
    ary = context.make_array(arrty)(context, builder, arr)
    i = context.cast(builder, idx, idxty, types.intp)
    return builder.gep(ary.data, [i])


def _vec_ptr(builder, ptr, vty):
    return builder.bitcast(ptr, vty.as_pointer())


def _lane_mask(builder, n, nty, context, count):
    """``<count x i1>``: lane k is on when k < n."""
    return _lane_mask_range(builder, context.get_constant(types.intp, 0), n, types.intp, nty,
                            context, count)


def _lane_mask_range(builder, lo, hi, loty, hity, context, count):
    """``<count x i1>``: lane k is on when lo <= k < hi.

    Built as an integer bit mask ``(1 << hi) - (1 << lo)`` (bounds clamped to
    [0, count]) bitcast to ``<count x i1>``: a shift, a subtract and one
    ``kmov`` on AVX-512, instead of vector compares of 64-bit lane indices.
    """
    lo = context.cast(builder, lo, loty, types.intp)
    hi = context.cast(builder, hi, hity, types.intp)
    ity = lo.type
    zero = ir.Constant(ity, 0)
    cnt = ir.Constant(ity, count)

    def clamp(v):
        v = builder.select(builder.icmp_signed("<", v, zero), zero, v)
        return builder.select(builder.icmp_signed(">", v, cnt), cnt, v)

    lo, hi = clamp(lo), clamp(hi)
    hi = builder.select(builder.icmp_signed("<", hi, lo), lo, hi)
    one = ir.Constant(ity, 1)
    return _bits_mask(builder, builder.sub(builder.shl(one, hi), builder.shl(one, lo)), count)


def _bits_mask(builder, bits, count):
    """``<count x i1>`` from the low ``count`` bits of an integer value: one ``kmov``."""
    return builder.bitcast(builder.trunc(bits, ir.IntType(count)),
                           ir.VectorType(ir.IntType(1), count))


def _splat(builder, x, count):
    vty = ir.VectorType(x.type, count)
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), count), [ir.Constant(ir.IntType(32), 0)] * count)
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), zeros)


def _fma_fn(builder, context, vt):
    """``llvm.fma`` on vectors of type ``vt``, declared in the builder's module."""
    lty = context.get_value_type(vt)
    return cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(lty, [lty, lty, lty]),
        f"llvm.fma.v{vt.count}f{vt.dtype.bitwidth}")


@intrinsic
def lanes(typingctx, arr):
    vt = _vec_of_array(arr)
    if vt is None:
        return None

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, vt.count)

    return types.intp(arr), codegen


@intrinsic
def vload(typingctx, arr, idx):
    vt = _vec_of_array(arr)
    if vt is None or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        lty = context.get_value_type(vt)
        return builder.load(_vec_ptr(builder, ptr, lty), align=vt.dtype.bitwidth // 8)

    return vt(arr, idx), codegen


@intrinsic
def vstore(typingctx, arr, idx, vec):
    vt = _vec_of_array(arr)
    if vt is None or vec != vt or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        lty = context.get_value_type(vt)
        builder.store(args[2], _vec_ptr(builder, ptr, lty), align=vt.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(arr, idx, vec), codegen


def _masked_names(vt, lty):
    suffix = f"v{vt.count}f{vt.dtype.bitwidth}"
    return f"llvm.masked.load.{suffix}.p0", f"llvm.masked.store.{suffix}.p0"


def _masked_load(context, builder, vt, ptr, mask):
    """``llvm.masked.load`` of a ``vt`` at element pointer ``ptr``: off lanes 0, not read."""
    lty = context.get_value_type(vt)
    vptr = _vec_ptr(builder, ptr, lty)
    name, _ = _masked_names(vt, lty)
    fnty = ir.FunctionType(lty, [vptr.type, ir.IntType(32), mask.type, lty])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    align = ir.Constant(ir.IntType(32), vt.dtype.bitwidth // 8)
    return builder.call(fn, [vptr, align, mask, ir.Constant(lty, None)])


def _masked_store(context, builder, vt, ptr, val, mask):
    """``llvm.masked.store`` of the on lanes of ``val`` at element pointer ``ptr``."""
    lty = context.get_value_type(vt)
    vptr = _vec_ptr(builder, ptr, lty)
    _, name = _masked_names(vt, lty)
    fnty = ir.FunctionType(ir.VoidType(), [lty, vptr.type, ir.IntType(32), mask.type])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    align = ir.Constant(ir.IntType(32), vt.dtype.bitwidth // 8)
    builder.call(fn, [val, vptr, align, mask])
    return context.get_dummy_value()


@intrinsic
def vload_masked(typingctx, arr, idx, n):
    vt = _vec_of_array(arr)
    if vt is None or not isinstance(idx, types.Integer) or not isinstance(n, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        mask = _lane_mask(builder, args[2], sig.args[2], context, vt.count)
        return _masked_load(context, builder, vt, ptr, mask)

    return vt(arr, idx, n), codegen


@intrinsic
def vstore_masked(typingctx, arr, idx, vec, n):
    vt = _vec_of_array(arr)
    if vt is None or vec != vt or not isinstance(idx, types.Integer) \
            or not isinstance(n, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        mask = _lane_mask(builder, args[3], sig.args[3], context, vt.count)
        return _masked_store(context, builder, vt, ptr, args[2], mask)

    return types.none(arr, idx, vec, n), codegen


@intrinsic
def vstore_lanes(typingctx, arr, idx, vec, lo, hi):
    """Store lanes ``lo <= k < hi`` of ``vec`` to ``a[i + k]`` (other lanes untouched)."""
    vt = _vec_of_array(arr)
    if vt is None or vec != vt or not all(isinstance(t, types.Integer) for t in (idx, lo, hi)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        mask = _lane_mask_range(builder, args[3], args[4], sig.args[3], sig.args[4], context,
                                vt.count)
        return _masked_store(context, builder, vt, ptr, args[2], mask)

    return types.none(arr, idx, vec, lo, hi), codegen


@intrinsic
def vload_lanes(typingctx, arr, idx, lo, hi):
    """Lanes ``lo <= k < hi`` from ``a[i + k]``, the others 0 (and not read)."""
    vt = _vec_of_array(arr)
    if vt is None or not all(isinstance(t, types.Integer) for t in (idx, lo, hi)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        mask = _lane_mask_range(builder, args[2], args[3], sig.args[2], sig.args[3], context,
                                vt.count)
        return _masked_load(context, builder, vt, ptr, mask)

    return vt(arr, idx, lo, hi), codegen


@intrinsic
def vload_bits(typingctx, arr, idx, bits):
    """Lanes ``k`` whose bit is set in ``bits`` from ``a[i + k]``, the others 0 (not read)."""
    vt = _vec_of_array(arr)
    if vt is None or not all(isinstance(t, types.Integer) for t in (idx, bits)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        mask = _bits_mask(builder, context.cast(builder, args[2], sig.args[2], types.intp),
                          vt.count)
        return _masked_load(context, builder, vt, ptr, mask)

    return vt(arr, idx, bits), codegen


@intrinsic
def vgather(typingctx, arr, i, idx, j, lo, hi):
    """Lane ``k`` = ``a[i + idx[j + k]]`` when ``lo <= k < hi`` and ``idx[j + k] >= 0``, else 0."""
    vt = _vec_of_array(arr)
    if vt is None or not isinstance(idx, types.Array) or idx.ndim != 1 \
            or not isinstance(idx.dtype, types.Integer) \
            or not all(isinstance(t, types.Integer) for t in (i, j, lo, hi)):
        return None

    def codegen(context, builder, sig, args):
        base = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        iptr = _elem_ptr(context, builder, sig.args[2], args[2], args[3], sig.args[3])
        ity = context.get_value_type(idx.dtype)
        ivty = ir.VectorType(ity, vt.count)
        iv = builder.load(builder.bitcast(iptr, ivty.as_pointer()), align=ity.width // 8)
        mask = _lane_mask_range(builder, args[4], args[5], sig.args[4], sig.args[5], context,
                                vt.count)
        mask = builder.and_(mask, builder.icmp_signed(">=", iv, ir.Constant(ivty, None)))
        # pointers = base + idx * itemsize (llvmlite has no vector GEP; LLVM still
        # recognises base + scaled index and emits one gather)
        i64 = ir.IntType(64)
        v64 = ir.VectorType(i64, vt.count)
        off = builder.sext(iv, v64) if ity.width < 64 else iv
        off = builder.mul(off, ir.Constant(v64, [ir.Constant(i64, vt.dtype.bitwidth // 8)]
                                           * vt.count))
        ptrs = builder.inttoptr(builder.add(_splat(builder, builder.ptrtoint(base, i64),
                                                   vt.count), off),
                                ir.VectorType(base.type, vt.count))
        lty = context.get_value_type(vt)
        name = f"llvm.masked.gather.v{vt.count}f{vt.dtype.bitwidth}.v{vt.count}p0"
        fnty = ir.FunctionType(lty, [ptrs.type, ir.IntType(32), mask.type, lty])
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        align = ir.Constant(ir.IntType(32), vt.dtype.bitwidth // 8)
        return builder.call(fn, [ptrs, align, mask, ir.Constant(lty, None)])

    return vt(arr, i, idx, j, lo, hi), codegen


@intrinsic
def vbroadcast(typingctx, arr, idx):
    vt = _vec_of_array(arr)
    if vt is None or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        x = builder.load(ptr, align=vt.dtype.bitwidth // 8)
        return _splat(builder, x, vt.count)

    return vt(arr, idx), codegen


@intrinsic
def vsplat(typingctx, x, arr):
    vt = _vec_of_array(arr)
    if vt is None or not isinstance(x, (types.Float, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        v = context.cast(builder, args[0], sig.args[0], vt.dtype)
        return _splat(builder, v, vt.count)

    return vt(x, arr), codegen


@intrinsic
def vzeros(typingctx, arr):
    vt = _vec_of_array(arr)
    if vt is None:
        return None

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vt), None)

    return vt(arr), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    if not isinstance(a, VecType) or a != b or a != c:
        return None

    def codegen(context, builder, sig, args):
        return builder.call(_fma_fn(builder, context, a), list(args))

    return a(a, b, c), codegen


@intrinsic
def vadd(typingctx, a, b):
    if not isinstance(a, VecType) or a != b:
        return None

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])

    return a(a, b), codegen


@intrinsic
def vmul(typingctx, a, b):
    if not isinstance(a, VecType) or a != b:
        return None

    def codegen(context, builder, sig, args):
        return builder.fmul(args[0], args[1])

    return a(a, b), codegen


def _two_vector_shuffle(lanes_of):
    """Intrinsic: lanes ``lanes_of(n)`` of ``x`` joined with ``y`` (index ``n + k`` is
    ``y[k]``), one ``shufflevector`` with a constant mask (``vpermt2ps``-type on
    AVX-512; any target lowers it correctly)."""

    def impl(typingctx, a, b):
        if not isinstance(a, VecType) or a != b:
            return None

        def codegen(context, builder, sig, args):
            i32 = ir.IntType(32)
            mask = ir.Constant(ir.VectorType(i32, a.count),
                               [ir.Constant(i32, v) for v in lanes_of(a.count)])
            return builder.shuffle_vector(args[0], args[1], mask)

        return a(a, b), codegen

    return impl


veven = intrinsic(_two_vector_shuffle(lambda n: [2 * k for k in range(n)]))
vodd = intrinsic(_two_vector_shuffle(lambda n: [2 * k + 1 for k in range(n)]))
veven.__doc__ = "Lanes 0, 2, 4, ... of ``x`` followed by ``y`` (the even column phase)."
vodd.__doc__ = "Lanes 1, 3, 5, ... of ``x`` followed by ``y`` (the odd column phase)."
vzip_lo = intrinsic(_two_vector_shuffle(
    lambda n: [k // 2 + (n if k % 2 else 0) for k in range(n)]))
vzip_hi = intrinsic(_two_vector_shuffle(
    lambda n: [n // 2 + k // 2 + (n if k % 2 else 0) for k in range(n)]))
vzip_lo.__doc__ = "``x0, y0, x1, y1, ...`` from the low halves of ``x`` and ``y``."
vzip_hi.__doc__ = "``xh, yh, xh+1, yh+1, ...`` from the high halves (h = half the lanes)."


@intrinsic
def vget(typingctx, v, k):
    if not isinstance(v, VecType) or not isinstance(k, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        kk = context.cast(builder, args[1], sig.args[1], types.int32)
        return builder.extract_element(args[0], kk)

    return v.dtype(v, k), codegen


@intrinsic
def vhsum(typingctx, v):
    if not isinstance(v, VecType):
        return None

    def codegen(context, builder, sig, args):
        acc = builder.extract_element(args[0], ir.Constant(ir.IntType(32), 0))
        for k in range(1, v.count):
            acc = builder.fadd(acc, builder.extract_element(args[0], ir.Constant(ir.IntType(32), k)))
        return acc

    return v.dtype(v), codegen


@intrinsic
def vprefetch(typingctx, arr, idx):
    """Prefetch the cache line holding ``a[i]`` into L1 (a hint; never faults)."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.none(arr, idx), codegen


# --- register tiles: a whole micro-kernel step per call ------------------------------
#
# A tile of accumulators is a tuple of NV tuples of KB vectors, ``acc[v][j]``: output
# channel j, vector v of pixels.  One call of these intrinsics is one tap of a
# micro-kernel (NV loads, KB broadcasts, KB * NV FMAs) or one whole store of the tile:
# the same LLVM IR as the calls of the single-vector intrinsics they replace, but
# Numba types and lowers one call instead of ~35 (most of the cold compile of the
# SIMD conv family was Numba's typing and lowering of those calls).


def _tile_shape(acc, arr):
    """``(KB, NV, vector type)`` when ``acc`` is a tile of ``arr``'s vector type."""
    vt = _vec_of_array(arr)
    if vt is None or not isinstance(acc, types.UniTuple) \
            or not isinstance(acc.dtype, types.UniTuple) or acc.dtype.dtype != vt:
        return None
    return acc.dtype.count, acc.count, vt


def _int(context, builder, val, ty):
    return context.cast(builder, val, ty, types.intp)


def _tile_step(context, builder, kb, nv, vt, acc, xv, wptr, ws):
    """``acc[v][j] += wptr[j * ws] * xv[v]``, broadcast by broadcast (channel-major)."""
    fma = _fma_fn(builder, context, vt)
    for j in range(kb):
        w = _splat(builder, builder.load(builder.gep(wptr, [builder.mul(
            ir.Constant(ws.type, j), ws)]), align=vt.dtype.bitwidth // 8), vt.count)
        for v in range(nv):
            a = builder.extract_value(acc, [v, j])
            acc = builder.insert_value(acc, builder.call(fma, [w, xv[v], a]), [v, j])
    return acc


def _tile_typing(acc, xs, xb, n, pk, pb, wp, wb, ws):
    """Signature and codegen of one tap of a register tile (see :func:`vtile`):
    ``n`` None (unmasked) or the lane count, ``pk``/``pb`` None or the pack target."""
    masked, pack = n is not None, pk is not None
    shape = _tile_shape(acc, xs)
    if shape is None or _vec_of_array(wp) != shape[2] \
            or (pack and _vec_of_array(pk) != shape[2]) \
            or not all(isinstance(t, types.Integer)
                       for t in (xb, wb, ws) + ((n,) if masked else ()) + ((pb,) if pack else ())):
        return None
    kb, nv, vt = shape
    tys = [acc, xs, xb] + ([n] if masked else []) + ([pk, pb] if pack else []) + [wp, wb, ws]

    def codegen(context, builder, sig, args):
        k = 3
        lty = context.get_value_type(vt)
        align = vt.dtype.bitwidth // 8
        base = _elem_ptr(context, builder, tys[1], args[1], args[2], tys[2])
        if masked:
            nn = _int(context, builder, args[k], tys[k])
            k += 1
        if pack:
            pbase = _elem_ptr(context, builder, tys[k], args[k], args[k + 1], tys[k + 1])
            k += 2
        xv = []
        for v in range(nv):
            off = ir.Constant(ir.IntType(64), v * vt.count)
            ptr = builder.gep(base, [off])
            if masked:
                left = builder.sub(nn, ir.Constant(nn.type, v * vt.count))
                x = _masked_load(context, builder, vt, ptr,
                                 _lane_mask(builder, left, types.intp, context, vt.count))
            else:
                x = builder.load(_vec_ptr(builder, ptr, lty), align=align)
            if pack:
                builder.store(x, _vec_ptr(builder, builder.gep(pbase, [off]), lty), align=align)
            xv.append(x)
        wptr = _elem_ptr(context, builder, tys[k], args[k], args[k + 1], tys[k + 1])
        ws_v = _int(context, builder, args[k + 2], tys[k + 2])
        return _tile_step(context, builder, kb, nv, vt, args[0], xv, wptr, ws_v)

    return acc(*tys), codegen


@intrinsic
def vtile(typingctx, acc, xs, xb, wp, wb, ws):
    """One tap of a register tile: loads the NV vectors ``xs[xb + v * L:]`` and adds
    ``wp[wb + j * ws] * x[v]`` to ``acc[v][j]``; returns the new tile."""
    return _tile_typing(acc, xs, xb, None, None, None, wp, wb, ws)


@intrinsic
def vtile_masked(typingctx, acc, xs, xb, n, wp, wb, ws):
    """:func:`vtile` with loads of the lanes below ``n - v * L`` only (others 0, not read)."""
    return _tile_typing(acc, xs, xb, n, None, None, wp, wb, ws)


@intrinsic
def vtile_pack(typingctx, acc, xs, xb, pk, pb, wp, wb, ws):
    """:func:`vtile` that also stores the loaded vectors to ``pk[pb + v * L:]``."""
    return _tile_typing(acc, xs, xb, None, pk, pb, wp, wb, ws)


@intrinsic
def vtile_pack_masked(typingctx, acc, xs, xb, n, pk, pb, wp, wb, ws):
    """:func:`vtile_pack` with the loads of :func:`vtile_masked`."""
    return _tile_typing(acc, xs, xb, n, pk, pb, wp, wb, ws)


@intrinsic
def vtile_store(typingctx, arr, idx, step, acc):
    """``arr[idx + j * step + v * L:][:L] = acc[v][j]`` for the whole tile."""
    shape = _tile_shape(acc, arr)
    if shape is None or not all(isinstance(t, types.Integer) for t in (idx, step)):
        return None
    kb, nv, vt = shape

    def codegen(context, builder, sig, args):
        base = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        st = _int(context, builder, args[2], sig.args[2])
        lty = context.get_value_type(vt)
        for j in range(kb):
            row = builder.gep(base, [builder.mul(ir.Constant(st.type, j), st)])
            for v in range(nv):
                ptr = builder.gep(row, [ir.Constant(ir.IntType(64), v * vt.count)])
                builder.store(builder.extract_value(args[3], [v, j]),
                              _vec_ptr(builder, ptr, lty), align=vt.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(arr, idx, step, acc), codegen


@intrinsic
def vcol_store_lanes(typingctx, arr, idx, step, col, nk, lo, hi):
    """For ``j < min(nk, KB)``: lanes ``lo <= k < hi`` of ``col[j]`` to ``arr[idx + j * step + k]``
    (``col`` one vector of pixels of a tile, ``acc[v]``: KB vectors)."""
    vt = _vec_of_array(arr)
    if vt is None or not isinstance(col, types.UniTuple) or col.dtype != vt \
            or not all(isinstance(t, types.Integer) for t in (idx, step, nk, lo, hi)):
        return None
    kb = col.count

    def codegen(context, builder, sig, args):
        base = _elem_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        st = _int(context, builder, args[2], sig.args[2])
        nkv = _int(context, builder, args[4], sig.args[4])
        mask = _lane_mask_range(builder, args[5], args[6], sig.args[5], sig.args[6], context,
                                vt.count)
        for j in range(kb):
            on = builder.icmp_signed(">", nkv, ir.Constant(nkv.type, j))
            with builder.if_then(on):
                ptr = builder.gep(base, [builder.mul(ir.Constant(st.type, j), st)])
                _masked_store(context, builder, vt, ptr, builder.extract_value(args[3], j), mask)
        return context.get_dummy_value()

    return types.none(arr, idx, step, col, nk, lo, hi), codegen
