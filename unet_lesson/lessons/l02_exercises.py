"""Lesson 02's exercises (池化 max pooling), kept apart from its views; ``l02_max_pooling`` re-exports every
one, so a notebook calls ``pool.EX_HALVE.check(answer)``.

Every expected answer is computed: sizes with :func:`unet_lesson.core.sizes.pool_out` and the shape table,
weights and channels with a real ``nn.MaxPool2d``; code exercises run the student's function against
``nn.MaxPool2d`` (:mod:`unet_lesson.ui.checkers`). Each has three graded hints (a nudge, the formula, a
worked case on numbers the lesson does not ask about).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.shapes import shape_table
from ..core.sizes import pool_out
from ..ui.checkers import check_max_pool, check_pool_size
from ..ui.exercises import CodeExercise, Exercise, readings, tuple_reading, whole_reading

__all__ = [
    "EX_HALVE",
    "EX_SLIP_KERNELS",
    "EX_ODD",
    "EX_MAX_POOL",
    "EX_POOL_SIZE",
    "EX_SLIP_DOUBLES",
    "EX_BOTTOM",
    "EX_DOT",
    "EXERCISES",
    "dot_maps",
]


def _n_params(layer: nn.Module) -> int:
    return sum(p.numel() for p in layer.parameters())


def _halve_hint(a) -> str:
    n = whole_reading(a)
    if n in (566, 567):
        return "that is a convolution's rule (H - k + 1); a pool with stride 2 moves 2 pixels per step."
    if n == 1136:
        return "pooling makes maps smaller (下采样, downsampling), not larger."
    if n == 283:
        return "you dropped the + 1: the first window counts too."
    return ""


EX_HALVE = Exercise(
    "2.1",
    "The 568×568×64 map of level 1 goes through the 2×2 max pool (k=2, s=2, p=0). What is its height now?",
    expected=lambda: pool_out(568),
    hint=_halve_hint,
    hints=[
        "count the 2×2 windows along one row: they start every 2 pixels and do not overlap.",
        "the conv rule with k = 2, s = 2: floor((H + 2p - k)/s) + 1.",
        "a 10-pixel row: windows start at 0, 2, 4, 6, 8, so (10 - 2)/2 + 1 = 5.",
    ],
    explanation="(568 - 2)/2 + 1 = 284: 2×2 windows with stride 2 tile the map, one output pixel per window.",
)


@torch.no_grad()
def _pool_kernels_and_channels(channels: int = 64) -> tuple[int, int]:
    layer = nn.MaxPool2d(2, 2)
    return _n_params(layer), int(layer(torch.zeros(1, channels, 4, 4)).shape[1])


def _kernels_hint(a) -> str:
    pair = tuple_reading(a, 2)
    if pair is None:
        return "answer as a pair (weights, channels), e.g. (10, 3)."
    weights, channels = pair
    if weights in (64, 4, 256, 4 * 64, 4 * 64 * 64):
        return "a conv's kernels hold its weights, but a max pool has no kernels: what would it multiply?"
    if channels in (32, 128, 1):
        return "the pool works on each channel on its own: as many channels come out as go in."
    return ""


EX_SLIP_KERNELS = Exercise(
    "2.2",
    "Spot the slip. The notes' walk through the contracting path writes '② ... maxpool (下采样) k=2 s=2 p=0 "
    "# k=64', giving the pool a kernel count like a conv. The 568×568×64 map enters the pool. How many "
    "learned weights does nn.MaxPool2d(2, stride=2) have, and how many channels come out? Answer as a pair "
    "(weights, channels).",
    expected=lambda: _pool_kernels_and_channels(64),
    hint=_kernels_hint,
    hints=[
        "a max pool compares the numbers of each window and keeps the largest: is there anything to learn?",
        "count them: sum(p.numel() for p in nn.MaxPool2d(2, 2).parameters()); each channel is pooled on its own.",
        "an RGB image (3 channels) through a 2×2 max pool: still 3 channels, each half the size.",
    ],
    explanation="(0, 64): a pool has no weights, so '# k' does not apply to it. The 64 channels come from the "
    "64 kernels of the convs before it, and the pool keeps them (channel 不变).",
)


def _odd_hint(a) -> str:
    pair = tuple_reading(a, 2)
    if pair == (285, 285):
        return "floor((569 - 2)/2) + 1 = floor(283.5) + 1: the floor is the default; ceil_mode rounds up."
    if pair == (284, 284):
        return "with ceil_mode=True PyTorch rounds (569 - 2)/2 = 283.5 up: ceil(283.5) + 1."
    if pair == (285, 284):
        return "floor and ceil swapped: the default rounds down."
    return ""


EX_ODD = Exercise(
    "2.3",
    "An odd map: 569×569 through a 2×2 max pool, stride 2. What height with the default (floor) and "
    "with ceil_mode=True? Answer as a pair, e.g. (100, 101).",
    expected=lambda: (pool_out(569), pool_out(569, ceil_mode=True)),
    hint=_odd_hint,
    hints=[
        "the last row of an odd map has no partner: does a window that would hang over the edge count?",
        "default: floor((H - k)/s) + 1; ceil_mode=True: ceil((H - k)/s) + 1.",
        "the 5×5 grid above: floor(3/2) + 1 = 2 by default, ceil(3/2) + 1 = 3 with ceil_mode.",
    ],
    explanation="(284, 285): the floor drops the last row (no full window is left for it); ceil_mode keeps a "
    "half window there.",
)

EX_MAX_POOL = CodeExercise(
    "2.4",
    "Write max_pool(x, k=2, s=2): max pooling of a 2-D numpy array by hand, as nn.MaxPool2d(k, s) does it "
    "(the largest value of each k×k window, windows s pixels apart, a window that does not fit is dropped).",
    check_max_pool,
    hints=[
        "one output value per window that fits whole; loop over the output rows and columns.",
        "output (H - k)//s + 1 by (W - k)//s + 1; window (i, j) is x[i*s:i*s+k, j*s:j*s+k].",
        "a 5×5 map with k=2, s=2 gives 2×2: the last row and column are dropped.",
    ],
    explanation="Each output pixel is the maximum of its window; no weights, and a map with C channels would "
    "be pooled channel by channel.",
)

EX_POOL_SIZE = CodeExercise(
    "2.5",
    "Write pool_size(h, k, s, ceil_mode=False): the output height of nn.MaxPool2d(k, s, ceil_mode=ceil_mode) "
    "on an h-pixel map, for windows at least as large as the stride (k >= s).",
    check_pool_size,
    hints=[
        "the default drops a partial window at the end; ceil_mode keeps it.",
        "floor((h - k)/s) + 1 by default, ceil((h - k)/s) + 1 with ceil_mode.",
        "h=7, k=3, s=2: (7 - 3)/2 = 2 exactly, so 3 either way; h=8: floor(2.5) + 1 = 3, ceil(2.5) + 1 = 4.",
    ],
    explanation="With k >= s every window starts inside the map, so ceil((h - k)/s) + 1 is exactly PyTorch's "
    "ceil_mode (for k < s PyTorch also drops a last window that would start in the padding).",
)


def _doubling_convs() -> tuple[int, ...]:
    """The contracting path's 3x3 convs, numbered 1 to 8 in order, that double their channel count."""
    convs = shape_table(572).where(path="contracting", kind="conv")
    return tuple(i for i, r in enumerate(convs, start=1) if r.out_shape[0] == 2 * r.in_shape[0])


def _conv_numbers(answer):
    """The conv numbers an answer lists (any order), as a sorted tuple; None for an answer that lists none."""
    if isinstance(answer, (set, frozenset)):
        answer = sorted(answer, key=str)
    for r in readings(answer):
        if isinstance(r, int) and not isinstance(r, bool):
            return (r,)
        if isinstance(r, tuple) and r and all(isinstance(v, int) and not isinstance(v, bool) for v in r):
            return tuple(sorted(set(r)))
    return None


def _same_convs(answer, expected) -> bool:
    return _conv_numbers(answer) == tuple(sorted(expected))


#: a number alone is a count: what each plausible count means (the question asks which convs)
_COUNT_DIAGNOSIS = {
    3: "{n} is how many: now say which ones, by their numbers, e.g. (1, 2).",
    4: "{n} is a count, and one too many: either conv 1 (1 -> 64 is ×64, not a doubling) or the bottom's first "
    "conv (512 -> 1024, but outside the contracting path) is in it. List the convs by number, e.g. (1, 2).",
    5: "{n} is a count: it holds both conv 1 (1 -> 64 is ×64, not a doubling) and the bottom's first conv "
    "(outside the contracting path). List the convs by number, e.g. (1, 2).",
    8: "{n} counts every conv: the second conv of each level keeps its channels (64 -> 64, ...). List the convs "
    "that double by number, e.g. (1, 2).",
    None: "the question asks which convs, by number, e.g. (1, 2), not how many; and {n} is not the count either: "
    "write each conv's input and output channels.",
}


def _convs(numbers) -> str:
    """'conv 2 does' / 'convs 2, 4 do' (the verb follows)."""
    return f"conv {numbers[0]} does" if len(numbers) == 1 else f"convs {', '.join(map(str, numbers))} do"


def _doubles_hint(a) -> str:
    got = _conv_numbers(a)
    if got is None:
        return "list the convs by their numbers 1 to 8, e.g. (1, 2)."
    right = set(_doubling_convs())
    if len(got) == 1 and whole_reading(a) is not None and not isinstance(a, (tuple, list, set, frozenset)):
        return _COUNT_DIAGNOSIS.get(got[0], _COUNT_DIAGNOSIS[None]).format(n=got[0], right=len(right))
    notes = []
    if 1 in got:
        notes.append("conv 1 takes 1 channel (the grey image) to 64: that is ×64, not a doubling")
    evens = sorted(i for i in got if i in (2, 4, 6, 8))
    if evens:
        notes.append(f"the second conv of a level keeps its channels (64 -> 64, ...): {_convs(evens)} not double")
    beyond = sorted(i for i in got if not 1 <= i <= 8)
    if beyond:
        notes.append(
            "the contracting path has convs 1 to 8; the bottom's first conv (512 -> 1024) doubles too, but it is "
            "the bottom of the U, not the contracting path"
        )
    missing = sorted(right - set(got))
    if missing:
        notes.append(f"{_convs(missing)} double as well, being the first conv of a level from level 2 on")
    return "; ".join(notes) + "." if notes else ""


EX_SLIP_DOUBLES = Exercise(
    "2.6",
    "Spot the slip. The notes say 'pool channel 不会变的' (the pool keeps the channels) and 'conv channel 翻倍' "
    "(the conv doubles them). Number the contracting path's 3×3 convs 1 to 8 in order: convs 1 and 2 at level 1, "
    "3 and 4 at level 2, and so on; level n's convs have 64·2^(n-1) kernels (the notes' walk: # k=64, # k=128, "
    "# k=256, # k=512), and the input image has 1 channel. Which convs double their channel count? Answer "
    "with their numbers, e.g. (1, 2).",
    expected=_doubling_convs,
    compare=_same_convs,
    hint=_doubles_hint,
    hints=[
        "write each conv's input and output channels: conv 1 takes the 1-channel image to 64.",
        "a conv doubles when its output channels = 2 × its input channels; the pool in between keeps them.",
        "conv 2: 64 -> 64 (kept); conv 3, the first of level 2: 64 -> 128.",
    ],
    explanation="(3, 5, 7): only the first conv of levels 2, 3 and 4 doubles (64 -> 128 -> 256 -> 512); conv 1 "
    "goes 1 -> 64 and every second conv keeps the count. (The bottom's first conv doubles once more, "
    "512 -> 1024.) Channels doubled at each step down: VGG's design as well (lesson 01).",
)


def _bottom_hint(a) -> str:
    n = whole_reading(a)
    if n == 30:
        return "30 is after the bottom's first conv; the question asks what enters the bottom (after the 4th pool)."
    if n in (36, 35):
        return "a level is two convs and then a pool: the convs take 4 off before each halving."
    if n == 64:
        return "64 is the level-4 map before its pool: one more halving."
    return ""


EX_BOTTOM = Exercise(
    "2.7",
    "Follow the contracting path from 572: four times {two 3×3 convs, one 2×2 max pool}. What height "
    "enters the bottom of the U?",
    expected=lambda: shape_table(572).where(module="down_samples.3")[0].out_shape[1],
    hint=_bottom_hint,
    hints=[
        "one level at a time: two valid 3×3 convs, then the pool.",
        "each level: H -> (H - 4)/2.",
        "from 188: 188 -> 184 | 92 -> 88 | 44 -> 40 | 20 -> 16 | 8.",
    ],
    explanation="572 -> 570 -> 568 | 284 -> 282 -> 280 | 140 -> 138 -> 136 | 68 -> 66 -> 64 | 32: the notes' "
    "32×32×512 at the bottom.",
)


def dot_maps(size: int, positions) -> list[np.ndarray]:
    """``size``x``size`` maps of zeros, each with a single 1 at one of ``positions`` (row, column)."""
    out = []
    for r, c in positions:
        x = np.zeros((size, size), np.float32)
        x[r, c] = 1.0
        out.append(x)
    return out


@torch.no_grad()
def _distinct_pooled(positions=((0, 0), (0, 1), (1, 0), (1, 1))) -> int:
    pool = nn.MaxPool2d(2, 2)
    return len({pool(torch.from_numpy(x)[None, None]).numpy().tobytes() for x in dot_maps(4, positions)})


EX_DOT = Exercise(
    "2.8",
    "Predict before the experiment. A 4×4 map of zeros holds a single 1, and goes through a 2×2 max pool "
    "(stride 2). The 1 visits the four pixels of the top-left window in turn: (0, 0), (0, 1), (1, 0), (1, 1). "
    "How many different pooled 2×2 maps come out of these four?",
    expected=_distinct_pooled,
    hint=lambda a: (
        "each position gives a pooled map, but are they different? Write down what each window's maximum is."
        if whole_reading(a) == 4
        else ""
    ),
    hints=[
        "the pool keeps the largest value of each window, not where in the window it was.",
        "all four positions lie in window (0, 0): its maximum is 1 each time, and the other windows' maxima are 0.",
        "move the 1 to (0, 2): now window (0, 1) holds it, and the pooled map is a different one.",
    ],
    explanation="1: every position inside one window gives the same pooled map, so after the pool the network "
    "no longer knows where in the window the 1 was. That is the price of pooling, and its use.",
)

EXERCISES = [EX_HALVE, EX_SLIP_KERNELS, EX_ODD, EX_MAX_POOL, EX_POOL_SIZE, EX_SLIP_DOUBLES, EX_BOTTOM, EX_DOT]
