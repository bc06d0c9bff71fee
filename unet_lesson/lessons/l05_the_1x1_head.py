"""Lesson 05, the 1x1 head: views, checks and exercises.

The notes (topic 10): 388x388x64 -> 388x388x2 by a 1x1 conv, k=1 s=1 p=0, number of kernels =
num_classes = 2 (前景/背景, foreground/background); "1x1 conv: size 不变 unchanged, channel 变少
fewer". This module shows, with real tensors and layers:

* :func:`head_shapes` - the notes' shapes through a real ``nn.Conv2d(64, 2, 1)``;
* :func:`conv1x1_as_linear` - a 1x1 conv *is* an ``nn.Linear(64, C)`` applied to every pixel;
* :func:`segment` - scores -> softmax -> argmax: a segmentation map (分割图) of a real image;
* :func:`head_view` - the widget: the number of classes -> output shape, parameters, argmax map.
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
from ..ui.course import Lesson
from ..ui.exercises import Exercise
from ..ui.widgets import View, Widget

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
    "head_view",
    "controls",
    "MAX_CLASSES",
    "LESSON",
    "WIDGETS",
    "EXERCISES",
]

LESSON = Lesson(
    5,
    "05_the_1x1_head",
    "The 1x1 head",
    minutes=25,
    topics=(10,),
    summary="channels -> classes: a per-pixel linear classifier, softmax and argmax",
)

#: the widget draws one colour per class and stops here (the formula holds for any count)
MAX_CLASSES = 64
IN_CHANNELS = 64  # the paper's last feature map: 388x388x64


# ----------------------------------------------------------------------------------
# the layer
# ----------------------------------------------------------------------------------
def check_num_classes(num_classes, maximum: int | None = None) -> int:
    """A class count is a whole number >= 1 (one output channel, one kernel, per class)."""
    n = whole(
        num_classes,
        "The number of classes",
        minimum=1,
        hint="Each class is one output channel, produced by one 1x1 kernel; the paper uses 2 (foreground "
        "前景 and background 背景). Try 2, or 3 for background, cell and border.",
    )
    if maximum is not None and n > maximum:
        raise ValueError(
            f"This widget draws one colour per class and stops at {maximum} classes (you typed {n}). "
            f"The formula holds for any count: {IN_CHANNELS}*{n} + {n} = "
            f"{IN_CHANNELS * n + n:,} parameters, output H×W×{n}."
        )
    return n


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


def fit_head(features: torch.Tensor, mask, steps: int = 10, seed: int = 0) -> tuple[nn.Conv2d, dict]:
    """Train *only* a 2-class 1x1 head on frozen ``features`` (1, C_in, H, W) to a mask (H, W):
    logistic regression, one pixel = one example. Returns the head (an ordinary ``nn.Conv2d``)
    and ``{"accuracy_before", "accuracy_after", "loss_before", "loss_after"}``.

    The features are standardised per channel for the optimiser, and the scaling is folded back
    into the conv's weights and bias afterwards, so the head works on the raw features.
    """
    head = head_layer(2, features.shape[1], seed)
    x = features[0].flatten(1).T  # (pixels, C_in): one row per pixel
    y = torch.as_tensor(np.asarray(mask)).long().flatten()
    mean, std = x.mean(0), x.std(0) + 1e-8
    xs = (x - mean) / std
    with seeded(seed):  # its initial weights are overwritten below; they must not come from the student's RNG
        lin = nn.Linear(x.shape[1], 2)
    with torch.no_grad():  # start from the head's own random weights
        lin.weight.copy_(head.weight[:, :, 0, 0] * std)
        lin.bias.copy_(head.bias + head.weight[:, :, 0, 0] @ mean)

    def stats():
        with torch.no_grad():
            out = lin(xs)
            return float(nn.functional.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())

    loss0, acc0 = stats()
    opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(lin(xs), y)
        loss.backward()
        return loss

    opt.step(closure)
    loss1, acc1 = stats()
    with torch.no_grad():  # fold the standardisation back: w' = w / std, b' = b - w' . mean
        w = lin.weight / std
        head.weight.copy_(w[:, :, None, None])
        head.bias.copy_(lin.bias - w @ mean)
    return head, {
        "loss_before": round(loss0, 3),
        "loss_after": round(loss1, 3),
        "accuracy_before": round(acc0, 3),
        "accuracy_after": round(acc1, 3),
    }


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
    from ..core.inspect import feature_maps
    from ..seg.pretrained import trained_or_random

    weights = choice(
        weights, "weights", {"trained": "the shipped trained model", "random": "random features, a fitted head"}
    )
    if weights == "trained":
        model, kind, note = trained_or_random("same", depth=2, base_channels=IN_CHANNELS)
    else:
        with seeded(0):
            model = UNet(padding="same", depth=2, base_channels=IN_CHANNELS).eval()
        kind, note = "random", "random weights (seed 0) asked for: only the 1x1 head is fitted"
    trained = kind == "trained"
    size = smallest_valid_size(_IMAGE_SIZE, model.options)
    sample = lesson_sample(size)
    image, mask = sample.image, sample.mask
    last = shape_table(size, model.options).where(kind="conv")[-1].module  # the last 3x3 conv
    name = last.rsplit(".", 1)[0]  # its DoubleConvolution: what the head sees
    feats = feature_maps(model, image, modules=[name])[name]
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


def head_view(num_classes=2) -> View:
    """The widget's view: for ``num_classes`` C, the real head's output shape, its parameter count
    (from the layer, = in*C + C) and the segmentation map of the lesson image."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    n = check_num_classes(num_classes, maximum=MAX_CLASSES)
    r = segment(n)
    layer = r["layer"]
    c_in = layer.in_channels
    params = sum(p.numel() for p in layer.parameters())
    _, h, w = r["scores"].shape
    seg = r["segmentation"]
    present = int(len(np.unique(seg)))

    panels = 4 if n == 2 else 3
    fig, axes = plt.subplots(1, panels, figsize=(2.75 * panels, 2.9))
    axes[0].imshow(r["image"], cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"input image {r['image'].shape[0]}×{r['image'].shape[1]}", fontsize=8)
    if n == 1:
        axes[1].imshow(torch.sigmoid(r["scores"][0]).numpy(), cmap="magma", vmin=0, vmax=1)
        axes[1].set_title("sigmoid(score): one channel", fontsize=8)
    else:
        axes[1].imshow(r["probs"].max(dim=0).values.numpy(), cmap="magma", vmin=0, vmax=1)
        axes[1].set_title("softmax: probability of the winner", fontsize=8)
    k = max(n, 2)
    base = plt.get_cmap("tab10" if k <= 10 else "tab20" if k <= 20 else "turbo")
    colours = base(np.linspace(0, 1, k)) if k > 20 else base(np.arange(k))
    axes[2].imshow(seg, cmap=ListedColormap(colours), vmin=-0.5, vmax=k - 0.5, interpolation="nearest")
    axes[2].set_title(
        f"argmax → segmentation map\n({present} of {n} classes win somewhere)" if n > 1 else "sigmoid > 0.5 → mask",
        fontsize=8,
    )
    if k <= 10:
        from matplotlib.patches import Patch

        names = ["background", "foreground"] if n == 2 else [f"class {i}" for i in range(k)]
        axes[2].legend(
            handles=[Patch(color=colours[i], label=names[i]) for i in range(k)],
            fontsize=6,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.01),
            ncol=min(k, 5),
            frameon=False,
        )
    if n == 2:
        axes[3].imshow(r["mask"], cmap=ListedColormap(colours[:2]), vmin=-0.5, vmax=1.5, interpolation="nearest")
        axes[3].set_title("the image's cell mask (for comparison)", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()

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
    one = (
        "<br><b>One class:</b> softmax over a single channel is 1 at every pixel and argmax always says "
        "class 0, so a 1-channel head is read with a sigmoid and a threshold instead."
        if n == 1
        else ""
    )
    text = (
        f"<p><b>{n} class{'es' if n != 1 else ''}:</b> nn.Conv2d({c_in}, {n}, kernel_size=1) on "
        f"{h}×{w}×{c_in} → <b>{h}×{w}×{n}</b> (size unchanged: "
        f"<code>{html.escape(conv_out.explain(h, kernel=1).text)}</code>).<br>"
        f"Parameters: {n} kernel{'s' if n != 1 else ''} of 1×1×{c_in} + {n} bias{'es' if n != 1 else ''} = "
        f"{c_in}*{n} + {n} = <b>{params:,}</b>.<br>"
        f"{html.escape(meaning)}{one}</p>"
    )
    data = {
        "num_classes": n,
        "output": f"{h}x{w}x{n}",
        "out_channels": layer.out_channels,
        "params": params,
        "params_formula": c_in * n + n,
        "in_channels": c_in,
        "classes_present": present,
        "weights": r["weights"],
        "head_fitted": str(r["head_fitted"]),
    }
    return View(html=text, figure=fig, data=data)


def controls(num_classes: int = 2) -> dict:
    """An IntText, so that 0 or a negative count reaches the view and is explained."""
    import ipywidgets as W

    return {"num_classes": W.IntText(value=num_classes, description="number of classes")}


WIDGETS = {"head": Widget(head_view, controls, css="ul-head", title="The 1x1 head: number of classes")}


# ----------------------------------------------------------------------------------
# exercises: answers computed by unet_lesson
# ----------------------------------------------------------------------------------
def _param_hint(classes: int):
    def hint(answer) -> str:
        a = str(answer).strip()
        if a == str(IN_CHANNELS * classes):
            return "close: every kernel also has a bias, one per class."
        if a == str(9 * IN_CHANNELS * classes + classes) or a == str(9 * IN_CHANNELS * classes):
            return "the kernel is 1x1, not 3x3: each kernel has 1*1*64 weights."
        return f"each of the {classes} kernels is 1×1×{IN_CHANNELS} weights, plus one bias per kernel."

    return hint


EX_SHAPE = Exercise(
    "5.1",
    "The last feature map is 388×388×64 and the head is a 1x1 conv with num_classes = 2 kernels (k=1, s=1, p=0). "
    "What is its output, written H×W×C as the notes do?",
    expected=lambda: head_shapes(388, IN_CHANNELS, 2)["output"],
    hint=lambda a: (
        "a 1x1 conv does not shrink the map: (388 + 2*0 - 1)/1 + 1 = 388."
        if "386" in str(a) or "387" in str(a)
        else "the size stays (k=1, p=0, s=1); the channels become the number of kernels."
    ),
    explanation="388×388×2: one score map per class, at every pixel of the 388×388 output.",
)

EX_PARAMS = Exercise(
    "5.2",
    "How many learned parameters does the paper's head, nn.Conv2d(64, 2, kernel_size=1), have?",
    expected=lambda: head_params(2),
    hint=_param_hint(2),
    explanation="64*2 + 2 = 130: two kernels of 1×1×64 weights and two biases.",
)

EX_PARAMS5 = Exercise(
    "5.3",
    "A head for 5 classes (say background, cell, border, nucleus, debris) on the same 64 channels: how many "
    "parameters?",
    expected=lambda: head_params(5),
    hint=_param_hint(5),
    explanation="64*5 + 5 = 325: the head grows by 65 parameters per class.",
)


@torch.no_grad()
def _softmax_sum() -> float:
    probs = segment(2)["probs"]
    return round(float(probs[:, 0, 0].sum()), 6)


EX_SOFTMAX = Exercise(
    "5.4",
    "After softmax over the class channels, what do the class probabilities at one pixel add up to?",
    expected=_softmax_sum,
    hint="softmax turns the C scores of a pixel into exp(s_c) / Σ exp(s_k); add those up over c.",
    explanation="1: softmax makes a probability distribution over the classes at every pixel; argmax picks the "
    "largest.",
)

EX_SLIP = Exercise(
    "5.5",
    'The notes sum up the 1x1 conv as "size 不变 (unchanged), channel 变少 (fewer)". Which statement is right?',
    expected="b",
    choices={
        "a": "a 1x1 conv always reduces the channels",
        "b": "the channels become the number of kernels: fewer here (64 -> 2), but a 1x1 conv can also add channels",
        "c": "a 1x1 conv halves the size, like a 2x2 pool",
    },
    hint="try the widget with 100 classes: how many output channels, and how many input channels?",
    explanation="The output has one channel per kernel; the head uses num_classes kernels. 64 -> 2 is fewer, but "
    "nn.Conv2d(64, 100, 1) gives 100.",
)

EXERCISES = [EX_SHAPE, EX_PARAMS, EX_PARAMS5, EX_SOFTMAX, EX_SLIP]
