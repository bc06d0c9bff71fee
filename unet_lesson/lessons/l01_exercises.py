"""Lesson 01's exercises (卷积 convolution sizes), kept apart from its views; ``l01_convolution_sizes``
re-exports every one, so a notebook calls ``conv.EX_FIRST_CONV.check(answer)``.

Every expected answer is computed: sizes with :func:`unet_lesson.core.sizes.conv_out` and the shape
table, weights with real ``nn.Conv2d`` layers on the meta device; code exercises run the student's
function against ``nn.Conv2d`` (:mod:`unet_lesson.ui.checkers`). Each has three graded hints (a nudge,
the formula, a worked case on numbers the lesson does not ask about).
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.shapes import shape_table
from ..core.sizes import conv_out
from ..ui.checkers import check_conv_out, check_conv_out_dilated
from ..ui.exercises import tuple_reading, whole_reading
from ._text import lesson_text

TEXT = lesson_text(__name__)

__all__ = [
    "EX_FIRST_CONV",
    "EX_TWO_CONVS",
    "EX_STRIDE",
    "EX_SAME_PADDING",
    "EX_SLIP_INPUT",
    "EX_SLIP_RULE",
    "EX_SLIP_GENERAL",
    "EX_CONV_OUT",
    "EX_CONV_OUT_DILATED",
    "EX_STACK_WEIGHTS",
    "EXERCISES",
]


def _notes_shape(shape) -> tuple[int, int, int]:
    c, h, w = shape
    return h, w, c


def _first_conv_hint(answer) -> str:
    a = whole_reading(answer)
    if a is None:
        return "give one whole number, the height (= width) after the first conv."
    if a == 572 - 3:
        return "you forgot the + 1: a 3-wide kernel fits at H - k + 1 positions (try it on a 5-pixel row)."
    if a == 572:
        return "that is what same padding (p=1) would give; U-Net's convs are valid: p=0."
    if a == 572 - 4:
        return "that is after two convs; the question asks for the first one."
    return ""


EX_FIRST_CONV = TEXT.exercise("1.1", expected=lambda: conv_out(572, 3, 1, 0), hint=_first_conv_hint)


def _two_convs_hint(answer) -> str:
    s = tuple_reading(answer, 3, whole=True)
    if s is None:
        return "write the shape as the notes do, height×width×channels, e.g. '100x100x3'."
    h, w, c = s
    if (h, w) == (570, 570):
        return "that is after the first conv; the second takes the same 2 pixels off again."
    if c != 64 and (h, w) == (568, 568):
        return "the size is right. The channels: one per kernel, and both convs have 64 kernels."
    if h == w == 566:
        return "each valid 3×3 conv takes 2 off (one pixel per side), not 3."
    return ""


EX_TWO_CONVS = TEXT.exercise(
    "1.2",
    expected=lambda: _notes_shape(shape_table(572).where(module="down_convs.0.conv2")[0].out_shape),
    hint=_two_convs_hint,
)

EX_STRIDE = TEXT.exercise(
    "1.3",
    expected=lambda: conv_out(64, 3, 2, 1),
    hint=lambda a: (
        "the floor matters: (64 + 2*1 - 3)/2 = 31.5 -> 31, then + 1."
        if str(a).strip() in ("31", "33", "32.5", "31.5")
        else ""
    ),
)


def _same_padding(kernel: int, size: int = 572) -> int:
    """The per-side padding that keeps the size for a stride-1 conv, found with conv_out."""
    return next(p for p in range(kernel + 1) if conv_out(size, kernel, 1, p) == size)


def _same_padding_hint(answer) -> str:
    pair = tuple_reading(answer, 2)
    if pair in ((2, 4), (2.0, 4.0)):
        return "that is the total padding (both sides together); PyTorch's padding= is per side."
    if pair is not None and pair[0] == 1:
        return "the 3×3 is right; a 5×5 kernel loses 4 pixels, not 2."
    return ""


EX_SAME_PADDING = TEXT.exercise("1.4", expected=lambda: (_same_padding(3), _same_padding(5)), hint=_same_padding_hint)


# ---- spot the slip ------------------------------------------------------------------------
def _matches_conv_out(fn, paddings=(0, 1, 2)) -> bool:
    """Does a candidate rule ``fn(h, k, p)`` agree with conv_out (stride 1) on a range of sizes, kernels, paddings?"""
    for h in (5, 7, 64, 567, 572):
        for k in (1, 3, 5):
            for p in paddings:
                if h + 2 * p < k:
                    continue
                try:
                    if fn(h, k, p) != conv_out(h, k, 1, p):
                        return False
                except TypeError:
                    return False
    return True


def _the_right_choice(candidates: dict, paddings=(0, 1, 2)) -> str:
    right = [letter for letter, fn in candidates.items() if _matches_conv_out(fn, paddings)]
    assert len(right) == 1, right
    return right[0]


_RULE_CANDIDATES = {  # the valid conv (p=0): which rule matches nn.Conv2d?
    "a": lambda h, k, p: k + 1,
    "b": lambda h, k, p: h - k + 1,
    "c": lambda h, k, p: h - k,
    "d": lambda h, k, p: h - k - 1,
}
_GENERAL_CANDIDATES = {  # stride 1, any padding
    "a": lambda h, k, p: 2 * p - k + 1,
    "b": lambda h, k, p: h + p - k + 1,
    "c": lambda h, k, p: h + 2 * p - k + 1,
    "d": lambda h, k, p: h + 2 * p - k,
}

#: the notes' slipped summary line, "570x570x1 → 570x570x64 → 568x568x64", as (H, W, C)
_SLIPPED_CHAIN = ((570, 570, 1), (570, 570, 64), (568, 568, 64))


def _the_slipped_shape(chain=_SLIPPED_CHAIN) -> str:
    """The choice naming the one shape of a chain of valid 3x3 convs that, changed alone, makes every arrow
    hold (by ``conv_out``): an arrow that breaks the rule with the next arrow holding points at its first shape."""
    sizes = [s[0] for s in chain]
    holds = [conv_out(a) == b for a, b in zip(sizes, sizes[1:])]
    assert holds == [False, True], holds  # so only a new first shape mends it: the second would break arrow 2
    return "a"


EX_SLIP_INPUT = TEXT.exercise(
    "1.5",
    expected=_the_slipped_shape,
    hint=lambda a: (
        "then the first arrow, 570 → 570, still breaks the rule: a valid 3×3 conv takes 2 pixels off."
        if str(a).strip().lower() == "c"
        else "if the second shape changed, it would be 568x568x64, and the third would have to be 566: two changes."
        if str(a).strip().lower() == "b"
        else ""
    ),
)

EX_SLIP_RULE = TEXT.exercise("1.6", expected=lambda: _the_right_choice(_RULE_CANDIDATES, paddings=(0,)))

EX_SLIP_GENERAL = TEXT.exercise("1.7", expected=lambda: _the_right_choice(_GENERAL_CANDIDATES))

# ---- write it yourself --------------------------------------------------------------------
EX_CONV_OUT = TEXT.code_exercise("1.8", check_conv_out)

EX_CONV_OUT_DILATED = TEXT.code_exercise("1.9", check_conv_out_dilated)


# ---- two 3x3 convs or one 5x5 ---------------------------------------------------------------
def _conv_weights(c_in: int, c_out: int, kernel: int, n: int = 1) -> int:
    """The weights (no biases) of ``n`` real ``nn.Conv2d(c_in, c_out, kernel)``, built on the meta device."""
    with torch.device("meta"):
        return sum(nn.Conv2d(c_in, c_out, kernel).weight.numel() for _ in range(n))


def _stack_weights_hint(answer) -> str:
    a = whole_reading(answer)
    if a == 9 * 64 * 64:
        return "that is one conv; the stack has two."
    if a == 2 * (9 * 64 * 64 + 64):
        return "that includes the biases; count the weights only."
    if a in (2 * 9 * 64, 2 * 9):
        return "each of the 64 output channels has its own kernel, and each kernel spans all 64 input channels."
    return ""


EX_STACK_WEIGHTS = TEXT.exercise("1.10", expected=lambda: _conv_weights(64, 64, 3, n=2), hint=_stack_weights_hint)

EXERCISES = [
    EX_FIRST_CONV,
    EX_TWO_CONVS,
    EX_STRIDE,
    EX_SAME_PADDING,
    EX_SLIP_INPUT,
    EX_SLIP_RULE,
    EX_SLIP_GENERAL,
    EX_CONV_OUT,
    EX_CONV_OUT_DILATED,
    EX_STACK_WEIGHTS,
]
