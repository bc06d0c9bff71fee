"""Lesson 01 (convolution sizes): the numbers its views show agree with unet_lesson and with nn.Conv2d."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from unet_lesson import conv_out, shape_table  # noqa: E402
from unet_lesson.lessons import l01_convolution_sizes as conv  # noqa: E402
from unet_lesson.ui.figures import conv as FIG  # noqa: E402
from unet_lesson.ui.widgets import safe_view  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def torch_out(size, kernel, stride, padding, dilation):
    layer = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
    with torch.no_grad():
        return layer(torch.zeros(1, 1, size, size)).shape[-1]


SETTINGS = [  # (size, kernel, stride, padding, dilation): odd and even sizes, every knob
    (572, 3, 1, 0, 1),
    (570, 3, 1, 0, 1),
    (571, 3, 1, 0, 1),
    (572, 3, 1, 1, 1),
    (7, 3, 2, 1, 1),
    (8, 3, 2, 1, 1),
    (64, 3, 2, 1, 1),
    (65, 3, 2, 0, 1),
    (9, 3, 1, 0, 2),
    (10, 3, 1, 0, 2),
    (100, 5, 3, 1, 2),
    (101, 5, 3, 2, 1),
    (3, 3, 1, 0, 1),
    (1, 3, 1, 1, 1),
    (2, 1, 1, 0, 1),
    (33, 7, 4, 3, 1),
    (32, 2, 2, 0, 1),
]


@pytest.mark.parametrize("size,kernel,stride,padding,dilation", SETTINGS)
def test_size_view_matches_conv_out_and_nn_conv2d(size, kernel, stride, padding, dilation):
    v = conv.conv_size_view(size, kernel, stride, padding, dilation)
    assert v.ok
    expected = conv_out(size, kernel, stride, padding, dilation)
    assert v.data["output"] == expected
    assert v.data["torch_output"] == torch_out(size, kernel, stride, padding, dilation) == expected
    assert v.data["agree"] is True
    assert v.data["padded"] == size + 2 * padding
    assert v.data["formula"] == conv_out.explain(size, kernel, stride, padding, dilation).text
    assert str(expected) in v.html and v.data["formula"] in v.html
    # the never-reached pixels plus the span of all positions make up the padded row
    k_eff = dilation * (kernel - 1) + 1
    assert v.data["positions_dropped"] == size + 2 * padding - ((expected - 1) * stride + k_eff)
    assert 0 <= v.data["positions_dropped"] < stride
    assert v.figure is not None


def test_default_is_the_notes_first_conv():
    v = conv.conv_size_view()
    assert (v.data["size"], v.data["output"]) == (572, 570)
    assert v.data["formula"] == "570 = (572 + 2*0 - 3)/1 + 1"


@pytest.mark.parametrize(
    "bad,words",
    [
        (dict(size=0), "at least 1"),
        (dict(size=-5), "at least 1"),
        (dict(size=2), "smaller than the 3x3 kernel"),
        (dict(size=4, kernel=7, padding=1), "smaller than the 7x7 kernel"),
        (dict(size=5, kernel=3, dilation=3), "dilated"),
        (dict(size=572.5), "whole number"),
        (dict(kernel=2.5), "whole number"),
        (dict(stride=0), "stride must be at least 1"),
        (dict(padding=-1), "padding must be at least 0"),
        (dict(kernel=0), "kernel must be at least 1"),
        (dict(dilation=0), "dilation must be at least 1"),
    ],
)
def test_size_view_invalid_values_give_a_message(bad, words):
    v = safe_view(conv.conv_size_view, **bad)
    assert not v.ok
    assert words in v.error
    assert "Traceback" not in v.error and "Unexpected" not in v.error


@pytest.mark.parametrize(
    "setting",
    [
        dict(size=conv.MAX_SIZE + 1),
        dict(size=2048, padding=10_000),
        dict(size=10**9, kernel=3),
        dict(size=5, kernel=3, padding=10**12),
    ],
)
def test_beyond_the_limit_the_formula_still_answers_and_nothing_runs(setting):
    """Arithmetic answers any size at once; the real layer and the picture have a stated limit."""
    import time

    t0 = time.perf_counter()
    v = safe_view(conv.conv_size_view, **setting)
    assert time.perf_counter() - t0 < 10.0  # generous: the hangs it guards against took a minute
    full = {"kernel": 3, "stride": 1, "padding": 0, "dilation": 1, **setting}
    assert v.ok and v.data["output"] == conv_out(full["size"], full["kernel"], full["stride"], full["padding"])
    assert v.data["torch_output"] == "" and v.figure is None
    assert "Not run" in v.html and f"{conv.MAX_SIZE:,}" in v.html


@pytest.mark.parametrize("size", [5, 6, 9, 572])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_row_figure_draws_one_bar_per_shown_position(size, stride):
    fig = FIG.row_positions_figure(size, 3, stride, 0, 1, max_windows=3)
    out = conv_out(size, 3, stride)
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("out ")]
    assert f"out {out - 1}" in labels and "out 0" in labels
    assert len(labels) == min(out, 6)
    assert f"-> output {out}" in fig.axes[0].get_title()


def test_grid_figure_titles_match_conv_out():
    settings = ((7, 3, 1, 0), (8, 3, 2, 1), (6, 3, 1, 1))
    fig = FIG.grid_positions_figure(settings)
    for ax, (s, k, st, p) in zip(fig.axes, settings):
        n = conv_out(s, k, st, p)
        assert ax.get_title().endswith(f"-> {n}×{n}")
        dots = [ln for ln in ax.lines]
        assert len(dots) == n * n


@pytest.mark.parametrize("size", [572, 573, 188, 189])
def test_first_convs_view_matches_shape_table(size):
    v = conv.first_convs_view(size) if size % 2 == 0 else None
    if v is None:  # odd sizes are not valid U-Net inputs: the view explains why
        err = safe_view(conv.first_convs_view, size=size).error
        assert err and "Nearest valid sizes" in err
        return
    t = shape_table(size)
    assert v.data["conv1"] == t[0].out_shape[1] == conv_out(size)
    assert v.data["conv2"] == t[1].out_shape[1] == conv_out(conv_out(size))
    assert v.data["channels"] == 64


@pytest.mark.parametrize("size,padding", [(96, 0), (97, 0), (64, 1), (33, 1)])
def test_kernels_on_image_shapes(size, padding):
    v = conv.kernels_on_image_view(size=size, padding=padding)
    assert v.data["output"] == v.data["expected"] == conv_out(size, 3, 1, padding)
    assert v.data["channels"] == len(conv.IMAGE_KERNELS) + 2


@pytest.mark.parametrize("size,kernels", [(64, 64), (33, 8)])
def test_many_kernels_view(size, kernels):
    v = conv.many_kernels_view(size=size, kernels=kernels)
    assert v.data["channels"] == kernels
    assert v.data["output"] == v.data["expected"] == conv_out(size)
    assert v.data["params"] == sum(p.numel() for p in nn.Conv2d(1, kernels, 3).parameters())


@pytest.mark.parametrize("bad", [dict(size=2), dict(size=0), dict(size=4000), dict(size=10.5)])
def test_image_views_invalid(bad):
    for view in (conv.kernels_on_image_view, conv.many_kernels_view):
        v = safe_view(view, **bad)
        assert not v.ok and "Unexpected" not in v.error


# ---- exercises ----------------------------------------------------------------------------
def test_exercise_answers_are_computed():
    assert conv.EX_FIRST_CONV.answer == conv_out(572) == 570
    assert tuple(conv.EX_TWO_CONVS.answer) == (568, 568, 64)
    assert conv.EX_STRIDE.answer == torch_out(64, 3, 2, 1, 1)
    p3, p5 = conv.EX_SAME_PADDING.answer
    assert torch_out(572, 3, 1, p3, 1) == 572 and torch_out(572, 5, 1, p5, 1) == 572
    assert conv.EX_SLIP_INPUT.answer == (572, 572, 1)
    assert conv.EX_SLIP_RULE.answer == "b"
    assert conv.EX_SLIP_GENERAL.answer == "c"


@pytest.mark.parametrize("ex", conv.EXERCISES, ids=lambda e: e.key)
def test_exercise_feedback(ex):
    assert ex.check(...).status == "not attempted"  # the right answers: tests/test_exercise_answers.py
    wrong = ex.check("definitely wrong")
    assert wrong.status == "wrong" and "Hint" in wrong.message


def test_exercises_accept_the_notes_forms_and_react_to_typical_slips():
    assert conv.EX_TWO_CONVS.check("568x568x64")
    assert conv.EX_TWO_CONVS.check("568×568×64")
    assert conv.EX_SLIP_INPUT.check("572x572x1")
    assert conv.EX_SLIP_RULE.check("B")
    assert "+ 1" in conv.EX_FIRST_CONV.check(569).message
    assert "same padding" in conv.EX_FIRST_CONV.check(572).message
    assert "total" in conv.EX_SAME_PADDING.check((2, 4)).message
    assert not conv.EX_SLIP_INPUT.check("570x570x1")  # the notes' slip is not accepted
    assert not conv.EX_SLIP_RULE.check("a")
    assert not conv.EX_SLIP_GENERAL.check("a")


def test_slip_choices_really_are_wrong_except_one():
    # each wrong choice disagrees with nn.Conv2d somewhere; the right one agrees everywhere
    for cands, right, pads in ((conv._RULE_CANDIDATES, "b", (0,)), (conv._GENERAL_CANDIDATES, "c", (0, 1, 2))):
        for letter, fn in cands.items():
            agrees = all(
                fn(h, k, p) == torch_out(h, k, 1, p, 1) for h in (5, 64, 571, 572) for k in (1, 3, 5) for p in pads
            )
            assert agrees == (letter == right), letter
