"""Lesson 05 (the 1x1 head): the layer, the per-pixel-linear check, segmentation and the widget view."""

import numpy as np
import pytest
import torch
from torch import nn

from unet_lesson import UNet, conv_out, count_parameters, shape_table
from unet_lesson.lessons import l05_the_1x1_head as head
from unet_lesson.ui.exercises import Exercise
from unet_lesson.ui.widgets import defaults_of, safe_view


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_notes_shapes_through_a_real_layer():
    r = head.head_shapes(388, 64, 2)
    assert r["input"] == (388, 388, 64) and r["output"] == (388, 388, 2)
    assert r["formula"] == "388 = (388 + 2*0 - 1)/1 + 1"
    assert r["params"] == 130
    # and it is the head of the paper's network
    table = shape_table(572)
    assert table.output_shape == (2, 388, 388)
    assert table.where(kind="head")[0].params == r["params"]


@pytest.mark.parametrize("size", [1, 7, 8, 388, 389])
def test_size_unchanged_odd_and_even(size):
    assert head.head_shapes(size, 4, 3)["output"] == (size, size, 3)
    assert conv_out(size, kernel=1) == size


@pytest.mark.parametrize("classes", [1, 2, 3, 5, 10, 64, 100])
def test_params_from_the_real_layer(classes):
    assert head.head_params(classes) == 64 * classes + classes
    assert head.head_params(classes) == sum(p.numel() for p in nn.Conv2d(64, classes, 1).parameters())
    # the only difference a class count makes to the whole UNet is in the head
    assert count_parameters(num_classes=classes) - count_parameters(num_classes=1) == 65 * (classes - 1)


@pytest.mark.parametrize("bad", [0, -1, -7, 2.5, "2", None, True])
def test_invalid_class_counts(bad):
    with pytest.raises(ValueError):
        head.check_num_classes(bad)
    view = safe_view(head.head_view, num_classes=bad)
    assert not view.ok and "Unexpected" not in view.error
    assert "class" in view.error


def test_zero_and_negative_say_why_and_what_works():
    for bad in (0, -3):
        msg = safe_view(head.head_view, num_classes=bad).error
        assert "at least 1" in msg and "2" in msg


@pytest.mark.parametrize("n", [head.MAX_CLASSES + 1, 5000, 10**12])
def test_too_many_for_the_widget_still_gives_the_formula(n):
    """Beyond the drawing limit: the formula with the numbers, no layer run, no figure, said in words; quick."""
    import time

    t = time.perf_counter()
    view = head.head_view(n)
    assert time.perf_counter() - t < 10  # a generous bound: nothing is built
    c_in = head.feature_source()["features"].shape[1]
    assert view.ok and view.figure is None and view.data["drawn"] == "no"
    assert view.data["params_formula"] == c_in * n + n and f"{c_in * n + n:,}" in view.html
    assert view.data["output"].endswith(f"x{n}") and "Not run" in view.html


@pytest.mark.parametrize("classes,size", [(1, 5), (2, 8), (3, 7), (10, 4)])
def test_conv1x1_equals_linear_per_pixel(classes, size):
    r = head.conv1x1_as_linear(64, classes, size)
    assert r.same and r.max_abs_diff < 1e-5
    assert r.conv_shape == r.linear_shape == (1, classes, size, size)
    assert r.weight_shapes == ((classes, 64, 1, 1), (classes, 64))


def test_conv1x1_check_can_fail():
    """The comparison is not vacuous: a linear layer with other weights gives other numbers."""
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 2, 1)
    linear = nn.Linear(64, 2)  # independent weights
    x = torch.randn(1, 64, 4, 4)
    with torch.no_grad():
        y_lin = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        assert not torch.allclose(conv(x), y_lin, atol=1e-5)


def test_pixel_scores_by_hand():
    layer = head.head_layer(3, 64)
    x = torch.randn(1, 64, 6, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        r = head.pixel_scores(x, layer, 2, 5)
    assert r["vector_length"] == 64 and r["same"] and len(r["by_hand"]) == 3


def test_feature_source_and_segment():
    src = head.feature_source()
    feats = src["features"]
    assert feats.ndim == 4 and feats.shape[0] == 1
    assert src["head"].in_channels == feats.shape[1]
    assert src["weights"] in ("trained", "random weights")
    assert src["mask"].shape == src["image"].shape == feats.shape[-2:]
    # the real UNet's last double conv gives the head its input: same size as the image (same padding)
    r = head.segment(2)
    assert r["scores"].shape == (2, *src["image"].shape)
    assert torch.allclose(r["probs"].sum(0), torch.ones(src["image"].shape), atol=1e-5)
    assert np.array_equal(r["segmentation"], r["probs"].argmax(0).numpy())
    if src["weights"] == "random weights":
        fit = src["fit"]
        assert fit["accuracy_after"] > fit["accuracy_before"] and fit["loss_after"] < fit["loss_before"]
        assert r["mask_agreement"] > 0.75  # the fitted head separates cells from background
        assert r["head_fitted"]


def test_fit_head_folds_standardisation_into_a_plain_conv():
    torch.manual_seed(0)
    feats = torch.rand(1, 8, 12, 12) * 0.01 + 0.5
    mask = (feats[0, 0] > feats[0, 0].median()).numpy().astype(np.uint8)
    layer, fit = head.fit_head(feats, mask, steps=20)
    with torch.no_grad():
        acc = float((layer(feats)[0].argmax(0).numpy() == mask).mean())
    assert abs(acc - fit["accuracy_after"]) <= 5e-4 and acc > 0.9


@pytest.mark.parametrize("classes", [1, 2, 3, 7, 10, 11, 21, head.MAX_CLASSES])
def test_head_view_valid(classes):
    view = head.head_view(classes)
    assert view.ok and view.figure is not None
    d = view.data
    h, w = head.feature_source()["image"].shape
    assert d["output"] == f"{h}x{w}x{classes}" and d["out_channels"] == classes
    assert d["params"] == d["params_formula"] == head.head_params(classes, d["in_channels"])
    # a 1-channel head is read with a sigmoid and a threshold: background and foreground (2 values)
    assert 1 <= d["classes_present"] <= max(classes, 2)
    assert "random weights" in view.html or d["weights"] == "trained"
    if classes == 1:
        assert "sigmoid" in view.html


def test_head_view_default_is_the_papers_two_classes():
    view = head.head_view(**defaults_of(head.controls()))
    d = view.data
    assert d["num_classes"] == 2 and d["params"] == head.head_params(2, d["in_channels"])
    if d["weights"] == "trained":  # the shipped model's head: its own channel count, not the paper's 64
        from unet_lesson.seg.pretrained import load_pretrained

        assert d["in_channels"] == load_pretrained("same").head.in_channels
    else:
        assert d["params"] == 130
    assert view.figure is not None and ("背景" in view.html) == (d["weights"] == "trained")  # names the classes


def test_exercises():
    from unet_lesson.ui.exercises import CodeExercise

    expected = {"5.1": "388x388x3", "5.2": 130, "5.3": 325, "5.4": 1, "5.5": "b", "5.7": "b"}
    for ex in head.EXERCISES:
        assert isinstance(ex, Exercise)
        assert len(ex.hints) == 3, ex.key  # graded: a nudge, the formula, a worked case
        ex.reset()
        assert ex.check().status == "not attempted"
        if isinstance(ex, CodeExercise):
            continue
        assert ex.check(expected[ex.key]).correct
        wrong = ex.check("z" if ex.choices else 999)
        assert wrong.status == "wrong" and "Hint" in wrong.message
        ex.reset()
    assert "bias" in head.EX_PARAMS.check(128).message
    assert "1x1" in head.EX_PARAMS5.check(64 * 5 * 9 + 5).message
    assert "388" in head.EX_SHAPE.check("386x386x3").message
    assert "kernels" in head.EX_SHAPE.check("388x388x64").message
    for ex in head.EXERCISES:
        ex.reset()


def test_the_code_exercise_is_the_head_checker():
    from unet_lesson.ui.checkers import check_head, solutions

    ex = head.EX_HEAD_CODE
    assert ex.checker is check_head and ex.reference is solutions.head
    assert ex.check(solutions.head).correct
    assert not ex.check(lambda f, w, b: w @ f.reshape(f.shape[0], -1)).correct  # no bias, wrong shape
    assert "def head(" in ex.solution().code
    ex.reset()


def test_head_experiment_random_fitted_trained():
    """Only the head learns on random features: well above a random head, below the trained network, on a
    picture none of them was fitted or trained on."""
    r = head.head_experiment()
    runs = {run.name: run for run in r["runs"]}
    rand, fitted = runs["random network, random head"], runs["random network, fitted head"]
    assert rand.learned == 0 and rand.fit_accuracy is None
    src = head.feature_source("random")
    assert fitted.learned == sum(p.numel() for p in src["head"].parameters()) == 64 * 2 + 2
    assert fitted.fit_accuracy == src["fit"]["accuracy_after"] > src["fit"]["accuracy_before"]
    assert fitted.accuracy > rand.accuracy + 0.2 and fitted.accuracy > 0.7
    # scored on a new picture, not the one the head was fitted to
    assert not np.array_equal(r["image"], src["image"]) and r["mask"].shape == src["mask"].shape
    for run in r["runs"]:
        assert run.segmentation.shape == r["mask"].shape
        assert run.accuracy == round(float((run.segmentation == r["mask"]).mean()), 3)
    if r["trained"]:
        trained = runs["trained network, its own head"]
        assert trained.accuracy > fitted.accuracy and trained.learned > 100 * fitted.learned
        assert head.EX_EXPERIMENT.answer == "b"
    from unet_lesson.ui.figures.head import head_experiment_figure, head_experiment_table

    assert head_experiment_table(r).count("<tr") == len(r["runs"]) + 2  # the header and the no-network baseline
    # the baseline: every pixel called the larger class of the new picture's mask
    share = float(np.asarray(r["mask"]).mean())
    assert r["baseline"] == round(max(share, 1 - share), 3) and f"{r['baseline']:.1%}" in head_experiment_table(r)
    assert len(head_experiment_figure(r).axes) == 2 + len(r["runs"])


def test_the_fitted_head_is_the_one_segment_uses():
    r = head.segment(2, weights="random")
    assert r["head_fitted"] and r["weights"] == "random weights" and r["layer"] is head.feature_source("random")["head"]
    assert r["mask_agreement"] == pytest.approx(head.feature_source("random")["fit"]["accuracy_after"], abs=1e-3)


def test_unet_head_is_the_same_layer_kind():
    m = UNet(base_channels=4, num_classes=3, depth=1)
    assert isinstance(m.head, nn.Conv2d) and m.head.kernel_size == (1, 1) and m.head.out_channels == 3
