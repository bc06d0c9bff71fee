"""Pictures of the training lesson: the generated data, the weight map, augmentation, the run, predictions.

Each function takes the segmentation layer's objects (:mod:`unet_lesson.seg`) and returns a matplotlib
Figure; nothing here computes what it shows (the numbers come from ``unet_lesson.seg``).
"""

from __future__ import annotations

import numpy as np

from ...core.model import UNet
from ...seg.augment import displacement_field, elastic_deform
from ...seg.data import Dataset
from ...seg.losses import SIGMA, W0, _check_instances, border_weights, class_weights
from ...seg.metrics import dice, merged_labels, object_scores, objects
from ...seg.predict import predict
from ...seg.targets import separate_touching
from ...seg.train import History

__all__ = [
    "label_colours",
    "plot_samples",
    "plot_separation",
    "plot_objects",
    "plot_weight_map",
    "plot_augmentations",
    "plot_history",
    "plot_predictions",
]


def label_colours(labels) -> np.ndarray:
    """An RGB picture of a label image: black background, one colour per object (neighbours mostly differ)."""
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    out = np.zeros(labels.shape + (3,))
    fg = labels > 0
    out[fg] = plt.get_cmap("tab20")((labels[fg] * 7) % 20)[:, :3]
    return out


def plot_samples(dataset: Dataset, n: int = 4):
    """Picture of ``n`` samples: the image, its instance mask (one colour per cell), its binary mask."""
    import matplotlib.pyplot as plt

    n = max(1, min(int(n), len(dataset)))
    fig, axes = plt.subplots(3, n, figsize=(2.1 * n, 6.3), squeeze=False)
    for k in range(n):
        s = dataset[k]
        for row, (im, title) in enumerate(
            (
                (s.image, "image"),
                (label_colours(s.instances), f"{s.n_cells} cells (instances)"),
                (s.mask, "binary mask"),
            )
        ):
            ax = axes[row, k]
            ax.imshow(im, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_separation(image, labels):
    """Why the training target separates touching cells: a label image whose cells touch, its plain binary
    mask (connected blobs, one colour each: touching cells merge), and the target of
    :func:`~unet_lesson.seg.targets.separate_touching` (its blobs are the cells again)."""
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    n_cells = int(np.unique(labels[labels > 0]).size)
    blobs = objects(labels > 0)
    target = separate_touching(labels)
    parts = objects(target)
    panels = (
        (image, "image", "gray"),
        (label_colours(labels), f"label image: {n_cells} cells, touching", None),
        (label_colours(blobs), f"labels > 0: {int(blobs.max())} connected blobs", None),
        (label_colours(parts), f"separated target: {int(parts.max())} blobs", None),
    )
    fig, axes = plt.subplots(1, 4, figsize=(10.4, 2.9))
    for ax, (a, title, cmap) in zip(axes, panels):
        ax.imshow(a, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def draw_objects(ax, pred, truth, title: str = "", view=None):
    """Predicted objects in colour on ``ax``; the true cells that one blob merged with a neighbour outlined red.
    Merges are found on the whole image; ``view`` (a pair of slices) shows only that part of it."""
    view = view or (slice(None), slice(None))
    merged = np.isin(truth, merged_labels(pred, truth))[view]
    ax.imshow(label_colours(objects(pred))[view], interpolation="nearest")
    if merged.any():
        ax.contour(merged, levels=[0.5], colors="r", linewidths=0.7)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def plot_objects(image, truth, pred, label: str = "prediction"):
    """Image, true cells, predicted objects (merged true cells outlined red), with Dice and object scores."""
    import matplotlib.pyplot as plt

    s = object_scores(pred, truth)
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 3.1))
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("image", fontsize=9)
    axes[0].axis("off")
    axes[1].imshow(label_colours(truth), interpolation="nearest")
    axes[1].set_title(f"true cells: {s.n_true}", fontsize=9)
    axes[1].axis("off")
    draw_objects(
        axes[2],
        pred,
        truth,
        f"{label}: Dice {dice(pred, truth):.3f}\n{s.n_pred} objects, F1 {s.f1:.2f}, {s.merged} cells merged (red)",
    )
    fig.tight_layout()
    return fig


def plot_weight_map(instances, image=None, w0: float = W0, sigma: float = SIGMA):
    """The weight map of an instance mask: (image,) instances, class weights w_c, the full map w."""
    import matplotlib.pyplot as plt

    inst = _check_instances(instances)
    wc = class_weights(inst > 0)
    w = wc + border_weights(inst, w0, sigma)
    panels = ([(image, "image", "gray", (0, 1))] if image is not None else []) + [
        (inst > 0, "mask", "gray", (0, 1)),
        (wc, "class balance $w_c$", "magma", (0, max(1e-6, w.max()))),
        (w, f"weight map $w$ ($w_0$={w0:g}, $\\sigma$={sigma:g})", "magma", (0, max(1e-6, w.max()))),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels) + 0.6, 2.9))
    for ax, (a, title, cmap, (lo, hi)) in zip(axes, panels):
        im = ax.imshow(a, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=axes[-1], fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def plot_augmentations(image, mask, n: int = 3, seed: int = 0, grid: int = 3, std: float = 10.0):
    """The original and ``n`` elastic deformations. Top: image with the mask's outline drawn on it
    (it must follow the cells). Bottom: how a regular grid bends, with the 3x3 random vectors."""
    import matplotlib.pyplot as plt

    image, mask = np.asarray(image), np.asarray(mask)
    h, w = image.shape
    lines = np.zeros((h, w), np.float32)
    lines[::8, :] = 1
    lines[:, ::8] = 1
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2, n + 1, figsize=(2.3 * (n + 1), 4.8), squeeze=False)
    for k in range(n + 1):
        if k == 0:
            img, m, g, field, title = image, mask, lines, None, "original"
        else:
            field = displacement_field((h, w), grid, std, rng)
            img, m = elastic_deform(image, mask, field=field)
            g = elastic_deform(lines, field=field)
            title = f"elastic #{k}"
        axes[0, k].imshow(img, cmap="gray", vmin=0, vmax=1)
        axes[0, k].contour(m > 0, levels=[0.5], colors="r", linewidths=0.6)
        axes[0, k].set_title(title + " (mask outline)", fontsize=8)
        axes[1, k].imshow(g, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        if field is not None:
            ys = np.linspace(0, h - 1, grid)
            xs = np.linspace(0, w - 1, grid)
            yy, xx = np.meshgrid(ys, xs, indexing="ij")
            iy, ix = np.round(yy).astype(int), np.round(xx).astype(int)
            # the image at p shows what was at p + d: draw d at the grid points
            axes[1, k].quiver(
                xx,
                yy,
                field[1][iy, ix],
                field[0][iy, ix],
                color="C3",
                angles="xy",
                scale_units="xy",
                scale=1,
                width=0.012,
            )
        axes[1, k].set_title("a grid, deformed alike" if k else "grid every 8 px", fontsize=8)
        for ax in axes[:, k]:
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_history(history: History, target: float | None = 0.95, baseline: float | None = None):
    """Loss per step (raw and smoothed) and held-out Dice per evaluation."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    loss = np.asarray(history.loss)
    a.plot(np.arange(1, len(loss) + 1), loss, color="0.75", lw=0.8, label="per step")
    if len(loss) >= 5:
        k = max(2, len(loss) // 20)
        sm = np.convolve(loss, np.ones(k) / k, mode="valid")
        a.plot(np.arange(k, len(loss) + 1), sm, color="C0", label=f"mean of {k}")
    a.set(xlabel="step", ylabel="weighted cross-entropy", title="training loss")
    a.legend(fontsize=8)
    b.plot(history.eval_step, history.dice, "o-", ms=3, color="C1", label="Dice")
    b.plot(history.eval_step, history.iou, "s-", ms=3, color="C2", label="IoU")
    if target is not None:
        b.axhline(target, color="k", ls="--", lw=0.8, label=f"target {target}")
    if baseline is not None:
        b.axhline(baseline, color="C3", ls=":", lw=1, label=f"Otsu {baseline:.2f}")
    b.set(xlabel="step", ylabel="held-out score", title="held-out Dice / IoU", ylim=(0.5, 1.0))
    b.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_predictions(model: UNet, dataset: Dataset, n: int = 3, device=None):
    """Image, true mask, prediction, and the errors (red: missed cell, blue: false cell) for ``n`` images."""
    import matplotlib.pyplot as plt

    n = min(n, len(dataset))
    pred = predict(model, dataset.images[:n], device)
    fig, axes = plt.subplots(n, 4, figsize=(8, 2.1 * n), squeeze=False)
    for r in range(n):
        t, p = dataset.masks[r] > 0, pred[r] > 0
        err = np.zeros(t.shape + (3,))
        err[t & ~p] = (0.9, 0.1, 0.1)
        err[~t & p] = (0.1, 0.3, 0.9)
        err[t & p] = (0.85, 0.85, 0.85)
        d = dice(p, t)
        for ax, im, title in zip(
            axes[r], (dataset.images[r], t, p, err), ("image", "true mask", f"prediction (Dice {d:.3f})", "errors")
        ):
            ax.imshow(im, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    return fig
