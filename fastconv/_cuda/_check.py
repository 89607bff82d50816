"""Run a public op on the CUDA backend with NumPy in / NumPy out (for ``python -m fastconv check``).

The CUDA simulator must be chosen before numba is imported, so a CLI that
wants it on a machine without a GPU re-runs itself in a child process::

    import subprocess, sys
    from fastconv._cuda import _check
    if _check.mode() == "none":
        env = _check.simulator_env()
        sys.exit(subprocess.call([sys.executable, "-m", "fastconv", "check", "--backend", "cuda"],
                                 env=env))

Inside the process, :func:`run_on_cuda` does the conversions::

    y = _check.run_on_cuda(fastconv.conv2d, x, w, b, padding=1)      # numpy -> device -> numpy
    err = _check.compare(fastconv.conv2d, x, w, b, padding=1)         # max |cuda - cpu|
"""

from __future__ import annotations

import os

import numpy as np


def mode():
    """``"simulator"`` (NUMBA_ENABLE_CUDASIM=1), ``"gpu"`` (a usable GPU) or ``"none"``.

    Never raises; importing numba.cuda happens only here.
    """
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "simulator"
    try:
        from numba import cuda

        return "gpu" if cuda.is_available() else "none"
    except Exception:
        return "none"


def simulator_env(environ=None):
    """A copy of ``environ`` (default ``os.environ``) that turns the CUDA simulator on."""
    env = dict(os.environ if environ is None else environ)
    env["NUMBA_ENABLE_CUDASIM"] = "1"
    return env


def to_device(a):
    """NumPy array -> numba device array (simulator or GPU); anything else unchanged."""
    if isinstance(a, np.ndarray):
        from numba import cuda

        return cuda.to_device(np.ascontiguousarray(a))
    return a


def to_host(r):
    """Device result(s) -> NumPy (numba / simulator / CuPy / torch; tuples element-wise)."""
    if isinstance(r, tuple):
        return tuple(to_host(v) for v in r)
    if isinstance(r, list):
        return [to_host(v) for v in r]
    if isinstance(r, np.ndarray) or r is None or np.isscalar(r):
        return r
    if hasattr(r, "copy_to_host"):
        return r.copy_to_host()
    if hasattr(r, "get") and type(r).__module__.startswith("cupy"):
        return r.get()
    if hasattr(r, "detach") and hasattr(r, "cpu"):
        return r.detach().cpu().numpy()
    return np.asarray(r)


def run_on_cuda(fn, *args, device_operands="input", **kwargs):
    """Call ``fn`` with its NumPy array arguments moved to the device; return NumPy.

    ``device_operands``: ``"input"`` moves only the first positional argument
    (weights/bias stay NumPy and exercise the host->device copy), ``"all"``
    moves every NumPy positional argument.  An ``out=`` NumPy array is
    replaced by a device array and filled back.
    """
    if not args:
        raise TypeError("run_on_cuda needs at least the input array")
    if device_operands == "all":
        dargs = tuple(to_device(a) for a in args)
    elif device_operands == "input":
        dargs = (to_device(args[0]),) + tuple(args[1:])
    else:
        raise ValueError(f"device_operands={device_operands!r}; expected 'input' or 'all'")
    host_out = kwargs.get("out")
    if isinstance(host_out, np.ndarray):
        kwargs["out"] = to_device(host_out)
    res = to_host(fn(*dargs, **kwargs))
    if isinstance(host_out, np.ndarray):
        host_out[...] = res
        return host_out
    return res


def compare(fn, *args, **kwargs):
    """``max |cuda - cpu|`` of ``fn(*args, **kwargs)`` (tuples: max over elements)."""
    cpu = fn(*args, **kwargs)
    gpu = run_on_cuda(fn, *args, **kwargs)
    cpu = cpu if isinstance(cpu, tuple) else (cpu,)
    gpu = gpu if isinstance(gpu, tuple) else (gpu,)
    err = 0.0
    for a, b in zip(cpu, gpu):
        a = np.asarray(a)
        b = np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            raise AssertionError(f"cuda result {b.shape} {b.dtype} != cpu {a.shape} {a.dtype}")
        if a.size:
            err = max(err, float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))))
    return err


# Public functions that take an array input first (everything else is left alone).
_SKIP = {"shapes", "BackendUnavailableError", "choose_conv_method"}


def _public_functions():
    import fastconv

    targets = [(fastconv, n) for n in getattr(fastconv, "__all__", ())]
    sig = getattr(fastconv, "signal", None)
    if sig is not None and hasattr(sig, "__all__"):
        targets += [(sig, n) for n in sig.__all__]
    return [(mod, n) for mod, n in targets
            if n not in _SKIP and callable(getattr(mod, n, None))
            and not isinstance(getattr(mod, n), type)]


class wrap_for_device:
    """Context manager: while active, fastconv's public ops run on the CUDA backend.

    Every public function (``fastconv.<op>`` and ``fastconv.signal.<op>``) is
    temporarily replaced by a wrapper that moves its first (NumPy) argument to
    the device, keeps weights as NumPy (exercising the host->device copy) and
    returns NumPy -- so check cases written for NumPy run unchanged::

        with wrap_for_device():
            y = fastconv.conv2d(x, w)      # ran on the GPU / simulator, y is NumPy

    Not thread-safe (it patches module attributes); for the CLI and tests.
    """

    def __enter__(self):
        import functools

        self._saved = []
        for mod, name in _public_functions():
            orig = getattr(mod, name)

            @functools.wraps(orig)
            def wrapper(*args, __orig=orig, **kwargs):
                if args and isinstance(args[0], np.ndarray) and args[0].ndim > 0:
                    return run_on_cuda(__orig, *args, **kwargs)
                return __orig(*args, **kwargs)

            self._saved.append((mod, name, orig))
            setattr(mod, name, wrapper)
        self._limits = None
        if mode() == "simulator":  # simulated threads are costly: small blocks
            from . import _launch

            self._limits = _launch.limits(**SIM_LIMITS)
            self._limits.__enter__()
        return self

    def __exit__(self, *exc):
        if self._limits is not None:
            self._limits.__exit__(None, None, None)
            self._limits = None
        for mod, name, orig in reversed(self._saved):
            setattr(mod, name, orig)
        self._saved = []
        return False


#: launch geometry used under the simulator by :class:`wrap_for_device`
SIM_LIMITS = dict(threads=64, tile=(16, 4), max_blocks=64)
