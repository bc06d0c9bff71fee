"""Small plotting helpers shared by the lessons (matplotlib, no state kept between calls)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["feature_map_grid", "to_numpy", "mosaic", "resize"]


def to_numpy(x) -> np.ndarray:
    """A tensor (any device, with or without grad) or array as a float numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def resize(a: np.ndarray, tile: int) -> np.ndarray:
    """Resize a 2-D map to ``tile`` x ``tile``: area average when shrinking (no aliasing), nearest when enlarging."""
    for axis in (0, 1):
        n = a.shape[axis]
        edges = (np.arange(tile) * n / tile).astype(int)
        if n > tile:
            counts = np.diff(np.append(edges, n))
            shape = [1, 1]
            shape[axis] = tile
            a = np.add.reduceat(a, edges, axis=axis) / counts.reshape(shape)
        else:
            a = np.take(a, edges, axis=axis)
    return a


def _scaled(a: np.ndarray, robust: bool) -> np.ndarray:
    """A map scaled to [0, 1] on its own: min-max, or the 1st-99th percentile (a bright border does not wash it out)."""
    lo, hi = (float(v) for v in (np.percentile(a, (1, 99)) if robust else (a.min(), a.max())))
    return np.clip((a - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(a)


def mosaic(
    panels: dict,
    rows: int,
    cols: int,
    *,
    tile: int | None = None,
    gap: int = 1,
    band: int = 0,
    top: int = 0,
    robust: bool = False,
) -> tuple[np.ndarray, dict]:
    """Many 2-D maps in one RGBA image, so a figure draws them with one ``imshow`` (fast).

    ``panels`` maps a grid position ``(row, col)`` to ``(array, cmap)``. Every map is scaled to [0, 1]
    on its own (see :func:`_scaled`) and coloured with its colormap; ``tile`` resizes maps of different
    sizes to one square (default: the maps' own, equal, size). ``band`` leaves room above each tile
    for a label and ``top`` above the whole grid. Returns the canvas (white gaps) and, per position,
    the top-left corner ``(y, x)`` of its tile.
    """
    from matplotlib import colormaps

    shapes = {np.asarray(a).shape for a, _ in panels.values()}
    th, tw = (tile, tile) if tile else next(iter(shapes))
    H = top + rows * (band + th) + (rows - 1) * (gap if not band else 0) + (4 if band else 0)
    W = cols * (tw + gap) + (gap if band else -gap)
    canvas = np.ones((H, W, 4), dtype=np.float32)
    corners = {}
    for (r, c), (arr, cmap) in panels.items():
        a = np.asarray(arr, dtype=np.float32)
        a = resize(a, tile) if tile else a
        y0 = top + r * (band + th + (gap if not band else 0)) + band
        x0 = (gap if band else 0) + c * (tw + gap)
        canvas[y0 : y0 + th, x0 : x0 + tw] = colormaps[cmap](_scaled(a, robust))
        corners[(r, c)] = (y0, x0)
    return canvas, corners


def feature_map_grid(
    maps,
    n: int = 8,
    title: str = "",
    cmap: str = "viridis",
    ncols: int | None = None,
    size: float = 1.6,
    labels: list[str] | None = None,
):
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
        canvas, _ = mosaic({divmod(i, ncols): (a[i], cmap) for i in range(k)}, nrows, ncols)
        ax.imshow(canvas, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"channels 0..{k - 1}, row by row ({ncols} per row)", fontsize=8)
        if head:
            ax.set_title(head, fontsize=9)
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.06, top=0.92 if head else 0.98)
        return fig
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < k:
            ax.imshow(a[i], cmap=cmap, interpolation="nearest")
            ax.set_title(labels[i] if labels else f"ch {i}", fontsize=7)
    if head:
        fig.suptitle(head, fontsize=9)
    fig.subplots_adjust(
        left=0.02,
        right=0.98,
        bottom=0.02,
        top=0.80 if head and nrows == 1 else 0.88 if head else 0.92,
        wspace=0.08,
        hspace=0.3,
    )
    return fig
