"""Pictures of the convolution lesson: where a kernel lands along one row of the padded input, and small 2-D
grids with the kernel's positions (one dot per output pixel).

The numbers come from :mod:`unet_lesson.core.sizes`; these functions only draw them.
"""

from __future__ import annotations

import numpy as np

from ...core.sizes import conv_out

__all__ = ["positions", "row_positions_figure", "grid_positions_figure"]

_BLUE, _ORANGE, _GREY, _RED = "#1f77b4", "#ff7f0e", "#d9d9d9", "#f4b6b6"


def positions(size, kernel, stride, padding, dilation):
    out = conv_out(size, kernel, stride, padding, dilation)
    k_eff = dilation * (kernel - 1) + 1
    starts = [j * stride for j in range(out)]
    return out, k_eff, starts


def row_positions_figure(size=572, kernel=3, stride=1, padding=0, dilation=1, max_windows: int = 4):
    """One row of the padded input and the kernel's positions along it (the middle elided for big sizes).

    Padding cells are grey, pixels no position reaches are red; each bar below the row is one
    kernel position (= one output pixel), its dots the pixels it reads (spaced by the dilation).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    out, k_eff, starts = positions(size, kernel, stride, padding, dilation)
    padded = size + 2 * padding
    covered = np.zeros(padded, bool)
    for s0 in starts:
        covered[s0 : s0 + k_eff : dilation] = True
    edge = max(k_eff + (max_windows - 1) * stride + 2, 10)
    if padded <= 2 * edge + 4:
        shown = list(range(padded))
        shown_windows = (
            list(range(out))
            if out <= 2 * max_windows
            else (list(range(max_windows)) + list(range(out - max_windows, out)))
        )
    else:
        shown = list(range(edge)) + list(range(padded - edge, padded))
        shown_windows = [j for j in range(out) if starts[j] + k_eff <= edge][:max_windows] + [
            j for j in range(out) if starts[j] >= padded - edge
        ][-max_windows:]
    xpos, x = {}, 0.0
    for i, c in enumerate(shown):
        if i and c != shown[i - 1] + 1:
            x += 1.5  # the break
        xpos[c] = x
        x += 1
    width = x
    nrows = len(shown_windows)
    fig, ax = plt.subplots(figsize=(min(max(width * 0.28, 4), 10), 1.2 + 0.28 * nrows))
    for c in shown:
        pad = c < padding or c >= padding + size
        colour = _GREY if pad else (_RED if not covered[c] else "white")
        ax.add_patch(Rectangle((xpos[c], 0), 1, 1, facecolor=colour, edgecolor="#555", lw=0.6))
        if len(shown) <= 40 or c in (shown[0], shown[-1]) or c == padding or c == padding + size - 1:
            label = "p" if pad else str(c - padding)
            ax.text(xpos[c] + 0.5, 0.5, label, ha="center", va="center", fontsize=6)
    if len(shown) < padded:
        b = xpos[shown[edge]] - 0.75
        ax.text(b, 0.5, "…", ha="center", va="center", fontsize=12)
    prev = None
    for r, j in enumerate(shown_windows):
        if prev is not None and j != prev + 1:
            ax.text(xpos[starts[j]] - 1, -r - 0.6, "⋮", ha="center", va="center", fontsize=9)
        prev = j
        y = -r - 0.6
        taps = list(range(starts[j], starts[j] + k_eff, dilation))
        colour = _BLUE if j % 2 == 0 else _ORANGE
        ax.plot([xpos[taps[0]] + 0.5, xpos[taps[-1]] + 0.5], [y, y], color=colour, lw=2)
        ax.plot([xpos[t] + 0.5 for t in taps], [y] * len(taps), "o", color=colour, ms=4)
        ax.text(xpos[taps[-1]] + 1.0, y, f"out {j}", va="center", fontsize=6, color=colour)
    ax.set_xlim(-0.5, width + 2.5)
    ax.set_ylim(-nrows - 0.4, 1.6)
    ax.axis("off")
    dropped = padded - ((out - 1) * stride + k_eff)
    ax.set_title(
        f"one row: {size} pixels + {padding} padding per side = {padded}; "
        f"{out} kernel positions -> output {out}"
        + (f"  ({dropped} never reached)" if dropped else "")
        + "\ngrey p: padding · red: never read · each bar: one kernel position = one output pixel",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def grid_positions_figure(settings=((7, 3, 1, 0), (7, 3, 1, 1), (7, 3, 2, 1)), cell: float = 0.28):
    """Small 2-D grids, one per ``(size, kernel, stride, padding)``: the padded input, the first two
    kernel positions (blue, orange), and a dot at the centre of every position (one dot = one output pixel)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(settings)
    big = max(s + 2 * p for s, _, _, p in settings)
    fig, axes = plt.subplots(1, n, figsize=(n * (big * cell + 0.6), big * cell + 0.9), squeeze=False)
    for ax, (size, kernel, stride, padding) in zip(axes[0], settings):
        out, k_eff, starts = positions(size, kernel, stride, padding, 1)
        padded = size + 2 * padding
        for r in range(padded):
            for c in range(padded):
                pad = min(r, c) < padding or max(r, c) >= padding + size
                ax.add_patch(
                    Rectangle((c, padded - 1 - r), 1, 1, facecolor=_GREY if pad else "white", edgecolor="#888", lw=0.5)
                )
        for idx, colour in ((0, _BLUE), (1, _ORANGE)):
            if idx < out:
                ax.add_patch(
                    Rectangle(
                        (starts[idx], padded - kernel),
                        kernel,
                        kernel,
                        fill=False,
                        edgecolor=colour,
                        lw=2.2,
                        ls="-" if idx == 0 else "--",
                    )
                )
        for r0 in starts:
            for c0 in starts:
                ax.plot(c0 + kernel / 2, padded - r0 - kernel / 2, "o", color="#333", ms=3)
        ax.set_xlim(-0.2, padded + 0.2)
        ax.set_ylim(-0.2, padded + 0.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"{size}×{size}, k={kernel}, s={stride}, p={padding}\n-> {out}×{out}", fontsize=8)
    fig.tight_layout()
    return fig
