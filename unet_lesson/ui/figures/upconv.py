"""Pictures of the up-conv lesson: scatter and sum step by step, overlap counts and checkerboards,
three ways to double an image, an up-conv on a real picture, the widget's scatter picture.

The numbers come from :mod:`unet_lesson.core.transposed`; these functions only draw them.
"""

from __future__ import annotations

import numpy as np

from ...core.transposed import (
    checkerboard_facts,
    conv_transpose_torch,
    overlap_count,
    scatter_steps,
    upsample_three_ways,
)

__all__ = [
    "scatter_steps_figure",
    "checkerboard_figure",
    "upsample_three_ways_figure",
    "feature_map_figure",
    "scatter_picture",
]


def _fmt(v: float) -> str:
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.2g}"


def _grid(ax, a, vmax, title, cmap="Blues", annotate=True, box=None, window=None, fontsize=8):
    """Draw a small matrix with its numbers; optionally outline a box and the output window."""
    from matplotlib.patches import Rectangle

    ax.imshow(a, cmap=cmap, vmin=0, vmax=max(vmax, 1e-9), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if max(a.shape) <= 40:  # pixel borders (drawn as two line collections: cheap)
        ax.hlines(np.arange(-0.5, a.shape[0]), -0.5, a.shape[1] - 0.5, colors="#bbbbbb", linewidth=0.5)
        ax.vlines(np.arange(-0.5, a.shape[1]), -0.5, a.shape[0] - 0.5, colors="#bbbbbb", linewidth=0.5)
    if annotate:
        for (r, c), v in np.ndenumerate(a):
            ax.text(
                c, r, _fmt(v), ha="center", va="center", fontsize=fontsize, color="white" if v > 0.6 * vmax else "black"
            )
    if box is not None:  # (top, left, height, width)
        t, lft, h, w = box
        ax.add_patch(Rectangle((lft - 0.5, t - 0.5), w, h, fill=False, edgecolor="#d62728", linewidth=2))
    if window is not None and window[2:] != a.shape:
        t, lft, h, w = window
        ax.add_patch(
            Rectangle((lft - 0.5, t - 0.5), w, h, fill=False, edgecolor="black", linewidth=1.5, linestyle="--")
        )
    ax.set_title(title, fontsize=8)


def scatter_steps_figure(x, kernel, stride: int = 2, padding: int = 0, output_padding: int = 0):
    """Top row: each input pixel paints ``value x kernel`` (red box) at stride ``s``. Bottom row: the
    running sum; where copies overlap the numbers add. Last column: the output and how many copies
    painted each pixel. A dashed box marks the output window when ``padding`` trims the border."""
    import matplotlib.pyplot as plt

    sc = scatter_steps(x, kernel, stride, padding, output_padding)
    n = len(sc.steps)
    if n > 9:
        raise ValueError(f"{n} input pixels are too many steps to draw; use an input of at most 3x3.")
    vmax = float(sc.canvas.max())
    ncols = n + 2
    fig, axes = plt.subplots(2, ncols, figsize=(1.55 * ncols, 3.6))
    _grid(axes[0, 0], sc.x, float(sc.x.max()), f"input {sc.x.shape[0]}×{sc.x.shape[1]}", cmap="Oranges")
    _grid(
        axes[1, 0],
        sc.kernel,
        float(sc.kernel.max()),
        f"kernel {sc.kernel.shape[0]}×{sc.kernel.shape[1]}, stride {stride}",
        cmap="Greens",
    )
    kh, kw = sc.kernel.shape
    for c, step in enumerate(sc.steps, start=1):
        box = (step.top, step.left, kh, kw)
        _grid(
            axes[0, c],
            step.contribution,
            vmax,
            f"x[{step.row},{step.col}]={_fmt(step.value)} paints\n"
            f"{_fmt(step.value)}×kernel at ({step.top},{step.left})",
            box=box,
        )
        _grid(axes[1, c], step.total, vmax, f"sum after step {c}", box=box, window=sc.window)
    out = sc.output
    count = overlap_count(sc.x.shape, sc.kernel.shape, stride, padding, output_padding)
    _grid(axes[0, -1], out, vmax, f"output {out.shape[0]}×{out.shape[1]}\n(= nn.ConvTranspose2d)")
    _grid(axes[1, -1], count, float(max(count.max(), 4)), "copies per pixel", cmap="Purples")
    fig.tight_layout()
    return fig


def checkerboard_figure(size: int = 5, cases=((2, 2), (3, 2), (4, 2)), value: float = 0.5):
    """Top: copies per output pixel for each (kernel, stride). Bottom: the real ``nn.ConvTranspose2d``
    with an all-ones kernel on a constant input (``value`` everywhere): uneven overlap shows up as
    a checkerboard although the input is flat."""
    import matplotlib.pyplot as plt

    counts = [overlap_count(size, k, s) for k, s in cases]
    reals = [conv_transpose_torch(np.full((size, size), value), np.ones((k, k)), stride=s) for k, s in cases]
    cmax, rmax = max(float(c.max()) for c in counts), max(float(r.max()) for r in reals)
    fig, axes = plt.subplots(2, len(cases), figsize=(2.7 * len(cases), 5.6))
    for c, ((k, s), count, real) in enumerate(zip(cases, counts, reals)):
        f = checkerboard_facts(size, k, s)
        inside = (
            f"inside: {f['interior_min']} to {f['interior_max']} (uneven: checkerboard)"
            if f["uneven"]
            else f"inside: {f['interior_min']} everywhere (even)"
        )
        _grid(
            axes[0, c],
            count,
            cmax,
            f"{k}×{k} kernel, stride {s}: copies per pixel\n{inside}",
            cmap="Purples",
            annotate=count.shape[0] <= 14,
            fontsize=6,
        )
        ax = axes[1, c]
        ax.imshow(real, cmap="gray", interpolation="nearest", vmin=0, vmax=rmax)
        ax.set_xticks([])
        ax.set_yticks([])
        values = ", ".join(_fmt(v) for v in np.unique(np.round(real, 9)))
        ax.set_title(
            f"real nn.ConvTranspose2d, all-ones {k}×{k},\nflat {size}×{size} input of {_fmt(value)}"
            f" -> {real.shape[0]}×{real.shape[1]}\nvalues: {values}",
            fontsize=8,
        )
    fig.tight_layout()
    return fig


def upsample_three_ways_figure(image, zoom: int | None = 24):
    """Show :func:`upsample_three_ways`; ``zoom`` crops the top-left ``zoom`` output pixels so the
    pixel pattern is visible (``None`` shows everything)."""
    import matplotlib.pyplot as plt

    ways = upsample_three_ways(image)
    fig, axes = plt.subplots(1, len(ways), figsize=(2.5 * len(ways), 2.9))
    for ax, (name, (a, title)) in zip(axes, ways.items()):
        show = a if (zoom is None or name == "input") else a[:zoom, :zoom]
        if name == "input" and zoom is not None:
            show = a[: zoom // 2, : zoom // 2]
        ax.imshow(show, cmap="gray", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(
            title + ("" if zoom is None else f"\n(top-left {show.shape[0]}×{show.shape[1]} shown)"), fontsize=8
        )
    fig.tight_layout()
    return fig


def feature_map_figure(stages):
    """One row per stage, every panel on the same pixel scale, so a pooled map looks half as big and
    the up-conv's output twice as big as its input."""
    import matplotlib.pyplot as plt

    ncols = max(s[1].shape[0] for s in stages)
    big = max(max(s[1].shape[1:]) for s in stages)
    fig, axes = plt.subplots(len(stages), ncols, figsize=(1.45 * ncols, 1.75 * len(stages)), squeeze=False)
    for r, (label, maps) in enumerate(stages):
        c_, h, w = maps.shape
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xlim(-0.5, big - 0.5)
            ax.set_ylim(big - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            if c < c_:
                ax.imshow(maps[c], cmap="gray" if r == 0 else "viridis", interpolation="nearest")
                title = f"{label}\n{h}×{w}×{c_}, ch 0" if c == 0 else f"\nch {c}"
                if "\n" in label and c:
                    title = "\n" + title
                ax.set_title(title, fontsize=7, loc="left")
    fig.tight_layout()
    return fig


def scatter_picture(size, kernel, stride, padding, output_padding):
    """Left: every input pixel's footprint (its kernel copy) on the canvas, the output window dashed.
    Right: how many copies paint each output pixel."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    counts = overlap_count(size, kernel, stride, padding, output_padding)
    full = overlap_count(size, kernel, stride)  # before trimming and extra rows
    out = counts.shape[0]
    canvas = max((size - 1) * stride + kernel, padding + out)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.2, 3.5))
    # footprints
    a1.set_xlim(-0.5, canvas - 0.5)
    a1.set_ylim(canvas - 0.5, -0.5)
    a1.set_aspect("equal")
    bg = np.zeros((canvas, canvas))
    bg[: full.shape[0], : full.shape[1]] = full
    a1.imshow(bg, cmap="Purples", interpolation="nearest", vmin=0, vmax=max(float(full.max()), 1) * 1.6)
    if size <= 8:  # each input pixel's copy as an outline, inset a little so overlapping copies stay apart
        colours = plt.get_cmap("tab10")
        for i in range(size):
            for j in range(size):
                col = colours((i * size + j) % 10)
                inset = 0.08 + 0.07 * ((i + j) % 3)
                a1.add_patch(
                    Rectangle(
                        (j * stride - 0.5 + inset, i * stride - 0.5 + inset),
                        kernel - 2 * inset,
                        kernel - 2 * inset,
                        fill=False,
                        edgecolor=col,
                        linewidth=1.2,
                    )
                )
                a1.plot(j * stride, i * stride, "o", color=col, markersize=3)
    a1.add_patch(
        Rectangle(
            (padding - 0.5, padding - 0.5), out, out, fill=False, edgecolor="black", linewidth=1.5, linestyle="--"
        )
    )
    a1.set_xticks([])
    a1.set_yticks([])
    trimmed = f", {padding} trimmed per side" if padding else ""
    extra = f", +{output_padding} at bottom/right" if output_padding else ""
    a1.set_title(
        f"{size}×{size} input pixels, each paints a {kernel}×{kernel} copy\n"
        f"{stride} apart; dashed = output{trimmed}{extra}",
        fontsize=8,
    )
    _grid(
        a2,
        counts,
        float(max(counts.max(), 4)),
        f"copies per output pixel ({out}×{out})",
        cmap="Purples",
        annotate=out <= 16,
        fontsize=7 if out <= 12 else 5,
    )
    fig.tight_layout()
    return fig
