r"""The U-shaped diagram of a U-Net, drawn from its :class:`~unet_lesson.ShapeTable`.

Like the paper's Fig. 1: every box is a multi-channel feature map, labelled with its
channel count (on top) and its height x width (under it); the arrows are the
operations: 3x3 conv + ReLU (dark blue; "conv 3x3, BN, ReLU" in the legend when the network has
batch norm), 2x2 max pool (red), 2x2 up-conv (green), copy and crop (grey), 1x1 conv (teal). As in
Fig. 1, a dashed box on each copied map marks the part that the crop keeps (none when the crop keeps
everything). Nothing is typed by hand: every box, label, arrow and dashed box comes from one row of the
table, so the picture cannot disagree with the table::

    >>> from unet_lesson import shape_table
    >>> fig = draw_unet(shape_table(572))          # the paper's network
    >>> fig.ul_labels[0]                            # (row index, channels text, size text); 0 = the input
    (0, '1', '572×572')

A redraw is quick (the explorer redraws on every change): ``draw_unet`` puts a handful of artists on
a bare figure (one collection for the boxes, two for the arrows, no Axes), and every label, word of
the title and legend is rasterised once, kept, and stamped onto each later picture (see ``_Stamps``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from matplotlib.artist import Artist

from ..core.shapes import ShapeTable
from .widgets import figure_png

__all__ = ["draw_unet", "ARROW_STYLES", "Box", "CropMark", "layout", "crop_marks", "clear_cache"]

# the paper's Fig. 1 legend, in its words and (roughly) its colours
ARROW_STYLES = {
    "conv": ("conv 3x3, ReLU", "#1f3f8f"),
    "pool": ("max pool 2x2", "#d62728"),
    "up": ("up-conv 2x2", "#2ca02c"),
    "copy": ("copy and crop", "#8c8c8c"),
    "head": ("conv 1x1", "#17a2a2"),
}
_FILL = {
    "contracting": "#dce9f7",
    "bottom": "#e9dcf5",
    "expanding": "#dce9f7",
    "head": "#fde8c8",
    "input": "#ffffff",
    "crop": "#ffffff",
    "up": "#a9c8ee",
}

_GAP = 0.55  # room for a conv arrow between two boxes
_LEVEL_GAP = 2.5  # vertical distance between two levels of the U
_H_MIN, _H_MAX = 0.3, 1.9
_PITCH = 1.0  # least distance between the centres of two neighbouring boxes
_LABEL = 0.3  # room under a box for its size label


@dataclass
class Box:
    """One feature map in the picture: which table row made it (0 = the input) and where it sits."""

    row: int
    kind: str  # "input", "conv", "pool", "up", "crop", "head"
    path: str
    level: int
    shape: tuple[int, int, int]  # (C, H, W), copied from the table
    x: float = 0.0
    y: float = 0.0  # centre line of the level
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
    last = first  # the box the next operation starts from
    skips: dict[int, Box] = {}  # level -> last contracting box (the "copy" of copy and crop)
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
            if table.options.skips:
                pending_up = b  # drawn with the copied half that follows
            else:
                boxes.append(b)  # no copy and crop: the up-conv's map stands alone
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


@dataclass(frozen=True)
class CropMark:
    """Fig. 1's dashed box: on the copied map of ``level`` (drawn by ``source_row``), the part that the
    crop of ``crop_row`` keeps; ``copied`` and ``kept`` are (H, W) from the table, ``rect`` is
    (left, bottom, right, top) in the diagram's units."""

    level: int
    source_row: int
    crop_row: int
    copied: tuple[int, int]
    kept: tuple[int, int]
    rect: tuple[float, float, float, float]


_CROP_INSET = 0.12  # the dashed box sits this fraction of the box width inside it (all channels are kept)


def crop_marks(table: ShapeTable, boxes: list[Box] | None = None) -> list[CropMark]:
    """One dashed box per copy and crop that cuts something, from the table's crop rows (top level first).

    Its height is the copied box's height times kept/copied (the fraction of rows the crop keeps),
    centred, as the centre crop is; its width spans the box less a small inset.
    """
    boxes = layout(table)[0] if boxes is None else boxes
    sources = {}  # level -> the last contracting box of that level: the map that is copied
    for b in boxes:
        if b.path == "contracting" and b.kind == "conv":
            sources[b.level] = b
    marks = []
    for r in table.where(kind="crop"):
        copied, kept = tuple(r.in_shape[1:]), tuple(r.out_shape[1:])
        if copied == kept:
            continue
        src = sources[r.level]
        h = src.h * kept[0] / copied[0]
        inset = _CROP_INSET * src.w
        marks.append(
            CropMark(
                r.level,
                src.row,
                r.index,
                copied,
                kept,
                (src.left + inset, src.y - h / 2, src.right - inset, src.y + h / 2),
            )
        )
    return sorted(marks, key=lambda m: m.level)


# ----------------------------------------------------------------------------------
# drawing: what does not change between two settings is rendered once
# ----------------------------------------------------------------------------------
# A redraw used to spend most of its time in FreeType: ~50 short labels and the legend laid out and
# rasterised glyph by glyph, for every setting. The labels repeat ("64", "568×568", ...) and the legend
# has four variants, so each is rasterised once into a small bitmap, kept, and stamped where the text
# would go, aligned as matplotlib aligns a Text (ha/va on the same box); the title is stamped word by
# word. Every call builds a fresh Figure and shares only those bitmaps, which are never written after
# they are made: a figure returned earlier is never changed by a later call, and calls may run in
# parallel (the cache is a dict filled under a lock; a thread that misses renders outside it).


@dataclass(frozen=True)
class _Bitmap:
    rgba: Any  # (h, w, 4) uint8, bottom row first (as a renderer's draw_image takes it), shared
    dx: float  # where the image's lower left corner sits, in pixels from the aligned box's
    dy: float
    width: float  # the box matplotlib aligns with ha/va: the text's width ...
    height: float  # ... and its line height, descent included (the same for "1" and "572×572")
    descent: float


_BITMAPS: dict[tuple, Any] = {}  # (kind, text or names, size, dpi, style) -> _Bitmap (or line metrics)
_BITMAPS_LOCK = threading.Lock()
_BITMAPS_MAX = 4096  # labels of many settings at a few font sizes: a few MB at most


def _cached(key: tuple, make: Callable[[], Any]) -> Any:
    bitmap = _BITMAPS.get(key)
    if bitmap is None:
        bitmap = make()  # outside the lock: two threads may both render a new label, and one of them is kept
        with _BITMAPS_LOCK:
            if len(_BITMAPS) >= _BITMAPS_MAX:
                _BITMAPS.clear()
            bitmap = _BITMAPS.setdefault(key, bitmap)
    return bitmap


def clear_cache() -> None:
    """Forget the rendered labels and legends (the next draw renders them again, as the first one did)."""
    with _BITMAPS_LOCK:
        _BITMAPS.clear()


def _frozen(rgba, dx: float, dy: float, width: float, height: float, descent: float) -> _Bitmap:
    import numpy as np

    rgba = np.ascontiguousarray(rgba[::-1])  # a copy; never written again (Agg's draw_image wants it writeable)
    return _Bitmap(rgba, dx, dy, width, height, descent)


_STYLE = (
    "font.family",
    "font.sans-serif",
    "font.style",
    "font.weight",
    "font.stretch",
    "text.color",
    "text.antialiased",
    "text.hinting",
    "text.hinting_factor",
    "legend.labelcolor",
    "legend.handleheight",
    "legend.labelspacing",
    "legend.handletextpad",
    "legend.borderpad",
)


def _style() -> tuple:
    """The settings a cached bitmap depends on besides its text, size and dpi (a notebook may change them)."""
    import matplotlib as mpl

    return tuple(tuple(v) if isinstance(v, list) else v for v in (mpl.rcParams[k] for k in _STYLE))


def _font(size: float, dpi: float):
    """The FreeType font a Text of ``size`` points uses, set to that size (fonts are per thread)."""
    from matplotlib.font_manager import FontProperties, findfont, get_font

    font = get_font(findfont(FontProperties(size=size)))
    font.clear()
    font.set_size(size, dpi)
    return font


def _metrics(text: str, size: float, dpi: float) -> tuple[float, float, float]:
    """Width, height and descent of ``text`` in pixels, as Agg measures it for a Text."""
    from matplotlib.backends.backend_agg import get_hinting_flag

    font = _font(size, dpi)
    font.set_text(text, 0.0, flags=get_hinting_flag())
    w, h = font.get_width_height()
    return w / 64, h / 64, font.get_descent() / 64


def _line_metrics(size: float, dpi: float, style: tuple) -> tuple[float, float, float]:
    """What a Text's line box takes from "lp": its height and descent (cached), and a space's width."""

    def make():
        _, lh, ld = _metrics("lp", size, dpi)
        space = _metrics("a a", size, dpi)[0] - _metrics("aa", size, dpi)[0]
        return lh, ld, space

    return _cached(("line", size, dpi, style), make)


def _text_bitmap(text: str, size: float, dpi: float, style: tuple) -> _Bitmap:
    """``text`` at ``size`` points, rasterised by FreeType as Agg draws a Text's string (cached)."""

    def make() -> _Bitmap:
        import matplotlib as mpl
        import numpy as np
        from matplotlib.backends.backend_agg import get_hinting_flag
        from matplotlib.colors import to_rgba

        lh, ld, _ = _line_metrics(size, dpi, style)
        font = _font(size, dpi)
        font.set_text(text, 0.0, flags=get_hinting_flag())
        w, h = (v / 64 for v in font.get_width_height())
        d = font.get_descent() / 64
        font.draw_glyphs_to_bitmap(antialiased=mpl.rcParams["text.antialiased"])
        coverage = np.asarray(font.get_image())
        xo = font.get_bitmap_offset()[0] / 64
        rgba = np.empty(coverage.shape + (4,), np.uint8)
        rgba[..., :3] = [round(255 * c) for c in to_rgba(mpl.rcParams["text.color"])[:3]]
        rgba[..., 3] = coverage
        height, descent = max(h, lh), max(d, ld)  # a Text's box is at least as tall as "lp": labels line up
        # the image's bottom is the string's descent line (one pixel lower, as Agg drew it)
        return _frozen(rgba, xo, descent - d - 1, w, height, descent)

    return _cached(("text", text, size, dpi, style), make)


def _legend_bitmap(names: tuple[str, ...], fontsize: float, dpi: float, style: tuple) -> _Bitmap:
    """The legend (one coloured line per operation, in ARROW_STYLES order), drawn once by matplotlib's Legend."""

    def make() -> _Bitmap:
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D

        fig = Figure(figsize=(6, 3), dpi=dpi)
        fig.patch.set_alpha(0)
        handles = [
            Line2D([], [], color=color, lw=2.5, label=name) for name, (_, color) in zip(names, ARROW_STYLES.values())
        ]
        legend = fig.legend(handles=handles, loc="center", fontsize=fontsize, frameon=False, handlelength=1.6)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        box = legend.get_window_extent(canvas.get_renderer())
        buf = np.asarray(canvas.buffer_rgba())
        pad, height = 1, buf.shape[0]
        x0, x1, y0, y1 = math.floor(box.x0), math.ceil(box.x1), math.floor(box.y0), math.ceil(box.y1)
        crop = buf[height - y1 - pad : height - y0 + pad, x0 - pad : x1 + pad]
        return _frozen(crop, x0 - pad - box.x0, y0 - pad - box.y0, box.width, box.height, 0.0)

    return _cached(("legend", names, fontsize, dpi, style), make)


_HA = {"left": 0.0, "center": 0.5, "right": 1.0}
_VA = {"bottom": 0.0, "center": 0.5, "top": 1.0}


class _Stamps(Artist):
    """Pre-rendered bitmaps at points of ``transform``, aligned like Text artists.

    ``items`` are ``(x, y, text, size, ha, va, gid)``. A text with spaces (the title) is stamped word by
    word on one baseline, so its words are reused too. With ``legend`` (a tuple of names) each item
    places that legend instead of a text. ``offset`` shifts every item, in points. Bitmaps are looked
    up when drawing, at the renderer's dpi, so ``savefig(dpi=...)`` stays sharp.
    """

    zorder = 3  # over the boxes and arrows, as Text artists are

    def __init__(
        self,
        items: list[tuple],
        transform,
        *,
        legend: tuple[str, ...] | None = None,
        offset: tuple[float, float] = (0.0, 0.0),
    ):
        super().__init__()
        self.items = list(items)
        self.legend = legend
        self.offset = offset
        self.set_transform(transform)

    def boxes(self, renderer) -> list[tuple[int, int, _Bitmap]]:
        """Where each bitmap goes: ``(left, bottom, bitmap)``, in pixels from the lower left."""
        if not self.items:
            return []
        dpi, style = renderer.dpi, _style()
        dx, dy = (o * dpi / 72 for o in self.offset)
        points = self.get_transform().transform([(x, y) for x, y, *_ in self.items])
        out = []
        for (px, py), (_, _, text, size, ha, va, _) in zip(points, self.items):
            if self.legend is not None:
                words, space = [_legend_bitmap(self.legend, size, dpi, style)], 0.0
            else:
                words = [_text_bitmap(w, size, dpi, style) if w else None for w in text.split(" ")]
                space = _line_metrics(size, dpi, style)[2] if len(words) > 1 else 0.0
            drawn = [bm for bm in words if bm is not None]
            if not drawn:
                continue
            width = sum(bm.width for bm in drawn) + space * (len(words) - 1)
            height = max(bm.height for bm in drawn)
            descent = max(bm.descent for bm in drawn)
            x = px + dx - _HA[ha] * width
            baseline = py + dy if va == "baseline" else py + dy - _VA[va] * height + descent
            for bm in words:
                if bm is not None:
                    out.append((round(x + bm.dx), round(baseline - bm.descent + bm.dy), bm))
                    x += bm.width
                x += space
        return out

    def get_window_extent(self, renderer=None):
        from matplotlib.transforms import Bbox

        if renderer is None:
            renderer = self.get_figure(root=True)._get_renderer()
        boxes = self.boxes(renderer)
        if not boxes:
            return Bbox.null()
        return Bbox.from_extents(
            min(lft for lft, _, _ in boxes),
            min(b for _, b, _ in boxes),
            max(lft + bm.rgba.shape[1] for lft, _, bm in boxes),
            max(b + bm.rgba.shape[0] for _, b, bm in boxes),
        )

    def draw(self, renderer):
        if not self.get_visible():
            return
        gc = renderer.new_gc()
        for left, bottom, bm in self.boxes(renderer):
            renderer.draw_image(gc, left, bottom, bm.rgba)
        gc.restore()
        self.stale = False


def draw_unet(
    table: ShapeTable, *, title: str | None = None, figsize: tuple[float, float] | None = None, fontsize: float = 6.5
):
    """Draw the U of ``table`` (a :class:`~unet_lesson.ShapeTable`) and return the matplotlib Figure.

    The figure carries ``fig.ul_labels``: one ``(row, channels_text, size_text)`` per box,
    ``fig.ul_crops``: the dashed crop boxes (:class:`CropMark`, top level first),
    in drawing order (row 0 is the input), so tests can compare the picture with the table;
    ``fig.ul_texts``: every label drawn, ``(gid, text)`` with gid ``"ch-<row>"`` (channels, on
    top of a box) or ``"size-<row>"`` (height×width, under it); ``fig.ul_legend``: the legend's
    names; ``fig.ul_title``: the title. Each call returns a new figure (earlier ones stay as they were).
    The figure has no Axes: its artists sit on it directly, in the diagram's own units.
    """
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox, BboxTransform, BboxTransformTo, TransformedBbox

    boxes, arrows = layout(table)
    x0 = min(b.left for b in boxes) - 0.6
    x1 = max(b.right for b in boxes) + 0.3
    y1 = max(b.top for b in boxes) + 0.45
    y0 = min(b.bottom for b in boxes) - 0.55
    if figsize is None:
        scale = 0.62
        figsize = (min(12.0, max(6.0, (x1 - x0) * scale)), min(7.5, max(3.2, (y1 - y0) * scale * 0.8)))
    fig = Figure(figsize=figsize, dpi=80)
    # the drawing area (under the title) and the diagram's units in it: what an Axes would do, without
    # building one (an Axes with its axis, ticks and spines costs more than all the rest)
    area = TransformedBbox(Bbox.from_extents(0, 0, 1, 0.93 if title != "" else 1), fig.transFigure)
    units = BboxTransform(Bbox.from_extents(x0, y0, x1, y1), area)
    # one collection for all boxes, two for all arrows and one artist for all labels: a redraw is quick
    rects, fills, labels, texts = [], [], [], []
    for i, b in enumerate(boxes):
        rects.append([(b.left, b.bottom), (b.right, b.bottom), (b.right, b.top), (b.left, b.top)])
        fills.append(_FILL.get(b.kind if b.kind in ("input", "crop", "up", "head") else b.path, "#dce9f7"))
        texts.append((b.cx, b.top + 0.05, b.channel_text, fontsize, "center", "bottom", f"ch-{b.row}"))
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
        texts.append((cx, ty, b.size_text, fontsize - 0.5, "center", "top", f"size-{b.row}"))
    fig.add_artist(PolyCollection(rects, facecolors=fills, edgecolors="#333333", linewidths=0.7, transform=units))
    shafts, heads, colors = [], [], []
    for kind, (ax0, ay0), (ax1, ay1) in arrows:
        length = math.hypot(ax1 - ax0, ay1 - ay0) or 1.0
        ux, uy = (ax1 - ax0) / length, (ay1 - ay0) / length
        hl, hw = min(0.15, 0.6 * length), 0.08
        bx, by = ax1 - ux * hl, ay1 - uy * hl
        shafts.append([(ax0, ay0), (bx, by)])
        heads.append([(ax1, ay1), (bx - uy * hw, by + ux * hw), (bx + uy * hw, by - ux * hw)])
        colors.append(ARROW_STYLES[kind][1])
    fig.add_artist(LineCollection(shafts, colors=colors, linewidths=1.6, transform=units))
    marks = crop_marks(table, boxes)
    if marks:  # Fig. 1's dashed lines: the part of each copied map that the crop keeps
        outlines = [[(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)] for x0, y0, x1, y1 in (m.rect for m in marks)]
        fig.add_artist(
            LineCollection(outlines, colors="#333333", linewidths=0.8, linestyles=(0, (3, 2)), transform=units)
        )
    fig.add_artist(PolyCollection(heads, facecolors=colors, edgecolors="none", transform=units))
    fig.add_artist(_Stamps(texts, units))
    names = {k: v[0] for k, v in ARROW_STYLES.items()}
    if table.options.batch_norm:
        names["conv"] = "conv 3x3, BN, ReLU"
    if not table.options.skips:
        names["copy"] = "no copy and crop (skips off)"
    elif all(a == b for a, b in table.crops):
        names["copy"] = "copy (same size: no crop)"
    if table.options.up_mode == "bilinear":
        names["up"] = "bilinear x2 + conv 1x1"
    legend = tuple(names[k] for k in ARROW_STYLES)
    pad = 0.5 * (fontsize + 0.5)  # the legend sits in the lower right corner, matplotlib's borderaxespad in
    fig.add_artist(
        _Stamps(
            [(1.0, 0.0, None, fontsize + 0.5, "right", "bottom", "legend")],
            BboxTransformTo(area),
            legend=legend,
            offset=(-pad, pad),
        )
    )
    if title is None:
        c, h, w = table.input_shape
        oc, oh, ow = table.output_shape
        o = table.options
        title = (
            f"{h}×{w}×{c} → {oh}×{ow}×{oc}   ({o.padding} padding, depth {o.depth}, "
            f"{table.n_conv_layers} conv layers, {table.total_params:,} parameters)"
        )
    if title:  # where fig.suptitle(title, y=0.99) would put it
        fig.add_artist(_Stamps([(0.5, 0.99, title, fontsize + 2.5, "center", "top", "title")], fig.transFigure))
    fig.ul_labels = labels
    fig.ul_crops = marks
    fig.ul_texts = [(gid, text) for *_, text, _, _, _, gid in texts]
    fig.ul_legend = list(legend)
    fig.ul_title = title
    fig._repr_png_ = lambda: figure_png(fig, tight=False, close=False)  # shows itself in a notebook without pyplot
    return fig
