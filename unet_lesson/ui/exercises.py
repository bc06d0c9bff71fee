"""Exercises with instant feedback.

A lesson cell reads::

    answer = ...          # replace ... with your answer
    ex_conv.output_after_two_convs.check(answer)

and shows a green tick, a red cross with a hint, or (while ``answer`` is still ``...``)
a grey "not attempted yet" note. A check never raises, so an unattempted exercise
does not fail nbval, and the expected answer is always computed by ``unet_lesson``
(never typed into the notebook).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Feedback", "Exercise", "NOT_ATTEMPTED", "same_answer", "REGISTRY", "check"]

NOT_ATTEMPTED = ...  # the placeholder students replace

_STYLE = {
    "correct": ("#e7f6e7", "#1e7b1e", "✓ Correct"),
    "wrong": ("#fdecea", "#b3261e", "✗ Not yet"),
    "not attempted": ("#f1f1f1", "#555555", "… Not attempted yet"),
}


@dataclass
class Feedback:
    """The result of checking one answer. ``correct`` is ``None`` while not attempted."""

    status: str            # "correct", "wrong" or "not attempted"
    message: str
    key: str = ""

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
        return (f"<div class='ul-feedback ul-feedback-{slug}' style='background:{bg};color:{fg};"
                f"border-left:4px solid {fg};padding:6px 10px;margin:4px 0'>"
                f"<b>{title}</b>{' (' + html.escape(self.key) + ')' if self.key else ''}: "
                f"{html.escape(self.message)}</div>")


def _normalise(x: Any) -> Any:
    """Turn answers into comparable values: '570x570x64' -> (570, 570, 64), torch.Size -> tuple."""
    if isinstance(x, str):
        s = x.strip().lower().replace("×", "x").replace("*", "x").replace(" ", "")
        parts = s.split("x")
        if len(parts) > 1 and all(p.lstrip("-").isdigit() for p in parts):
            return tuple(int(p) for p in parts)
        try:
            return int(s)
        except ValueError:
            try:
                return float(s)
            except ValueError:
                return s
    if hasattr(x, "tolist") and not isinstance(x, (list, tuple)):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return tuple(_normalise(v) for v in x)
    return x


def same_answer(answer: Any, expected: Any, rel_tol: float = 1e-6) -> bool:
    """Equality that forgives the form: 570 == '570', (2, 388, 388) == [2, 388, 388], 0.1 ~ 0.1000001."""
    a, e = _normalise(answer), _normalise(expected)
    if isinstance(a, (int, float)) and isinstance(e, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, e, rel_tol=rel_tol, abs_tol=1e-9)
    if isinstance(a, tuple) and isinstance(e, tuple):
        return len(a) == len(e) and all(same_answer(x, y, rel_tol) for x, y in zip(a, e))
    return a == e


REGISTRY: dict[str, "Exercise"] = {}


@dataclass
class Exercise:
    """One exercise: a question, how to compute its answer, a hint and an explanation.

    ``expected`` is a zero-argument callable into ``unet_lesson`` (so the answer is never
    typed by hand) or, for multiple choice, the right letter. ``hint`` may be a string or a
    function of the wrong answer, to react to the typical slip (e.g. forgetting the ``+ 1``).
    """

    key: str
    question: str
    expected: Callable[[], Any] | Any
    hint: str | Callable[[Any], str]
    explanation: str = ""
    choices: dict[str, str] = field(default_factory=dict)
    compare: Callable[[Any, Any], bool] = same_answer

    def __post_init__(self):
        REGISTRY[self.key] = self

    @property
    def answer(self) -> Any:
        return self.expected() if callable(self.expected) else self.expected

    def check(self, answer: Any = NOT_ATTEMPTED) -> Feedback:
        if answer is NOT_ATTEMPTED or answer is None:
            return Feedback("not attempted", "replace the ... with your answer and run the cell again.", self.key)
        try:
            right = self.compare(answer, self.answer)
        except Exception:  # a malformed answer is just a wrong answer, never a traceback
            right = False
        if right:
            return Feedback("correct", self.explanation or "well done.", self.key)
        hint = self.hint(answer) if callable(self.hint) else self.hint
        if self.choices and str(answer).strip().lower() not in {c.lower() for c in self.choices}:
            hint = f"answer with one of {', '.join(repr(c) for c in self.choices)}. " + hint
        return Feedback("wrong", f"{answer!r} is not it. Hint: {hint}", self.key)

    def _repr_html_(self) -> str:
        opts = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in self.choices.items())
        return (f"<div class='ul-exercise'><b>Exercise {html.escape(self.key)}.</b> {html.escape(self.question)}"
                f"{'<ul>' + opts + '</ul>' if opts else ''}</div>")


def check(key: str, answer: Any = NOT_ATTEMPTED) -> Feedback:
    """Check an answer for the exercise registered under ``key``."""
    if key not in REGISTRY:
        return Feedback("wrong", f"there is no exercise {key!r}; known: {', '.join(sorted(REGISTRY))}", key)
    return REGISTRY[key].check(answer)
