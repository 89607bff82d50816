"""The cache of functions called from Python only (``fastconv._cpu._common.entry``).

An entry's cache keeps its machine code and the names of its symbols, not the IR
that jitted callers would link: loaded from the cache it cannot be linked.  So
no jitted function may refer to an entry, and every kernel Python calls should
be one (else its first call in a new process parses its whole IR again).
"""

import importlib
import os
import pkgutil
import subprocess
import sys
import textwrap
import types

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher

import fastconv._cpu as cpu_pkg
from fastconv._cpu import _common


def _dispatchers():
    """Every CPU dispatcher defined in fastconv._cpu, as {id: (qualified name, dispatcher)}."""
    out = {}
    for info in pkgutil.iter_modules(cpu_pkg.__path__):
        mod = importlib.import_module(f"fastconv._cpu.{info.name}")
        for name, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == mod.__name__:
                out[id(obj)] = (f"{info.name}.{name}", obj)
    return out


def _global_names(code):
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


def _callers():
    """{id of a dispatcher: names of the jitted functions whose code refers to it}."""
    callers = {}
    for name, disp in _dispatchers().values():
        g = disp.py_func.__globals__
        for ref in _global_names(disp.py_func.__code__):
            target = g.get(ref)
            if isinstance(target, CPUDispatcher):
                callers.setdefault(id(target), []).append(name)
    return callers


def test_no_jitted_function_calls_an_entry():
    callers = _callers()
    bad = [f"{name} <- {callers[i]}" for i, (name, d) in _dispatchers().items()
           if getattr(d, "_fastconv_entry", False) and i in callers]
    assert not bad, f"entries referred to from jitted code: {bad}"


def test_every_python_called_kernel_is_an_entry():
    callers = _callers()
    found = _dispatchers()
    missing = [name for i, (name, d) in found.items()
               if i not in callers and not getattr(d, "_fastconv_entry", False)]
    assert not missing, f"dispatchers no jitted code calls, not marked @entry: {missing}"
    assert sum(getattr(d, "_fastconv_entry", False) for _, d in found.values()) >= 30


def test_entries_use_the_entry_cache():
    for name, d in _dispatchers().values():
        if getattr(d, "_fastconv_entry", False):
            assert isinstance(d._cache, _common._EntryCache), name


def test_symbols_module_keeps_the_exported_names():
    import llvmlite.binding as ll

    @njit(cache=False)
    def f(a):
        return a.sum() + 1.0

    f(np.ones(3))
    cres = f.overloads[f.signatures[0]]
    full = cres.library._get_module_for_linking()
    stub = ll.parse_bitcode(_common._symbols_module(full.as_bitcode()))
    names = {g.name for g in stub.global_variables}
    assert cres.fndesc.llvm_func_name in names
    assert cres.fndesc.llvm_cpython_wrapper_name in names
    assert not list(stub.functions)
    hidden = {g.name for g in full.global_variables
              if g.linkage in (ll.Linkage.private, ll.Linkage.internal)}
    assert hidden and not names & hidden  # the module's private constants are left out


MODULE = '''
import numpy as np
from numba import njit
from fastconv._cpu._common import NJIT_OPTS, entry

@njit(**NJIT_OPTS)
def helper(a):
    return a * 2.0

@entry
@njit(**NJIT_OPTS)
def top(a, k):
    return helper(a).sum() + k
'''

CHILD = '''
import sys
import numpy as np
from numba import njit
import entmod
a = np.arange(10.0)
r = entmod.top(a, 3)
sig = entmod.top.signatures[0]
print("RESULT", r, sum(entmod.top.stats.cache_hits.values()),
      entmod.top.overloads[sig].library._shared_module is None)

@njit
def caller(a):
    return entmod.top(a, 1)

try:
    print("LINKED", caller(a))
except RuntimeError as e:
    print("LINKERR", "unfit for linking" in str(e))
'''


def test_entry_round_trip_through_the_cache(tmp_path):
    """A new process loads an entry from the cache, gets the same result, and a
    jitted caller then fails with Numba's error (no crash, no wrong call)."""
    (tmp_path / "entmod.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "child.py").write_text(textwrap.dedent(CHILD))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(tmp_path)] + sys.path))

    def run():
        r = subprocess.run([sys.executable, str(tmp_path / "child.py")], capture_output=True,
                           text=True, env=env, cwd=tmp_path, timeout=300)
        assert r.returncode == 0, r.stderr
        return dict(line.split(" ", 1) for line in r.stdout.splitlines())

    first, second = run(), run()
    assert first["RESULT"] == "93.0 0 False"  # compiled: the full library, linkable
    assert first["LINKED"] == "91.0"
    assert second["RESULT"] == "93.0 1 True"  # loaded from the cache: not linkable
    assert second["LINKERR"] == "True"
    assert list((tmp_path / "cache").rglob("entmod.top-*.nbc"))  # in the directory given


# the calls, run here and in the new process alike
CALLS = """
out = []
for dt in (np.float32, np.float64):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4, 9, 9)).astype(dt)
    w = rng.standard_normal((4, 4, 3, 3)).astype(dt)
    out += [fastconv.conv2d(x, w, padding=1), fastconv.max_pool2d(x, 3, stride=2, padding=1)]
"""

WARM = "import numpy as np, fastconv\n" + CALLS + """
import sys
from numba.core.registry import CPUDispatcher
ents = [d for m in list(sys.modules.values()) if m and m.__name__.startswith("fastconv._cpu.")
        for d in vars(m).values()
        if isinstance(d, CPUDispatcher) and getattr(d, "_fastconv_entry", False)]
hits = sum(sum(d.stats.cache_hits.values()) for d in ents)
misses = sum(sum(d.stats.cache_misses.values()) for d in ents)
print(hits, misses, np.concatenate([o.ravel().astype(np.float64) for o in out]).tobytes().hex())
"""


def test_kernels_from_the_warm_cache_match():
    """conv2d (the SIMD driver and its task function) and max pooling, in both
    dtypes, run in a new process from the cache this process wrote -- the
    entries' symbol-only libraries -- and give the same bytes as here."""
    import fastconv

    ns = {"np": np, "fastconv": fastconv}
    exec(CALLS, ns)
    out = ns["out"]
    r = subprocess.run([sys.executable, "-c", WARM], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    hits, misses, data = r.stdout.split()
    assert int(misses) == 0 and int(hits) >= 6, (hits, misses)
    assert data == np.concatenate([o.ravel().astype(np.float64) for o in out]).tobytes().hex()
