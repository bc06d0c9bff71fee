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


def feature_map_grid(maps, n: int = 8, title: str = "", cmap: str = "viridis", ncols: int | None = None,
                     size: float = 1.6, labels: list[str] | None = None):
    """Plot the first ``n`` channels of a (C, H, W) or (1, C, H, W) feature map as a grid.

    Each panel is scaled on its own (so weak channels stay visible) and titled with its
    channel index and shape; returns the matplotlib Figure.
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
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < k:
            ax.imshow(a[i], cmap=cmap, interpolation="nearest")
            ax.set_title(labels[i] if labels else f"ch {i}", fontsize=7)
    if title:
        fig.suptitle(f"{title}  ({c}×{a.shape[1]}×{a.shape[2]}, first {k} channels)", fontsize=9)
    fig.tight_layout()
    return fig
