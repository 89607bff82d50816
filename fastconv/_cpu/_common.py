"""Helpers shared by the CPU kernel modules (plain Python + small njit pieces)."""

from __future__ import annotations

import sys
import time

import numpy as np
from numba import njit, prange
from numba.core import caching as _caching
from numba.np.ufunc import parallel as _parallel


# fastmath "contract" only: lets LLVM fuse a*b+c into FMA; no nnan/ninf/reassoc, so
# NaN/inf propagate and results stay within the stated tolerances.
NJIT_OPTS = dict(nogil=True, cache=True, fastmath={"contract"})


class _EntryImpl(_caching.CompileResultCacheImpl):
    """Numba's compile-result cache minus the linkable IR (see :func:`entry`)."""

    def reduce(self, cres):
        data = super().reduce(cres)
        try:
            (name, kind, (obj, bitcode)), rest = data[0], data[1:]
        except (TypeError, ValueError):  # another Numba's layout: keep its payload
            return data
        if kind != "object":
            return data
        return ((name, kind, (obj, _symbols_module(bitcode))),) + tuple(rest)

    def rebuild(self, target_context, payload):
        cres = super().rebuild(target_context, payload)
        lib = cres.library
        if getattr(lib, "_shared_module", None) is not None:
            # linking this library elsewhere now fails loudly ("unfit for
            # linking") instead of linking the symbol stubs
            lib._shared_module = None
        return cres


def _symbols_module(bitcode):
    """Bitcode of a module defining an ``i8`` global under each name ``bitcode``
    defines for the outside (its functions and Numba environments).

    Loading a cached library, Numba parses the IR it keeps for linking only to
    learn which symbols the library defines (``get_pointer_to_function`` asks
    for them): this module names the same symbols, without the code.
    """
    import llvmlite.binding as ll

    mod = ll.parse_bitcode(bitcode)
    hidden = (ll.Linkage.internal, ll.Linkage.private)  # no symbol outside the module
    names = [g.name for gs in (mod.functions, mod.global_variables) for g in gs
             if not g.is_declaration and g.linkage not in hidden]

    def quoted(n):  # in an LLVM quoted name any other character is written \XX
        return "".join(c if (c.isascii() and c.isalnum()) or c in "_.$-"
                       else f"\\{ord(c):02X}" for c in n)

    return ll.parse_assembly(
        "".join(f'@"{quoted(n)}" = global i8 0\n' for n in names)).as_bitcode()


class _EntryCache(_caching.FunctionCache):
    _impl_class = _EntryImpl


def entry(disp):
    """Cache the jitted ``disp`` as a function called from Python only.

    Numba caches with each function the optimised IR of its module, so that
    jitted callers can link it in, and parses all of it again whenever it
    loads the function in a new process: 19 ms of the 45 ms first call of a
    small conv2d (the 8x3 driver's task function keeps 440 kB of IR for 184 kB
    of machine code).  A function only Python calls is never linked, so its
    cache keeps only the names of its symbols (:func:`_symbols_module`): the
    first call in a warm process fell from 45-48 to 20-22 ms.  Calling it from
    jitted code raises Numba's "library unfit for linking" error once it was
    loaded from the cache; ``tests/test_entry_cache.py`` checks that no jitted
    function refers to an entry.
    """
    if getattr(disp, "_cache", None) is not None and isinstance(
            disp._cache, _caching.FunctionCache):
        disp._cache = _EntryCache(disp.py_func)
    disp._fastconv_entry = True
    return disp


def function_at(signature_of):
    """An intrinsic ``f = at(addr, x)``: the jitted function compiled at ``addr`` (its
    Numba-ABI entry) as a first-class function of signature ``signature_of(dtype)``
    for the dtype of the array ``x``.

    A jitted caller calls ``f`` through the pointer, with Numba's calling
    convention (its errors propagate), without linking its code (see
    :class:`TaskLaunch`).  A call that does not match the signature is a typing
    error when the caller compiles (``FunctionType.check_signature``).
    """
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    def at(typingctx, addr, x):
        if not isinstance(addr, types.Integer) or not isinstance(x, types.Array):
            return None
        fty = types.FunctionType(signature_of(np.dtype(str(x.dtype))))

        def codegen(context, builder, sig, args):
            f = cgutils.create_struct_proxy(fty)(context, builder)
            ptr = builder.inttoptr(args[0], context.get_value_type(types.voidptr))
            null = context.get_constant_null(types.voidptr)
            f.jit_addr = ptr
            f.c_addr = null
            f.py_addr = null
            return f._getvalue()

        return fty(addr, x), codegen

    at.__name__ = at.__qualname__ = f"function_at_{signature_of.__name__}"
    return intrinsic(at)


class TaskLaunch:
    """A parallel driver that calls its task function by address.

    ``launch(x, *args)`` calls ``drv(taddr, x, *args)``, where ``taddr`` is the
    address of ``tasks`` compiled (or loaded from its cache) for
    ``signature(x.dtype)``, once per dtype and process; the driver turns it into
    a callable with :func:`function_at`.  Numba would otherwise link the task's
    code into the driver and optimise and generate its machine code again in the
    parfor's gufunc and in each of its two wrappers.  Both functions are
    :func:`entry` functions: only Python calls them.
    """

    signature = None  # dtype -> Numba signature of ``tasks``; set by subclasses

    def __init__(self, drv, tasks):
        self.drv, self.tasks, self.addr = drv, tasks, {}

    def address(self, dt):
        a = self.addr.get(dt)
        if a is None:
            cres = self.tasks.get_compile_result(self.signature(dt))
            a = self.addr[dt] = (cres, cres.library.get_pointer_to_function(
                cres.fndesc.llvm_func_name))
        return a[1]

    def __call__(self, x, *args):
        return self.drv(self.address(x.dtype), x, *args)


def split_blocks(total, parts_wanted, minimum=1):
    """Block length so that ``total`` splits into about ``parts_wanted`` blocks."""
    parts_wanted = max(1, parts_wanted)
    b = -(-total // parts_wanted)
    return max(minimum, min(total, b)) if total > 0 else 1


def launch_threads():
    """Start Numba's threading layer (once), keeping torch's thread count.

    With the OpenMP layer, Numba's pool binds to the ``libgomp`` that torch
    loaded first and, when it starts its workers, sets that library's thread
    count to ``NUMBA_NUM_THREADS``: a ``torch.set_num_threads(1)`` made
    before fastconv's first parallel call was silently undone (numba issue
    #9387; on this 2-vCPU machine torch's grouped conv (1,128,28,28)->128 then
    ran on two threads, 155 us at 200 % CPU instead of 230 us at 100 %).
    torch's count is read before the launch and set again after it; Numba's own
    thread count is not affected by torch's.
    """
    if getattr(_parallel, "_is_initialized", False):
        return
    torch = sys.modules.get("torch")
    keep = None
    if torch is not None:
        try:
            keep = torch.get_num_threads()
        except Exception:  # a partly imported or unusual torch: leave it alone
            keep = None
    _parallel._launch_threads()
    if keep is not None:
        torch.set_num_threads(keep)


def num_threads():
    """``numba.get_num_threads()``, minus its lock round trip once threads are up.

    The public function takes two locks (one of them a process-wide lock) on
    every call to make sure the threading layer is launched: about 7 us per call
    when the interpreter's caches are cold after a large kernel (measured
    interleaved with torch, grouped conv (1,128,28,28)->128: 128 vs 119 us).
    Once the layer is up, its thread-local count is read directly; anything
    unexpected (another Numba version) falls back to the public function.
    """
    if getattr(_parallel, "_is_initialized", False):
        get = getattr(_parallel, "_get_num_threads", None)
        if get is not None:
            n = get()
            if n > 0:
                return n
    launch_threads()
    return _parallel.get_num_threads()


def thread_count_getter():
    """The function behind :func:`num_threads` once the threading layer is up (one
    call instead of two and an attribute check), or :func:`num_threads` itself."""
    launch_threads()
    get = getattr(_parallel, "_get_num_threads", None)
    return num_threads if get is None or get() <= 0 else get


def set_num_threads(n):
    """``numba.set_num_threads(n)`` without the lock round trip once threads are up
    (see :func:`num_threads`); ``n`` must be in ``1..NUMBA_NUM_THREADS``."""
    if getattr(_parallel, "_is_initialized", False):
        setter = getattr(_parallel, "_set_num_threads", None)
        if setter is not None:
            setter(n)
            return
    launch_threads()
    _parallel.set_num_threads(n)


@entry
@njit(parallel=True, cache=True)
def _empty_region(a):
    for i in prange(a.size):
        a[i] += 1.0


_WAKE = {}


def wake_cost(threads):
    """Seconds one parallel region costs on ``threads`` threads with nothing to do.

    Measured once per process and thread count (median of 7 regions).  It is
    the price of waking the threading layer's workers: ~2 us with libgomp's
    default spinning workers, ~70 us on this 2-vCPU VM under
    ``OMP_WAIT_POLICY=PASSIVE`` (they sleep after every region; the bench sets
    it so that one library's idle workers do not spin against another's), and
    ~130 us with the workqueue layer.
    """
    w = _WAKE.get(threads)
    if w is None:
        a = np.zeros(max(threads, 1))
        _empty_region(a)  # compiled or loaded from the cache: not timed
        ts = []
        for _ in range(7):
            t0 = time.perf_counter()
            _empty_region(a)
            ts.append(time.perf_counter() - t0)
        w = _WAKE[threads] = sorted(ts)[3]
    return w


def serial_is_faster(seconds, threads, bound=200e-6):
    """True when a parallel call estimated at ``seconds`` on one thread should run on one.

    Splitting saves about ``seconds * (1 - 1/threads)``; waking the workers
    costs :func:`wake_cost`.  The wake cost is only measured for calls that
    could save less than ``bound`` (never for large ones).
    """
    if threads <= 1:
        return False
    saved = seconds * (1.0 - 1.0 / threads)
    return saved < bound and saved < wake_cost(threads)


def run_serial(fn, *args):
    """``fn(*args)`` with Numba's thread count at 1 (this Python thread only), then restored.

    A plain call, not a ``contextlib`` context manager: its generator protocol
    costs ~8 more Python calls, ~4 % of a small call when the
    interpreter's caches are cold (grouped g=32 (1,128,28,28) on two threads,
    each call after a torch call, medians of 8 blocks in two runs: 165 -> 159
    and 155 -> 149 us).
    """
    n = num_threads()
    set_num_threads(1)
    try:
        return fn(*args)
    finally:
        set_num_threads(n)
