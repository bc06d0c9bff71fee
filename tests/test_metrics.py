"""Pixel scores (Dice, IoU) and object scores (matched, merged, split cells) on hand-made cases."""

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch

from unet_lesson.seg.data import make_dataset
from unet_lesson.seg.metrics import ObjectScores, dice, iou, iou_from_dice, object_scores, objects


# ----------------------------------------------------------------------------------
# pixel scores
# ----------------------------------------------------------------------------------
def test_dice_iou_known_cases():
    a = np.zeros((4, 4), int)
    a[:2] = 1  # 8 pixels
    b = np.zeros((4, 4), int)
    b[1:3] = 1  # 8 pixels, 4 shared
    assert dice(a, b) == pytest.approx(0.5)
    assert iou(a, b) == pytest.approx(4 / 12)
    assert dice(a, a) == iou(a, a) == 1.0
    assert dice(a, 1 - a) == iou(a, 1 - a) == 0.0
    empty = np.zeros((3, 3))
    assert dice(empty, empty) == iou(empty, empty) == 1.0
    assert dice(torch.tensor(a), torch.tensor(b)) == pytest.approx(0.5)
    d = dice(a, b)
    assert iou(a, b) == pytest.approx(d / (2 - d)) == pytest.approx(iou_from_dice(d))


def test_dice_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        dice(np.zeros((4, 4)), np.zeros((5, 5)))


def test_iou_from_dice_range():
    with pytest.raises(ValueError, match="between 0 and 1"):
        iou_from_dice(1.5)


def test_losses_no_longer_hold_the_scores():
    import unet_lesson.seg.losses as losses

    assert not any(hasattr(losses, n) for n in ("dice", "iou", "iou_from_dice"))


# ----------------------------------------------------------------------------------
# hand-made cells
# ----------------------------------------------------------------------------------
def two_cells(gap=1, widths=(8, 8)):
    """Two square-ish cells side by side with ``gap`` background columns between them (as the course's data)."""
    t = np.zeros((14, 4 + widths[0] + gap + widths[1] + 4), np.int32)
    t[3:11, 4 : 4 + widths[0]] = 1
    t[3:11, 4 + widths[0] + gap : 4 + widths[0] + gap + widths[1]] = 2
    return t


def test_touching_cells_predicted_as_one_blob_the_teaching_point():
    truth = two_cells(gap=1)
    right = (truth > 0).astype(np.uint8)  # the network drew the gap: two components
    blob = right.copy()
    blob[3:11, 12] = 1  # ... or it did not: one blob
    good, bad = object_scores(right, truth), object_scores(blob, truth)
    assert (good.f1, good.matched, good.merged) == (1.0, 2, 0)
    # pixel Dice barely moves ...
    assert dice(right, truth) == 1.0
    assert dice(blob, truth) == pytest.approx(2 * 128 / (128 + 136))
    assert dice(right, truth) - dice(blob, truth) < 0.04
    # ... while object F1 falls to 0: both cells merged into one object that matches neither
    assert bad.n_true == 2 and bad.n_pred == 1 and bad.matched == 0
    assert bad.merged == 2 and bad.split == 0
    assert bad.precision == bad.recall == bad.f1 == 0.0
    assert "2 true objects merged" in bad.summary()


def test_blob_over_a_big_and_a_small_cell_matches_the_big_one():
    truth = two_cells(gap=1, widths=(14, 3))
    blob = (truth > 0).astype(np.uint8)
    blob[3:11, 18] = 1
    s = object_scores(blob, truth)
    # IoU(blob, big) = 112 / 144 > 0.5: matched; the small cell is missed, and both count as merged
    assert (s.matched, s.merged, s.missed, s.extra) == (1, 2, 1, 0)
    assert (s.precision, s.recall) == (1.0, 0.5)
    assert s.f1 == pytest.approx(2 / 3)


def test_cell_split_in_two():
    truth = np.zeros((12, 16), np.int32)
    truth[2:10, 2:14] = 1
    halves = np.zeros_like(truth)
    halves[2:10, 2:7] = 1
    halves[2:10, 8:14] = 2  # a false line through the cell
    s = object_scores(halves, truth)
    assert (s.n_true, s.n_pred, s.matched, s.split, s.merged) == (1, 2, 0, 1, 0)
    assert s.f1 == 0.0
    # the same as a binary mask (two components)
    assert object_scores(halves > 0, truth) == s
    # uneven split: the larger part still matches (IoU 72/96), the cell still counts as split
    uneven = np.zeros_like(truth)
    uneven[2:10, 2:11] = 1
    uneven[2:10, 12:14] = 2
    u = object_scores(uneven, truth)
    assert (u.matched, u.split, u.precision, u.recall) == (1, 1, 0.5, 1.0)


def test_empty_prediction_and_empty_truth_give_no_nan():
    truth = two_cells()
    empty = np.zeros_like(truth)
    none_found = object_scores(empty, truth)
    assert (none_found.precision, none_found.recall, none_found.f1) == (0.0, 0.0, 0.0)
    assert (none_found.n_pred, none_found.missed) == (0, 2)
    nothing_there = object_scores(truth, empty)
    assert (nothing_there.precision, nothing_there.recall, nothing_there.f1) == (0.0, 0.0, 0.0)
    assert nothing_there.extra == 2
    both = object_scores(empty, empty)
    assert (both.precision, both.recall, both.f1, both.n_true, both.n_pred) == (1.0, 1.0, 1.0, 0, 0)
    for s in (none_found, nothing_there, both):
        assert not any(math.isnan(v) for v in (s.precision, s.recall, s.f1))


def test_iou_threshold():
    truth = np.zeros((10, 10), np.int32)
    truth[0:10, 0:5] = 1  # 50 px
    pred = np.zeros_like(truth)
    pred[0:10, 0:3] = 1  # IoU 30/50 = 0.6
    assert object_scores(pred, truth, iou=0.5).matched == 1
    assert object_scores(pred, truth, iou=0.6).matched == 0  # strictly above
    assert object_scores(pred, truth, iou=0.0).matched == 1


def test_low_threshold_matches_one_to_one_best_first():
    truth = two_cells(gap=1, widths=(8, 4))
    blob = (truth > 0).astype(np.uint8)
    blob[3:11, 12] = 1  # one object over both: IoU 64/104 and 32/104
    s = object_scores(blob, truth, iou=0.1)
    assert s.matched == 1 and s.recall == 0.5  # one predicted object cannot match two cells


def test_label_image_and_binary_prediction_agree_on_separated_cells():
    ds = make_dataset(3, 64, seed=4)
    rng = np.random.default_rng(0)
    pred = ds.instances.copy()
    pred[ds.instances % 5 == 0] = 0  # drop some cells
    perm = np.concatenate([[0], rng.permutation(np.arange(1, pred.max() + 1))])
    relabelled = perm[pred]  # other label numbers: same objects
    a = object_scores(relabelled, ds.instances)
    b = object_scores((pred > 0).astype(np.uint8), ds.instances)
    assert a == b
    assert a.recall < 1.0 and a.precision == 1.0
    assert a.n_pred == a.matched == sum(int(np.setdiff1d(np.unique(p), [0]).size) for p in pred)


def test_objects_of_a_mask_and_of_a_label_image():
    m = np.zeros((5, 7), np.uint8)
    m[0, 0] = m[1, 1] = 255  # diagonal: two objects (4-connectivity)
    m[3:5, 3:6] = 255
    assert objects(m).max() == 3
    lab = np.zeros((5, 7), np.int32)
    lab[0, 0] = lab[4, 6] = 7  # one label in two places stays one object
    lab[2, 3] = 3
    o = objects(lab)
    assert o[0, 0] == o[4, 6] == 7 and o[2, 3] == 3


def test_stacks_pool_the_counts_of_each_image():
    truth = np.stack([two_cells(), two_cells()])
    blob = (truth > 0).astype(np.uint8)
    blob[1, 3:11, 12] = 1  # image 0 right, image 1 one blob
    s = object_scores(blob, truth)
    s0, s1 = object_scores(blob[0], truth[0]), object_scores(blob[1], truth[1])
    assert s.n_images == 2 and s0.n_images == 1
    for k in ("n_true", "n_pred", "matched", "merged", "split"):
        assert getattr(s, k) == getattr(s0, k) + getattr(s1, k)
    assert (s.n_true, s.n_pred, s.matched) == (4, 3, 2)
    assert s.f1 == pytest.approx(2 * 2 / 7)
    # label 1 in image 0 and label 1 in image 1 are different objects
    assert object_scores(truth, truth).n_true == 4
    assert "in 2 images" in s.summary()


def test_matches_a_brute_force_count_on_random_labels():
    """At IoU > 0.5 a pair is matched exactly when its IoU is above 0.5: count those pairs by brute force."""
    rng = np.random.default_rng(3)
    for _trial in range(5):
        t = rng.integers(0, 6, (20, 20))
        p = np.where(rng.random((20, 20)) < 0.8, t, rng.integers(0, 6, (20, 20)))
        expected = 0
        for a, b in itertools.product(range(1, 6), range(1, 6)):
            ta, pb = t == a, p == b
            if ta.any() and pb.any() and (ta & pb).sum() / (ta | pb).sum() > 0.5:
                expected += 1
        s = object_scores(p, t)
        assert s.matched == expected
        assert s.n_true == len(np.setdiff1d(t, [0])) and s.n_pred == len(np.setdiff1d(p, [0]))


def test_torch_inputs_and_frozen_result():
    truth = two_cells()
    s = object_scores(torch.from_numpy(truth > 0), torch.from_numpy(truth))
    assert isinstance(s, ObjectScores) and s.f1 == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.f1 = 0.5


@pytest.mark.parametrize(
    "pred, truth, words",
    [
        (np.zeros((4, 4), int), np.zeros((5, 4), int), r"pred \(4, 4\) and truth \(5, 4\) must have the same shape"),
        (np.zeros((4, 4), int), -np.ones((4, 4), int), "truth has negative values"),
        (np.full((4, 4), 0.5), np.zeros((4, 4), int), "pred holds float64 numbers.*prob > 0.5"),
        (np.zeros((4, 4), int), np.full((4, 4), 2.0), "truth holds float64.*astype\\(int\\)"),
        (np.full((4, 4), np.nan), np.zeros((4, 4), int), "pred holds NaN"),
        (np.zeros((1, 1, 4, 4), int), np.zeros((1, 1, 4, 4), int), r"\(H, W\) or a stack \(N, H, W\)"),
        (np.array([["a"]]), np.zeros((1, 1), int), "whole numbers"),
    ],
)
def test_invalid_inputs_are_explained(pred, truth, words):
    with pytest.raises(ValueError, match=words):
        object_scores(pred, truth)


@pytest.mark.parametrize(
    "bad, words",
    [
        (1.0, "below 1"),
        (1.5, "iou must be from 0 to 1"),
        (-0.1, "iou must be from 0 to 1"),
        (True, "finite number"),
        ("0.5", "finite number"),
        (float("nan"), "finite number"),
    ],
)
def test_bad_threshold(bad, words):
    with pytest.raises(ValueError, match=words):
        object_scores(two_cells(), two_cells(), iou=bad)


def test_merged_labels_names_the_cells_one_blob_covers():
    from unet_lesson.seg.metrics import merged_labels

    truth = np.zeros((10, 20), np.int32)
    truth[2:8, 1:5], truth[2:8, 6:10], truth[2:8, 13:18] = 1, 2, 3
    pred = truth > 0
    assert merged_labels(pred, truth).tolist() == []
    pred = pred.copy()
    pred[2:8, 5] = True  # cells 1 and 2 joined by a bridge
    assert merged_labels(pred, truth).tolist() == [1, 2]
    assert len(merged_labels(pred, truth)) == object_scores(pred, truth).merged
    assert merged_labels(np.zeros_like(pred), truth).size == 0
    assert merged_labels(pred, np.zeros_like(truth)).size == 0
    with pytest.raises(ValueError, match="one image each"):
        merged_labels(np.zeros((2, 4, 4), int), np.zeros((2, 4, 4), int))


@pytest.mark.parametrize("seed", range(6))
def test_merged_labels_agrees_with_object_scores_on_random_blobs(seed):
    from unet_lesson.seg.metrics import merged_labels

    ds = make_dataset(1, 64, seed=seed)
    truth = ds.instances[0]
    rng = np.random.default_rng(seed)
    pred = (truth > 0) | (rng.random(truth.shape) < 0.3)  # noise joins some cells
    assert len(merged_labels(pred, truth)) == object_scores(pred, truth).merged
