"""The U diagram is drawn from the shape table: every box label is a table shape."""
import pytest

from unet_lesson import shape_table
from unet_lesson.ui.diagram import ARROW_STYLES, draw_unet, layout

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
    return [(t.get_gid(), t.get_text()) for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_labels_are_the_tables_shapes(setting):
    table = shape_table(**setting)
    fig = draw_unet(table)
    boxed = [r for r in table if r.kind in ("conv", "pool", "up", "crop", "head")]
    expected = [(0, str(table.input_shape[0]), f"{table.input_shape[1]}×{table.input_shape[2]}")]
    expected += [(r.index, str(r.out_shape[0]), f"{r.out_shape[1]}×{r.out_shape[2]}") for r in boxed]
    assert sorted(fig.ul_labels) == sorted(expected)
    texts = _texts(fig)
    channel_texts = {gid: t for gid, t in texts if gid and gid.startswith("ch-")}
    size_texts = {gid: t for gid, t in texts if gid and gid.startswith("size-")}
    for row, ch, size in expected:
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


def test_legend_names_the_papers_operations():
    fig = draw_unet(shape_table(572))
    legend = fig.axes[0].get_legend()
    names = [t.get_text() for t in legend.get_texts()]
    assert names == ["conv 3x3, ReLU", "max pool 2x2", "up-conv 2x2", "copy and crop", "conv 1x1"]
    same = [t.get_text() for t in draw_unet(shape_table(64, padding="same", up_mode="bilinear")).axes[0]
            .get_legend().get_texts()]
    assert "copy (same size: no crop)" in same and "bilinear x2 + conv 1x1" in same


def test_title_numbers_come_from_the_table():
    table = shape_table(572)
    title = draw_unet(table)._suptitle.get_text()
    assert "572×572×1 → 388×388×2" in title and f"{table.total_params:,}" in title and "23 conv layers" in title
