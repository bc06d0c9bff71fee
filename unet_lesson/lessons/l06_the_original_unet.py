r"""Lesson 06: the paper's whole U-Net, 572x572x1 -> 388x388x2, layer by layer.

Everything a lesson shows is computed here or in the core: the torchinfo summary of the
paper's network (on PyTorch's ``meta`` device, so the 572x572 forward costs no memory and
no time), the notes' numbered training walk mapped onto the shape table, the message an
invalid size gives, what ``UNet()``'s defaults match in the paper and what they do not (the
initialisation measured on the layers, :func:`init_report`; dropout), and translation
equivariance shown by experiment (:func:`shift_experiment`). The explorer
(:mod:`unet_lesson.ui.explorer`) is the lesson's widget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.env import cpu_threads, seeded
from ..core.options import options_of
from ..core.search import smallest_valid_size
from ..core.shapes import (
    InvalidInputSize,
    ShapeTable,
    fmt_shape,
    nearest_valid_sizes,
    output_size,
    shape_table,
)
from ..ui import explorer
from ..ui.checkers import check_double_conv, check_my_unet
from ..ui.course import Lesson
from ..ui.exercises import CodeExercise, Exercise
from ..ui.receptive import unet_widget
from ..ui.tables import html_table

__all__ = [
    "LESSON",
    "WIDGETS",
    "EXERCISES",
    "paper_summary",
    "conv_layers",
    "NOTES_WALK",
    "notes_walk_rows",
    "notes_walk_html",
    "invalid_size_error",
    "InitRow",
    "init_report",
    "init_html",
    "parameter_counts",
    "ShiftResult",
    "shift_experiment",
    "shift_html",
    "EX_FIRST_CONV",
    "EX_SLIP_196",
    "EX_NEXT_SIZE",
    "EX_OUTPUT_FOR",
    "EX_DOUBLE_CONV",
    "EX_MY_UNET",
    "EX_INIT_STD",
    "EX_SHIFT",
]

LESSON = Lesson(
    6,
    "06_the_original_unet",
    "The original U-Net",
    minutes=40,
    topics=(2, 5, 6, 9, 12),
    summary="572x572x1 -> 388x388x2 layer by layer, the U diagram, 31,030,658 parameters, build it yourself, "
    "what UNet() matches in the paper, valid input sizes, translation equivariance",
)

WIDGETS = {
    "explorer": explorer.widget(input_size=572),
    # why valid padding: what one output pixel sees (unet_lesson.ui.receptive)
    "field": unet_widget(input_size=572, padding="valid", row=194, col=194),
}


# ----------------------------------------------------------------------------------
# lesson 6: the paper's network
# ----------------------------------------------------------------------------------
def paper_summary(input_size: int = 572, depth: int = 3, **options):
    """``torchinfo.summary`` of ``UNet(**options)`` for a ``1x1xNxN`` input, run on the meta device.

    Building and running the network on ``torch.device("meta")`` gives every shape and
    parameter count without allocating or computing anything: a few milliseconds instead
    of about ten seconds for the real 572x572 forward on a laptop CPU.
    """
    import torch
    import torchinfo

    from ..core.model import UNet

    o = options_of(**options)
    with torch.device("meta"):
        model = UNet(**o.as_dict())
    return torchinfo.summary(
        model,
        input_size=(1, o.in_channels, input_size, input_size),
        device="meta",
        depth=depth,
        verbose=0,
        col_names=("output_size", "num_params"),
    )


def conv_layers(model) -> list[str]:
    """Names of the layers with convolution weights (3x3, up-conv, 1x1), in the model's order."""
    from torch import nn

    return [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


#: The notes' numbered walk through the contracting path ("U-Net training process", steps 1-7),
#: quoted with the notes' own numbers; :func:`notes_walk_rows` finds each step's rows in the table.
NOTES_WALK = [
    (1, "Input image 572×572×1, two 3×3 convs, s=1, p=0, #k=64: 570×570×64, 568²×64", "conv", 1, "570, 568"),
    (2, "maxpool (downsampling) k=2 s=2 p=0: 284²×64", "pool", 1, "284"),
    (3, "two 3×3 convs, #k=128: 282²×128, 280²×128", "conv", 2, "282, 280"),
    (4, "maxpool k=2 s=2 p=0: 140²×128", "pool", 2, "140"),
    (5, "two 3×3 convs, #k=256: 138²×256, 136²×256", "conv", 3, "138, 136"),
    (6, "maxpool k=2 s=2 p=0: 68²×256", "pool", 3, "68"),
    (7, "two 3×3 convs, #k=512: 66²×512, 64²×512", "conv", 4, "66, 64"),
]


def notes_walk_rows(table: ShapeTable | None = None) -> list[tuple[int, str, list, str]]:
    """Each step of the notes' walk with its rows of the contracting path: (step, notes, rows, notes' sizes)."""
    table = table if table is not None else shape_table(572)
    out = []
    for step, text, kind, level, quoted in NOTES_WALK:
        rows = table.where(path="contracting", kind=kind, level=level)
        out.append((step, text, rows, quoted))
    return out


def notes_walk_html(table: ShapeTable | None = None) -> str:
    """The notes' steps 1-7 side by side with the table's rows (H×W×C) and whether they agree."""
    body = []
    for step, text, rows, quoted in notes_walk_rows(table):
        sizes = ", ".join(str(r.out_shape[1]) for r in rows)
        shapes = ", ".join(fmt_shape(r.out_shape, "notes") for r in rows)
        ok = "✓" if sizes == quoted else f"✗ (the notes say {quoted})"
        body.append((step, text, ", ".join(str(r.index) for r in rows), shapes, ok))
    return html_table(
        ["step", "the notes", "table rows", "the table's output (H×W×C)", "agree?"],
        body,
        css="ul-notes-walk",
        mono=(3,),
    )


def invalid_size_error(input_size: int, **options) -> InvalidInputSize:
    """The :class:`InvalidInputSize` a U-Net raises for this size (what a forward pass would say)."""
    try:
        shape_table(input_size, **options)
    except InvalidInputSize as e:
        return e
    raise ValueError(f"{input_size} is a valid size for this network (output {output_size(input_size, **options)}).")


# ----------------------------------------------------------------------------------
# what UNet() matches in the paper, and what it does not: initialisation and dropout
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class InitRow:
    """One layer with weights: its N, the paper's std and the std measured on both initialisations."""

    module: str
    kind: str  # "3x3 conv", "2x2 up-conv", "1x1 conv"
    n: int  # the paper's N: inputs of one output unit (unet_lesson.core.model.incoming)
    paper_std: float  # sqrt(2 / N)
    he_std: float  # measured on UNet(init="he")
    pytorch_std: float  # measured on UNet()
    pytorch_formula: float  # 1 / sqrt(3 fan_in): PyTorch's kaiming_uniform_(a=sqrt(5)), fan_in as torch counts it


def _weight_layers(model):
    from torch import nn

    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def _kind(m) -> str:
    from torch import nn

    if isinstance(m, nn.ConvTranspose2d):
        return "2x2 up-conv"
    return f"{m.kernel_size[0]}x{m.kernel_size[1]} conv"


def init_report(seed: int = 0, **options) -> list[InitRow]:
    r"""Build ``UNet(**options)`` (PyTorch's default initialisation) and ``UNet(init="he", **options)`` (the
    paper's Gaussian with std :math:`\sqrt{2/N}`), both seeded, and measure the std of every layer's weights.

    The paper (Sect. 3): "drawing the initial weights from a Gaussian distribution with a standard deviation of
    :math:`\sqrt{2/N}`, where N denotes the number of incoming nodes of one neuron"; N = 9 * 64 = 576 for a 3x3
    conv over 64 channels. PyTorch draws from a uniform distribution with std :math:`1/\sqrt{3\,\mathrm{fan\_in}}`
    (for a conv fan_in = N; a transposed conv counts its *output* channels, C_out * 2 * 2). The networks are built
    one after the other (the paper's is 124 MB of weights) and dropped.
    """
    from ..core.model import UNet, incoming

    measured, layers = {}, {}
    for init in ("pytorch", "he"):
        with seeded(seed):  # he_init_ draws from torch's RNG: never the student's
            model = UNet(init=init, **options)
        measured[init] = {name: float(m.weight.detach().std()) for name, m in _weight_layers(model)}
        # N, and fan_in as torch.nn.init counts it (weight.shape[1] * k * k)
        layers = {
            name: (_kind(m), incoming(m), m.weight.shape[1] * m.weight[0][0].numel())
            for name, m in _weight_layers(model)
        }
        del model  # only the numbers are kept: one network in memory at a time
    rows = []
    for name, (kind, n, fan_in) in layers.items():
        rows.append(
            InitRow(
                name,
                kind,
                n,
                math.sqrt(2 / n),
                measured["he"][name],
                measured["pytorch"][name],
                1 / math.sqrt(3 * fan_in),
            )
        )
    return rows


def init_html(rows: list[InitRow]) -> str:
    """The report as a table: N, the paper's sqrt(2/N) beside the std measured with init="he", and PyTorch's."""
    body = [
        (
            r.module,
            r.kind,
            f"{r.n:,}",
            f"{r.paper_std:.4f}",
            f"{r.he_std:.4f}",
            f"{r.pytorch_std:.4f}",
            f"{r.pytorch_formula:.4f}",
        )
        for r in rows
    ]
    return html_table(
        ["layer", "kind", "N", "√(2/N), the paper", 'measured, UNet(init="he")', "measured, UNet()", "1/√(3·fan_in)"],
        body,
        css="ul-init",
        mono=(0, 2, 3, 4, 5, 6),
    )


def parameter_counts() -> dict:
    """Learned parameters of ``UNet()``, ``UNet(dropout=0.5)`` and ``UNet(init="he")``, counted on real modules
    built on the meta device (no memory): dropout and the initialisation change no count."""
    import torch

    from ..core.model import UNet

    out = {}
    for label, kw in (("UNet()", {}), ("UNet(dropout=0.5)", dict(dropout=0.5)), ('UNet(init="he")', dict(init="he"))):
        with torch.device("meta"):
            out[label] = sum(p.numel() for p in UNet(**kw).parameters())
    return out


# ----------------------------------------------------------------------------------
# translation equivariance: shift the input, the output shifts with it (by multiples of 2**depth)
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShiftResult:
    """One shift of :func:`shift_experiment`."""

    shift: int
    max_diff: float  # largest |shifted output - output of the shifted input| over the overlap
    scale: float  # largest |output|, to compare with
    moves_along: bool  # max_diff is at float precision

    def __str__(self) -> str:
        verdict = "moves along exactly" if self.moves_along else "changes"
        return f"shift {self.shift}: largest difference {self.max_diff:.1e} (outputs up to {self.scale:.2f}): {verdict}"


def shift_experiment(
    shifts=tuple(range(1, 9)), depth: int = 3, size: int = 140, seed: int = 0, init: str = "he"
) -> list[ShiftResult]:
    """Run a small valid U-Net (``depth`` pools, 4 base channels, ``init``, seeded) on a window of a sample
    picture and on the window moved by ``s`` pixels right and down; compare the second output with the first
    moved by ``s``, over the part both cover.

    A fully convolutional network computes every output pixel from its own input window with the same weights,
    so moving the input moves the output, except that the 2x2 pools group pixels in fixed 2x2 blocks: after
    ``depth`` pools the network sees its input on a grid of ``2**depth`` pixels, and only a shift by a multiple
    of it keeps every block (the course's analysis; the paper does not discuss it).

    ``init="he"`` (the paper's initialisation) by default: with PyTorch's default the untrained network's
    deepest levels contribute so little that breaking only their grid changes the output by about 1e-6.
    """
    import numpy as np
    import torch

    from ..core.model import UNet
    from ..core.parse import whole
    from ..seg.data import sample_image

    shifts = [whole(s, "shift", minimum=1, maximum=64) for s in shifts]
    n = smallest_valid_size(size, depth=depth)
    m = output_size(n, depth=depth)[0]
    if max(shifts) >= m:
        raise ValueError(
            f"A shift of {max(shifts)} leaves nothing to compare: the {n}-pixel window gives a {m}-pixel output. "
            f"Use shifts below {m}, or a larger size."
        )
    with seeded(seed):
        model = UNet(depth=depth, base_channels=4, init=init).eval()
    big = np.asarray(sample_image(n + max(shifts), seed=0), dtype=np.float32)

    windows = [big[s : s + n, s : s + n] for s in [0, *shifts]]  # the window, then each moved one
    x = torch.from_numpy(np.stack(windows))[:, None]
    with torch.no_grad(), cpu_threads(1):  # one batch, one thread: quick on a busy machine
        y = model(x)[:, 0]
    y0 = y[0]
    scale = float(y0.abs().max())
    out = []
    for s, ys in zip(shifts, y[1:]):
        diff = float((ys[: m - s, : m - s] - y0[s:, s:]).abs().max())
        out.append(ShiftResult(s, diff, scale, diff <= 1e-6 * max(scale, 1.0)))  # float32 precision
    return out


def shift_html(results: list[ShiftResult]) -> str:
    rows = [(r.shift, f"{r.max_diff:.1e}", "✓ moves along exactly" if r.moves_along else "✗ changes") for r in results]
    return html_table(["shift (pixels)", "largest difference", "the output ..."], rows, css="ul-shift", mono=(0, 1))


# ----------------------------------------------------------------------------------
# exercises (expected answers computed by unet_lesson, never typed)
# ----------------------------------------------------------------------------------
def _first_conv_hint(answer) -> str:
    right = shape_table(572)[0].params
    try:
        a = int(answer)
    except (TypeError, ValueError):
        return "one whole number: weights + biases."
    if a == right - shape_table(572)[0].out_shape[0]:
        return "that is the weights; each of the 64 kernels also has a bias."
    return ""


EX_FIRST_CONV = Exercise(
    "6.1",
    "How many parameters does the first 3x3 conv (572×572×1 → 570×570×64) have?",
    expected=lambda: shape_table(572)[0].params,
    hint=_first_conv_hint,
    hints=[
        "Count one kernel's weights: how many rows, columns and input channels does it cover?",
        "k·k·C_in weights per kernel, C_out kernels, plus one bias per kernel: k·k·C_in·C_out + C_out.",
        "The second conv (570×570×64 → 568×568×64): 3·3·64·64 + 64 = 36,928.",
    ],
    explanation="3·3·1·64 weights + 64 biases = 640; torchinfo says the same.",
)

EX_SLIP_196 = Exercise(
    "6.2",
    "Spot the slip: in the expanding path the notes write 198×128 twice. 200×200×256 goes through two "
    "valid 3x3 convs; what is the height after the second one?",
    expected=lambda: shape_table(572).where(path="expanding", level=2, kind="conv")[-1].out_shape[1],
    hint="each valid 3x3 conv takes 2 pixels off: 200 → 198 → ?",
    hints=[
        "Does the second conv have padding? Then it trims too.",
        "A valid 3x3 conv: H → H − 3 + 1 = H − 2, each time.",
        "One level further down the notes have it right: 104 → 102 → 100.",
    ],
    explanation="200 → 198 → 196: the second conv gives 196×196×128, then the up-conv doubles it to 392.",
)

EX_NEXT_SIZE = Exercise(
    "6.3",
    "The paper's network takes 572 (Fig. 1). What is the largest input size of at most 1000 pixels that it takes?",
    expected=lambda: nearest_valid_sizes(1001)[0],
    hint=lambda a: "that one breaks at a pool: an odd size reaches it." if str(a).strip() == "1000" else "",
    hints=[
        "Every 2x2 max pool must see an even size. Follow 1000 down the contracting path: where does it break?",
        "Four pools: valid sizes step by 2**4 = 16. From 572 go up in steps of 16; stop at the last one below 1000.",
        "Lesson 04 found the next one after 572: 572 + 16 = 588.",
    ],
    explanation="988 = 572 + 26·16: valid sizes are 188 + 16k (k = 50 here), output 988 − 184 = 804.",
)

EX_OUTPUT_FOR = Exercise(
    "6.4",
    "What output size does the paper's network give for a 700×700 input?",
    expected=lambda: output_size(700)[0],
    hints=[
        "Is 700 valid? Count what the network takes off: each valid 3x3 conv trims 2 pixels at its level's scale.",
        "For the valid inputs the output is input − 184 (572 − 388 = 184).",
        "700 = 188 + 16·32 is valid; 188 gives 4.",
    ],
    explanation="700 - 184 = 516.",
)

EX_DOUBLE_CONV = CodeExercise(
    "6.5",
    "Write class DoubleConv(nn.Module): DoubleConv(in_channels, out_channels) is two valid 3x3 convolutions, "
    "each followed by a ReLU (H → H − 2 → H − 4). It is checked against unet_lesson's DoubleConvolution: shapes, "
    "the parameter count and, with the same weights, the same numbers, on even, odd and rectangular inputs.",
    check_double_conv,
    hints=[
        "Valid means no padding: nn.Conv2d's default padding=0.",
        "Conv2d(in, out, 3) → ReLU → Conv2d(out, out, 3) → ReLU; the second conv keeps the channels.",
        "572×572×1 → 570×570×64 → 568×568×64: DoubleConv(1, 64) on a (1, 1, 572, 572) tensor.",
    ],
    explanation="Every level of the U, contracting and expanding path and the bottom, is this block.",
)

EX_MY_UNET = CodeExercise(
    "6.6",
    "Write MyUNet.forward: the paper's whole network, whose __init__ the cell gives (built from your DoubleConv, "
    "keywords in_channels=1, num_classes=2, base_channels=64, depth=4). Contracting path: each level's DoubleConv, "
    "a copy of its map kept, the pool; the bottom; expanding path, deepest level first: the up-conv, the level's "
    "copy centre-cropped to the up-conv's size and concatenated, copy first, the level's DoubleConv; the head. "
    "MyUNet() must give 388×388×2 for 572×572×1 and have 31,030,658 parameters (checked on the meta device: no "
    "memory, no time), and compute the same numbers as unet_lesson.UNet given the same weights (checked on small "
    "networks). Optional challenge: write the whole class from an empty one, __init__ too; the same check takes it.",
    check_my_unet,
    hints=[
        "On the way down every level's map is needed again on the way up: where do you keep it, and in what "
        "order do the levels come back?",
        "Keep the copies in a list; the expanding path takes them back in reverse order (copies.pop() gives the "
        "last one kept). At each level: x = up_conv(x); center_crop(copy, x.shape[-2:]) cuts the copy to x's size; "
        "torch.cat([copy, x], dim=1) puts it first, on the channels (dim 0 is the batch); then the level's "
        "DoubleConv.",
        "Level 4 of the paper's network: 28×28×1024 → up-conv → 56×56×512; the copy kept before the fourth pool, "
        "64×64×512 → crop → 56×56×512; concatenated 56×56×1024 → DoubleConv → 52×52×512.",
    ],
    explanation="That is U-Net: 23 conv layers, the table above; your forward is the U itself, four times copy and "
    "crop.",
)


def _init_std() -> float:
    from torch import nn

    from ..core.model import incoming

    with seeded(0):
        layer = nn.Conv2d(64, 64, kernel_size=3)  # a 3x3 conv over 64 channels: the paper's example
    return round(math.sqrt(2 / incoming(layer)), 3)


EX_INIT_STD = Exercise(
    "6.7",
    "The paper draws each initial weight from a Gaussian with standard deviation √(2/N), N the number of inputs "
    "of one output unit. For a 3x3 conv over 64 channels, what is that standard deviation (3 decimals)?",
    expected=_init_std,
    tolerance=6e-4,
    hint=lambda a: "that is 2/N; take the square root." if str(a).strip().startswith("0.003") else "",
    hints=[
        "One output value of a 3x3 conv is a weighted sum: how many input values enter it?",
        "N = k·k·C_in = 3·3·64; the std is √(2/N).",
        "For the first conv (one input channel) N = 9: √(2/9) = 0.471.",
    ],
    explanation="N = 9·64 = 576 (the paper's example) and √(2/576) = 0.0589; PyTorch's default gives "
    "1/√(3·576) = 0.0241, about 2.4 times smaller.",
)

EX_SHIFT = Exercise(
    "6.8",
    "A valid U-Net of depth 3 (three 2x2 pools). Move its input right and down by s pixels. What is the "
    "smallest s > 0 for which the output moves by exactly s pixels, every value the same?",
    expected=lambda: min(r.shift for r in shift_experiment(depth=3) if r.moves_along),
    hints=[
        "Every conv moves along with its input. What about a 2x2 pool with stride 2?",
        "A pool groups pixels in fixed 2x2 blocks: a shift keeps the blocks only if it is even. After several pools?",
        "Depth 1 (one pool): any even shift works, so the answer there is 2.",
    ],
    explanation="8 = 2**3: after three pools the network sees its input on an 8-pixel grid; the experiment "
    "below shows shifts 1 to 7 change the output and 8 moves it along exactly.",
)

EXERCISES = [
    EX_FIRST_CONV,
    EX_SLIP_196,
    EX_NEXT_SIZE,
    EX_OUTPUT_FOR,
    EX_DOUBLE_CONV,
    EX_MY_UNET,
    EX_INIT_STD,
    EX_SHIFT,
]
