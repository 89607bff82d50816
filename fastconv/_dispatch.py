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
        mod = importlib.import_module(f"fastconv._cpu.{family}")
        return getattr(mod, func)(params, *arrays, out=out)
    return _run_cuda(family, func, params, arrays, out)


def _run_cuda(family, func, params, arrays, out):
    # @@ CUDA-DISPATCH @@  (issue 5 replaces this with the lazy numba.cuda backend)
    raise BackendUnavailableError(
        "fastconv: a CUDA array was given but the CUDA backend is not available yet; "
        "pass NumPy arrays (e.g. cupy.asnumpy(x) / x.cpu().numpy()) to use the CPU backend"
    )
