"""The paper's weight map and the weighted cross-entropy (the scores are tested in test_metrics.py)."""

import math

import numpy as np
import pytest
import torch

from unet_lesson.seg.losses import SIGMA, W0, border_weights, class_weights, weight_map, weighted_cross_entropy


def two_cells(gap=2, h=40, w=60):
    """Two rectangular cells side by side, ``gap`` background columns between them."""
    inst = np.zeros((h, w), np.int32)
    inst[10:30, 10:28] = 1
    inst[10:30, 28 + gap : 46 + gap] = 2
    return inst


def test_paper_constants():
    assert W0 == 10 and SIGMA == 5


@pytest.mark.parametrize("gap", [1, 2, 3, 4])
def test_border_term_peaks_in_the_gap(gap):
    inst = two_cells(gap)
    b = border_weights(inst)
    gap_vals = b[20, 28 : 28 + gap]
    assert gap_vals.min() > 0.5 * W0 * math.exp(-((gap + 1) ** 2) / (2 * SIGMA**2))
    # the gap is the brightest place: far background is near 0, cells are 0
    assert b.max() == pytest.approx(gap_vals.max())
    assert b[2, 2] < 0.05 and b[35, 55] < 0.05
    assert np.all(b[inst > 0] == 0)


def test_border_term_matches_formula_at_a_gap_pixel():
    inst = two_cells(gap=2)
    # pixel (20, 28): 1 px from cell 1 (column 27), 2 px from cell 2 (column 30)
    expected = W0 * math.exp(-((1 + 2) ** 2) / (2 * SIGMA**2))
    assert border_weights(inst)[20, 28] == pytest.approx(expected, rel=1e-5)


def test_w0_scales_and_sigma_widens():
    inst = two_cells(gap=2)
    b10, b20 = border_weights(inst, w0=10), border_weights(inst, w0=20)
    np.testing.assert_allclose(b20, 2 * b10, rtol=1e-5)
    assert np.all(border_weights(inst, w0=0) == 0)
    narrow, wide = border_weights(inst, sigma=2), border_weights(inst, sigma=8)
    assert (wide > 1).sum() > (narrow > 1).sum()


def test_single_cell_has_no_border_term():
    inst = np.zeros((30, 30), np.int32)
    inst[5:20, 5:20] = 1
    assert np.all(border_weights(inst) == 0)


def test_literal_formula_lights_the_cell_rims_too():
    inst = two_cells(gap=2)
    b = border_weights(inst, background_only=False)
    assert b[20, 27] > 1 and b[20, 30] > 1  # rims facing each other


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.8])
def test_class_weights_balance(frac):
    m = np.zeros(1000, np.uint8)
    m[: int(frac * 1000)] = 1
    m = m.reshape(20, 50)
    wc = class_weights(m)
    assert wc[m == 1].sum() == pytest.approx(wc[m == 0].sum(), rel=1e-5)
    assert wc.mean() == pytest.approx(1.0, rel=1e-5)


def test_weight_map_is_sum():
    inst = two_cells()
    np.testing.assert_allclose(weight_map(inst), class_weights(inst > 0) + border_weights(inst), rtol=1e-6)


def test_window_matches_full_distance_transform():
    """The windowed computation equals a brute-force one with full distance transforms."""
    from scipy import ndimage as ndi

    from unet_lesson.seg.data import make_sample

    inst = make_sample(80, seed=2).instances
    ds = np.sort(np.stack([ndi.distance_transform_edt(inst != k) for k in range(1, inst.max() + 1)]), axis=0)
    ref = W0 * np.exp(-((ds[0] + ds[1]) ** 2) / (2 * SIGMA**2))
    ref[inst > 0] = 0
    np.testing.assert_allclose(border_weights(inst), ref, atol=1e-5)


@pytest.mark.parametrize("kw,msg", [({"w0": -1}, "w0"), ({"sigma": 0}, "sigma"), ({"sigma": -2}, "sigma")])
def test_bad_parameters_are_explained(kw, msg):
    with pytest.raises(ValueError, match=msg):
        border_weights(two_cells(), **kw)


def test_bad_instance_masks():
    with pytest.raises(ValueError, match="2-D"):
        weight_map(np.zeros((2, 3, 4), int))
    with pytest.raises(ValueError, match="negative"):
        weight_map(-np.ones((4, 4), int))


def test_weighted_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 8, 8)
    target = torch.randint(0, 2, (2, 8, 8))
    plain = torch.nn.functional.cross_entropy(logits, target)
    assert weighted_cross_entropy(logits, target) == pytest.approx(plain.item(), rel=1e-6)
    assert weighted_cross_entropy(logits, target, torch.full((2, 8, 8), 3.0)) == pytest.approx(plain.item(), rel=1e-5)
    # weighting one pixel heavily pulls the loss towards that pixel's loss
    w = torch.ones(2, 8, 8)
    w[0, 0, 0] = 1e6
    px = torch.nn.functional.cross_entropy(logits[:1, :, :1, :1], target[:1, :1, :1])
    assert weighted_cross_entropy(logits, target, w) == pytest.approx(px.item(), rel=1e-3)


def test_cross_entropy_size_mismatch_is_explained():
    with pytest.raises(ValueError, match="centre-crop"):
        weighted_cross_entropy(torch.zeros(1, 2, 4, 4), torch.zeros(1, 8, 8))


def test_the_papers_sum_is_the_mean_times_the_sum_of_the_weights():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 2, 6, 7, generator=g, dtype=torch.float64)
    target = torch.randint(0, 2, (2, 6, 7), generator=g)
    w = torch.rand(2, 6, 7, generator=g, dtype=torch.float64) + 0.5
    per_pixel = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    total = weighted_cross_entropy(logits, target, w, reduction="sum")
    assert float(total) == pytest.approx(float((w * per_pixel).sum()), rel=1e-12)  # -E of Eq. (1)
    assert float(total) == pytest.approx(float(weighted_cross_entropy(logits, target, w) * w.sum()), rel=1e-12)
    assert float(weighted_cross_entropy(logits, target, reduction="sum")) == pytest.approx(float(per_pixel.sum()))
    with pytest.raises(ValueError, match="'mean'.*'sum'"):
        weighted_cross_entropy(logits, target, w, reduction="none")


def test_soft_dice_loss_by_hand():
    from unet_lesson.seg.losses import soft_dice_loss

    target = torch.tensor([[[0, 1], [1, 1]]])
    # scores (0, s): softmax gives p(cell) = 1 / (1 + e^-s)
    logits = torch.stack([torch.zeros(1, 2, 2), torch.tensor([[[0.0, 2.0], [-1.0, 3.0]]])], dim=1)
    p = torch.sigmoid(torch.tensor([0.0, 2.0, -1.0, 3.0]))
    t = torch.tensor([0.0, 1, 1, 1])
    by_hand = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
    assert float(soft_dice_loss(logits, target)) == pytest.approx(float(by_hand), rel=1e-6)
    sure = torch.stack([-50 * (2 * target - 1.0), 50 * (2 * target - 1.0)], dim=1)  # right, and certain
    assert float(soft_dice_loss(sure, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(soft_dice_loss(-sure, target)) > 0.7  # certain and wrong everywhere
    empty = torch.zeros(1, 2, 2, dtype=torch.int64)  # eps keeps an empty target defined
    assert math.isfinite(float(soft_dice_loss(torch.zeros(1, 2, 2, 2), empty)))
    with pytest.raises(ValueError, match="scores"):
        soft_dice_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 3))


def test_soft_dice_barely_notices_a_filled_gap_the_weighted_loss_does():
    from unet_lesson.seg.losses import soft_dice_loss

    inst = two_cells(gap=1)
    truth = inst > 0
    filled = truth.copy()
    filled[10:30, 28] = True  # the one-pixel gap drawn as cell (20 pixels): the two cells merged
    missed = truth & (inst != 2)  # a whole cell (360 pixels) missed
    target = torch.from_numpy(truth.astype(np.int64))[None]

    def logits(pred):
        s = torch.from_numpy(np.where(pred, 3.0, -3.0))[None]
        return torch.stack([-s, s], dim=1)

    w = torch.from_numpy(weight_map(inst))[None]
    dice_loss = [float(soft_dice_loss(logits(p), target)) for p in (truth, filled, missed)]
    ce = [float(weighted_cross_entropy(logits(p), target, w)) for p in (truth, filled, missed)]
    # what merging costs, as a share of what missing a whole cell costs
    dice_share = (dice_loss[1] - dice_loss[0]) / (dice_loss[2] - dice_loss[0])
    ce_share = (ce[1] - ce[0]) / (ce[2] - ce[0])
    assert dice_share < 0.1  # about its share of the pixels (20 / 360)
    assert ce_share > 0.25  # the gap pixels weigh about 10 times as much
