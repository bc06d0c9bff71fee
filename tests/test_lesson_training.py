"""Lesson 08: the weight-map widget's view (valid and invalid settings), the tables and ablation views the notebook
shows (their numbers from the package's real functions), the own-data folder, and the exercises."""

import math

import numpy as np
import pytest

from unet_lesson import output_size
from unet_lesson.lessons import l08_training as L
from unet_lesson.seg.losses import border_weights, two_touching_cells
from unet_lesson.seg.train import VALID_OPTIONS
from unet_lesson.ui.widgets import safe_view


@pytest.mark.parametrize("w0,sigma,gap", [(10, 5, 2), (0, 5, 2), (30, 1, 1), (10, 15, 7), (5, 2.5, 3)])
def test_weight_view_numbers_are_real(w0, sigma, gap):
    v = L.weight_view(w0=w0, sigma=sigma, gap=gap)
    assert v.ok and v.figure is not None
    toy = two_touching_cells(gap)
    expected = float(border_weights(toy, w0, sigma)[20, 31 : 31 + gap].max())
    assert v.data["gap_weight"] >= expected  # class weight (> 0) on top of the border term
    assert v.data["gap_weight"] - expected < 1.0
    assert v.data["w0"] == w0 and v.data["sigma"] == sigma and v.data["gap"] == gap
    import matplotlib.pyplot as plt

    plt.close(v.figure)


def test_more_w0_brighter_gap():
    a, b = L.weight_view(w0=5), L.weight_view(w0=20)
    assert b.data["gap_weight"] > a.data["gap_weight"] + 10
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize(
    "kw,msg", [({"sigma": 0}, "sigma"), ({"sigma": -3}, "sigma"), ({"w0": -1}, "w0"), ({"gap": 0}, "gap")]
)
def test_weight_view_explains_bad_settings(kw, msg):
    with pytest.raises(ValueError, match=msg):
        L.weight_view(**kw)
    v = safe_view(L.weight_view, **kw)  # what the widget shows: a message, no traceback
    assert not v.ok and msg in v.error


def test_controls_start_at_the_papers_values():
    c = L.controls()
    assert c["w0"].value == 10 and c["sigma"].value == 5
    assert c["sigma"].min > 0 and c["w0"].min == 0


def test_exercise_answers_are_computed():
    assert L.EX_GAP.answer == pytest.approx(round(10 * math.exp(-9 / 50), 2))
    assert L.EX_GAP.check(8.35).correct and not L.EX_GAP.check(10).correct
    assert L.EX_W0.check("a").correct and not L.EX_W0.check("b").correct
    assert L.EX_CROP.answer == output_size(L._CROP_IN, **VALID_OPTIONS)[0] < L._CROP_IN
    assert L.EX_CROP.check(52).correct  # 236 - 184, by hand
    wrong = L.EX_CROP.check(L._CROP_IN)
    assert not wrong.correct and "input size" in wrong.message
    assert L.EX_IOU.check(0.905).correct and not L.EX_IOU.check(0.95).correct
    assert L.EX_BLOB.answer == pytest.approx(16 / 36, abs=5e-4)  # one 4x4 cell inside a 4x9 blob
    assert L.EX_BLOB.check(0.444).correct
    wrong = L.EX_BLOB.check(0.941)
    assert not wrong.correct and "both cells" in wrong.message
    assert L.EX_LOSS.check(L.EX_LOSS.checker.reference).correct


def test_the_blob_of_ex_blob_is_the_case_object_scores_call_two_cells_lost():
    from unet_lesson.seg.metrics import object_scores

    truth = np.zeros((8, 12), int)
    truth[2:6, 1:5], truth[2:6, 6:10] = 1, 2
    blob = truth > 0
    blob[2:6, 5] = True
    assert blob.sum() == 36
    s = object_scores(blob, truth)
    assert (s.matched, s.merged, s.f1) == (0, 2, 0.0)


def test_unattempted_says_so():
    for ex in L.EXERCISES:
        assert ex.check(...).correct is None


def test_exercises_in_the_notebooks_order():
    assert [e.key for e in L.EXERCISES] == [f"8.{k}" for k in range(1, 7)]


def test_lesson_data_and_otsu_picture():
    tr, va = L.lesson_data()
    assert len(tr) == 12 and len(va) == 8
    assert not np.array_equal(tr.images[0], va.images[0])
    fig = L.plot_otsu(va, n=2)
    assert len(fig.axes) == 4  # image and Otsu's mask for each (the true mask is in plot_samples)
    import matplotlib.pyplot as plt

    plt.close(fig)


# ---- the weight map: where the border term applies ------------------------------------------------------
def test_the_widget_switches_to_the_formula_as_printed():
    course, printed = L.weight_view(where="background"), L.weight_view(where="every pixel")
    toy = two_touching_cells(2)
    assert course.data["rim_weight"] < 2  # a cell's rim: only the class weight
    literal = float(border_weights(toy, 10, 5, background_only=False)[L.RIM_PIXEL])
    assert printed.data["rim_weight"] - literal == pytest.approx(course.data["rim_weight"], abs=1e-3)
    assert printed.data["gap_weight"] == pytest.approx(course.data["gap_weight"])  # the gap is background
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"w0": "10"}, "w0"),
        ({"w0": float("nan")}, "w0"),
        ({"w0": 10**400}, "w0"),
        ({"sigma": float("inf")}, "sigma"),
        ({"gap": 2.5}, "gap"),
        ({"gap": 10**30}, "gap"),
        ({"gap": True}, "gap"),
        ({"where": "cells"}, "where"),
    ],
)
def test_hostile_values_are_explained_fast(kw, msg):
    import time

    t = time.perf_counter()
    with pytest.raises(ValueError, match=msg):
        L.weight_view(**kw)
    assert time.perf_counter() - t < 10


def test_rim_table_numbers_are_eq2():
    import re

    text = re.sub(r"<[^>]+>", " ", L.rim_table())
    # the gap pixel next to cell 1: d1 = 1, d2 = 2: 10 exp(-9/50) in both columns
    assert f"{10 * math.exp(-9 / 50):.2f}" in text
    # the rim of cell 1: d1 = 0, d2 = 3 (the gap is 2 px): 10 exp(-9/50) as printed, 0 for the course
    toy = two_touching_cells(2)
    printed = border_weights(toy, 10, 5, background_only=False)
    assert printed[L.RIM_PIXEL] == pytest.approx(10 * math.exp(-9 / 50))
    assert printed[L.RIM_PIXEL[0], L.RIM_PIXEL[1] - 8] == pytest.approx(10 * math.exp(-(11**2) / 50))
    assert f"{10 * math.exp(-(11**2) / 50):.2f}" in text
    assert text.count("0.00") == 5  # the course's column: nothing on the rim or inside the cell (5 rows)


def _table_rows(html_text):
    import re

    rows = re.findall(r"<tr>(.*?)</tr>", html_text, re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)] for r in rows
    ]


def test_loss_comparison_shows_what_each_loss_charges():
    rows = {r[0]: r for r in _table_rows(L.loss_comparison()) if r and r[0] != "prediction"}
    right, merged, missed = rows["right (lines drawn)"], rows["lines filled: cells merged"], rows["largest cell missed"]
    assert right[1] == "0" and float(right[2]) == 1.0
    assert int(merged[1]) < int(missed[1])  # merging costs fewer pixels than missing the largest cell ...
    assert float(merged[3]) < 0.5 < float(missed[3])  # ... but far more cells (object F1)
    dice_loss, ce0, ce10 = (4, 5, 6)
    assert float(merged[dice_loss]) < float(missed[dice_loss])  # the soft Dice loss charges the pixels
    assert float(merged[ce10]) > float(missed[ce10])  # the weighted loss (w0 = 10) charges the filled lines more
    assert float(merged[ce10]) > float(merged[ce0])
    with pytest.raises(ValueError, match="sure"):
        L.loss_comparison(sure=0.3)


def test_tile_strength_is_the_ratio_on_the_windows_training_really_uses():
    import torch

    from unet_lesson import UNet

    rows = _table_rows(L.tile_strength())
    assert rows[1][1] == f"{10 / 572:.1%}" and rows[2][1] == f"{10 / 64:.1%}" and rows[2][2] == f"{572 / 64:.1f}x"
    window = int(rows[4][0].split()[0])
    assert rows[4][1] == f"{10 / window:.1%}"
    # the valid network's window for 64 px tiles: the smallest input whose real output covers 64 px
    net = UNet(**VALID_OPTIONS)
    with torch.no_grad():
        assert net(torch.zeros(1, 1, window, window)).shape[-1] >= 64
    for smaller in range(window - 15, window):  # nothing smaller would do: too small an output, or no valid size
        try:
            assert output_size(smaller, **VALID_OPTIONS)[0] < 64
        except ValueError:
            pass


# ---- the ablations, as the notebook shows them -------------------------------------------------------------
@pytest.mark.parametrize("name", ["skips", "w0", "augment"])
def test_ablation_view_scores_are_the_packages(name):
    from unet_lesson.seg import ablations as A

    v = L.ablation_view(name)
    assert v.ok and v.figure is not None
    for key, arm in A.compare(name)["arms"].items():
        assert v.data[f"{key}_dice"] == round(arm["scores"]["dice"], 4)
        assert v.data[f"{key}_merged"] == arm["scores"]["merged"]
    assert "make_checkpoints.py --which ablations" in v.html
    for side in A.ABLATIONS[name].arms:  # the files it really loaded (w0 = 10 is the skips ablation's "on" arm)
        assert A.checkpoint_file(name, side.key).name in v.html
    import matplotlib.pyplot as plt

    plt.close(v.figure)


def test_the_w0_ablation_shows_the_papers_point():
    # the shipped pair: without the border term, as good a pixel Dice, far more merged cells, a lower object F1
    v = L.ablation_view("w0")
    assert v.data["0_dice"] > v.data["10_dice"] - 0.02
    assert v.data["0_merged"] > 1.5 * v.data["10_merged"]
    assert v.data["0_f1"] < v.data["10_f1"] - 0.2
    import matplotlib.pyplot as plt

    plt.close("all")


def test_ablation_view_bad_values_and_missing_files(tmp_path):
    for kw, msg in [
        ({"name": "dropout"}, "name"),
        ({"name": "w0", "index": 8}, "index"),
        ({"name": "w0", "zoom": 0}, "zoom"),
    ]:
        with pytest.raises(ValueError, match=msg):
            L.ablation_view(**kw)
    v = L.ablation_view("w0", directory=tmp_path)
    assert v.ok and v.figure is None and "make_checkpoints.py" in v.html


def test_seed_table_lists_every_seed():
    rows = _table_rows(L.seed_table("augment"))
    assert rows[0][:4] == ["arm", "seed 0", "seed 1", "seed 2"] and len(rows) == 3
    assert "No seed study" in L.seed_table("w0", directory="/nonexistent")


# ---- your own data ---------------------------------------------------------------------------------------
def test_demo_folder_holds_touching_label_images_that_load_back(tmp_path):
    from unet_lesson.seg.folder import load_folder
    from unet_lesson.seg.metrics import objects

    path = L.write_demo_folder(tmp_path / "own")
    ds = load_folder(path)
    assert len(ds) == L.DEMO_DATA["n"] and ds.images.shape[1:] == (128, 128)
    n_labels = len(np.unique(ds.instances[0])) - 1
    assert objects(ds.masks[0] > 0).max() < n_labels  # the labels touch: fewer blobs than cells
    L.write_demo_folder(tmp_path / "own")  # writing it again replaces it
    assert len(load_folder(path)) == L.DEMO_DATA["n"]
    tr, va = L.own_data(path)
    assert (len(tr), len(va)) == (L.DEMO_DATA["n"] - 2, 2)


def test_fine_tuning_the_shipped_model_on_the_demo_folder_helps(tmp_path):
    from unet_lesson.seg.metrics import dice
    from unet_lesson.seg.predict import predict
    from unet_lesson.seg.pretrained import load_pretrained
    from unet_lesson.seg.train import lesson_model, train

    tr, va = L.own_data(L.write_demo_folder(tmp_path / "own"))
    start = load_pretrained("same")
    before = dice(predict(start, va.images), va.masks)
    res = train(start, tr, va, steps=L.OWN_STEPS, checkpoint_dir=tmp_path / "run", progress=False)
    after = dice(predict(res.model, va.images), va.masks)
    assert after > before
    # the same steps from random weights get less far: why fine-tuning needs fewer steps
    scratch = train(lesson_model("same"), tr, va, steps=L.OWN_STEPS, checkpoint_dir=tmp_path / "s", progress=False)
    assert dice(predict(scratch.model, va.images), va.masks) < after
    assert "F1" in L.scores_line(predict(res.model, va.images), va)
