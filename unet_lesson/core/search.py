r"""Which input sizes a U-Net takes: lists, the nearest, the smallest that is large enough, the rule.

The one home for every "which size works?" question the course asks:

* :func:`valid_input_sizes` - every valid size in a range (``valid_input_sizes(260)`` ->
  ``[188, 204, 220, 236, 252]``);
* :func:`~unet_lesson.core.shapes.nearest_valid_sizes` - the nearest below and above (in shapes,
  because an invalid size's message names them);
* :func:`smallest_valid_size` - the smallest valid size >= n (pad an image up to it);
* :func:`input_size_for` - the smallest input whose *output* covers n pixels (valid padding:
  output = input - 184 for the paper's network, so a 388-pixel output needs 572);
* :func:`size_rule` - the rule behind them: ``188 + 16k, output = input - 184``.

All of them trace sizes with :mod:`unet_lesson.core.shapes` (integer arithmetic, cached) and look
at most :data:`~unet_lesson.core.shapes.SEARCH_LIMIT` sizes away, so any question is answered in
milliseconds, for any size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .options import UNetOptions, options_of
from .parse import BadValue, whole
from .shapes import SEARCH_LIMIT, InvalidInputSize, _progression, _trace, nearest_valid_sizes

__all__ = ["valid_input_sizes", "smallest_valid_size", "input_size_for", "SizeRule", "size_rule", "MAX_LISTED"]

#: the longest list :func:`valid_input_sizes` builds (a range of a million sizes would be slow to print)
MAX_LISTED = 100_000


def valid_input_sizes(a=1024, b=None, /, options: UNetOptions | None = None, **overrides) -> list[int]:
    """The input sizes that work, like ``range`` but inclusive: ``valid_input_sizes(stop)`` lists the
    valid sizes from 1 to ``stop``; ``valid_input_sizes(start, stop)`` from ``start`` to ``stop``.

    >>> valid_input_sizes(260)
    [188, 204, 220, 236, 252]
    >>> valid_input_sizes(500, 560)
    [508, 524, 540, 556]
    """
    o = options_of(options, **overrides)
    if b is None:
        start, stop = 1, whole(a, "the largest size", unit="pixels")
    else:
        start, stop = whole(a, "the smallest size", unit="pixels"), whole(b, "the largest size", unit="pixels")
    if start > stop:
        raise BadValue(
            f"the smallest size ({start}) is larger than the largest ({stop}): give them as "
            f"valid_input_sizes(smallest, largest), like range(), e.g. valid_input_sizes({stop}, {start})."
        )
    start = max(start, 1)
    if stop - start > MAX_LISTED:
        rule = size_rule(o)
        raise BadValue(
            f"that range holds {stop - start + 1:,} sizes, too many to list (at most {MAX_LISTED:,}). "
            f"The rule says it all: {rule.text}."
        )
    if o.mismatch == "error":  # first + 2**depth * k: no need to trace every size of the range
        first, step = _progression(o)
        if first is None:
            return []
        lo = first if start <= first else first + -(-(start - first) // step) * step
        return list(range(lo, stop + 1, step))
    return [n for n in range(start, stop + 1) if _trace(n, o)[1] is None]


def smallest_valid_size(n, options: UNetOptions | None = None, **overrides) -> int:
    """The smallest valid input size >= ``n`` (``n`` itself when it works)."""
    o = options_of(options, **overrides)
    n = max(whole(n, "size", unit="pixels"), 1)
    if _trace(n, o)[1] is None:
        return n
    above = nearest_valid_sizes(n, o)[1]
    if above is None:
        raise InvalidInputSize(
            f"no valid input size within {SEARCH_LIMIT} pixels above {n} for this U-Net ({o.describe()}).", input_size=n
        )
    return above


def input_size_for(output, options: UNetOptions | None = None, **overrides) -> int:
    """The smallest input size whose output is at least ``output`` pixels (per side) for ``UNet(**options)``.

    With same padding that is :func:`smallest_valid_size`; with valid padding the output is smaller
    than the input by a fixed margin, so the input must be that much larger.
    """
    return _input_size_for(whole(output, "output size", minimum=1, unit="pixels"), options_of(options, **overrides))


@lru_cache(maxsize=512)
def _input_size_for(output: int, o: UNetOptions) -> int:
    n = smallest_valid_size(output, o)
    for _ in range(SEARCH_LIMIT):
        rows, _ = _trace(n, o)
        if rows[-1][1] >= output:
            return n
        n = smallest_valid_size(n + 1, o)
    raise InvalidInputSize(
        f"no input size within {SEARCH_LIMIT} steps gives an output of {output} px for this U-Net ({o.describe()})."
    )  # pragma: no cover - the margin is finite


@dataclass(frozen=True)
class SizeRule:
    """The input sizes a setting takes, as a rule: ``first + step*k``, output = input + ``offset``.

    Derived from the traces (and checked to be an arithmetic progression), never typed. With
    ``mismatch="crop"``/``"pad"`` every size from ``first`` on works (``step`` 1) and the offset
    may vary (``offset`` is then None).
    """

    first: int
    step: int
    offset: int | None
    examples: tuple[int, ...]

    @property
    def text(self) -> str:
        if self.offset is None:
            out = "the output size varies with the input"
        elif self.offset == 0:
            out = "output = input"
        else:
            out = f"output = input {'-' if self.offset < 0 else '+'} {abs(self.offset)}"
        if self.step == 1:
            sizes = f"every size from {self.first}"
        elif self.first == self.step:
            sizes = f"multiples of {self.step}"
        else:
            sizes = f"{self.first} + {self.step}k"
        return f"valid input sizes: {sizes} (k = 0, 1, 2, ...: {', '.join(map(str, self.examples))}, ...); {out}"


def size_rule(options: UNetOptions | None = None, **overrides) -> SizeRule:
    """The valid input sizes and output size of a U-Net setting, e.g. 188 + 16k, output = input - 184."""
    return _size_rule(options_of(options, **overrides))


@lru_cache(maxsize=128)
def _size_rule(o: UNetOptions) -> SizeRule:
    step = 1 if o.mismatch != "error" else o.grid
    first = smallest_valid_size(1, o)
    sizes = [first + k * step for k in range(5)]
    if any(_trace(s, o)[1] is not None for s in sizes) or any(
        _trace(s, o)[1] is None for s in range(first + 1, first + step)
    ):  # pragma: no cover
        raise AssertionError(f"valid sizes are not {first} + {step}k for {o}")  # a broken core would show here
    offsets = {_trace(s, o)[0][-1][1] - s for s in sizes}
    return SizeRule(first, step, offsets.pop() if len(offsets) == 1 else None, tuple(sizes[:4]))
