r"""Checkers of the size formulas students write (lessons 01 and 02), against the real layers.

* :func:`check_conv_out`: ``conv_out(h, k, s, p)`` vs ``nn.Conv2d`` on a (1, 1, h, h) tensor;
* :func:`check_conv_out_dilated`: ``conv_out_dilated(h, k, s, p, d)``, the same with dilation;
* :func:`check_pool_size`: ``pool_size(h, k, s, ceil_mode)`` vs ``nn.MaxPool2d(k, s, ceil_mode=...)``.

A slip is recognised when a known wrong formula agrees with the student's answers on every
case (after the first failure the remaining cases are asked too, within a second), so "floor and
ceil swapped", "always ceil" and "ignores ceil_mode" are told apart.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from . import solutions
from ._engine import Run, as_whole, checker, describe

__all__ = ["check_conv_out", "check_conv_out_dilated", "check_pool_size", "CONV_CASES", "DILATED_CASES", "POOL_CASES"]

Slip = tuple[Callable[..., int], str]


# (h, k, s, p), a row per kind of case
# fmt: off
CONV_CASES = (
    (5, 3, 1, 0), (572, 3, 1, 0), (570, 3, 1, 0), (6, 3, 1, 0), (7, 5, 1, 0),  # valid: odd, even, the paper's 572
    (5, 3, 1, 1), (572, 3, 1, 1), (6, 5, 1, 2),                                # padding ('same' for 3x3 and 5x5)
    (5, 3, 2, 0), (6, 3, 2, 0), (64, 3, 2, 1), (7, 3, 2, 1), (8, 2, 2, 0),     # stride 2: the floor at odd sizes
    (9, 3, 3, 0), (10, 3, 3, 1), (11, 4, 3, 2), (13, 5, 3, 2),                 # stride 3, even kernels
    (3, 3, 1, 0), (1, 3, 1, 1), (4, 8, 1, 2), (5, 1, 1, 0),                    # kernel = (padded) size, a 1x1
    (6, 4, 2, 1), (2, 2, 2, 0), (7, 7, 3, 0),                                  # even kernel padded, one window
)
# fmt: on
# (h, k, s, p, d): no dilation first, then d = 2 and 3, with strides, padding, span = padded size
# fmt: off
DILATED_CASES = (
    (5, 3, 1, 0, 1), (6, 3, 2, 1, 1),                                           # d = 1: conv_out's cases
    (7, 3, 1, 0, 2), (9, 3, 1, 0, 2), (572, 3, 1, 2, 2), (10, 3, 2, 1, 2),      # d = 2, valid and padded
    (8, 2, 1, 0, 3), (11, 3, 2, 0, 3),                                          # d = 3, an even kernel
    (5, 3, 1, 2, 2), (9, 5, 1, 0, 2), (12, 4, 3, 1, 2), (6, 3, 1, 1, 3),        # span = map, stride 3, padding
)
# fmt: on
# (h, k, s, ceil_mode), k >= s: floor cases first, then ceil_mode, odd and even sizes
# fmt: off
POOL_CASES = (
    (568, 2, 2, False), (569, 2, 2, False), (7, 3, 2, False), (8, 3, 2, False),  # floor: even, odd, k=3
    (568, 2, 2, True), (569, 2, 2, True), (8, 3, 2, True), (7, 3, 2, True),      # ceil_mode on the same sizes
    (5, 2, 2, True), (6, 3, 3, True), (7, 3, 3, True),                           # ceil: partial last window or not
    (10, 4, 3, True), (10, 4, 3, False), (11, 5, 2, True), (11, 5, 2, False),    # k > s, both modes
    (2, 2, 2, True), (3, 2, 2, True), (3, 2, 2, False),                          # one window (or one and a half)
    (9, 3, 1, True), (9, 3, 1, False),                                           # stride 1
)
# fmt: on


@functools.lru_cache(maxsize=None)
def real_conv_size(h: int, k: int, s: int, p: int, d: int = 1) -> int:
    """The output height of a real ``nn.Conv2d`` (its functional form) on a (1, 1, h, h) tensor."""
    with torch.no_grad():
        return int(
            F.conv2d(torch.zeros(1, 1, h, h), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d).shape[-1]
        )


@functools.lru_cache(maxsize=None)
def real_pool_size(h: int, k: int, s: int, ceil_mode: bool) -> int:
    """The output height of a real ``nn.MaxPool2d(k, s, ceil_mode=...)`` on a (1, 1, h, h) tensor."""
    with torch.no_grad():
        return int(F.max_pool2d(torch.zeros(1, 1, h, h), k, s, ceil_mode=ceil_mode).shape[-1])


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _diagnose(
    got: Any, n: int | None, expected: int, seen: list[tuple[tuple, int | None]], slips: Sequence[Slip], real: str
) -> str:
    if got is None:
        return "your function returns None: is the return missing?"
    if isinstance(got, (bool, str)):
        return f"return a whole number (an int), not a {type(got).__name__}."
    if n is None and isinstance(got, float) and math.isfinite(got):
        if math.floor(got) == expected:
            return (
                "yours gives a fraction, but a size is a whole number: PyTorch rounds down, so use // "
                "(floor division) instead of /."
            )
        if math.ceil(got) == expected:
            return "yours gives a fraction, but a size is a whole number: here the layer rounds up (math.ceil)."
    if n is not None:
        for slip, nudge in slips:
            try:
                if all(slip(*args) == value for args, value in seen):
                    return nudge
            except (ArithmeticError, TypeError, ValueError):
                continue
        if n == expected - 1:
            return f"yours is one less than {real}'s here."
        if n == expected + 1:
            return f"yours is one more than {real}'s here."
    return ""


def _answers_to_the_rest(student: Callable, cases: Sequence[tuple], budget_s: float = 1.0) -> list:
    """The student's answers to the cases after the first failure, to tell similar slips apart (size
    formulas are instant; the first exception or a second's work ends it)."""
    seen, start = [], time.perf_counter()
    for args in cases:
        if time.perf_counter() - start > budget_s:
            break
        try:
            seen.append((args, as_whole(student(*args))))
        except (Exception, SystemExit, KeyboardInterrupt):
            break
    return seen


def _run_sizes(
    run: Run,
    student: Callable,
    cases: Sequence[tuple],
    real: Callable[..., int],
    names: str,
    slips: Sequence[Slip],
) -> None:
    """Run ``student`` on every case against ``real``; ``names`` are the arguments' names in the messages
    ("H k s p": "for H=5, k=3, s=2, p=0 yours gives ...")."""
    seen: list[tuple[tuple, int | None]] = []
    for i, args in enumerate(run.each(cases)):
        case = ", ".join(f"{name}={value}" for name, value in zip(names.split(), args, strict=True))
        expected = real(*args)
        got = run.call(case, student, *args)
        n = as_whole(got)
        seen.append((args, n))
        if n != expected:
            seen += _answers_to_the_rest(student, cases[i + 1 :])
            raise run.fail(
                f"for {case} yours gives {describe(got)}, {run.real} gives {expected}.",
                case,
                _diagnose(got, n, expected, seen, slips, run.real),
            )


# ---- lesson 01: conv_out(h, k, s, p) --------------------------------------------------------
def _conv_slips(span: Callable[..., int]) -> list[Slip]:
    """Known wrong conv formulas; ``span(k, d)`` is the kernel's width in pixels."""
    return [
        (
            lambda h, k, s, p, d=1: (h + 2 * p - span(k, d)) // s,
            "yours is one less: the + 1? The kernel's first position counts too: a 3-wide kernel fits 3 times in a "
            "5-pixel row (5 - 3 + 1).",
        ),
        (lambda h, k, s, p, d=1: (h + p - span(k, d)) // s + 1, "the padding goes on both sides: h + 2p, not h + p."),
        (
            lambda h, k, s, p, d=1: h + 2 * p - span(k, d) + 1,
            "the stride: the kernel jumps s pixels at a time, so divide (h + 2p - k) by s before the + 1.",
        ),
        (
            lambda h, k, s, p, d=1: _ceil_div(h + 2 * p - span(k, d), s) + 1,
            "PyTorch rounds down: a last step that does not fit whole is dropped (floor, //).",
        ),
        (
            lambda h, k, s, p, d=1: (h + 2 * p - span(k, d) + 1) // s,
            "add the 1 after dividing by the stride: floor((h + 2p - k)/s) + 1.",
        ),
        (
            lambda h, k, s, p, d=1: (h - span(k, d)) // s + 1,
            "the padding: it adds p pixels on each side, so the padded map is h + 2p wide.",
        ),
    ]


_CONV_SLIPS = _conv_slips(lambda k, d: k)


@checker("nn.Conv2d", solutions.conv_out)
def check_conv_out(run: Run, conv_out) -> str:
    """Check ``conv_out(h, k, s, p)`` against ``nn.Conv2d`` on (1, 1, h, h) tensors."""
    _run_sizes(run, conv_out, CONV_CASES, real_conv_size, "H k s p", _CONV_SLIPS)
    return run.agreed("odd and even sizes, strides 1 to 3, padding, a kernel as large as the padded map.")


_DILATED_SLIPS = [
    (
        lambda h, k, s, p, d: (h + 2 * p - k) // s + 1,
        "the dilation: a kernel with dilation d spans d·(k - 1) + 1 pixels (its k taps with d - 1 gaps between "
        "neighbours).",
    ),
    (
        lambda h, k, s, p, d: (h + 2 * p - d * k) // s + 1,
        "the span is d·(k - 1) + 1, not d·k: k taps have only k - 1 gaps between them.",
    ),
    (
        lambda h, k, s, p, d: (h + 2 * p - d * (k - 1)) // s + 1,
        "the span counts the first tap's pixel too: d·(k - 1) + 1.",
    ),
    *_conv_slips(lambda k, d: d * (k - 1) + 1),
]


@checker("nn.Conv2d", solutions.conv_out_dilated)
def check_conv_out_dilated(run: Run, conv_out_dilated) -> str:
    """Check ``conv_out_dilated(h, k, s, p, d)`` against ``nn.Conv2d(..., dilation=d)``."""
    _run_sizes(run, conv_out_dilated, DILATED_CASES, real_conv_size, "H k s p d", _DILATED_SLIPS)
    return run.agreed("dilation 1 to 3, strides, padding, a dilated kernel as wide as the padded map.")


# ---- lesson 02: pool_size(h, k, s, ceil_mode) ----------------------------------------------
def _floor(h, k, s):
    return (h - k) // s + 1


def _ceil(h, k, s):
    return _ceil_div(h - k, s) + 1


_POOL_SLIPS = [
    (
        lambda h, k, s, c: _floor(h, k, s) if c else _ceil(h, k, s),
        "floor and ceil are swapped: the default (ceil_mode=False) rounds (H - k)/s down, ceil_mode=True rounds it up.",
    ),
    (
        lambda h, k, s, c: _floor(h, k, s),
        "yours ignores ceil_mode: with ceil_mode=True a last, partial window counts too: ceil((H - k)/s) + 1.",
    ),
    (
        lambda h, k, s, c: _ceil(h, k, s),
        "the default (ceil_mode=False) rounds down: a window that does not fit whole is dropped.",
    ),
    (
        lambda h, k, s, c: h // s,
        "H // s is only right when the windows tile the map exactly; count the window positions: (H - k)/s + 1, "
        "rounded.",
    ),
    (
        lambda h, k, s, c: (_ceil(h, k, s) if c else _floor(h, k, s)) - 1,
        "yours is one less: the + 1? The first window counts too.",
    ),
]


@checker("nn.MaxPool2d", solutions.pool_size)
def check_pool_size(run: Run, pool_size) -> str:
    """Check ``pool_size(h, k, s, ceil_mode)`` against ``nn.MaxPool2d(k, s, ceil_mode=ceil_mode)``."""
    _run_sizes(run, pool_size, POOL_CASES, real_pool_size, "H k s ceil_mode", _POOL_SLIPS)
    return run.agreed("odd and even sizes, k=2 and 3 with strides 1 to 3, floor and ceil_mode.")
