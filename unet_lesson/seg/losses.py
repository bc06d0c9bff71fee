r"""The paper's loss.

The loss (Ronneberger et al. 2015, section 3): a pixel-wise softmax over the class scores,
then cross-entropy, where each pixel counts with a weight

.. math::

    w(x) = w_c(x) + w_0 \cdot \exp\left(-\frac{(d_1(x) + d_2(x))^2}{2\sigma^2}\right)

* :math:`w_c` balances the class frequencies (background is often most of the picture);
* :math:`d_1, d_2` are the distances to the border of the nearest and the second-nearest
  cell. On a *background* pixel both are small only in the narrow gap between two touching
  cells. Inside a cell :math:`d_1 = 0`, so the formula as written also lights up the rim of
  each cell that faces a neighbour, for several :math:`\sigma` into it: the course puts the
  term on background pixels only (``background_only=True``), a departure from Eq. (2);
* the paper uses :math:`w_0 = 10` and :math:`\sigma \approx 5` pixels.

The paper's energy (Eq. 1) is the plain sum :math:`E = \sum_x w(x) \log p_{\ell(x)}(x)`, to be
maximised; :func:`weighted_cross_entropy` minimises the weighted *mean* of :math:`-\log p` instead
(``reduction="sum"`` gives :math:`-E`).

The weight map is computed once per training image from its *instance* mask (which cell is
which), not from the binary mask: a binary mask cannot tell two touching cells from one.

The scores (Dice, IoU, object scores) are in :mod:`unet_lesson.seg.metrics`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "class_weights",
    "border_weights",
    "weight_map",
    "weighted_cross_entropy",
    "soft_dice_loss",
    "two_touching_cells",
    "W0",
    "SIGMA",
]

#: The paper's values: w0 = 10, sigma = 5 px.
W0 = 10.0
SIGMA = 5.0


def _check_instances(instances) -> np.ndarray:
    inst = np.asarray(instances)
    if inst.ndim != 2:
        raise ValueError(f"the instance mask must be 2-D (H, W), got shape {inst.shape}")
    if not np.issubdtype(inst.dtype, np.integer):
        if not np.all(inst == np.round(inst)):
            raise ValueError("the instance mask must hold whole numbers: 0 = background, 1..n = one label per cell")
        inst = inst.astype(np.int64)
    if inst.min() < 0:
        raise ValueError("the instance mask must not be negative: 0 = background, 1..n = cells")
    return inst


def _check_w0_sigma(w0, sigma) -> None:
    if not np.isfinite(w0) or w0 < 0:
        raise ValueError(f"w0 must be >= 0 (0 switches the border term off; the paper uses 10), got {w0}")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be > 0 pixels (the width of the border term; the paper uses 5), got {sigma}")


def class_weights(mask) -> np.ndarray:
    r""":math:`w_c(x)`: each class gets weight ``N / (n_classes * N_c)``, so both classes carry the
    same total weight (1 everywhere when the classes are balanced 50/50)."""
    m = np.asarray(mask) > 0
    n = m.size
    n_fg = int(m.sum())
    n_bg = n - n_fg
    w_fg = n / (2.0 * n_fg) if n_fg else 0.0
    w_bg = n / (2.0 * n_bg) if n_bg else 0.0
    if n_fg == 0 or n_bg == 0:  # only one class present: nothing to balance
        return np.ones(m.shape, np.float32)
    return np.where(m, w_fg, w_bg).astype(np.float32)


def border_weights(instances, w0: float = W0, sigma: float = SIGMA, *, background_only: bool = True) -> np.ndarray:
    r"""The paper's border term :math:`w_0 \exp(-(d_1 + d_2)^2 / 2\sigma^2)` from an instance mask.

    ``d1``/``d2`` come from Euclidean distance transforms (``scipy.ndimage.distance_transform_edt``),
    one per cell, each in a window around that cell (beyond about :math:`6\sigma` the term is
    below :math:`10^{-7} w_0` and is taken as 0). With fewer than two cells the term is 0.

    ``background_only=True`` (default) puts the term on background pixels only: the separation
    border the paper talks about is background between cells; inside a cell :math:`d_1 = 0`
    and the formula would also raise the weight of the cell's own rim. ``False`` applies the
    formula literally to every pixel.
    """
    inst = _check_instances(instances)
    _check_w0_sigma(w0, sigma)
    h, w = inst.shape
    labels = np.unique(inst)
    labels = labels[labels > 0]
    if labels.size < 2 or w0 == 0:
        return np.zeros((h, w), np.float32)
    margin = int(np.ceil(6 * sigma)) + 1
    d1 = np.full((h, w), np.inf)
    d2 = np.full((h, w), np.inf)
    boxes = ndi.find_objects(inst)
    for k in labels:
        box = boxes[k - 1]
        y0, y1 = max(0, box[0].start - margin), min(h, box[0].stop + margin)
        x0, x1 = max(0, box[1].start - margin), min(w, box[1].stop + margin)
        # distance from every pixel of the window to the nearest pixel of cell k (the whole cell is inside)
        d = ndi.distance_transform_edt(inst[y0:y1, x0:x1] != k)
        a, b = d1[y0:y1, x0:x1], d2[y0:y1, x0:x1]
        closer = d < a
        b[:] = np.where(closer, a, np.minimum(b, d))
        a[:] = np.where(closer, d, a)
    term = w0 * np.exp(-((d1 + d2) ** 2) / (2.0 * sigma**2))
    term[~np.isfinite(d2)] = 0.0
    if background_only:
        term[inst > 0] = 0.0
    return term.astype(np.float32)


def weight_map(instances, w0: float = W0, sigma: float = SIGMA, *, background_only: bool = True) -> np.ndarray:
    r"""The paper's weight map :math:`w(x) = w_c(x) + w_0 \exp(-(d_1+d_2)^2/2\sigma^2)`, float32 (H, W)."""
    inst = _check_instances(instances)
    return class_weights(inst > 0) + border_weights(inst, w0, sigma, background_only=background_only)


def weighted_cross_entropy(logits, target, weights=None, reduction: str = "mean"):
    r"""Pixel-wise softmax cross-entropy, each pixel weighted by ``weights`` (the weight map).

    ``logits`` (N, C, H, W), ``target`` (N, H, W) class indices, ``weights`` (N, H, W) or None.
    With :math:`\ell(x) = -\log p_{\ell(x)}(x)` the cross-entropy of pixel :math:`x`:

    * ``reduction="mean"`` (the course's loss): the weighted *mean* :math:`\sum_x w(x)\,\ell(x) / \sum_x w(x)`,
      so its scale does not depend on ``w0`` or on the tile size;
    * ``reduction="sum"``: the paper's :math:`-E = -\sum_x w(x) \log p_{\ell(x)}(x)` (Eq. 1 is printed
      without the minus sign: the energy is maximised, its negative minimised).

    Both point the gradient the same way for one batch; they differ by the factor :math:`\sum_x w(x)`.
    """
    import torch.nn.functional as F

    if reduction not in ("mean", "sum"):
        raise ValueError(
            f"reduction must be 'mean' (the course's weighted mean) or 'sum' (the paper's), got {reduction!r}"
        )
    if logits.shape[-2:] != target.shape[-2:]:
        raise ValueError(
            f"the scores are {tuple(logits.shape[-2:])} but the target is {tuple(target.shape[-2:])}: "
            "with valid padding the output is smaller than the input, so centre-crop the target "
            "and the weight map to the output size first (unet_lesson.seg.train.center_crop)"
        )
    ce = F.cross_entropy(logits, target.long(), reduction="none")
    if weights is None:
        return ce.mean() if reduction == "mean" else ce.sum()
    weights = weights.to(ce.dtype)
    if reduction == "sum":
        return (weights * ce).sum()
    return (weights * ce).sum() / weights.sum().clamp_min(1e-8)


def soft_dice_loss(logits, target, eps: float = 1.0):
    r"""The soft Dice loss of the foreground: :math:`1 - (2\sum p\,t + \epsilon) / (\sum p + \sum t + \epsilon)`.

    ``p`` is the softmax probability of class 1 (the cell), ``t`` the target (0/1), summed over every pixel
    of the batch. Not the paper's loss (the paper trains with the weighted cross-entropy, Eq. 1): it optimises
    the overlap of areas directly, ignores how many pixels are background (no class weights needed), and
    is blind to *where* the pixels are, so a thin line between two cells costs almost nothing.
    ``eps`` keeps an empty target defined.
    """
    import torch

    if logits.shape[-2:] != target.shape[-2:]:
        raise ValueError(f"the scores are {tuple(logits.shape[-2:])} but the target is {tuple(target.shape[-2:])}")
    p = torch.softmax(logits, dim=1)[:, 1]
    t = (target > 0).to(p.dtype)
    return 1 - (2 * (p * t).sum() + eps) / (p.sum() + t.sum() + eps)


def two_touching_cells(gap: int = 2, size: tuple[int, int] = (40, 64)) -> np.ndarray:
    """A toy instance mask: two square cells side by side, ``gap`` background columns between them
    (the gap starts at column 31)."""
    if int(gap) != gap or gap < 1:
        raise ValueError(f"gap must be a whole number of pixels >= 1, got {gap}")
    h, w = size
    inst = np.zeros((h, w), np.int32)
    c = 31
    inst[h // 2 - 10 : h // 2 + 10, c - 18 : c] = 1
    inst[h // 2 - 10 : h // 2 + 10, c + gap : c + gap + 18] = 2
    return inst
