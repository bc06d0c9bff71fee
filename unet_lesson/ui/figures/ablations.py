"""Pictures of lesson 08's ablations: the two arms of one controlled comparison, side by side.

The numbers come from :mod:`unet_lesson.seg.ablations` (scores) and :mod:`unet_lesson.seg.metrics`
(merged cells); nothing here computes what it shows.
"""

from __future__ import annotations

import numpy as np

from ...seg.ablations import foreground_probability, held_out
from ...seg.metrics import dice, object_scores
from ...seg.predict import predict
from .training import draw_objects, label_colours

__all__ = ["plot_ablation"]


def plot_ablation(comparison: dict, index: int = 0, zoom: int | None = 64):
    """One held-out image through both arms of ``comparison`` (:func:`unet_lesson.seg.ablations.compare`).

    Top row: the image and each arm's probability of "cell" (blurred borders show here). Bottom row: the
    true cells and each arm's objects (connected blobs; red outline: true cells merged with a neighbour).
    Titles: that image's Dice, object F1 and merged cells. ``zoom``: show only the top-left ``zoom`` px."""
    import matplotlib.pyplot as plt

    ds = held_out()
    image, truth = ds.images[index], ds.instances[index]
    arms = [(a["label"], a["model"]) for a in comparison["arms"].values() if a["model"] is not None]
    view = (slice(0, zoom), slice(0, zoom)) if zoom else (slice(None), slice(None))
    fig, axes = plt.subplots(2, 1 + len(arms), figsize=(2.9 * (1 + len(arms)), 6.0), squeeze=False)
    axes[0, 0].imshow(image[view], cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title(f"held-out image {index}" + (f" (top-left {zoom} px)" if zoom else ""), fontsize=9)
    axes[1, 0].imshow(label_colours(truth[view]), interpolation="nearest")
    axes[1, 0].set_title(f"true cells: {int(np.unique(truth[truth > 0]).size)} in the whole image", fontsize=9)
    for col, (label, model) in enumerate(arms, start=1):
        prob = foreground_probability(model, image[None])[0]
        pred = predict(model, image[None])[0]
        s = object_scores(pred, truth)
        axes[0, col].imshow(prob[view], cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        axes[0, col].set_title(f"{label}\nP(cell); Dice {dice(pred, truth):.3f}", fontsize=9)
        draw_objects(
            axes[1, col], pred, truth, f"objects: F1 {s.f1:.2f}, {s.merged} merged\n(in the whole image)", view
        )
    for ax in axes[0]:
        ax.axis("off")
    axes[1, 0].axis("off")
    fig.tight_layout()
    return fig
