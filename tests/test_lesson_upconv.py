"""Lesson 03 (up-conv): the scatter-and-sum against nn.ConvTranspose2d, overlap counts, the real
layer's facts, the widget's view (valid and invalid settings, odd and even sizes) and the exercises."""

from __future__ import annotations

import inspect
import itertools
import subprocess
import sys
import textwrap
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

from unet_lesson import UNet, shape_table, up_conv_out  # noqa: E402
from unet_lesson.core import transposed as TR  # noqa: E402
from unet_lesson.lessons import l03_exercises  # noqa: E402
from unet_lesson.lessons import l03_up_conv as U  # noqa: E402
from unet_lesson.ui.exercises import CodeExercise  # noqa: E402
from unet_lesson.ui.figures import upconv as FIG  # noqa: E402
from unet_lesson.ui.widgets import View, live, safe_view  # noqa: E402


def real_conv_transpose(x, w, stride, padding, output_padding, bias=None):
    """nn.ConvTranspose2d built here, independently of the module's helper."""
    c_in, c_out, kh, kw = w.shape
    layer = nn.ConvTranspose2d(
        c_in, c_out, (kh, kw), stride=stride, padding=padding, output_padding=output_padding, bias=bias is not None
    ).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        if bias is not None:
            layer.bias.copy_(torch.from_numpy(bias))
        return layer(torch.from_numpy(x)[None])[0].numpy()


def valid(size, k, s, p, op):
    return op < s and (size - 1) * s - 2 * p + k + op > 0


# ---------------------------------------------------------------------------------------------
# scatter and sum == nn.ConvTranspose2d
# ---------------------------------------------------------------------------------------------
COMBOS = [
    (size, k, s, p, op)
    for size, k, s, p in itertools.product((1, 2, 3, 4, 5), (1, 2, 3, 4), (1, 2, 3), (0, 1, 2))
    for op in range(s)
    if valid(size, k, s, p, op)
]


@pytest.mark.parametrize("size,k,s,p,op", COMBOS)
def test_scatter_and_sum_equals_conv_transpose2d(size, k, s, p, op):
    rng = np.random.default_rng(size * 1000 + k * 100 + s * 10 + p + op)
    x = rng.standard_normal((2, size, size))
    w = rng.standard_normal((2, 3, k, k))
    ours = TR.scatter_and_sum(x, w, stride=s, padding=p, output_padding=op)
    real = real_conv_transpose(x, w, s, p, op)
    assert ours.shape == real.shape == (3, up_conv_out(size, k, s, p, op), up_conv_out(size, k, s, p, op))
    np.testing.assert_allclose(ours, real, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 7),
    w_=st.integers(1, 7),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    sh=st.integers(1, 4),
    sw=st.integers(1, 4),
    ph=st.integers(0, 3),
    pw=st.integers(0, 3),
    oph=st.integers(0, 3),
    opw=st.integers(0, 3),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    seed=st.integers(0, 10**6),
)
def test_scatter_and_sum_rectangular_any_setting(h, w_, kh, kw, sh, sw, ph, pw, oph, opw, c_in, c_out, seed):
    """Rectangular inputs and kernels, per-axis stride/padding/output_padding, with a bias."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c_in, h, w_))
    w = rng.standard_normal((c_in, c_out, kh, kw))
    b = rng.standard_normal(c_out)
    ok = valid(h, kh, sh, ph, oph) and valid(w_, kw, sw, pw, opw)
    if not ok:
        with pytest.raises(ValueError):
            TR.scatter_and_sum(x, w, (sh, sw), (ph, pw), (oph, opw), bias=b)
        with pytest.raises(RuntimeError):  # the real layer refuses it too
            real_conv_transpose(x, w, (sh, sw), (ph, pw), (oph, opw), bias=b)
        return
    ours = TR.scatter_and_sum(x, w, (sh, sw), (ph, pw), (oph, opw), bias=b)
    np.testing.assert_allclose(ours, real_conv_transpose(x, w, (sh, sw), (ph, pw), (oph, opw), bias=b), atol=1e-10)


def test_two_dimensional_inputs_give_a_two_dimensional_output():
    out = TR.scatter_and_sum(U.EXAMPLE_INPUT, U.EXAMPLE_KERNEL, stride=2)
    assert out.shape == (5, 5)
    np.testing.assert_allclose(out, TR.conv_transpose_torch(U.EXAMPLE_INPUT, U.EXAMPLE_KERNEL, stride=2))
    np.testing.assert_allclose(
        out, real_conv_transpose(U.EXAMPLE_INPUT[None], U.EXAMPLE_KERNEL[None, None], 2, 0, 0)[0]
    )


def test_conv_transpose_torch_helper_is_the_real_layer():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 2, 3, 3))
    np.testing.assert_allclose(
        TR.conv_transpose_torch(x, w, 2, 1, 1, bias=np.array([0.5, -1.0])),
        real_conv_transpose(x, w, 2, 1, 1, bias=np.array([0.5, -1.0])),
    )


@pytest.mark.parametrize(
    "x,w",
    [
        (np.ones((2, 3, 3)), np.ones((3, 1, 2, 2))),  # channel mismatch
        (np.ones(3), np.ones((2, 2))),  # 1-D input
        (np.ones((3, 3)), np.ones(4)),
    ],
)  # 1-D kernel
def test_scatter_and_sum_rejects_bad_shapes_with_a_message(x, w):
    with pytest.raises(ValueError, match="must be|weight's first axis"):
        TR.scatter_and_sum(x, w)


def test_unet_kernel_tiles_without_overlap():
    """U-Net's 2x2 stride-2 up-conv: each input pixel's block is exactly value * kernel."""
    out = TR.scatter_and_sum(U.EXAMPLE_INPUT, U.UNET_KERNEL, stride=2)
    for i, j in itertools.product(range(2), range(2)):
        np.testing.assert_allclose(out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2], U.EXAMPLE_INPUT[i, j] * U.UNET_KERNEL)


# ---------------------------------------------------------------------------------------------
# step by step
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "size,k,s,p,op", [(2, 3, 2, 0, 0), (2, 2, 2, 0, 0), (3, 3, 2, 1, 1), (2, 3, 1, 1, 0), (3, 2, 3, 0, 2)]
)
def test_scatter_steps_add_up_to_the_output(size, k, s, p, op):
    rng = np.random.default_rng(7)
    x, kern = rng.integers(1, 5, (size, size)).astype(float), rng.integers(1, 4, (k, k)).astype(float)
    sc = TR.scatter_steps(x, kern, s, p, op)
    assert len(sc.steps) == size * size
    running = np.zeros_like(sc.canvas)
    for step in sc.steps:
        inside = np.zeros_like(running, dtype=bool)
        inside[step.top : step.top + k, step.left : step.left + k] = True
        assert (step.top, step.left) == (step.row * s, step.col * s)
        np.testing.assert_allclose(step.contribution[inside].reshape(k, k), step.value * kern)
        assert not step.contribution[~inside].any()
        running += step.contribution
        np.testing.assert_allclose(step.total, running)
    np.testing.assert_allclose(sc.output, real_conv_transpose(x[None], kern[None, None], s, p, op)[0])


def test_scatter_steps_figure_has_a_panel_per_step():
    fig = FIG.scatter_steps_figure(U.EXAMPLE_INPUT, U.EXAMPLE_KERNEL)
    assert len(fig.axes) == 2 * (U.EXAMPLE_INPUT.size + 2)
    plt.close(fig)
    fig = FIG.scatter_steps_figure(U.EXAMPLE_INPUT, U.EXAMPLE_KERNEL, 2, padding=1, output_padding=1)
    plt.close(fig)
    with pytest.raises(ValueError, match="too many"):
        FIG.scatter_steps_figure(np.ones((4, 4)), U.UNET_KERNEL)


# ---------------------------------------------------------------------------------------------
# overlap and checkerboard
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,k,s,p,op", COMBOS[::3])
def test_overlap_count_is_the_all_ones_layer_on_a_ones_input(size, k, s, p, op):
    counts = TR.overlap_count(size, k, s, p, op)
    real = real_conv_transpose(np.ones((1, size, size)), np.ones((1, 1, k, k)), s, p, op)[0]
    assert counts.dtype.kind == "i"
    np.testing.assert_array_equal(counts, real)


@pytest.mark.parametrize("k,s", list(itertools.product(range(1, 7), range(1, 5))))
def test_uneven_overlap_iff_stride_does_not_divide_kernel(k, s):
    counts = TR.overlap_count(9, k, s)
    inner = counts[k - 1 : counts.shape[0] - (k - 1), k - 1 : counts.shape[1] - (k - 1)]
    assert TR.uneven_overlap(k, s) == (inner.min() != inner.max())
    line = TR.overlap_count((1, 9), (1, k), (1, s))[0]  # one axis: a 1-pixel-high map and kernel
    row = line[k - 1 : line.size - (k - 1)]
    assert set(np.unique(row).tolist()) == set(TR.overlap_levels(k, s))
    assert TR.checkerboard_facts(9, k, s)["uneven"] == TR.uneven_overlap(k, s)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 7), s=st.integers(1, 5), p=st.integers(0, 6), op=st.integers(0, 4))
def test_checkerboard_facts_equal_brute_force_counts(n, k, s, p, op):
    if not valid(n, k, s, p, op):
        with pytest.raises(ValueError):
            TR.checkerboard_facts(n, k, s, p, op)
        return
    f = TR.checkerboard_facts(n, k, s, p, op)
    counts = real_conv_transpose(np.ones((1, n, n)), np.ones((1, 1, k, k)), s, p, op)[0]
    assert (f["min"], f["max"]) == (counts.min(), counts.max())
    full = real_conv_transpose(np.ones((1, n, n)), np.ones((1, 1, k, k)), s, 0, 0)[0]
    inner = full[k - 1 : full.shape[0] - (k - 1), k - 1 : full.shape[1] - (k - 1)]
    inner = inner if inner.size else full
    assert (f["interior_min"], f["interior_max"]) == (inner.min(), inner.max())


def test_checkerboard_facts_for_huge_maps_match_a_moderate_one():
    """The count is periodic inside, so a 10^9-pixel map has the interior of a 40-pixel one."""
    for k, s in [(3, 2), (2, 2), (5, 3), (1, 4)]:
        big, small = TR.checkerboard_facts(10**9, k, s), TR.checkerboard_facts(40, k, s)
        assert {key: big[key] for key in ("interior_min", "interior_max", "uneven", "min", "max")} == {
            key: small[key] for key in ("interior_min", "interior_max", "uneven", "min", "max")
        }


def test_checkerboard_facts_for_the_lesson_cases():
    assert TR.checkerboard_facts(6, 2, 2)["interior_max"] == 1 and not TR.checkerboard_facts(6, 2, 2)["uneven"]
    f = TR.checkerboard_facts(6, 3, 2)
    assert (f["interior_min"], f["interior_max"], f["uneven"]) == (1, 4, True)
    f = TR.checkerboard_facts(6, 4, 2)
    assert (f["interior_min"], f["interior_max"], f["uneven"], f["min"]) == (4, 4, False, 1)


def test_checkerboard_and_three_ways_figures():
    fig = FIG.checkerboard_figure()
    assert len(fig.axes) == 6
    plt.close(fig)
    img = np.linspace(0, 1, 20 * 21).reshape(20, 21)
    ways = TR.upsample_three_ways(img)
    for name, (a, _) in ways.items():
        assert a.shape == ((20, 21) if name == "input" else (40, 42)), name
    # a flat image: the uneven 3x3 kernel makes a checkerboard, the 2x2 and bilinear stay flat
    flat = TR.upsample_three_ways(np.full((8, 8), 0.5))
    a3, a2, bl = (v[0] for k, v in flat.items() if k != "input")
    assert np.ptp(a3[2:-2, 2:-2]) > 0.1
    assert np.ptp(a2) < 1e-12 and np.ptp(bl) < 1e-6
    plt.close(FIG.upsample_three_ways_figure(img))
    with pytest.raises(ValueError):
        TR.upsample_three_ways(np.ones((2, 3, 4)))


# ---------------------------------------------------------------------------------------------
# the real layer: (in, out, k, k), parameters, the notes' 28x28x1024 -> 56x56x512
# ---------------------------------------------------------------------------------------------
def test_layer_facts_are_the_notes_numbers_from_a_real_forward_pass():
    f = U.layer_facts()
    layer = nn.ConvTranspose2d(1024, 512, kernel_size=2, stride=2)
    y = layer(torch.zeros(1, 1024, 28, 28))
    assert f["out_shape"] == tuple(y.shape[1:]) == (512, 56, 56)
    assert f["out_shape_notes"] == (56, 56, 512) and f["in_shape_notes"] == (28, 28, 1024)
    assert f["weight_shape"] == tuple(layer.weight.shape) == (1024, 512, 2, 2)
    assert f["params"] == sum(p.numel() for p in layer.parameters())
    assert f["formula"] == up_conv_out.explain(28).text
    # the same layer inside the paper's U-Net
    assert f["params"] == shape_table(572).where(module="up_samples.0")[0].params


@pytest.mark.parametrize("size", [5, 6, 27, 28])
@pytest.mark.parametrize("c_in,c_out,k,s,p,op", [(8, 4, 2, 2, 0, 0), (3, 5, 3, 2, 1, 1), (2, 2, 4, 2, 1, 0)])
def test_layer_facts_match_the_real_layer(size, c_in, c_out, k, s, p, op):
    up = U.UpConv(size, k, s, p, op, c_in, c_out)
    f = U.layer_facts(up)
    layer = nn.ConvTranspose2d(c_in, c_out, k, stride=s, padding=p, output_padding=op)
    assert f["out_shape"] == tuple(layer(torch.zeros(1, c_in, size, size)).shape[1:])
    assert f["params"] == sum(q.numel() for q in layer.parameters())
    assert f["weight_shape"] == (c_in, c_out, k, k)
    html = U.layer_facts_html(up)
    assert f"{f['params']:,}" in html and f["formula"] in html


def test_layer_facts_refuse_impossible_settings():
    with pytest.raises(ValueError, match="output_padding"):
        U.layer_facts(U.UpConv(28, 2, 2, 0, 2, 4, 2))
    with pytest.raises(ValueError, match="empties"):
        U.layer_facts(U.UpConv(1, 2, 2, 3, 0, 4, 2))


# ---------------------------------------------------------------------------------------------
# an up-conv on a real picture
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [20, 21, 64])
def test_feature_map_demo_shapes(size):
    img = np.random.default_rng(0).random((size, size)).astype(np.float32)
    stages = dict(U.feature_map_demo(img))
    labels = list(stages)
    conv, pool = stages[labels[1]], stages[labels[2]]
    assert conv.shape == (4, size - 2, size - 2)
    assert pool.shape == (4, (size - 2) // 2, (size - 2) // 2)
    for up in (stages[labels[3]], stages[labels[4]]):
        assert up.shape == (2, 2 * pool.shape[1], 2 * pool.shape[2])  # size x2, channels 1/2
    # flat kernels: every 2x2 block of the output is one value, the mean of two pooled channels
    flat = stages[labels[3]]
    np.testing.assert_allclose(flat[0, ::2, ::2], 0.5 * (pool[0] + pool[1]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(flat[1, 1::2, 1::2], 0.5 * (pool[2] + pool[3]), rtol=1e-5, atol=1e-6)
    fig = FIG.feature_map_figure(list(stages.items()))
    plt.close(fig)


def test_feature_map_demo_is_deterministic_and_checks_its_input():
    img = np.random.default_rng(0).random((16, 16))
    a, b = U.feature_map_demo(img), U.feature_map_demo(img)
    for (_, x), (_, y) in zip(a, b):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError):
        U.feature_map_demo(np.ones((3, 3)))
    with pytest.raises(ValueError):
        U.feature_map_demo(np.ones((2, 8, 8)))


def test_feature_map_demo_on_the_course_image():
    data = pytest.importorskip("unet_lesson.seg.data")
    img = data.sample_image(size=64, seed=0)
    stages = U.feature_map_demo(img)
    assert stages[-1][1].shape == (2, 62, 62)


# ---------------------------------------------------------------------------------------------
# bilinear + conv: the same shapes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"padding": "same", "input_size": 256}, {"depth": 2, "input_size": 92}])
def test_up_modes_agree_with_the_real_modules_and_each_other(options):
    options = dict(options)
    size = options.pop("input_size", 572)
    rows = U.up_modes_check(size, **options)
    up = [r for r in rows if r["mode"] == "upconv"]
    bl = [r for r in rows if r["mode"] == "bilinear"]
    assert len(up) == len(bl) > 0
    for r in rows:
        assert r["real_out_shape"] == r["out_shape"] and r["real_params"] == r["params"]
    for a, b in zip(up, bl):
        assert a["out_shape"] == b["out_shape"] and a["in_shape"] == b["in_shape"]
        assert b["params"] < a["params"]
    html = U.up_modes_html(size, **options)
    assert "NO:" not in html and html.count("<tr") == len(rows) + 1


def test_bilinear_unet_real_forward_has_the_same_output_shape():
    x = torch.zeros(1, 1, 188, 188)
    net_a, net_b = UNet(base_channels=4), UNet(base_channels=4, up_mode="bilinear")
    with torch.no_grad():
        assert net_a(x).shape == net_b(x).shape == (1, 2, 4, 4)


# ---------------------------------------------------------------------------------------------
# the widget's view
# ---------------------------------------------------------------------------------------------
VIEW_SETTINGS = [
    dict(size=size, kernel=k, stride=s, padding=p, output_padding=op, in_channels=ci, out_channels=co)
    for size in (1, 3, 4, 7, 8)
    for (k, s, p, op) in ((2, 2, 0, 0), (3, 2, 1, 1), (3, 2, 0, 0), (4, 2, 1, 0), (1, 3, 0, 2), (3, 1, 1, 0))
    for (ci, co) in [((4, 2), (1, 3))[size % 2]]  # channels halved (even sizes) or not
    if valid(size, k, s, p, op)
]


@pytest.mark.parametrize("kw", VIEW_SETTINGS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_view_numbers_come_from_the_real_layer(kw):
    v = U.upconv_view(**kw)
    assert isinstance(v, View) and v.ok
    layer = nn.ConvTranspose2d(
        kw["in_channels"],
        kw["out_channels"],
        kw["kernel"],
        stride=kw["stride"],
        padding=kw["padding"],
        output_padding=kw["output_padding"],
    )
    y = layer(torch.zeros(1, kw["in_channels"], kw["size"], kw["size"]))
    assert v.data["output"] == y.shape[-1] == y.shape[-2]
    assert v.data["real_shape"] == tuple(y.shape[1:])
    assert v.data["params"] == sum(p.numel() for p in layer.parameters())
    assert v.data["weight_shape"] == tuple(layer.weight.shape)
    assert v.data["agrees"] is True and v.data["max_diff"] < 1e-9
    assert v.data["formula"] in v.html
    assert v.data["uneven"] == TR.checkerboard_facts(kw["size"], kw["kernel"], kw["stride"])["uneven"]
    if kw["size"] >= 3:  # with room for an interior, uneven exactly when the stride does not divide the kernel
        assert v.data["uneven"] == TR.uneven_overlap(kw["kernel"], kw["stride"])
    assert v.figure is not None
    plt.close(v.figure)


def test_view_default_is_the_paper_up_conv_and_matches_controls():
    v = U.upconv_view()
    assert v.data["output"] == 2 * 4 and v.data["uneven"] is False and v.data["max_overlap"] == 1
    plt.close(v.figure)
    defaults = {k: p.default for k, p in inspect.signature(U.upconv_view).parameters.items()}
    controls = U.controls()
    assert set(controls) == set(defaults)
    assert {k: w.value for k, w in controls.items()} == defaults


def test_view_large_setting_measures_with_a_twin_and_says_so():
    v = U.upconv_view(size=28, in_channels=1024, out_channels=512)
    assert v.data["output"] == 56 and v.data["real_shape"] == (512, 56, 56) and v.data["ran"] == "twin"
    assert v.data["params"] == U.layer_facts()["params"] and v.data["agrees"] is True
    assert "1-channel twin" in v.html and "Not compared number by number" in v.html
    plt.close(v.figure)
    v = U.upconv_view(size=200, kernel=2, stride=2, in_channels=1, out_channels=1)
    assert v.data["output"] == 400 and v.figure is None and "Not drawn" in v.html
    assert v.data["ran"] == "full" and "real forward pass" in v.html and "twin" not in v.html
    assert v.data["agrees"] is True and v.data["max_diff"] < 1e-9
    v = U.upconv_view(size=200, kernel=2, stride=2, in_channels=1024, out_channels=512)
    assert v.data["real_shape"] == (512, 400, 400) and "1-channel twin" in v.html


def test_the_notes_layer_runs_for_real_outside_the_widget():
    f = U.layer_facts()
    assert f["ran"] == "full" and f["how"] == "real forward pass"
    assert U.layer_facts(max_work=U.LIMITS["view work"])["ran"] == "twin"


def test_view_beyond_what_it_runs_gives_the_formula_and_says_what_it_did_not_run():
    v = U.upconv_view(size=10**6, stride=10**4)
    assert v.ok and v.data["output"] == up_conv_out(10**6, 2, 10**4) and v.data["agrees"] is None
    assert v.data["ran"] == "formula" and "not run" in v.html and "Not drawn" in v.html
    assert v.figure is None


# the settings issue 11 found (5.6 GB, 51 s then MemoryError, 25 GB), and more of their kind
HUGE = [
    dict(size=7000),
    dict(size=1, kernel=10**8),
    dict(size=20000, kernel=1, stride=1, in_channels=1, out_channels=1),
    dict(size=10**5, stride=100),
    dict(size=3, kernel=10**5, padding=49_000),
    dict(size=50, in_channels=10**5, out_channels=10**5),
    dict(size=2, kernel=3, stride=1000, in_channels=3, out_channels=3),
    dict(size=2, stride=10**6, padding=499_000),  # a small output from a huge canvas
    dict(size=2048, kernel=1, stride=1, in_channels=1, out_channels=1),
    dict(size=10**99, kernel=10**99, stride=10**99, in_channels=10**99, out_channels=10**99),
    dict(in_channels=10**40, out_channels=10**40),  # weights PyTorch cannot describe, even on meta
]


@pytest.mark.parametrize("kw", HUGE, ids=lambda kw: ",".join(f"{k}={v:.0e}" for k, v in kw.items()))
def test_view_survives_huge_settings(kw):
    """Whatever a student types, the view answers quickly with the formula's number, without a giant allocation."""
    start = time.perf_counter()
    v = U.upconv_view(**kw)
    assert time.perf_counter() - start < 10  # generous: only a hang fails
    full = {**{k: p.default for k, p in inspect.signature(U.upconv_view).parameters.items()}, **kw}
    expected = up_conv_out(full["size"], full["kernel"], full["stride"], full["padding"], full["output_padding"])
    assert v.data["output"] == expected and v.data["real_shape"] == (full["out_channels"], expected, expected)
    assert v.data["params"] == full["in_channels"] * full["out_channels"] * full["kernel"] ** 2 + full["out_channels"]
    assert v.data["agrees"] in (True, None) and (v.figure is None) == ("Not drawn" in v.html) == (expected > 96)
    assert all(type(n) is int for n in v.data["real_shape"])
    plt.close("all")


def test_huge_settings_stay_within_200_mb():
    """Peak memory of a fresh process, after the default view, does not grow by 200 MB over the huge settings."""
    script = textwrap.dedent(
        f"""
        import resource, matplotlib
        matplotlib.use("Agg")
        from unet_lesson.lessons import l03_up_conv as U
        U.upconv_view(); U.upconv_view(size=28, in_channels=1024, out_channels=512); U.layer_facts()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for kw in {HUGE!r}:
            U.upconv_view(**kw)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert int(out.stdout.split()[-1]) < 200, out.stdout


HOSTILE = st.one_of(
    st.integers(min_value=-(10**120), max_value=10**120),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
    st.sampled_from([4.0, 2.0, np.int64(3), np.float64(2.0), "4", float("nan"), 10**5000]),
)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(inspect.signature(U.upconv_view).parameters)), value=HOSTILE)
def test_any_value_a_control_can_hold_gives_a_view_or_a_clear_message(name, value):
    start = time.perf_counter()
    try:
        v = U.upconv_view(**{name: value})
    except ValueError as e:
        assert str(e) and "Traceback" not in str(e)
    else:
        assert v.ok and isinstance(v.data["output"], int)
        if v.figure is not None:
            plt.close(v.figure)
    assert time.perf_counter() - start < 10


def test_a_googol_is_the_largest_value_and_the_message_says_so():
    with pytest.raises(ValueError, match="10\\*\\*100"):
        U.upconv_view(size=10**5000)
    with pytest.raises(ValueError, match="digits"):
        U.UpConv(in_channels=10**101)


def test_view_uneven_and_gap_messages():
    v = U.upconv_view(size=5, kernel=3, stride=2)
    assert v.data["uneven"] and (v.data["min_overlap"], v.data["max_overlap"]) == (1, 4) and "Uneven" in v.html
    plt.close(v.figure)
    v = U.upconv_view(size=5, kernel=1, stride=2)
    assert v.data["min_overlap"] == 0 and "Gaps" in v.html
    plt.close(v.figure)
    v = U.upconv_view(size=5, kernel=4, stride=2)
    assert not v.data["uneven"] and "Even overlap" in v.html
    plt.close(v.figure)


@pytest.mark.parametrize(
    "kw,phrase",
    [
        (dict(output_padding=2), "must be smaller than the stride"),
        (dict(output_padding=1, stride=1), "must be smaller than the stride"),
        (dict(size=0), "at least 1"),
        (dict(size=-3), "at least 1"),
        (dict(size=1, padding=1), "empties the output"),
        (dict(size=3, kernel=3, stride=2, padding=4), "Use padding at most 3"),
        (dict(size=2.5), "whole number"),
        (dict(kernel=1.5), "whole number"),
        (dict(stride=0), "stride must be at least 1"),
        (dict(kernel=0), "kernel must be at least 1"),
        (dict(padding=-1), "trimmed from each border"),
        (dict(output_padding=-1), "at least 0"),
        (dict(in_channels=0), "at least 1"),
        (dict(out_channels=2.2), "whole number"),
        (dict(size="8"), "whole number"),
        (dict(size=None), "whole number"),
    ],
)
def test_view_invalid_settings_explain_themselves(kw, phrase):
    with pytest.raises(ValueError, match=phrase):
        U.upconv_view(**kw)
    v = safe_view(U.upconv_view, **kw)
    assert not v.ok and phrase in v.error and "Traceback" not in v.error
    assert "ul-error" in v.body_html()


@pytest.mark.parametrize("size,k,s,op", [(1, 2, 2, 0), (3, 3, 2, 1), (4, 3, 2, 0), (5, 5, 3, 2)])
def test_max_padding_is_the_largest_that_works(size, k, s, op):
    p = TR.max_padding(size, k, s, op)
    assert U.upconv_view(size=size, kernel=k, stride=s, padding=p, output_padding=op).ok
    with pytest.raises(ValueError):
        U.upconv_view(size=size, kernel=k, stride=s, padding=p + 1, output_padding=op)
    plt.close("all")


def test_whole_numbers_given_as_floats_are_accepted():
    v = U.upconv_view(size=4.0, kernel=2.0)
    assert v.data["output"] == 8
    plt.close(v.figure)


def test_live_widget_shows_the_message_and_recovers():
    controls = U.controls()
    box = live(U.upconv_view, controls, css="ul-upconv")
    assert "ul-upconv" in box._dom_classes
    html_out = box.children[1]
    assert "data-ul-output='8'" in html_out.value
    for name, w in controls.items():
        assert f"ul-upconv-{name}" in w._dom_classes
    controls["output_padding"].value = 2
    assert "ul-error" in html_out.value and "smaller than the stride" in html_out.value
    assert controls["output_padding"].value == 2  # what the student typed is kept
    controls["output_padding"].value = 1
    assert "data-ul-output='9'" in html_out.value
    plt.close("all")


# ---------------------------------------------------------------------------------------------
# exercises
# ---------------------------------------------------------------------------------------------
def test_every_exercise_handles_unattempted_right_and_wrong():
    assert [ex.key for ex in U.EXERCISES] == [f"3.{n}" for n in range(1, 9)]
    for ex in U.EXERCISES:  # the right answers: tests/test_exercise_answers.py
        ex.reset()
        assert ex.check(...).status == "not attempted"
        assert ex.check().status == "not attempted"
        wrong = (
            ex.check(lambda x, w, s: x) if isinstance(ex, CodeExercise) else ex.check("zzz" if not ex.choices else "b")
        )
        assert wrong.status == "wrong" and "Hint" in wrong.message
        ex.reset()


@pytest.mark.parametrize("ex", U.EXERCISES, ids=lambda ex: ex.key)
def test_every_exercise_has_three_graded_hints_shown_one_per_wrong_try(ex):
    assert len(ex.hints) == 3 and all(len(h) > 20 for h in ex.hints)
    ex.reset()
    wrong = (lambda x, w, s: x) if isinstance(ex, CodeExercise) else ("b" if ex.choices else 10**6)
    shown = [ex.check(wrong).hints for _ in range(4)]
    assert [len(h) for h in shown] == [1, 2, 3, 3]
    assert "solution()" in ex.check(wrong).message  # no more hints: the worked answer on request
    ex.reset()
    assert ex.solution().explanation


def test_the_code_exercise_accepts_the_reference_and_names_a_flipped_kernel():
    ex = U.EX_CONV_TRANSPOSE
    ex.reset()
    assert ex.check(ex.reference).correct
    assert "def conv_transpose(x, w, stride)" in ex.solution_source

    def flipped(x, w, stride):
        return ex.reference(x, w[::-1, ::-1], stride)

    fb = ex.check(flipped)
    assert not fb.correct and "flips the kernel" in fb.message
    ex.reset()


def test_the_notes_layer_hints_are_cheap(monkeypatch):
    """Checking 3.1 and 3.6 never builds or runs the 2-million-weight layer (it took ~0.5 s per wrong try)."""
    from unet_lesson.lessons import l03_layer

    l03_layer._notes_layer.cache_clear()
    runs = []
    real = l03_layer.layer_facts

    def counting(*a, **kw):
        f = real(*a, **kw)
        runs.append(f["ran"])
        return f

    monkeypatch.setattr(l03_layer, "layer_facts", counting)
    for ex, answers in ((U.EX_SHAPE, ["56x56x1024", "(512, 56, 56)", "7"]), (U.EX_PARAMS, [2_097_152, 3, "x"])):
        ex.reset()
        for a in answers:
            assert not ex.check(a).correct
        assert ex.check(ex.answer).correct
        ex.reset()
    assert runs and set(runs) == {"twin"}
    start = time.perf_counter()
    for _ in range(20):
        U.EX_SHAPE.check("56x56x1024")
    assert time.perf_counter() - start < 5
    U.EX_SHAPE.reset()


def test_exercise_answers_are_the_real_numbers():
    layer = nn.ConvTranspose2d(1024, 512, kernel_size=2, stride=2)
    y = layer(torch.zeros(1, 1024, 28, 28))
    assert U.EX_SHAPE.check(f"{y.shape[2]}x{y.shape[3]}x{y.shape[1]}")
    assert U.EX_PARAMS.check(sum(p.numel() for p in layer.parameters()))
    real = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)(torch.zeros(1, 1, 7, 7))
    assert U.EX_SIZE_RULE.check(real.shape[-1])
    conv = nn.Conv2d(1, 1, 2, stride=2)(torch.zeros(1, 1, 4, 4))
    assert U.EX_MATRIX.check((conv[0, 0].numel(), 16))
    assert U.EX_SLIP.check(nn.ConvTranspose2d(1, 1, 2, stride=2)(torch.zeros(1, 1, 16, 16)).shape[-1])
    centre = real_conv_transpose(U.EXAMPLE_INPUT[None], U.EXAMPLE_KERNEL[None, None], 2, 0, 0)[0, 2, 2]
    assert U.EX_CENTRE.check(centre) and U.EX_CENTRE.check(int(centre))
    # the one choice whose interior overlap count is uniform
    even = [
        c
        for c, (k, s) in l03_exercises._OVERLAP_CHOICES.items()
        if len(np.unique(TR.overlap_count(8, k, s)[k - 1 : -(k - 1) or None, k - 1 : -(k - 1) or None])) == 1
    ]
    assert even == [U.EX_OVERLAP.answer]


@pytest.mark.parametrize(
    "ex,answer,phrase",
    [
        (U.EX_SHAPE, "56x56x1024", "out_channels"),
        (U.EX_SHAPE, (512, 56, 56), "C×H×W"),
        (U.EX_SHAPE, "28x28x512", "the channels are right"),
        (U.EX_PARAMS, 1024 * 512 * 4, "bias"),
        (U.EX_PARAMS, 1024 * 512 * 4 + 1024, "output"),
        (U.EX_PARAMS, 1024 * 512 + 512, "whole 2×2 kernel"),
        (U.EX_SIZE_RULE, 13, "output_padding"),
        (U.EX_SIZE_RULE, 16, "trims"),
        (U.EX_SIZE_RULE, 15, "no '+ 1'"),
        (U.EX_SIZE_RULE, 4, "convolution's rule"),
        (U.EX_CENTRE, 40, "corner"),
        (U.EX_CENTRE, 16, "largest"),
        (U.EX_MATRIX, (16, 4), "that is Cᵀ"),
        (U.EX_MATRIX, "(4, 4)", "count pixels"),
        (U.EX_OVERLAP, "a", "alternate between 1 and 2"),
        (U.EX_OVERLAP, "a", "s divides k"),
        (U.EX_OVERLAP, "z", "answer with one of"),
        (U.EX_SLIP, 64, "cannot quadruple"),
        (U.EX_SLIP, 64, "size ×2"),
    ],
)
def test_wrong_answers_get_a_fitting_hint(ex, answer, phrase):
    ex.reset()
    fb = ex.check(answer)
    if phrase not in fb.message:  # a graded hint: shown on a later try
        fb = ex.check(answer) if "divides" in phrase else fb
    assert fb.status == "wrong" and phrase in fb.message
    ex.reset()
