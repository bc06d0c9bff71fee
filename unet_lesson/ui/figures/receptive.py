"""Pictures of the receptive field: the input window one output pixel sees.

Two pictures, both drawn from a :class:`~unet_lesson.core.receptive.ReceptiveField` computed elsewhere
(these functions only draw):

* :func:`stack_figure`: a plain stack (lessons 01-02) on a pixel grid: the input with the window of the
  chosen output pixel, the output with that pixel, side by side;
* :func:`unet_figure`: the U-Net (lessons 06-07) on the sample picture: the part of the input the
  output covers, the chosen pixel and its window, and, with same padding, the window's part beyond the
  border (the padding zeros it sees) hatched.
"""

from __future__ import annotations

import numpy as np

__all__ = ["stack_figure", "unet_figure"]

_FIELD, _REACH, _PIXEL, _COVER = "#ff7f0e", "#8a4b00", "#d62728", "#1f77b4"


def _rect(ax, rows, cols, **kw):
    from matplotlib.patches import Rectangle

    (r0, r1), (c0, c1) = rows, cols
    ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, **kw))


def _zeros_band(ax, field, h, w):
    """Hatch the part of the reach that lies outside the h x w image: the padding zeros it sees."""
    if not field.sees_padding:
        return
    (r0, r1), (c0, c1) = field.reach_rows, field.reach_cols
    # the reach rectangle minus the image: up to four bands (above, below, left, right)
    bands = [
        ((r0, min(r1, -1)), (c0, c1)),
        ((max(r0, h), r1), (c0, c1)),
        ((max(r0, 0), min(r1, h - 1)), (c0, min(c1, -1))),
        ((max(r0, 0), min(r1, h - 1)), (max(c0, w), c1)),
    ]
    first = True
    for rows, cols in bands:
        if rows[1] >= rows[0] and cols[1] >= cols[0]:
            _rect(
                ax,
                rows,
                cols,
                facecolor="#eeeeee",
                edgecolor="#999999",
                hatch="//",
                lw=0.5,
                label="padding zeros it sees" if first else None,
            )
            first = False


def stack_figure(input_size, output_size, field, layers_text: str = "", grid: bool = True, image=None):
    """The input grid (or ``image``, a picture of the input's size) with the window of the chosen output pixel
    (solid; the reach dashed where the border cuts it, the padding zeros hatched), and the output grid with
    that pixel, side by side."""
    import matplotlib.pyplot as plt

    (h, w), (oh, ow) = input_size, output_size
    fig, (a_in, a_out) = plt.subplots(
        1, 2, figsize=(8.4, 4.0), gridspec_kw={"width_ratios": [max(w, 1), max(ow, 1) * 1.0 + w * 0.15]}
    )
    (r0, r1), (c0, c1) = field.reach_rows or field.rows, field.reach_cols or field.cols
    for ax, (mh, mw), title in ((a_in, (h, w), f"input {h}×{w}"), (a_out, (oh, ow), f"output {oh}×{ow}")):
        picture = image is not None and ax is a_in
        face = "none" if picture else "#f7f7f7"  # a filled frame would hide the picture (patches draw above images)
        ax.add_patch(plt.Rectangle((-0.5, -0.5), mw, mh, facecolor=face, edgecolor="#444444", lw=1))
        if grid and max(mh, mw) <= 48:
            for t in range(mh + 1):
                ax.plot([-0.5, mw - 0.5], [t - 0.5, t - 0.5], color="#cccccc", lw=0.4)
            for t in range(mw + 1):
                ax.plot([t - 0.5, t - 0.5], [-0.5, mh - 0.5], color="#cccccc", lw=0.4)
        if picture:
            ax.imshow(np.asarray(image), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.axis("off")
    _zeros_band(a_in, field, h, w)
    fh, fw = field.size
    _rect(a_in, field.rows, field.cols, facecolor=_FIELD, alpha=0.55, edgecolor=_FIELD, lw=1.5)
    _rect(a_in, field.rows, field.cols, fill=False, edgecolor=_FIELD, lw=1.5, label=f"its window: {fh}×{fw}")
    if field.sees_padding:
        _rect(
            a_in, (r0, r1), (c0, c1), fill=False, edgecolor=_REACH, ls="--", lw=1.2, label="the window before the cut"
        )
    a_in.set_xlim(min(c0, 0) - 1, max(c1, w - 1) + 1)
    a_in.set_ylim(max(r1, h - 1) + 1, min(r0, 0) - 1)
    i, j = field.position
    _rect(a_out, (i, i), (j, j), facecolor=_PIXEL, edgecolor=_PIXEL, label=f"output pixel ({i}, {j})")
    a_out.set_xlim(-1, ow)
    a_out.set_ylim(oh, -1)
    handles = [h_ for ax in (a_in, a_out) for h_ in ax.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    if layers_text:
        fig.suptitle(layers_text, fontsize=9)
    fig.subplots_adjust(bottom=0.18)
    return fig


def unet_figure(image, output_size, offset, field, title: str = ""):
    """The input picture; the part of it the output covers (blue, ``offset`` = rows/columns from the top left:
    the valid network's output is the centre of its input); the chosen output pixel where it sits on the
    input (red) and its window (orange); with same padding, the window's part beyond the border hatched."""
    import matplotlib.pyplot as plt

    img = np.asarray(image)
    h, w = img.shape
    (oh, ow), (dr, dc) = output_size, offset
    fig, ax = plt.subplots(figsize=(5.6, 5.6))
    ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    _rect(ax, (dr, dr + oh - 1), (dc, dc + ow - 1), fill=False, edgecolor=_COVER, lw=1.2, ls=":", label="the output")
    _zeros_band(ax, field, h, w)
    fh, fw = field.size
    _rect(ax, field.rows, field.cols, facecolor=_FIELD, alpha=0.25, edgecolor=_FIELD, lw=2)
    _rect(ax, field.rows, field.cols, fill=False, edgecolor=_FIELD, lw=2, label=f"its window: {fh}×{fw}")
    i, j = field.position
    ax.plot([j + dc], [i + dr], marker="s", color=_PIXEL, ms=5, ls="none", label=f"output pixel ({i}, {j})")
    (r0, r1), (c0, c1) = field.reach_rows or field.rows, field.reach_cols or field.cols
    if field.sees_padding:
        _rect(ax, (r0, r1), (c0, c1), fill=False, edgecolor=_REACH, ls="--", lw=1.2, label="the window before the cut")
    ax.set_xlim(min(c0, 0) - 4, max(c1, w - 1) + 4)
    ax.set_ylim(max(r1, h - 1) + 4, min(r0, 0) - 4)
    ax.set_title(title or f"input {h}×{w}, output {oh}×{ow}", fontsize=10)
    ax.axis("off")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=2, fontsize=8, frameon=False)
    return fig
