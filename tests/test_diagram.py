"""The U diagram is drawn from the shape table: every box label is a table shape.

Labels, title words and legends are rasterised once and kept (``diagram._BITMAPS``); the tests below
check that a picture drawn from that cache is the picture drawn without it, that every label is
drawn (ink where it goes), and that a figure returned earlier never changes.
"""

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from unet_lesson import shape_table
from unet_lesson.ui import diagram
from unet_lesson.ui.diagram import ARROW_STYLES, clear_cache, draw_unet, layout
from unet_lesson.ui.widgets import figure_png

SETTINGS = [
    dict(input_size=572),
    dict(input_size=188),
    dict(input_size=256, padding="same"),
    dict(input_size=128, padding="same", up_mode="bilinear"),
    dict(input_size=92, depth=1),
    dict(input_size=44, depth=2, base_channels=1),
    dict(input_size=380, depth=5),
    dict(input_size=96, padding="same", depth=5, num_classes=5),
    dict(input_size=(572, 604)),
]


def _texts(fig):
    """(gid, text) of every label the figure's stamp artists draw, read from the artists themselves."""
    return [
        (gid, text)
        for a in fig.artists
        if isinstance(a, diagram._Stamps) and a.legend is None
        for *_, text, _, _, _, gid in a.items
        if gid != "title"
    ]


def _png(fig, dpi=80) -> bytes:
    return figure_png(fig, dpi=dpi, tight=False, close=False)


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_labels_are_the_tables_shapes(setting):
    table = shape_table(**setting)
    fig = draw_unet(table)
    boxed = [r for r in table if r.kind in ("conv", "pool", "up", "crop", "head")]
    expected = [(0, str(table.input_shape[0]), f"{table.input_shape[1]}×{table.input_shape[2]}")]
    expected += [(r.index, str(r.out_shape[0]), f"{r.out_shape[1]}×{r.out_shape[2]}") for r in boxed]
    assert sorted(fig.ul_labels) == sorted(expected)
    texts = _texts(fig)
    assert texts == fig.ul_texts
    channel_texts = {gid: t for gid, t in texts if gid and gid.startswith("ch-")}
    size_texts = {gid: t for gid, t in texts if gid and gid.startswith("size-")}
    for row, ch, _size in expected:
        assert channel_texts[f"ch-{row}"] == ch
    # every size label drawn is the size of its row (a concatenation's two halves may share one label)
    by_row = {row: size for row, _, size in expected}
    for gid, text in size_texts.items():
        assert text == by_row[int(gid[5:])]
    assert {t for t in size_texts.values()} == {s for _, _, s in expected}
    # the first and last boxes are the network's input and output
    assert expected[-1][2] == "{}×{}".format(*table.output_shape[1:])


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_one_arrow_per_operation(setting):
    table = shape_table(**setting)
    boxes, arrows = layout(table)
    kinds = [k for k, _, _ in arrows]
    d = table.options.depth
    assert kinds.count("pool") == d == len(table.where(kind="pool"))
    assert kinds.count("up") == d
    assert kinds.count("copy") == d
    assert kinds.count("head") == 1
    assert kinds.count("conv") == len(table.where(kind="conv"))
    assert set(kinds) <= set(ARROW_STYLES)
    # pools go down a level, up-convs come back up: every level of the U has boxes
    for kind, (x0, y0), (x1, y1) in arrows:
        if kind == "pool":
            assert y1 < y0 and x0 == pytest.approx(x1)
        if kind == "up":
            assert y1 > y0 and x0 == pytest.approx(x1)
        if kind in ("conv", "copy", "head"):
            assert y0 == y1 and x1 > x0
    levels = {b.level for b in boxes}
    assert levels == set(range(1, d + 2))


def test_boxes_do_not_overlap():
    boxes, _ = layout(shape_table(572))
    for a in boxes:
        for b in boxes:
            if a is not b and a.level == b.level:
                assert a.right <= b.left + 1e-9 or b.right <= a.left + 1e-9, (a, b)


def _legend_artist(fig):
    (legend,) = [a for a in fig.artists if isinstance(a, diagram._Stamps) and a.legend is not None]
    return legend


def test_legend_names_the_papers_operations():
    fig = draw_unet(shape_table(572))
    names = ["conv 3x3, ReLU", "max pool 2x2", "up-conv 2x2", "copy and crop", "conv 1x1"]
    assert fig.ul_legend == names and list(_legend_artist(fig).legend) == names
    same = draw_unet(shape_table(64, padding="same", up_mode="bilinear"))
    assert "copy (same size: no crop)" in same.ul_legend and "bilinear x2 + conv 1x1" in same.ul_legend
    assert list(_legend_artist(same).legend) == same.ul_legend


@pytest.mark.parametrize(
    "setting, bn",
    [
        (dict(input_size=572), False),
        (dict(input_size=256, padding="same"), True),  # the notes' Conv-BN-ReLU
        (dict(input_size=256, padding="same", batch_norm=False), False),
        (dict(input_size=572, batch_norm=True), True),
    ],
    ids=str,
)
def test_legend_says_batch_norm_when_the_network_has_it(setting, bn):
    table = shape_table(**setting)
    fig = draw_unet(table)
    assert table.options.batch_norm == bn
    assert fig.ul_legend[0] == ("conv 3x3, BN, ReLU" if bn else "conv 3x3, ReLU")
    assert list(_legend_artist(fig).legend) == fig.ul_legend
    # the table's rows say the same
    assert all(("BN" in r.operation) == bn for r in table.where(kind="conv"))


def test_legend_without_skip_connections():
    fig = draw_unet(shape_table(572, skips=False))
    assert fig.ul_legend[3] == "no copy and crop (skips off)" and fig.ul_crops == []


def test_dashed_crop_boxes_of_the_papers_network():
    """Fig. 1: a dashed box on each copied map, 568 -> 392, 280 -> 200, 136 -> 104, 64 -> 56 (top level first)."""
    fig = draw_unet(shape_table(572))
    assert [(m.level, m.copied[0], m.kept[0]) for m in fig.ul_crops] == [
        (1, 568, 392),
        (2, 280, 200),
        (3, 136, 104),
        (4, 64, 56),
    ]


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_dashed_crop_boxes_come_from_the_table(setting):
    table = shape_table(**setting)
    fig = draw_unet(table)
    cutting = [r for r in table.where(kind="crop") if r.in_shape != r.out_shape]
    assert [(m.crop_row, m.copied, m.kept) for m in fig.ul_crops] == [
        (r.index, tuple(r.in_shape[1:]), tuple(r.out_shape[1:])) for r in sorted(cutting, key=lambda r: r.level)
    ]
    assert len(fig.ul_crops) == sum(a != b for a, b in table.crops)  # none with same padding
    boxes = {b.row: b for b in layout(table)[0]}
    for m in fig.ul_crops:
        src = boxes[m.source_row]  # the copied map: the last contracting conv of the crop's level
        assert src.kind == "conv" and src.path == "contracting" and src.level == m.level
        assert tuple(table[m.source_row - 1].out_shape[1:]) == m.copied
        x0, y0, x1, y1 = m.rect
        assert src.left < x0 < x1 < src.right and src.bottom <= y0 < y1 <= src.top
        assert (y1 - y0) / src.h == pytest.approx(m.kept[0] / m.copied[0])  # the fraction of rows kept
        assert (y0 + y1) / 2 == pytest.approx(src.y)  # a centre crop
    # one dashed outline drawn per mark
    from matplotlib.collections import LineCollection

    dashed = [a for a in fig.artists if isinstance(a, LineCollection) and a.get_linestyle()[0][1] is not None]
    assert sum(len(a.get_segments()) for a in dashed) == len(fig.ul_crops)


def test_title_numbers_come_from_the_table():
    table = shape_table(572)
    fig = draw_unet(table)
    title = fig.ul_title
    assert "572×572×1 → 388×388×2" in title and f"{table.total_params:,}" in title and "23 conv layers" in title
    (stamp,) = [a for a in fig.artists if isinstance(a, diagram._Stamps) and a.items[0][-1] == "title"]
    assert stamp.items[0][2] == title
    assert draw_unet(table, title="").ul_title == "" and not any(
        a.items[0][-1] == "title" for a in draw_unet(table, title="").artists if isinstance(a, diagram._Stamps)
    )


# a sequence of changes as the explorer makes them: sizes, paddings, depths 1-5, bilinear
SEQUENCE = [
    dict(input_size=572),
    dict(input_size=188, depth=3),
    dict(input_size=64, padding="same", depth=5),
    dict(input_size=92, depth=1, base_channels=32),
    dict(input_size=128, padding="same", up_mode="bilinear"),
    dict(input_size=572),
]


def test_cached_pictures_are_the_cold_pictures():
    """Drawn with a cache full of other settings' labels, each picture is byte for byte the one drawn cold."""
    warm = []
    for setting in SEQUENCE:
        fig = draw_unet(shape_table(**setting))
        warm.append((fig.ul_labels, fig.ul_texts, fig.ul_legend, fig.ul_title, _png(fig)))
    assert len(diagram._BITMAPS) > 0
    for setting, (labels, texts, legend, title, png) in zip(SEQUENCE, warm):
        clear_cache()
        assert not diagram._BITMAPS
        fig = draw_unet(shape_table(**setting))
        assert (fig.ul_labels, fig.ul_texts, fig.ul_legend, fig.ul_title) == (labels, texts, legend, title)
        assert _png(fig) == png, setting
    assert warm[0][4] == warm[-1][4]  # the same setting again: the same picture
    assert warm[0][4] != warm[1][4]


def test_a_figure_returned_earlier_is_not_changed_by_later_calls():
    first = draw_unet(shape_table(572))
    before = (_png(first), list(first.ul_labels), list(first.ul_texts), list(first.ul_legend), first.ul_title)
    for setting in SEQUENCE[1:]:
        _png(draw_unet(shape_table(**setting)))
    assert (_png(first), first.ul_labels, first.ul_texts, first.ul_legend, first.ul_title) == before


def test_parallel_calls_draw_what_serial_calls_draw():
    serial = [_png(draw_unet(shape_table(**s))) for s in SEQUENCE]
    clear_cache()
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda s: _png(draw_unet(shape_table(**s))), SEQUENCE * 2))
    assert parallel == serial * 2


@pytest.mark.parametrize("dpi", [80, 160])
def test_every_label_is_drawn_where_it_belongs(dpi):
    """The labels change the picture exactly inside their boxes; each box has ink, lies inside the canvas
    and is centred on its box's x (a size label under its box or its concatenation); the legend sits in
    the lower right corner."""
    table = shape_table(188, depth=3)
    fig = draw_unet(table)
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    stamps = [a for a in fig.artists if isinstance(a, diagram._Stamps)]
    labels = [a for a in stamps if a.legend is None and a.items[0][-1] != "title"][0]
    (legend,) = [a for a in stamps if a.legend is not None]

    def pixels():
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].astype(int)

    full = pixels()
    height, width = full.shape[:2]
    renderer = canvas.get_renderer()
    for stamp in (labels, legend):
        stamp.set_visible(False)
        ink = (pixels() != full).any(axis=-1)  # what this artist drew
        stamp.set_visible(True)
        placed = stamp.boxes(renderer)
        assert len(placed) == len(stamp.items)
        inside = np.zeros_like(ink)
        for left, bottom, bm in placed:
            w, h = bm.rgba.shape[1], bm.rgba.shape[0]
            assert 0 <= left and left + w <= width and 0 <= bottom and bottom + h <= height
            rows = slice(height - bottom - h, height - bottom)
            assert ink[rows, left : left + w].any()
            inside[rows, left : left + w] = True
        assert not (ink & ~inside).any()
    assert len(labels.items) == len(fig.ul_texts)
    centres = labels.get_transform().transform([(x, y) for x, y, *_ in labels.items])
    alone = ~(full > 250).all(axis=-1)  # dark pixels of the whole picture
    for (left, bottom, bm), (cx, _), item in zip(labels.boxes(renderer), centres, labels.items):
        w, h = bm.rgba.shape[1], bm.rgba.shape[0]
        cols = np.nonzero((bm.rgba[..., 3] > 128).any(axis=0))[0]
        assert abs(left + (cols[0] + cols[-1] + 1) / 2 - cx) <= 1.5 * dpi / 80, item  # centred on its box
        assert h <= 12 * dpi / 80  # a 6-point label, at this dpi
        assert alone[height - bottom - h : height - bottom, left : left + w].any()
    ((left, bottom, bm),) = legend.boxes(renderer)
    assert left > width / 2 and bottom < height / 3


def test_tight_bounding_box_holds_the_labels():
    """``figure_png(tight=True)`` trims to what is drawn: the labels, legend and title included."""
    fig = draw_unet(shape_table(92, depth=1))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    tight = fig.get_tightbbox(renderer)  # inches
    for stamp in (a for a in fig.artists if isinstance(a, diagram._Stamps)):
        ext = stamp.get_window_extent(renderer)
        assert ext.width > 0 and ext.height > 0
        assert (
            tight.x0 <= ext.x0 / 80 + 1e-6
            and ext.x1 / 80 <= tight.x1 + 1e-6
            and tight.y0 <= ext.y0 / 80 + 1e-6
            and ext.y1 / 80 <= tight.y1 + 1e-6
        )
    assert _pixels(figure_png(fig, tight=True, close=False)).shape[1] <= round(fig.get_figwidth() * 80) + 1
