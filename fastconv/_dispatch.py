"""Backend selection by array type, operand conversion and output allocation.

Rules (DESIGN §4):

* NumPy arrays, lists and scalars run on the CPU backend.
* An object exposing ``__cuda_array_interface__`` (numba device arrays, CuPy,
  PyTorch CUDA tensors) -- or, under the CUDA simulator, a simulator device
  array (``__cuda_ndarray__``) -- selects the CUDA backend.
* A CUDA operand next to a host input is a ``TypeError``; a torch tensor that
  requires grad is a ``TypeError`` (``.detach()`` it first).
* CuPy and torch are never imported here; ``sys.modules`` is consulted instead.
* ``numba.cuda`` is imported only by :func:`run` when a CUDA input arrives.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np

from ._params import _plain

CPU = "cpu"
CUDA = "cuda"


class BackendUnavailableError(RuntimeError):
    """A CUDA array was given but no CUDA backend (GPU or simulator) can run it."""


def is_cuda_array(a) -> bool:
    """True for objects that live on a CUDA device (or simulator device arrays)."""
    if a is None or isinstance(a, np.ndarray):
        return False
    if getattr(a, "__cuda_ndarray__", False):
        return True
    try:
        return hasattr(a, "__cuda_array_interface__")
    except Exception:  # some libraries raise from the property for host tensors
        return False


def _torch_tensor_type():
    torch = sys.modules.get("torch")
    return None if torch is None else getattr(torch, "Tensor", None)


def _check_grad(name, a):
    tt = _torch_tensor_type()
    if tt is not None and isinstance(a, tt) and getattr(a, "requires_grad", False):
        raise TypeError(
            f"{name} is a torch tensor that requires grad; fastconv does not track gradients, "
            f"pass {name}.detach()"
        )


def _host(name, a):
    """A NumPy view of a host operand (never copies a NumPy array)."""
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except Exception as e:  # ragged lists etc.
            raise TypeError(f"{name} could not be converted to an array: {e}") from None
    if arr.dtype.kind in "bOUSVMm":
        raise TypeError(
            f"{name} has dtype {arr.dtype}, expected a real floating array (float32 or float64)"
        )
    return arr


def operands(**named):
    """Classify operands and convert host ones.

    Returns ``(backend, dict)``: the backend is decided by the *first* operand
    (the input); ``None`` operands are passed through.
    """
    items = list(named.items())
    first_name, first = items[0]
    for name, a in items:
        if a is not None:
            _check_grad(name, a)
    backend = CUDA if is_cuda_array(first) else CPU
    out = {}
    for name, a in items:
        if a is None:
            out[name] = None
        elif backend == CPU:
            if is_cuda_array(a):
                raise TypeError(
                    f"{name} is a CUDA array but {first_name} is a host (NumPy) array; "
                    "put both on the same device"
                )
            out[name] = _host(name, a)
        else:
            out[name] = a if is_cuda_array(a) else _host(name, a)
    return backend, out


def check_out(out, shape, dtype, inputs=()):
    """Validate a user ``out=`` array for the CPU backend.

    ``out`` must be a writeable NumPy array of exactly ``shape`` and ``dtype``
    that does not overlap any input.  Returns ``(target, out)``: the array the
    kernel writes (C-contiguous; a temporary when ``out`` is not) and ``out``.
    """
    shape = tuple(shape)
    if out is None:
        o = np.empty(shape, dtype)
        return o, o
    if not isinstance(out, np.ndarray):
        if is_cuda_array(out):
            raise TypeError("out is a CUDA array but the inputs are host (NumPy) arrays")
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    for a in inputs:
        if isinstance(a, np.ndarray) and np.shares_memory(a, out):
            raise ValueError("out overlaps an input array; fastconv does not compute in place")
    if out.flags.c_contiguous:
        return out, out
    return np.empty(shape, dtype), out


def finish(target, out):
    """Copy a temporary result into a non-contiguous ``out``."""
    if target is not out:
        out[...] = target
    return out


def as_compute(a, dtype):
    """C-contiguous array of ``dtype`` (no copy when already so)."""
    return np.ascontiguousarray(a, dtype=dtype)


def run(backend, family, func, params, arrays, out):
    """Run ``func`` of ``fastconv._<backend>.<family>`` on ``arrays``.

    Both backends expose functions with the same name and signature
    ``func(params, *arrays, out=out) -> result``.
    """
    if backend == CPU:
        mod = _CPU_MODULES.get(family)
        if mod is None:
            mod = _cpu_module(family)
        return getattr(mod, func)(params, *arrays, out=out)
    return _run_cuda(family, func, params, arrays, out)


_CPU_MODULES = {}


def _cpu_module(family):
    """``fastconv._cpu.<family>``, imported once (import_module costs a few us per call
    with cold caches); Numba's workers are started before its first kernel (see
    :func:`fastconv._cpu._common.launch_threads`)."""
    mod = _CPU_MODULES.get(family)
    if mod is None:
        mod = _CPU_MODULES[family] = importlib.import_module(f"fastconv._cpu.{family}")
        importlib.import_module("fastconv._cpu._common").launch_threads()
    return mod


_TRUE, _FALSE, _FLOAT = object(), object(), object()  # key markers (see HostPlans.key)


class HostPlans:
    """Validated params of earlier host calls, for a short path on repeated calls.

    A call whose operands are exact ``np.ndarray`` objects (or ``None``) and
    whose other arguments are plain (see :meth:`key`: a bool, a float or a NumPy
    scalar never hits an int's entry) is keyed on the operands' shapes and
    dtypes and the arguments.  A key is stored only after the full
    path validated the call and chose the CPU backend, so a hit may skip operand
    classification, array-meta extraction and validation -- about 30-40 us per
    call when the interpreter's caches are cold after a large kernel (measured
    interleaved with torch, grouped conv (1,128,28,28)->128: 164 -> 133 us).
    The caller still runs the kernel through :func:`run` (the module
    attribute), so switching a kernel off for a test or a benchmark works.

    A family may also offer a *runner* per key (:meth:`learn`, :meth:`runner`):
    one function that serves repeated calls without the layers above the
    kernel driver, and that declines (returns None) whenever any of those
    layers could decide differently -- so the same switches still apply.
    """

    def __init__(self, maxsize=512):
        self.maxsize = maxsize
        self.cache = {}
        self.fast = {}  # key -> the CPU module's runner for it, or False (none)

    def key(self, tag, arrays, args):
        """The cache key of a call, or None when it cannot be served from the cache.

        Plain values (:func:`fastconv._params._plain`: exact ints, strings, None,
        tuples of exact ints) stand for themselves; a bool or a float is tagged with a private marker so that it never
        equals an int (``True == 1``, ``2.0 == 2``) -- such arguments validate
        differently.  Anything else (lists, NumPy scalars, arrays) gives None.
        """
        parts = [tag]
        for a in arrays:
            if a is None:
                parts.append(None)
            elif type(a) is np.ndarray:
                parts.append(a.shape)
                parts.append(a.dtype)
            else:
                return None
        for v in args:
            t = type(v)
            if t is bool:
                parts.append(_TRUE if v else _FALSE)
            elif t is float:
                parts.append((_FLOAT, v))
            elif t is int or t is str or v is None or _plain(v):  # the memoised validators' rule
                parts.append(v)
            else:
                return None
        return tuple(parts)

    def get(self, key):
        return None if key is None else self.cache.get(key)

    def runner(self, key):
        """The short path stored for ``key`` (see :meth:`learn`): a function
        ``(*arrays, out) -> result or None``, False when there is none, None when
        not known yet."""
        return self.fast.get(key)

    def learn(self, key, family, params, arrays):
        """Store ``fastconv._cpu.<family>.runner(params, *arrays)`` for a host call that
        just ran the full path (False when the module has none or declines).

        The runner does the call with every choice that depends only on the
        params made once; it returns None (the caller then takes the full path)
        whenever it cannot serve a call exactly as the full path would.  A
        stored runner is replaced only when its ``stale()`` says so (it was
        made for another Numba thread count); the caller calls this after every
        full-path call of a key whose runner is missing or declined.
        """
        if key is None or key not in self.cache:
            return
        old = self.fast.get(key)
        if old is False or (old is not None and not old.stale()):
            return
        if len(self.fast) >= self.maxsize:
            self.fast.clear()
        make = getattr(_cpu_module(family), "runner", None)
        self.fast[key] = (make(params, *arrays) if make else None) or False

    def lookup(self, tag, named, args, validate, key=None):
        """``(backend, arrays, params)`` of a call.

        ``named`` maps operand names to the user's operands (in kernel order),
        ``args`` are the other arguments (the key), ``validate(*arrays)`` builds
        the params from the classified operands.  A repeated host call is served
        from the cache; any other call goes through :func:`operands` and
        ``validate``, and is remembered when it runs on the CPU.
        """
        arrays = tuple(named.values())
        if key is None:
            key = self.key(tag, arrays, args)
        p = self.get(key)
        if p is not None:
            return CPU, arrays, p
        backend, ops = operands(**named)
        arrays = tuple(ops.values())
        p = validate(*arrays)
        self.remember(key, p, backend)
        return backend, arrays, p

    def remember(self, key, params, backend):
        if key is None or backend != CPU:
            return
        if len(self.cache) >= self.maxsize:
            self.cache.clear()
        self.cache[key] = params


def _run_cuda(family, func, params, arrays, out):
    # @@ CUDA-DISPATCH @@  (issue 5: the lazy numba.cuda backend; helpers below are CUDA-only)
    """Run ``fastconv._cuda.<family>.<func>`` on CUDA operands; return the output.

    ``arrays`` are the operands in kernel order (``None`` allowed), the first
    one a CUDA array; host operands (weights, bias) are copied to the device in
    the compute dtype.  The output is allocated in the first operand's library
    (CuPy / torch / numba) on its device, or ``out`` is validated and written.
    Kernels are queued on the caller's current stream; the call returns without
    waiting for them (as CuPy and torch do).
    """
    cuda = _cuda_module()
    sim = _cuda_simulated(cuda)
    mod = importlib.import_module(f"fastconv._cuda.{family}")
    p_last = params[-1] if isinstance(params, tuple) else params
    dtype = np.dtype(p_last.dtype)
    out_shape = tuple(p_last.out_shape)
    x = arrays[0]
    names = tuple(_CUDA_NAMES[i] if i < len(_CUDA_NAMES) else f"operand {i}"
                  for i in range(len(arrays)))
    # several outputs (max pooling with indices: values, int64 indices) arrive as a tuple
    want_idx = bool(getattr(p_last, "return_indices", False))
    multi = isinstance(out, tuple) or want_idx
    outs = list(out) if isinstance(out, tuple) else ([out, None] if want_idx else [out])
    specs = [(out_shape, dtype)] + [(out_shape, np.dtype(np.int64))] * (len(outs) - 1)
    onames = ["out"] if not multi else [f"out[{i}]" for i in range(len(outs))]
    # -- routing rules, before anything touches a device ---------------------
    devs = [(nm, _cuda_device_index(a, cuda, sim)) for nm, a in zip(names, arrays)
            if a is not None and is_cuda_array(a)]
    for onm, o, (shape, odtype) in zip(onames, outs, specs):
        if o is None:
            continue
        if not is_cuda_array(o):
            raise TypeError(
                f"{onm} is a host array ({type(o).__name__}) but the inputs are CUDA arrays; "
                "pass a CUDA array of the result's shape and dtype"
            )
        oshape, odt = _cuda_meta(o)
        if oshape != shape:
            raise ValueError(f"{onm} has shape {oshape}, expected {shape}")
        if odt != odtype:
            raise TypeError(f"{onm} has dtype {odt}, expected {odtype}")
        if getattr(o, "__cuda_array_interface__", {}).get("data", (0, False))[1]:
            raise ValueError(f"{onm} is read-only")
        devs.append((onm, _cuda_device_index(o, cuda, sim)))
    if len({d for _, d in devs}) > 1:
        where = ", ".join(f"{nm} on device {d}" for nm, d in devs)
        raise ValueError(f"operands are on different CUDA devices ({where}); put them on one device")
    given = [(onm, o) for onm, o in zip(onames, outs) if o is not None]
    for i, (onm, o) in enumerate(given):
        others = [(nm, a) for nm, a in zip(names, arrays) if a is not None and is_cuda_array(a)]
        for nm, a in others + given[i + 1:]:
            if _cuda_overlap(a, o):
                raise ValueError(f"{onm} overlaps {nm}; fastconv does not compute in place")
    for nm, a in list(zip(names, arrays)) + given:
        if a is not None and is_cuda_array(a) and sim != _cuda_is_sim_array(a):
            if sim:
                raise BackendUnavailableError(
                    f"fastconv: {nm} is a {type(a).__name__} CUDA array but the CUDA simulator "
                    "(NUMBA_ENABLE_CUDASIM=1) is active, which runs only its own device arrays "
                    "(numba.cuda.to_device(...))"
                )
            raise TypeError(f"{nm} is a CUDA-simulator array but the simulator is not active")
    dev = devs[0][1]
    with _cuda_device_context(cuda, sim, dev):
        stream = _cuda_stream_for(x, cuda, sim, dev)
        sptr = _cuda_stream_ptr(stream, sim)
        dev_arrays = tuple(
            None if a is None else _cuda_view(a, cuda, sim, sptr) if is_cuda_array(a)
            else cuda.to_device(np.ascontiguousarray(a, dtype=_cuda_host_dtype(a, dtype)),
                                stream=stream)
            for a in arrays
        )
        results, targets, kern_outs = [], [], []
        for o, (shape, odtype) in zip(outs, specs):
            r = o if o is not None else _cuda_alloc_like(x, shape, odtype, cuda, sim, dev, stream)
            t = _cuda_view(r, cuda, sim, sptr)
            results.append(r)
            targets.append(t)
            kern_outs.append(t if _cuda_is_c_contiguous(t)
                             else cuda.device_array(shape, odtype, stream=stream))
        getattr(mod, func)(params, *dev_arrays,
                           out=tuple(kern_outs) if multi else kern_outs[0], stream=stream)
        for t, k in zip(targets, kern_outs):
            if t is not k:
                from fastconv._cuda import _common as _cc

                _cc.copy(k, t, stream)
    return tuple(results) if multi else results[0]


# ---------------------------------------------------------------------------
# CUDA-only helpers (owned by issue 5; numba.cuda is imported only in here)
# ---------------------------------------------------------------------------

_CUDA_NAMES = ("input", "operand 1", "operand 2", "operand 3", "operand 4")


def _cuda_host_dtype(a, dtype):
    """Host operands go to the device in the compute dtype (complex stays complex)."""
    kind = np.asarray(a).dtype.kind if not hasattr(a, "dtype") else np.dtype(a.dtype).kind
    if kind == "c" and dtype.kind != "c":
        return np.result_type(dtype, np.complex64)
    return dtype


def _cuda_module():
    """``numba.cuda``, or BackendUnavailableError with what to install / do instead."""
    try:
        from numba import cuda
    except Exception as e:  # ImportError, CudaSupportError, missing runtime libraries
        raise BackendUnavailableError(
            f"fastconv: a CUDA array was given but numba.cuda could not be imported ({e}). "
            'Install the CUDA extra: pip install "fastconv[cuda12]" (or "fastconv[cuda13]"), '
            "or pass NumPy arrays to use the CPU backend"
        ) from e
    if not _cuda_simulated(cuda):
        try:
            ok = cuda.is_available()
        except Exception:  # pragma: no cover - driver errors
            ok = False
        if not ok:
            raise BackendUnavailableError(
                "fastconv: a CUDA array was given but no CUDA GPU/driver is usable "
                "(numba.cuda.is_available() is False). Use a machine with an NVIDIA GPU, set "
                "NUMBA_ENABLE_CUDASIM=1 before importing numba to run the CUDA simulator, or pass "
                "NumPy arrays to use the CPU backend"
            )
    return cuda


def _cuda_simulated(cuda):
    import numba

    return bool(getattr(numba.config, "ENABLE_CUDASIM", 0)) or not hasattr(cuda, "as_cuda_array")


def _cuda_is_sim_array(a):
    return bool(getattr(a, "__cuda_ndarray__", False)) and hasattr(a, "_ary")


def _cuda_meta(a):
    if _cuda_is_sim_array(a):
        return tuple(a.shape), np.dtype(a.dtype)
    iface = a.__cuda_array_interface__
    return tuple(int(s) for s in iface["shape"]), np.dtype(iface["typestr"])


def _cuda_device_index(a, cuda, sim):
    """Device ordinal of a CUDA operand (duck-typed: CuPy ``.device.id``, torch ``.device.index``)."""
    if _cuda_is_sim_array(a):
        return 0
    dev = getattr(a, "device", None)
    for attr in ("id", "index"):
        v = getattr(dev, attr, None)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    gpu_data = getattr(a, "gpu_data", None)  # numba DeviceNDArray
    ctx = getattr(gpu_data, "context", None)
    if ctx is not None:
        return int(ctx.device.id)
    if sim:
        return 0
    try:
        return int(cuda.get_current_device().id)
    except Exception:  # pragma: no cover
        return 0


def _cuda_extent(a):
    """``(lo, hi)`` byte range an array may touch (for overlap checks)."""
    if _cuda_is_sim_array(a):
        return None
    iface = a.__cuda_array_interface__
    ptr = int(iface["data"][0])
    shape = iface["shape"]
    item = np.dtype(iface["typestr"]).itemsize
    strides = iface.get("strides")
    if strides is None:
        strides = []
        acc = item
        for n in reversed(shape):
            strides.append(acc)
            acc *= n
        strides.reverse()
    if any(n == 0 for n in shape):
        return (ptr, ptr)
    lo = ptr + sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
    hi = ptr + sum((n - 1) * s for n, s in zip(shape, strides) if s > 0) + item
    return lo, hi


def _cuda_overlap(a, b):
    if _cuda_is_sim_array(a) and _cuda_is_sim_array(b):
        return bool(np.shares_memory(a._ary, b._ary))
    if _cuda_is_sim_array(a) or _cuda_is_sim_array(b):
        return False
    ea, eb = _cuda_extent(a), _cuda_extent(b)
    return ea[0] < eb[1] and eb[0] < ea[1]


class _NullContext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _cuda_device_context(cuda, sim, dev):
    if sim:
        return _NullContext()
    return cuda.gpus[dev]


def _cuda_stream_for(x, cuda, sim, dev):
    """The caller's current stream, as a numba stream."""
    if sim:
        return 0
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(x, cp.ndarray):
        with cp.cuda.Device(dev):
            ptr = int(cp.cuda.get_current_stream().ptr)
        return cuda.external_stream(ptr) if ptr else cuda.default_stream()
    tt = _torch_tensor_type()
    if tt is not None and isinstance(x, tt):
        ptr = int(sys.modules["torch"].cuda.current_stream(x.device).cuda_stream)
        return cuda.external_stream(ptr) if ptr else cuda.default_stream()
    s = getattr(x, "stream", 0)
    if s and hasattr(s, "handle"):  # numba DeviceNDArray bound to a stream
        return s
    ptr = x.__cuda_array_interface__.get("stream")
    if ptr is None:
        return cuda.default_stream()
    if ptr == 1:
        return cuda.legacy_default_stream()
    if ptr == 2:
        return cuda.per_thread_default_stream()
    return cuda.external_stream(int(ptr))


def _cuda_stream_ptr(stream, sim):
    if sim or stream is None or isinstance(stream, int):
        return int(stream or 0)
    try:
        return int(stream.handle)  # numba Stream; the default stream is 0
    except (TypeError, ValueError, AttributeError):  # pragma: no cover - other handle types
        return int(stream)


def _cuda_view(a, cuda, sim, stream_ptr):
    """A numba device-array view of a CUDA operand (zero copy)."""
    if sim:
        return a
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    if isinstance(a, DeviceNDArray):
        return a
    iface_stream = a.__cuda_array_interface__.get("stream")
    same = iface_stream is None or iface_stream == stream_ptr or (
        iface_stream == 1 and stream_ptr == 0
    )
    return cuda.as_cuda_array(a, sync=not same)


def _cuda_is_c_contiguous(a):
    if _cuda_is_sim_array(a):
        return bool(a._ary.flags.c_contiguous)
    return bool(a.is_c_contiguous())


def _cuda_alloc_like(x, shape, dtype, cuda, sim, dev, stream):
    """An empty output in ``x``'s library (CuPy, torch, else a numba device array)."""
    if not sim:
        cp = sys.modules.get("cupy")
        if cp is not None and isinstance(x, cp.ndarray):
            with cp.cuda.Device(dev):
                return cp.empty(shape, dtype=dtype)
        tt = _torch_tensor_type()
        if tt is not None and isinstance(x, tt):
            torch = sys.modules["torch"]
            return torch.empty(shape, dtype=getattr(torch, dtype.name), device=x.device)
    return cuda.device_array(shape, dtype=dtype, stream=stream)
