"""Lesson 08 (training): its data, the weight-map widget, the demonstrations, the ablations and the exercises.

* :func:`lesson_data` - the lesson's training and held-out pictures;
* :func:`weight_view` - the widget: ``w0``, ``sigma``, the gap and where the border term applies;
* :func:`rim_table` - the paper's formula as written on the rims of two neighbouring cells;
* :func:`loss_comparison` - soft Dice loss vs the weighted cross-entropy on three made-up predictions;
* :func:`ablation_view`, :func:`seed_table` - the three ablations, loaded from their shipped checkpoints;
* :func:`write_demo_folder`, :func:`own_data` - a folder of label images (yours, or a demo one), split for training.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..core.options import options_of
from ..core.parse import choice, real, whole
from ..core.shapes import output_size
from ..seg import ablations as A
from ..seg.data import lesson_sample, make_dataset
from ..seg.folder import load_folder, save_folder
from ..seg.losses import (
    SIGMA,
    W0,
    border_weights,
    class_weights,
    soft_dice_loss,
    two_touching_cells,
    weight_map,
    weighted_cross_entropy,
)
from ..seg.metrics import dice, iou, iou_from_dice, object_scores
from ..seg.targets import touching_labels
from ..seg.train import LESSON_DATA, LESSON_TRAIN, VALID_OPTIONS, otsu_baseline, split
from ..seg.train_checks import window_plan
from ..ui.checkers.losses import check_weighted_loss
from ..ui.tables import html_table
from ..ui.widgets import View, Widget
from ._text import lesson_text

TEXT = lesson_text(__name__)

__all__ = [
    "LESSON",
    "WIDGETS",
    "EXERCISES",
    "OWN_STEPS",
    "lesson_data",
    "plot_otsu",
    "weight_view",
    "controls",
    "rim_table",
    "loss_comparison",
    "tile_strength",
    "ablation_view",
    "seed_table",
    "write_demo_folder",
    "own_data",
    "scores_line",
    "GAP_PIXEL",
    "RIM_PIXEL",
    "EX_IOU",
    "EX_BLOB",
    "EX_GAP",
    "EX_W0",
    "EX_LOSS",
    "EX_CROP",
]

LESSON = TEXT.lesson

#: Steps of the own-data fine-tuning run (a few seconds; the shipped model it starts from was trained for 400).
OWN_STEPS = 20


@lru_cache(maxsize=2)
def lesson_data():
    """The lesson's training images and its held-out images (``LESSON_DATA``: seeds 0 and 1)."""
    d = LESSON_DATA
    return (
        make_dataset(d["n_train"], d["size"], seed=d["train_seed"]),
        make_dataset(d["n_val"], d["size"], seed=d["val_seed"]),
    )


def scores_line(pred, dataset) -> str:
    """Dice, IoU and the object scores of a prediction (binary masks) on ``dataset``, in one line."""
    s = object_scores(pred, dataset.instances)
    return (
        f"Dice {dice(pred, dataset.masks):.3f}, IoU {iou(pred, dataset.masks):.3f} | objects: {s.n_true} cells, "
        f"{s.n_pred} found, F1 {s.f1:.3f} (precision {s.precision:.3f}, recall {s.recall:.3f}), "
        f"{s.merged} merged, {s.split} split"
    )


def plot_otsu(dataset, n: int = 3):
    """Image, Otsu's threshold, the true mask, for ``n`` images (per-image Dice in the titles)."""
    import matplotlib.pyplot as plt

    n = min(n, len(dataset))
    pred = otsu_baseline(dataset)["pred"]
    fig, axes = plt.subplots(2, n, figsize=(2.3 * n, 4.8), squeeze=False)
    for k in range(n):
        for row, (a, title) in enumerate(
            ((dataset.images[k], "image"), (pred[k], f"Otsu (Dice {dice(pred[k], dataset.masks[k]):.2f})"))
        ):
            axes[row, k].imshow(a, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axes[row, k].set_title(title, fontsize=9)
            axes[row, k].axis("off")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------
# widget: w0, sigma, the gap, where the term applies -> the weight map
# ----------------------------------------------------------------------------------
#: In ``two_touching_cells(gap)`` the pixel (row 20, column 31) is the first gap pixel, next to cell 1;
#: (row 20, column 30) is cell 1's rim pixel facing the gap.
GAP_PIXEL = (20, 31)
RIM_PIXEL = (20, 30)
#: The widget's limits: the toy picture has room for a gap of 15 px; beyond these the picture says nothing new.
MAX_GAP, MAX_W0, MAX_SIGMA = 15, 100.0, 50.0
WHERE = {
    "background": "background pixels only (the course)",
    "every pixel": "every pixel (Eq. 2 as printed)",
}


def _weights(inst, w0, sigma, where):
    return class_weights(inst > 0) + border_weights(inst, w0, sigma, background_only=where == "background")


def weight_view(w0: float = W0, sigma: float = SIGMA, gap: int = 2, where: str = "background") -> View:
    """The weight map for ``w0`` and ``sigma``: two toy cells ``gap`` px apart (with the profile across the gap)
    and a 64x64 generated picture; ``where`` is "background" (the course) or "every pixel" (the formula as
    printed). ``data``: the values shown. Text like ``"10"`` is refused, as everywhere (``core.parse``)."""
    import matplotlib.pyplot as plt

    w0 = real(w0, "w0", minimum=0, maximum=MAX_W0, hint="0 switches the border term off; the paper uses 10")
    sigma = real(sigma, "sigma", minimum=0, maximum=MAX_SIGMA, strict_minimum=True, hint="in pixels; the paper: 5")
    gap = whole(
        gap, "gap", minimum=1, maximum=MAX_GAP, unit="pixels", hint="(The toy picture has room for gaps of 1 to 15 px.)"
    )
    where = choice(where, "where", WHERE)
    toy = two_touching_cells(gap)
    wt = _weights(toy, w0, sigma, where)
    s = lesson_sample(64, seed=0)
    wr = _weights(s.instances, w0, sigma, where)
    row = GAP_PIXEL[0]
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.8))
    vmax = max(float(wt.max()), float(wr.max()), 1.0)
    axes[0].imshow(wt, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
    axes[0].axhline(row, color="c", lw=0.8)
    axes[0].set_title(f"two cells, {gap} px apart", fontsize=9)
    cols = np.arange(toy.shape[1])
    axes[1].plot(cols, wt[row], "o-", ms=2.5, color="C1")
    axes[1].fill_between(cols, 0, vmax * (toy[row] > 0), color="0.85", step="mid", label="cells")
    axes[1].set(xlabel="column", ylabel="w(x)", title="weight along the cyan line", ylim=(0, vmax * 1.05))
    axes[1].legend(fontsize=8, loc="upper right")
    im = axes[2].imshow(wr, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
    axes[2].set_title("a generated picture (64x64)", fontsize=9)
    for ax in (axes[0], axes[2]):
        ax.axis("off")
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
    fig.tight_layout()
    gap_w = float(wt[row, GAP_PIXEL[1] : GAP_PIXEL[1] + gap].max())
    rim_w = float(wt[RIM_PIXEL])
    text = (
        f"<p>w<sub>0</sub> = {w0:g}, &sigma; = {sigma:g} px, border term on {html.escape(WHERE[where])}: in the gap "
        f"the weight reaches <b>{gap_w:.2f}</b>; on the rim of a cell, next to the gap: <b>{rim_w:.2f}</b> "
        f"(background far from cells: {wt[2, 2]:.2f}, the middle of a cell: {wt[row, 20]:.2f}). "
        f"Largest weight in the picture: <b>{wr.max():.2f}</b>.</p>"
    )
    return View(
        html=text,
        figure=fig,
        data={
            "w0": float(w0),
            "sigma": float(sigma),
            "gap": int(gap),
            "where": where,
            "gap_weight": round(gap_w, 4),
            "rim_weight": round(rim_w, 4),
            "max_weight": round(float(wr.max()), 4),
        },
    )


def controls():
    """w0 (0..30: 0 switches the border term off), sigma (0.5..15 px), the gap (1..8 px), where the term applies."""
    import ipywidgets as W

    return {
        "w0": W.FloatSlider(value=W0, min=0, max=30, step=1, description="w0"),
        "sigma": W.FloatSlider(value=SIGMA, min=0.5, max=15, step=0.5, description="sigma (px)"),
        "gap": W.IntSlider(value=2, min=1, max=8, description="gap (px)"),
        "where": W.Dropdown(options=[(v, k) for k, v in WHERE.items()], value="background", description="term on"),
    }


WIDGETS = {"weights": Widget(weight_view, controls, css="ul-weights", title="The paper's weight map")}


def rim_table(gap: int = 2, w0: float = W0, sigma: float = SIGMA, depth: tuple[int, ...] = (0, 1, 2, 4, 8)) -> str:
    """Eq. (2)'s border term along the row through two toy cells ``gap`` px apart: on the gap pixel next to
    cell 1 and ``depth`` px into cell 1 (0 = its rim). d1, d2 from the package's distance transforms."""
    toy = two_touching_cells(gap)
    literal = border_weights(toy, w0, sigma, background_only=False)
    course = border_weights(toy, w0, sigma)
    row, rim = RIM_PIXEL
    from scipy import ndimage as ndi

    d = [ndi.distance_transform_edt(toy != k)[row] for k in (1, 2)]
    rows = []
    for col, where in [(GAP_PIXEL[1], "gap pixel next to cell 1")] + [
        (rim - k, "rim of cell 1" if k == 0 else f"{k} px inside cell 1") for k in depth
    ]:
        d1, d2 = sorted((float(d[0][col]), float(d[1][col])))
        rows.append((where, f"{d1:g}", f"{d2:g}", f"{literal[row, col]:.2f}", f"{course[row, col]:.2f}"))
    return html_table(
        ("pixel", "d1", "d2", "Eq. (2) as printed, d1 = 0 in a cell", "the course (background only)"),
        rows,
        css="ul-rims",
        mono=(1, 2, 3, 4),
        caption=f"border term w0·exp(-(d1+d2)²/(2σ²)), w0 = {w0:g}, σ = {sigma:g} px, cells {gap} px apart",
    )


def loss_comparison(index: int = 0, sure: float = 0.9) -> str:
    """Soft Dice loss vs weighted cross-entropy on three made-up predictions of held-out image ``index``:
    right; the thin lines between touching cells filled in (cells merged); the largest cell missed.
    Each prediction gives every pixel the probability ``sure`` for the class it predicts. Returns an HTML table."""
    sure = real(sure, "sure", minimum=0.5, maximum=1.0, strict_minimum=True)
    confidence = float(np.log(sure / (1 - sure)) / 2) if sure < 1 else 20.0  # scores ±c: softmax gives 1/(1+e^-2c)
    _, va = lesson_data()
    inst = va.instances[index]
    truth = inst > 0
    merged = touching_labels(inst) > 0
    largest = np.bincount(inst.ravel())[1:].argmax() + 1
    missed = truth & (inst != largest)
    target = torch.from_numpy(truth.astype(np.int64))[None]
    w10 = torch.from_numpy(weight_map(inst, W0))[None]
    w0 = torch.from_numpy(weight_map(inst, 0.0))[None]
    rows = []
    for name, pred in (
        ("right (lines drawn)", truth),
        ("lines filled: cells merged", merged),
        ("largest cell missed", missed),
    ):
        p = torch.from_numpy(np.where(pred, confidence, -confidence).astype(np.float32))
        logits = torch.stack([-p, p])[None]
        objs = object_scores(pred, inst)
        rows.append(
            (
                name,
                int((pred != truth).sum()),
                f"{dice(pred, truth):.3f}",
                f"{objs.f1:.2f}",
                f"{float(soft_dice_loss(logits, target)):.4f}",
                f"{float(weighted_cross_entropy(logits, target, w0)):.4f}",
                f"{float(weighted_cross_entropy(logits, target, w10)):.4f}",
            )
        )
    return html_table(
        (
            "prediction",
            "pixels wrong",
            "Dice",
            "object F1",
            "soft Dice loss",
            "weighted CE, w0 = 0",
            "weighted CE, w0 = 10",
        ),
        rows,
        css="ul-losses",
        mono=(1, 2, 3, 4, 5, 6),
        caption=f"held-out image {index}; each prediction gives each pixel probability {sure:g} for the class it says",
    )


def tile_strength(std: float = 10.0, paper_tile: int = 572) -> str:
    """The deformation's standard deviation relative to the tile: the paper's 10 px on Fig. 1's 572 px
    example tile vs on the course's tiles: the 64 px training tiles, the 128 px pictures, and the window
    the valid network reads for a 64 px output tile (from :func:`~unet_lesson.seg.train_checks.window_plan`)."""
    window = window_plan(LESSON_TRAIN["tile"], options_of(**VALID_OPTIONS))[0]
    tiles = (
        (LESSON_TRAIN["tile"], "the course's training tile"),
        (LESSON_DATA["size"], "the course's whole picture"),
        (window, f"the valid network's window for {LESSON_TRAIN['tile']} px"),
    )
    rows = [(f"{paper_tile} px (Fig. 1's example)", f"{std / paper_tile:.1%}", "1x")]
    rows += [(f"{t} px ({what})", f"{std / t:.1%}", f"{paper_tile / t:.1f}x") for t, what in tiles]
    return html_table(
        ("tile", f"{std:g} px as a share of the tile", f"relative to {paper_tile} px"),
        rows,
        css="ul-strength",
        mono=(1, 2),
    )


# ----------------------------------------------------------------------------------
# the ablations (shipped checkpoints, seg/ablations.py)
# ----------------------------------------------------------------------------------
def ablation_view(name: str, index: int = 0, zoom: int | None = 64, directory=None) -> View:
    """Both arms of ablation ``name``, loaded from their checkpoints (in ``directory``, the shipped ones by
    default): a table of held-out scores and the picture of held-out image ``index`` (its top-left ``zoom``
    px; None: all of it); says where the weights come from. A missing checkpoint is said, not raised."""
    from ..ui.figures.ablations import plot_ablation

    name = choice(name, "name", {k: a.title for k, a in A.ABLATIONS.items()})
    index = whole(index, "index", minimum=0, maximum=len(A.held_out()) - 1, hint="a held-out image")
    if zoom is not None:
        zoom = whole(zoom, "zoom", minimum=8, maximum=LESSON_DATA["size"], unit="pixels")
    cmp = A.compare(name, directory)
    ab = cmp["ablation"]
    if cmp["missing"]:
        return View(html="<p>" + html.escape("; ".join(cmp["missing"])) + "</p>", data={"ablation": name})
    rows, data = [], {"ablation": name}
    for key, arm in cmp["arms"].items():
        s = arm["scores"]
        rows.append(
            (
                arm["label"],
                f"{s['dice']:.3f}",
                f"{s['iou']:.3f}",
                f"{s['matched']} / {s['n_true']}",
                s["n_pred"],
                f"{s['f1']:.3f}",
                s["merged"],
                s["split"],
            )
        )
        data.update({f"{key}_dice": round(s["dice"], 4), f"{key}_f1": round(s["f1"], 4), f"{key}_merged": s["merged"]})
    table = html_table(
        ("arm", "Dice", "IoU", "cells matched", "objects", "object F1", "merged", "split"),
        rows,
        css=f"ul-ablation-{name}",
        mono=tuple(range(1, 8)),
        caption=f"held-out: {len(A.held_out())} images; {ab.describe()}",
    )
    note = (
        "<p style='color:#555'>Loaded from the shipped checkpoints "
        + " and ".join(f"<code>{A.checkpoint_file(name, side.key).name}</code>" for side in ab.arms)
        + f", not trained here; <code>{A.COMMAND}</code> rebuilds them bit for bit (CPU, one thread, seed 0).</p>"
    )
    return View(html=table + note, figure=plot_ablation(cmp, index, zoom), data=data)


def seed_table(name: str, directory=None) -> str:
    """The stored seed study of ablation ``name``: every seed's held-out Dice, object F1 and merged cells."""
    name = choice(name, "name", {k: a.title for k, a in A.ABLATIONS.items()})
    study = A.load_seed_study(directory)
    ab = A.ABLATIONS[name]
    if study is None:
        return f"<p>No seed study ships (run <code>{html.escape(A.COMMAND)} --seed-study</code>).</p>"
    rows = []
    for side in ab.arms:
        got = [r for r in study["rows"] if r["ablation"] == name and r["arm"] == side.key]
        cells = [f"{r['dice']:.3f} / {r['f1']:.2f} / {r['merged']}" for r in sorted(got, key=lambda r: r["seed"])]
        mean = [np.mean([r[k] for r in got]) if got else float("nan") for k in ("dice", "f1", "merged")]
        rows.append((side.label, *cells, f"{mean[0]:.3f} / {mean[1]:.2f} / {mean[2]:.0f}"))
    seeds = [f"seed {s}" for s in study["seeds"]]
    return html_table(
        ("arm", *seeds, "mean"),
        rows,
        css=f"ul-seeds-{name}",
        mono=tuple(range(1, len(seeds) + 2)),
        caption="Dice / object F1 / merged cells on the held-out images, one training per seed "
        "(initial weights and batches), everything else equal",
    )


# ----------------------------------------------------------------------------------
# your own data
# ----------------------------------------------------------------------------------
#: The demo folder's pictures: bigger, blurrier, noisier cells than the lesson's (another "microscope").
DEMO_DATA = dict(n=6, size=128, seed=7, cell_radius=(10.0, 17.0), blur=1.3, noise=0.07)


def write_demo_folder(path="runs/lesson08_own") -> Path:
    """Write six generated pictures as a folder of label images (``images/``, ``masks/``; the labels touch, as
    segmentation tools save them) into ``path`` (replacing the image and mask files there); returns the path."""
    d = dict(DEMO_DATA)
    ds = make_dataset(d.pop("n"), d.pop("size"), seed=d.pop("seed"), **d)
    ds.instances = touching_labels(ds.instances)
    ds.masks = (ds.instances > 0).astype(np.uint8)
    return save_folder(ds, path, overwrite=True)


def own_data(folder=None, n_val: int = 2):
    """``(training, held-out)`` from ``folder`` (images/ and masks/; masks as label images by default, see
    :func:`unet_lesson.seg.folder.load_folder`), or from the demo folder when ``folder`` is None; the first
    ``n_val`` pictures are held out."""
    path = write_demo_folder() if folder is None else folder
    return split(load_folder(path), n_val=n_val)


# ----------------------------------------------------------------------------------
# exercises (answers computed by the package)
# ----------------------------------------------------------------------------------
def _close(tol):
    return lambda a, e: abs(float(a) - float(e)) <= tol


_DICE = 0.95

EX_IOU = TEXT.exercise(
    "8.1",
    question=f"A network reaches Dice {_DICE} on the held-out set. What is its IoU? (three decimals)",
    expected=lambda: round(iou_from_dice(_DICE), 3),
    hint=lambda a: "that is the Dice itself: IoU is always the stricter number." if str(a).strip() == "0.95" else "",
    compare=_close(0.0015),
)


def _blob_iou() -> float:
    """Two 4x4 cells 1 px apart, predicted as one 4x9 blob: the blob's IoU with one of the cells."""
    truth = np.zeros((8, 12), int)
    truth[2:6, 1:5], truth[2:6, 6:10] = 1, 2
    blob = (truth > 0) | np.pad(np.ones((4, 1), bool), ((2, 2), (5, 6)))
    return round(iou(blob, truth == 1), 3)


EX_BLOB = TEXT.exercise(
    "8.2",
    expected=_blob_iou,
    hint=lambda a: (
        "that is the pixel Dice of the blob against both cells: ask for one cell." if str(a).strip() == "0.941" else ""
    ),
    compare=_close(0.0015),
)

EX_GAP = TEXT.exercise(
    "8.4",
    question="Two cells are 2 px apart. A background pixel in the gap is d1 = 1 px from one cell and d2 = 2 px "
    f"from the other. With the paper's w0 = {W0:g} and sigma = {SIGMA:g} px, what is the border term "
    "w0 * exp(-(d1 + d2)^2 / (2 sigma^2)) there? (two decimals)",
    expected=lambda: round(float(border_weights(two_touching_cells(2))[GAP_PIXEL]), 2),
    hint=lambda a: "w0 is only the peak, reached when d1 + d2 = 0." if str(a).strip() in ("10", "10.0") else "",
    compare=_close(0.011),
)

EX_W0 = TEXT.exercise("8.5", expected="a")

EX_LOSS = TEXT.code_exercise("8.3", check_weighted_loss)

_CROP_IN = 236

EX_CROP = TEXT.exercise(
    "8.6",
    question=f"The lesson's valid-padding U-Net (depth {VALID_OPTIONS['depth']} like the paper's, no padding) gets an "
    f"input window of {_CROP_IN}x{_CROP_IN} px. To what size (one side) must the target mask and the weight map "
    "be centre-cropped before the loss can compare them with the output?",
    expected=lambda: output_size(_CROP_IN, **VALID_OPTIONS)[0],
    hints=[
        "Every valid 3x3 conv trims 2 px, at every level of the U; the output is smaller than the window.",
        "Walk it as in lesson 06: two convs (-4), pool (/2), ... down to the bottom, back up with the up-convs (x2).",
        f"A depth-4 valid U-Net loses a fixed 184 px: 572 -> 388. Or ask unet_lesson.output_size({_CROP_IN}, "
        f"padding='valid', depth={VALID_OPTIONS['depth']}).",
    ],
    hint=lambda a: "That is the input size: the output is smaller." if str(a).strip() == str(_CROP_IN) else "",
)

EXERCISES = [EX_IOU, EX_BLOB, EX_LOSS, EX_GAP, EX_W0, EX_CROP]
