"""fastconv: hand-written Numba convolution kernels with PyTorch / SciPy semantics.

NumPy arrays run on the CPU (``numba.njit``, parallel); CUDA arrays (anything
exposing ``__cuda_array_interface__``) run on the GPU backend.  Importing this
package compiles nothing and does not import ``numba.cuda``.

>>> import numpy as np, fastconv
>>> fastconv.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))).shape
(1, 1, 2, 2)
"""

from . import shapes
from ._dispatch import BackendUnavailableError
from .conv import conv1d, conv2d, conv3d, depthwise_conv2d, separable_conv2d

from .conv_transpose import conv_transpose1d, conv_transpose2d, conv_transpose3d
from .pool import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from .interpolate import interpolate
from . import signal
# @@ PUBLIC-IMPORTS @@

__version__ = "0.1.0"

__all__ = [
    "shapes",
    "BackendUnavailableError",
    "conv1d",
    "conv2d",
    "conv3d",
    "depthwise_conv2d",
    "separable_conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "interpolate",
    "signal",
    # @@ PUBLIC-NAMES @@
]
