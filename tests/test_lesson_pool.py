"""Lesson 02 (max pooling): the numbers its views show agree with unet_lesson and with nn.MaxPool2d."""

import matplotlib

matplotlib.use("Agg")

import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from unet_lesson import UNet, conv_out, pool_out, shape_table  # noqa: E402
from unet_lesson.lessons import l02_max_pooling as pool  # noqa: E402
from unet_lesson.ui.figures import pool as FIG  # noqa: E402
from unet_lesson.ui.receptive import stack_field_view  # noqa: E402
from unet_lesson.ui.widgets import safe_view  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def torch_pool(size, kernel=2, stride=2, padding=0, ceil_mode=False, channels=1):
    with torch.no_grad():
        return nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode)(torch.zeros(1, channels, size, size)).shape


SMALL = [  # grid pictures (size <= GRID_MAX): odd and even sizes, every knob
    (2, 2, 2, 0, False),
    (5, 2, 2, 0, False),
    (5, 2, 2, 0, True),
    (6, 2, 2, 0, True),
    (7, 3, 2, 1, False),
    (7, 3, 2, 1, True),
    (8, 3, 1, 0, False),
    (9, 2, 3, 0, False),
    (9, 2, 3, 0, True),
    (12, 2, 2, 1, True),
    (11, 3, 3, 1, True),
    (3, 3, 2, 1, True),
]
LARGE = [
    (568, 2, 2, 0, False),
    (569, 2, 2, 0, False),
    (569, 2, 2, 0, True),
    (64, 3, 2, 1, False),
    (65, 3, 2, 1, True),
    (13, 2, 2, 0, False),
    (100, 4, 3, 2, True),
]


def _check(v, size, kernel, stride, padding, ceil_mode):
    assert v.ok, v.error
    expected = pool_out(size, kernel, stride, padding, ceil_mode)
    assert v.data["output"] == expected
    assert v.data["torch_output"] == torch_pool(size, kernel, stride, padding, ceil_mode)[-1] == expected
    assert v.data["agree"] is True
    assert v.data["params"] == 0 == sum(p.numel() for p in nn.MaxPool2d(kernel, stride, padding).parameters())
    assert v.data["formula"] == pool_out.explain(size, kernel, stride, padding, ceil_mode).text
    assert v.data["formula"] in v.html
    # dropped rows: exactly what no window of the real layer reads (probe with a one-hot last row)
    x = torch.zeros(1, 1, size, size)
    x[..., size - 1, :] = 1
    with torch.no_grad():
        seen = nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode)(x).max().item() > 0
    assert (v.data["dropped"] > 0) == (not seen)
    if ceil_mode and v.data["partial"]:
        assert expected == pool_out(size, kernel, stride, padding, False) + 1


@pytest.mark.parametrize("size,kernel,stride,padding,ceil_mode", SMALL)
def test_pool_view_small_grid(size, kernel, stride, padding, ceil_mode):
    v = pool.pool_view(size, kernel, stride, padding, ceil_mode)
    _check(v, size, kernel, stride, padding, ceil_mode)


@pytest.mark.parametrize("source", pool.SOURCES)
@pytest.mark.parametrize("size,kernel,stride,padding,ceil_mode", LARGE)
def test_pool_view_on_pictures(size, kernel, stride, padding, ceil_mode, source):
    v = pool.pool_view(size, kernel, stride, padding, ceil_mode, source)
    _check(v, size, kernel, stride, padding, ceil_mode)


def test_odd_size_floor_drops_a_row_ceil_keeps_half_a_window():
    floor = pool.pool_view(5, ceil_mode=False)
    ceil = pool.pool_view(5, ceil_mode=True)
    assert (floor.data["output"], floor.data["dropped"], floor.data["partial"]) == (2, 1, 0)
    assert (ceil.data["output"], ceil.data["dropped"], ceil.data["partial"]) == (3, 0, 1)
    even = pool.pool_view(6)
    assert (even.data["output"], even.data["dropped"], even.data["partial"]) == (3, 0, 0)


@pytest.mark.parametrize("size,ceil_mode", [(5, False), (5, True), (8, False), (7, True)])
def test_grid_figure_shows_the_real_maxima(size, ceil_mode):
    values = np.random.default_rng(1).integers(0, 10, (size, size))
    fig = FIG.pool_grid_figure(size, ceil_mode=ceil_mode, values=values)
    out_ax = fig.axes[1]
    shown = [int(t.get_text()) for t in out_ax.texts]
    real = FIG.real_pool(values, ceil_mode=ceil_mode)[0, 0].numpy().astype(int).ravel().tolist()
    assert shown == real
    n = pool_out(size, ceil_mode=ceil_mode)
    assert out_ax.get_title().endswith(f"{n}×{n}")


BAD_SETTINGS = [
    (dict(size=0), "at least 1"),
    (dict(size=-4), "at least 1"),
    (dict(size=1), "smaller than the 2x2 pooling window"),
    (dict(size=568.5), "whole number"),
    (dict(kernel=2, padding=2), "more than half the kernel"),
    (dict(kernel=3, padding=2), "more than half the kernel"),
    (dict(stride=0), "stride must be at least 1"),
    (dict(kernel=0), "kernel must be at least 1"),
    (dict(padding=-1), "padding must be at least 0"),
    (dict(source="photo"), "source must be one of"),
    (dict(ceil_mode="no"), "ceil_mode must be True or False"),
]


@pytest.mark.parametrize(
    "setting,runs",
    [
        (dict(size=pool.MAX_SIZE + 1), False),
        (dict(size=1024, kernel=2000, stride=1, padding=1000), False),
        (dict(size=12, kernel=200, padding=100), True),
        (dict(size=10**9), False),
    ],
)
def test_beyond_the_limit_the_formula_answers_at_once_and_nothing_runs(setting, runs):
    """Found hanging (40-60 s each): the formula answers any size; the real layer and the picture have a limit."""
    t0 = time.perf_counter()
    v = safe_view(pool.pool_view, **setting)
    assert time.perf_counter() - t0 < 10.0  # generous: the hangs it guards against took a minute
    full = {"kernel": 2, "stride": 2, "padding": 0, **setting}
    assert v.ok and v.data["output"] == pool_out(full["size"], full["kernel"], full["stride"], full["padding"])
    if runs:  # within the limits: the real layer agrees, and a small map with a huge padding draws no giant grid
        assert v.data["torch_output"] == v.data["output"] and v.figure is not None
    else:
        assert v.data["torch_output"] == "" and v.figure is None and "Not run" in v.html


@pytest.mark.parametrize(
    "view,setting",
    [
        (pool.parameters_view, dict(size=2000)),
        (pool.parameters_view, dict(size=10**5, channels=4096)),
        (pool.parameters_view, dict(size=10**400)),
        (pool.channels_view, dict(size=3000)),
        (pool.channels_view, dict(size=10**400)),
    ],
)
def test_large_settings_answer_at_once(view, setting):
    """parameters_view(size=2000) took 3.2 GB and channels_view(size=3000) over a minute: now the shapes beyond a
    stated limit come from the size rules, and the channel picture is drawn up to MAX_CHANNEL_MAPS."""
    t0 = time.perf_counter()
    v = safe_view(view, **setting)
    assert time.perf_counter() - t0 < 10.0  # generous: the hangs it guards against took a minute
    assert v.ok, v.error
    size = setting["size"]
    if view is pool.parameters_view:
        channels = setting.get("channels", 64)
        assert v.data["pool_params"] == 0 and v.data["pool_channels_out"] == v.data["pool_channels_in"]
        assert v.data["conv_params"] == channels * channels * 9 + channels and v.data["ran"] is False
        assert v.data["pool_output"] == pool_out(size) and v.data["conv_output"] == conv_out(size)
        assert "not run" in v.html
    else:
        assert v.figure is None and str(pool.MAX_CHANNEL_MAPS) in v.html and "Not drawn" in v.html
        assert v.data["after"] == pool_out(conv_out(size))


@pytest.mark.parametrize("size", [1, 5, 64, pool.SAMPLE_MAX, pool.SAMPLE_MAX + 1, 1024])
def test_picture_has_the_size_asked_for_and_mirrors_beyond_the_sample(size):
    x = pool.picture(size)
    assert x.shape == (size, size) and x.dtype == np.float32
    if size > pool.SAMPLE_MAX:
        a = pool.picture(pool.SAMPLE_MAX)
        assert np.array_equal(x[: pool.SAMPLE_MAX, : pool.SAMPLE_MAX], a)
        assert np.array_equal(x[: pool.SAMPLE_MAX, pool.SAMPLE_MAX], a[:, -1])  # the mirror image starts there


@pytest.mark.parametrize("bad,words", BAD_SETTINGS)
def test_pool_view_invalid_values_give_a_message(bad, words):
    v = safe_view(pool.pool_view, **bad)
    assert not v.ok
    assert words in v.error
    assert "Unexpected" not in v.error


@pytest.mark.parametrize("channels", [1, 3, 64, 128])
def test_parameters_view_uses_the_real_layers(channels):
    v = pool.parameters_view(channels)
    assert v.data["pool_params"] == 0
    assert v.data["conv_params"] == channels * channels * 9 + channels
    assert v.data["pool_channels_out"] == v.data["pool_channels_in"] == channels
    assert v.data["pool_output"] == pool_out(8) and v.data["conv_output"] == conv_out(8)


def test_parameters_view_invalid():
    for bad in (0, -1, 2.5, 5000):
        assert not safe_view(pool.parameters_view, channels=bad).ok
    for bad in (2, 0, 8.5, "8"):  # a size the 3x3 conv cannot take, or not a whole number
        v = safe_view(pool.parameters_view, size=bad)
        assert not v.ok and "Unexpected" not in v.error


@pytest.mark.parametrize("size", [572, 188, 204, 700])
def test_contracting_chain_matches_shape_table_and_a_real_unet(size):
    steps = pool.contracting_chain(size)
    t = shape_table(size)
    rows = [r for r in t if r.path == "contracting"]
    assert len(steps) == len(rows) == 12
    for s, r in zip(steps, rows):
        assert (s["input"], s["output"], s["channels"]) == (r.in_shape[1], r.out_shape[1], r.out_shape[0])
        assert s["formula"] == r.formula
    v = pool.contracting_view(size)
    assert v.data["bottom"] == rows[-1].out_shape[1] and v.data["odd_pools"] == 0
    if size == 188:  # a real forward pass through the contracting path of a small U-Net
        net = UNet(base_channels=2)
        x = torch.zeros(1, 1, size, size)
        with torch.no_grad():
            for conv_block, down in zip(net.down_convs, net.down_samples):
                x = down(conv_block(x))
        assert x.shape[-1] == v.data["bottom"]


def test_contracting_chain_notes_numbers():
    v = pool.contracting_view(572)
    assert v.data["chain"] == "572 -> 570 -> 568 | 284 -> 282 -> 280 | 140 -> 138 -> 136 | 68 -> 66 -> 64 | 32"


@pytest.mark.parametrize("size", [573, 574, 571, 190])
def test_contracting_chain_flags_odd_sizes_at_a_pool(size):
    odd, x = 0, size  # by hand: two valid 3x3 convs take 4, the pool halves (floor)
    for _ in range(4):
        x -= 4
        odd += x % 2
        x //= 2
    v = pool.contracting_view(size)
    assert odd > 0 and v.data["odd_pools"] == odd
    assert v.data["bottom"] == x
    assert v.html.count("odd size") == odd


@pytest.mark.parametrize("bad", [0, -1, 10, 30, 57.5])
def test_contracting_view_invalid(bad):
    v = safe_view(pool.contracting_view, size=bad)
    assert not v.ok and "Unexpected" not in v.error


@pytest.mark.parametrize("size", [64, 65])
def test_channels_view(size):
    v = pool.channels_view(size=size, channels=4)
    assert v.data["channels_before"] == v.data["channels_after"] == 4
    assert v.data["before"] == v.data["expected_before"] == conv_out(size)
    assert v.data["after"] == v.data["expected_after"] == pool_out(conv_out(size))


# ---- every view, every argument, every kind of bad value: a message or an answer, at once ---------
BAD_VALUES = [-5, 0, 10**400, -(10**400), 2.5, float("nan"), float("inf"), "568", None, True, [3]]
VIEW_ARGS = [
    (pool.pool_view, ("size", "kernel", "stride", "padding", "ceil_mode", "source")),
    (pool.parameters_view, ("channels", "size")),
    (pool.channels_view, ("size", "channels", "seed")),
    (pool.contracting_view, ("size",)),
    (pool.shift_view, ("shift", "size", "pools")),
    (stack_field_view, ("input_size", "convs", "blocks", "kernel", "padding", "row", "col")),  # the "field" widget
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
    if isinstance(bad, (str, float, list)) or bad is None or (bad is True and arg != "ceil_mode"):
        assert not v.ok  # not a whole number (nor, for ceil_mode, a bool): always refused


# ---- the experiment: what a pool keeps and what it loses ----------------------------------------
def test_dot_view_one_window_one_pooled_map():
    v = pool.dot_view()
    assert v.data == {"distinct_inside": 1, "moved_changes": True}
    assert v.figure is not None


def test_dot_maps_through_the_real_layer():
    xs = pool.dot_maps(4, [(0, 0), (1, 1), (2, 3)])
    assert [float(x.sum()) for x in xs] == [1.0, 1.0, 1.0] and xs[2][2, 3] == 1
    with torch.no_grad():
        ys = [nn.MaxPool2d(2, 2)(torch.from_numpy(x)[None, None])[0, 0] for x in xs]
    assert torch.equal(ys[0], ys[1]) and not torch.equal(ys[0], ys[2]) and ys[2][1, 1] == 1


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_shift_view_each_pool_makes_the_shifted_map_more_similar_and_the_control_stays_unrelated(shift):
    """The claim the notebook makes, checked: similarity rises after every pool; an unrelated picture stays near 0."""
    v = pool.shift_view(shift=shift)
    sim, control = v.data["similarity"], v.data["control"]
    assert len(sim) == len(control) == 3
    assert all(a < b for a, b in zip(sim, sim[1:])), sim
    assert all(abs(c) < 0.2 for c in control), control
    assert v.figure is not None


def test_shift_view_no_shift_is_identical_and_the_similarity_is_a_correlation():
    assert pool.shift_view(shift=0).data["similarity"] == (1.0, 1.0, 1.0)
    a = torch.tensor([[0.0, 1, 2], [3, 4, 5]])
    assert pool._similarity(a, 2 * a + 3) == pytest.approx(1.0)
    assert pool._similarity(a, -a) == pytest.approx(-1.0)


@pytest.mark.parametrize("bad", [dict(shift=9), dict(shift=-1), dict(size=8), dict(size=300), dict(pools=4)])
def test_shift_view_invalid(bad):
    v = safe_view(pool.shift_view, **bad)
    assert not v.ok and "Unexpected" not in v.error


# ---- what one output pixel sees --------------------------------------------------------------
@torch.no_grad()

# ---- exercises ----------------------------------------------------------------------------
def test_exercise_answers_are_computed():
    assert pool.EX_HALVE.answer == torch_pool(568)[-1] == 284
    assert pool.EX_SLIP_KERNELS.answer == (0, torch_pool(568, channels=64)[1]) == (0, 64)
    assert pool.EX_SLIP_KERNELS.answer[0] == sum(p.numel() for p in nn.MaxPool2d(2, 2).parameters())
    assert pool.EX_ODD.answer == (torch_pool(569)[-1], torch_pool(569, ceil_mode=True)[-1]) == (284, 285)
    assert pool.EX_BOTTOM.answer == pool.contracting_view(572).data["bottom"] == 32
    net = UNet(base_channels=64)
    convs = [m for block in net.down_convs for m in block if isinstance(m, nn.Conv2d)]
    assert len(convs) == 8
    doubling = tuple(i for i, c in enumerate(convs, start=1) if c.out_channels == 2 * c.in_channels)
    assert pool.EX_SLIP_DOUBLES.answer == doubling == (3, 5, 7)
    assert pool.EX_DOT.answer == 1


def test_exercises_react_to_typical_slips():
    assert "convolution's rule" in pool.EX_HALVE.check(566).message
    assert "+ 1" in pool.EX_HALVE.check(283).message
    assert "no kernels" in pool.EX_SLIP_KERNELS.check((64, 64)).message
    assert "no kernels" in pool.EX_SLIP_KERNELS.check("(4, 64)").message
    assert "on its own" in pool.EX_SLIP_KERNELS.check((0, 128)).message
    assert "ceil_mode" in pool.EX_ODD.check((284, 284)).message
    assert "floor" in pool.EX_ODD.check((285, 285)).message
    assert "swapped" in pool.EX_ODD.check("(285, 284)").message
    assert "after the 4th pool" in pool.EX_BOTTOM.check(30).message
    assert "not where" in pool.EX_DOT.hints[0] and "different" in pool.EX_DOT.check(4).message
    for ex in pool.EXERCISES:
        ex.reset()


@pytest.mark.parametrize(
    "answer,words",
    [
        # every plausible count gets its own diagnosis (issue 14): the question asks which, not how many
        (3, "how many: now say which"),
        (4, "either conv 1"),
        ("4", "the bottom's first conv"),
        (5, "both conv 1"),
        (8, "counts every conv"),
        (2, "not the count either"),
        # a list gets told exactly what is wrong with it
        ((1, 3, 5, 7), "conv 1 takes 1 channel"),
        ((3, 5, 7, 9), "bottom of the U"),
        ((2, 4, 6, 8), "convs 2, 4, 6, 8 do not double"),
        ((3, 5), "conv 7 does double as well"),
        ((1, 2, 3, 4, 5, 6, 7, 8), "convs 2, 4, 6, 8 do not double"),
    ],
)
def test_the_doubling_slip_diagnoses_every_plausible_answer(answer, words):
    fb = pool.EX_SLIP_DOUBLES.check(answer)
    assert not fb and words in fb.message, fb.message
    pool.EX_SLIP_DOUBLES.reset()


@pytest.mark.parametrize("answer", [(3, 5, 7), (7, 5, 3), [3, 5, 7], "3, 5, 7", "(7, 3, 5)", {3, 5, 7}])
def test_the_doubling_slip_takes_the_convs_in_any_order_and_form(answer):
    assert pool.EX_SLIP_DOUBLES.check(answer).correct
    pool.EX_SLIP_DOUBLES.reset()


def test_code_exercises_name_the_first_failing_case():
    def mean_pool(x, k=2, s=2):
        h, w = (x.shape[0] - k) // s + 1, (x.shape[1] - k) // s + 1
        return np.array([[x[i * s : i * s + k, j * s : j * s + k].mean() for j in range(w)] for i in range(h)])

    fb = pool.EX_MAX_POOL.check(mean_pool)
    assert not fb and "average pooling" in fb.message
    fb = pool.EX_POOL_SIZE.check(lambda h, k, s, ceil_mode=False: (h - k) // s + 1)
    assert not fb and "ceil_mode" in fb.message
    for ex in (pool.EX_MAX_POOL, pool.EX_POOL_SIZE):
        ex.reset()
