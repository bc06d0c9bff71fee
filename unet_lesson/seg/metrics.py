r"""How good is a segmentation? Pixel scores and object scores.

**Pixel scores** compare two binary masks pixel by pixel, pooled over every pixel given:

* :func:`dice` (the F1 score of the foreground pixels): :math:`D = 2|P \cap T| / (|P| + |T|)`;
* :func:`iou` (intersection over union, the Jaccard index): :math:`J = |P \cap T| / |P \cup T| = D / (2 - D)`.

**Object scores** (:func:`object_scores`) count *cells*. This is what the paper's cell-tracking
task cares about, and what pixel scores hide: two touching cells predicted as one blob cover
almost exactly the right pixels (Dice barely moves), yet one cell is missing. Objects are
matched one-to-one when their IoU is above a threshold (0.5 by default: then a true object can
have at most one partner, so the matching is unique), and

.. math::

    \text{precision} = \frac{\text{matched}}{n_\text{pred}}, \qquad
    \text{recall} = \frac{\text{matched}}{n_\text{true}}, \qquad
    F_1 = \frac{2\,\text{matched}}{n_\text{true} + n_\text{pred}}.

Besides the counts, :class:`ObjectScores` names the two typical mistakes: *merged* true objects
(one predicted object swallowed two or more of them) and *split* true objects (shared out among
two or more predicted objects).

>>> import numpy as np
>>> truth = np.zeros((8, 12), int); truth[2:6, 1:5] = 1; truth[2:6, 6:10] = 2   # two cells, 1 px apart
>>> blob = (truth > 0).astype(np.uint8); blob[2:6, 5] = 1                       # predicted as one blob
>>> round(dice(blob, truth), 3), object_scores(blob, truth).f1
(0.941, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ..core.parse import real

__all__ = [
    "dice",
    "iou",
    "iou_from_dice",
    "object_scores",
    "ObjectScores",
    "objects",
    "merged_labels",
    "label_array",
    "COVER",
]

#: "Covers": more than this fraction of an object's pixels lie inside the other object (merged / split).
COVER = 0.5

#: 4-connectivity: pixels touching by an edge (not by a corner) belong to one object.
FOUR = ndi.generate_binary_structure(2, 1)


# ----------------------------------------------------------------------------------
# pixel scores
# ----------------------------------------------------------------------------------
def _numpy(a) -> np.ndarray:
    """A numpy array from a numpy array, a list or a torch tensor (moved to the CPU)."""
    try:
        import torch

        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(a)


def _counts(pred, target):
    p, t = _numpy(pred) > 0, _numpy(target) > 0
    if p.shape != t.shape:
        raise ValueError(
            f"prediction {p.shape} and target {t.shape} must have the same shape "
            "(crop the target to the output size for a valid-padding net)"
        )
    inter = int(np.logical_and(p, t).sum())
    return inter, int(p.sum()), int(t.sum())


def dice(pred, target) -> float:
    r"""Dice coefficient of the foreground: :math:`2|P \cap T| / (|P| + |T|)`; 1.0 when both are empty.

    ``pred``/``target``: binary masks (numpy or torch, any shape, nonzero = foreground),
    pooled over all pixels given (pass a whole held-out stack to get the set's Dice)."""
    inter, p, t = _counts(pred, target)
    return 1.0 if p + t == 0 else 2.0 * inter / (p + t)


def iou(pred, target) -> float:
    r"""Intersection over union (Jaccard) of the foreground: :math:`|P \cap T| / |P \cup T|`; 1.0 when both empty.
    Related to Dice by :math:`IoU = D / (2 - D)`."""
    inter, p, t = _counts(pred, target)
    union = p + t - inter
    return 1.0 if union == 0 else inter / union


def iou_from_dice(d: float) -> float:
    """IoU of a prediction whose Dice is ``d``: :math:`D / (2 - D)` (the two always move together)."""
    if not 0 <= d <= 1:
        raise ValueError(f"a Dice score lies between 0 and 1, got {d}")
    return d / (2 - d)


# ----------------------------------------------------------------------------------
# objects
# ----------------------------------------------------------------------------------
def label_array(a, name: str = "labels") -> np.ndarray:
    """``a`` checked as a label image or a binary mask: (H, W) or a stack (N, H, W) of whole numbers >= 0
    (bool or integer dtype; numpy or torch). Returns it as a numpy array; a ``ValueError`` says what is wrong."""
    arr = _numpy(a)
    if arr.dtype == object or not (arr.dtype == bool or np.issubdtype(arr.dtype, np.number)):
        raise ValueError(
            f"{name} must be an array of whole numbers (0 = background, 1, 2, ... = objects), "
            f"got an array of {arr.dtype}."
        )
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be one image (H, W) or a stack (N, H, W), got shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.complexfloating):
        bad = "NaN" if np.isnan(arr).any() else ("infinite values" if np.isinf(arr).any() else None)
        what = f"holds {bad}" if bad else f"holds {arr.dtype} numbers"
        raise ValueError(
            f"{name} {what}: it must be a label image or a binary mask of integers or bools "
            "(0 = background). Threshold probabilities first (e.g. prob > 0.5), or convert labels "
            "with .astype(int)."
        )
    if arr.dtype != bool and arr.size and arr.min() < 0:
        raise ValueError(f"{name} has negative values (min {arr.min()}): 0 is background and 1, 2, ... are objects.")
    return arr


def objects(a, name: str = "labels") -> np.ndarray:
    """The objects of a label image or a binary mask, as an int64 label image of the same shape.

    * at most one non-zero value (a bool mask, 0/1 or 0/255): the objects are its 4-connected
      components (pixels touching by an edge, not by a corner), numbered 1..n;
    * two or more non-zero values (a label image): each value is one object, as given (a label
      that appears in two places stays one object).

    A stack (N, H, W) is decided as a whole and labelled image by image."""
    arr = label_array(a, name)
    values = np.unique(arr)
    if values[values != 0].size <= 1:  # a binary mask
        fg = arr != 0
        if fg.ndim == 2:
            return ndi.label(fg, structure=FOUR)[0].astype(np.int64)
        return np.stack([ndi.label(m, structure=FOUR)[0] for m in fg]).astype(np.int64)
    return arr.astype(np.int64)


@dataclass(frozen=True)
class ObjectScores:
    """Object-level scores of a prediction (see :func:`object_scores`).

    ``precision``/``recall``/``f1``: of the one-to-one matching at IoU above ``iou``;
    ``matched``, ``n_true``, ``n_pred``: the counts behind them (``missed`` = true objects without
    a partner, ``extra`` = predicted objects without one); ``merged``: true objects that one
    predicted object covers together with at least one other true object; ``split``: true
    objects covered by two or more predicted objects; ``n_images``: images pooled."""

    precision: float
    recall: float
    f1: float
    matched: int
    n_true: int
    n_pred: int
    merged: int
    split: int
    iou: float
    n_images: int = 1

    @property
    def missed(self) -> int:
        return self.n_true - self.matched

    @property
    def extra(self) -> int:
        return self.n_pred - self.matched

    def summary(self) -> str:
        imgs = f" in {self.n_images} images" if self.n_images != 1 else ""
        return (
            f"{self.n_true} true objects, {self.n_pred} predicted{imgs}; {self.matched} matched at IoU > "
            f"{self.iou:g} (precision {self.precision:.3f}, recall {self.recall:.3f}, F1 {self.f1:.3f}); "
            f"{self.missed} missed, {self.extra} extra; {self.merged} true objects merged with a neighbour, "
            f"{self.split} split"
        )


def _one_image(p: np.ndarray, t: np.ndarray, threshold: float) -> tuple[int, int, int, int, int]:
    """(n_true, n_pred, matched, merged, split) of one pair of label images."""
    # number the objects 1..n in each image (0 stays background)
    tv, ti = np.unique(t, return_inverse=True)
    pv, pi = np.unique(p, return_inverse=True)
    ti, pi = ti.reshape(-1) + (tv[0] != 0), pi.reshape(-1) + (pv[0] != 0)
    nt, n_p = int(tv.size - (tv[0] == 0)), int(pv.size - (pv[0] == 0))
    if nt == 0 or n_p == 0:
        return nt, n_p, 0, 0, 0
    area_t = np.bincount(ti, minlength=nt + 1)[1:]
    area_p = np.bincount(pi, minlength=n_p + 1)[1:]
    # the overlapping pairs (sparse: only pairs that share a pixel), with their shared pixels
    both = (ti > 0) & (pi > 0)
    keys, inter = np.unique(ti[both].astype(np.int64) * (n_p + 1) + pi[both], return_counts=True)
    a, b = keys // (n_p + 1) - 1, keys % (n_p + 1) - 1  # 0-based true / predicted object
    pair_iou = inter / (area_t[a] + area_p[b] - inter)
    # one-to-one matching: best pairs first (IoU > 0.5 leaves each object at most one candidate)
    matched, used_t, used_p = 0, set(), set()
    for k in np.argsort(-pair_iou, kind="stable"):
        if pair_iou[k] <= threshold:
            break
        if a[k] not in used_t and b[k] not in used_p:
            used_t.add(a[k]), used_p.add(b[k])
            matched += 1
    # merged: a predicted object holding more than half of each of >= 2 true objects
    covers_t = inter > COVER * area_t[a]
    per_pred = np.bincount(b[covers_t], minlength=n_p)
    merged = int(np.isin(b[covers_t], np.nonzero(per_pred >= 2)[0]).sum())
    # split: a true object holding more than half of each of >= 2 predicted objects
    covers_p = inter > COVER * area_p[b]
    split = int((np.bincount(a[covers_p], minlength=nt) >= 2).sum())
    return nt, n_p, matched, merged, split


def object_scores(pred, truth, iou: float = 0.5) -> ObjectScores:
    r"""Object-level precision, recall and F1 of ``pred`` against ``truth``, plus merged and split objects.

    Args:
        pred: the prediction, (H, W) or a stack (N, H, W): a binary mask (its 4-connected
            components are the objects, e.g. the output of :func:`unet_lesson.seg.train.predict`)
            or a label image (0 = background, one integer per object); see :func:`objects`.
        truth: the true objects, same shape: a label image (e.g. ``dataset.instances``; a binary
            mask is split into its 4-connected components, as for ``pred``).
        iou: a predicted and a true object match when their IoU :math:`|P \cap T| / |P \cup T|` is
            *above* this (0.5 by default, the usual choice; from 0 up to, not including, 1).

    Definitions (objects are counted per image; a stack pools the counts of all its images):

    * **matched**: pairs matched one-to-one, best IoU first (greedily; with ``iou >= 0.5`` every
      object has at most one candidate, so this is the only matching);
      precision = matched / n_pred, recall = matched / n_true, F1 = 2 matched / (n_true + n_pred).
      Both empty: all three are 1.0 (nothing to find, nothing wrongly found). Exactly one empty:
      all three are 0.0. Never NaN.
    * **merged**: the number of true objects that share one predicted object with another true
      object, where "share" means more than half (:data:`COVER`) of each true object's pixels lie
      inside that predicted object. Two touching cells predicted as one blob: merged = 2.
    * **split**: the number of true objects that contain more than half of the pixels of each
      of two or more predicted objects. A cell predicted as two halves: split = 1.

    A ``ValueError`` explains shapes that differ, negative or fractional labels, NaN, floats.
    """
    threshold = real(iou, "iou", minimum=0.0, maximum=1.0, hint="the IoU above which two objects match, e.g. 0.5")
    if threshold >= 1.0:
        raise ValueError(
            "iou must be below 1: two objects match when their IoU is *above* it, and an IoU "
            "never exceeds 1 (use e.g. 0.5, or 0.9 for a strict match)."
        )
    p, t = label_array(pred, "pred"), label_array(truth, "truth")
    if p.shape != t.shape:
        raise ValueError(
            f"pred {p.shape} and truth {t.shape} must have the same shape (for a valid-padding net, "
            "crop the truth to the output size first)."
        )
    p, t = objects(p, "pred"), objects(t, "truth")
    if p.ndim == 2:
        p, t = p[None], t[None]
    nt = n_p = matched = merged = split = 0
    for pk, tk in zip(p, t):
        counts = _one_image(pk, tk, threshold)
        nt, n_p, matched, merged, split = (x + y for x, y in zip((nt, n_p, matched, merged, split), counts))
    if nt == 0 and n_p == 0:
        precision = recall = f1 = 1.0
    else:
        precision = matched / n_p if n_p else 0.0
        recall = matched / nt if nt else 0.0
        f1 = 2.0 * matched / (nt + n_p)
    return ObjectScores(precision, recall, f1, matched, nt, n_p, merged, split, threshold, len(p))


def merged_labels(pred, truth) -> np.ndarray:
    """The labels of the true objects that :func:`object_scores` counts as *merged* in one image (H, W):
    more than half (:data:`COVER`) of each lies inside one predicted object that holds more than half of
    another true object too. Sorted; ``len(merged_labels(p, t)) == object_scores(p, t).merged``.
    For pictures: ``np.isin(truth, merged_labels(pred, truth))`` marks their pixels."""
    p, t = label_array(pred, "pred"), label_array(truth, "truth")
    if p.ndim != 2 or p.shape != t.shape:
        raise ValueError(f"pred {p.shape} and truth {t.shape} must be one image each, of the same shape (H, W).")
    p, t = objects(p, "pred"), objects(t, "truth")
    labels = np.unique(t[t > 0])
    if labels.size == 0:
        return labels
    owner = {}
    for k in labels:
        inside = p[t == k]
        values, counts = np.unique(inside[inside > 0], return_counts=True)
        big = values[counts > COVER * inside.size]
        if big.size:
            owner[int(k)] = int(big[0])  # more than half: at most one predicted object
    per_pred = np.bincount(list(owner.values()), minlength=int(p.max()) + 1) if owner else np.zeros(1, int)
    return np.array(sorted(k for k, b in owner.items() if per_pred[b] >= 2), dtype=np.int64)
