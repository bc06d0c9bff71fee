r"""The U-shaped diagram of a U-Net, drawn from its :class:`~unet_lesson.ShapeTable`.

Like the paper's Fig. 1: every box is a multi-channel feature map, labelled with its
channel count (on top) and its height x width (rotated, lower left); the arrows are the
operations: 3x3 conv + ReLU (dark blue), 2x2 max pool (red), 2x2 up-conv (green),
copy and crop (grey), 1x1 conv (teal). Nothing is typed by hand: every box, label and
arrow comes from one row of the table, so the picture cannot disagree with the table::

    >>> from unet_lesson import shape_table
    >>> fig = draw_unet(shape_table(572))          # the paper's network
    >>> fig.ul_labels[0]                            # (row index, channels text, size text); 0 = the input
    (0, '1', '572×572')

``draw_unet`` builds the figure with plain patches and lines (no layout engine), so a
redraw takes a few tens of milliseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.shapes import ShapeTable
from .widgets import figure_png

__all__ = ["draw_unet", "ARROW_STYLES", "Box", "layout"]

# the paper's Fig. 1 legend, in its words and (roughly) its colours
ARROW_STYLES = {
    "conv": ("conv 3x3, ReLU", "#1f3f8f"),
    "pool": ("max pool 2x2", "#d62728"),
    "up": ("up-conv 2x2", "#2ca02c"),
    "copy": ("copy and crop", "#8c8c8c"),
    "head": ("conv 1x1", "#17a2a2"),
}
_FILL = {"contracting": "#dce9f7", "bottom": "#e9dcf5", "expanding": "#dce9f7", "head": "#fde8c8",
         "input": "#ffffff", "crop": "#ffffff", "up": "#a9c8ee"}

_GAP = 0.55          # room for a conv arrow between two boxes
_LEVEL_GAP = 2.5     # vertical distance between two levels of the U
_H_MIN, _H_MAX = 0.3, 1.9
_PITCH = 1.0         # least distance between the centres of two neighbouring boxes
_LABEL = 0.3         # room under a box for its size label


@dataclass
class Box:
    """One feature map in the picture: which table row made it (0 = the input) and where it sits."""

    row: int
    kind: str            # "input", "conv", "pool", "up", "crop", "head"
    path: str
    level: int
    shape: tuple[int, int, int]   # (C, H, W), copied from the table
    x: float = 0.0
    y: float = 0.0       # centre line of the level
    w: float = 0.0
    h: float = 0.0

    @property
    def left(self) -> float:
        return self.x

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def top(self) -> float:
        return self.y + self.h / 2

    @property
    def bottom(self) -> float:
        return self.y - self.h / 2

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def size_text(self) -> str:
        return f"{self.shape[1]}×{self.shape[2]}"

    @property
    def channel_text(self) -> str:
        return f"{self.shape[0]}"


def _width(c: int) -> float:
    return 0.12 + 0.075 * math.log2(c + 1)


def layout(table: ShapeTable) -> tuple[list[Box], list[tuple[str, tuple[float, float], tuple[float, float]]]]:
    """Place one box per feature map of ``table`` and one arrow per operation.

    Returns ``(boxes, arrows)``; an arrow is ``(kind, (x0, y0), (x1, y1))`` with kind in
    :data:`ARROW_STYLES`. Positions are in arbitrary data units.
    """
    rows = list(table)
    max_size = max([max(table.input_size)] + [max(r.out_shape[1:]) for r in rows])

    def height(shape) -> float:
        return _H_MIN + (_H_MAX - _H_MIN) * (max(shape[1], shape[2]) / max_size) ** 0.75

    def y_of(level: int) -> float:
        return -(level - 1) * _LEVEL_GAP

    def make(row, kind, path, level, shape) -> Box:
        return Box(row, kind, path, level, shape, w=_width(shape[0]), h=height(shape), y=y_of(level))

    boxes: list[Box] = []
    arrows: list = []
    first = make(0, "input", "input", 1, table.input_shape)
    boxes.append(first)
    last = first                       # the box the next operation starts from
    skips: dict[int, Box] = {}         # level -> last contracting box (the "copy" of copy and crop)
    pending_up: Box | None = None
    for r in rows:
        if r.kind in ("conv", "head"):
            b = make(r.index, "conv" if r.kind == "conv" else "head", r.path, r.level, r.out_shape)
            b.x = max(last.right + _GAP, last.cx + _PITCH - b.w / 2)  # room for the size labels
            arrows.append(("conv" if r.kind == "conv" else "head", (last.right, last.y), (b.left, b.y)))
            boxes.append(b)
            last = b
            if r.path == "contracting":
                skips[r.level] = b
        elif r.kind == "pool":
            b = make(r.index, "pool", r.path, r.level + 1, r.out_shape)
            b.x = last.x + (last.w - b.w) / 2
            arrows.append(("pool", (last.cx, last.bottom - _LABEL), (b.cx, b.top + _LABEL)))
            boxes.append(b)
            last = b
        elif r.kind == "up":
            b = make(r.index, "up", r.path, r.level, r.out_shape)
            b.x = last.cx - b.w / 2
            arrows.append(("up", (last.cx, last.top + _LABEL), (b.cx, b.bottom - _LABEL)))
            pending_up = b
            last = b
        elif r.kind == "crop":
            b = make(r.index, "crop", r.path, r.level, r.out_shape)
            assert pending_up is not None, "a crop row follows an up row"
            b.x = pending_up.left - b.w  # the white (copied) half sits just left of the blue half
            src = skips[r.level]
            arrows.append(("copy", (src.right, src.y), (b.left, b.y)))
            boxes.append(b)
            boxes.append(pending_up)
            pending_up = None
        # "concat" rows draw nothing new: the white and blue halves side by side *are* the concatenation
    return boxes, arrows


def draw_unet(table: ShapeTable, *, title: str | None = None, figsize: tuple[float, float] | None = None,
              fontsize: float = 6.5):
    """Draw the U of ``table`` (a :class:`~unet_lesson.ShapeTable`) and return the matplotlib Figure.

    The figure carries ``fig.ul_labels``: one ``(row, channels_text, size_text)`` per box,
    in drawing order (row 0 is the input), so tests can compare the picture with the table.
    """
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    boxes, arrows = layout(table)
    x0 = min(b.left for b in boxes) - 0.6
    x1 = max(b.right for b in boxes) + 0.3
    y1 = max(b.top for b in boxes) + 0.45
    y0 = min(b.bottom for b in boxes) - 0.55
    if figsize is None:
        scale = 0.62
        figsize = (min(12.0, max(6.0, (x1 - x0) * scale)), min(7.5, max(3.2, (y1 - y0) * scale * 0.8)))
    fig = Figure(figsize=figsize, dpi=80)
    ax = fig.add_axes((0, 0, 1, 0.93 if title != "" else 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.axis("off")
    # one collection for all boxes and two for all arrows: a handful of artists, so a redraw is quick
    rects, fills, labels = [], [], []
    for i, b in enumerate(boxes):
        rects.append([(b.left, b.bottom), (b.right, b.bottom), (b.right, b.top), (b.left, b.top)])
        fills.append(_FILL.get(b.kind if b.kind in ("input", "crop", "up", "head") else b.path, "#dce9f7"))
        ax.text(b.cx, b.top + 0.05, b.channel_text, ha="center", va="bottom", fontsize=fontsize, gid=f"ch-{b.row}")
        labels.append((b.row, b.channel_text, b.size_text))
        # the size goes under the box; the two halves of a concatenation share one label when they agree
        if b.kind == "crop" and boxes[i + 1].size_text == b.size_text:
            continue
        if b.kind == "up" and boxes[i - 1].kind == "crop":
            pair = boxes[i - 1]
            same = pair.size_text == b.size_text
            cx = (pair.left + b.right) / 2 if same else b.cx
            ty = min(pair.bottom, b.bottom) - (0.04 if same else 0.3)
        else:
            cx, ty = b.cx, b.bottom - 0.04
        ax.text(cx, ty, b.size_text, ha="center", va="top", fontsize=fontsize - 0.5, gid=f"size-{b.row}")
    ax.add_collection(PolyCollection(rects, facecolors=fills, edgecolors="#333333", linewidths=0.7))
    shafts, heads, colors = [], [], []
    for kind, (ax0, ay0), (ax1, ay1) in arrows:
        length = math.hypot(ax1 - ax0, ay1 - ay0) or 1.0
        ux, uy = (ax1 - ax0) / length, (ay1 - ay0) / length
        hl, hw = min(0.15, 0.6 * length), 0.08
        bx, by = ax1 - ux * hl, ay1 - uy * hl
        shafts.append([(ax0, ay0), (bx, by)])
        heads.append([(ax1, ay1), (bx - uy * hw, by + ux * hw), (bx + uy * hw, by - ux * hw)])
        colors.append(ARROW_STYLES[kind][1])
    ax.add_collection(LineCollection(shafts, colors=colors, linewidths=1.6))
    ax.add_collection(PolyCollection(heads, facecolors=colors, edgecolors="none"))
    names = {k: v[0] for k, v in ARROW_STYLES.items()}
    if table.crops and all(a == b for a, b in table.crops):
        names["copy"] = "copy (same size: no crop)"
    if table.options.up_mode == "bilinear":
        names["up"] = "bilinear x2 + conv 1x1"
    handles = [Line2D([], [], color=ARROW_STYLES[k][1], lw=2.5, label=names[k]) for k in ARROW_STYLES]
    ax.legend(handles=handles, loc="lower right", fontsize=fontsize + 0.5, frameon=False, handlelength=1.6)
    if title is None:
        c, h, w = table.input_shape
        oc, oh, ow = table.output_shape
        o = table.options
        title = (f"{h}×{w}×{c} → {oh}×{ow}×{oc}   ({o.padding} padding, depth {o.depth}, "
                 f"{table.n_conv_layers} conv layers, {table.total_params:,} parameters)")
    if title:
        fig.suptitle(title, fontsize=fontsize + 2.5, y=0.99)
    fig.ul_labels = labels
    fig._repr_png_ = lambda: figure_png(fig, tight=False, close=False)  # shows itself in a notebook without pyplot
    return fig
