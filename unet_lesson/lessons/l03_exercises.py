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
from ..ui.exercises import same_answer
from . import l03_layer as _layer
from ._text import lesson_text
from .l03_layer import EXAMPLE_INPUT, EXAMPLE_KERNEL, UNET_KERNEL

TEXT = lesson_text(__name__)

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


EX_SHAPE = TEXT.exercise("3.1", expected=lambda: _notes_layer()["out_shape_notes"], hint=_shape_hint)


def _centre_hint(answer) -> str:
    copies = scatter_and_sum(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=2)
    if same_answer(answer, float(EXAMPLE_KERNEL[1, 1] * EXAMPLE_INPUT.sum())):
        return "each copy puts a *corner* of its kernel on the centre pixel, not the kernel's middle."
    if same_answer(answer, float(copies.max())):
        return "that is the largest output pixel; the centre is row 2, column 2."
    return ""


EX_CENTRE = TEXT.exercise(
    "3.2", expected=lambda: float(scatter_and_sum(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=2)[2, 2]), hint=_centre_hint
)

EX_CONV_TRANSPOSE = TEXT.code_exercise("3.3", check_conv_transpose)


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


EX_SIZE_RULE = TEXT.exercise(
    "3.4", expected=lambda: up_conv_out(7, kernel=3, stride=2, padding=1, output_padding=1), hint=_size_hint
)

EX_SLIP = TEXT.exercise(
    "3.5",
    expected=lambda: up_conv_out(16, kernel=2, stride=2),
    hint=lambda a: (
        "that is the notes' number: a 2×2 stride-2 up-conv doubles, it cannot quadruple." if same_answer(a, 64) else ""
    ),
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


EX_PARAMS = TEXT.exercise("3.6", expected=lambda: _notes_layer()["params"], hint=_params_hint)


def _matrix_hint(answer) -> str:
    rows, cols = conv_matrix(UNET_KERNEL, 4, 2).shape
    if same_answer(answer, (cols, rows)):
        return "that is Cᵀ, the up-conv's matrix; C itself has one row per *output* pixel of the convolution."
    if same_answer(answer, (2, 4)) or same_answer(answer, (4, 4)):
        return "count pixels, not rows of the map: a 4×4 map flattened is a vector of 16 numbers."
    return ""


EX_MATRIX = TEXT.exercise("3.7", expected=lambda: conv_matrix(UNET_KERNEL, 4, 2).shape, hint=_matrix_hint)

_OVERLAP_CHOICES = {"a": (3, 2), "b": (5, 2), "c": (2, 2), "d": (4, 3)}

EX_OVERLAP = TEXT.exercise(
    "3.8",
    expected=lambda: next(letter for letter, (k, s) in _OVERLAP_CHOICES.items() if not uneven_overlap(k, s)),
    hint=lambda a: (
        f"with that kernel and stride the copies per pixel alternate between "
        f"{' and '.join(map(str, overlap_levels(*_OVERLAP_CHOICES[a.strip().lower()])))} along each axis."
        if isinstance(a, str) and a.strip().lower() in _OVERLAP_CHOICES
        else ""
    ),
    choices={
        letter: f"{k}×{k} kernel, stride {s}" + (" (U-Net's up-conv)" if (k, s) == (2, 2) else "")
        for letter, (k, s) in _OVERLAP_CHOICES.items()
    },
)

EXERCISES = [EX_SHAPE, EX_CENTRE, EX_CONV_TRANSPOSE, EX_SIZE_RULE, EX_SLIP, EX_PARAMS, EX_MATRIX, EX_OVERLAP]
