"""Small plotting helpers shared by the lessons (matplotlib, no state kept between calls)."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["feature_map_grid", "to_numpy"]


def to_numpy(x) -> np.ndarray:
    """A tensor (any device, with or without grad) or array as a float numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _mosaic(a: np.ndarray, ncols: int, gap: int = 1) -> np.ndarray:
    """Tile (k, H, W) maps, each scaled to [0, 1] on its own, into one image with NaN gaps."""
    k, h, w = a.shape
    nrows = math.ceil(k / ncols)
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan, dtype=np.float32)
    lo = a.reshape(k, -1).min(1)[:, None, None]
    hi = a.reshape(k, -1).max(1)[:, None, None]
    scaled = (a - lo) / np.where(hi > lo, hi - lo, 1)
    for i in range(k):
        r, c = divmod(i, ncols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = scaled[i]
    return out


def feature_map_grid(maps, n: int = 8, title: str = "", cmap: str = "viridis", ncols: int | None = None,
                     size: float = 1.6, labels: list[str] | None = None):
    """Plot the first ``n`` channels of a (C, H, W) or (1, C, H, W) feature map as a grid.

    Each panel is scaled on its own (so weak channels stay visible). Up to 16 panels get their own axes
    and titles (channel index or ``labels``); more are drawn as one mosaic image, which stays fast for
    the 64 channels of U-Net's first conv. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    a = to_numpy(maps)
    if a.ndim == 4:
        a = a[0]
    if a.ndim == 2:
        a = a[None]
    c = a.shape[0]
    k = min(n, c)
    ncols = ncols or min(k, 8)
    nrows = math.ceil(k / ncols)
    head = f"{title}  ({c}×{a.shape[1]}×{a.shape[2]}, first {k} channels)" if title else ""
    if k > 16:
        fig, ax = plt.subplots(figsize=(size * ncols, size * nrows + (0.4 if title else 0)))
        ax.imshow(_mosaic(a[:k], ncols), cmap=cmap, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"channels 0..{k - 1}, row by row ({ncols} per row)", fontsize=8)
        if head:
            ax.set_title(head, fontsize=9)
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.06, top=0.92 if head else 0.98)
        return fig
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < k:
            ax.imshow(a[i], cmap=cmap, interpolation="nearest")
            ax.set_title(labels[i] if labels else f"ch {i}", fontsize=7)
    if head:
        fig.suptitle(head, fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.80 if head and nrows == 1 else 0.88 if head else 0.92,
                        wspace=0.08, hspace=0.3)
    return fig
