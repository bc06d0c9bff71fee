r"""The one place where a value a student types becomes a number the course computes with.

Every public function of the package checks its arguments through these few parsers, so the
same value gets the same answer everywhere: ``572``, ``572.0``, ``numpy.int64(572)`` and a
0-d tensor holding 572 are the whole number 572; ``572.5``, ``nan``, ``"572"``, ``True`` and
``None`` are not, and the message says why and what would work::

    >>> whole(4.0, "depth")
    4
    >>> whole(4.5, "depth")
    Traceback (most recent call last):
    ...
    unet_lesson.core.parse.BadValue: depth must be a whole number, got 4.5 (for example 4 or 5).

A failure raises :class:`BadValue` (a ``ValueError``) or the subclass a caller asks for with
``error=`` (e.g. :class:`~unet_lesson.core.sizes.LayerSizeError`), so widgets show the message
and tests can match it. The parsers never allocate anything: a size of ``10**400`` is refused or
accepted in microseconds, and the arithmetic that follows is integer arithmetic.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any, Iterable, Mapping

__all__ = ["BadValue", "whole", "size_pair", "flag", "choice", "real"]


class BadValue(ValueError):
    """A value that cannot be used where it was given; the message says why and what would."""


def _describe(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int with more digits than Python will print
        return f"a whole number with more than {sys.get_int_max_str_digits()} digits"
    return text if len(text) <= 60 else text[:57] + "..."


def _as_number(value: Any):
    """An int, a float, or None: numpy scalars and 0-d tensors/arrays become Python numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    # numpy 0-d arrays, torch 0-d tensors: anything with .item() and no length
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", None) == 0:
        try:
            inner = item()
        except (TypeError, ValueError, RuntimeError):
            return None
        return _as_number(inner)
    return None


def whole(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    error: type[ValueError] = BadValue,
    unit: str = "",
    hint: str = "",
) -> int:
    """``value`` as a Python ``int``, or ``error`` with a message naming ``name``.

    Accepts ints, integral floats (``4.0``), numpy integers and 0-d arrays or tensors.
    Refuses bools (``True`` is not a size), strings, ``None``, non-integral or non-finite floats,
    and values outside ``[minimum, maximum]``. ``hint`` (what the value means, what works) is added
    to every message.
    """
    try:
        return _whole(value, name, minimum, maximum, error, unit)
    except error as e:
        if not hint:
            raise
        raise error(f"{e} {hint}") from None


def _whole(value, name, minimum, maximum, error, unit) -> int:
    number = _as_number(value)
    what = f"{name} must be a whole number{' of ' + unit if unit else ''}"
    if number is None:
        hint = ""
        if isinstance(value, str):
            try:
                float(value)
                hint = f" (a number, not the text {value!r}: write it without quotes)"
            except ValueError:
                pass
        elif isinstance(value, bool):
            hint = " (True and False are not numbers here)"
        raise error(f"{what}, got {_describe(value)}{hint}.")
    if isinstance(number, float):
        if not math.isfinite(number):
            raise error(f"{what}, got {number!r}.")
        if not number.is_integer():
            lo, hi = math.floor(number), math.ceil(number)
            raise error(f"{what}, got {number!r} (for example {lo} or {hi}).")
        number = int(number)
    if minimum is not None and number < minimum:
        rng = f"at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise error(f"{name} must be {rng}, got {_describe(number)}.")
    if maximum is not None and number > maximum:
        rng = f"at most {maximum}" if minimum is None else f"from {minimum} to {maximum}"
        raise error(f"{name} must be {rng}, got {_describe(number)}.")
    return number


def size_pair(
    value: Any,
    name: str,
    *,
    minimum: int | None = 1,
    maximum: int | None = None,
    error: type[ValueError] = BadValue,
    unit: str = "",
) -> tuple[int, int]:
    """A size given as one whole number (a square) or a (height, width) pair: ``(h, w)``.

    Pairs may be tuples, lists, ``torch.Size`` or 1-d arrays of length 2. Each number is checked by
    :func:`whole` (named ``"<name> height"`` / ``"<name> width"``).
    """
    if isinstance(value, (str, bytes)) or value is None or isinstance(value, Mapping):
        raise error(f"{name} must be one whole number (a square) or a (height, width) pair, got {_describe(value)}.")
    if _as_number(value) is not None or isinstance(value, bool):
        n = whole(value, name, minimum=minimum, maximum=maximum, error=error, unit=unit)
        return n, n
    try:
        items = list(value) if isinstance(value, Iterable) else None
    except TypeError:
        items = None
    if items is None or len(items) != 2:
        raise error(f"{name} must be one whole number (a square) or a (height, width) pair, got {_describe(value)}.")
    h = whole(items[0], f"{name} height", minimum=minimum, maximum=maximum, error=error, unit=unit)
    w = whole(items[1], f"{name} width", minimum=minimum, maximum=maximum, error=error, unit=unit)
    return h, w


def flag(value: Any, name: str, *, error: type[ValueError] = BadValue) -> bool:
    """A boolean: ``True``/``False`` (or numpy's bools). Anything else, ``"no"`` or ``1`` included, is refused:
    a string is always "truthy" in Python, so ``ceil_mode="no"`` would silently mean yes."""
    if isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_
        return bool(value)
    raise error(f"{name} must be True or False, got {_describe(value)}.")


def choice(
    value: Any, name: str, options: Mapping[str, str] | Iterable[str], *, error: type[ValueError] = BadValue
) -> str:
    """One of ``options`` (a mapping name -> what it means, or a list of names)."""
    names = list(options)
    if isinstance(value, str) and value in names:
        return value
    if isinstance(options, Mapping):
        listed = "; ".join(f"{k!r} ({v})" for k, v in options.items())
    else:
        listed = ", ".join(repr(k) for k in names)
    raise error(f"{name} must be one of {listed}; got {_describe(value)}.")


def real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    error: type[ValueError] = BadValue,
    hint: str = "",
) -> float:
    """A finite real number in ``[minimum, maximum]`` (``(minimum, maximum]`` with ``strict_minimum``)."""
    number = _as_number(value)
    extra = f" ({hint})" if hint else ""
    if number is None or (isinstance(number, float) and not math.isfinite(number)):
        raise error(f"{name} must be a finite number, got {_describe(value)}{extra}.")
    # compared before any conversion to float: a huge int is out of range, not an OverflowError
    low_bad = minimum is not None and (number <= minimum if strict_minimum else number < minimum)
    if low_bad or (maximum is not None and number > maximum):
        if minimum is not None and maximum is not None:
            low, high = ("above", "and at most") if strict_minimum else ("from", "to")
            rng = f"{low} {minimum:g} {high} {maximum:g}"
        elif minimum is not None:
            rng = f"{'greater than' if strict_minimum else 'at least'} {minimum:g}"
        else:
            rng = f"at most {maximum:g}"
        shown = f"{number:g}" if isinstance(number, float) else _describe(number)
        raise error(f"{name} must be {rng}, got {shown}{extra}.")
    return float(number)
