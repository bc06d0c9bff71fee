"""Pictures of overlap-tile: the plan (the paper's Fig. 2), mirroring, and where naive tiles disagree.

Each function takes the objects of :mod:`unet_lesson.seg.tiling` and returns a matplotlib Figure.
"""

from __future__ import annotations

import numpy as np

from ...core.ops import mirror_pad
from ...seg.tiling import TilePlan

__all__ = ["plot_plan", "plot_seams", "plot_mirror"]

_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def _box_patch(ax, box, offset: float = 0.0, **style) -> None:
    """Draw a tile's box (``left``, ``top``, ``width``, ``height``) on ``ax``, moved by ``offset`` (-0.5: on the
    pixel edges of an ``imshow``) and styled by ``style``."""
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((box.left + offset, box.top + offset), box.width, box.height, **style))


def plot_plan(plan: TilePlan, image=None, highlight: int = 0, size: float = 3.4):
    """Two panels. Left, as in the paper's Fig. 2: the mirror-padded image (hatched: mirrored),
    one input tile (blue) with the output block it predicts (yellow), and its neighbour (green)
    whose input overlaps it while the outputs abut; every other input tile in faint dashes.
    Right: the output blocks of all tiles abutting, partitioning the image exactly."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    H, W = plan.image_shape
    t, b, lft, r = plan.padding
    PH, PW = plan.padded_shape
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(2 * size + 0.4, size * PH / PW + 0.9))
    img = None
    if image is not None:
        img = np.asarray(image, np.float32)
        img = img if img.ndim == 2 else img[0]
        ax1.imshow(mirror_pad(img, t, b, lft, r), cmap="gray", extent=(-lft, W + r, H + b, -t), alpha=0.6)
        ax2.imshow(img, cmap="gray", extent=(0, W, H, 0), alpha=0.6)
    # left: the padded canvas (hatched where mirrored), the image outline, input tiles
    ax1.add_patch(Rectangle((-lft, -t), PW, PH, fill=False, edgecolor="#9e9e9e", lw=0.5))
    for x, y, w, h in ((-lft, -t, PW, t), (-lft, H, PW, b), (-lft, 0, lft, H), (W, 0, r, H)):  # the mirrored border
        if w > 0 and h > 0:
            ax1.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="#9e9e9e", hatch="////", lw=0))
    ax1.add_patch(
        Rectangle((0, 0), W, H, facecolor="white" if img is None else "none", edgecolor="black", lw=1.5, zorder=2)
    )
    for tile in plan.tiles:
        box = tile.input.shifted(-t, -lft)
        _box_patch(ax1, box, fill=False, edgecolor="#757575", lw=0.6, ls=(0, (3, 3)), alpha=0.6, zorder=3)
    k = highlight % plan.n_tiles
    first = plan.tiles[k]
    neighbour = next((u for u in plan.tiles if u.row == first.row and u.col == first.col + 1), None) or next(
        (u for u in plan.tiles if u.col == first.col and u.row == first.row + 1), None
    )
    pairs = [(first, "#1565c0", "#ffd54f")] + ([(neighbour, "#2e7d32", "#a5d6a7")] if neighbour else [])
    for tile, edge, fill in pairs:
        ib, kb = tile.input.shifted(-t, -lft), tile.keep
        _box_patch(ax1, kb, facecolor=fill, alpha=0.75, edgecolor=edge, lw=0.8, zorder=4)
        _box_patch(ax1, ib, fill=False, edgecolor=edge, lw=2.0, zorder=5)
    mh, mw = plan.margin
    ib, ob = first.input.shifted(-t, -lft), first.output
    y = ob.top + min(ob.height, H) / 2
    ax1.annotate(
        "", xy=(ob.left, y), xytext=(ib.left, y), arrowprops=dict(arrowstyle="<->", color="#0d47a1", lw=1.3), zorder=6
    )
    ax1.text(
        ib.left + mw / 2,
        y - 0.02 * PH,
        f"margin {mw}",
        color="#0d47a1",
        fontsize=7,
        ha="left",
        va="bottom",
        fontweight="bold",
        zorder=6,
    )
    title = (
        f"input tiles {plan.tile[0]}x{plan.tile[1]} overlap (mirrored border hatched);\n"
        f"blue/green: two input tiles, filled: the output blocks they predict"
    )
    ax1.set_title(title, fontsize=8)
    # right: kept output blocks abutting
    for k2, tile in enumerate(plan.tiles):
        kb = tile.keep
        c = _COLOURS[k2 % len(_COLOURS)]
        _box_patch(ax2, kb, facecolor=c, alpha=0.35 if img is None else 0.25, edgecolor=c, lw=1.2)
        if plan.n_tiles <= 48:
            ax2.text(
                kb.left + kb.width / 2,
                kb.top + kb.height / 2,
                str(k2 + 1),
                ha="center",
                va="center",
                fontsize=7,
                color="black",
            )
    ax2.add_patch(Rectangle((0, 0), W, H, fill=False, edgecolor="black", lw=1.5))
    step = plan.stride[0] if plan.stride[0] == plan.stride[1] else f"{plan.stride[0]}x{plan.stride[1]}"
    ax2.set_title(
        f"output blocks abut: {plan.grid[0]} x {plan.grid[1]} = {plan.n_tiles} tiles,\nstep {step}, image {H}x{W}",
        fontsize=8,
    )
    pad_y, pad_x = 0.03 * PH, 0.03 * PW
    for ax in (ax1, ax2):
        ax.set_xlim(-lft - pad_x, W + r + pad_x)
        ax.set_ylim(H + b + pad_y, -t - pad_y)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def plot_seams(image, whole, naive, tiled, naive_plan, tiled_plan=None, size: float = 2.4):
    """Four panels: the image; naive tiles of the same network; where they disagree with the
    whole-image prediction (tile borders drawn); and the same for overlap-tile (valid network).

    ``whole``, ``naive``, ``tiled`` are foreground maps (H, W); ``whole`` may be a pair
    (whole-image map of the same net, whole-image map of the valid net).
    """
    import matplotlib.pyplot as plt

    whole_same, whole_valid = whole if isinstance(whole, (tuple, list)) else (whole, whole)
    d_naive = np.abs(np.asarray(naive) - whole_same)
    d_tiled = np.abs(np.asarray(tiled) - whole_valid)
    vmax = max(float(d_naive.max()), 1e-6)
    H, W = np.asarray(naive).shape
    fig, axes = plt.subplots(1, 4, figsize=(4 * size, size * H / W + 0.7))
    axes[0].imshow(
        np.asarray(image).reshape(H, W) if np.asarray(image).ndim == 2 else np.asarray(image)[0], cmap="gray"
    )
    axes[0].set_title("image", fontsize=8)
    lo, hi = float(np.min(naive)), float(np.max(naive))
    axes[1].imshow(naive, cmap="magma", vmin=lo, vmax=max(hi, lo + 1e-6))
    axes[1].set_title(f"naive tiles (same net): foreground\nprobability, {lo:.2f} (dark) to {hi:.2f}", fontsize=8)
    axes[2].imshow(d_naive, cmap="Reds", vmin=0, vmax=vmax)
    axes[2].set_title(f"|naive - whole image|\nmax {d_naive.max():.3g}", fontsize=8)
    axes[3].imshow(d_tiled, cmap="Reds", vmin=0, vmax=vmax)
    axes[3].set_title(f"|overlap-tile - whole image|\nmax {d_tiled.max():.3g} (valid net)", fontsize=8)
    for ax, plan in ((axes[1], naive_plan), (axes[2], naive_plan), (axes[3], tiled_plan)):
        if plan is None:
            continue
        for t in plan.tiles:
            k = t.keep
            _box_patch(ax, k, offset=-0.5, fill=False, edgecolor="#1e88e5", lw=0.6, ls=":")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_mirror(image, margin: int, size: float = 3.0):
    """The image with its mirrored border of ``margin`` px (the paper: "missing input data is
    extrapolated by mirroring"); the original image is outlined."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    img = np.asarray(image, np.float32)
    img = img if img.ndim == 2 else img[0]
    H, W = img.shape
    padded = mirror_pad(img, margin, margin, margin, margin)
    fig, (a1, a2) = plt.subplots(
        1,
        2,
        figsize=(2 * size, size * (H + 2 * margin) / (W + 2 * margin) + 0.5),
        gridspec_kw=dict(width_ratios=[W, W + 2 * margin]),
    )
    a1.imshow(img, cmap="gray", vmin=0, vmax=1)
    a1.set_title(f"image {H}x{W}", fontsize=8)
    a2.imshow(
        padded, cmap="gray", vmin=0, vmax=1, extent=(-margin - 0.5, W + margin - 0.5, H + margin - 0.5, -margin - 0.5)
    )
    a2.add_patch(Rectangle((-0.5, -0.5), W, H, fill=False, edgecolor="#ffd54f", lw=1.5))
    a2.set_title(f"mirrored by the margin, {margin} px per side: {H + 2 * margin}x{W + 2 * margin}", fontsize=8)
    for a in (a1, a2):
        a.axis("off")
    fig.tight_layout()
    return fig
