"""Where two predictions of one image disagree, by distance to the tile borders of a plan: the seams
of naive tiles, and their absence with overlap-tile (:mod:`unet_lesson.seg.tiling`).

Each function takes (H, W) maps (e.g. :func:`unet_lesson.seg.predict.foreground` of two predictions)
and a plan of :func:`~unet_lesson.seg.tiling.plan_tiles` or :func:`~unet_lesson.seg.tiling.plan_naive_tiles`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["seam_mask", "seam_report", "seam_profile"]


def seam_mask(plan, width: int = 2) -> np.ndarray:
    """Boolean (H, W) map of the pixels within ``width`` px of a border between two kept tiles."""
    H, W = plan.image_shape
    m = np.zeros((H, W), bool)
    for t in plan.tiles:
        k = t.keep
        if k.top > 0:
            m[max(0, k.top - width) : k.top + width, k.left : k.right] = True
        if k.left > 0:
            m[k.top : k.bottom, max(0, k.left - width) : k.left + width] = True
    return m


def seam_report(prediction, reference, plan, width: int = 2) -> dict:
    """Largest disagreement between two probability maps along tile borders and elsewhere.

    ``prediction`` and ``reference`` are (H, W) maps (e.g. :func:`foreground` of two
    predictions); returns ``{"seams": max |p - r| within width px of a tile border,
    "elsewhere": max |p - r| elsewhere, "mean_seams", "mean_elsewhere", "seam_pixels"}``.
    """
    p, r = np.asarray(prediction, np.float64), np.asarray(reference, np.float64)
    if p.shape != r.shape:
        raise ValueError(f"The two maps differ in shape: {p.shape} vs {r.shape}.")
    d = np.abs(p - r)
    s = seam_mask(plan, width)
    return {
        "seams": float(d[s].max()) if s.any() else 0.0,
        "elsewhere": float(d[~s].max()) if (~s).any() else 0.0,
        "mean_seams": float(d[s].mean()) if s.any() else 0.0,
        "mean_elsewhere": float(d[~s].mean()) if (~s).any() else 0.0,
        "seam_pixels": int(s.sum()),
    }


def seam_profile(prediction, reference, plan, edges=(0, 2, 4, 8, 16, 32)) -> list[dict]:
    """Largest and mean disagreement between two (H, W) maps by distance to the nearest tile border.

    Returns one row per band ``edges[i] <= distance < edges[i+1]`` (the last band is open):
    ``{"band": "0-2 px", "pixels": n, "max": ..., "mean": ...}``. Pixels on either side of a
    border have distance 0. Bands without pixels are left out.
    """
    from scipy import ndimage as ndi

    p, r = np.asarray(prediction, np.float64), np.asarray(reference, np.float64)
    if p.shape != r.shape:
        raise ValueError(f"The two maps differ in shape: {p.shape} vs {r.shape}.")
    border = seam_mask(plan, width=1)
    dist = ndi.distance_transform_edt(~border) if border.any() else np.full(p.shape, np.inf)
    d = np.abs(p - r)
    rows = []
    bounds = list(edges) + [np.inf]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        sel = (dist >= lo) & (dist < hi)
        if sel.any():
            band = f"{lo}-{hi} px" if np.isfinite(hi) else f">= {lo} px"
            rows.append(
                {"band": band, "pixels": int(sel.sum()), "max": float(d[sel].max()), "mean": float(d[sel].mean())}
            )
    return rows
