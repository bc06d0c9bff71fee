r"""Lesson 06: the paper's whole U-Net, 572x572x1 -> 388x388x2, layer by layer.

Everything a lesson shows is computed here or in the core: the torchinfo summary of the
paper's network (on PyTorch's ``meta`` device, so the 572x572 forward costs no memory and
no time), the notes' numbered training walk mapped onto the shape table, and the message an
invalid size gives. The explorer (:mod:`unet_lesson.ui.explorer`) is the lesson's widget.
"""

from __future__ import annotations

from ..core.options import options_of
from ..core.shapes import InvalidInputSize, ShapeTable, fmt_shape, nearest_valid_sizes, output_size, shape_table
from ..ui import explorer
from ..ui.course import Lesson
from ..ui.exercises import Exercise
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
    "EX_FIRST_CONV",
    "EX_SLIP_196",
    "EX_NEXT_SIZE",
    "EX_OUTPUT_FOR",
]

LESSON = Lesson(
    6,
    "06_the_original_unet",
    "The original U-Net",
    minutes=30,
    topics=(2, 5, 6, 9, 12),
    summary="572x572x1 -> 388x388x2 layer by layer, the U diagram, 31,030,658 parameters, valid input sizes",
)

WIDGETS = {"explorer": explorer.widget(input_size=572)}


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
    return "each of the 64 kernels is 3x3 and sees 1 input channel; add one bias per kernel."


EX_FIRST_CONV = Exercise(
    "6.1",
    "How many parameters does the first 3x3 conv (572×572×1 → 570×570×64) have?",
    expected=lambda: shape_table(572)[0].params,
    hint=_first_conv_hint,
    explanation="3·3·1·64 weights + 64 biases = 640; torchinfo says the same.",
)

EX_SLIP_196 = Exercise(
    "6.2",
    "Spot the slip: in the expanding path the notes write 198×128 twice. 200×200×256 goes through two "
    "valid 3x3 convs; what is the height after the second one?",
    expected=lambda: shape_table(572).where(path="expanding", level=2, kind="conv")[-1].out_shape[1],
    hint="each valid 3x3 conv takes 2 pixels off: 200 → 198 → ?",
    explanation="200 → 198 → 196: the second conv gives 196×196×128, then the up-conv doubles it to 392.",
)

EX_NEXT_SIZE = Exercise(
    "6.3",
    "572 works. What is the next larger input size the paper's network takes?",
    expected=lambda: nearest_valid_sizes(572)[1],
    hint="valid sizes are 188 + 16k: every 2x2 pool must see an even size, four pools make steps of 2**4.",
    explanation="588 = 572 + 16, output 404 (= 588 - 184).",
)

EX_OUTPUT_FOR = Exercise(
    "6.4",
    "What output size does the paper's network give for a 700×700 input?",
    expected=lambda: output_size(700)[0],
    hint="700 = 188 + 16·32 is valid, and output = input - 184.",
    explanation="700 - 184 = 516.",
)

EXERCISES = [EX_FIRST_CONV, EX_SLIP_196, EX_NEXT_SIZE, EX_OUTPUT_FOR]
