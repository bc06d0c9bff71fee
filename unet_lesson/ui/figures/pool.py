"""Pictures of the max-pooling lesson: a small grid with every window outlined and its maxima, the map before
and after a pool (with a zoom on the corner an odd size loses), channels before and after, and the experiment
on what a pool keeps (a bright pixel moving inside a window; a feature map shifted by a pixel), and the window
of the input one output pixel of a conv/pool stack sees.

The numbers come from ``nn.MaxPool2d`` and :mod:`unet_lesson.core.sizes`; these functions only draw them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...core.sizes import pool_out

__all__ = [
    "real_pool",
    "small_grid",
    "windows",
    "pool_grid_figure",
    "before_after_figure",
    "channels_figure",
    "dots_figure",
    "shift_figure",
]

_BLUE, _ORANGE, _GREY, _RED = "#1f77b4", "#ff7f0e", "#d9d9d9", "#f4b6b6"


@torch.no_grad()
def real_pool(x, kernel=2, stride=2, padding=0, ceil_mode=False):
    """Apply a real ``nn.MaxPool2d`` to a 2-D array or (N, C, H, W) tensor; returns the output tensor."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not torch.is_tensor(x) else x
    while t.ndim < 4:
        t = t[None]
    return nn.MaxPool2d(kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)(t)


def small_grid(size: int) -> np.ndarray:
    """Whole numbers 0..9 for a small grid whose maxima a student can read (fixed seed)."""
    return np.random.default_rng(0).integers(0, 10, size=(size, size)).astype(np.float32)


def windows(size, kernel, stride, padding, out):
    """Start of each window in unpadded coordinates (may be negative, in the padding)."""
    return [j * stride - padding for j in range(out)]


def before_after_figure(x, y, source, size, out, dropped, kernel=2, stride=2, padding=0, zoom=40):
    """Top: the whole map before and after. Bottom: the bottom-right corner, zoomed, where an odd
    size loses its last row and column (red) or gets a half window."""
    import math

    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, 2, figsize=(6.4, 6.4), gridspec_kw={"width_ratios": [size, max(out, 1)]})
    cmap = "magma" if source == "feature map" else "gray"
    interp = "nearest" if size <= 100 else "antialiased"  # big maps: let matplotlib average, not alias
    vmax = float(np.percentile(x, 99.5)) or None  # thin bright edges stay visible
    z = min(zoom, size)
    j0 = min(max(math.ceil((size - z + padding) / stride), 0), out - 1)  # first window inside the zoom
    views = [
        (x, (0, size), (0, size), interp),
        (y, (0, out), (0, out), interp),
        (x, (size - z, size), (size - z, size), "nearest"),
        (y, (j0, out), (j0, out), "nearest"),
    ]
    for ax, (a, (r0, r1), (c0, c1), ip) in zip(axes.flat, views):
        ax.imshow(a[r0:r1, c0:c1], cmap=cmap, extent=(c0, c1, r1, r0), interpolation=ip, vmin=0, vmax=vmax)
        ax.tick_params(labelsize=6)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    if dropped:
        for ax in axes[:, 0]:
            for rect in (Rectangle((size - dropped, 0), dropped, size), Rectangle((0, size - dropped), size, dropped)):
                rect.set(facecolor=_RED, alpha=0.85, edgecolor="red")
                ax.add_patch(rect)
            ax.set_xlim(*ax.get_xlim())
    axes[0, 0].set_title(f"before: {size}×{size} ({source})" + ("\nred: dropped" if dropped else ""), fontsize=8)
    axes[0, 1].set_title(f"after max pool: {out}×{out}", fontsize=8)
    axes[1, 0].set_title(f"zoom: the last {z} rows and columns", fontsize=8)
    axes[1, 1].set_title(f"their pooled pixels ({j0}..{out - 1})", fontsize=8)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.04, top=0.93, wspace=0.22, hspace=0.28)
    return fig


def pool_grid_figure(size=5, kernel=2, stride=2, padding=0, ceil_mode=False, values=None):
    """A small grid of numbers with every pooling window outlined, and the pooled grid beside it.

    Padding cells are grey (max pooling pads with -inf: they never win), cells no window reads are red,
    a window that hangs over the edge (ceil_mode) is dashed. The output comes from a real ``nn.MaxPool2d``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    out = pool_out(size, kernel, stride, padding, ceil_mode)
    x = small_grid(size) if values is None else np.asarray(values, dtype=np.float32)
    y = real_pool(x, kernel, stride, padding, ceil_mode)[0, 0].numpy()
    starts = windows(size, kernel, stride, padding, out)
    read = np.zeros(size, bool)
    for s0 in starts:
        read[max(s0, 0) : min(s0 + kernel, size)] = True
    lo = -padding
    hi = max(size + padding, starts[-1] + kernel)
    span = hi - lo
    cell = 0.34
    fig, axes = plt.subplots(
        1, 2, figsize=(cell * (span + out) + 1.4, cell * span + 0.9), gridspec_kw={"width_ratios": [span, max(out, 1)]}
    )
    ax = axes[0]
    for r in range(lo, hi):
        for c in range(lo, hi):
            inside = 0 <= r < size and 0 <= c < size
            in_pad = not inside and (lo <= r < size + padding and lo <= c < size + padding)
            if inside:
                colour = "white" if (read[r] and read[c]) else _RED
            elif in_pad:
                colour = _GREY
            else:
                continue
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=colour, edgecolor="#999", lw=0.5))
            if inside:
                ax.text(c + 0.5, r + 0.5, f"{x[r, c]:.0f}", ha="center", va="center", fontsize=7)
    pairs = [(i, j) for i in range(out) for j in range(out)]
    if stride < kernel:  # overlapping windows: outline the first two and the last, or it is a tangle
        pairs = sorted({(0, 0), (0, min(1, out - 1)), (out - 1, out - 1)})
    for i, j in pairs:
        r0, c0 = starts[i], starts[j]
        over = r0 + kernel > size + padding or c0 + kernel > size + padding
        colour = (_BLUE, _ORANGE)[(i + j) % 2]
        inset = 0.08 * ((i + j) % 2)
        ax.add_patch(
            Rectangle(
                (c0 + inset, r0 + inset),
                kernel - 2 * inset,
                kernel - 2 * inset,
                fill=False,
                edgecolor=colour,
                lw=1.8,
                ls="--" if over else "-",
            )
        )
    ax.set_xlim(lo - 0.1, hi + 0.1)
    ax.set_ylim(hi + 0.1, lo - 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        f"{size}×{size}, {kernel}×{kernel} windows, s={stride}, p={padding}" + (", ceil_mode" if ceil_mode else ""),
        fontsize=8,
    )
    ax = axes[1]
    for r in range(out):
        for c in range(out):
            ax.add_patch(
                Rectangle((c, r), 1, 1, facecolor=("#dbe9f6", "#fde5cc")[(r + c) % 2], edgecolor="#999", lw=0.5)
            )
            ax.text(c + 0.5, r + 0.5, f"{y[r, c]:.0f}", ha="center", va="center", fontsize=7)
    ax.set_xlim(-0.1, out + 0.1)
    ax.set_ylim(span + 0.1, -0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"max of each window: {out}×{out}", fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9, wspace=0.1)
    return fig


def channels_figure(before, after, cmap: str = "magma", size: float = 1.1):
    """Each channel of a (C, H, W) map above the same channel after the pool (both drawn as they are)."""
    import matplotlib.pyplot as plt

    c = before.shape[0]
    fig, axes = plt.subplots(2, c, figsize=(size * c, size * 2 + 0.5), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.84, wspace=0.08, hspace=0.35)
    for i in range(c):
        for row, (a, name) in enumerate(((before, "before"), (after, "after"))):
            ax = axes[row, i]
            ax.imshow(a[i], cmap=cmap, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"ch {i} {name}: {a.shape[-2]}×{a.shape[-1]}", fontsize=6)
    fig.suptitle(f"{c} channels before and after a 2×2 max pool", fontsize=9)
    return fig


def dots_figure(inputs, outputs, titles, cell: float = 0.28):
    """Small maps (one bright pixel each) above what a real max pool makes of them."""
    import matplotlib.pyplot as plt

    n = len(inputs)
    fig, axes = plt.subplots(2, n, figsize=(n * (4 * cell + 0.35), 8 * cell * 0.75 + 1.0), squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.84, wspace=0.3, hspace=0.5)
    for i, (x, y, title) in enumerate(zip(inputs, outputs, titles)):
        for row, (a, label) in enumerate(((x, title), (y, "pooled"))):
            ax = axes[row, i]
            a = np.asarray(a)
            ax.imshow(a, cmap="Greys", vmin=0, vmax=1.4)
            for t in np.arange(-0.5, a.shape[0], 1):
                ax.axhline(t, color="#999", lw=0.5)
                ax.axvline(t, color="#999", lw=0.5)
            if row == 0:  # the pooling windows
                for t in np.arange(-0.5, a.shape[0], 2):
                    ax.axhline(t, color=_BLUE, lw=1.6)
                    ax.axvline(t, color=_BLUE, lw=1.6)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=7)
    return fig


def shift_figure(stages, cmap: str = "magma"):
    """For each ``(name, original, shifted, similarity)`` stage: the map, and what a shift of the input changed
    in it (``similarity``: the correlation the view measured)."""
    import matplotlib.pyplot as plt

    n = len(stages)
    fig, axes = plt.subplots(2, n, figsize=(2.0 * n, 4.3), squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9, wspace=0.1, hspace=0.3)
    top = max(float(np.abs(np.asarray(a)).max()) for _, a, _, _ in stages) or 1.0
    for i, (name, a, b, similarity) in enumerate(stages):
        a, b = np.asarray(a), np.asarray(b)
        axes[0, i].imshow(a, cmap=cmap, vmin=0, vmax=top, interpolation="nearest")
        axes[0, i].set_title(f"{name}: {a.shape[0]}×{a.shape[1]}", fontsize=7)
        axes[1, i].imshow(np.abs(a - b), cmap="Greys", vmin=0, vmax=top, interpolation="nearest")
        axes[1, i].set_title(f"|change| after the shift; similarity {similarity:.2f}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
