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
from ..ui.exercises import readings, tuple_reading, whole_reading
from ._text import lesson_text

TEXT = lesson_text(__name__)

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


EX_HALVE = TEXT.exercise("2.1", expected=lambda: pool_out(568), hint=_halve_hint)


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


EX_SLIP_KERNELS = TEXT.exercise("2.2", expected=lambda: _pool_kernels_and_channels(64), hint=_kernels_hint)


def _odd_hint(a) -> str:
    pair = tuple_reading(a, 2)
    if pair == (285, 285):
        return "floor((569 - 2)/2) + 1 = floor(283.5) + 1: the floor is the default; ceil_mode rounds up."
    if pair == (284, 284):
        return "with ceil_mode=True PyTorch rounds (569 - 2)/2 = 283.5 up: ceil(283.5) + 1."
    if pair == (285, 284):
        return "floor and ceil swapped: the default rounds down."
    return ""


EX_ODD = TEXT.exercise("2.3", expected=lambda: (pool_out(569), pool_out(569, ceil_mode=True)), hint=_odd_hint)

EX_MAX_POOL = TEXT.code_exercise("2.4", check_max_pool)

EX_POOL_SIZE = TEXT.code_exercise("2.5", check_pool_size)


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


EX_SLIP_DOUBLES = TEXT.exercise("2.6", expected=_doubling_convs, compare=_same_convs, hint=_doubles_hint)


def _bottom_hint(a) -> str:
    n = whole_reading(a)
    if n == 30:
        return "30 is after the bottom's first conv; the question asks what enters the bottom (after the 4th pool)."
    if n in (36, 35):
        return "a level is two convs and then a pool: the convs take 4 off before each halving."
    if n == 64:
        return "64 is the level-4 map before its pool: one more halving."
    return ""


EX_BOTTOM = TEXT.exercise(
    "2.7", expected=lambda: shape_table(572).where(module="down_samples.3")[0].out_shape[1], hint=_bottom_hint
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


EX_DOT = TEXT.exercise(
    "2.8",
    expected=_distinct_pooled,
    hint=lambda a: (
        "each position gives a pooled map, but are they different? Write down what each window's maximum is."
        if whole_reading(a) == 4
        else ""
    ),
)

EXERCISES = [EX_HALVE, EX_SLIP_KERNELS, EX_ODD, EX_MAX_POOL, EX_POOL_SIZE, EX_SLIP_DOUBLES, EX_BOTTOM, EX_DOT]
