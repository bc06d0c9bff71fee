"""Lesson 01 (convolution sizes): the numbers its views show agree with unet_lesson and with nn.Conv2d."""

import matplotlib

matplotlib.use("Agg")

import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from unet_lesson import conv_out, shape_table  # noqa: E402
from unet_lesson.core.receptive import stack_field_size, stack_layers  # noqa: E402
from unet_lesson.lessons import l01_convolution_sizes as conv  # noqa: E402
from unet_lesson.lessons import l01_exercises as EXS  # noqa: E402
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
    (1024, 3, 1, 0, 1),
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
    t0 = time.perf_counter()
    v = safe_view(conv.conv_size_view, **setting)
    assert time.perf_counter() - t0 < 10.0  # generous: the hangs it guards against took a minute
    full = {"kernel": 3, "stride": 1, "padding": 0, "dilation": 1, **setting}
    assert v.ok and v.data["output"] == conv_out(full["size"], full["kernel"], full["stride"], full["padding"])
    assert v.data["torch_output"] == "" and v.figure is None
    assert "Not run" in v.html and f"{conv.MAX_SIZE:,}" in v.html


@pytest.mark.parametrize(
    "setting",
    [dict(size=1000, kernel=70), dict(size=1024, kernel=300, stride=1), dict(size=1024, kernel=500)],
)
def test_a_layer_with_too_many_multiply_adds_is_not_run(setting):
    """conv_size_view(size=2048, kernel=1024) would take 10**12 multiply-adds: the work has a limit too."""
    t0 = time.perf_counter()
    v = safe_view(conv.conv_size_view, **setting)
    assert time.perf_counter() - t0 < 10.0
    assert v.ok and v.data["output"] == conv_out(setting["size"], setting["kernel"])
    assert v.data["torch_output"] == "" and v.figure is None
    assert "multiply-adds" in v.html and f"{conv.MAX_WORK:,}" in v.html


@pytest.mark.parametrize("setting", [dict(size=500, dilation=30), dict(size=100, kernel=41), dict(size=200, stride=20)])
def test_a_kernel_too_wide_to_draw_still_runs_the_real_layer(setting):
    """The row picture draws every cell up to the kernel's last positions: a huge span would need thousands."""
    v = conv.conv_size_view(**setting)
    full = {"kernel": 3, "stride": 1, "padding": 0, "dilation": 1, **setting}
    assert v.data["torch_output"] == torch_out(**full) == v.data["output"]
    assert v.figure is None and "Not drawn" in v.html and str(FIG.MAX_ROW_CELLS) in v.html
    with pytest.raises(ValueError, match="at most"):
        FIG.row_positions_figure(**full)


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


@pytest.mark.parametrize("bad", [dict(size=2), dict(size=0), dict(size=10.5), dict(seed=-1), dict(seed="0")])
def test_image_views_invalid(bad):
    for view in (conv.kernels_on_image_view, conv.many_kernels_view):
        v = safe_view(view, **bad)
        assert not v.ok and "Unexpected" not in v.error


@pytest.mark.parametrize(
    "view,setting",
    [
        (conv.kernels_on_image_view, dict(padding=3000)),  # took 2 GB
        (conv.kernels_on_image_view, dict(size=4000)),
        (conv.kernels_on_image_view, dict(size=10**9, padding=10**9)),
        (conv.many_kernels_view, dict(size=4000)),
        (conv.many_kernels_view, dict(size=conv.IMAGE_MAX + 1, kernels=10**6)),
    ],
)
def test_image_views_beyond_their_limit_give_the_sizes_and_draw_nothing(view, setting):
    t0 = time.perf_counter()
    v = safe_view(view, **setting)
    assert time.perf_counter() - t0 < 10.0
    full = {"size": 96 if view is conv.kernels_on_image_view else 64, "padding": 0, **setting}
    assert v.ok and v.figure is None and "Not drawn" in v.html
    assert v.data["output"] == v.data["expected"] == conv_out(full["size"], 3, 1, full["padding"])


def test_many_kernels_draws_at_most_max_maps_and_counts_them_all():
    v = conv.many_kernels_view(size=32, kernels=200)
    assert v.data["channels"] == 200 and v.data["params"] == 200 * 10
    assert f"first {conv.MAX_MAPS}" in v.html and v.figure is not None


# ---- every view, every argument, every kind of bad value: a message or an answer, at once ---------
BAD_VALUES = [-5, 0, 10**400, -(10**400), 2.5, float("nan"), float("inf"), "572", None, True, [3]]
VIEW_ARGS = [
    (conv.conv_size_view, ("size", "kernel", "stride", "padding", "dilation")),
    (conv.kernels_on_image_view, ("size", "padding", "n_random", "seed")),
    (conv.many_kernels_view, ("size", "kernels", "seed")),
    (conv.first_convs_view, ("size",)),
    (conv.stack_view, ("n", "kernel", "channels", "size")),
]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
@pytest.mark.parametrize(
    "view,arg", [(v, a) for v, args in VIEW_ARGS for a in args], ids=lambda x: getattr(x, "__name__", x)
)
def test_any_value_of_any_argument_gets_an_answer_or_a_message_quickly(view, arg, bad):
    t0 = time.perf_counter()
    v = safe_view(view, **{arg: bad})
    assert time.perf_counter() - t0 < 10.0  # generous: the hangs this guards against took minutes
    assert v.ok or (v.error and "Unexpected" not in v.error and "Traceback" not in v.error), v.error
    if isinstance(bad, (str, float, bool, list)) or bad is None:  # not a whole number: always refused
        assert not v.ok and arg.split()[0] in v.error


# ---- the experiment: two 3x3 convs against one 5x5 --------------------------------------------
def test_smallest_input_is_what_one_output_pixel_sees():
    assert conv.smallest_input([3]) == 3 and conv.smallest_input([3, 3]) == 5 == conv.smallest_input([5])
    assert conv.smallest_input([3, 3, 3]) == 7 and conv.smallest_input([5, 3]) == 7
    for kernels in ([3, 3], [3, 3, 3], [5, 3]):
        h = conv.smallest_input(kernels)
        layers = nn.Sequential(*[nn.Conv2d(1, 1, k) for k in kernels])
        with torch.no_grad():
            assert layers(torch.zeros(1, 1, h, h)).shape[-1] == 1
        with pytest.raises(RuntimeError):  # one pixel less and the real layers refuse
            layers(torch.zeros(1, 1, h - 1, h - 1))
    for n, k in [(1, 3), (2, 3), (3, 3), (2, 5), (6, 9)]:  # the same as core.receptive's formula
        assert conv.smallest_input([k] * n) == stack_field_size(stack_layers(n, 1, kernel=k)) == n * (k - 1) + 1


@pytest.mark.parametrize("n,kernel,channels", [(2, 3, 64), (3, 3, 64), (2, 3, 1), (2, 5, 8), (1, 3, 4)])
def test_stack_view_counts_the_real_layers(n, kernel, channels):
    v = conv.stack_view(n=n, kernel=kernel, channels=channels)
    reach = n * (kernel - 1) + 1
    assert v.data["sees_stack"] == v.data["sees_single"] == reach
    assert v.data["autograd_stack"] == v.data["autograd_single"] == (reach, reach)
    stack = [nn.Conv2d(channels, channels, kernel) for _ in range(n)]
    single = nn.Conv2d(channels, channels, reach)
    assert v.data["weights_stack"] == n * kernel**2 * channels**2 == sum(c.weight.numel() for c in stack)
    assert v.data["weights_single"] == reach**2 * channels**2 == single.weight.numel()
    assert v.data["params_stack"] == sum(p.numel() for c in stack for p in c.parameters())
    with torch.no_grad():  # a valid stack trims a map exactly as the single conv that sees as far
        x = torch.zeros(1, channels, 20, 20)
        assert nn.Sequential(*stack)(x).shape == single(x).shape
    assert v.data["after_stack"] == v.data["after_single"] == 572 - (reach - 1)


def test_stack_view_the_papers_numbers():
    """VGG's Sect. 2.3: two 3x3 see 5x5; three 3x3 (27 C^2) against one 7x7 (49 C^2)."""
    two = conv.stack_view()
    assert (two.data["weights_stack"], two.data["weights_single"]) == (73_728, 102_400)
    three = conv.stack_view(n=3, channels=10)
    assert (three.data["weights_stack"], three.data["weights_single"]) == (27 * 100, 49 * 100)
    assert two.figure is not None and "72%" in two.html


def test_stack_footprint_counts_paths():
    """With all-ones weights the gradient of one output pixel counts the paths from each input pixel."""
    grid = conv._footprint([3, 3])
    rows = grid[grid.any(axis=1)][:, grid.any(axis=0)]
    assert rows.tolist() == np.outer([1, 2, 3, 2, 1], [1, 2, 3, 2, 1]).tolist()


def test_stack_view_too_wide_to_draw_still_counts():
    v = conv.stack_view(n=6, kernel=9)
    assert v.ok and v.figure is None and "Not drawn" in v.html and v.data["sees_stack"] == 49


# ---- exercises ----------------------------------------------------------------------------
def test_exercise_answers_are_computed():
    assert conv.EX_FIRST_CONV.answer == conv_out(572) == 570
    assert tuple(conv.EX_TWO_CONVS.answer) == (568, 568, 64)
    assert conv.EX_STRIDE.answer == torch_out(64, 3, 2, 1, 1)
    p3, p5 = conv.EX_SAME_PADDING.answer
    assert torch_out(572, 3, 1, p3, 1) == 572 and torch_out(572, 5, 1, p5, 1) == 572
    assert conv.EX_SLIP_INPUT.answer == "a"
    assert conv.EX_SLIP_RULE.answer == "b"
    assert conv.EX_SLIP_GENERAL.answer == "c"
    assert conv.EX_STACK_WEIGHTS.answer == 2 * nn.Conv2d(64, 64, 3).weight.numel()


def test_the_slipped_chain_is_mended_only_by_its_first_shape():
    """Try each shape of '570x570x1 -> 570x570x64 -> 568x568x64' with the real layer: only a new first shape
    (572, the input image) makes both arrows hold; a new second shape would break the second arrow."""
    first, second, third = (s[0] for s in EXS._SLIPPED_CHAIN)
    assert torch_out(572, 3, 1, 0, 1) == second and torch_out(second, 3, 1, 0, 1) == third
    assert torch_out(first, 3, 1, 0, 1) != second
    assert torch_out(torch_out(first, 3, 1, 0, 1), 3, 1, 0, 1) != third  # mending the second breaks arrow 2


def test_exercises_accept_the_notes_forms_and_react_to_typical_slips():
    assert conv.EX_TWO_CONVS.check("568x568x64")
    assert conv.EX_TWO_CONVS.check("568×568×64")
    assert conv.EX_SAME_PADDING.check("(1, 2)") and conv.EX_SAME_PADDING.check((1, 2))  # issue 14: the string too
    assert conv.EX_SAME_PADDING.check("1, 2") and conv.EX_SAME_PADDING.check([1, 2])
    assert conv.EX_SLIP_RULE.check("B")
    assert "+ 1" in conv.EX_FIRST_CONV.check(569).message
    assert "same padding" in conv.EX_FIRST_CONV.check(572).message
    assert "two convs" in conv.EX_FIRST_CONV.check(568).message
    assert "channels" in conv.EX_TWO_CONVS.check("568x568x1").message
    assert "first conv" in conv.EX_TWO_CONVS.check("570x570x64").message
    assert "total" in conv.EX_SAME_PADDING.check((2, 4)).message
    assert "total" in conv.EX_SAME_PADDING.check("(2, 4)").message
    assert "5×5" in conv.EX_SAME_PADDING.check((1, 1)).message
    assert "566" in conv.EX_SLIP_INPUT.check("b").message
    assert "570 → 570" in conv.EX_SLIP_INPUT.check("c").message
    assert "one conv" in conv.EX_STACK_WEIGHTS.check(36_864).message
    assert "biases" in conv.EX_STACK_WEIGHTS.check(73_856).message
    assert not conv.EX_SLIP_INPUT.check("b")
    assert not conv.EX_SLIP_RULE.check("a")
    assert not conv.EX_SLIP_GENERAL.check("a")
    for ex in conv.EXERCISES:
        ex.reset()


def test_code_exercises_name_the_first_failing_case():
    no_plus_one = conv.EX_CONV_OUT.check(lambda h, k, s, p: (h + 2 * p - k) // s)
    assert not no_plus_one and "nn.Conv2d gives" in no_plus_one.message
    one_side = conv.EX_CONV_OUT.check(lambda h, k, s, p: (h + p - k) // s + 1)
    assert not one_side
    undilated = conv.EX_CONV_OUT_DILATED.check(lambda h, k, s, p, d: (h + 2 * p - k) // s + 1)
    assert not undilated and "d·(k - 1) + 1" in undilated.message
    for ex in (conv.EX_CONV_OUT, conv.EX_CONV_OUT_DILATED):
        ex.reset()


def test_slip_choices_really_are_wrong_except_one():
    # each wrong choice disagrees with nn.Conv2d somewhere; the right one agrees everywhere
    for cands, right, pads in ((EXS._RULE_CANDIDATES, "b", (0,)), (EXS._GENERAL_CANDIDATES, "c", (0, 1, 2))):
        for letter, fn in cands.items():
            agrees = all(
                fn(h, k, p) == torch_out(h, k, 1, p, 1) for h in (5, 64, 571, 572) for k in (1, 3, 5) for p in pads
            )
            assert agrees == (letter == right), letter
