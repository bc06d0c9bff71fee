"""Overlap-tile (lesson 09): plans, mirroring, stitched predictions, the widget's view and the exercises."""

from __future__ import annotations

import re
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from unet_lesson import InvalidInputSize, UNet, nearest_valid_sizes, output_size, valid_input_sizes  # noqa: E402
from unet_lesson.core.ops import mirror_pad  # noqa: E402
from unet_lesson.core.options import UNetOptions  # noqa: E402
from unet_lesson.core.search import size_rule  # noqa: E402
from unet_lesson.lessons import l09_overlap_tile as L  # noqa: E402
from unet_lesson.seg.data import lesson_sample  # noqa: E402
from unet_lesson.seg.predict import foreground, probabilities  # noqa: E402
from unet_lesson.seg.predict import predict_scores as predict_whole
from unet_lesson.seg.seams import seam_mask, seam_profile, seam_report  # noqa: E402
from unet_lesson.seg.tiling import (  # noqa: E402
    TooManyTiles,
    margin_of,
    plan_naive_tiles,
    plan_tiles,
    predict_naive_tiles,
    predict_tiled,
    shift_differences,
)
from unet_lesson.seg.train import VALID_OPTIONS  # noqa: E402
from unet_lesson.ui.exercises import CodeExercise  # noqa: E402
from unet_lesson.ui.figures.tiling import plot_mirror, plot_plan, plot_seams  # noqa: E402
from unet_lesson.ui.widgets import safe_view  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _model(depth, padding="valid", dtype=torch.float32, seed=0, base_channels=3):
    """A small UNet whose random weights keep the ReLUs alive (He init, small positive biases),
    so its output varies from pixel to pixel and a wrong stitch would show."""
    torch.manual_seed(seed)
    model = UNet(base_channels=base_channels, depth=depth, padding=padding)
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                torch.nn.init.uniform_(m.bias, 0.0, 0.1)
    return model.to(dtype).eval()


def _alive(scores) -> bool:
    """The prediction varies across the image (the network is not dead)."""
    return float(np.std(scores, axis=(-2, -1)).min()) > 1e-3 * max(1.0, float(np.abs(scores).max()))


def _tiles_for(depth, n=2):
    """Valid tile sizes whose output is at least one pooling grid (2**depth) and 16 px: the smallest
    such tile (many small tiles) and one with an output of about 40 px (a few tiles)."""
    sizes = [t for t in valid_input_sizes(600, depth=depth) if output_size(t, depth=depth)[0] >= max(16, 2**depth)]
    larger = next(t for t in sizes if output_size(t, depth=depth)[0] >= 40)
    return [sizes[0], larger][:n]


# ----------------------------------------------------------------------------------
# the margin comes from the network's sizes
# ----------------------------------------------------------------------------------
def test_margin_of_paper_tile_is_half_the_size_difference():
    out = output_size(572)[0]
    assert margin_of(572) == ((572 - out) // 2,) * 2
    assert margin_of(572)[0] == 92  # the paper's Fig. 1: 572 -> 388


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_margin_matches_a_real_forward_pass(depth):
    tile = _tiles_for(depth, 1)[0]
    with torch.no_grad():
        out = _model(depth, dtype=torch.float32)(torch.zeros(1, 1, tile, tile)).shape[-1]
    assert margin_of(tile, depth=depth) == ((tile - out) // 2,) * 2
    assert plan_tiles((50, 70), tile, depth=depth).margin == ((tile - out) // 2,) * 2


# ----------------------------------------------------------------------------------
# the plan: output blocks partition the image, inputs sit inside the padded image
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape", [(1, 1), (5, 130), (37, 53), (64, 64), (100, 61), (388, 388), (389, 777), (512, 512), (1000, 700)]
)
@pytest.mark.parametrize("tile", [572, 204, 380, (572, 380)])
@pytest.mark.parametrize("align", [True, False])
def test_plan_output_blocks_partition_the_image(shape, tile, align):
    plan = plan_tiles(shape, tile, align=align)
    H, W = shape
    count = np.zeros(shape, int)
    t, b, lft, r = plan.padding
    PH, PW = plan.padded_shape
    mh, mw = plan.margin
    assert (PH, PW) == (H + t + b, W + lft + r)
    assert (t, lft) == (mh, mw)
    for tile_ in plan:
        k, o, i = tile_.keep, tile_.output, tile_.input
        count[k.slices] += 1
        # the kept block lies inside the tile's output, which lies inside its input (shifted by the margin)
        assert o.top <= k.top and k.bottom <= o.bottom and o.left <= k.left and k.right <= o.right
        assert (i.height, i.width) == plan.tile and (o.height, o.width) == plan.output
        assert (i.top - t, i.left - lft) == (o.top - mh, o.left - mw)
        assert i.top >= 0 and i.left >= 0 and i.bottom <= PH and i.right <= PW
        if align:
            assert o.top % plan.grid_step == 0 and o.left % plan.grid_step == 0
    assert (count == 1).all()
    assert plan.n_tiles == plan.grid[0] * plan.grid[1] == len(plan.tiles)
    assert plan.stride == (tuple(o - o % plan.grid_step for o in plan.output) if align else plan.output)


def test_paper_plan_for_an_isbi_slice():
    plan = plan_tiles((512, 512), 572)
    assert plan.output == output_size(572)
    assert plan.margin == (92, 92)
    assert plan.stride == (384, 384)  # 388 rounded down to a multiple of 16
    assert plan.grid == (2, 2)
    assert plan_tiles((512, 512), 572, align=False).stride == (388, 388)
    assert "4 tiles" in plan.summary() and "margin 92" in plan.summary()


@pytest.mark.parametrize("shape", [(1, 1), (16, 17), (33, 100), (130, 5)])
@pytest.mark.parametrize("tile", [16, 32, (48, 16)])
def test_naive_plan_partitions_the_image(shape, tile):
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    if th > shape[0] or tw > shape[1]:
        with pytest.raises(ValueError, match="larger than the image"):
            plan_naive_tiles(shape, tile)
        return
    plan = plan_naive_tiles(shape, tile)
    count = np.zeros(shape, int)
    for t in plan:
        assert t.input == t.output
        assert t.input.bottom <= shape[0] and t.input.right <= shape[1]
        count[t.keep.slices] += 1
    assert (count == 1).all()


# ----------------------------------------------------------------------------------
# mirroring
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(7, 9), (2, 2), (10, 3)])
def test_mirror_pad_is_numpys_reflect(shape):
    a = np.arange(np.prod(shape), dtype=float).reshape(shape)
    p = (1, min(shape) - 1, 0, 1)
    assert np.array_equal(mirror_pad(a, *p), np.pad(a, ((p[0], p[1]), (p[2], p[3])), mode="reflect"))


def test_mirror_pad_wider_than_the_image_keeps_mirroring_consistently():
    a = np.random.default_rng(0).random((3, 5, 4))
    big = mirror_pad(a, 20, 31, 17, 9)
    small = mirror_pad(a, 2, 3, 1, 1)
    assert big.shape == (3, 5 + 51, 4 + 26)
    assert np.array_equal(big[:, 18 : 18 + small.shape[1], 16 : 16 + small.shape[2]], small)
    assert np.array_equal(mirror_pad(np.ones((1, 1)), 3, 3, 3, 3), np.ones((7, 7)))


def test_mirror_pad_rejects_bad_padding():
    with pytest.raises(ValueError, match="padding top must be at least 0"):
        mirror_pad(np.zeros((4, 4)), -1, 0, 0, 0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        mirror_pad(np.zeros(4), 1, 1, 1, 1)


# ----------------------------------------------------------------------------------
# the central claim: overlap-tile equals the whole-image prediction
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("shape", [(37, 53), (100, 61), (5, 130), (64, 64), (1, 9)])
def test_tiled_prediction_equals_whole_image_prediction(depth, shape):
    model = _model(depth)
    image = np.random.default_rng(sum(shape)).random(shape).astype(np.float32)
    whole = predict_whole(model, image)
    assert whole.shape == (2, *shape)
    assert _alive(whole) or min(shape) == 1
    for tile in _tiles_for(depth):
        tiled = predict_tiled(model, image, tile)
        assert tiled.shape == whole.shape
        np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-5 * max(1.0, np.abs(whole).max()))


def test_tiled_prediction_equals_whole_image_prediction_in_float64():
    model = _model(4, dtype=torch.float64)
    image = np.random.default_rng(0).random((41, 23))
    whole = predict_whole(model, image)
    assert _alive(whole)
    # float64 inside, float32 out: agreement to float32 rounding
    np.testing.assert_allclose(predict_tiled(model, image, _tiles_for(4)[0]), whole, rtol=1e-6, atol=1e-7)


def test_tiled_prediction_equals_whole_in_float32_and_for_three_channels():
    torch.manual_seed(1)
    model = UNet(in_channels=3, num_classes=3, base_channels=4, depth=3).eval()
    image = np.random.default_rng(3).random((3, 45, 71)).astype(np.float32)
    whole = predict_whole(model, image)
    assert _alive(whole)
    np.testing.assert_allclose(predict_tiled(model, image, 108), whole, atol=1e-5 * np.abs(whole).max())


def test_paper_step_is_not_exact_but_aligned_step_is():
    """Stepping by the whole output tile (388-like, not a multiple of 2**depth) moves the pooling grid."""
    model = _model(3)
    image = np.random.default_rng(0).random((60, 60))
    tile = next(t for t in _tiles_for(3, 10) if output_size(t, depth=3)[0] % 8)
    whole = predict_whole(model, image)
    assert _alive(whole)
    assert (
        np.abs(predict_tiled(model, image, tile, align=False) - whole).max()
        > 1e3 * np.abs(predict_tiled(model, image, tile) - whole).max()
    )


def test_predict_restores_training_mode_and_accepts_tensors():
    model = _model(2).train()
    image = torch.rand(1, 1, 20, 30, dtype=torch.float64)
    out = predict_tiled(model, image, _tiles_for(2)[0])
    assert model.training and out.shape == (2, 20, 30) and out.dtype == np.float32


# ----------------------------------------------------------------------------------
# naive tiles of the same-padding network
# ----------------------------------------------------------------------------------
def test_naive_tile_is_the_network_run_on_that_tile_alone():
    model = _model(2, "same", dtype=torch.float64)
    image = np.random.default_rng(0).random((24, 40))
    naive = predict_naive_tiles(model, image, 16)
    with torch.no_grad():
        alone = model(torch.as_tensor(image[:16, 16:32], dtype=torch.float64)[None, None]).numpy()[0]
    np.testing.assert_allclose(naive[:, :16, 16:32], alone, atol=1e-6)
    # the last column of tiles is moved back to end at the border: it covers 24..40
    with torch.no_grad():
        last = model(torch.as_tensor(image[8:24, 24:40], dtype=torch.float64)[None, None]).numpy()[0]
    np.testing.assert_allclose(naive[:, 16:24, 32:40], last[:, 8:16, 8:16], atol=1e-6)


def test_predict_whole_of_the_same_net_is_one_forward_pass_for_a_valid_size():
    model = _model(2, "same", dtype=torch.float64)
    image = np.random.default_rng(0).random((32, 48))
    with torch.no_grad():
        direct = model(torch.as_tensor(image)[None, None]).numpy()[0]
    np.testing.assert_allclose(predict_whole(model, image), direct, atol=1e-6)


def test_naive_tiles_show_seams_and_overlap_tile_does_not():
    same, valid = _model(3, "same", seed=2), _model(3, seed=2)
    image = lesson_sample((64, 96), seed=0).image
    plan = plan_naive_tiles(image.shape, 32, depth=3)
    naive = foreground(predict_naive_tiles(same, image, 32))
    rep = seam_report(naive, foreground(predict_whole(same, image)), plan)
    assert rep["seams"] > 1e-2 and rep["mean_seams"] > 2 * rep["mean_elsewhere"]
    tile = _tiles_for(3)[1]
    tplan = plan_tiles(image.shape, tile, depth=3)
    assert tplan.n_tiles > 1
    rep_t = seam_report(foreground(predict_tiled(valid, image, tile)), foreground(predict_whole(valid, image)), tplan)
    assert rep_t["seams"] < 1e-5 and rep_t["elsewhere"] < 1e-5


def test_seam_mask_marks_only_internal_borders():
    plan = plan_naive_tiles((32, 48), 16)
    m = seam_mask(plan, width=1)
    assert m[15:17, :].all() and m[:, 15:17].all() and m[:, 31:33].all()
    assert not m[0].any() or m[0, 15:17].all()
    assert not m[5, 5] and not m[-1, -1]


def test_probabilities_sum_to_one_and_foreground_is_class_one():
    s = np.random.default_rng(0).normal(size=(2, 4, 5))
    p = probabilities(s)
    np.testing.assert_allclose(p.sum(0), 1, atol=1e-6)
    np.testing.assert_allclose(foreground(s), 1 / (1 + np.exp(s[0] - s[1])), atol=1e-6)
    np.testing.assert_allclose(foreground(s[:1]), 1 / (1 + np.exp(-s[0])), atol=1e-6)


# ----------------------------------------------------------------------------------
# clear messages
# ----------------------------------------------------------------------------------
def test_invalid_tile_names_the_nearest_valid_tile_sizes():
    below, above = nearest_valid_sizes(600)
    with pytest.raises(InvalidInputSize) as e:
        plan_tiles((512, 512), 600)
    msg = str(e.value)
    assert msg.startswith("Tile size 600 cannot be used")
    assert f"{below} (output {output_size(below)[0]})" in msg and f"{above} (output {output_size(above)[0]})" in msg
    assert "max pool" in msg
    assert e.value.nearest == (below, above)


def test_invalid_tile_width_is_named():
    with pytest.raises(InvalidInputSize, match="Tile width 600"):
        plan_tiles((512, 512), (572, 600))
    with pytest.raises(InvalidInputSize, match="Tile height 571"):
        plan_tiles((512, 512), (571, 572))


@pytest.mark.parametrize(
    "bad, words",
    [
        (0, "at least 1"),
        (-572, "at least 1"),
        (57.5, "57 or 58"),
        ("572", "whole number"),
        ((572, 572, 1), "height, width"),
        (True, "whole number"),
    ],
)
def test_bad_tile_values(bad, words):
    with pytest.raises(ValueError, match=words):
        plan_tiles((512, 512), bad)


@pytest.mark.parametrize("bad", [0, -5, (10, 0), 2.5])
def test_bad_image_sizes(bad):
    with pytest.raises(ValueError, match="image size"):
        plan_tiles(bad, 572)


def test_tile_whose_output_is_smaller_than_the_pooling_grid():
    smallest = valid_input_sizes(300)[0]
    with pytest.raises(InvalidInputSize, match=r"smaller than the network's pooling grid of 16 px") as e:
        plan_tiles((100, 100), smallest)
    assert e.value.above > smallest and output_size(e.value.above)[0] >= 16
    assert plan_tiles((100, 100), smallest, align=False).stride == output_size(smallest)


def test_same_padding_is_not_for_overlap_tile_and_valid_is_not_for_naive_tiles():
    with pytest.raises(ValueError, match="predict_naive_tiles"):
        plan_tiles((100, 100), 64, padding="same")
    with pytest.raises(ValueError, match="predict_tiled"):
        predict_naive_tiles(_model(2), np.zeros((32, 32)), 16)
    with pytest.raises(ValueError, match="predict_naive_tiles"):
        predict_tiled(_model(2, "same"), np.zeros((32, 32)), 16)
    with pytest.raises(InvalidInputSize, match="Tile size 20 cannot be used.*Nearest valid tile sizes: 16"):
        plan_naive_tiles((64, 64), 20, depth=3)


def test_too_many_tiles_and_wrong_channels():
    with pytest.raises(TooManyTiles, match="tiles"):
        plan_tiles((5000, 5000), 204, max_tiles=100)
    with pytest.raises(ValueError, match="3 channels but the network expects 1"):
        predict_tiled(_model(2), np.zeros((3, 20, 20)), _tiles_for(2)[0])


# ----------------------------------------------------------------------------------
# pictures
# ----------------------------------------------------------------------------------
def test_pictures_draw():
    plan = plan_tiles((300, 420), 380)
    img = lesson_sample((64, 80)).image
    assert len(plot_plan(plan).axes) == 2
    assert len(plot_plan(plan_tiles(img.shape, 204), image=img, highlight=3).axes) == 2
    assert len(plot_mirror(img, 20).axes) == 2
    f = np.zeros((64, 80))
    assert len(plot_seams(img, f, f, f, plan_naive_tiles(f.shape, 32), plan_tiles(f.shape, 204)).axes) == 4


# ----------------------------------------------------------------------------------
# the widget's view function
# ----------------------------------------------------------------------------------
def test_plan_view_default_matches_plan_tiles():
    v = L.plan_view()
    plan = plan_tiles(L.ISBI_IMAGE, L.PAPER_TILE)
    assert v.ok and v.figure is not None
    assert v.data["tile"] == 572 and v.data["output"] == plan.output[0] and v.data["margin"] == plan.margin[0]
    assert v.data["tiles"] == plan.n_tiles and (v.data["rows"], v.data["cols"]) == plan.grid
    assert v.data["step"] == plan.stride[0] and v.data["valid"] == 1
    assert "margin" in v.html and str(plan.margin[0]) in v.html


@pytest.mark.parametrize(
    "tile, h, w, depth, align",
    [
        (380, 700, 1000, 4, True),
        (204, 37, 53, 4, False),
        (100, 99, 101, 3, True),
        (44, 5, 7, 2, True),
        (22, 9, 9, 1, False),
    ],
)
def test_plan_view_valid_settings(tile, h, w, depth, align):
    v = safe_view(L.plan_view, tile=tile, height=h, width=w, depth=depth, align=align)
    plan = plan_tiles((h, w), tile, depth=depth, align=align)
    assert v.ok, v.error
    assert (v.data["tiles"], v.data["margin"], v.data["output"]) == (plan.n_tiles, plan.margin[0], plan.output[0])


def test_plan_view_invalid_tile_shows_nearest_valid_sizes():
    v = safe_view(L.plan_view, tile=600)
    below, above = nearest_valid_sizes(600)
    assert not v.ok and "600" in v.error and str(below) in v.error and str(above) in v.error
    assert (v.data["below"], v.data["above"]) == (below, above)
    assert f"{below} gives margin {margin_of(below)[0]}" in v.error and f"{above} gives margin" in v.error
    assert "ul-error" in v.body_html()


@pytest.mark.parametrize(
    "values, words",
    [
        (dict(tile=-1), "at least 1"),
        (dict(height=0), "at least 1"),
        (dict(width=-3), "at least 1"),
        (dict(tile=204, height=20000), "too many"),
        (dict(tile=188), "pooling grid"),
        (dict(depth=5, tile=580), "Nearest valid"),
    ],
)
def test_plan_view_bad_settings_explain(values, words):
    v = safe_view(L.plan_view, **values)
    assert not v.ok and words in v.error


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_every_depth_gives_a_view_or_a_message(depth):
    v = safe_view(L.plan_view, depth=depth)
    assert v.ok or "Nearest valid tile sizes" in v.error


def test_tile_message():
    assert "margin (572 - 388)/2 = 92" in L.tile_message(572)
    assert "Nearest valid tile sizes" in L.tile_message(600)


def test_controls_start_at_the_views_defaults():
    from unet_lesson.ui.widgets import defaults_of

    v = L.plan_view(**defaults_of(L.controls()))
    assert v.ok and v.data == L.plan_view().data


# ----------------------------------------------------------------------------------
# exercises and the lesson's models
# ----------------------------------------------------------------------------------
def test_exercises_expect_what_the_package_computes():
    assert L.EX_MARGIN.answer == margin_of(572)[0]
    assert L.EX_NEAREST.answer == nearest_valid_sizes(600)[1]
    assert L.EX_SHIFT.answer == 2 ** UNetOptions(**VALID_OPTIONS).depth
    assert L.EX_TILES.answer == plan_tiles((1160, 700), 572).n_tiles
    for ex in (L.EX_MARGIN, L.EX_NEAREST, L.EX_SHIFT, L.EX_TILES, L.EX_WHY):
        ex.reset()
        assert ex.check().status == "not attempted"  # the right answers: tests/test_exercise_answers.py
        assert ex.check("zzz").status == "wrong"
        ex.reset()
    assert "both sides" in L.EX_MARGIN.check(572 - output_size(572)[0]).message
    assert "below 600" in L.EX_NEAREST.check(nearest_valid_sizes(600)[0]).message
    assert "pool" in L.EX_SHIFT.check(8).message and "smaller shift" in L.EX_SHIFT.check(32).message
    # the whole output tile as the step gives 6 tiles for 1160 x 700: the slip is named
    assert plan_tiles((1160, 700), 572, align=False).n_tiles == 6
    assert "whole output tile" in L.EX_TILES.check(6).message
    assert "mirroring only fills" in L.EX_WHY.check("a").message
    for ex in L.EXERCISES:
        ex.reset()


def test_every_exercise_has_three_graded_hints_shown_one_per_wrong_try():
    for ex in L.EXERCISES:
        assert len(ex.hints) == 3, ex.key
        ex.reset()
        if isinstance(ex, CodeExercise):

            def wrong(depth):
                return depth - 100
        else:
            wrong = next(c for c in ex.choices if c != ex.answer) if ex.choices else -7
        shown = [ex.check(wrong).message for _ in range(4)]
        for k, hint in enumerate(ex.hints):
            assert hint in shown[k] and (k == 2 or ex.hints[k + 1] not in shown[k]), (ex.key, k)
        assert ".solution()" in shown[3]
        assert ex.solution().explanation
        ex.reset()


def test_no_exercise_states_its_answer_in_its_question_or_hints():
    for ex in (L.EX_MARGIN, L.EX_NEAREST, L.EX_SHIFT, L.EX_TILES):
        for text in (ex.question, *ex.hints):
            assert not re.search(rf"(?<!\d){ex.answer}(?!\d)", text), (ex.key, text)


def test_margin_code_exercise_accepts_the_reference_and_names_typical_slips():
    from unet_lesson.ui.checkers import check_margin, solutions

    ex = L.EX_MARGIN_CODE
    assert ex.check().status == "not attempted"
    assert ex.check(solutions.margin).correct

    def closed_form(depth):
        return 6 * 2**depth - 4

    def from_the_package(depth):  # another right way: ask the real sizes
        tile = size_rule(depth=depth).first
        return (tile - output_size(tile, depth=depth)[0]) // 2

    assert check_margin(closed_form).status == "correct"
    assert check_margin(from_the_package).status == "correct"
    slips = {
        "no bottom": (lambda d: 4 * 2**d - 4, "the bottom"),
        "contracting path only and the bottom": (lambda d: 2 * (2**d - 1) + 2 * 2**d, "expanding path"),
        "one input pixel per conv": (lambda d: 4 * d + 2, "smaller map"),
        "both sides": (lambda d: 12 * 2**d - 8, "per side"),
        "one conv per level": (lambda d: 2 * (2**d - 1) + 2**d, "two 3x3 convs"),
    }
    for name, (wrong, words) in slips.items():
        r = check_margin(wrong)
        assert r.status == "wrong", name
        assert "depth=4" in r.message and "the real U-Net gives 92" in r.message, (name, r.message)
        assert words in r.diagnosis, (name, r.diagnosis)
    # right at depth 4 only (a hard-coded 92): the first other depth fails
    r = check_margin(lambda d: 92 + 0 * d)  # (a bare "return 92" reads as a stub to the engine)
    assert r.status == "wrong" and "depth=1" in r.message and r.cases == 1
    # an exception in the student's code is a case, not a traceback
    r = check_margin(lambda d: 1 // 0)
    assert r.status == "wrong" and "ZeroDivisionError" in r.message


def test_margin_checker_measures_a_real_forward_pass():
    from unet_lesson.ui.checkers.tiling import RUN_UP_TO_DEPTH, real_margin

    for depth in range(1, RUN_UP_TO_DEPTH + 1):
        tile = valid_input_sizes(400, depth=depth)[0]
        with torch.no_grad():
            out = _model(depth, base_channels=1)(torch.zeros(1, 1, tile, tile)).shape[-1]
        assert real_margin(depth) == (tile - out) // 2 == margin_of(tile, depth=depth)[0]
    assert [real_margin(d) for d in range(1, 9)] == [6 * 2**d - 4 for d in range(1, 9)]


def test_lesson_models_fall_back_to_random_weights(monkeypatch):
    import unet_lesson.seg.pretrained

    monkeypatch.setattr(unet_lesson.seg.pretrained, "_shipped", lambda padding: (None, "none shipped (test)"))
    valid, same, note = L.lesson_models(base_channels=2)
    assert valid.options.padding == "valid" and same.options.padding == "same"
    assert note.count("random weights") == 2
    assert not valid.training and not same.training


def test_lesson_image_has_a_mask():
    s = lesson_sample((40, 48), seed=1)
    img, mask = s.image, s.mask
    assert img.shape == (40, 48) and img.dtype == np.float32 and mask.shape == (40, 48)


def test_seam_profile_of_naive_tiles_fades_with_distance_and_overlap_tile_is_flat():
    same, valid = _model(3, "same", seed=2), _model(3, seed=2)
    image = lesson_sample((64, 96), seed=0).image
    nplan = plan_naive_tiles(image.shape, 32, depth=3)
    rows = seam_profile(
        foreground(predict_naive_tiles(same, image, 32)), foreground(predict_whole(same, image)), nplan, edges=(0, 2, 8)
    )
    assert [r["band"] for r in rows] == ["0-2 px", "2-8 px", ">= 8 px"]
    assert sum(r["pixels"] for r in rows) == image.size
    assert rows[0]["mean"] > rows[1]["mean"] > rows[2]["mean"]
    tile = _tiles_for(3)[1]
    flat = seam_profile(
        foreground(predict_tiled(valid, image, tile)),
        foreground(predict_whole(valid, image)),
        plan_tiles(image.shape, tile, depth=3),
    )
    assert max(r["max"] for r in flat) < 1e-5


def test_seam_profile_rejects_maps_of_different_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        seam_profile(np.zeros((4, 4)), np.zeros((4, 5)), plan_naive_tiles((4, 4), 4, depth=2))


# ----------------------------------------------------------------------------------
# the step: only shifts by a multiple of 2**depth move the output along exactly
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_only_shifts_by_a_multiple_of_the_pooling_grid_move_the_output_exactly(depth):
    model = _model(depth)
    image = lesson_sample((48, 40), seed=1).image
    tile = _tiles_for(depth)[1]
    g = 2**depth
    shifts = [s for s in range(1, 2 * g + 1) if s < output_size(tile, depth=depth)[0]]
    rows = shift_differences(model, image, tile, shifts)
    assert [r["shift"] for r in rows] == shifts and all(r["remainder"] == r["shift"] % g for r in rows)
    for r in rows:
        assert r["rows"] == output_size(tile, depth=depth)[0] - r["shift"]
        if r["shift"] % g == 0:
            assert r["max"] < 1e-5, r
        else:
            assert r["max"] > 1e-4, r


def test_shift_differences_is_two_real_forward_passes():
    model = _model(2, dtype=torch.float64)
    image = np.random.default_rng(0).random((30, 30))
    tile, s = _tiles_for(2)[1], 8
    m, out = margin_of(tile, depth=2)[0], output_size(tile, depth=2)[0]
    padded = mirror_pad(image[None], m, tile + s, m, tile)
    with torch.no_grad():
        a = foreground(model(torch.as_tensor(padded[None, :, :tile, :tile])).numpy()[0])
        b = foreground(model(torch.as_tensor(padded[None, :, s : s + tile, :tile])).numpy()[0])
    (row,) = shift_differences(model, image, tile, [s])
    assert row["max"] == pytest.approx(float(np.abs(b[: out - s] - a[s:]).max()), abs=1e-6)


@pytest.mark.parametrize(
    "shifts, words",
    [
        ([0], "from 1 to"),
        ([10**9], "for the two outputs to overlap"),
        ([2.5], "whole number"),
        ("12", "list of 1 to 64"),
        ([], "1 to 64"),
    ],
)
def test_shift_differences_refuses_bad_shifts(shifts, words):
    with pytest.raises(ValueError, match=words):
        shift_differences(_model(2), np.zeros((20, 20)), _tiles_for(2)[1], shifts)
    with pytest.raises(ValueError, match="same"):
        shift_differences(_model(2, "same"), np.zeros((20, 20)), 16, [4])


# ----------------------------------------------------------------------------------
# issue 11: any value answers at once, with a message, and without memory
# ----------------------------------------------------------------------------------
HOSTILE = [10**12, 10**400, -5, 0, 2.5, 572.0, float("nan"), float("inf"), "572", "abc", None, True]


def _quick(fn, **kw):
    """Call fn; return its result or the ValueError; fail if it takes more than a generous 10 s (a hang)."""
    start = time.perf_counter()
    try:
        result = fn(**kw)
    except ValueError as e:
        result = e
    assert time.perf_counter() - start < 10, (fn, kw)
    return result


@pytest.mark.parametrize("name", ["tile", "height", "width", "depth", "align"])
@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_plan_view_answers_every_value_a_control_can_hold(name, value):
    v = _quick(safe_view, view_fn=L.plan_view, **{name: value})
    assert v.ok or (v.error and "Unexpected" not in v.error), (name, value, v.error)
    if (name == "align" and value is not True) or (
        name not in ("depth", "align") and value in (-5, 0, 2.5, "abc", None, True)
    ):
        assert not v.ok
    if name in ("tile", "height", "width") and isinstance(value, float) and value == 572.0:
        assert v.ok


@pytest.mark.parametrize("depth", list(range(-1, 10)) + [2.5, 10**30])
def test_plan_view_every_depth(depth):
    v = _quick(safe_view, view_fn=L.plan_view, depth=depth)
    if depth in (1, 2, 3, 4, 5):
        assert v.ok or "Nearest valid tile sizes" in v.error
    elif not (isinstance(depth, int) and 1 <= depth <= 8):
        assert not v.ok and "depth" in v.error and ("from 1 to 8" in v.error or "whole number" in v.error)
    else:  # 572 is not a valid tile that deep: the nearest are named
        assert not v.ok and "Nearest valid tile sizes" in v.error


def test_plan_view_deepest_network_and_a_huge_valid_tile_answer():
    tile = valid_input_sizes(3400, depth=8)[-1]
    assert safe_view(L.plan_view, tile=tile + 256 * 3, height=5000, width=5000, depth=8).ok
    huge = 188 + 16 * 10**20  # valid: one tile covers the image, the padding is enormous, nothing is allocated
    v = _quick(safe_view, view_fn=L.plan_view, tile=huge)
    assert v.ok and v.data["tiles"] == 1 and v.data["margin"] == 92
    assert v.figure is None and "Not drawn" in v.html  # the image would be a dot: the numbers only
    assert L.plan_view(tile=572, height=37, width=53).figure is not None  # a small image is still drawn


def test_too_many_tiles_are_refused_with_the_numbers():
    v = safe_view(L.plan_view, tile=204, height=20000, width=3000)
    plan_grid = (-(-20000 // 16), -(-3000 // 16))
    assert not v.ok and f"{plan_grid[0]:,} x {plan_grid[1]:,} = {plan_grid[0] * plan_grid[1]:,} tiles" in v.error
    assert f"at most {L.MAX_DRAWN_TILES}" in v.error
    with pytest.raises(TooManyTiles) as e:
        plan_tiles((10**400, 10), 572)
    assert e.value.grid[1] == 1 and "more than 10^300" in str(e.value) and len(str(e.value)) < 400
    with pytest.raises(TooManyTiles, match=r"2,604,166,667 x 2 = 5,208,333,334 tiles, more than max_tiles=10,000"):
        plan_tiles((10**12, 700), 572)
    # the default keeps planning under a second: 10,000 tiles at most
    assert plan_tiles((384 * 100, 384 * 100), 572).n_tiles == 10_000
    with pytest.raises(TooManyTiles, match="10,201 tiles"):
        plan_tiles((384 * 101, 384 * 101), 572)


def test_naive_plans_refuse_too_many_tiles_without_building_them():
    r = _quick(plan_naive_tiles, image_shape=(10**9, 10**9), tile=16, depth=3)
    assert isinstance(r, TooManyTiles) and "62,500,000 x 62,500,000 = 3.9e+15 tiles" in str(r), r
    assert plan_naive_tiles((64, 64), 16, depth=3, max_tiles=16).n_tiles == 16
    with pytest.raises(TooManyTiles, match="= 16 tiles, more than max_tiles=15"):
        plan_naive_tiles((64, 64), 16, depth=3, max_tiles=15)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4", None, True])
def test_batch_size_and_max_tiles_are_parsed(bad):
    model, same = _model(2), _model(2, "same")
    with pytest.raises(ValueError, match="batch_size"):
        predict_tiled(model, np.zeros((20, 20)), _tiles_for(2)[0], batch_size=bad)
    with pytest.raises(ValueError, match="batch_size"):
        predict_naive_tiles(same, np.zeros((32, 32)), 16, batch_size=bad)
    with pytest.raises(ValueError, match="max_tiles"):
        plan_tiles((100, 100), 572, max_tiles=bad)
    with pytest.raises(ValueError, match="align must be True or False"):
        plan_tiles((100, 100), 572, align="no")


def test_a_huge_tile_is_refused_before_anything_is_allocated():
    huge = 188 + 16 * 10**6  # valid, but a 16-million-pixel-wide tile would mirror-pad to terabytes
    r = _quick(predict_tiled, model=_model(4), image=np.zeros((8, 8)), tile_size=huge)
    assert isinstance(r, ValueError) and "larger than this function runs" in str(r)
    r = _quick(shift_differences, model=_model(4), image=np.zeros((8, 8)), tile_size=huge, shifts=[16])
    assert isinstance(r, ValueError) and "larger than this function runs" in str(r)


def test_tile_message_answers_any_value():
    for value in HOSTILE:
        assert isinstance(_quick(L.tile_message, tile=value), str)


# ----------------------------------------------------------------------------------
# the lesson's tables
# ----------------------------------------------------------------------------------
def test_departures_name_what_differs_from_the_paper():
    valid = UNet(**VALID_OPTIONS)
    same = UNet(padding="same", depth=3, base_channels=8)
    h = L.departures_html(valid, same)
    assert "batch_norm" in h and "base_channels" in h and "eval mode" in h
    assert h.count("<tr") == 1 + 2 + 4  # header; valid: channels, BN; same: padding, depth, channels, BN
    assert "paper&#x27;s layout" in L.departures_html(UNet()) or "paper's layout" in L.departures_html(UNet())


def test_experiment_tables_show_the_numbers():
    rows = [{"shift": 4, "remainder": 4, "rows": 10, "max": 0.25}, {"shift": 16, "remainder": 0, "rows": 2, "max": 0.0}]
    h = L.shift_html(rows, 16)
    assert "s mod 16" in h and "0.25" in h and "moves along exactly" in h and "changes" in h
    whole = np.zeros((2, 4, 4), np.float32)
    other = whole.copy()
    other[1, 0, 0] = 2.0
    h = L.stitch_html(whole, {"aligned": whole, "off": other})
    assert "aligned" in h and ">0<" in h and ">2<" in h and f"{float(foreground(other)[0, 0]) - 0.5:.3g}" in h
    h = L.seams_html([{"band": "0-2 px", "max": 0.5}], [{"band": "0-2 px", "max": 0.0}])
    assert "0.500" in h and "0.000" in h
