"""Lesson 08 (training): its data, pictures, the weight-map widget's view and the exercises."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..core.shapes import output_size
from ..seg.data import make_dataset, make_sample
from ..seg.losses import SIGMA, W0, border_weights, class_weights, two_touching_cells
from ..seg.metrics import dice, iou_from_dice
from ..seg.train import LESSON_DATA, VALID_OPTIONS, otsu_baseline
from ..ui.course import Lesson
from ..ui.exercises import Exercise
from ..ui.widgets import View, Widget

__all__ = [
    "LESSON",
    "WIDGETS",
    "EXERCISES",
    "lesson_data",
    "plot_otsu",
    "weight_view",
    "controls",
    "GAP_PIXEL",
    "EX_GAP",
    "EX_W0",
    "EX_CROP",
    "EX_IOU",
]

LESSON = Lesson(
    8,
    "08_training",
    "Training",
    minutes=40,
    topics=(12,),
    summary="generated cell images and the Otsu baseline, the paper's weighted loss and elastic "
    "deformation, training live to Dice >= 0.95, checkpoints and resume, your own images",
)


@lru_cache(maxsize=2)
def lesson_data():
    """The lesson's training images and its held-out images (``LESSON_DATA``: seeds 0 and 1)."""
    d = LESSON_DATA
    return (
        make_dataset(d["n_train"], d["size"], seed=d["train_seed"]),
        make_dataset(d["n_val"], d["size"], seed=d["val_seed"]),
    )


def plot_otsu(dataset, n: int = 3):
    """Image, Otsu's threshold, the true mask, for ``n`` images (per-image Dice in the titles)."""
    import matplotlib.pyplot as plt

    n = min(n, len(dataset))
    pred = otsu_baseline(dataset)["pred"]
    fig, axes = plt.subplots(3, n, figsize=(2.3 * n, 7.0), squeeze=False)
    for k in range(n):
        for row, (a, title) in enumerate(
            (
                (dataset.images[k], "image"),
                (pred[k], f"Otsu (Dice {dice(pred[k], dataset.masks[k]):.2f})"),
                (dataset.masks[k], "true mask"),
            )
        ):
            axes[row, k].imshow(a, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axes[row, k].set_title(title, fontsize=9)
            axes[row, k].axis("off")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------
# widget: w0 and sigma -> the weight map
# ----------------------------------------------------------------------------------
#: In ``two_touching_cells(2)`` the pixel (row 20, column 31) is 1 px from cell 1 and 2 px from cell 2.
GAP_PIXEL = (20, 31)


def weight_view(w0: float = W0, sigma: float = SIGMA, gap: int = 2, seed: int = 0) -> View:
    """The weight map for ``w0`` and ``sigma``: two toy cells ``gap`` px apart (with the profile across
    the gap) and a 64x64 corner of a generated picture. ``data``: the values shown."""
    import matplotlib.pyplot as plt

    toy = two_touching_cells(gap)
    bt = border_weights(toy, w0, sigma)  # raises ValueError with the reason for a bad w0/sigma
    wt = class_weights(toy > 0) + bt
    s = make_sample(64, seed=seed)
    wr = class_weights(s.mask) + border_weights(s.instances, w0, sigma)
    row = GAP_PIXEL[0]
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.8))
    vmax = max(wt.max(), wr.max(), 1.0)
    axes[0].imshow(wt, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
    axes[0].axhline(row, color="c", lw=0.8)
    axes[0].set_title(f"two cells, {gap} px apart", fontsize=9)
    axes[1].plot(np.arange(toy.shape[1]), wt[row], "o-", ms=2.5, color="C1")
    axes[1].fill_between(np.arange(toy.shape[1]), 0, vmax * (toy[row] > 0), color="0.85", step="mid", label="cells")
    axes[1].set(xlabel="column", ylabel="w(x)", title="weight along the cyan line", ylim=(0, vmax * 1.05))
    axes[1].legend(fontsize=8, loc="upper right")
    im = axes[2].imshow(wr, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
    axes[2].set_title("a generated picture (64x64)", fontsize=9)
    for ax in (axes[0], axes[2]):
        ax.axis("off")
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
    fig.tight_layout()
    gap_w = float(wt[row, GAP_PIXEL[1] : GAP_PIXEL[1] + gap].max())
    html = (
        f"<p>w<sub>0</sub> = {w0:g}, &sigma; = {sigma:g} px: in the gap the weight reaches "
        f"<b>{gap_w:.2f}</b> (background far from cells: {wt[2, 2]:.2f}, inside a cell: "
        f"{wt[row, 20]:.2f}). Largest weight in the picture: <b>{wr.max():.2f}</b>.</p>"
    )
    return View(
        html=html,
        figure=fig,
        data={
            "w0": float(w0),
            "sigma": float(sigma),
            "gap": int(gap),
            "gap_weight": round(gap_w, 4),
            "max_weight": round(float(wr.max()), 4),
        },
    )


def controls():
    """w0 (0..30: 0 switches the border term off), sigma (0.5..15 px), the gap (1..8 px)."""
    import ipywidgets as W

    return {
        "w0": W.FloatSlider(value=W0, min=0, max=30, step=1, description="w0"),
        "sigma": W.FloatSlider(value=SIGMA, min=0.5, max=15, step=0.5, description="sigma (px)"),
        "gap": W.IntSlider(value=2, min=1, max=8, description="gap (px)"),
    }


WIDGETS = {"weights": Widget(weight_view, controls, css="ul-weights", title="The paper's weight map")}


# ----------------------------------------------------------------------------------
# exercises (answers computed by the package)
# ----------------------------------------------------------------------------------
def _close(tol):
    return lambda a, e: abs(float(a) - float(e)) <= tol


EX_GAP = Exercise(
    key="8.1",
    question=(
        "Two cells are 2 px apart. A background pixel in the gap is d1 = 1 px from one cell and d2 = 2 px "
        f"from the other. With the paper's w0 = {W0:g} and sigma = {SIGMA:g} px, what is the border term "
        "w0 * exp(-(d1 + d2)^2 / (2 sigma^2)) there? (two decimals)"
    ),
    expected=lambda: round(float(border_weights(two_touching_cells(2))[GAP_PIXEL]), 2),
    hint="(d1 + d2)^2 = 9 and 2 sigma^2 = 50: compute 10 * exp(-9/50).",
    explanation="about 8.35: a gap pixel counts about 9 times as much as an ordinary pixel (w_c is about 1).",
    compare=_close(0.011),
)

EX_W0 = Exercise(
    key="8.2",
    question="Set w0 = 0. What does the paper's loss become?",
    choices={
        "a": "plain cross-entropy, with only the class-balance weights w_c",
        "b": "zero: no pixel counts any more",
        "c": "a loss only on the borders between cells",
    },
    expected="a",
    hint="w(x) = w_c(x) + w0 * (...). What is left when w0 is 0?",
    explanation="w = w_c: every pixel of a class counts alike, so the thin gaps between touching cells are a tiny "
    "part of the loss and the network happily merges touching cells.",
)

_CROP_IN = 236

EX_CROP = Exercise(
    key="8.3",
    question=(
        f"The lesson's valid-padding U-Net (depth {VALID_OPTIONS['depth']} like the paper's, no padding) gets an "
        f"input window "
        f"of {_CROP_IN}x{_CROP_IN} px. To what size (one side) must the target mask and the weight map be "
        "centre-cropped before the loss can compare them with the output?"
    ),
    expected=lambda: output_size(_CROP_IN, **VALID_OPTIONS)[0],
    hint=lambda a: (
        "each valid 3x3 conv trims 2 px, at every level of the U; the 2x2 pools halve and the "
        "up-convs double. Walk it as in lesson 06, or ask unet_lesson.output_size("
        f"{_CROP_IN}, padding='valid', depth={VALID_OPTIONS['depth']})."
        + (" That is the input size: the output is smaller." if str(a).strip() == str(_CROP_IN) else "")
    ),
    explanation="the output covers only the centre of the window; the rest of the window is context. The "
    "target outside the output has no prediction to compare with, so it is cropped away (and the "
    "window itself comes from the mirror-padded image, so the output can reach the image border).",
)

_DICE = 0.95

EX_IOU = Exercise(
    key="8.4",
    question=f"A network reaches Dice {_DICE} on the held-out set. What is its IoU? (three decimals)",
    expected=lambda: round(iou_from_dice(_DICE), 3),
    hint="Dice = 2|P∩T| / (|P| + |T|), IoU = |P∩T| / |P∪T|; together IoU = D / (2 - D).",
    explanation="IoU is always the stricter number (except at 0 and 1): 0.95 Dice is about 0.905 IoU.",
    compare=_close(0.0015),
)

EXERCISES = [EX_GAP, EX_W0, EX_CROP, EX_IOU]
