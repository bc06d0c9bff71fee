"""Pictures of the convolution lesson: where a kernel lands along one row of the padded input, small 2-D
grids with the kernel's positions (one dot per output pixel), and the input pixels one output pixel of a
conv stack reads (two 3x3 convs against one 5x5).

The numbers come from :mod:`unet_lesson.core.sizes`; these functions only draw them.
"""

from __future__ import annotations

import numpy as np

from ...core.sizes import conv_out

__all__ = [
    "MAX_ROW_CELLS",
    "MAX_ROW",
    "positions",
    "row_cells",
    "row_positions_figure",
    "grid_positions_figure",
    "footprint_figure",
    "kernels_figure",
]

_BLUE, _ORANGE, _GREY, _RED = "#1f77b4", "#ff7f0e", "#d9d9d9", "#f4b6b6"

#: the row picture draws at most this many cells (a huge kernel or stride would need thousands)
MAX_ROW_CELLS = 80
#: and walks rows of at most this many pixels (it marks every pixel a kernel position reads)
MAX_ROW = 4096


def _edge(kernel, stride, dilation, max_windows):
    """Cells drawn at each end of a long row: room for the first ``max_windows`` kernel positions."""
    return max(dilation * (kernel - 1) + 1 + (max_windows - 1) * stride + 2, 10)


def row_cells(size, kernel, stride, padding, dilation, max_windows: int = 4) -> int:
    """How many cells :func:`row_positions_figure` would draw (the middle of a long row is elided)."""
    padded = size + 2 * padding
    edge = _edge(kernel, stride, dilation, max_windows)
    return padded if padded <= 2 * edge + 4 else 2 * edge


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

    cells = row_cells(size, kernel, stride, padding, dilation, max_windows)
    if cells > MAX_ROW_CELLS or size + 2 * padding > MAX_ROW:
        raise ValueError(
            f"this row picture draws at most {MAX_ROW_CELLS} cells of a row of at most {MAX_ROW:,} pixels; "
            f"this one would need {cells} cells of {size + 2 * padding:,}."
        )
    out, k_eff, starts = positions(size, kernel, stride, padding, dilation)
    padded = size + 2 * padding
    covered = np.zeros(padded, bool)
    for s0 in starts:
        covered[s0 : s0 + k_eff : dilation] = True
    edge = _edge(kernel, stride, dilation, max_windows)
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


def footprint_figure(panels, cell: float = 0.26):
    """Heat maps of the input pixels one output pixel depends on, one per ``(title, grid)`` of ``panels``.

    ``grid`` holds, for each input pixel, the gradient of the output pixel with respect to it (with
    all-ones weights: the number of paths from that pixel to the output). Zero cells are light grey."""
    import matplotlib.pyplot as plt

    n = len(panels)
    side = max(np.asarray(g).shape[0] for _, g in panels)
    top = max(float(np.max(g)) for _, g in panels) * 1.15  # one colour scale: more paths, darker
    width, height = n * side * cell + 0.3 * (n + 1), side * cell + 0.45
    fig, axes = plt.subplots(1, n, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(left=0.3 / width, right=1 - 0.3 / width, bottom=0.05 / height, top=1 - 0.35 / height)
    fig.subplots_adjust(wspace=0.3 * n / (width - 0.6))
    for ax, (title, grid) in zip(axes[0], panels):
        g = np.asarray(grid, dtype=float)
        ax.imshow(np.where(g > 0, g, np.nan), cmap="Blues", vmin=0, vmax=top)
        ax.set_facecolor("#eeeeee")
        for (r, c), v in np.ndenumerate(g):
            if v:
                ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=7)
        for t in np.arange(-0.5, g.shape[0], 1):
            ax.axhline(t, color="white", lw=0.8)
            ax.axvline(t, color="white", lw=0.8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=8)
    return fig


def kernels_figure(image, weights, maps, names):
    """The sample image, each 3x3 kernel with its weights written in, and the feature map it makes below it."""
    import matplotlib.pyplot as plt

    k = len(names)
    fig, axes = plt.subplots(2, k + 1, figsize=(1.55 * (k + 1), 3.3), gridspec_kw={"height_ratios": [1, 1.6]})
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.92, wspace=0.08, hspace=0.25)
    axes[0, 0].axis("off")
    axes[0, 0].text(0.5, 0.5, "kernel\n(3×3 weights)", ha="center", va="center", fontsize=8)
    axes[1, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[1, 0].set_title(f"input {image.shape[0]}×{image.shape[1]}×1", fontsize=7)
    for i, name in enumerate(names):
        w = np.asarray(weights[i])
        a = axes[0, i + 1]
        a.imshow(w, cmap="coolwarm", vmin=-np.abs(w).max(), vmax=np.abs(w).max())
        for (r, c), v in np.ndenumerate(w):
            a.text(c, r, f"{v:.1f}" if abs(v) < 1 and v != 0 else f"{v:.0f}", ha="center", va="center", fontsize=6)
        a.set_title(name, fontsize=7)
        axes[1, i + 1].imshow(maps[i], cmap="gray")
        axes[1, i + 1].set_title(f"channel {i}: {maps[i].shape[0]}×{maps[i].shape[1]}", fontsize=7)
    for a in axes.flat:
        a.set_xticks([])
        a.set_yticks([])
    return fig
