"""Figure: receptive field of stacked dilated 3-tap convolutions, and gridding.

Left: rates (1, 2, 5) -- every input sample inside the receptive field is
reached.  Right: rates (2, 2, 2) -- only every other sample is (gridding).
Spans, per-layer receptive fields and holes come from :mod:`fastconv.shapes`
(``receptive_field`` and ``gridding``), so the picture shows the library's
own arithmetic; the drawing only adds the path counts.

``draw(outdir)`` writes ``dilation.png`` into ``outdir`` (called by
``docs/conf.py`` at build time; pages use ``/_static/generated/dilation.png``).
"""

from __future__ import annotations

from pathlib import Path

KERNEL = 3
STACKS = ((1, 2, 5), (2, 2, 2))


def _levels(rates, k):
    """Active samples (centre x -> path count) at every level, output first.

    Level 0 is the single output sample; level ``i`` holds the samples that
    level ``i - 1`` reads through layer ``len(rates) - i + 1`` (``k`` taps at
    that dilation rate).  x is measured in input samples from the first
    sample of the receptive field, and a sample of level ``i`` is drawn at
    the centre of the input span it sees.
    """
    levels = [{0: 1}]
    for r in reversed(rates):  # walk down from the output, taps to the right
        nxt = {}
        for pos, count in levels[-1].items():
            for j in range(k):
                nxt[pos + r * j] = nxt.get(pos + r * j, 0) + count
        levels.append(nxt)
    centred = []
    for depth, lv in enumerate(levels):
        below = rates[: len(rates) - depth]  # layers between this level and the input
        half = sum(r * (k - 1) for r in below) / 2.0
        centred.append({pos + half: c for pos, c in lv.items()})
    return centred


def _panel(ax, rates, k, shapes):
    import matplotlib.patches as mpatches

    rf = shapes.receptive_field([(k, 1, r) for r in rates])
    grid = shapes.gridding(rates, kernel_size=k)
    assert grid.span == rf.size  # same arithmetic, two routes
    levels = _levels(rates, k)
    n_levels = len(levels)
    span = rf.size
    y_of = {d: n_levels - 1 - d for d in range(n_levels)}  # output on top

    # connections: each active sample to the k samples it reads below
    for d in range(n_levels - 1):
        r = rates[len(rates) - 1 - d]
        off = r * (k - 1) / 2.0
        for pos in levels[d]:
            for j in range(k):
                child = pos - off + r * j
                ax.plot([pos, child], [y_of[d] - 0.18, y_of[d + 1] + 0.18],
                        color="0.55", lw=0.8, zorder=1)

    cmap = __import__("matplotlib").colormaps["Blues"]
    bottom = levels[-1]
    cmax = max(bottom.values())
    size = 0.72
    for d, lv in enumerate(levels):
        y = y_of[d]
        last = d == n_levels - 1
        xs = range(span) if last else sorted(lv)
        for x in xs:
            count = lv.get(x, 0)
            if last:
                face = cmap(0.25 + 0.75 * count / cmax) if count else "white"
            else:
                face = "#f6b26b" if d == 0 else "#ffe599"
            hatch = "xxx" if (last and count == 0) else None
            edge = "#cc0000" if hatch else "0.25"
            ax.add_patch(mpatches.Rectangle((x - size / 2, y - size / 2), size, size,
                                            facecolor=face, edgecolor=edge, hatch=hatch,
                                            lw=0.9, zorder=2))
            if last and count:
                ax.text(x, y, str(count), ha="center", va="center", fontsize=7,
                        color="white" if count > cmax / 2 else "black", zorder=3)

    n_layers = len(rates)
    labels = ["output"] + [f"layer {n_layers - d} out" for d in range(1, n_levels - 1)] + ["input"]
    for d, lab in enumerate(labels):
        ax.text(-1.0, y_of[d], lab, ha="right", va="center", fontsize=8)
    for d in range(n_levels - 1):
        layer = n_layers - d  # the layer between level d and level d + 1
        ax.text(span + 0.1, (y_of[d] + y_of[d + 1]) / 2,
                f"layer {layer}: $d={rates[layer - 1]}$, RF {rf.sizes[layer - 1]}",
                fontsize=7.5, va="center", color="0.3")

    holes = grid.holes
    title = f"rates {rates}: receptive field {rf.size}"
    sub = (
        "every input sample reached"
        if not grid.has_gridding
        else f"gridding: gcd {grid.common_factor}, {len(holes)} holes (offsets "
        + ", ".join(map(str, holes[:6])) + ("..." if len(holes) > 6 else "") + ")"
    )
    ax.set_title(f"{title}\n{sub}", fontsize=9)
    ax.set_xlim(-6.0, span + 7.0)
    ax.set_ylim(-0.8, n_levels - 0.4)
    ax.set_aspect("equal")
    ax.axis("off")


def draw(outdir):
    """Write ``dilation.png`` (two panels) into ``outdir``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fastconv import shapes

    spans = [shapes.receptive_field([(KERNEL, 1, r) for r in rates]).size for rates in STACKS]
    fig, axes = plt.subplots(
        1, len(STACKS), figsize=(12, 2.9),
        gridspec_kw={"width_ratios": [s + 13 for s in spans]},
    )
    for ax, rates in zip(axes, STACKS):
        _panel(ax, rates, KERNEL, shapes)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.84, bottom=0.09, wspace=0.05)
    path = Path(outdir) / "dilation.png"
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    return path


if __name__ == "__main__":  # python docs/figures/draw_dilation.py [outdir]
    import sys

    print(draw(sys.argv[1] if len(sys.argv) > 1 else "."))
