r"""Lesson 07: the modern U-Net of the notes ("现在我们的修改"): same padding, Conv-BN-ReLU, output = input.

What the lesson shows is computed here or in the core: the notes' typed recipe (padding 1 in the
bottom and the expanding path only) worked through with a padding per path (:func:`padding_trace`,
tested against a real network built that way, :func:`recipe_unet`), the real errors an odd size
causes, the fixes (pad the input to a valid size, or pad/crop in the decoder) run for real on a small
network, the parameters batch norm adds and how it behaves in train() and eval() (:func:`bn_modes`),
up-conv vs bilinear upsampling, and the receptive field of one output pixel
(:mod:`unet_lesson.core.receptive`). The explorer (:mod:`unet_lesson.ui.explorer`) is the lesson's
widget, starting at same padding.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.env import cpu_threads, seeded
from ..core.ops import mirror_pad
from ..core.path_padding import RECIPE, LevelTrace, PaddingTrace, padding_trace
from ..core.receptive import receptive_field_arithmetic
from ..core.search import smallest_valid_size
from ..core.shapes import InvalidInputSize, count_parameters, fmt_shape, shape_table
from ..ui import explorer
from ..ui.checkers import check_same_block, check_same_unet
from ..ui.receptive import unet_widget
from ..ui.tables import Raw, html_table
from ._text import lesson_text

TEXT = lesson_text(__name__)

__all__ = [
    "LESSON",
    "WIDGETS",
    "EXERCISES",
    "concat_without_crop",
    "pad_to_valid",
    "FixResult",
    "fixes_demo",
    "fixes_html",
    "bn_parameters",
    "up_mode_parameters",
    "RECIPE",
    "LevelTrace",
    "PaddingTrace",
    "padding_trace",
    "recipe_html",
    "recipe_unet",
    "bn_modes",
    "bn_modes_html",
    "EX_RECIPE_CROPS",
    "EX_RECIPE_SHORT",
    "EX_SAME_BLOCK",
    "EX_SAME_UNET",
    "EX_BN_MODES",
    "EX_BOTTOM",
    "EX_UPCONV",
    "EX_BN",
    "EX_NEXT_SAME",
    "EX_RF",
]

LESSON = TEXT.lesson

WIDGETS = {
    "explorer": explorer.widget(input_size=256, padding="same", feature_maps=True),
    # where same padding's border pixels see zeros (unet_lesson.ui.receptive)
    "field": unet_widget(input_size=576, padding="same", row=288, col=288),
}


def concat_without_crop(model, x):
    """Run ``model``'s own layers with a plain ``torch.cat`` at every skip connection (no crop, no check).

    This is what a textbook same-padding U-Net does; for a size that is not a multiple of
    ``2**depth`` the concatenation fails with PyTorch's own ``RuntimeError``, which this
    function lets through so a lesson can show it.
    """
    import torch

    from ..core.model import unet_pass

    return unet_pass(model, x, lambda up, copy: torch.cat([copy, up], dim=1))  # no crop: sizes must already agree


def pad_to_valid(model, x, mode: str = "reflect"):
    """Run a same-padding ``model`` on any size: pad the input up to the next valid size, crop the output back.

    ``mode="reflect"`` mirrors the border, as the paper mirrors the image to supply missing context
    (Sect. 1); here it only pads up to a valid size. ``"zeros"`` pads with 0.
    The returned map has the input's height and width.
    """
    import torch.nn.functional as F

    o = model.options
    if o.padding != "same":
        raise ValueError(
            "pad_to_valid is for same padding (output = input); for the paper's valid network "
            "the output is smaller than the input anyway: see overlap-tile."
        )
    h, w = x.shape[-2:]
    H, W = smallest_valid_size(int(h), o), smallest_valid_size(int(w), o)
    top, left = (H - h) // 2, (W - w) // 2
    bottom, right = H - h - top, W - w - left
    if mode == "reflect":
        xp = mirror_pad(x, top, bottom, left, right)
    elif mode == "zeros":
        xp = F.pad(x, [left, right, top, bottom])
    else:
        raise ValueError(f"mode must be 'reflect' or 'zeros', got {mode!r}.")
    y = model(xp)
    return y[..., top : top + h, left : left + w]


@dataclass
class FixResult:
    """One way of running a same-padding U-Net on a size that is not a multiple of 2**depth."""

    name: str
    output: tuple | None  # output (H, W), or None when it failed
    message: str  # what happened, in words (the real error for a failure)

    @property
    def ok(self) -> bool:
        return self.output is not None


def _small(mismatch: str = "error", depth: int = 3, base: int = 4, **options):

    from ..core.model import UNet

    with seeded(0):
        return UNet(padding="same", depth=depth, base_channels=base, mismatch=mismatch, **options).eval()


def fixes_demo(size: int = 100, depth: int = 3, base: int = 4) -> list[FixResult]:
    """Every way of feeding a ``size`` x ``size`` image to a small same-padding U-Net, run for real.

    The image is ``unet_lesson.seg.data.sample_image`` when available (a fixed random image
    otherwise); each result says the output size, or the real error.
    """
    import torch

    x = _input(size)
    results = []
    with torch.no_grad():
        model = _small(depth=depth, base=base)
        try:
            y = concat_without_crop(model, x)
            results.append(FixResult("plain torch.cat (no crop)", tuple(y.shape[-2:]), "no error"))
        except RuntimeError as e:
            results.append(FixResult("plain torch.cat (no crop)", None, f"RuntimeError: {e}"))
        try:
            y = model(x)
            results.append(FixResult("UNet(padding='same')", tuple(y.shape[-2:]), "no error"))
        except InvalidInputSize as e:
            results.append(FixResult("UNet(padding='same')", None, f"InvalidInputSize: {e}"))
        for mismatch, what in (
            ("pad", "zero-pads the up-conv's map to the copied map's size"),
            ("crop", "centre-crops the copied map to the up-conv's size"),
        ):
            y = _small(mismatch, depth, base)(x)
            results.append(
                FixResult(f"UNet(padding='same', mismatch='{mismatch}')", tuple(y.shape[-2:]), f"the decoder {what}")
            )
        n = smallest_valid_size(size, padding="same", depth=depth)
        y = pad_to_valid(model, x)
        results.append(
            FixResult(
                "pad_to_valid(model, x)",
                tuple(y.shape[-2:]),
                f"reflect-pads {size} to {n}, runs, crops the output back to {size}",
            )
        )
    return results


def fixes_html(results: list[FixResult]) -> str:
    """The results of :func:`fixes_demo` as a table: what was run, the output size or the real error."""
    rows = [
        (r.name, "{}×{}".format(*r.output) if r.ok else Raw("<b style='color:#b3261e'>fails</b>"), r.message)
        for r in results
    ]
    return html_table(["what runs", "output", "what happened"], rows, css="ul-fixes", mono=(0,))


def _input(size: int):
    import numpy as np
    import torch

    from ..seg.data import sample_image

    img = sample_image(size=size, seed=0)
    return torch.as_tensor(np.asarray(img, dtype=np.float32))[None, None]


def bn_parameters(depth: int = 4, base_channels: int = 64, **options) -> dict:
    """Parameters of the same-padding U-Net with and without batch norm, counted on real models.

    Each 3x3 conv followed by BN drops its bias (``c`` parameters) and BN adds gamma and
    beta (``2c``): a net ``+c`` per 3x3 conv. BN's running mean and variance are buffers,
    not parameters. Returns the counts and the per-conv sum, all computed.
    """
    import torch

    from ..core.model import UNet

    counts = {}
    for bn in (False, True):
        with torch.device("meta"):
            m = UNet(padding="same", depth=depth, base_channels=base_channels, batch_norm=bn, **options)
        counts[bn] = sum(p.numel() for p in m.parameters())
        assert counts[bn] == count_parameters(
            padding="same", depth=depth, base_channels=base_channels, batch_norm=bn, **options
        )
    t = shape_table(2**depth, padding="same", depth=depth, base_channels=base_channels, **options)
    per_conv = [r.out_shape[0] for r in t.where(kind="conv")]
    return dict(
        without_bn=counts[False],
        with_bn=counts[True],
        difference=counts[True] - counts[False],
        n_3x3_convs=len(per_conv),
        sum_of_conv_channels=sum(per_conv),
    )


def up_mode_parameters(**options) -> dict:
    """Parameters with 2x2 up-convs vs bilinear x2 + 1x1 conv (same everything else)."""
    o = {k: v for k, v in options.items() if k != "up_mode"}
    a, b = count_parameters(up_mode="upconv", **o), count_parameters(up_mode="bilinear", **o)
    return dict(upconv=a, bilinear=b, difference=a - b)


# ----------------------------------------------------------------------------------
# the notes' typed recipe: padding 1 in "steps 2 and 3" only (the bottom and the expanding path)
# ----------------------------------------------------------------------------------
def recipe_html(trace: PaddingTrace) -> str:
    """Each level of the expanding path: the copied map, the up-conv's output, and the crop that is left."""
    rows = [
        (
            lv.level,
            lv.copied,
            lv.up,
            f"{lv.copied} → {lv.kept}: {(lv.copied - lv.kept) // 2} px off each side" if lv.cuts else "none",
        )
        for lv in trace.levels
    ]
    return html_table(
        ["level", "copied map (contracting path)", "up-conv output", "crop still needed"],
        rows,
        css="ul-recipe",
        mono=(1, 2, 3),
        caption=f"paddings {trace.padding}: {trace.walk()}",
    )


def recipe_unet(contracting=0, bottom=1, expanding=1, **options):
    """A real UNet built the recipe's way: ``UNet(padding="valid", mismatch="crop", **options)`` with the 3x3 convs
    of the bottom and the expanding path given ``padding=bottom`` / ``expanding`` (and the contracting path's
    ``contracting``). Its copy and crop crops each copy to the up-conv's size, whatever that is. Its forward still
    checks an input as the valid network would, so it takes the valid network's sizes (572 among them). Build it on
    the meta device for the paper's size: ``with torch.device("meta"): recipe_unet()``."""
    from torch import nn

    from ..core.model import UNet

    with seeded(0):
        model = UNet(padding="valid", mismatch="crop", **options).eval()
    for part, pad in ((model.down_convs, contracting), (model.bottom, bottom), (model.up_convs, expanding)):
        for m in part.modules():
            if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                m.padding = (pad, pad)
    return model


# ----------------------------------------------------------------------------------
# batch norm: batch statistics in train(), running averages in eval()
# ----------------------------------------------------------------------------------
def bn_modes(seed: int = 0) -> dict:
    """The same picture through a same-padding U-Net with batch norm, in train() and in eval() mode, alone and in a
    batch with a second picture. The course's trained model when it ships (a copy: the original is never changed),
    random weights otherwise. Each value is the largest difference of picture A's output (class-1 probability).

    In train() batch norm normalises with the mean and variance of the current batch (so A's output depends on
    what else is in the batch) and updates its running averages; in eval() it uses those running averages
    (each picture on its own, the same every time).
    """
    import copy

    import numpy as np
    import torch

    from ..seg.data import lesson_sample
    from ..seg.pretrained import trained_or_random

    shipped, weights, _ = trained_or_random("same", seed=seed, depth=2, base_channels=4)
    model = copy.deepcopy(shipped)  # train() would change the shared model's running averages
    size = smallest_valid_size(64, model.options)
    a, b = (np.asarray(lesson_sample(size, s).image, dtype=np.float32) for s in (0, 1))
    xa = torch.from_numpy(a.copy())[None, None]
    xab = torch.from_numpy(np.stack([a, b]))[:, None]

    def prob(x):
        return torch.softmax(model(x), 1)[0, 1]

    first_bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad(), cpu_threads(1):
        model.eval()
        eval_alone, eval_pair = prob(xa), prob(xab)
        running_before = first_bn.running_mean.clone()
        model.train()
        train_alone, train_pair = prob(xa), prob(xab)  # each train-mode pass also updates the running averages
        moved = float((first_bn.running_mean - running_before).abs().max())
    return {
        "weights": weights,
        "eval: alone vs in a batch": float((eval_alone - eval_pair).abs().max()),
        "train: alone vs in a batch": float((train_alone - train_pair).abs().max()),
        "train vs eval, alone": float((train_alone - eval_alone).abs().max()),
        "running mean moved by (two train-mode passes)": moved,
        "momentum": first_bn.momentum,
    }


def bn_modes_html(result: dict) -> str:
    rows = [(k, f"{v:.2g}" if isinstance(v, float) else v) for k, v in result.items()]
    return html_table(["picture A's output (class-1 probability)", "largest difference"], rows, css="ul-bn-modes")


# ----------------------------------------------------------------------------------
# exercises (expected answers computed by unet_lesson, never typed)
# ----------------------------------------------------------------------------------
EX_BOTTOM = TEXT.exercise(
    "7.1", expected=lambda: shape_table(512, padding="same").where(path="bottom")[-1].out_shape[1]
)

EX_UPCONV = TEXT.exercise(
    "7.2",
    expected=lambda: fmt_shape(shape_table(384, padding="same").where(kind="up")[0].out_shape, "notes").replace(
        "×", "x"
    ),
    hint=lambda a: "that is the bottom; the up-conv doubles it." if str(a).replace("×", "x").startswith("24x") else "",
)

EX_RECIPE_CROPS = TEXT.exercise("7.3", expected=lambda: padding_trace(572, **RECIPE).cutting)

EX_RECIPE_SHORT = TEXT.exercise(
    "7.4",
    expected=lambda: 572 - padding_trace(572, **RECIPE).output,
    hint=lambda a: (
        "that is the paper's network (valid everywhere); here the bottom and the expanding path keep the size."
        if str(a).strip() == "184"
        else ""
    ),
)

EX_BN = TEXT.exercise("7.5", expected=lambda: bn_parameters()["difference"])

EX_SAME_BLOCK = TEXT.code_exercise("7.8", check_same_block)

EX_SAME_UNET = TEXT.code_exercise("7.9", check_same_unet)


def _bn_verdict() -> str:
    r = bn_modes()
    changes_train = r["train: alone vs in a batch"] > 1e-3
    changes_eval = r["eval: alone vs in a batch"] > 1e-3
    return {(False, False): "a", (True, False): "b", (True, True): "c"}.get((changes_train, changes_eval), "d")


EX_BN_MODES = TEXT.exercise("7.10", expected=_bn_verdict)

EX_NEXT_SAME = TEXT.exercise("7.6", expected=lambda: smallest_valid_size(100, padding="same"))

EX_RF = TEXT.exercise("7.7", expected=lambda: receptive_field_arithmetic(188).size[0])

EXERCISES = [
    EX_BOTTOM,
    EX_UPCONV,
    EX_RECIPE_CROPS,
    EX_RECIPE_SHORT,
    EX_BN,
    EX_NEXT_SAME,
    EX_RF,
    EX_SAME_BLOCK,
    EX_SAME_UNET,
    EX_BN_MODES,
]
