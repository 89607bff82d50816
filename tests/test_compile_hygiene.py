"""Source checks that keep Numba from compiling the same kernel twice.

Numba compiles a jitted callee once per distinct argument-type tuple.  Two
patterns gave the same helper a second signature, each a full extra compile:

* a literal argument: ``f(a, 0)`` types the ``0`` as ``Literal[int](0)``, so
  ``f(a, 0)`` and ``f(a, n)`` are two compilations.  A literal ``0`` passed to
  the SIMD micro-kernels doubled the cold compile of the conv family
  (90 s -> 58 s when removed).  Pass a variable or ``np.int64(0)`` instead.
* a ``prange`` index passed bare: the parfor types it as int64 in the
  function and as uint64 in the gufunc it outlines, so the callee compiles
  for both.  Cast it: ``f(np.int64(t))``.

The checks read the sources (no compilation), so they run in any cache state.
"""

import ast
import pathlib

import pytest

CPU = pathlib.Path(__file__).resolve().parents[1] / "fastconv" / "_cpu"
SOURCES = sorted(CPU.glob("*.py"))


def _jitted_names(tree):
    """Names of the functions the module defines under a ``@njit``/``@jit`` decorator,
    and the private names it imports (the jitted helpers of sibling modules)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            if any("jit" in ast.unparse(d) for d in node.decorator_list):
                names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and (node.level or 0) > 0:
            names.update(a.asname or a.name for a in node.names if a.name.startswith("_"))
    return names


def _is_literal(arg):
    if isinstance(arg, ast.UnaryOp):
        arg = arg.operand
    return isinstance(arg, ast.Constant) and isinstance(arg.value, (int, float, bool))


def _literal_calls(tree):
    jitted = _jitted_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in jitted:
            for i, arg in enumerate(node.args):
                if _is_literal(arg):
                    yield f"line {node.lineno}: {node.func.id}(... argument {i} = {ast.unparse(arg)})"


def _bare_prange_index_calls(tree):
    jitted = _jitted_names(tree)
    for loop in ast.walk(tree):
        if not (isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call)
                and ast.unparse(loop.iter.func) in ("prange", "numba.prange")
                and isinstance(loop.target, ast.Name)):
            continue
        idx = loop.target.id
        for node in ast.walk(loop):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in jitted:
                for i, arg in enumerate(node.args):
                    if isinstance(arg, ast.Name) and arg.id == idx:
                        yield f"line {node.lineno}: {node.func.id}(... argument {i} = {idx})"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_literal_arguments_to_jitted_helpers(path):
    found = list(_literal_calls(ast.parse(path.read_text())))
    assert not found, f"{path.name}: literal arguments compile a second copy: {found}"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_prange_index_cast_before_calls(path):
    found = list(_bare_prange_index_calls(ast.parse(path.read_text())))
    assert not found, f"{path.name}: cast the prange index with np.int64(): {found}"


_EXAMPLE = """\
import numpy as np
from numba import njit, prange
@njit
def _f(a, b):
    return a + b
@njit(parallel=True)
def g(n):
    s = _f(n, {zero})
    for t in prange(n):
        s += _f({t}, n)
    return s
"""


def test_checks_catch_the_patterns():
    """The two checks flag the patterns they exist for (and not the fixed forms)."""
    bad = ast.parse(_EXAMPLE.format(zero="0", t="t"))
    assert len(list(_literal_calls(bad))) == 1
    assert len(list(_bare_prange_index_calls(bad))) == 1
    good = ast.parse(_EXAMPLE.format(zero="np.int64(0)", t="np.int64(t)"))
    assert not list(_literal_calls(good))
    assert not list(_bare_prange_index_calls(good))
