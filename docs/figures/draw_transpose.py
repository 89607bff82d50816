"""Figure: a 1-D transposed convolution three ways (k=3, stride 2, padding 1, output_padding 1).

(a) Definition (scatter): input sample ``i`` adds ``w[k] * x[i]`` to output
    ``i*s - p + k*d`` for every tap ``k``.
(b) The equivalent direct correlation (the test oracle): ``s-1`` zeros
    inserted between input samples, ``d(k-1)-p`` zeros before and
    ``d(k-1)-p+output_padding`` after, correlated with the *flipped* kernel.
(c) How fastconv computes it (gather by phase): output ``o = q*s + r`` only
    receives the taps with ``(r + p - k*d) % s == 0``, each from input
    ``q + (r + p - k*d)/s`` -- a small dense correlation per phase.

Sizes and tap lists come from :mod:`fastconv.shapes` and the kernel
module's own ``phase_taps`` (pure Python; nothing is compiled).
``draw(outdir)`` writes ``conv_transpose.png`` (called by ``docs/conf.py``).
"""

from __future__ import annotations

from pathlib import Path

L, K, S, P, OP, D = 4, 3, 2, 1, 1, 1
TAP_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
PHASE_COLORS = ("#e8f0fb", "#fdebd6", "#e4f4e4")


def _box(ax, x, y, text, face="white", edge="black", w=0.8, h=0.8, fs=9, alpha=1.0):
    import matplotlib.patches as mpatches

    ax.add_patch(mpatches.FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                         boxstyle="round,pad=0.02", fc=face, ec=edge,
                                         lw=1.0, alpha=alpha))
    ax.text(x, y, text, ha="center", va="center", fontsize=fs)


def _scatter_panel(ax, n_out):
    ax.set_title("(a) definition: every input sample scatters a copy of the kernel",
                 fontsize=10, loc="left")
    for i in range(L):
        _box(ax, 1.5 + 2 * i, 2.0, f"x{i}", face="#f2f2f2")
    for o in range(n_out):
        _box(ax, o, 0.0, f"y{o}")
    for i in range(L):
        for k in range(K):
            o = i * S - P + k * D
            if 0 <= o < n_out:
                ax.annotate("", xy=(o, 0.42), xytext=(1.5 + 2 * i, 1.58),
                            arrowprops=dict(arrowstyle="->", color=TAP_COLORS[k], lw=1.3))
    for k in range(K):
        ax.text(n_out + 0.3, 1.6 - 0.45 * k, f"tap w[{k}]", color=TAP_COLORS[k], fontsize=9)
    ax.text(n_out + 0.3, -0.1, f"o = i*{S} - {P} + k", fontsize=9)
    ax.set_xlim(-0.8, n_out + 3.2)
    ax.set_ylim(-0.7, 2.6)


def _direct_panel(ax, n_out):
    lo = D * (K - 1) - P
    hi = lo + OP
    seq = ["0"] * lo
    for i in range(L):
        seq.append(f"x{i}")
        if i < L - 1:
            seq.extend(["0"] * (S - 1))
    seq += ["0"] * hi
    ax.set_title(f"(b) the same as a correlation: zeros inserted ({S - 1} between samples), "
                 f"padded ({lo}, {hi}), flipped kernel", fontsize=10, loc="left")
    for j, t in enumerate(seq):
        face = "#f2f2f2" if t.startswith("x") else "white"
        _box(ax, j, 1.6, t, face=face, edge="black" if t.startswith("x") else "#999999")
    o = 3  # highlight one output window
    for k in range(K):
        j = o + k * D
        flipped = K - 1 - k
        _box(ax, j, 0.7, f"w[{flipped}]", face="white", edge=TAP_COLORS[flipped], fs=8)
    ax.annotate("", xy=(o, -0.08), xytext=(o + (K - 1) * D / 2, 0.28),
                arrowprops=dict(arrowstyle="->", color="black"))
    for oo in range(n_out):
        _box(ax, oo, -0.5, f"y{oo}", face="#fff7cc" if oo == o else "white")
    ax.set_xlim(-0.8, n_out + 3.2)
    ax.set_ylim(-1.1, 2.2)


def _phase_panel(ax, n_out, phase_taps):
    cnt, tk, toff = phase_taps(K, S, P, D)
    ax.set_title("(c) fastconv: gather by phase r = o mod s -- each phase is a dense "
                 "correlation with a sub-kernel", fontsize=10, loc="left")
    for i in range(L):
        _box(ax, 1.5 + 2 * i, 2.0, f"x{i}", face="#f2f2f2")
    for o in range(n_out):
        r = o % S
        _box(ax, o, 0.0, f"y{o}", face=PHASE_COLORS[r % len(PHASE_COLORS)])
        q = o // S
        for j in range(cnt[r]):
            k, off = int(tk[r, j]), int(toff[r, j])
            i = q + off
            if 0 <= i < L:
                ax.annotate("", xy=(1.5 + 2 * i, 1.58), xytext=(o, 0.42),
                            arrowprops=dict(arrowstyle="->", color=TAP_COLORS[k], lw=1.3))
    lines = []
    for r in range(S):
        taps = ", ".join(f"w[{int(tk[r, j])}]·x[q{int(toff[r, j]):+d}]" for j in range(cnt[r]))
        lines.append(f"phase {r} (y[{S}q+{r}]): {taps}")
    for n, line in enumerate(lines):
        ax.text(-0.4, -0.85 - 0.5 * n, line, fontsize=8.5, va="center",
                bbox=dict(fc=PHASE_COLORS[n % len(PHASE_COLORS)], ec="none"))
    ax.set_xlim(-0.8, n_out + 3.2)
    ax.set_ylim(-0.7 - 0.5 * len(lines), 2.6)


def draw(outdir):
    """Write ``conv_transpose.png`` into ``outdir``; returns its path."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from fastconv import shapes
    from fastconv._cpu.conv_transpose import phase_taps

    n_out = shapes.conv_transpose_output_size(L, K, S, P, OP, D)
    fig, axes = plt.subplots(3, 1, figsize=(9, 9.5),
                             gridspec_kw=dict(height_ratios=[3.3, 3.3, 4.3]))
    _scatter_panel(axes[0], n_out)
    _direct_panel(axes[1], n_out)
    _phase_panel(axes[2], n_out, phase_taps)
    for ax in axes:
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(f"conv_transpose1d: L={L}, kernel {K}, stride {S}, padding {P}, "
                 f"output_padding {OP}  ->  L_out = {n_out}", fontsize=11)
    fig.tight_layout()
    path = Path(outdir) / "conv_transpose.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(draw(sys.argv[1] if len(sys.argv) > 1 else "."))
