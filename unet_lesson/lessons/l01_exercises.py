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
from ..ui.exercises import CodeExercise, Exercise, tuple_reading, whole_reading

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


EX_FIRST_CONV = Exercise(
    "1.1",
    "The notes' chain starts with the 572×572×1 input image and a 3×3 conv with k=3, s=1, p=0. "
    "What is the height after this first conv?",
    expected=lambda: conv_out(572, 3, 1, 0),
    hint=_first_conv_hint,
    hints=[
        "count the places where a 3-wide kernel fits along one row of 572 pixels.",
        "a valid conv (p=0, s=1): H_out = H - k + 1.",
        "the 7-pixel row of the picture: the kernel fits at positions 0 to 4, so 7 - 3 + 1 = 5.",
    ],
    explanation="572 - 3 + 1 = 570: the kernel's centre can never sit on the outermost pixel, so one pixel "
    "is lost on each side.",
)


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


EX_TWO_CONVS = Exercise(
    "1.2",
    "The second conv of level 1 is again 3×3 with s=1, p=0 and 64 kernels (# kernel = 64). Which shape "
    "comes out of it, written as the notes do (H×W×C), e.g. '100x100x3'?",
    expected=lambda: _notes_shape(shape_table(572).where(module="down_convs.0.conv2")[0].out_shape),
    hint=_two_convs_hint,
    hints=[
        "the second conv does to the first conv's output what the first did to 572; its kernels set the channels.",
        "H - k + 1 once more; C = the number of kernels (each kernel makes one channel).",
        "a 10×10×1 map through two valid 3×3 convs of 8 kernels each: 10 → 8 → 6, so 6×6×8.",
    ],
    explanation="572 → 570 → 568, 64 kernels → 64 channels: 568×568×64, the notes' third shape.",
)

EX_STRIDE = Exercise(
    "1.3",
    "A 3×3 conv with stride 2 and padding 1 on a 64×64 map: what output height?",
    expected=lambda: conv_out(64, 3, 2, 1),
    hint=lambda a: (
        "the floor matters: (64 + 2*1 - 3)/2 = 31.5 -> 31, then + 1."
        if str(a).strip() in ("31", "33", "32.5", "31.5")
        else ""
    ),
    hints=[
        "with stride 2 the kernel jumps 2 pixels at a time: count its positions in the padded row.",
        "H_out = floor((H + 2p - k)/s) + 1.",
        "the third grid of the picture: 7 pixels, k=3, s=2, p=1: floor((7 + 2 - 3)/2) + 1 = 3 + 1 = 4.",
    ],
    explanation="floor((64 + 2 - 3)/2) + 1 = 31 + 1 = 32: stride 2 halves the size (this is how many "
    "modern networks downsample instead of pooling).",
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


EX_SAME_PADDING = Exercise(
    "1.4",
    "The modern U-Net keeps the size ('same' padding). Which padding per side keeps 572 -> 572 for a "
    "3×3 conv (stride 1), and which for a 5×5 conv? Answer as a pair, e.g. (1, 1).",
    expected=lambda: (_same_padding(3), _same_padding(5)),
    hint=_same_padding_hint,
    hints=[
        "a valid k×k conv loses k - 1 pixels per row; the padding must give them back.",
        "with stride 1: H + 2p - k + 1 = H, so p = (k - 1)/2 on each side.",
        "a 7×7 kernel loses 6 pixels: p = 3 per side gives them back.",
    ],
    explanation="p = (k - 1)/2 per side: 1 for 3×3, 2 for 5×5 (so 2 and 4 pixels in total).",
)


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


EX_SLIP_INPUT = Exercise(
    "1.5",
    "Spot the slip. A few lines further down, the notes copy the chain once more: '570x570x1 → 570x570x64 → "
    "568x568x64'. One shape is wrong. Which one, changed alone, makes both arrows true?",
    expected=_the_slipped_shape,
    choices={"a": "the first, 570x570x1", "b": "the second, 570x570x64", "c": "the third, 568x568x64"},
    hint=lambda a: (
        "then the first arrow, 570 → 570, still breaks the rule: a valid 3×3 conv takes 2 pixels off."
        if str(a).strip().lower() == "c"
        else "if the second shape changed, it would be 568x568x64, and the third would have to be 566: two changes."
        if str(a).strip().lower() == "b"
        else ""
    ),
    hints=[
        "check each arrow with the rule: a valid 3×3 conv takes H to H - 2.",
        "570 → 570 breaks the rule, 570 → 568 keeps it: the slip is at one end of the first arrow.",
        "change the first shape and see whether both arrows hold; then try the second instead.",
    ],
    explanation="the first: the input image is 572×572×1 (the notes' first chain and Fig. 1), and 570×570×1 "
    "appears nowhere in the network: the first conv already turns 1 channel into 64.",
)

EX_SLIP_RULE = Exercise(
    "1.6",
    "Spot the slip. Under that line the notes write 'h=k+1'. Which rule gives the output "
    "height of a 3×3 valid conv (s=1, p=0) on an h-pixel map?",
    expected=lambda: _the_right_choice(_RULE_CANDIDATES, paddings=(0,)),
    choices={"a": "h = k + 1", "b": "h - k + 1", "c": "h - k", "d": "h - k - 1"},
    hint="rule (a) does not even use h.",
    hints=[
        "try each rule on the notes' own numbers.",
        "h = 572 and k = 3 must give 570.",
        "on a 7-pixel row a 3-wide kernel fits 5 times: which rule gives 5?",
    ],
    explanation="h - k + 1 (572 - 3 + 1 = 570): the '=' was a '-'. The other form the notes write, "
    "(h - k + 2p + s)/s, is the same rule for p = 0, s = 1.",
)

EX_SLIP_GENERAL = Exercise(
    "1.7",
    "Spot the slip. Under '(5) max pooling 2×2 S=2' the notes ask 'pool 操作前后图像大小?' (the image size "
    "before and after the pool?) and write 'H → 2p - k + 1'. It is garbled. Written for stride 1 and "
    "padding p per side, which rule is it?",
    expected=lambda: _the_right_choice(_GENERAL_CANDIDATES),
    choices={"a": "2p - k + 1", "b": "H + p - k + 1", "c": "H + 2p - k + 1", "d": "H + 2p - k"},
    hint="",
    hints=[
        "the padding adds p pixels on each side of the row.",
        "the padded row has H + 2p pixels; a k-wide kernel fits at (padded size) - k + 1 positions.",
        "check with H=572, k=3: p=0 must give 570, p=1 must give 572.",
    ],
    explanation="H + 2p - k + 1: the notes dropped the H. With the stride it becomes floor((H + 2p - k)/s) + 1, "
    "which is the notes' (H + 2p - k + s)/s when s divides evenly.",
)

# ---- write it yourself --------------------------------------------------------------------
EX_CONV_OUT = CodeExercise(
    "1.8",
    "Write conv_out(h, k, s, p): the output height of a k×k conv with stride s and padding p per side on "
    "an h-pixel map, as nn.Conv2d computes it (no dilation).",
    check_conv_out,
    hints=[
        "count the kernel's positions: the first, then one more every s pixels while it fits in the padded map.",
        "floor((h + 2p - k)/s) + 1; Python's // rounds down.",
        "h=5, k=3, s=2, p=0: (5 - 3)//2 + 1 = 2.",
    ],
    explanation="The kernel fits at floor((h + 2p - k)/s) + 1 positions.",
)

EX_CONV_OUT_DILATED = CodeExercise(
    "1.9",
    "Now with dilation d: write conv_out_dilated(h, k, s, p, d), whose k×k kernel has its taps d pixels "
    "apart (dilation=d in nn.Conv2d).",
    check_conv_out_dilated,
    hints=[
        "a dilated kernel is wider than k: count the pixels from its first tap to its last.",
        "its span is d·(k - 1) + 1; use it in place of k in your conv_out.",
        "k=3, d=2: span 5, so h=7, s=1, p=0 gives 7 - 5 + 1 = 3.",
    ],
    explanation="A dilated kernel spans d·(k - 1) + 1 pixels: floor((h + 2p - d·(k - 1) - 1)/s) + 1.",
)


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


EX_STACK_WEIGHTS = Exercise(
    "1.10",
    "Two stacked 3×3 convs, each with 64 channels in and 64 out: how many weights do they have together, "
    "biases not counted?",
    expected=lambda: _conv_weights(64, 64, 3, n=2),
    hint=_stack_weights_hint,
    hints=[
        "a conv has one kernel per output channel, and each kernel has k×k weights for every input channel.",
        "one conv: k·k·C_in·C_out weights.",
        "a 3×3 conv from 3 channels (an RGB image) to 8: 3·3·3·8 = 216 weights.",
    ],
    explanation="2·3·3·64·64 = 73,728, against 5·5·64·64 = 102,400 for one 5×5 conv that sees as far.",
)

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
