"""Lesson 04 (copy and crop): view functions and exercises, checked against unet_lesson and real layers."""

import time

import numpy as np
import pytest
import torch
from torch import nn

from unet_lesson import CropAndConcat, InvalidInputSize, UNet, center_crop_box, nearest_valid_sizes, shape_table
from unet_lesson.lessons import l04_copy_and_crop as crop
from unet_lesson.ui.exercises import CodeExercise
from unet_lesson.ui.widgets import safe_view

PAPER_CROPS = [(568, 392), (280, 200), (136, 104), (64, 56)]  # the notes' four crops, top of the U first


def test_paper_crops_at_all_four_levels():
    levels = crop.crop_levels(572)
    assert [(c.source[0], c.target[0]) for c in levels] == PAPER_CROPS
    assert [(c.source[0], c.target[0]) for c in levels] == shape_table(572).crops
    assert [c.channels for c in levels] == [64, 128, 256, 512]
    assert all(c.centered for c in levels)
    assert [c.top for c in levels] == [88, 40, 16, 4]


@pytest.mark.parametrize("size", [188, 204, 572, 588])
def test_crops_match_a_real_forward_pass(size):
    """The crop sizes are those of the real UNet's CenterCrop outputs (small channels: same sizes)."""
    from unet_lesson.core.inspect import recorded_shapes

    model = UNet(base_channels=2).eval()
    names = [f"concats.{i}.crop" for i in range(4)]
    shapes = recorded_shapes(model, torch.zeros(1, 1, size, size), names)
    levels = {c.level: c for c in crop.crop_levels(size)}
    for i, name in enumerate(names):
        assert shapes[name][-2:] == levels[4 - i].target


def test_same_padding_crop_vanishes():
    for c in crop.crop_levels(576, padding="same"):
        assert c.source == c.target and (c.top, c.bottom, c.left, c.right) == (0, 0, 0, 0)
    view = crop.crop_levels_view(576, padding="same")
    assert view.data["crop1"] == "576->576"


@pytest.mark.parametrize(
    "padding,size",
    [("valid", 573), ("valid", 571), ("valid", 100), ("same", 572), ("same", 570), ("valid", 0), ("valid", -5)],
)
def test_crop_levels_view_invalid_sizes_explain(padding, size):
    view = safe_view(crop.crop_levels_view, input_size=size, padding=padding)
    assert not view.ok
    assert "Input size" in view.error or "at least 1" in view.error


def test_ledger_explains_the_difference():
    for level, (src, dst) in zip((1, 2, 3, 4), PAPER_CROPS):
        steps = crop.crop_ledger(level, 572)
        assert steps[0][1] == src and steps[-1][2] == dst  # from the copied map to the up-conv's map
        assert all(b == a - 2 for op, a, b in steps if op.startswith("3x3"))
        view = crop.crop_ledger_view(level)
        assert view.data["difference"] == src - dst
    assert crop.crop_ledger_view(4).data["convs"] == 2  # only the bottom's two convs: 64 -> 32 -> 30 -> 28 -> 56
    assert crop.crop_ledger_view(1).data["convs"] == 14
    same = crop.crop_ledger_view(1, 576, "same")
    assert same.data["difference"] == 0


@pytest.mark.parametrize("bad", [0, 5, -1, 1.5, "2"])
def test_ledger_bad_level(bad):
    assert not safe_view(crop.crop_ledger_view, level=bad).ok


def test_concat_doubles_channels_with_the_real_module():
    r = crop.concat_shapes(64, 56, 512)
    assert r["copied"] == (64, 64, 512) and r["up"] == (56, 56, 512) and r["concat"] == (56, 56, 1024)
    # and the module really took the centre: mark the copied map's centre window and find it
    skip = torch.zeros(1, 1, 64, 64)
    skip[..., 4:60, 4:60] = 1
    out = CropAndConcat()(torch.zeros(1, 1, 56, 56), skip)
    assert out[:, 0].min() == 1


def test_concat_refuses_a_larger_up_map():
    with pytest.raises(ValueError):
        crop.concat_shapes(56, 64, 8)


@pytest.mark.parametrize("source,target", [(8, 6), (9, 6), (10, 7), (64, 56), (65, 56), (6, 6), (1, 1)])
def test_grid_view_even_and_odd(source, target):
    view = crop.crop_grid_view(source, target)
    box = center_crop_box(source, target)
    assert (view.data["top"], view.data["bottom"]) == (box.top, box.bottom)
    odd = (source - target) % 2 == 1
    assert view.data["centered"] == str(not odd)
    assert view.data["shift"] == (-0.5 if odd else 0.0)
    assert box.bottom - box.top == (1 if odd else 0)  # the extra row goes to the bottom


@pytest.mark.parametrize(
    "source,target", [(6, 8), (0, 0), (-3, 2), (8.5, 6), ("9", 6), (float("nan"), 2), (10**101, 2)]
)
def test_grid_view_invalid(source, target):
    view = safe_view(crop.crop_grid_view, source=source, target=target)
    assert not view.ok and view.error


@pytest.mark.parametrize("source,target", [(129, 4), (10**9, 3), (10**30 + 1, 10**30 - 8)])
def test_grid_view_beyond_the_picture_still_answers(source, target):
    view = crop.crop_grid_view(source, target)
    box = center_crop_box(source, target)
    assert view.ok and view.figure is None and "Not drawn" in view.html
    assert (view.data["top"], view.data["bottom"], view.data["drawn"]) == (box.top, box.bottom, False)


def test_odd_input_message_names_layer_and_nearest():
    msg = crop.odd_input_message(573)
    assert "level 1" in msg and "572" in msg and "588" in msg and "even" in msg
    assert crop.odd_input_message(572) == ""
    assert "143" in crop.odd_input_message(572, "same")


@pytest.mark.parametrize("level,expected", [(1, (2.0, 1)), (2, (6.5, 2)), (3, (15.5, 4)), (4, (33.5, 8))])
def test_input_position_valid(level, expected):
    start, jump = crop.input_position(level, 572)
    assert (start, jump) == expected
    # the kept window is centred on the input when the crop is centred
    c = crop.crop_levels(572)[level - 1]
    centre = start + (c.top + (c.target[0] - 1) / 2) * jump
    assert centre == (572 - 1) / 2


def test_input_position_matches_a_real_impulse():
    """A copied-map pixel really is centred on the input pixel input_position says (level 1 and 2)."""
    torch.manual_seed(0)
    model = UNet(base_channels=2).eval()
    with torch.no_grad():  # positive weights, no bias: an impulse lights up its whole footprint, symmetrically
        for name, param in model.named_parameters():
            param.copy_(param.abs() if name.endswith("weight") else torch.zeros_like(param))
    from unet_lesson.core.inspect import feature_maps

    for level in (1, 2):
        start, jump = crop.input_position(level, 188)
        img = np.zeros((188, 188), np.float32)
        p = 20
        centre = int(start + p * jump)
        img[centre, centre] = 1.0
        base = feature_maps(model, np.zeros_like(img), modules=[f"down_convs.{level - 1}"])[f"down_convs.{level - 1}"]
        hit = feature_maps(model, img, modules=[f"down_convs.{level - 1}"])[f"down_convs.{level - 1}"]
        changed = (hit - base).abs().sum(dim=(0, 1)) > 0
        ys, xs = torch.nonzero(changed, as_tuple=True)
        # the changed region of the copied map is centred on pixel p (within half a step)
        assert abs(ys.float().mean().item() - p) <= 0.5 and abs(xs.float().mean().item() - p) <= 0.5


@pytest.mark.parametrize(
    "args",
    [
        (572, 1, "valid"),
        (572, 4, "valid"),
        (188, 2, "valid"),
        (204, 3, "valid"),
        (576, 1, "same"),
        (64, 4, "same"),
        (48, 2, "same"),
    ],
)
def test_crop_view_valid(args):
    size, level, padding = args
    view = crop.crop_view(size, level, padding)
    assert view.ok and view.figure is not None
    c = crop.crop_levels(size, padding)[level - 1]
    box = center_crop_box(c.source, c.target)
    d = view.data
    assert (d["source"], d["target"], d["top"], d["left"], d["bottom"], d["right"]) == (
        c.source[0],
        c.target[0],
        box.top,
        box.left,
        box.bottom,
        box.right,
    )
    assert d["concat_channels"] == 2 * d["channels"]
    assert d["output"] == shape_table(size, padding=padding).output_shape[1]
    assert d["crop_matches_box"] == "True"  # the model's CenterCrop took exactly the box drawn
    if padding == "same":
        assert d["top"] == 0 and d["source"] == d["target"]
    import matplotlib.pyplot as plt

    plt.close(view.figure)


@pytest.mark.parametrize(
    "size,padding",
    [
        (573, "valid"),
        (189, "valid"),
        (187, "valid"),
        (100, "valid"),
        (572, "same"),
        (577, "same"),
        (0, "valid"),
        (-4, "same"),
    ],
)
def test_crop_view_invalid_size_shows_the_message(size, padding):
    view = safe_view(crop.crop_view, input_size=size, level=1, padding=padding)
    assert not view.ok
    if size > 0:
        with pytest.raises(InvalidInputSize) as e:
            shape_table(size, padding=padding)
        assert view.error == str(e.value)
        below, above = nearest_valid_sizes(size, padding=padding)
        assert view.data.get("above") == ("" if above is None else above)
        assert view.data.get("below") == ("" if below is None else below)
        assert "Nearest valid sizes" in view.error
    else:
        assert "at least 1" in view.error and "188 + 16k" in view.error


def test_crop_view_odd_size_allowed_is_off_centre():
    view = crop.crop_view(573, 1, "valid", allow_odd=True)
    assert view.ok and (view.data["top"], view.data["bottom"]) == (88, 89)
    assert "not centred" in view.html
    import matplotlib.pyplot as plt

    plt.close(view.figure)


@pytest.mark.parametrize(
    "kwargs", [dict(level=0), dict(level=5), dict(padding="full"), dict(input_size=crop.MAX_WIDGET_SIZE + 20)]
)
def test_crop_view_other_bad_settings(kwargs):
    view = safe_view(crop.crop_view, **{"input_size": 572, **kwargs})
    assert not view.ok and "Unexpected" not in view.error


def test_controls_defaults_give_the_notes_numbers():
    controls = crop.controls()
    from unet_lesson.ui.widgets import defaults_of

    view = crop.crop_view(**defaults_of(controls))
    assert (view.data["source"], view.data["target"]) == PAPER_CROPS[0]
    import matplotlib.pyplot as plt

    plt.close(view.figure)


def test_exercises():
    assert [ex.key for ex in crop.EXERCISES] == [f"4.{n}" for n in range(1, 9)]
    for ex in crop.EXERCISES:  # the right answers: tests/test_exercise_answers.py
        ex.reset()
        assert ex.check().status == "not attempted"
        assert ex.check(ex.answer).status == "correct"
        wrong = ex.check(lambda *a: a[0]) if isinstance(ex, CodeExercise) else ex.check("a" if ex.choices else 12345)
        assert wrong.status == "wrong" and "Hint" in wrong.message
        ex.reset()
    assert crop.EX_CONCAT.check("56x56x1024").correct
    assert "half" in crop.EX_OFFSET.check(32).message  # the total cut, not the offset
    assert "bottom" in crop.EX_ODD.check(4).message  # answered the top
    for ex in crop.EXERCISES:
        ex.reset()


@pytest.mark.parametrize("ex", crop.EXERCISES, ids=lambda ex: ex.key)
def test_every_exercise_has_three_graded_hints_and_a_solution_on_request(ex):
    assert len(ex.hints) == 3 and all(len(h) > 20 for h in ex.hints)
    ex.reset()
    wrong = (lambda *a: a[0]) if isinstance(ex, CodeExercise) else ("a" if ex.choices else 10**6)
    assert [len(ex.check(wrong).hints) for _ in range(4)] == [1, 2, 3, 3]
    assert "solution()" in ex.check(wrong).message
    ex.reset()
    assert ex.solution().explanation


@pytest.mark.parametrize(
    "ex,answer,phrase",
    [
        (crop.EX_OFFSET, 104, "kept"),
        (crop.EX_CONCAT, "64x64x1024", "cropped first"),
        (crop.EX_CONCAT, "56x56x2048", "the channels"),
        (crop.EX_CONCAT, (1024, 56, 56), "C×H×W"),
        (crop.EX_FIRST_ODD, 570, "Go on"),
        (crop.EX_FIRST_ODD, 285, "entering a pool"),
        (crop.EX_SAME, 88, "padding 1"),
    ],
)
def test_wrong_answers_get_a_fitting_hint(ex, answer, phrase):
    ex.reset()
    fb = ex.check(answer)
    assert fb.status == "wrong" and phrase in fb.message
    ex.reset()


def test_the_first_odd_map_is_the_one_the_network_names():
    assert crop.first_odd_pool(574) == 281 and crop.first_odd_pool(573) == 569
    assert "281" in crop.odd_input_message(574) and "level 2" in crop.odd_input_message(574)
    real = nn.Sequential(
        nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)
    )
    with torch.no_grad():
        assert real(torch.zeros(1, 1, 574, 574)).shape[-1] == crop.first_odd_pool(574)


def test_code_exercises_accept_the_reference_and_name_typical_slips():
    ex = crop.EX_CENTER_CROP
    assert ex.check(ex.reference).correct

    def corner(skip, target_hw):
        return skip[..., : target_hw[0], : target_hw[1]]

    assert "top-left corner" in ex.check(corner).message
    ex = crop.EX_CROP_AND_CONCAT
    assert ex.check(ex.reference).correct

    def up_first(skip, up):
        return torch.cat([up, ex.reference.__globals__["center_crop"](skip, up.shape[-2:])], dim=1)

    assert "copied map comes first" in ex.check(up_first).message
    for e in (crop.EX_CENTER_CROP, crop.EX_CROP_AND_CONCAT):
        e.reset()


def test_concat_shapes_beyond_its_limit_is_arithmetic_and_says_so():
    r = crop.concat_shapes(10**6, 10**6 - 8, 512)
    assert r["concat"] == (10**6 - 8, 10**6 - 8, 1024) and r["how"].startswith("not run")
    assert crop.concat_shapes()["how"] == "real CropAndConcat"
    with pytest.raises(ValueError, match="digits"):
        crop.concat_shapes(10**5000, 56, 8)


HOSTILE = [0, -1, 10**101, 10**5000, 1.5, float("nan"), float("inf"), "572", None, True, (572, 572), 10**12 + 12]


@pytest.mark.parametrize("value", HOSTILE, ids=[f"{type(v).__name__}{i}" for i, v in enumerate(HOSTILE)])
@pytest.mark.parametrize("name", ["input_size", "level", "padding", "allow_odd"])
def test_crop_view_answers_any_value_within_a_bound(name, value):
    start = time.perf_counter()
    view = safe_view(crop.crop_view, **{name: value})
    assert time.perf_counter() - start < 10
    assert view.ok or (view.error and "Traceback" not in view.error and "Exceeds the limit" not in view.error)
    if view.ok and view.figure is not None:
        import matplotlib.pyplot as plt

        plt.close(view.figure)


def test_crop_view_beyond_the_widget_limit_gives_the_numbers():
    view = crop.crop_view(10**12 + 12)
    assert view.ok and view.figure is None and "Not drawn" in view.html
    assert (view.data["top"], view.data["output"]) == (88, 10**12 + 12 - 184)
    view = crop.crop_view(crop.MAX_WIDGET_SIZE + 12)  # 588: valid, beyond the pictures
    assert view.ok and view.figure is None and view.data["output"] == 404
