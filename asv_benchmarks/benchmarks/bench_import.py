"""Import cost of fastconv (target < 0.5 s) and first-call latency with a warm Numba cache."""


def _warm_cache():
    import numpy as np

    import fastconv

    fastconv.conv2d(np.ones((1, 8, 16, 16), np.float32), np.ones((8, 8, 3, 3), np.float32), padding=1)


def timeraw_import_fastconv():
    return "import fastconv"


timeraw_import_fastconv.repeat = 5
timeraw_import_fastconv.number = 1


def timeraw_first_call_warm_cache():
    """A fresh process: load the cached kernel and run one small conv2d (target < 50 ms).

    Numba's own once-per-process start-up (its first compile or cache load imports
    its typing registries, ~0.3-0.4 s here, whatever the kernel) is paid in the
    untimed setup by a trivial uncached function, so this times fastconv's part.
    """
    return (
        "fastconv.conv2d(x, w, padding=1)",
        "import numpy as np, numba, fastconv\n"
        "numba.njit(lambda a: a + 1)(1)\n"
        "x = np.ones((1, 8, 16, 16), np.float32)\n"
        "w = np.ones((8, 8, 3, 3), np.float32)\n",
    )


def timeraw_first_call_including_numba_startup():
    """The same first call including Numba's once-per-process start-up."""
    return (
        "fastconv.conv2d(x, w, padding=1)",
        "import numpy as np, fastconv\n"
        "x = np.ones((1, 8, 16, 16), np.float32)\n"
        "w = np.ones((8, 8, 3, 3), np.float32)\n",
    )


timeraw_first_call_including_numba_startup.setup = _warm_cache
timeraw_first_call_including_numba_startup.repeat = 3
timeraw_first_call_including_numba_startup.number = 1


timeraw_first_call_warm_cache.setup = _warm_cache
timeraw_first_call_warm_cache.repeat = 3
timeraw_first_call_warm_cache.number = 1
