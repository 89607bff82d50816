"""Resampling: ``interpolate`` with ``torch.nn.functional.interpolate`` semantics."""

from __future__ import annotations

from . import _dispatch, _params

__all__ = ["interpolate"]

_plans = _dispatch.HostPlans()


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, *, out=None):
    """Up- or down-sample ``(N, C, *spatial)`` arrays (``torch.nn.functional.interpolate``).

    Output size: ``size``, or ``floor(in * scale_factor)`` per axis.  Output
    sample ``i`` reads the source coordinate

    * ``align_corners=True``: ``i * (in - 1) / (out - 1)`` (corner samples
      align; ``0`` when ``out == 1``);
    * otherwise ``(i + 0.5) * r - 0.5`` (clamped at 0 for linear modes) with
      ``r = 1 / scale_factor`` when a factor is given and
      ``recompute_scale_factor`` is not True, else ``r = in / out``;
    * ``nearest``: ``min(floor(i * r), in - 1)``; ``nearest-exact``:
      ``min(floor((i + 0.5) * r), in - 1)``.

    Linear modes blend the two neighbours of the coordinate (an unchanged
    size is a copy); ``bicubic`` uses the cubic convolution kernel with
    ``A = -0.75`` on four taps clamped to the border (values may overshoot
    the input range, as in torch).  Coordinates are computed in the data's
    precision, as torch does.

    Parameters
    ----------
    x : array_like
        ``(N, C, L)`` for ``linear``; ``(N, C, H, W)`` for ``bilinear`` and
        ``bicubic``; ``(N, C, D, H, W)`` for ``trilinear``; any of them for
        the nearest modes.
    size : int or tuple of int, optional
        Output spatial size (exclusive with ``scale_factor``).
    scale_factor : float or tuple of float, optional
        Multiplier of the spatial size.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear'}
    align_corners : bool, optional
        Only for the linear and cubic modes (default False).
    recompute_scale_factor : bool, optional
        With ``scale_factor``: True maps coordinates with ``in/out`` instead
        of ``1/scale_factor``.
    out : ndarray, optional
        Preallocated result.

    Returns
    -------
    ndarray
        ``(N, C, *out_spatial)``, dtype float32 or float64 (float32 stays float32).

    Raises
    ------
    ValueError
        Both or neither of ``size`` and ``scale_factor``; a mode that does
        not fit the input rank; ``align_corners`` with a nearest mode;
        ``recompute_scale_factor=True`` with ``size``; empty input or output
        sizes; sequences of the wrong length.
    TypeError
        Non-integer sizes, non-numeric scale factors or input.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> fastconv.interpolate(x, scale_factor=2)[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]])
    >>> fastconv.interpolate(x, size=3, mode='bilinear', align_corners=True)[0, 0]
    array([[1. , 1.5, 2. ],
           [2. , 2.5, 3. ],
           [3. , 3.5, 4. ]])
    """
    backend, (x,), p = _plans.lookup(
        "interpolate", {"input": x}, (size, scale_factor, mode, align_corners,
                                      recompute_scale_factor),
        lambda x: _params.interp_params(_params.array_meta(x), size, scale_factor, mode,
                                        align_corners, recompute_scale_factor))
    if backend == _dispatch.CPU:
        target, out = _dispatch.check_out(out, p.out_shape, p.dtype, (x,))
        _dispatch.run(backend, "interpolate", "interpolate", p, (x,), target)
        return _dispatch.finish(target, out)
    return _dispatch.run(backend, "interpolate", "interpolate", p, (x,), out)
