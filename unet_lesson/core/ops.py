r"""The operations a student re-derives by hand, each written once and tested against PyTorch.

* :func:`center_crop` - copy and crop's crop (中心裁剪): the centre of a map, at the offsets
  :func:`~unet_lesson.core.sizes.center_crop_box` computes; numpy arrays and torch tensors alike.
  The network's :class:`~unet_lesson.core.model.CenterCrop`, the training targets of a valid
  network and a student folder's images all use it.
* :func:`mirror_pad` - the paper's "missing context is extrapolated by mirroring": any margin,
  on any image, arrays and tensors alike; overlap-tile, whole-image prediction and the lessons
  all use it.

(The transposed convolution by scatter-and-sum and the other by-hand layers live beside these,
in :mod:`unet_lesson.core.handmade`.)
"""

from __future__ import annotations

import numpy as np

from .parse import size_pair, whole
from .sizes import center_crop_box

__all__ = ["center_crop", "mirror_index", "mirror_pad"]

#: the largest padded image :func:`mirror_pad` makes: a side, and values in all (1 GB of float32)
MAX_PADDED_SIDE, MAX_PADDED_ELEMENTS = 2**16, 2**28


def center_crop(a, size):
    r"""The centre ``size`` (one number or (h, w)) of the last two axes of ``a`` (array or tensor).

    The offset from the top is :math:`\lfloor (H - h) / 2 \rfloor` (and likewise from the left), as
    in the network's copy and crop; an odd difference cuts its extra row at the bottom and its
    extra column at the right. Returns a view, not a copy.
    """
    shape = tuple(a.shape)
    if len(shape) < 2:
        raise ValueError(f"center_crop needs a map with at least 2 dimensions (..., H, W), got shape {shape}.")
    box = center_crop_box(shape[-2:], size_pair(size, "crop size"))
    rows, cols = box.slices
    return a[..., rows, cols]


def mirror_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Index into an axis of length ``n`` for any integer position, mirroring at the edges
    (…, 2, 1, | 0, 1, 2, …, n-1, | n-2, n-3, …) as often as needed; an axis of one pixel repeats it."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    k = np.mod(idx, period)
    return np.where(k < n, k, period - k)


def mirror_pad(a, top: int, bottom: int, left: int, right: int):
    """Mirror-pad the last two axes of ``a`` (a numpy array or a torch tensor; the same type comes back).

    The mirror does not repeat the edge pixel (numpy's ``mode="reflect"``), and a padding wider than
    the image keeps mirroring back and forth, so any margin works on any image (a one-pixel axis is
    repeated, as there is nothing to mirror).
    """
    shape = tuple(a.shape)
    if len(shape) < 2:
        raise ValueError(f"mirror_pad needs an image with at least 2 dimensions, got shape {shape}.")
    pads = [
        whole(v, f"padding {name}", minimum=0)
        for name, v in (("top", top), ("bottom", bottom), ("left", left), ("right", right))
    ]
    top, bottom, left, right = pads
    H, W = shape[-2:]
    if H == 0 or W == 0:
        raise ValueError(f"mirror_pad needs an image with at least one pixel, got shape {shape}.")
    out_h, out_w = H + top + bottom, W + left + right
    planes = int(np.prod(shape[:-2], dtype=np.int64)) if len(shape) > 2 else 1
    if max(out_h, out_w) > MAX_PADDED_SIDE or planes * out_h * out_w > MAX_PADDED_ELEMENTS:
        raise ValueError(
            f"mirror_pad would make a {out_h} x {out_w} image from a {H} x {W} one"
            + (f" ({planes} of them)" if planes > 1 else "")
            + f": more than this course pads ({MAX_PADDED_SIDE} pixels a side, {MAX_PADDED_ELEMENTS:,} values in all)."
            " A network's margin is tens of pixels (lesson 09's context); pad by that, or tile a larger image."
        )
    rows = mirror_index(np.arange(-top, H + bottom), H)
    cols = mirror_index(np.arange(-left, W + right), W)
    if hasattr(a, "detach"):  # a torch tensor: index with tensors on its device
        import torch

        r = torch.as_tensor(rows, device=a.device)
        c = torch.as_tensor(cols, device=a.device)
        return a.index_select(-2, r).index_select(-1, c)
    return np.asarray(a)[..., rows[:, None], cols[None, :]]
