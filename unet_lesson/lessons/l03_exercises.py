"""Lesson 03's exercises (转置卷积 the up-conv), kept apart from its views; :mod:`.l03_up_conv` re-exports
every one, so a notebook calls ``L.EX_SHAPE.check(answer)``.

Every expected answer is computed: sizes with :func:`unet_lesson.core.sizes.up_conv_out`, the notes' layer
measured on a real ``nn.ConvTranspose2d`` (:func:`.l03_layer.layer_facts`), the scatter-and-sum and the
matrix C from :mod:`unet_lesson.core.transposed`; the code exercise runs the student's function against
``nn.ConvTranspose2d`` (:mod:`unet_lesson.ui.checkers`). Each has three graded hints.
"""

from __future__ import annotations

from ..core.sizes import conv_out, up_conv_out
from ..core.transposed import conv_matrix, overlap_levels, scatter_and_sum, uneven_overlap
from ..ui.checkers import check_conv_transpose
from ..ui.exercises import CodeExercise, Exercise, same_answer
from . import l03_layer as _layer
from .l03_layer import EXAMPLE_INPUT, EXAMPLE_KERNEL, UNET_KERNEL

__all__ = [
    "EX_SHAPE",
    "EX_CENTRE",
    "EX_CONV_TRANSPOSE",
    "EX_SIZE_RULE",
    "EX_SLIP",
    "EX_PARAMS",
    "EX_MATRIX",
    "EX_OVERLAP",
    "EXERCISES",
]


def _notes_layer() -> dict:
    return _layer._notes_layer()


def _shape_hint(answer) -> str:
    f = _notes_layer()
    (h, w, c), (hi, wi, ci) = f["out_shape_notes"], f["in_shape_notes"]
    if same_answer(answer, (h, w, ci)):
        return "the size is right, but the channels are the layer's out_channels (the second argument)."
    if same_answer(answer, (c, h, w)):
        return "right numbers, but in PyTorch's C×H×W order; the notes (and this question) write H×W×C."
    if same_answer(answer, (hi, wi, c)):
        return "the channels are right; now the size: the notes say the size doubles."
    return "write it as 'HxWxC'."


EX_SHAPE = Exercise(
    "3.1",
    "Before opening the layer: the notes' bottom map 28×28×1024 goes through the up-conv "
    "nn.ConvTranspose2d(1024, 512, kernel_size=2, stride=2). Going by the notes' rule for a Transconv "
    "(size ×2, channel 1/2), what comes out? Answer as H×W×C, like the notes (e.g. '10x10x3').",
    expected=lambda: _notes_layer()["out_shape_notes"],
    hint=_shape_hint,
    hints=[
        "The NOTE page gives a Transconv's rule in two parts: one for the size, one for the channels.",
        "Size ×2 for the height and the width; the channels are the layer's second argument, out_channels (1/2).",
        "A 10×10×64 map through nn.ConvTranspose2d(64, 32, 2, stride=2) gives 20×20×32.",
    ],
    explanation="(28 - 1)*2 + 2 = 56: size ×2, and 512 kernels per input channel: channels 1/2, the notes' "
    "56×56×512. The cell below runs the real layer.",
)


def _centre_hint(answer) -> str:
    copies = scatter_and_sum(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=2)
    if same_answer(answer, float(EXAMPLE_KERNEL[1, 1] * EXAMPLE_INPUT.sum())):
        return "each copy puts a *corner* of its kernel on the centre pixel, not the kernel's middle."
    if same_answer(answer, float(copies.max())):
        return "that is the largest output pixel; the centre is row 2, column 2."
    return ""


EX_CENTRE = Exercise(
    "3.2",
    "Predict before the picture: the input [[1, 2], [3, 4]] goes through a transposed convolution with the 3×3 "
    "kernel [[1, 2, 1], [2, 4, 2], [1, 2, 1]] and stride 2 (output 5×5). What is the value of the output's "
    "centre pixel, at row 2, column 2?",
    expected=lambda: float(scatter_and_sum(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=2)[2, 2]),
    hint=_centre_hint,
    hints=[
        "Input pixel (i, j) paints its value × the kernel with the copy's top-left corner at (2i, 2j). Which "
        "copies reach (2, 2)?",
        "Every copy covers rows 2i..2i+2 and columns 2j..2j+2, so all four reach (2, 2); each adds its input "
        "value × the kernel entry at (2 − 2i, 2 − 2j).",
        "x[0, 0] = 1 puts its kernel entry (2, 2) there: 1 × 1. x[0, 1] = 2 puts entry (2, 0): 2 × 1. Now add "
        "x[1, 0] and x[1, 1].",
    ],
    explanation="1·1 + 2·1 + 3·1 + 4·1 = 10: the centre is where all four copies overlap, each with a corner of "
    "its kernel.",
)

EX_CONV_TRANSPOSE = CodeExercise(
    "3.3",
    "Write conv_transpose(x, w, stride): the transposed convolution of a 2-D numpy map x (H, W) with a k×k "
    "kernel w, by scatter and sum, no padding, as nn.ConvTranspose2d computes it.",
    check_conv_transpose,
    hints=[
        "Each input pixel paints a copy of w, scaled by its value; start from an output of zeros and add the "
        "copies one by one.",
        "The output is (H − 1)·s + k by (W − 1)·s + k; pixel (i, j) adds x[i, j] * w to "
        "out[i*s : i*s + k, j*s : j*s + k] (use +=: overlapping copies add up).",
        "[[1, 2], [3, 4]] with a 3×3 kernel and stride 2: a 5×5 output; the copies overlap in row 2 and "
        "column 2, and the centre gets all four.",
    ],
    explanation="Scatter and sum is the whole layer: PyTorch's nn.ConvTranspose2d computes exactly this "
    "(for many channels, each (input, output) channel pair has its own kernel and the copies are summed).",
)


def _size_hint(answer) -> str:
    h, k, s, p, op = 7, 3, 2, 1, 1
    right = up_conv_out(h, k, s, p, op)
    if same_answer(answer, right - op):
        return "you forgot the output_padding: it adds its rows at the end."
    if same_answer(answer, right + 2 * p):
        return "padding trims p rows from *each* side of the output: subtract 2p."
    if same_answer(answer, right + 1):
        return "no '+ 1' here: (H - 1)*s - 2p + k + output_padding."
    if same_answer(answer, conv_out(h, k, s, p)):
        return "that is the convolution's rule; the transposed convolution runs it backwards."
    return ""


EX_SIZE_RULE = Exercise(
    "3.4",
    "A 7×7 map goes through nn.ConvTranspose2d(..., kernel_size=3, stride=2, padding=1, output_padding=1). "
    "What is the output's height?",
    expected=lambda: up_conv_out(7, kernel=3, stride=2, padding=1, output_padding=1),
    hint=_size_hint,
    hints=[
        "Start from how far the copies reach: the last input pixel starts its copy at (H − 1)·s, and the copy "
        "is k long; then padding trims and output_padding adds.",
        "H_out = (H − 1)·s − 2p + k + output_padding.",
        "A 4×4 map with k=3, s=2, p=1, output_padding=1: (4 − 1)·2 − 2 + 3 + 1 = 8.",
    ],
    explanation="(7 - 1)*2 - 2*1 + 3 + 1 = 14 = 2·7: this common setting also doubles the size, but its "
    "3×3 kernel overlaps unevenly (the checkerboard below).",
)

EX_SLIP = Exercise(
    "3.5",
    "Spot the slip: a sketch in the notes reads 16²×1024 → up-conv 2×2 → 64²×512. What size does a 2×2, "
    "stride-2 up-conv really give for a 16×16 map? (one number: its height)",
    expected=lambda: up_conv_out(16, kernel=2, stride=2),
    hint=lambda a: (
        "that is the notes' number: a 2×2 stride-2 up-conv doubles, it cannot quadruple." if same_answer(a, 64) else ""
    ),
    hints=[
        "The same notes write the up-conv's rule next to that arrow: size ×2.",
        "For k = 2, s = 2, p = 0: (H − 1)·2 + 2 = 2H.",
        "Step (7) of the notes: 28 → 56.",
    ],
    explanation="16 -> 32. A 2×2 stride-2 up-conv doubles; it cannot reach 64 from 16. With same padding the "
    "bottom stays 32²×1024, and the up-conv then gives 64²×512, as the notes intended.",
)


def _params_hint(answer) -> str:
    f = _notes_layer()
    if same_answer(answer, f["weights"]):
        return "that is the weights only: every output channel also has one bias."
    if same_answer(answer, f["weights"] + f["in_shape"][0]):
        return "one bias per *output* channel, not per input channel."
    if same_answer(answer, f["weights"] // 4 + f["bias_shape"][0]):
        return "each (input, output) pair has a whole 2×2 kernel: 4 weights, not 1."
    return ""


EX_PARAMS = Exercise(
    "3.6",
    "How many learned parameters does the notes' up-conv, nn.ConvTranspose2d(1024, 512, kernel_size=2, stride=2), "
    "have?",
    expected=lambda: _notes_layer()["params"],
    hint=_params_hint,
    hints=[
        "Count one k×k kernel for every (input channel, output channel) pair, then the biases.",
        "in × out × k × k weights, plus one bias per output channel.",
        "nn.ConvTranspose2d(4, 2, 2, stride=2): 4·2·2·2 = 32 weights + 2 biases = 34.",
    ],
    explanation="weight (1024, 512, 2, 2) = 2,097,152 numbers, plus 512 biases: one 2×2 kernel per "
    "(input channel, output channel) pair.",
)


def _matrix_hint(answer) -> str:
    rows, cols = conv_matrix(UNET_KERNEL, 4, 2).shape
    if same_answer(answer, (cols, rows)):
        return "that is Cᵀ, the up-conv's matrix; C itself has one row per *output* pixel of the convolution."
    if same_answer(answer, (2, 4)) or same_answer(answer, (4, 4)):
        return "count pixels, not rows of the map: a 4×4 map flattened is a vector of 16 numbers."
    return ""


EX_MATRIX = Exercise(
    "3.7",
    "A 2×2 convolution with stride 2 (no padding) on a 4×4 map, written as y = C x with the maps flattened row "
    "by row into vectors: how many rows and how many columns does C have? Answer as (rows, columns).",
    expected=lambda: conv_matrix(UNET_KERNEL, 4, 2).shape,
    hint=_matrix_hint,
    hints=[
        "C turns the input vector into the output vector: one row per output pixel, one column per input pixel.",
        "rows = H_out·W_out with H_out = (4 − 2)//2 + 1; columns = H·W of the input.",
        "A 3×3 conv with stride 1 on a 5×5 map gives a 3×3 output, so its C is (9, 25).",
    ],
    explanation="The 2×2 output has 4 pixels and the 4×4 input 16: C is 4 × 16, and Cᵀ, 16 × 4, takes a 2×2 "
    "map back to 4×4, size ×2: U-Net's up-conv.",
)

_OVERLAP_CHOICES = {"a": (3, 2), "b": (5, 2), "c": (2, 2), "d": (4, 3)}

EX_OVERLAP = Exercise(
    "3.8",
    "Which up-conv paints every output pixel (away from the borders) with the same number of kernel copies, "
    "so that a flat input gives a flat output with an all-ones kernel?",
    expected=lambda: next(letter for letter, (k, s) in _OVERLAP_CHOICES.items() if not uneven_overlap(k, s)),
    hint=lambda a: (
        f"with that kernel and stride the copies per pixel alternate between "
        f"{' and '.join(map(str, overlap_levels(*_OVERLAP_CHOICES[a.strip().lower()])))} along each axis."
        if isinstance(a, str) and a.strip().lower() in _OVERLAP_CHOICES
        else ""
    ),
    hints=[
        "Copies k pixels wide, placed s pixels apart: along one axis, how many of them cover a pixel?",
        "On average k/s copies cover a pixel; the count is the same for every pixel inside only when s divides k.",
        "3×3 with stride 2: 3/2 is not whole, so a pixel gets 1 or 2 copies per axis (1, 2 or 4 in 2-D).",
    ],
    explanation="2×2 with stride 2: each input pixel paints its own 2×2 block, the blocks tile the output "
    "without overlap, so nothing is painted twice. That is U-Net's up-conv.",
    choices={
        letter: f"{k}×{k} kernel, stride {s}" + (" (U-Net's up-conv)" if (k, s) == (2, 2) else "")
        for letter, (k, s) in _OVERLAP_CHOICES.items()
    },
)

EXERCISES = [EX_SHAPE, EX_CENTRE, EX_CONV_TRANSPOSE, EX_SIZE_RULE, EX_SLIP, EX_PARAMS, EX_MATRIX, EX_OVERLAP]
