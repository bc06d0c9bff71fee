"""The words of a lesson, kept apart from its code: ``lessons/text/NN_topic.toml``.

A lesson's text file holds what a teacher writes and edits as prose: the course-map entry (title,
minutes, the notes' topics it covers, a one-line summary) and, for every exercise, its question, graded
hints, explanation and (for multiple choice) its choices. The lesson module keeps what is code: how
the answer is computed (always by ``unet_lesson``), the diagnosis of a typical slip when it is a
function, the checker of a code exercise::

    TEXT = lesson_text(__name__)          # reads text/01_convolution_sizes.toml
    LESSON = TEXT.lesson                  # number and notebook from the module's name
    EX_FIRST_CONV = TEXT.exercise("1.1", expected=lambda: conv_out(572))
    EX_CONV_OUT = TEXT.code_exercise("1.8", check_conv_out)

One exercise in the file::

    [exercise."1.1"]
    question = "..."
    hints = ["a nudge", "the formula", "a worked case"]
    explanation = "..."

A misspelt field, a field given both in the file and in the code, or an exercise built twice raises at
import (a lesson never starts with half its words); ``tests/test_lessons.py`` checks that every exercise
of every file is built by its lesson.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import tomllib

from ..ui.course import Lesson
from ..ui.exercises import CodeExercise, Exercise

__all__ = ["TEXT_DIR", "LessonText", "lesson_text", "lesson_name", "all_texts"]

#: the folder of the lessons' text files
TEXT_DIR = Path(__file__).with_name("text")

_LESSON_FIELDS = {"title", "minutes", "topics", "summary"}
_PROSE = {"question", "hints", "explanation", "choices", "hint"}
_MODULE = re.compile(r"l(?P<number>\d\d)_\w+")


def lesson_name(module: str) -> tuple[int | None, str]:
    """``(number, stem)`` of a lesson module's text file: ``l03_exercises`` -> ``(3, "03_")``, a prefix of
    ``03_up_conv``; ``explorer`` -> ``(None, "explorer")``."""
    short = module.rsplit(".", 1)[-1]
    m = _MODULE.fullmatch(short)
    if m:
        return int(m["number"]), f"{m['number']}_"
    return None, short


class LessonText:
    """One lesson's text file, read once; builds the lesson's :class:`Lesson` and its exercises."""

    def __init__(self, path: Path, number: int | None):
        self.path = path
        self.number = number
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RuntimeError(f"the lesson text {path.name} cannot be read: {exc}") from exc
        unknown = set(data) - {"lesson", "exercise"}
        if unknown:
            raise ValueError(
                f"{path.name}: unknown tables {sorted(unknown)}; a lesson text has [lesson] and [exercise.*]"
            )
        self._lesson = dict(data.get("lesson", {}))
        self._exercises: dict[str, dict[str, Any]] = dict(data.get("exercise", {}))
        for key, fields in self._exercises.items():
            self._check_fields(f"exercise {key}", fields, _PROSE)
        self._check_fields("[lesson]", self._lesson, _LESSON_FIELDS, required=_LESSON_FIELDS)
        self.built: set[str] = set()

    def _check_fields(self, where: str, fields: dict, allowed: set, required: set = frozenset()) -> None:
        unknown, missing = set(fields) - allowed, required - set(fields)
        if unknown or missing:
            raise ValueError(
                f"{self.path.name}, {where}: "
                + "; ".join(
                    part
                    for part in (
                        f"unknown fields {sorted(unknown)}" if unknown else "",
                        f"missing {sorted(missing)}" if missing else "",
                    )
                    if part
                )
                + f" (a lesson text knows {sorted(allowed)})"
            )

    @property
    def lesson(self) -> Lesson:
        """The course-map entry: number and notebook from the file's name, the rest from ``[lesson]``."""
        f = self._lesson
        return Lesson(
            self.number,
            self.path.stem,
            f["title"],
            minutes=f["minutes"],
            topics=tuple(f["topics"]),
            summary=f["summary"],
        )

    def _words(self, key: str, code: dict[str, Any]) -> dict[str, Any]:
        """The exercise's prose from the file, merged with the fields the code gives (never both)."""
        if key not in self._exercises:
            raise KeyError(f"{self.path.name} has no [exercise.{key!r}]: write its question and hints there")
        if key in self.built:
            raise ValueError(f"exercise {key} of {self.path.name} is built twice")
        words = self._exercises[key]
        twice = set(words) & {k for k, v in code.items() if v is not None}
        if twice:
            raise ValueError(f"exercise {key}: {sorted(twice)} given both in {self.path.name} and in the code")
        self.built.add(key)
        return {**{k: v for k, v in code.items() if v is not None}, **words}

    def exercise(self, key: str, **code: Any) -> Exercise:
        """An :class:`Exercise`: its words from the file, ``expected`` (and any ``hint`` function,
        ``compare``, ``tolerance``) from the code."""
        return Exercise(key, **self._words(key, code))

    def code_exercise(self, key: str, checker, **code: Any) -> CodeExercise:
        """A :class:`CodeExercise` checked by ``checker`` (its words from the file)."""
        words = self._words(key, code)
        return CodeExercise(key, checker=checker, **words)

    def unbuilt(self) -> list[str]:
        """The exercises of the file that no lesson module has built (``[]`` once the lesson is imported)."""
        return sorted(
            set(self._exercises) - self.built, key=lambda k: [int(p) if p.isdigit() else p for p in k.split(".")]
        )


def lesson_text(module: str) -> LessonText:
    """The text of the lesson ``module`` belongs to (``__name__`` of a lesson module), read once: the
    modules of one lesson (``l01_convolution_sizes``, ``l01_exercises``) share it."""
    number, stem = lesson_name(module)
    found = sorted(TEXT_DIR.glob(f"{stem}*.toml")) if number is not None else [TEXT_DIR / f"{stem}.toml"]
    if len(found) != 1 or not found[0].is_file():
        raise FileNotFoundError(f"no single lesson text for {module} in {TEXT_DIR} (found {[p.name for p in found]})")
    return _read(found[0], number)


@cache
def _read(path: Path, number: int | None) -> LessonText:
    return LessonText(path, number)


def all_texts() -> list[LessonText]:
    """Every lesson text read so far (each lesson module reads its own at import)."""
    return [_read(p, int(p.stem[:2]) if p.stem[:2].isdigit() else None) for p in sorted(TEXT_DIR.glob("*.toml"))]
