"""Helpers shared by the CUDA launchers: device views, small host->device copies, index maps.

Everything here works on numba device arrays (``DeviceNDArray``) and on the
CUDA simulator's ``FakeCUDAArray`` alike.  The dispatcher
(:func:`fastconv._dispatch._run_cuda`) hands the launchers numba views of
the caller's arrays; nothing here knows about CuPy or torch.
"""

from __future__ import annotations

import collections
import threading

import numba
import numpy as np
from numba import cuda

# The padding-mode index arithmetic is shared with the CPU backend, not copied:
# ``pad_index_map`` is a NumPy-only helper (no numba import), so this is the
# one place the CUDA backend touches ``fastconv._cpu``.
from .._tables import pad_index_map

SIMULATOR = bool(getattr(numba.config, "ENABLE_CUDASIM", 0)) or not hasattr(cuda, "as_cuda_array")


def is_sim_array(a):
    return bool(getattr(a, "__cuda_ndarray__", False)) and hasattr(a, "_ary")


def _view_strides(old_shape, old_strides, new_shape, dtype):
    """Strides of a no-copy reshape to ``new_shape`` (NumPy's rule), or ``None``."""
    if tuple(old_shape) == tuple(new_shape):
        return tuple(old_strides)
    # a stand-in with the same layout; never read (the shape assignment only
    # computes strides and refuses when a copy would be needed)
    d = np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shape=tuple(old_shape),
                                        strides=tuple(old_strides))
    v = d.view()
    try:
        v.shape = tuple(new_shape)
    except (AttributeError, ValueError):
        return None
    return v.strides


def view(a, shape):
    """A view of device array ``a`` with ``shape`` -- never a copy (``ValueError`` if impossible)."""
    shape = tuple(int(s) for s in shape)
    if tuple(a.shape) == shape:
        return a
    if is_sim_array(a):
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        host = a._ary
        st = _view_strides(host.shape, host.strides, shape, host.dtype)
        if st is None:
            raise ValueError(f"cannot view a {host.shape} array with strides {host.strides} "
                             f"as {shape} without a copy")
        return FakeCUDAArray(np.lib.stride_tricks.as_strided(host, shape, st), stream=a.stream)
    st = _view_strides(a.shape, a.strides, shape, a.dtype)
    if st is None:
        raise ValueError(f"cannot view a {a.shape} array with strides {a.strides} as {shape} "
                         "without a copy")
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    return DeviceNDArray(shape, st, a.dtype, stream=a.stream, gpu_data=a.gpu_data)


def view_or_copy(a, shape, stream=0):
    """``view(a, shape)``, or a C-contiguous device copy of ``a`` reshaped when a view is impossible."""
    try:
        return view(a, shape)
    except ValueError:
        c = cuda.device_array(tuple(a.shape), dtype=a.dtype, stream=stream)
        copy(a, c, stream)
        return view(c, shape)


def empty(shape, dtype, stream=0):
    return cuda.device_array(tuple(shape), dtype=np.dtype(dtype), stream=stream)


def to_device(a, dtype, stream=0):
    """A host array copied to the device as C-contiguous ``dtype`` (device arrays pass through)."""
    if getattr(a, "__cuda_ndarray__", False) or hasattr(a, "__cuda_array_interface__"):
        return a
    return cuda.to_device(np.ascontiguousarray(a, dtype=dtype), stream=stream)


# Small read-only tables (index maps, zero bias) are cached per device.
_CACHE_SIZE = 128
_cache = collections.OrderedDict()
_cache_lock = threading.Lock()


def _device_id():
    if SIMULATOR:
        return 0
    return cuda.get_current_device().id


def cached_table(key, make, stream=0):
    """Device copy of the host array ``make()``, cached (LRU) under ``key`` per device."""
    k = (_device_id(),) + tuple(key)
    with _cache_lock:
        hit = _cache.get(k)
        if hit is not None:
            _cache.move_to_end(k)
            return hit
    d = cuda.to_device(np.ascontiguousarray(make()), stream=stream)
    with _cache_lock:
        _cache[k] = d
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return d


def index_map(size, lo, hi, mode, length, stream=0):
    """Device int32 map: source index of each padded coordinate (-1 = zero)."""
    return cached_table(
        ("map", size, lo, hi, mode, length),
        lambda: pad_index_map(size, lo, hi, mode, length).astype(np.int32),
        stream,
    )


def zeros(n, dtype, stream=0):
    """A cached device vector of zeros (the bias of bias-free calls; never written)."""
    dtype = np.dtype(dtype)
    return cached_table(("zeros", n, dtype.str), lambda: np.zeros(n, dtype), stream)


def bias_or_zeros(b, n, dtype, stream=0):
    return zeros(n, dtype, stream) if b is None else to_device(b, dtype, stream)


def to5(sp, nd):
    """Spatial tuple padded with leading unit axes to 3 entries (D, H, W)."""
    return (1,) * (3 - nd) + tuple(sp)


@cuda.jit(cache=True)
def _copy5(src, dst):
    A, B, C, D, E = dst.shape
    total = A * B * C * D * E
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        e = i % E
        t = i // E
        d = t % D
        t //= D
        c = t % C
        t //= C
        b = t % B
        a = t // B
        dst[a, b, c, d, e] = src[a, b, c, d, e]


KERNELS = {"_copy5": _copy5}


def signatures(dt):
    from numba import types

    return {"_copy5": (_copy5, (types.Array(dt, 5, "C"), types.Array(dt, 5, "A")))}


def copy(src, dst, stream=0):
    """``dst[...] = src`` for device arrays of one shape (any strides, rank <= 5)."""
    from . import _launch

    if dst.ndim > 5:
        raise ValueError(f"out of rank {dst.ndim} must be C-contiguous on the CUDA backend")
    if dst.size == 0:
        return dst
    shape5 = (1,) * (5 - dst.ndim) + tuple(dst.shape)
    blocks, threads = _launch.grid_1d(dst.size)
    _copy5[blocks, threads, stream](view(src, shape5), view(dst, shape5))
    return dst
