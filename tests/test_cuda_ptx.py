"""Every CUDA kernel compiled to PTX (and cubin) for cc 7.5 / 8.0 / 9.0, float32 and float64.

``numba.cuda.compile_ptx`` type-checks and lowers the kernels with NVVM on a
machine without a GPU -- the check the CUDA simulator cannot do.  Skipped
cleanly when numba-cuda or NVVM is not installed, or under the simulator.
"""

import os

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    pytest.skip("PTX compilation is not available under the CUDA simulator", allow_module_level=True)

try:
    from numba import cuda  # noqa: F401
    from numba.cuda.cudadrv import nvvm

    nvvm.NVVM()  # loads libnvvm
except Exception as e:  # ImportError, NvvmSupportError, missing libraries
    pytest.skip(f"numba-cuda with NVVM is not installed ({type(e).__name__}: {e})",
                allow_module_level=True)

from fastconv._cuda import _resources  # noqa: E402

KERNELS = [(fam, name) for fam, name, _ in _resources.kernel_table()]
CCS = _resources.CCS
ACCUMULATING = {"_conv_tiled", "_conv_direct", "_tconv", "_avg_pool", "_adaptive_pool", "_interp",
                "_corr"}
DTYPES = _resources.DTYPES


def test_every_family_module_is_listed():
    fams = {fam for fam, _ in KERNELS}
    assert {"conv", "_common"} <= fams
    assert ("conv", "_conv_tiled") in KERNELS and ("conv", "_conv_direct") in KERNELS


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cc", CCS, ids=lambda c: f"cc{c[0]}{c[1]}")
@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: f"{k[0]}.{k[1]}")
def test_compile_ptx(kernel, cc, dtype):
    fam, name = kernel
    ptx = _resources.compile_ptx(fam, name, cc, dtype)
    assert f".target sm_{cc[0]}{cc[1]}" in ptx
    assert ".entry" in ptx
    # accumulating kernels: float32 sums stay float32, float64 sums are double
    if name in ACCUMULATING:
        if dtype == "float32":
            assert "fma.rn.f32" in ptx or "add.f32" in ptx or "add.rn.f32" in ptx
            assert "fma.rn.f64" not in ptx and "add.f64" not in ptx and "add.rn.f64" not in ptx, \
                "float32 kernel accumulates in float64"
        else:
            assert "fma.rn.f64" in ptx or "add.f64" in ptx or "add.rn.f64" in ptx


def _need_cubin():
    if _resources.cubin_tool() is None:
        pytest.skip("no nvJitLink (cuda-bindings) and no ptxas available")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["_conv_tiled", "_conv_direct"])
def test_conv_kernels_do_not_spill_at_cc90(name, dtype):
    _need_cubin()
    ptx = _resources.compile_ptx("conv", name, (9, 0), dtype)
    info = _resources.cubin_info(ptx, (9, 0))
    assert info["registers"] > 0, info["log"]
    assert info["spill_stores"] == 0 and info["spill_loads"] == 0, info["log"]
    assert info["lmem"] == 0 and info["stack"] == 0, info["log"]


def test_resource_report_rows_and_table():
    _need_cubin()
    rows = _resources.resource_report(ccs=((8, 0),), dtypes=("float32",), modules=("_common",))
    assert rows == [dict(family="_common", kernel="_copy5", cc="8.0", dtype="float32",
                         registers=rows[0]["registers"], stack=0, spill_stores=0, spill_loads=0,
                         smem=0, lmem=0)]
    text = _resources.format_report(rows)
    assert "_copy5" in text and "regs" in text


def test_parse_ptxas_log():
    log = ("ptxas info    : Used 40 registers, used 1 barriers, 8 bytes smem\n"
           "ptxas         .     16 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n")
    info = _resources._parse(log)
    assert info == dict(registers=40, stack=16, spill_stores=4, spill_loads=4, smem=8, lmem=0)


def test_fake_device_restores():
    import numba.cuda.dispatcher as disp

    before = disp.get_current_device
    with _resources.fake_device((9, 0)):
        assert disp.get_current_device().compute_capability == (9, 0)
    assert disp.get_current_device is before


@pytest.mark.parametrize("kind", ["complex64", "complex128", "int64"])
def test_signal_kernels_compile_for_complex_and_integer(kind):
    """The signal family also runs complex and int64 (integer/bool inputs) specialisations."""
    from numba import cuda, types

    from fastconv._cuda import signal as csig

    t = getattr(types, kind)
    a5 = types.Array(t, 5, "C")
    m = types.Array(types.int64, 1, "C")
    v = types.Array(t, 1, "C")
    sigs = [(csig._corr, (a5, a5, a5, m, m, m, m, m, v, types.boolean)),
            (csig._prep, (types.Array(t, 5, "A"), a5, types.boolean))]
    if kind.startswith("complex"):
        sigs.append((csig._conj, (v,)))
    else:
        sigs.append((csig._cast_int, (v, types.Array(types.int8, 1, "C"), types.int64)))
        sigs.append((csig._nonzero, (v, types.Array(types.boolean, 1, "C"))))
    with _resources.fake_device((8, 0)):
        for kern, sig in sigs:
            ptx, _ = cuda.compile_ptx(kern.py_func, sig, cc=(8, 0))
            assert ".entry" in ptx
