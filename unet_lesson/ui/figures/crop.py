"""Pictures of the copy-and-crop lesson: a small grid with the centre crop and both centres, and the crop
box on a real feature map (the input, the copied map with its crop box, the cropped map).

The numbers come from :func:`unet_lesson.core.sizes.center_crop_box` and a real forward pass; these
functions only draw them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crop_grid_figure", "crop_figure"]


def crop_figure(maps, m, lvl, box, level, position):
    """The input with the copied and kept boxes, the copied map with the crop box, the cropped map."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    start, jump = position
    sh, sw = lvl.source
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 3.1))
    img = maps["image"]
    axes[0].imshow(img, cmap="gray", interpolation="nearest", vmin=0, vmax=1)

    def on_input(top, left, h, w, **kw):  # a box of copied-map pixels drawn in input coordinates
        y0, x0 = start + top * jump - jump / 2, start + left * jump - jump / 2
        axes[0].add_patch(Rectangle((x0 - 0.5, y0 - 0.5), w * jump, h * jump, fill=False, **kw))

    on_input(0, 0, sh, sw, edgecolor="#4fc3f7", linewidth=1.2, linestyle="--")
    on_input(box.top, box.left, box.height, box.width, edgecolor="#ff3b30", linewidth=1.6)
    axes[0].set_title(
        f"input {img.shape[0]}×{img.shape[1]}: copied map covers the\ndashed box, the crop keeps the red one",
        fontsize=8,
    )
    axes[1].imshow(m["copied"], cmap="viridis", interpolation="nearest", extent=(-0.5, sw - 0.5, sh - 0.5, -0.5))
    axes[1].add_patch(
        Rectangle(
            (box.left - 0.5, box.top - 0.5), box.width, box.height, fill=False, edgecolor="#ff3b30", linewidth=1.8
        )
    )
    axes[1].set_title(
        f"level {level} copied map {sh}×{sw} (ch {m['channel']})\ncrop box {box.height}×{box.width} "
        f"at row {box.top}, column {box.left}",
        fontsize=8,
    )
    axes[2].imshow(m["cropped"], cmap="viridis", interpolation="nearest")
    axes[2].set_title(
        f"after the model's CenterCrop: {box.height}×{box.width}\n"
        f"= the up-conv's map, {m['up_shape'][0]}×{m['up_shape'][1]}",
        fontsize=8,
    )
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def crop_grid_figure(source: int, target: int, box):
    """A ``source`` x ``source`` grid, the centre-crop ``box`` to ``target`` (kept blue, cut grey), and the
    two centres: the map's (black +) and the crop's (red x), half a pixel apart for an odd difference."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    kept = np.zeros((source, source))
    kept[box.slices] = 1
    fig, ax = plt.subplots(figsize=(2.8, 2.8))
    ax.imshow(
        kept,
        cmap=ListedColormap(["#eeeeee", "#7fb3e6"]),
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(0, source, source, 0),
    )
    if source <= 24:  # pixel borders while they are big enough to see
        for t in range(source + 1):
            ax.axhline(t, color="white", linewidth=0.8)
            ax.axvline(t, color="white", linewidth=0.8)
    c_src, c_crop = source / 2, box.top + target / 2
    ax.plot([c_src], [c_src], "k+", markersize=12, label=f"centre of the {source}-map")
    ax.plot([c_crop], [c_crop], "rx", markersize=9, label="centre of the crop")
    ax.set_xlim(0, source)
    ax.set_ylim(source, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{source}×{source} → {target}×{target}: cut {box.top} top, {box.bottom} bottom", fontsize=8)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=1, frameon=False)
    fig.tight_layout()
    return fig
