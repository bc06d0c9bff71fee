"""Data augmentation as in the paper: how U-Net learns from very few images.

The paper trains on very few images (its EM set: 30; Sect. 4) and leans on augmentation, above all
*elastic deformation* (Sect. 3.1): random displacement vectors on a coarse 3x3 grid, drawn from a
Gaussian with 10 pixels standard deviation, turned into a smooth per-pixel displacement field by
bicubic interpolation. "Deformation used to be the most common variation in tissue and realistic
deformations can be simulated efficiently" (Sect. 1), so the deformed pictures are new, realistic
training images, and the mask bends with them.

The rules that keep image and mask aligned:

* every transform is applied with the *same* random numbers to the image and its masks;
* the image is resampled smoothly (cubic spline, ``order=3``), label masks with nearest
  neighbour (``order=0``) so a label stays a label (no "half a cell" values), and real-valued
  maps such as the weight map bilinearly (``order=1``);
* borders are mirrored (the paper's mirror extrapolation), so no black wedges appear.

Also here: flips and 90-degree rotations (exact, free) and intensity changes (gamma,
contrast, brightness, noise: image only; the mask does not change).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = ["displacement_field", "elastic_deform", "flip_rotate", "intensity", "Augment"]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def displacement_field(shape, grid: int = 3, std: float = 10.0, seed=None) -> np.ndarray:
    """Per-pixel displacements ``(2, H, W)`` (dy, dx) in pixels: Gaussian vectors with standard
    deviation ``std`` on a ``grid`` x ``grid`` lattice spanning the picture, interpolated bicubically."""
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1:
        raise ValueError(f"shape must be positive, got {shape}")
    if int(grid) != grid or grid < 2:
        raise ValueError(f"grid must be a whole number >= 2 (the paper uses 3), got {grid}")
    if not np.isfinite(std) or std < 0:
        raise ValueError(f"std must be >= 0 pixels (the paper uses 10; 0 means no deformation), got {std}")
    grid = int(grid)
    coarse = _rng(seed).normal(0.0, std, size=(2, grid, grid))
    if std == 0:
        return np.zeros((2, h, w))
    # pixel (y, x) sits at fractional position y/(h-1)*(grid-1) on the coarse lattice
    cy = np.linspace(0, grid - 1, h) if h > 1 else np.zeros(1)
    cx = np.linspace(0, grid - 1, w) if w > 1 else np.zeros(1)
    yy, xx = np.meshgrid(cy, cx, indexing="ij")
    return np.stack([ndi.map_coordinates(c, [yy, xx], order=3, mode="nearest") for c in coarse])


def _warp(a: np.ndarray, coords, order: int) -> np.ndarray:
    out = ndi.map_coordinates(a, coords, order=order, mode="mirror")
    return out.astype(a.dtype, copy=False)


def elastic_deform(
    image, *masks, grid: int = 3, std: float = 10.0, seed=None, mask_order: int = 0, field: np.ndarray | None = None
):
    """Elastically deform ``image`` and any number of ``masks`` with one shared displacement field.

    Returns ``(image, *masks)`` (just the image if no masks). The image is resampled with a cubic
    spline and clipped to its original range; masks with nearest neighbour (``mask_order=0``;
    pass 1 for real-valued maps like the weight map). ``std=0`` returns exact copies.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    for m in masks:
        if np.shape(m) != image.shape:
            raise ValueError(f"every mask must have the image's shape {image.shape}, got {np.shape(m)}")
    if field is None:
        field = displacement_field(image.shape, grid, std, seed)
    h, w = image.shape
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = [yy + field[0], xx + field[1]]
    lo, hi = float(image.min()), float(image.max())
    warped = np.clip(_warp(image.astype(np.float64), coords, 3), lo, hi).astype(image.dtype)
    out = [warped] + [_warp(np.asarray(m), coords, mask_order) for m in masks]
    return out[0] if not masks else tuple(out)


def flip_rotate(image, *masks, seed=None):
    """A random one of the 8 flips/90-degree rotations, the same for image and masks (exact, no resampling)."""
    rng = _rng(seed)
    k, flip = int(rng.integers(4)), bool(rng.integers(2))

    def f(a):
        a = np.rot90(np.asarray(a), k)
        return np.ascontiguousarray(a[:, ::-1] if flip else a)

    out = [f(image)] + [f(m) for m in masks]
    return out[0] if not masks else tuple(out)


def intensity(
    image, seed=None, gamma=(0.7, 1.4), contrast=(0.8, 1.2), brightness=(-0.1, 0.1), noise=(0.0, 0.03)
) -> np.ndarray:
    """Random gamma, contrast, brightness and Gaussian noise (image only), clipped to [0, 1]."""
    rng = _rng(seed)
    a = np.clip(np.asarray(image, np.float64), 0, 1) ** rng.uniform(*gamma)
    a = (a - a.mean()) * rng.uniform(*contrast) + a.mean() + rng.uniform(*brightness)
    a = a + rng.normal(0, rng.uniform(*noise), a.shape)
    return np.clip(a, 0, 1).astype(np.float32)


@dataclass(frozen=True)
class Augment:
    """The training augmentation: elastic deformation (probability ``p_elastic``), flip/rotation,
    intensity. Call ``aug(image, mask, weights, seed=...)`` -> augmented ``(image, mask, weights)``."""

    p_elastic: float = 0.5
    grid: int = 3
    std: float = 10.0
    flips: bool = True
    intensity: bool = True

    def __call__(self, image, mask, weights=None, seed=None):
        rng = _rng(seed)
        extra = [] if weights is None else [weights]
        if self.p_elastic > 0 and rng.random() < self.p_elastic:
            field = displacement_field(np.shape(image), self.grid, self.std, rng)
            image, mask = elastic_deform(image, mask, field=field)
            if weights is not None:
                extra = [elastic_deform(weights, field=field)]  # smooth, clipped to its own range
        if self.flips:
            image, mask, *extra = flip_rotate(image, mask, *extra, seed=rng)
        if self.intensity:
            image = intensity(image, seed=rng)
        return (image, mask, extra[0] if extra else None)
