"""asv benchmarks of fastconv.

Importing the package allocates and frees a 30 MiB block once per benchmark
process (``fastconv._bench.settle_allocator``, inlined here so that discovery
does not depend on it): glibc then serves the peers' fresh outputs from the heap
instead of new ``mmap`` pages, as in any process that has run for a while.
"""

import numpy as _np

_np.empty(30 << 20, _np.uint8)  # allocated and freed: glibc's mmap threshold rises to it
