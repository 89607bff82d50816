"""Figure: where ``interpolate`` samples the input, ``align_corners=False`` vs ``True``.

One row of 4 input pixels resampled to 8 outputs (x2).  Input pixels are
unit cells ``[j, j+1)`` with centres at ``j + 0.5``; each output sample is
drawn at the source coordinate that torch's rule gives it:

* ``align_corners=False`` (half-pixel centres): ``src = (i + 0.5) * in/out - 0.5``,
  clamped at 0 for linear modes -- output pixels tile the same extent as the
  input pixels, and the outermost outputs sit past the outer input centres;
* ``align_corners=True``: ``src = i * (in - 1) / (out - 1)`` -- the first and
  last output centres coincide with the first and last input centres.

The coordinates come from ``fastconv._tables.linear_table`` (the
library's own index/weight tables), so the picture shows what the kernels do.
``draw(outdir)`` writes ``align_corners.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

L_IN, L_OUT = 4, 8


def _coords(align_corners):
    from fastconv._tables import linear_table

    idx, w = linear_table(np.float64, L_IN, L_OUT, None, align_corners)
    return idx[0] * w[0] + idx[1] * w[1]  # weighted source position (pixel-centre units)


def _panel(ax, align_corners):
    src = _coords(align_corners)
    # input pixels: cells [j, j+1), centres at j + 0.5
    for j in range(L_IN):
        ax.add_patch(_rect(j, 0.55, 1.0, 0.4, "#dbe8f6"))
        ax.plot(j + 0.5, 0.75, "o", color="#1f5fa8", ms=9, zorder=3)
        ax.text(j + 0.5, 1.03, f"in {j}", ha="center", va="bottom", fontsize=8)
    # output pixels in the same extent
    step = L_IN / L_OUT
    for i in range(L_OUT):
        ax.add_patch(_rect(i * step, -0.45, step, 0.4, "#fbe3cf"))
        ox = i * step + step / 2
        ax.plot(ox, -0.25, "s", color="#c4561b", ms=6, zorder=3)
        sx = src[i] + 0.5  # source coordinate (pixel index) -> position of that centre
        ax.annotate("", xy=(sx, 0.55), xytext=(ox, -0.05),
                    arrowprops=dict(arrowstyle="->", color="#555555", lw=0.8))
        ax.plot(sx, 0.55, "|", color="#c4561b", ms=10, mew=2, zorder=4)
        ax.text(ox, -0.5, f"{src[i]:.3g}", ha="center", va="top", fontsize=7)
    title = ("align_corners=False: src = (i + 0.5)·in/out − 0.5, clamped at 0"
             if not align_corners else "align_corners=True: src = i·(in − 1)/(out − 1)")
    ax.set_title(title, fontsize=9)
    ax.set_xlim(-0.2, L_IN + 0.2)
    ax.set_ylim(-0.75, 1.25)
    ax.set_yticks([0.75, -0.25])
    ax.set_yticklabels(["input", "output"])
    ax.set_xticks(range(L_IN + 1))
    ax.tick_params(labelsize=7)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)


def _rect(x, y, w, h, color):
    import matplotlib.patches as mpatches

    return mpatches.Rectangle((x, y), w, h, facecolor=color, edgecolor="#888888", lw=0.8)


def draw(outdir):
    """Write ``align_corners.png`` into ``outdir``; return its path."""
    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 4.6))
    _panel(axes[0], False)
    _panel(axes[1], True)
    fig.suptitle("x2 linear resampling of 4 pixels: where each output samples the input "
                 "(numbers: source coordinate)", fontsize=9)
    fig.tight_layout()
    path = outdir / "align_corners.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":  # pragma: no cover
    print(draw(Path(".")))
