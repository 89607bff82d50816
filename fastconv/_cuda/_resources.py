"""Compile every CUDA kernel to PTX and cubin without a GPU; report registers, spills, shared memory.

``python -m fastconv info --cuda-resources`` calls :func:`resource_report` and
prints :func:`format_report` of it.  Needs numba-cuda with NVVM (the
``cuda12``/``cuda13`` extras); the cubin step uses nvJitLink from
``cuda.bindings`` (both extras ship it) or, failing that, ``ptxas`` from the
pip package ``nvidia-cuda-nvcc-cu12`` / a CUDA toolkit on ``PATH``.

Rows are dicts with keys ``family, kernel, cc, dtype, registers,
spill_stores, spill_loads, stack, lmem, smem`` (bytes; ``smem`` is static
shared memory -- the tiled conv kernels add their dynamic patch at launch,
``tile rows x cols`` of the launch geometry).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import re
import shutil
import subprocess
import tempfile
import threading

CCS = ((7, 5), (8, 0), (9, 0))
DTYPES = ("float32", "float64")
# _cuda modules that hold kernels (the family modules appear as the families land)
MODULES = ("conv", "conv_transpose", "pool", "interpolate", "signal", "_common")

_patch_lock = threading.Lock()


class _StubDevice:
    def __init__(self, cc):
        self.compute_capability = tuple(cc)
        self.id = 0


@contextlib.contextmanager
def fake_device(cc=(8, 0)):
    """Make numba-cuda believe a device of capability ``cc`` is current (no GPU needed).

    Kernels that call device functions or allocate ask the current device for
    its capability while compiling; on a machine without a GPU that fails.
    """
    import numba.cuda.dispatcher as disp

    with _patch_lock:
        orig = getattr(disp, "get_current_device", None)
        disp.get_current_device = lambda: _StubDevice(cc)
        try:
            yield
        finally:
            if orig is None:
                del disp.get_current_device
            else:
                disp.get_current_device = orig


def kernel_table(modules=MODULES):
    """``[(family, name, kernel, signatures_fn)]`` for every importable kernel module."""
    out = []
    for fam in modules:
        try:
            mod = importlib.import_module(f"fastconv._cuda.{fam}")
        except ModuleNotFoundError as e:
            if e.name == f"fastconv._cuda.{fam}":
                continue
            raise
        sig = getattr(mod, "signatures", None)
        if sig is None:
            continue
        for name in sorted(getattr(mod, "KERNELS", {})):
            out.append((fam, name, sig))
    return out


def _nbtype(dtype):
    from numba import types

    return {"float32": types.float32, "float64": types.float64}[str(dtype)]


def compile_ptx(family, name, cc=(8, 0), dtype="float32"):
    """PTX text of kernel ``name`` of ``fastconv._cuda.<family>`` for ``cc`` and ``dtype``."""
    return _compile_ptx(family, name, tuple(cc), str(dtype))


@functools.lru_cache(maxsize=None)
def _compile_ptx(family, name, cc, dtype):
    from numba import cuda

    mod = importlib.import_module(f"fastconv._cuda.{family}")
    kern, argtypes = mod.signatures(_nbtype(dtype))[name]
    pyfunc = getattr(kern, "py_func", kern)
    with fake_device(cc):
        ptx, _ = cuda.compile_ptx(pyfunc, tuple(argtypes), cc=tuple(cc))
    return ptx


def _ptxas_path():
    try:
        import nvidia.cuda_nvcc as m  # nvidia-cuda-nvcc-cu12 wheel

        for base in getattr(m, "__path__", []):
            p = os.path.join(base, "bin", "ptxas")
            if os.path.exists(p):
                return p
    except ImportError:
        pass
    return shutil.which("ptxas")


def _parse(log):
    def num(pattern, default=0):
        m = re.search(pattern, log)
        return int(m.group(1)) if m else default

    return dict(
        registers=num(r"[Uu]sed (\d+) registers"),
        stack=num(r"(\d+) bytes stack frame"),
        spill_stores=num(r"(\d+) bytes spill stores"),
        spill_loads=num(r"(\d+) bytes spill loads"),
        smem=num(r"(\d+) bytes smem"),
        lmem=num(r"(\d+) bytes lmem"),
    )


def cubin_tool():
    """``"nvjitlink"``, ``"ptxas"`` or ``None``: what :func:`cubin_info` will use."""
    try:
        from cuda.bindings import nvjitlink  # noqa: F401

        return "nvjitlink"
    except ImportError:
        pass
    return "ptxas" if _ptxas_path() else None


def cubin_info(ptx, cc):
    """Assemble ``ptx`` for ``sm_<cc>`` and parse the resource usage (dict, bytes)."""
    arch = f"sm_{cc[0]}{cc[1]}"
    tool = cubin_tool()
    if tool == "nvjitlink":
        from cuda.bindings import nvjitlink

        h = nvjitlink.create(2, [f"-arch={arch}", "-verbose"])
        try:
            data = ptx.encode()
            nvjitlink.add_data(h, nvjitlink.InputType.PTX, data, len(data), "fastconv")
            nvjitlink.complete(h)
            n = nvjitlink.get_info_log_size(h)
            buf = bytearray(n)
            nvjitlink.get_info_log(h, buf)
        finally:
            nvjitlink.destroy(h)
        log = buf.decode(errors="replace")
    elif tool == "ptxas":
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "k.ptx")
            with open(src, "w") as f:
                f.write(ptx)
            r = subprocess.run([_ptxas_path(), f"-arch={arch}", "-v", src, "-o",
                                os.path.join(d, "k.cubin")], capture_output=True, text=True,
                               check=True)
            log = r.stdout + r.stderr
    else:
        raise RuntimeError(
            "no PTX assembler: install the CUDA extra (cuda-bindings' nvJitLink) or "
            "nvidia-cuda-nvcc-cu12 (ptxas)"
        )
    info = _parse(log)
    info["log"] = log
    return info


def resource_report(ccs=CCS, dtypes=DTYPES, modules=MODULES):
    """One row per (kernel, cc, dtype): registers, spills, stack/local and shared memory.

    Raises ``RuntimeError`` under the CUDA simulator (nothing is compiled there)
    and ``ImportError`` when numba-cuda/NVVM is missing.
    """
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        raise RuntimeError("resource_report compiles real kernels; unset NUMBA_ENABLE_CUDASIM")
    rows = []
    for fam, name, _ in kernel_table(modules):
        for cc in ccs:
            for dt in dtypes:
                ptx = compile_ptx(fam, name, cc, dt)
                info = cubin_info(ptx, cc)
                info.pop("log")
                rows.append(dict(family=fam, kernel=name, cc=f"{cc[0]}.{cc[1]}", dtype=dt, **info))
    return rows


def format_report(rows):
    """A fixed-width text table of :func:`resource_report` rows."""
    cols = ("family", "kernel", "cc", "dtype", "registers", "spill_stores", "spill_loads",
            "stack", "lmem", "smem")
    heads = ("family", "kernel", "cc", "dtype", "regs", "spill st", "spill ld", "stack", "lmem",
             "smem")
    table = [heads] + [tuple(str(r[c]) for c in cols) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(format_report(resource_report()))
