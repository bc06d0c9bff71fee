r"""Training targets from label images: touching objects separated, the paper's way.

A label image (0 = background, one integer per cell) says which pixel belongs to which cell.
The network, though, predicts two classes, cell and background; if two cells touch, their
foreground pixels form one connected blob and the binary mask cannot tell them apart. The paper
(Ronneberger et al. 2015, section 3 and Fig. 3) therefore trains on masks in which touching cells
are *separated by background*, and weights that thin background border heavily (the weight map's
:math:`w_0 \exp(-(d_1+d_2)^2/2\sigma^2)` term), so the network learns to draw it.

:func:`separate_touching` makes that mask from any label image: every pixel of an object that
lies next to a *different* object becomes background, on both sides of the contact, so the
separation does not depend on which cell got the smaller number or which lies on the left.

>>> import numpy as np
>>> cells = np.array([[1, 1, 2, 2],
...                   [1, 1, 2, 2]])
>>> separate_touching(cells)
array([[1, 0, 0, 1],
       [1, 0, 0, 1]], dtype=uint8)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..core.parse import whole
from .metrics import FOUR, label_array

__all__ = ["separate_touching", "touching_labels"]


def separate_touching(instances, width: int = 1) -> np.ndarray:
    r"""A binary foreground mask (uint8, 1 = object) in which touching objects are separated by background.

    Args:
        instances: a label image (H, W) or a stack (N, H, W): 0 = background, one whole number per
            object (as ``dataset.instances``, or the label images CellPose and StarDist save).
        width: how far the border reaches into each object. A pixel of object :math:`a` becomes
            background when a pixel of another object :math:`b \ne a` (not background) lies within
            ``width`` steps up, down, left or right of it (city-block distance; for ``width=1``: the
            pixel is 4-adjacent to another object). **Both sides** give up their pixels, so two
            objects sharing an edge end up ``2 * width`` pixels apart, whatever their label numbers
            and wherever they lie. ``width=0`` changes nothing (the plain ``instances > 0``).

    Slivers: where two objects meet along a staircase (a slanted contact) or at a corner where three
    meet, the cut can leave a pixel or two of an object isolated from the rest of it. When the cut
    splits a (connected) piece of an object, its largest part is kept and any other part smaller
    than :math:`(2\,\text{width} + 1)^2` pixels becomes background as well.

    Guarantees and limits:

    * the 4-connected components of the result never mix two objects: each lies inside one object
      (remaining pixels of different objects are more than ``width`` steps apart); corner-to-corner
      (diagonal) neighbours do not touch in this sense and are left as they are;
    * pixels next to the image border or to background are kept: an object that touches nothing
      but background is unchanged, so data already separated by a background line (the course's
      generated cells, :mod:`unet_lesson.seg.data`) come back as ``instances > 0``;
    * so an object that was one connected piece gives one component, except that (a) an object at
      most ``2 * width`` pixels thick where it meets its neighbours can vanish (a one-pixel sliver
      squeezed between two cells), and (b) an object with a neck narrower than that between two
      neighbours can fall into two large parts, which are both kept. Count objects on the labels
      (:func:`unet_lesson.seg.metrics.object_scores`), not on this mask, when that matters.

    A stack is separated image by image (labels in different images never meet).
    """
    inst = label_array(instances, "instances")
    w = whole(width, "width", minimum=0, unit="pixels")
    if inst.ndim == 3:
        out = np.zeros(inst.shape, np.uint8)
        for k, image in enumerate(inst):
            out[k] = _separate(image, w)
        return out
    return _separate(inst, w)


def _separate(inst: np.ndarray, w: int) -> np.ndarray:
    """:func:`separate_touching` of one (H, W) label image (checked)."""
    fg = inst != 0
    if w == 0 or not fg.any():
        return fg.astype(np.uint8)
    lab = inst.astype(np.int64)
    # 1. the pixels within `w` up/down/left/right steps: a diamond (the cross for w = 1). A different object is
    #    near when the largest label nearby is larger than the own one, or the smallest non-background label
    #    nearby is smaller (background counts as +infinity for the minimum)
    foot = ndi.iterate_structure(FOUR, w)
    top = int(lab.max()) + 1
    largest = ndi.grey_dilation(lab, footprint=foot, mode="constant", cval=0)
    smallest = ndi.grey_erosion(np.where(fg, lab, top), footprint=foot, mode="constant", cval=top)
    kept = fg & (largest <= lab) & (smallest >= lab)
    # 2. slivers: the pieces of the result, and the connected piece of an object each lies in
    pieces, n = ndi.label(kept, structure=FOUR)
    if n == 0:
        return kept.astype(np.uint8)
    from skimage.measure import label as label_regions  # regions of equal value: one per connected object piece

    region = label_regions(lab, background=0, connectivity=1)
    size = np.bincount(pieces.ravel(), minlength=n + 1)
    owner = np.zeros(n + 1, np.int64)
    owner[pieces.ravel()] = region.ravel()  # each piece lies inside one region
    by_owner = np.lexsort((-size[1:], owner[1:])) + 1  # pieces by region, largest first
    largest_of_region = np.ones(n, bool)
    largest_of_region[1:] = owner[by_owner[1:]] != owner[by_owner[:-1]]
    keep = np.zeros(n + 1, bool)
    keep[by_owner[largest_of_region]] = True
    keep |= size >= (2 * w + 1) ** 2
    keep[0] = False
    return keep[pieces].astype(np.uint8)


def touching_labels(instances) -> np.ndarray:
    r"""The label image with its one-pixel separation lines filled in: touching objects then share an edge.

    The course's generated cells (:mod:`unet_lesson.seg.data`) come already separated by a one-pixel
    background line. A label image saved by a segmentation tool (CellPose, StarDist, a hand annotation)
    usually has none: neighbouring labels touch. This makes the first kind look like the second, to show
    what :func:`separate_touching` does and to write a realistic label-image folder.

    A background pixel becomes an object pixel when its 4-neighbours (up, down, left, right) hold two
    or more *different* objects; it takes the largest of those labels (done twice, so that a slanted
    line, a staircase of pixels, is filled too). Background that borders only one
    object (or none) stays background, so an object that touches nothing keeps its outline.
    A stack (N, H, W) is filled image by image. Returns int32 labels of the same shape.

    >>> import numpy as np
    >>> touching_labels(np.array([[1, 0, 2], [1, 0, 2]]))
    array([[1, 2, 2],
           [1, 2, 2]], dtype=int32)
    """
    inst = label_array(instances, "instances").astype(np.int64)
    if inst.ndim == 3:
        return np.stack([touching_labels(image) for image in inst])
    top = int(inst.max(initial=0)) + 1
    for _ in range(2):  # a second pass fills what a slanted (staircase) line leaves after the first
        largest = ndi.grey_dilation(inst, footprint=FOUR, mode="constant", cval=0)
        smallest = ndi.grey_erosion(np.where(inst > 0, inst, top), footprint=FOUR, mode="constant", cval=top)
        between = (inst == 0) & (largest > 0) & (smallest < top) & (smallest != largest)
        inst = np.where(between, largest, inst)
    return inst.astype(np.int32)
