"""Lesson 08: the weight-map widget's view (valid and invalid settings) and the exercises."""

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


def test_unattempted_says_so():
    for ex in (L.EX_GAP, L.EX_W0, L.EX_CROP, L.EX_IOU):
        assert ex.check(...).correct is None


def test_lesson_data_and_otsu_picture():
    tr, va = L.lesson_data()
    assert len(tr) == 12 and len(va) == 8
    assert not np.array_equal(tr.images[0], va.images[0])
    fig = L.plot_otsu(va, n=2)
    assert len(fig.axes) == 6
    import matplotlib.pyplot as plt

    plt.close(fig)
