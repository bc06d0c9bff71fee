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
    "conv_matrix_figure",
    "zero_insertion_figure",
]


def _fmt(v: float) -> str:
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.2g}"


def _grid(ax, a, vmax, title, cmap="Blues", annotate=True, box=None, window=None, fontsize=8, zeros=False):
    """Draw a small matrix with its numbers; optionally outline a box and the output window."""
    from matplotlib.patches import Rectangle

    ax.imshow(a, cmap=cmap, vmin=0, vmax=max(vmax, 1e-9), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if max(a.shape) <= 40:  # pixel borders (drawn as two line collections: cheap)
        ax.hlines(np.arange(-0.5, a.shape[0]), -0.5, a.shape[1] - 0.5, colors="#bbbbbb", linewidth=0.5)
        ax.vlines(np.arange(-0.5, a.shape[1]), -0.5, a.shape[0] - 0.5, colors="#bbbbbb", linewidth=0.5)
    if annotate:  # the numbers; zeros are left blank unless they are the point (every text costs drawing time)
        for (r, c), v in np.ndenumerate(a):
            if v == 0 and not zeros:
                continue
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
    # fixed margins: tight_layout would lay out every number once more (a second or two in a notebook)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.87, bottom=0.01, wspace=0.12, hspace=0.42)
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
            annotate=False,  # the colours and the title say it; 300 small numbers cost seconds to draw
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
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.01, wspace=0.15, hspace=0.5)
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
        from matplotlib.collections import PatchCollection

        colours = plt.get_cmap("tab10")
        boxes, cols, dots = [], [], []
        for i in range(size):
            for j in range(size):
                inset = 0.08 + 0.07 * ((i + j) % 3)
                boxes.append(
                    Rectangle(
                        (j * stride - 0.5 + inset, i * stride - 0.5 + inset), kernel - 2 * inset, kernel - 2 * inset
                    )
                )
                cols.append(colours((i * size + j) % 10))
                dots.append((j * stride, i * stride))
        # one collection and one scatter: drawing 64 outlines one by one costs a widget a third of a second
        a1.add_collection(PatchCollection(boxes, facecolor="none", edgecolor=cols, linewidth=1.2))
        a1.scatter(*zip(*dots), c=cols, s=9, zorder=3)
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


def _labelled_matrix(ax, m, rows, cols, title, cmap):
    """A matrix with its numbers (zeros left blank) and a name on every row and column."""
    _grid(ax, m, float(np.abs(m).max()), title, cmap=cmap, annotate=False)
    for (r, c), v in np.ndenumerate(m):
        if v:
            ax.text(
                c, r, _fmt(v), ha="center", va="center", fontsize=7, color="white" if v > 0.6 * m.max() else "black"
            )
    ax.set_yticks(range(len(rows)), rows, fontsize=6)
    ax.set_xticks(range(len(cols)), cols, fontsize=6, rotation=90)
    ax.tick_params(length=0)


def _names_map(ax, h, w, prefix, title, colour):
    """A map whose pixels carry their names (x00, x01, ...): how the map is flattened into a vector."""
    ax.imshow(np.zeros((h, w)), cmap="Greys", vmin=0, vmax=1)
    for r in range(h):
        for q in range(w):
            ax.text(q, r, f"{prefix}{r}{q}", ha="center", va="center", fontsize=7, color=colour)
    ax.hlines(np.arange(-0.5, h), -0.5, w - 0.5, colors="#bbbbbb", linewidth=0.5)
    ax.vlines(np.arange(-0.5, w), -0.5, h - 0.5, colors="#bbbbbb", linewidth=0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


def conv_matrix_figure(kernel, in_size=4, stride=2, padding=0):
    """The convolution as a matrix C (one row per output pixel, one column per input pixel) and the
    up-conv as its transpose C^T (one row per up-conv output pixel), both drawn with their numbers,
    beside the two maps with their pixels named as the matrices name them (flattened row by row)."""
    import matplotlib.pyplot as plt

    from ...core.sizes import conv_out
    from ...core.transposed import conv_matrix

    k = np.asarray(kernel, dtype=np.float64)
    h = w = int(in_size)
    c = conv_matrix(k, (h, w), stride, padding)
    h_out, w_out = conv_out(h, k.shape[0], stride, padding), conv_out(w, k.shape[1], stride, padding)
    xs = [f"x{r}{q}" for r in range(h) for q in range(w)]
    ys = [f"y{r}{q}" for r in range(h_out) for q in range(w_out)]
    n_in, n_out = c.shape[1], c.shape[0]
    fig = plt.figure(figsize=(0.34 * (n_in + n_out) + 1.8, 0.34 * n_in + 1.0))
    grid = fig.add_gridspec(2, 3, width_ratios=[n_in / 2, n_in / 2, n_out], height_ratios=[n_out + 2, n_in - n_out])
    a1 = fig.add_subplot(grid[0, :2])
    _labelled_matrix(
        a1,
        c,
        ys,
        xs,
        f"C, the {k.shape[0]}×{k.shape[1]} conv with stride {stride}: {n_out} rows (output pixels y) × "
        f"{n_in} columns (input pixels x)\ny = C x: {h}×{w} = {n_in} numbers in, {h_out}×{w_out} = {n_out} out",
        "Blues",
    )
    _names_map(fig.add_subplot(grid[1, 0]), h, w, "x", f"x: the conv's input, {h}×{w}", "#1a5fb4")
    _names_map(fig.add_subplot(grid[1, 1]), h_out, w_out, "y", f"y: its output, {h_out}×{w_out}", "#b3261e")
    _labelled_matrix(
        fig.add_subplot(grid[:, 2]),
        c.T,
        xs,
        ys,
        f"Cᵀ ({n_in} × {n_out}):\n{h_out}×{w_out} in, {h}×{w} out\n= the up-conv",
        "Oranges",
    )
    fig.tight_layout()
    return fig


def zero_insertion_figure(x, kernel, stride=2, padding=0, output_padding=0):
    """The up-conv as an ordinary convolution: the input with s - 1 zeros inserted and k - 1 - p of padding
    (the input's pixels outlined), the flipped kernel, and the output, which equals nn.ConvTranspose2d."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from ...core.transposed import conv_transpose_torch, zero_insertion

    z = zero_insertion(x, kernel, stride, padding, output_padding)
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    real = conv_transpose_torch(x, k, stride, padding, output_padding)
    vmax = float(max(np.abs(z.padded).max(), 1))
    widths = [x.shape[1], k.shape[1], k.shape[1], z.padded.shape[1], z.output.shape[1], z.output.shape[1]]
    fig, axes = plt.subplots(1, 6, figsize=(11.5, 2.9), gridspec_kw={"width_ratios": widths})
    _grid(axes[0], x, float(x.max()), f"input {x.shape[0]}×{x.shape[1]}", cmap="Oranges")
    _grid(axes[1], k, float(k.max()), f"kernel {k.shape[0]}×{k.shape[1]}", cmap="Greens")
    _grid(axes[2], z.flipped, float(k.max()), "flipped\n(turned 180°)", cmap="Greens")
    _grid(
        axes[3],
        z.padded,
        vmax,
        f"{stride - 1} zero(s) between pixels,\npadded by k − 1 − p = {z.pad[0]}",
        cmap="Oranges",
        zeros=True,
    )
    top, left = max(z.pad[0], 0), max(z.pad[1], 0)
    for r in range(x.shape[0]):
        for q in range(x.shape[1]):  # outline where each input pixel went
            axes[3].add_patch(
                Rectangle(
                    (left + q * stride - 0.5, top + r * stride - 0.5), 1, 1, fill=False, edgecolor="#d62728", lw=1.5
                )
            )
    _grid(axes[4], z.output, float(max(z.output.max(), 1)), "valid conv of that\nwith the flipped kernel")
    same = real.shape == z.output.shape and np.allclose(real, z.output)
    _grid(axes[5], real, float(max(real.max(), 1)), f"nn.ConvTranspose2d:\n{'identical' if same else 'DIFFERENT'}")
    fig.tight_layout()
    return fig
