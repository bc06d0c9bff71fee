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
from ..ui.course import Lesson
from ..ui.exercises import CodeExercise, Exercise
from ..ui.receptive import unet_widget
from ..ui.tables import Raw, html_table

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

LESSON = Lesson(
    7,
    "07_same_padding_unet",
    "The same-padding U-Net",
    minutes=40,
    topics=(11,),
    summary="the notes' recipe worked through (a slip), Conv-BN-ReLU, batch norm in train and eval, output = "
    "input, what breaks for other sizes and the fixes, build it yourself",
)

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

    copied = []
    for conv, pool in zip(model.down_convs, model.down_samples):
        x = conv(x)
        copied.append(x)
        x = pool(x)
    x = model.bottom(x)
    for up, conv in zip(model.up_samples, model.up_convs):
        x = up(x)
        x = torch.cat([copied.pop(), x], dim=1)  # no crop: sizes must already agree
        x = conv(x)
    return model.head(x)


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
EX_BOTTOM = Exercise(
    "7.1",
    "Spot the slip: the notes' same-padding sketch goes 32²×512 → conv → 32²×1024 → 16²×1024. With "
    "same padding, what is the height at the end of the bottom (after both 3x3 convs) for a 512 input?",
    expected=lambda: shape_table(512, padding="same").where(path="bottom")[-1].out_shape[1],
    hint="same padding keeps the size through every 3x3 conv; only the pools change it.",
    hints=[
        "Is there a pool between the bottom's two convs?",
        "A 3x3 conv with padding 1: (H + 2·1 − 3)/1 + 1 = H.",
        "One level up the notes have it right: 64²×512 → conv 3×3 BN ReLU → 64² (same padding).",
    ],
    explanation="32: the bottom stays 32²×1024 (no pool there), and the 2x up-conv then gives 64²×512; a 2x up-conv "
    "cannot go from 16 to 64.",
)

EX_UPCONV = Exercise(
    "7.2",
    "The same-padding U-Net (depth 4) on a 384×384 input (not the notes' 512): what is the first up-conv's output, "
    "as H×W×C?",
    expected=lambda: fmt_shape(shape_table(384, padding="same").where(kind="up")[0].out_shape, "notes").replace(
        "×", "x"
    ),
    hint=lambda a: "that is the bottom; the up-conv doubles it." if str(a).replace("×", "x").startswith("24x") else "",
    hints=[
        "Where is the map before the first up-conv? Count the pools: same-padding convs keep the size.",
        "Bottom: 384 / 2⁴ with 1024 channels; a 2x2 up-conv with stride 2: size ×2, channels ÷2.",
        "For the notes' 512: 512 / 16 = 32 at the bottom, the up-conv gives 64×64×512.",
    ],
    explanation="384 / 16 = 24 at the bottom (24×24×1024), the up-conv gives 48×48×512: exactly the copied map of "
    "the fourth level, so no crop is needed.",
)

EX_RECIPE_CROPS = Exercise(
    "7.3",
    "Spot the slip: the notes' typed summary gives padding 1 to the 3x3 convs of steps 2 and 3 only (the bottom "
    "and the expanding path) and says the centre crop can then be left out. Work it through for a 572 input: "
    "of the four copy and crops, how many still have to cut pixels off the copied map?",
    expected=lambda: padding_trace(572, **RECIPE).cutting,
    hints=[
        "The contracting path is unchanged: which sizes does it copy? (Lesson 04's table: 568, 280, 136, 64.)",
        "From the bottom: 32 stays 32 through its two padded convs; each up-conv doubles, each padded conv keeps the "
        "size. Compare every up-conv output with the copy of its level.",
        "The deepest level: 32 → up-conv → 64, the copy is 64: no crop there. Now the next level up.",
    ],
    explanation="3 of 4: the up-convs give 64, 128, 256, 512 and meet copies of 64, 136, 280, 568; only the "
    "deepest crop goes. For no crop anywhere, every 3x3 conv, the contracting path's too, needs padding 1.",
)

EX_RECIPE_SHORT = Exercise(
    "7.4",
    "And the notes' question, 如何让 output size = input size: with that recipe, by how many pixels is the output "
    "smaller than the 572 input?",
    expected=lambda: 572 - padding_trace(572, **RECIPE).output,
    hint=lambda a: (
        "that is the paper's network (valid everywhere); here the bottom and the expanding path keep the size."
        if str(a).strip() == "184"
        else ""
    ),
    hints=[
        "Only the contracting path still shrinks. What size leaves it, and what does the expanding path do to it?",
        "Bottom 32 (kept); four up-convs double it: 32 · 2⁴; the padded convs keep each size; the 1x1 head keeps it.",
        "The paper's network (no padding anywhere) is 184 pixels short: 572 → 388.",
    ],
    explanation="The output is 32 · 16 = 512, 60 pixels short of 572: the recipe does not give output = input.",
)

EX_BN = Exercise(
    "7.5",
    "How many more parameters does the same-padding U-Net (depth 4, base 64) have with batch norm than without?",
    expected=lambda: bn_parameters()["difference"],
    hint="per 3x3 conv: BN adds γ and β (2 per channel) but the conv drops its bias (1 per channel).",
    hints=[
        "What does BN learn per channel, and what does the conv before it no longer need?",
        "Per 3x3 conv with c output channels: +2c (γ, β) − c (bias) = +c; add c over all 18 3x3 convs.",
        "One double conv of 64 channels: +64 + 64 = 128.",
    ],
    explanation="+1 per output channel of every 3x3 conv: 2·(64+128+256+512+1024+512+256+128+64) = 5,888.",
)

EX_SAME_BLOCK = CodeExercise(
    "7.8",
    "Write class SameBlock(nn.Module): SameBlock(in_channels, out_channels) is Conv-BN-ReLU twice with same padding "
    "(3x3, padding 1, no bias: BN shifts anyway). It is checked against unet_lesson's block "
    "(DoubleConvolution(..., padding=1, batch_norm=True)) in eval mode with the same weights and BN statistics.",
    check_same_block,
    hints=[
        "Keep the size: what padding does a 3x3 conv need for H → H?",
        "Conv2d(in, out, 3, padding=1, bias=False) → BatchNorm2d(out) → ReLU, then the same from out to out.",
        "It has 1 parameter per output channel more than the valid block: 2c for γ, β, minus the bias c.",
    ],
    explanation="The notes' CONV-BN-ReLU, twice: the size is kept on every input.",
)

EX_SAME_UNET = CodeExercise(
    "7.9",
    "Write class SameUNet(nn.Module) (keywords in_channels=1, num_classes=2, base_channels=64, depth=4): the "
    "modern U-Net from your SameBlock, with no crop. SameUNet() must keep the size for multiples of 2**depth and "
    "have the parameters of unet_lesson.UNet(padding='same'); with the keywords it is compared with it on small "
    "networks, in eval mode, with the same weights.",
    check_same_unet,
    hints=[
        "No crop is needed any more: the up-conv's map is already the copy's size.",
        "Your MyUNet of lesson 06 with SameBlock instead of DoubleConv and torch.cat([copy, up], dim=1) directly.",
        "512 → 32 at the bottom (four pools) → back to 512 after four up-convs.",
    ],
    explanation="Output size = input size, for every multiple of 2**depth: the notes' 目前的主流方法.",
)


def _bn_verdict() -> str:
    r = bn_modes()
    changes_train = r["train: alone vs in a batch"] > 1e-3
    changes_eval = r["eval: alone vs in a batch"] > 1e-3
    return {(False, False): "a", (True, False): "b", (True, True): "c"}.get((changes_train, changes_eval), "d")


EX_BN_MODES = Exercise(
    "7.10",
    "Picture A goes through a U-Net with batch norm twice: alone, and in a batch together with picture B. Is A's "
    "output the same both times?",
    expected=_bn_verdict,
    choices={
        "a": "the same in train() and in eval(): each picture is computed on its own",
        "b": "different in train() (BN uses the batch's statistics), the same in eval() (its running averages)",
        "c": "different in both modes",
    },
    hints=[
        "Batch norm subtracts a mean and divides by a standard deviation: of what, in each mode?",
        "train(): the mean and variance over the batch and the pixels, per channel; eval(): the running averages it "
        "kept during training.",
        "With B in the batch, the batch's mean per channel is the mean over A's and B's pixels.",
    ],
    explanation="In train() a picture's output depends on the rest of its batch; in eval() it does not. That is why "
    "a network with batch norm is switched to eval() for prediction.",
)

EX_NEXT_SAME = Exercise(
    "7.6",
    "The same-padding U-Net (depth 4) is given a 100×100 image. To what size does pad_to_valid pad it?",
    expected=lambda: smallest_valid_size(100, padding="same"),
    hint="four 2x2 pools: the size must be a multiple of 2**4.",
    hints=[
        "Which sizes does the same-padding network of depth 4 take?",
        "Multiples of 2⁴ = 16: the next one at or above 100.",
        "For depth 3 (multiples of 8) the demo above pads 100 to 104.",
    ],
    explanation="112, the next multiple of 16; the output is cropped back to 100×100.",
)

EX_RF = Exercise(
    "7.7",
    "How many input pixels wide is the receptive field of the centre output pixel of the valid network "
    "(the paper's layout, depth 4)? Use receptive_field or work it out.",
    expected=lambda: receptive_field_arithmetic(188).size[0],
    hint="walk back from the output: each 3x3 conv adds 2 at its level's scale, each pool doubles.",
    hints=[
        "Which input pixels can change one output pixel? Walk back from the output.",
        "A 3x3 conv at a level that is 2^k times coarser widens the field by 2·2^k; a crop only shifts it.",
        "A depth-1 valid network: receptive_field_arithmetic(22, depth=1) gives 18×18.",
    ],
    explanation="188 pixels: exactly the smallest valid input, whose 4×4 output pixels all see the whole of it. "
    "Elsewhere a pixel sees 188 or 204 along each axis, by where it sits on the pools' 16-pixel grid. A plain "
    "stack of valid convs would see input - output + 1 = 185; the 2x2 pools and up-convs work on a grid, which "
    "adds a little. (The course computes it; the paper states no receptive field.)",
)

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
