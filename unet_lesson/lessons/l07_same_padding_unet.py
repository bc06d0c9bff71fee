r"""Lesson 07: the modern U-Net of the notes ("现在我们的修改"): same padding, Conv-BN-ReLU, output = input.

What the lesson shows is computed here or in the core: the real errors an odd size causes, the fixes
(pad the input to a valid size, or pad/crop in the decoder) run for real on a small network, the
parameters batch norm adds, up-conv vs bilinear upsampling, and the receptive field of one output
pixel (:mod:`unet_lesson.core.receptive`). The explorer (:mod:`unet_lesson.ui.explorer`) is the
lesson's widget, starting at same padding.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.env import seeded
from ..core.ops import mirror_pad
from ..core.receptive import receptive_field_arithmetic
from ..core.search import smallest_valid_size
from ..core.shapes import InvalidInputSize, count_parameters, fmt_shape, shape_table
from ..ui import explorer
from ..ui.course import Lesson
from ..ui.exercises import Exercise
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
    minutes=30,
    topics=(11,),
    summary="Conv-BN-ReLU, output = input, what breaks for other sizes and the fixes",
)

WIDGETS = {"explorer": explorer.widget(input_size=256, padding="same", feature_maps=True)}


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

    ``mode="reflect"`` mirrors the border (the paper's overlap-tile idea), ``"zeros"`` pads with 0.
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
# exercises (expected answers computed by unet_lesson, never typed)
# ----------------------------------------------------------------------------------
EX_BOTTOM = Exercise(
    "7.1",
    "Spot the slip: the notes' same-padding sketch goes 32²×512 → conv → 32²×1024 → 16²×1024. With "
    "same padding, what is the height at the end of the bottom (after both 3x3 convs) for a 512 input?",
    expected=lambda: shape_table(512, padding="same").where(path="bottom")[-1].out_shape[1],
    hint="same padding keeps the size through every 3x3 conv; only the pools change it.",
    explanation="32: the bottom stays 32²×1024 (no pool there), and the 2x up-conv then gives 64²×512.",
)

EX_UPCONV = Exercise(
    "7.2",
    "And the first up-conv after that bottom: what is its output, as H×W×C?",
    expected=lambda: fmt_shape(shape_table(512, padding="same").where(kind="up")[0].out_shape, "notes").replace(
        "×", "x"
    ),
    hint="2x2 up-conv, stride 2: size ×2, channels ÷2. A 2x up-conv cannot go from 16 to 64.",
    explanation="32×32×1024 → 64×64×512, the size of the copied map, so no crop is needed.",
)

EX_BN = Exercise(
    "7.3",
    "How many more parameters does the same-padding U-Net (depth 4, base 64) have with batch norm than without?",
    expected=lambda: bn_parameters()["difference"],
    hint="per 3x3 conv: BN adds γ and β (2 per channel) but the conv drops its bias (1 per channel).",
    explanation="+1 per output channel of every 3x3 conv: 2·(64+128+256+512+1024+512+256+128+64) = 5,888.",
)

EX_NEXT_SAME = Exercise(
    "7.4",
    "The same-padding U-Net (depth 4) is given a 100×100 image. To what size does pad_to_valid pad it?",
    expected=lambda: smallest_valid_size(100, padding="same"),
    hint="four 2x2 pools: the size must be a multiple of 2**4.",
    explanation="112, the next multiple of 16; the output is cropped back to 100×100.",
)

EX_RF = Exercise(
    "7.5",
    "How many input pixels wide is the receptive field of the centre output pixel of the paper's network "
    "(valid padding, depth 4)? Use receptive_field or work it out.",
    expected=lambda: receptive_field_arithmetic(188).size[0],
    hint="walk back from the output: each 3x3 conv adds 2 at its level's scale, each pool doubles.",
    explanation="188 pixels, for every output pixel: exactly the smallest valid input. A plain stack of valid "
    "convs would see input - output + 1 = 185; the 2x2 pools and up-convs work on a grid, which adds "
    "a little.",
)

EXERCISES = [EX_BOTTOM, EX_UPCONV, EX_BN, EX_NEXT_SAME, EX_RF]
