"""Lesson 05, the 1x1 head: views, checks and exercises.

The notes (topic 10): 388x388x64 -> 388x388x2 by a 1x1 conv, k=1 s=1 p=0, number of kernels =
num_classes = 2 (前景/背景, foreground/background); "1x1 conv: size 不变 unchanged, channel 变少
fewer". This module shows, with real tensors and layers:

* :func:`head_shapes` - the notes' shapes through a real ``nn.Conv2d(64, 2, 1)``;
* :func:`conv1x1_as_linear` - a 1x1 conv *is* an ``nn.Linear(64, C)`` applied to every pixel;
* :func:`segment` - scores -> softmax -> argmax: a segmentation map (分割图) of a real image;
* :func:`head_experiment` - the lesson's experiment: a head fitted on *random* features (only its
  parameters learn) beside a random head and the trained network, scored on a picture none of them saw;
* :func:`head_view` - the widget: the number of classes -> output shape, parameters, argmax map.

The paper (Sect. 2): "At the final layer a 1x1 convolution is used to map each 64-component feature
vector to the desired number of classes."
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..core.env import seeded
from ..core.model import UNet
from ..core.parse import choice, whole
from ..core.search import smallest_valid_size
from ..core.shapes import shape_table
from ..core.sizes import conv_out
from ..seg.data import lesson_sample
from ..seg.probe import fit_head
from ..ui.checkers import check_head
from ..ui.exercises import Exercise
from ..ui.widgets import View, Widget, number_box
from ._text import lesson_text

TEXT = lesson_text(__name__)

__all__ = [
    "check_num_classes",
    "head_layer",
    "head_params",
    "head_shapes",
    "LinearCheck",
    "conv1x1_as_linear",
    "pixel_scores",
    "fit_head",
    "feature_source",
    "segment",
    "HeadRun",
    "head_experiment",
    "head_view",
    "controls",
    "MAX_CLASSES",
    "LESSON",
    "WIDGETS",
    "EXERCISES",
]

LESSON = TEXT.lesson

#: the widget runs the head and draws one colour per class up to here (beyond, the formula alone)
MAX_CLASSES = 64
IN_CHANNELS = 64  # the paper's last feature map: 388x388x64


# ----------------------------------------------------------------------------------
# the layer
# ----------------------------------------------------------------------------------
def check_num_classes(num_classes) -> int:
    """A class count is a whole number >= 1 (one output channel, one kernel, per class)."""
    return whole(
        num_classes,
        "The number of classes",
        minimum=1,
        hint="Each class is one output channel, produced by one 1x1 kernel; the paper uses 2 (foreground "
        "前景 and background 背景). Try 2, or 3 for background, cell and border.",
    )


def head_layer(num_classes: int = 2, in_channels: int = IN_CHANNELS, seed: int = 0) -> nn.Conv2d:
    """The head: ``nn.Conv2d(in_channels, num_classes, kernel_size=1)`` (k=1, s=1, p=0), seeded."""
    n = check_num_classes(num_classes)
    with seeded(seed):
        return nn.Conv2d(in_channels, n, kernel_size=1, stride=1, padding=0)


def head_params(num_classes: int = 2, in_channels: int = IN_CHANNELS) -> int:
    """Learned parameters of the head, counted on the real layer (= in_channels*C + C)."""
    return sum(p.numel() for p in head_layer(num_classes, in_channels).parameters())


@torch.no_grad()
def head_shapes(size: int = 388, in_channels: int = IN_CHANNELS, num_classes: int = 2) -> dict:
    """The notes' numbers through a real head: input and output as (H, W, C), the size formula
    (``conv_out`` with k=1, s=1, p=0) and the parameter count, e.g. 388x388x64 -> 388x388x2."""
    layer = head_layer(num_classes, in_channels)
    x = torch.zeros(1, in_channels, size, size)
    y = layer(x)
    return {
        "input": (size, size, in_channels),
        "output": (y.shape[2], y.shape[3], y.shape[1]),
        "formula": conv_out.explain(size, kernel=1, stride=1, padding=0).text,
        "params": sum(p.numel() for p in layer.parameters()),
        "params_formula": f"{in_channels}*{num_classes} + {num_classes}",
    }


# ----------------------------------------------------------------------------------
# a 1x1 conv is a per-pixel linear classifier
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinearCheck:
    """The result of :func:`conv1x1_as_linear`."""

    conv_shape: tuple
    linear_shape: tuple
    max_abs_diff: float
    same: bool
    weight_shapes: tuple  # (conv weight, linear weight)

    def __str__(self) -> str:
        verdict = "the same" if self.same else "DIFFERENT"
        return (
            f"Conv2d output {self.conv_shape} vs Linear on every pixel {self.linear_shape}: {verdict} "
            f"(largest difference {self.max_abs_diff:.1e}); weights {self.weight_shapes[0]} "
            f"reshaped to {self.weight_shapes[1]}"
        )


@torch.no_grad()
def conv1x1_as_linear(
    in_channels: int = IN_CHANNELS,
    num_classes: int = 2,
    size: int = 8,
    seed: int = 0,
    features: torch.Tensor | None = None,
) -> LinearCheck:
    """Build ``nn.Conv2d(in, C, 1)`` and ``nn.Linear(in, C)`` with the *same* weights, apply the conv to
    a (1, in, H, W) map and the linear layer to each pixel's vector of ``in`` numbers, and compare.

    ``features`` defaults to a seeded random map; pass real features to check on them.
    """
    if features is not None:
        in_channels = features.shape[1]  # real features bring their own channel count
    conv = head_layer(num_classes, in_channels, seed)
    with seeded(seed):  # its weights are copied from the conv just below
        linear = nn.Linear(in_channels, conv.out_channels)
    linear.weight.copy_(conv.weight.reshape(conv.out_channels, in_channels))  # (C, in, 1, 1) -> (C, in)
    linear.bias.copy_(conv.bias)
    if features is None:
        g = torch.Generator().manual_seed(seed)
        features = torch.randn(1, in_channels, size, size, generator=g)
    y_conv = conv(features)  # (1, C, H, W)
    per_pixel = features.permute(0, 2, 3, 1)  # (1, H, W, in): one vector per pixel
    y_lin = linear(per_pixel).permute(0, 3, 1, 2)  # (1, C, H, W)
    diff = float((y_conv - y_lin).abs().max())
    return LinearCheck(
        tuple(y_conv.shape),
        tuple(y_lin.shape),
        diff,
        bool(torch.allclose(y_conv, y_lin, atol=1e-5)),
        (tuple(conv.weight.shape), tuple(linear.weight.shape)),
    )


@torch.no_grad()
def pixel_scores(features: torch.Tensor, layer: nn.Conv2d, row: int, col: int) -> dict:
    """At one pixel: the head's scores from the conv, and the same scores as ``W @ x + b`` by hand."""
    x = features[0, :, row, col]  # that pixel's feature vector
    w = layer.weight[:, :, 0, 0]  # (C, in)
    by_hand = w @ x + layer.bias
    from_conv = layer(features)[0, :, row, col]
    return {
        "vector_length": x.numel(),
        "from_conv": from_conv.tolist(),
        "by_hand": by_hand.tolist(),
        "same": bool(torch.allclose(from_conv, by_hand, atol=1e-5)),
    }


# ----------------------------------------------------------------------------------
# scores -> softmax -> argmax on a real image
# ----------------------------------------------------------------------------------
_IMAGE_SIZE = 96


@lru_cache(maxsize=2)
def _network(weights: str):
    """(model, "trained" or "random", note): the network whose last features enter the head."""
    from ..seg.pretrained import trained_or_random

    if weights == "trained":
        return trained_or_random("same", depth=2, base_channels=IN_CHANNELS)
    with seeded(0):
        model = UNet(padding="same", depth=2, base_channels=IN_CHANNELS).eval()
    return model, "random", "random weights (seed 0) asked for: only the 1x1 head is fitted"


def _last_features(model, image) -> torch.Tensor:
    """The map that enters the head: the output of the last double conv, (1, C_in, H, W)."""
    from ..core.inspect import feature_maps

    size = image.shape[-1]
    last = shape_table(size, model.options).where(kind="conv")[-1].module  # the last 3x3 conv
    name = last.rsplit(".", 1)[0]  # its DoubleConvolution: what the head sees
    return feature_maps(model, image, modules=[name])[name]


def _weights_choice(weights) -> str:
    return choice(
        weights, "weights", {"trained": "the shipped trained model", "random": "random features, a fitted head"}
    )


@lru_cache(maxsize=2)
def feature_source(weights: str = "trained") -> dict:
    """The image, the feature map that enters the head, and the 2-class head.

    ``weights="trained"``: the course's shipped trained same-padding UNet (its own head) when it ships;
    ``weights="random"`` (or no checkpoint): a seeded UNet with random weights, whose 2-class head is then
    fitted to the image's mask by :func:`fit_head`: only the head's parameters learn, on frozen random
    features (the lesson's experiment: how far a per-pixel linear classifier gets on its own).
    Returns ``{"image", "mask", "features" (1, C_in, H, W), "head", "weights", "why", "fit"}``;
    ``weights`` is ``"trained"`` or ``"random weights"``.
    """
    model, kind, note = _network(_weights_choice(weights))
    trained = kind == "trained"
    size = smallest_valid_size(_IMAGE_SIZE, model.options)
    sample = lesson_sample(size)
    image, mask = sample.image, sample.mask
    feats = _last_features(model, image)
    if trained:
        head, fit = model.head, {}
    else:
        head, fit = fit_head(feats, mask)
    return {
        "image": image,
        "mask": mask,
        "features": feats,
        "head": head,
        "weights": "trained" if trained else "random weights",
        "why": "" if trained else note,
        "fit": fit,
    }


@torch.no_grad()
def segment(num_classes: int = 2, seed: int = 0, weights: str = "trained") -> dict:
    """Scores, softmax probabilities and the argmax segmentation map of the lesson image.

    For the paper's 2 classes the UNet's own head is used (trained when a trained model exists);
    for another count, a fresh head with ``num_classes`` kernels (random weights) on the same features.
    """
    n = check_num_classes(num_classes)
    src = feature_source(weights)
    feats = src["features"]
    if n == src["head"].out_channels:
        layer, weights, fitted = src["head"], src["weights"], src["weights"] != "trained"
    else:
        layer, weights, fitted = head_layer(n, feats.shape[1], seed), "random weights", False
    scores = layer(feats)[0]  # (C, H, W)
    probs = torch.softmax(scores, dim=0)
    if n == 1:  # one channel: softmax is 1 everywhere; a binary head uses a sigmoid and a threshold
        seg = (torch.sigmoid(scores[0]) > 0.5).long()
    else:
        seg = probs.argmax(dim=0)
    seg = seg.numpy()
    agree = float((seg == src["mask"]).mean()) if n == 2 else None
    return {
        "image": src["image"],
        "mask": src["mask"],
        "scores": scores,
        "probs": probs,
        "segmentation": seg,
        "layer": layer,
        "weights": weights,
        "head_fitted": fitted,
        "why": src["why"],
        "mask_agreement": agree,
    }


# ----------------------------------------------------------------------------------
# the experiment: what does the head alone learn?
# ----------------------------------------------------------------------------------
#: the held-out picture the experiment scores on (the head is fitted on lesson_sample(..., seed=0))
HELD_OUT_SEED = 1


@dataclass(frozen=True)
class HeadRun:
    """One head of :func:`head_experiment`, scored on the held-out picture."""

    name: str
    learned: int  # parameters that learned (0: none)
    what_learned: str
    fit_accuracy: float | None  # on the picture the head was fitted to (None: nothing fitted here)
    accuracy: float  # pixels agreeing with the held-out picture's mask
    segmentation: np.ndarray  # argmax on the held-out picture (1 = foreground)


@lru_cache(maxsize=1)
@torch.no_grad()
def head_experiment() -> dict:
    """Three heads on the same 2-class task, scored on a picture none of them was fitted or trained on.

    1. a network with random weights and its random 1x1 head: nothing learned;
    2. the same random network, only its 1x1 head fitted to ``lesson_sample(96, seed=0)``'s cell mask by
       :func:`fit_head` (logistic regression, one pixel = one example): the body's features stay random;
    3. the course's trained network (every layer learned, on other pictures), with its own head.

    Each is scored on ``lesson_sample(96, seed=HELD_OUT_SEED)``: the fraction of pixels whose argmax
    class agrees with the mask. Returns ``{"image", "mask", "baseline", "baseline_class", "runs": [HeadRun, ...],
    "trained": bool, "note"}`` (``baseline``: the score of calling every pixel the larger class, no network);
    without the shipped checkpoint the third run is left out and ``note`` says why.
    """
    random_src = feature_source("random")
    model, _, _ = _network("random")
    held = lesson_sample(random_src["image"].shape[-1], HELD_OUT_SEED)

    def score(layer, feats, mask=held.mask):
        seg = layer(feats)[0].argmax(0).numpy()
        return seg, round(float((seg == mask).mean()), 3)

    feats = _last_features(model, held.image)
    start = head_layer(2, feats.shape[1], seed=0)  # fit_head's starting point: the same seeded weights
    runs = []
    seg, acc = score(start, feats)
    runs.append(HeadRun("random network, random head", 0, "nothing", None, acc, seg))
    fitted = random_src["head"]
    seg, acc = score(fitted, feats)
    runs.append(
        HeadRun(
            "random network, fitted head",
            sum(p.numel() for p in fitted.parameters()),
            "the 1x1 head only",
            random_src["fit"]["accuracy_after"],
            acc,
            seg,
        )
    )
    trained_model, kind, note = _network("trained")
    trained = kind == "trained"
    if trained:
        size = smallest_valid_size(held.image.shape[-1], trained_model.options)  # 96 fits every depth up to 5
        picture = lesson_sample(size, HELD_OUT_SEED)
        seg, acc = score(trained_model.head, _last_features(trained_model, picture.image), picture.mask)
        runs.append(
            HeadRun(
                "trained network, its own head",
                sum(p.numel() for p in trained_model.parameters()),
                "every layer (on other pictures)",
                None,
                acc,
                seg,
            )
        )
    cells = float(np.asarray(held.mask).mean())  # the share of the new picture's pixels that are cells
    return {
        "image": held.image,
        "mask": held.mask,
        "baseline": round(max(cells, 1 - cells), 3),  # no network: every pixel called the larger class
        "baseline_class": "cell" if cells >= 0.5 else "background",
        "runs": runs,
        "trained": trained,
        "note": "" if trained else note,
    }


def head_view(num_classes=2) -> View:
    """The widget's view: for ``num_classes`` C, the real head's output shape, its parameter count
    (from the layer, = in*C + C) and the segmentation map of the lesson image. Beyond :data:`MAX_CLASSES`
    classes it gives the formula and says that nothing was run or drawn (``data["drawn"] == "no"``)."""
    from ..ui.figures.head import head_figure

    n = check_num_classes(num_classes)
    feats = feature_source()["features"]
    c_in, (h, w) = feats.shape[1], feats.shape[-2:]
    plural = "es" if n != 1 else ""
    shape = (
        f"<p><b>{n:,} class{plural}:</b> nn.Conv2d({c_in}, {n}, kernel_size=1) on {h}×{w}×{c_in} → "
        f"<b>{h}×{w}×{n}</b> (size unchanged: <code>{html.escape(conv_out.explain(h, kernel=1).text)}</code>).<br>"
        f"Parameters: {n:,} kernel{'s' if n != 1 else ''} of 1×1×{c_in} + {n:,} bias{plural} = "
        f"{c_in}*{n} + {n} = <b>{c_in * n + n:,}</b>.<br>"
    )
    data = {"num_classes": n, "output": f"{h}x{w}x{n}", "out_channels": n, "in_channels": c_in}
    data["params_formula"] = c_in * n + n
    if n > MAX_CLASSES:
        note = (
            f"Not run: this widget draws one colour per class and stops at {MAX_CLASSES} classes. The formula "
            "above holds for any count (the tests check it against nn.Conv2d)."
        )
        return View(html=shape + f"<span class='ul-note'>{note}</span></p>", data={**data, "drawn": "no"})
    r = segment(n)
    layer = r["layer"]
    params = sum(p.numel() for p in layer.parameters())  # counted on the real layer
    if r["weights"] == "trained":
        meaning = "Weights: trained. Class 1 is foreground (前景, cells), class 0 background (背景)."
    elif r["head_fitted"]:
        meaning = (
            f"Weights: random weights in the network body ({r['why']}); only this 1x1 head, {params} "
            "parameters, was fitted to the image's cell mask: a per-pixel linear classifier."
        )
    else:
        meaning = (
            f"Weights: random weights (a fresh head with {n} kernel{'s' if n != 1 else ''}): "
            "the classes mean nothing until the network is trained."
        )
    if r["mask_agreement"] is not None:
        meaning += f" Pixels agreeing with the cell mask: {r['mask_agreement']:.0%}."
    if n == 1:
        meaning += (
            " One class: softmax over a single channel is 1 at every pixel and argmax always says class 0, so a "
            "1-channel head is read with a sigmoid and a threshold instead."
        )
    data.update(
        out_channels=layer.out_channels,
        params=params,
        classes_present=int(len(np.unique(r["segmentation"]))),
        weights=r["weights"],
        head_fitted=str(r["head_fitted"]),
        drawn="yes",
    )
    return View(html=shape + html.escape(meaning) + "</p>", figure=head_figure(r, n), data=data)


def controls(num_classes: int = 2) -> dict:
    """An IntText, so that 0 or a negative count reaches the view and is explained."""
    return {"num_classes": number_box(num_classes, "number of classes")}


WIDGETS = {"head": Widget(head_view, controls, css="ul-head", title="The 1x1 head: number of classes")}


# ----------------------------------------------------------------------------------
# exercises: answers computed by unet_lesson
# ----------------------------------------------------------------------------------
def _params_exercise(key: str, classes: int) -> Exercise:
    """An exercise on the parameter count of a 1x1 head for ``classes`` classes on the 64 channels, with the
    hint for its usual slips (no biases, a 3x3 kernel)."""

    def hint(answer) -> str:
        a = str(answer).strip()
        if a == str(IN_CHANNELS * classes):
            return "close: every kernel also has a bias, one per class."
        if a == str(9 * IN_CHANNELS * classes + classes) or a == str(9 * IN_CHANNELS * classes):
            return "the kernel is 1x1, not 3x3: each kernel has 1*1*64 weights."
        return f"each of the {classes} kernels is 1×1×{IN_CHANNELS} weights, plus one bias per kernel."

    return TEXT.exercise(key, expected=lambda: head_params(classes), hint=hint)


EX_SHAPE = TEXT.exercise(
    "5.1",
    expected=lambda: head_shapes(388, IN_CHANNELS, 3)["output"],
    hint=lambda a: (
        "a 1x1 conv does not shrink the map: (388 + 2*0 - 1)/1 + 1 = 388."
        if "386" in str(a) or "387" in str(a)
        else "the channels out are the number of kernels, 3 here, whatever comes in."
        if "64" in str(a)
        else ""
    ),
)

EX_PARAMS = _params_exercise("5.2", 2)
EX_PARAMS5 = _params_exercise("5.3", 5)


@torch.no_grad()
def _softmax_sum() -> float:
    probs = segment(2)["probs"]
    return round(float(probs[:, 0, 0].sum()), 6)


EX_SOFTMAX = TEXT.exercise("5.4", expected=_softmax_sum)

EX_SLIP = TEXT.exercise("5.5", expected="b")

EX_HEAD_CODE = TEXT.code_exercise("5.6", check_head)


def _experiment_verdict() -> str:
    runs = {r.name.split(",")[1].strip(): r for r in head_experiment()["runs"]}
    random_acc, fitted_acc = runs["random head"].accuracy, runs["fitted head"].accuracy
    if fitted_acc <= random_acc + 0.05:
        return "a"
    trained = runs.get("its own head")
    return "c" if trained is not None and fitted_acc >= trained.accuracy else "b"


EX_EXPERIMENT = TEXT.exercise("5.7", expected=_experiment_verdict)

EXERCISES = [EX_SHAPE, EX_PARAMS, EX_PARAMS5, EX_SOFTMAX, EX_SLIP, EX_HEAD_CODE, EX_EXPERIMENT]
