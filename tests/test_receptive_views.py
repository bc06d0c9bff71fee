"""The receptive-field widgets (unet_lesson.ui.receptive): what they show is the window real layers have.

The plain stack's window is compared with autograd on real ``nn.Conv2d``/``nn.AvgPool2d`` layers, the U-Net's
with autograd on a real ``UNet`` (small settings), and the count of output pixels that see padding with a
pixel-by-pixel count; bad values are explained, never raised.
"""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from unet_lesson.core import receptive as R  # noqa: E402
from unet_lesson.lessons import (  # noqa: E402
    l01_convolution_sizes,
    l02_max_pooling,
    l06_the_original_unet,
    l07_same_padding_unet,
)
from unet_lesson.ui import receptive as V  # noqa: E402
from unet_lesson.ui.widgets import figure_png, safe_view  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


STACKS = [
    dict(input_size=16, convs=2, blocks=1, kernel=3, padding=0),  # two 3x3: 5x5
    dict(input_size=17, convs=2, blocks=1, kernel=3, padding=1),  # VGG's padding, odd size
    dict(input_size=40, convs=2, blocks=3, kernel=3, padding=0),  # three blocks, two pools
    dict(input_size=33, convs=1, blocks=3, kernel=5, padding=2),
    dict(input_size=96, convs=2, blocks=3, kernel=3, padding=0),  # lesson 02's default (the picture behind)
]


@pytest.mark.parametrize("setting", STACKS, ids=lambda s: "-".join(f"{k}{v}" for k, v in s.items()))
def test_stack_view_is_the_window_autograd_finds_at_corners_edges_and_centre(setting):
    layers = R.stack_layers(setting["convs"], setting["blocks"], setting["kernel"], setting["padding"])
    out = V.stack_field_view(**setting, row=0, col=0).data["output"]
    for row, col in itertools.product(sorted({0, 1, out // 2, out - 1}), sorted({0, out - 1})):
        v = V.stack_field_view(**setting, row=row, col=col)
        measured = R.stack_receptive_field_measured(layers, setting["input_size"], (row, col))
        assert (v.data["rows"], v.data["cols"]) == (measured.rows, measured.cols), f"{setting}, pixel {(row, col)}"
        assert v.data["measured"] == "agrees"
        assert v.data["field"] == measured.size[0] and v.data["field_w"] == measured.size[1]


def test_stack_view_formula_is_the_window_away_from_the_borders():
    # two 3x3 convs: 5; two blocks of two with a pool between: 1 + 2 + 2 + 1 + 4 + 4 = 14; three blocks: 32
    for blocks, width in ((1, 5), (2, 14), (3, 32)):
        v = V.stack_field_view(input_size=64, blocks=blocks, row=3, col=3)
        assert v.data["formula"] == width
        centre = v.data["output"] // 2
        measured = R.stack_receptive_field_measured(R.stack_layers(2, blocks), 64, (centre, centre))
        assert measured.size == (width, width), f"{blocks} blocks"
    assert "r = 1 + (3−1)·1 + (3−1)·1" in V.stack_field_view().html


def test_padded_corner_sees_zeros_and_valid_stack_never_does():
    v = V.stack_field_view(padding=1, row=0, col=0)
    # the convs look at 5x5 around the corner; 3x3 of it is image, the other 16 are padding zeros
    assert (v.data["field"], v.data["reach"], v.data["padding_pixels"]) == (3, (5, 5), 16)
    assert "16 of those pixels are padding zeros" in v.html
    for row, col in itertools.product(range(12), repeat=2):
        assert V.stack_field_view(row=row, col=col).data["padding_pixels"] == 0


def test_stack_view_beyond_its_limits_gives_the_numbers_and_says_what_it_did_not_run():
    v = V.stack_field_view(input_size=10**9, row=5, col=5)
    assert v.ok and v.figure is None and v.data["measured"] == ""
    assert "Not measured with autograd" in v.html and "Not drawn" in v.html
    assert v.data["field"] == 5 and v.data["output"] == 10**9 - 4


@pytest.mark.parametrize(
    "bad, words",
    [
        (dict(row=12), "outside the 12x12 output"),
        (dict(row=-1), "output row"),
        (dict(kernel=100), "smaller than the 100x100 kernel"),
        (dict(convs=0), "convs per block"),
        (dict(blocks=10**100), "blocks"),
        (dict(input_size=float("nan")), "input size"),
        (dict(input_size="big"), "input size"),
        (dict(padding=2.5), "padding"),
    ],
)
def test_stack_view_bad_values_explain(bad, words):
    v = safe_view(V.stack_field_view, **bad)
    assert not v.ok and words in v.error and "Traceback" not in v.error


# ---- the U-Net ---------------------------------------------------------------------------------------------
def test_valid_unet_every_pixel_sees_188_or_204_pixels_of_image_never_padding():
    widths = set()
    for i in range(0, 388, 7):
        v = V.unet_field_view(row=i, col=387 - i)
        assert v.data["padding_pixels"] == 0 and v.data["seeing_padding"] == 0
        widths |= {v.data["field"], v.data["field_w"]}
    assert widths == {188, 204}
    assert "never read a padding zero" in V.unet_field_view().html


def test_same_unet_corner_sees_a_quarter_of_its_window_as_image():
    v = V.unet_field_view(input_size=576, padding="same", row=0, col=0)
    assert v.data["field"] == 94 and v.data["reach"] == (188, 188)
    assert v.data["padding_pixels"] == 188 * 188 - 94 * 94
    centre = V.unet_field_view(input_size=576, padding="same", row=288, col=288)
    assert centre.data["padding_pixels"] == 0 and centre.data["field"] == 188


@pytest.mark.parametrize("size,depth", [(64, 2), (40, 1), (48, 3), (36, 2)])
def test_pixels_seeing_padding_counted_pixel_by_pixel(size, depth):
    v = V.unet_field_view(input_size=size, padding="same", depth=depth, row=0, col=0)
    n = v.data["output"]
    rows = [R.receptive_field_arithmetic(size, (i, 0), padding="same", depth=depth) for i in range(n)]
    top = sum(1 for f in rows if f.reach_rows[0] < 0)
    bottom = sum(1 for f in rows if f.reach_rows[1] > size - 1)
    inner = sum(1 for f in rows if f.reach_rows[0] >= 0 and f.reach_rows[1] <= size - 1)  # rows seeing no zeros
    assert R.rows_seeing_padding(size, padding="same", depth=depth) == (top, bottom, n)
    assert v.data["seeing_padding"] == n * n - inner * inner


@pytest.mark.parametrize(
    "padding,size,depth,pixel", [("valid", 44, 1, (0, 0)), ("valid", 60, 2, (5, 9)), ("same", 32, 2, (0, 3))]
)
def test_unet_view_window_is_what_autograd_finds_on_a_real_unet(padding, size, depth, pixel):
    v = V.unet_field_view(input_size=size, padding=padding, depth=depth, row=pixel[0], col=pixel[1])
    measured = R.receptive_field(size, pixel, padding=padding, depth=depth)
    assert (v.data["rows"], v.data["cols"]) == (measured.rows, measured.cols)


@pytest.mark.parametrize(
    "bad, words",
    [
        (dict(row=388), "outside the 388x388 output"),
        (dict(input_size=573), "Nearest valid sizes"),
        (dict(padding="full"), "padding"),
        (dict(depth=0), "depth"),
        (dict(input_size=10**1000), "input size"),
        (dict(col=float("inf")), "output column"),
    ],
)
def test_unet_view_bad_values_explain(bad, words):
    v = safe_view(V.unet_field_view, **bad)
    assert not v.ok and words in v.error


def test_unet_view_beyond_the_picture_gives_the_numbers():
    v = V.unet_field_view(input_size=16 * 10**6 + 188, row=0, col=0)
    assert v.ok and v.figure is None and "Not drawn" in v.html and v.data["field"] == 188


def test_views_draw_a_picture():
    for v in (
        V.stack_field_view(padding=1, row=0, col=0),
        V.unet_field_view(input_size=576, padding="same", row=0, col=0),
    ):
        assert figure_png(v.figure)[:4] == b"\x89PNG"


def test_the_lessons_show_the_widgets():
    assert l01_convolution_sizes.WIDGETS["field"].css == l02_max_pooling.WIDGETS["field"].css == "ul-field"
    assert l06_the_original_unet.WIDGETS["field"].view_at()[0].data["padding_pixels"] == 0
    start = l07_same_padding_unet.WIDGETS["field"].view_at(row=0, col=0)[0]
    assert start.ok and start.data["padding_pixels"] > 0
    assert l02_max_pooling.WIDGETS["field"].view_at()[0].data["formula"] == 32


def test_a_pixel_whose_window_lies_wholly_in_the_padding_sees_no_image():
    # padding 7 around a 16 input, two 3x3 convs: output pixel (6, 6) looks at input rows -8..-4, all zeros
    v = V.stack_field_view(padding=7, row=6, col=6)
    assert v.ok and (v.data["field"], v.data["field_w"]) == (0, 0) and v.data["measured"] == "agrees"
    assert v.data["padding_pixels"] == 25 and "no image at all" in v.html
    # and a pixel of the same output whose window reaches the image sees it
    assert V.stack_field_view(padding=7, row=14, col=14).data["field"] > 0
