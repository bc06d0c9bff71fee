r"""Exercises with instant feedback, graded hints and a worked solution on request.

An answer exercise, in a lesson cell::

    answer = ...                 # replace ... with your answer
    conv.EX_FIRST_CONV.check(answer)

shows a green tick (and the explanation), a red cross with a hint, or, while ``answer`` is
still ``...``, a grey "not attempted yet" note. Each wrong try shows one more graded hint
(``hints=[nudge, formula, worked case]``), after a *diagnosis* of the typical slip when one
applies (``hint=``: a string, or a function of the wrong answer that may return ``""``).
``EX.solution()`` shows the worked answer; nothing is revealed unasked. ``EX.reset()``
forgets the tries.

A code exercise (:class:`CodeExercise`) checks a function or an ``nn.Module`` class the
student wrote, with a checker from :mod:`unet_lesson.ui.checkers` that runs it against the
real PyTorch layer and names the first failing case in words.

A check never raises: a malformed answer is a wrong answer, an exception in the student's
code is reported as the case that raised, and an unattempted exercise never fails nbval.
The expected answer is always computed by ``unet_lesson`` (never typed into the notebook).

Comparisons (:func:`same_answer`): whole numbers compare **exactly**; floats with a
tolerance only when the expected value is a float; ``True``/``False`` are never numbers;
strings are read the usual ways: ``"2,097,664"`` and ``"2 097 664"`` are 2097664,
``"(1, 2)"``, ``"[1, 2]"`` and ``"1, 2"`` the pair (1, 2), ``"568x568x64"``,
``"568×568×64"`` and ``"568 x 568 x 64"`` the triple (568, 568, 64), ``"0.5"`` is 0.5.
"""

from __future__ import annotations

import html
import inspect
import math
import numbers
import re
import types
from typing import Any, Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "Feedback",
    "Solution",
    "Exercise",
    "CodeExercise",
    "NOT_ATTEMPTED",
    "same_answer",
    "readings",
    "whole_reading",
    "tuple_reading",
    "all_exercises",
    "duplicate_keys",
]

NOT_ATTEMPTED = ...  # the placeholder students replace

_STYLE = {
    "correct": ("#e7f6e7", "#1e7b1e", "✓ Correct"),
    "wrong": ("#fdecea", "#b3261e", "✗ Not yet"),
    "not attempted": ("#f1f1f1", "#555555", "… Not attempted yet"),
}


def _describe(value: Any, limit: int = 80) -> str:
    """A short, safe repr: never raises, never floods the page."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__, or an int with more digits than Python prints
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------
# reading answers
# ------------------------------------------------------------------------------------------
class _Unreadable:
    """An answer that cannot be a number, a tuple or a word (an array of a million values...)."""

    def __eq__(self, other):  # never equal to anything, itself included
        return False

    __hash__ = object.__hash__


_UNREADABLE = _Unreadable()
_MAX_ITEMS = 10_000  # more numbers than any answer of the course has
_MAX_TEXT = 2_000  # longer text is compared as it is, not parsed
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:([,\s'_\u00a0\u202f])\d{3})(?:\1\d{3})*")
_TIMES = re.compile(r"\s*[x×*]\s*")


def _number_from_text(s: str) -> Any:
    """'570' -> 570, '0.5' -> 0.5, '2,097,664' -> 2097664; anything else -> None."""
    s = s.strip()
    if not s:
        return None
    candidates = [s]
    if _THOUSANDS.fullmatch(s):
        candidates.insert(0, re.sub(r"[,\s'_\u00a0\u202f]", "", s))
    for c in candidates:
        try:
            return int(c)
        except ValueError:  # not an int, or more digits than Python reads
            pass
        try:
            return float(c)
        except ValueError:
            pass
    return None


def _text_readings(s: str, depth: int) -> list[Any]:
    s = s.strip()
    out: list[Any] = []
    if len(s) > _MAX_TEXT or depth > 20:
        return [s]
    low = s.lower()
    # a shape written as the notes do: 568x568x64, 568×568×64, 568 x 568 x 64
    parts = _TIMES.split(low)
    if len(parts) > 1 and all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
        out.append(tuple(int(p) for p in parts))
    number = _number_from_text(low)
    if number is not None:
        out.append(number)
    # a tuple: (1, 2), [1, 2], 1, 2 (one level; nested brackets are read element-wise)
    inner = low[1:-1] if len(low) >= 2 and low[0] + low[-1] in ("()", "[]") else low
    if "," in inner or inner != low:
        items = _split_top_level(inner)
        if items is not None:
            elements = [_text_readings(i, depth + 1) if i.strip() else [] for i in items]
            if items == [""]:
                out.append(())
            elif all(elements):
                out.append(tuple(e[0] for e in elements))
    out.append(low)
    return out


def _split_top_level(text: str) -> list[str] | None:
    """Split on the commas outside brackets; None when the brackets do not balance."""
    items, level, current = [], 0, []
    for ch in text:
        if ch in "([":
            level += 1
        elif ch in ")]":
            level -= 1
            if level < 0:
                return None
        if ch == "," and level == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if level != 0:
        return None
    items.append("".join(current).strip())
    if len(items) > 1 and items[-1] == "":  # a trailing comma: (1,)
        items.pop()
    return items


def readings(answer: Any, _depth: int = 0) -> list[Any]:
    """The comparable values an answer can mean, most likely first.

    ``570`` and ``"570"`` -> ``[570, ...]``; ``torch.Size([2, 3])`` -> ``[(2, 3)]``;
    ``"100,200"`` -> ``[100200, (100, 200), ...]`` (thousands or a pair: either may be meant).
    Bools stay bools, numpy and 0-d torch scalars become Python numbers. Never raises.
    """
    try:
        return _readings(answer, _depth)
    except Exception:  # e.g. RecursionError on a list that contains itself
        return [_UNREADABLE]


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole_reading(answer: Any) -> int | None:
    """The first reading of an answer that is a whole number (not a bool), else None: what a hint looks at."""
    return next((r for r in readings(answer) if _is_whole(r)), None)


def tuple_reading(answer: Any, length: int, whole: bool = False) -> tuple | None:
    """The first reading that is a ``length``-tuple (of whole numbers only, with ``whole``), else None."""
    tuples = (r for r in readings(answer) if isinstance(r, tuple) and len(r) == length)
    return next((r for r in tuples if not whole or all(map(_is_whole, r))), None)


def _readings(x: Any, depth: int) -> list[Any]:
    if depth > 20:
        return [_UNREADABLE]
    if isinstance(x, (bool, np.bool_)):
        return [bool(x)]
    if isinstance(x, numbers.Integral):
        return [int(x)]
    if isinstance(x, numbers.Real):
        return [float(x)]
    if isinstance(x, str):
        return _text_readings(x, depth)
    if getattr(x, "ndim", None) == 0 and hasattr(x, "item"):  # numpy 0-d array, 0-d tensor
        return _readings(x.item(), depth + 1)
    if hasattr(x, "tolist") and not isinstance(x, (list, tuple)):  # arrays, tensors
        n = x.numel() if hasattr(x, "numel") else getattr(x, "size", 0)
        if not isinstance(n, numbers.Integral) or n > _MAX_ITEMS:
            return [_UNREADABLE]
        x = x.tolist()
    if isinstance(x, (list, tuple)):  # torch.Size is a tuple
        if len(x) > _MAX_ITEMS:
            return [_UNREADABLE]
        return [tuple(_readings(v, depth + 1)[0] for v in x)]
    return [x]


def _equal(a: Any, e: Any, tolerance: float | None, rel_tol: float) -> bool:
    if isinstance(e, bool) or isinstance(a, bool):
        return isinstance(e, bool) and isinstance(a, bool) and a == e
    if isinstance(e, int):  # whole numbers: exactly (570.0 is 570, 570.0001 is not)
        if isinstance(a, int):
            return a == e
        return isinstance(a, float) and math.isfinite(a) and a == e
    if isinstance(e, float):
        if not isinstance(a, (int, float)):
            return False
        try:
            a, e = float(a), float(e)  # OverflowError for an int of 400 digits: caught below
        except OverflowError:
            return False
        if not (math.isfinite(a) and math.isfinite(e)):
            return False
        if tolerance is not None:
            return abs(a - e) <= tolerance
        return math.isclose(a, e, rel_tol=rel_tol, abs_tol=1e-9)
    if isinstance(e, tuple):
        return isinstance(a, tuple) and len(a) == len(e) and all(_equal(x, y, tolerance, rel_tol) for x, y in zip(a, e))
    if isinstance(e, str):
        return isinstance(a, str) and a.strip().casefold() == e.strip().casefold()
    result = a == e
    return result if isinstance(result, bool) else False


def same_answer(answer: Any, expected: Any, rel_tol: float = 1e-6, tolerance: float | None = None) -> bool:
    """Equality that forgives the form but not the value: 570 == '570', (2, 388, 388) == [2, 388, 388],
    '568x568x64' == (568, 568, 64), '2,097,664' == 2097664; 2097666 != 2097664; True != 1.

    Floats compare within ``tolerance`` (absolute) or, by default, a relative ``rel_tol``.
    Never raises.
    """
    try:
        return any(_equal(a, e, tolerance, rel_tol) for e in readings(expected)[:1] for a in readings(answer))
    except Exception:
        return False


# ------------------------------------------------------------------------------------------
# what a check shows
# ------------------------------------------------------------------------------------------
class Feedback:
    """The result of checking one answer. ``correct`` is ``None`` while not attempted.

    ``message`` is the whole text (what tests read); the HTML shows ``summary`` and then
    the ``diagnosis`` and the graded ``hints`` in a ``ul-hint`` block.
    """

    def __init__(
        self,
        status: str,
        message: str,
        key: str = "",
        *,
        summary: str = "",
        diagnosis: str = "",
        hints: Sequence[str] = (),
        n_hints: int = 0,
        tries: int = 0,
        more: str = "",
    ):
        self.status = status  # "correct", "wrong" or "not attempted"
        self.message = message
        self.key = key
        self.summary = summary or message
        self.diagnosis = diagnosis  # what the typical slip was, when one matched
        self.hints = tuple(hints)  # the graded hints shown so far
        self.n_hints = n_hints  # how many graded hints the exercise has
        self.tries = tries  # the number of this try (0: not counted)
        self.more = more  # e.g. "no more hints: .solution() shows the worked answer"

    @property
    def correct(self) -> bool | None:
        return None if self.status == "not attempted" else self.status == "correct"

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __repr__(self) -> str:
        return f"{_STYLE[self.status][2]}: {self.message}"

    def _repr_html_(self) -> str:
        bg, fg, title = _STYLE[self.status]
        slug = self.status.replace(" ", "-")
        where = ", ".join(
            p for p in (f"exercise {self.key}" if self.key else "", f"try {self.tries}" if self.tries else "") if p
        )
        try_span = f" <span class='ul-try'>({html.escape(where)})</span>" if where else ""
        hint = ""
        if self.diagnosis or self.hints or self.more:
            items = "".join(f"<li>{html.escape(h)}</li>" for h in self.hints)
            hint = (
                "<div class='ul-hint' style='margin-top:4px'>"
                + (
                    f"<div class='ul-hint-diagnosis'><b>Hint:</b> {html.escape(self.diagnosis)}</div>"
                    if self.diagnosis
                    else ""
                )
                + (f"<ol class='ul-hint-graded' style='margin:2px 0 2px 18px;padding:0'>{items}</ol>" if items else "")
                + (f"<div class='ul-hint-more'><i>{html.escape(self.more)}</i></div>" if self.more else "")
                + "</div>"
            )
        return (
            f"<div class='ul-feedback ul-feedback-{slug}' data-ul-tries='{self.tries}' "
            f"style='background:{bg};color:{fg};border-left:4px solid {fg};padding:6px 10px;margin:4px 0'>"
            f"<b>{title}</b>{try_span}: "
            f"{html.escape(self.summary)}{hint}</div>"
        )


class Solution:
    """The worked answer of an exercise, shown only when asked for (``EX.solution()``)."""

    def __init__(self, key: str, answer: str, explanation: str, code: str = ""):
        self.key, self.answer, self.explanation, self.code = key, answer, explanation, code

    def __repr__(self) -> str:
        parts = [f"Solution {self.key}: {self.answer}".rstrip(": "), self.explanation, self.code]
        return "\n\n".join(p for p in parts if p)

    def _repr_html_(self) -> str:
        code = (
            f"<pre class='ul-solution-code' style='background:#f6f8fa;padding:6px'>"
            f"<code>{html.escape(self.code)}</code></pre>"
            if self.code
            else ""
        )
        answer = f": {html.escape(self.answer)}" if self.answer else ""
        return (
            f"<div class='ul-solution' style='border-left:4px solid #1a5fb4;padding:6px 10px;margin:4px 0'>"
            f"<b>Solution {html.escape(self.key)}</b>{answer}"
            f"{'<p>' + html.escape(self.explanation) + '</p>' if self.explanation else ''}{code}</div>"
        )


# ------------------------------------------------------------------------------------------
# exercises
# ------------------------------------------------------------------------------------------
class Exercise:
    """One answer exercise: a question, how to compute its answer, hints and an explanation.

    ``expected`` is a zero-argument callable into ``unet_lesson`` (so the answer is never typed
    by hand) or, for multiple choice, the right letter of ``choices``. ``hints`` are the graded
    hints (each wrong try shows one more); ``hint`` is the diagnosis of a typical slip, a string
    or a function of the wrong answer (``""`` for no diagnosis). ``compare(answer, expected)``
    replaces :func:`same_answer`; ``tolerance`` is the absolute tolerance for a float answer.
    """

    def __init__(
        self,
        key: str,
        question: str,
        expected: Callable[[], Any] | Any = None,
        hint: str | Callable[[Any], str] = "",
        explanation: str = "",
        choices: dict | None = None,
        compare: Callable[[Any, Any], bool] | None = None,
        *,
        hints: Sequence[str] = (),
        tolerance: float | None = None,
    ):
        self.key, self.question, self.expected = key, question, expected
        self.hint, self.explanation = hint, explanation
        self.choices = dict(choices or {})
        self.compare = compare
        self.hints = tuple(hints)
        self.tolerance = tolerance
        self.tries = 0  # attempted checks so far
        self.wrong_tries = 0  # of which wrong: the number of graded hints shown

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r}, {self.question!r})"

    @property
    def answer(self) -> Any:
        return self.expected() if callable(self.expected) else self.expected

    def reset(self) -> None:
        """Forget the tries: the next wrong answer shows the first graded hint again."""
        self.tries = self.wrong_tries = 0

    # ---- checking -----------------------------------------------------------------------
    def check(self, answer: Any = NOT_ATTEMPTED) -> Feedback:
        """Check ``answer``; never raises."""
        try:
            return self._check(answer)
        except Exception as exc:  # a bug in the exercise itself: say so, never a traceback
            return Feedback(
                "wrong",
                f"this exercise could not check the answer ({type(exc).__name__}: "
                f"{_describe(str(exc), 200)}). Hint: please report it to the course.",
                self.key,
            )

    def _check(self, answer: Any) -> Feedback:
        if answer is NOT_ATTEMPTED or answer is None:
            return self._not_attempted("replace the ... with your answer and run the cell again.")
        right = self.answer
        if self.choices:
            letters = {str(c).strip().casefold() for c in self.choices}
            if not (isinstance(answer, str) and answer.strip().casefold() in letters):
                return self._form_error(
                    f"{_describe(answer)} is not one of the choices.",
                    f"answer with one of {', '.join(repr(c) for c in self.choices)}.",
                )
            ok = answer.strip().casefold() == str(right).strip().casefold()
        elif self.compare is not None:
            # True and False are never numbers, whatever float() says of them
            is_bool = [isinstance(readings(x)[0], bool) for x in (answer, right)]
            try:
                ok = is_bool[0] == is_bool[1] and bool(self.compare(answer, right))
            except Exception:  # a malformed answer is just a wrong answer
                ok = False
        else:
            ok = same_answer(answer, right, tolerance=self.tolerance)
        if ok:
            return self._correct(self.explanation or "well done.")
        return self._wrong(f"{_describe(answer)} is not it.", self._diagnosis(answer))

    def _diagnosis(self, answer: Any) -> str:
        try:
            text = self.hint(answer) if callable(self.hint) else self.hint
        except Exception:
            text = ""
        return text if isinstance(text, str) else ""

    # ---- feedback with the tries and the graded hints -----------------------------------
    def _not_attempted(self, message: str) -> Feedback:
        return Feedback("not attempted", message, self.key)

    def _form_error(self, summary: str, diagnosis: str) -> Feedback:
        """An answer in the wrong form (a word for a letter, a number for code): not counted as a try."""
        return Feedback(
            "wrong",
            f"{summary} Hint: {diagnosis}",
            self.key,
            summary=summary,
            diagnosis=diagnosis,
            n_hints=len(self.hints),
            tries=self.tries,
        )

    def _correct(self, message: str) -> Feedback:
        self.tries += 1
        return Feedback("correct", message, self.key, tries=self.tries)

    def _wrong(self, summary: str, diagnosis: str = "") -> Feedback:
        self.tries += 1
        self.wrong_tries += 1
        shown = self.hints[: self.wrong_tries]
        more = (
            "no more hints: .solution() shows the worked answer."
            if self.hints and self.wrong_tries > len(self.hints)
            else ""
        )
        if not diagnosis and not shown:
            diagnosis = "read the question again; .solution() shows the worked answer."
        text = [summary]
        if diagnosis:
            text.append(f"Hint: {diagnosis}")
        text += [f"Hint {i} of {len(self.hints)}: {h}" for i, h in enumerate(shown, 1)]
        if more:
            text.append(f"({more})")
        return Feedback(
            "wrong",
            " ".join(text),
            self.key,
            summary=summary,
            diagnosis=diagnosis,
            hints=shown,
            n_hints=len(self.hints),
            tries=self.tries,
            more=more,
        )

    # ---- the worked answer ----------------------------------------------------------------
    def solution(self) -> Solution:
        """The worked answer: the expected value and the explanation (only when asked for)."""
        try:
            right = self.answer
            text = _describe(right, 200)
            if self.choices and str(right) in self.choices:
                text = f"{right}: {self.choices[str(right)]}"
        except Exception as exc:
            text = f"(could not be computed: {type(exc).__name__})"
        return Solution(self.key, text, self.explanation)

    def _repr_html_(self) -> str:
        opts = "".join(f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>" for k, v in self.choices.items())
        return (
            f"<div class='ul-exercise'><b>Exercise {html.escape(self.key)}.</b> {html.escape(self.question)}"
            f"{'<ul>' + opts + '</ul>' if opts else ''}</div>"
        )


class CodeExercise(Exercise):
    """A code exercise: the student writes a function or an ``nn.Module`` class and checks it.

    ``checker(student)`` (from :mod:`unet_lesson.ui.checkers`) runs the student's code on many
    cases against the real layer and returns a ``CaseResult``; ``reference`` is the course's
    correct implementation (``EX.answer`` too, so tests can prove the checker accepts it), and
    ``solution()`` shows ``solution_source``. Both default to what the checker carries
    (``checker.reference``, ``checker.solution_source``), else to the reference's source.
    """

    def __init__(
        self,
        key: str,
        question: str,
        checker: Callable[[Any], Any],
        reference: Any = None,
        *,
        hints: Sequence[str] = (),
        explanation: str = "",
        solution_source: str | None = None,
    ):
        super().__init__(key, question, expected=None, explanation=explanation, hints=hints)
        self.checker = checker
        # a checker of unet_lesson.ui.checkers carries its reference and the source students see
        self.reference = reference if reference is not None else getattr(checker, "reference", None)
        if solution_source is None and reference is None:
            solution_source = getattr(checker, "solution_source", None)
        self._source = solution_source

    @property
    def answer(self) -> Any:
        return self.reference

    @property
    def solution_source(self) -> str:
        if self._source is None:
            try:
                self._source = inspect.getsource(self.reference)
            except (OSError, TypeError):
                self._source = ""
        return self._source

    def _check(self, student: Any) -> Feedback:
        if student is NOT_ATTEMPTED or student is None:
            return self._not_attempted("write your code in the cell above, run it, then run this check.")
        if not callable(student):
            return self._form_error(
                f"{_describe(student)} is not code.",
                "pass your function or class itself, e.g. EX.check(my_function), without "
                "calling it (no parentheses after its name).",
            )
        try:
            result = self.checker(student)
        except Exception as exc:  # the checkers catch the student's errors; this is the last guard
            return self._wrong(f"the check could not run your code ({type(exc).__name__}: {_describe(str(exc), 200)}).")
        status = getattr(result, "status", "wrong")
        if status == "not attempted":
            return self._not_attempted(result.message)
        if status == "correct":
            return self._correct(" ".join(p for p in (result.message, self.explanation) if p))
        return self._wrong(result.message, getattr(result, "diagnosis", ""))

    def solution(self) -> Solution:
        """The worked answer: the explanation and the reference code."""
        return Solution(self.key, "", self.explanation, self.solution_source)


# ------------------------------------------------------------------------------------------
# finding the exercises of lesson modules (no global registry)
# ------------------------------------------------------------------------------------------
def all_exercises(*modules: types.ModuleType) -> list[Exercise]:
    """The exercises defined in ``modules`` (module attributes), each once, in definition order."""
    seen: dict[int, Exercise] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Exercise):
                seen.setdefault(id(value), value)
    return list(seen.values())


def duplicate_keys(exercises: Iterable[Exercise]) -> dict[str, list[Exercise]]:
    """The keys used by more than one exercise (``{}`` when every key is unique)."""
    by_key: dict[str, list[Exercise]] = {}
    for ex in exercises:
        by_key.setdefault(ex.key, []).append(ex)
    return {k: v for k, v in by_key.items() if len(v) > 1}
