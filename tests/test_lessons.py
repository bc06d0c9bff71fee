"""Every lesson module keeps the one contract (unet_lesson.ui.course): LESSON, WIDGETS, EXERCISES.

A new lesson appears in the course map, the README's table and the browser tests through these, so
each is checked here: the notebook exists and calls its module, every widget's default view works,
every exercise is listed, named EX_..., keyed "<lesson>.<n>", and unique across the course.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from unet_lesson import lessons as course
from unet_lesson.lessons._text import LessonText, all_texts
from unet_lesson.ui.course import Lesson
from unet_lesson.ui.exercises import CodeExercise, Exercise
from unet_lesson.ui.widgets import Widget

ROOT = Path(__file__).resolve().parents[1]
MODULES = course.modules()
IDS = [m.__name__.rsplit(".", 1)[1] for m in MODULES]


def _code(path: str) -> str:
    nb = json.loads((ROOT / path).read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def test_every_notebook_has_a_lesson_module_and_back():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(lesson.notebook for lesson in course.lessons()) == notebooks


def test_lessons_are_numbered_in_course_order():
    numbers = [lesson.number for lesson in course.lessons() if lesson.number is not None]
    assert numbers == list(range(len(numbers)))
    for module, lesson in zip(MODULES, course.lessons()):
        if lesson.number is not None:
            assert module.__name__.endswith(f".l{lesson.number:02d}_{lesson.notebook[3:]}")
            assert lesson.notebook.startswith(f"{lesson.number:02d}_")


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_lesson_declares_itself(module):
    lesson = module.LESSON
    assert isinstance(lesson, Lesson)
    assert (ROOT / lesson.path).exists(), lesson.path
    assert lesson.number is None or 20 <= lesson.minutes <= 40, "a lesson takes 20-40 minutes"
    assert all(1 <= t <= 12 for t in lesson.topics), "topics are NOTES-MAP.md's numbers 1-12"
    assert lesson.title and lesson.summary


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_widgets_are_declared_and_their_default_views_work(module):
    assert isinstance(module.WIDGETS, dict)
    for name, widget in module.WIDGETS.items():
        assert isinstance(widget, Widget), name
        assert widget.css.startswith("ul-"), widget.css
        controls = widget.controls()
        assert controls and all(hasattr(w, "value") for w in controls.values()), name
        for view in widget.view_at():
            assert view.ok, f"{widget.css} at its defaults: {view.error}"


def test_a_widget_css_class_names_one_widget():
    """Within a notebook each widget has its own class; across notebooks a class means the same views
    (the explorer appears in 06, 07 and on its own page)."""
    views = {}
    for m in MODULES:
        classes = [w.css for w in m.WIDGETS.values()]
        assert len(classes) == len(set(classes)), (m.__name__, classes)
        for w in m.WIDGETS.values():
            assert views.setdefault(w.css, w.views) is w.views, f"{w.css} names two different widgets"


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_notebook_shows_its_widgets_and_builds_no_controls(module):
    code = _code(module.LESSON.path)
    for name in module.WIDGETS:
        assert re.search(rf"WIDGETS\[[\"']{re.escape(name)}[\"']\]\.show\(", code), f"{name} is not shown"
    assert not re.search(r"\bW\.(IntText|IntSlider|FloatSlider|Dropdown|Checkbox|ToggleButtons)\(", code), (
        "controls belong in the lesson module's WIDGETS, not in the notebook"
    )


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_exercises_are_listed_and_named(module):
    listed = module.EXERCISES
    found = {name: v for name, v in vars(module).items() if isinstance(v, Exercise)}
    assert all(isinstance(e, Exercise) for e in listed)
    assert {id(e) for e in listed} == {id(v) for v in found.values()}, "every exercise is in EXERCISES, once"
    assert all(name.startswith("EX_") for name in found), sorted(found)
    prefix = module.LESSON.exercise_prefix
    assert all(e.key.startswith(prefix) for e in listed), [e.key for e in listed]
    code = _code(module.LESSON.path)
    for name in found:
        assert re.search(rf"\b{name}\.check\(", code), f"{name} is never checked in {module.LESSON.path}"


def test_exercise_keys_are_unique_across_the_course():
    keys = [e.key for m in MODULES for e in m.EXERCISES]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


# ---- the lessons' words (lessons/text/NN_topic.toml) -------------------------------------------
def test_every_lesson_text_is_read_and_every_exercise_in_it_is_built():
    texts = {t.path.stem: t for t in all_texts()}
    assert sorted(texts) == sorted(lesson.notebook for lesson in course.lessons()), "one text file per notebook"
    for stem, text in texts.items():
        assert text.unbuilt() == [], f"{stem}.toml has exercises no lesson module builds"
        assert text.lesson == next(m.LESSON for m in MODULES if m.LESSON.notebook == stem)
    hints = {e.key: len(e.hints) for m in MODULES for e in m.EXERCISES}
    assert all(n == 3 for n in hints.values()), {k: n for k, n in hints.items() if n != 3}


def _text(tmp_path, body: str, name: str = "07_some_lesson.toml") -> LessonText:
    path = tmp_path / name
    lesson = '[lesson]\ntitle = "T"\nminutes = 30\ntopics = [1]\nsummary = "s"\n'
    path.write_text(lesson + body, encoding="utf-8")
    return LessonText(path, 7)


def test_a_lesson_text_builds_the_lesson_and_its_exercises(tmp_path):
    text = _text(tmp_path, '[exercise."7.1"]\nquestion = "Q?"\nhints = ["a", "b", "c"]\nexplanation = "E"\n')
    assert text.lesson == Lesson(7, "07_some_lesson", "T", minutes=30, topics=(1,), summary="s")
    assert text.unbuilt() == ["7.1"]
    ex = text.exercise("7.1", expected=lambda: 570)
    assert (ex.key, ex.question, ex.hints, ex.explanation, ex.answer) == ("7.1", "Q?", ("a", "b", "c"), "E", 570)
    assert text.unbuilt() == []


@pytest.mark.parametrize(
    "body, build, message",
    [
        ('[exercise."7.1"]\nquestoin = "Q?"\n', None, "unknown fields ['questoin']"),
        ('[exercise."7.1"]\nquestion = "Q?"\n', {"question": "again"}, "given both in"),
        ('[exercise."7.1"]\nquestion = "Q?"\n', "twice", "built twice"),
        ('[exercise."7.1"]\nquestion = "Q?"\n', "7.2", "has no [exercise.'7.2']"),
        ("[lessons]\n", None, "unknown tables ['lessons']"),
        ('[exercise."7.1"\n', None, "cannot be read"),
    ],
    ids=["misspelt field", "prose twice", "built twice", "no such exercise", "unknown table", "not TOML"],
)
def test_a_broken_lesson_text_says_what_is_wrong(tmp_path, body, build, message):
    with pytest.raises((ValueError, KeyError, RuntimeError), match=re.escape(message)):
        text = _text(tmp_path, body)
        if build == "twice":
            text.exercise("7.1", expected=1)
            text.exercise("7.1", expected=1)
        elif isinstance(build, str):
            text.exercise(build, expected=1)
        elif build:
            text.exercise("7.1", expected=1, **build)


def test_a_lesson_text_without_its_lesson_table_is_refused(tmp_path):
    path = tmp_path / "07_x.toml"
    path.write_text('[lesson]\ntitle = "T"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("missing ['minutes', 'summary', 'topics']")):
        LessonText(path, 7)


def test_lesson_text_is_shipped_with_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"unet_lesson.lessons" = ["text/*.toml"]' in pyproject


ALL_EXERCISES = [e for m in MODULES for e in m.EXERCISES]


def _wrong_answer(ex):
    """A wrong answer in the right form (a form error, e.g. a word for a letter, is not counted as a try)."""
    if isinstance(ex, CodeExercise):

        def broken(*args, **kwargs):  # code that raises is a wrong try, reported as the case that raised
            raise ValueError("wrong on purpose")

        return broken
    right = ex.answer
    if ex.choices:
        return next(letter for letter in ex.choices if letter != str(right))
    if isinstance(right, bool):
        return not right
    if isinstance(right, (int, float)):
        return right * 3 + 7
    if isinstance(right, tuple):
        return tuple(v * 3 + 7 for v in right)
    return "definitely wrong"


@pytest.mark.parametrize("ex", ALL_EXERCISES, ids=lambda e: e.key)
def test_every_exercise_waits_for_an_answer_then_gives_one_graded_hint_per_wrong_try(ex):
    """Course-wide (the right answers are pinned in tests/test_exercise_answers.py): an untouched cell is
    'not attempted'; each wrong try shows one more of the three graded hints; the solution only when asked."""
    ex.reset()
    try:
        assert ex.check(...).status == "not attempted"
        assert len(ex.hints) == 3 and all(h.strip() for h in ex.hints), "a nudge, the formula, a worked case"
        wrong = [ex.check(_wrong_answer(ex)) for _ in range(3)]
        assert all(w.status == "wrong" and "Hint" in w.message for w in wrong)
        assert [len(w.hints) for w in wrong] == [1, 2, 3]
        assert [list(w.hints) for w in wrong][-1] == list(ex.hints)
        assert ex.solution().key == ex.key
    finally:
        ex.reset()


@pytest.mark.parametrize("module", [m for m in MODULES if m.LESSON.number is not None], ids=lambda m: m.LESSON.notebook)
def test_the_notebook_opens_with_the_lessons_minutes(module):
    first = "".join(json.loads((ROOT / module.LESSON.path).read_text())["cells"][0]["source"])
    m = re.search(r"\*About (\d+) minutes\.", first)
    assert m and int(m.group(1)) == module.LESSON.minutes, (m and m.group(0), module.LESSON.minutes)
