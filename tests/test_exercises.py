"""Exercises: answers read in the usual forms but compared exactly, graded hints try by try, the worked
solution only on request, "not attempted" for ..., a check that never raises (hypothesis), code exercises
wrapped around the checkers, and exercise keys unique across the course."""

import importlib
import math
import pkgutil

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import unet_lesson.lessons
from unet_lesson.lessons import l03_up_conv
from unet_lesson.ui import checkers as C
from unet_lesson.ui.exercises import (
    CodeExercise,
    Exercise,
    Feedback,
    Solution,
    all_exercises,
    duplicate_keys,
    readings,
    same_answer,
)

LESSONS = [
    importlib.import_module(f"unet_lesson.lessons.{m.name}") for m in pkgutil.iter_modules(unet_lesson.lessons.__path__)
]


def whole(value=570, **kw):
    return Exercise("t.1", "How many?", expected=lambda: value, **kw)


# ---- reading answers ------------------------------------------------------------------------
class TestAnswersInTheUsualFormsAreRead:
    @pytest.mark.parametrize(
        "answer, expected",
        [
            ("2,097,664", 2_097_664),
            ("2 097 664", 2_097_664),
            ("2097664", 2_097_664),
            (" 570 ", 570),
            ("570.0", 570),
            ("(1, 2)", (1, 2)),
            ("[1, 2]", (1, 2)),
            ("1, 2", (1, 2)),
            ("1,2", (1, 2)),
            ("(7,)", (7,)),
            ("568x568x64", (568, 568, 64)),
            ("568×568×64", (568, 568, 64)),
            ("568 x 568 x 64", (568, 568, 64)),
            ("568X568X64", (568, 568, 64)),
            ("0.5", 0.5),
            (".5", 0.5),
            ("1e-3", 0.001),
            ("[1, [2, 3]]", (1, (2, 3))),
            ("B", "b"),
            (np.int64(570), 570),
            (np.float32(0.5), 0.5),
            (torch.tensor(570), 570),
            (torch.Size([2, 388, 388]), (2, 388, 388)),
            (np.array([2, 388, 388]), (2, 388, 388)),
            (torch.tensor([[1, 2], [3, 4]]), ((1, 2), (3, 4))),
            ([2, 388, 388], (2, 388, 388)),
            ("64x64x512", "64×64×512"),
        ],
        ids=repr,
    )
    def test_the_same_value_in_another_form_is_accepted(self, answer, expected):
        assert same_answer(answer, expected)

    def test_a_comma_can_mean_thousands_or_a_pair(self):
        assert readings("100,200")[:2] == [100200, (100, 200)]
        assert same_answer("100,200", 100200) and same_answer("100,200", (100, 200))

    @pytest.mark.parametrize(
        "answer, expected",
        [
            ("570x570", (570, 570, 1)),
            ("(1, 2)", (2, 1)),
            ("1, 2, 3", (1, 2)),
            ("[1, [2]]", (1, 2)),
            ("57 0", 570),
            ("2,09,7664", 2_097_664),
            ("five", 5),
            ("", 0),
        ],
        ids=repr,
    )
    def test_a_different_value_or_shape_is_not(self, answer, expected):
        assert not same_answer(answer, expected)


class TestWholeNumbersCompareExactly:
    def test_the_up_conv_parameter_count_is_not_accepted_two_off(self):
        ex = l03_up_conv.EX_PARAMS
        assert ex.answer == 1024 * 512 * 2 * 2 + 512 == 2_097_664
        assert not ex.check(2_097_666) and not ex.check(2_097_663)
        assert ex.check(2_097_664) and ex.check("2,097,664") and ex.check("2 097 664") and ex.check(2_097_664.0)

    @pytest.mark.parametrize("answer", [570.0000001, 569.9999999, 570.5, "570.5", 10**400, -570])
    def test_anything_but_the_whole_number_is_wrong(self, answer):
        assert whole().check(answer).status == "wrong"


class TestBoolsAreNeverNumbers:
    @pytest.mark.parametrize(
        "answer, expected",
        [
            (False, 0),
            (True, 1),
            (True, 1.0),
            (np.bool_(True), 1),
            (torch.tensor(False), 0),
            ((True, False), (1, 0)),
        ],
        ids=repr,
    )
    def test_a_bool_is_not_a_number(self, answer, expected):
        assert not same_answer(answer, expected)
        assert Exercise("t.b", "q", expected=lambda: expected).check(answer).status == "wrong"

    def test_not_even_with_a_custom_compare(self):
        ex = Exercise("t.b", "q", expected=lambda: 1.0, compare=lambda a, e: abs(float(a) - e) < 0.01)
        assert ex.check(1) and not ex.check(True) and not ex.check(np.bool_(True))

    def test_a_bool_answers_a_yes_no_question(self):
        assert same_answer(True, True) and not same_answer(1, True) and not same_answer(False, True)


class TestFloatsCompareWithATolerance:
    def test_only_a_float_expected_value_gets_a_tolerance(self):
        assert same_answer(0.1 + 0.2, 0.3) and same_answer(10, 10.0) and same_answer(10.0000001, 10.0)
        assert not same_answer(10.0000001, 10)

    def test_an_explicit_tolerance(self):
        ex = Exercise("t.f", "q", expected=lambda: 8.35, tolerance=0.011)
        assert ex.check(8.36) and ex.check("8.34") and not ex.check(8.37)
        assert not Exercise("t.f", "q", expected=lambda: 8.35).check(8.36)

    @pytest.mark.parametrize("answer", [float("nan"), float("inf"), -float("inf"), "nan", "inf", 10**400])
    def test_nan_inf_and_huge_are_wrong(self, answer):
        assert Exercise("t.f", "q", expected=lambda: 0.5).check(answer).status == "wrong"
        assert not same_answer(answer, float("nan"))


# ---- a check never raises ---------------------------------------------------------------------
class _BrokenRepr:
    def __repr__(self):
        raise RuntimeError("no repr")

    def __eq__(self, other):
        raise RuntimeError("no eq")


def _self_containing():
    a = [1]
    a.append(a)
    return a


EXERCISE_KINDS = [
    whole(),
    Exercise("t.2", "q", expected=lambda: 0.5),
    Exercise("t.3", "q", expected=lambda: (568, 568, 64), hint=lambda a: "H×W×C" if int(a[0]) else ""),
    Exercise("t.4", "q", expected="b", choices={"a": "one", "b": "two"}),
    Exercise("t.5", "q", expected=lambda: 8.35, compare=lambda a, e: abs(float(a) - e) < 0.01),
    Exercise("t.6", "q", expected=lambda: 0, hint=lambda a: str(int(a) + 1)),
    *(ex for ex in all_exercises(*LESSONS) if ex.key in ("1.1", "1.4", "2.3", "4.2", "5.2", "6.1")),
]
SPECIAL_ANSWERS = [
    float("inf"),
    float("nan"),
    10**400,
    10**5000,
    -(10**400),
    object(),
    [1, [2]],
    (1, (2, (3,))),
    _BrokenRepr(),
    _self_containing(),
    np.zeros(10**5),
    torch.zeros(2, 2, device="meta"),
    "(((((",
    "1" * 5000,
    "9" * 1000 + "x2",
    b"570",
    3 + 4j,
    {"a": 1},
    {1, 2},
    nn.Conv2d(1, 1, 1),
    print,
    np.float64("nan"),
    np.int64(-1),
    "<script>alert(1)</script>",
    "",
    torch.tensor(float("nan")),
]


def special_answer(i):  # by index: hypothesis must not repr 10**5000 while describing the strategy
    return SPECIAL_ANSWERS[i]


answers = st.recursive(
    st.one_of(
        st.integers(),
        st.integers(min_value=-(10**500), max_value=10**500),
        st.floats(),
        st.booleans(),
        st.text(),
        st.none(),
        st.just(...),
        st.integers(0, len(SPECIAL_ANSWERS) - 1).map(special_answer),
        st.integers(-(2**63), 2**63 - 1).map(np.int64),
        st.floats(width=32).map(np.float32),
        st.booleans().map(np.bool_),
        st.sampled_from([4.0, 4.5, 570.0, float("nan"), float("inf"), -0.0]),
        st.sampled_from(["4.0", "4.5", "2,097,664", "568x568x64", "(1, 2)"]),
    ),
    lambda inner: st.one_of(st.tuples(inner, inner), st.lists(inner, max_size=4)),
    max_leaves=8,
)


class TestACheckNeverRaises:
    @pytest.mark.parametrize("ex", EXERCISE_KINDS, ids=lambda e: e.key)
    @pytest.mark.parametrize("answer", SPECIAL_ANSWERS, ids=lambda a: type(a).__name__)
    def test_special_answers_give_feedback(self, ex, answer):
        fb = ex.check(answer)
        assert isinstance(fb, Feedback) and fb.status in ("wrong", "correct", "not attempted")
        assert isinstance(fb._repr_html_(), str) and isinstance(repr(fb), str)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(answer=answers, which=st.integers(0, len(EXERCISE_KINDS) - 1))
    def test_any_answer_gives_feedback(self, answer, which):
        fb = EXERCISE_KINDS[which].check(answer)
        assert isinstance(fb, Feedback)
        assert (
            fb.status == "wrong"
            or fb.status == "not attempted"
            or same_answer(answer, EXERCISE_KINDS[which].answer)
            or EXERCISE_KINDS[which].compare is not None
            or EXERCISE_KINDS[which].choices
        )
        fb._repr_html_()

    @settings(max_examples=150, deadline=None)
    @given(answer=answers, expected=answers)
    def test_same_answer_is_a_bool(self, answer, expected):
        assert same_answer(answer, expected) in (True, False)

    def test_a_broken_exercise_says_so_instead_of_raising(self):
        fb = Exercise("t.x", "q", expected=lambda: 1 / 0).check(1)
        assert fb.status == "wrong" and "ZeroDivisionError" in fb.message and "Hint" in fb.message


class TestNotAttemptedIsGreyAndNeverAFailure:
    @pytest.mark.parametrize("ex", EXERCISE_KINDS, ids=lambda e: e.key)
    @pytest.mark.parametrize("placeholder", [..., None], ids=repr)
    def test_placeholder(self, ex, placeholder):
        ex.reset()
        fb = ex.check(placeholder)
        assert fb.status == "not attempted" and fb.correct is None and not fb
        assert "ul-feedback-not-attempted" in fb._repr_html_() and ex.tries == 0

    def test_no_argument_is_not_attempted(self):
        assert whole().check().status == "not attempted"


# ---- graded hints, diagnosis, tries ------------------------------------------------------------
def graded():
    return Exercise(
        "1.1",
        "The height after the first conv?",
        expected=lambda: 570,
        hint=lambda a: "you forgot the + 1." if a == 569 else "",
        hints=[
            "a valid conv loses pixels at the border.",
            "H_out = H - k + 1.",
            "for a 5-pixel row and k = 3: 5 - 3 + 1 = 3 positions.",
        ],
        explanation="572 - 3 + 1 = 570.",
    )


class TestGradedHintsComeOneMorePerWrongTry:
    def test_first_try_the_nudge_second_the_formula_third_the_worked_case(self):
        ex = graded()
        first = ex.check(1)
        assert first.hints == ("a valid conv loses pixels at the border.",) and first.tries == 1
        assert "Hint 1 of 3: a valid conv loses pixels" in first.message and first.diagnosis == ""
        second = ex.check(2)
        assert len(second.hints) == 2 and "Hint 2 of 3: H_out = H - k + 1." in second.message
        third = ex.check(3)
        assert len(third.hints) == 3 and not third.more
        fourth = ex.check(4)
        assert len(fourth.hints) == 3 and ".solution()" in fourth.more and fourth.tries == 4

    def test_the_diagnosis_comes_before_the_graded_hint(self):
        fb = graded().check(569)
        assert fb.diagnosis == "you forgot the + 1." and fb.message.index("+ 1") < fb.message.index("Hint 1 of 3")

    def test_rerunning_the_same_wrong_answer_counts_and_reset_forgets(self):
        ex = graded()
        ex.check(1)
        assert len(ex.check(1).hints) == 2
        ex.reset()
        assert ex.tries == 0 and len(ex.check(1).hints) == 1

    def test_a_wrong_check_never_shows_the_answer_a_right_one_the_explanation(self):
        ex = graded()
        for a in (1, 2, 3, 4, 569, "x"):
            assert "570" not in ex.check(a).message
        right = ex.check(570)
        assert right.status == "correct" and right.message == "572 - 3 + 1 = 570." and right.tries == 7

    def test_the_html_shows_the_try_the_diagnosis_and_the_hints(self):
        ex = graded()
        ex.check(1)
        html = ex.check(569)._repr_html_()
        assert "ul-feedback ul-feedback-wrong" in html and "try 2" in html and "class='ul-hint'" in html
        assert "ul-hint-diagnosis" in html and html.count("<li>") == 2
        assert "ul-feedback ul-feedback-correct" in ex.check(570)._repr_html_()

    def test_a_plain_hint_string_still_works_as_before(self):
        fb = Exercise("t.s", "q", expected=lambda: 3, hint="count them.").check(4)
        assert fb.message == "4 is not it. Hint: count them."

    def test_without_any_hint_the_message_still_points_somewhere(self):
        fb = Exercise("t.n", "q", expected=lambda: 3).check(4)
        assert "Hint" in fb.message and ".solution()" in fb.message and ".solution()" in fb._repr_html_()

    def test_a_raising_or_non_text_diagnosis_is_left_out(self):
        assert Exercise("t.r", "q", expected=lambda: 3, hint=lambda a: 1 / 0, hints=["h"]).check(4).diagnosis == ""
        assert "42" not in Exercise("t.r", "q", expected=lambda: 3, hint=lambda a: 42).check(4).message

    def test_html_in_an_answer_is_escaped(self):
        html = whole().check("<b>x</b>")._repr_html_()
        assert "<b>x</b>" not in html and "&lt;b&gt;" in html


class TestSolutionIsShownOnlyWhenAsked:
    def test_the_solution_has_the_answer_and_the_explanation(self):
        s = graded().solution()
        assert isinstance(s, Solution) and "570" in repr(s) and "572 - 3 + 1" in repr(s)
        assert "ul-solution" in s._repr_html_() and "570" in s._repr_html_()

    def test_a_choice_solution_names_the_letter_and_its_text(self):
        ex = Exercise("t.c", "q", expected="b", choices={"a": "one", "b": "two"}, explanation="two it is.")
        assert "b: two" in repr(ex.solution())


class TestMultipleChoice:
    def ex(self):
        return Exercise("t.c", "q", expected="b", choices={"a": "one", "b": "two", "c": "three"}, hints=["think"])

    @pytest.mark.parametrize("answer", ["b", "B", " b ", "B\n"])
    def test_answers_are_case_insensitive(self, answer):
        assert self.ex().check(answer).correct

    @pytest.mark.parametrize("answer", ["z", "two", 2, ("b",), True])
    def test_an_answer_outside_the_choices_asks_for_a_letter_and_is_not_a_try(self, answer):
        ex = self.ex()
        fb = ex.check(answer)
        assert fb.status == "wrong" and "answer with one of 'a', 'b', 'c'" in fb.message and ex.tries == 0

    def test_a_wrong_letter_is_a_try(self):
        ex = self.ex()
        assert ex.check("a").hints == ("think",) and ex.tries == 1

    def test_the_question_shows_the_choices(self):
        html = self.ex()._repr_html_()
        assert "ul-exercise" in html and "<li><b>b</b>: two</li>" in html


# ---- code exercises -----------------------------------------------------------------------------
def code_ex():
    return CodeExercise(
        "1.8",
        "Write conv_out(h, k, s, p).",
        C.check_conv_out,
        hints=["try it on a 5-pixel row with k = 3.", "floor((h + 2p - k)/s) + 1"],
        explanation="The kernel fits at floor((h + 2p - k)/s) + 1 positions.",
    )


def conv_stub(h, k, s, p): ...


class TestCodeExercises:
    def test_a_stub_and_the_placeholder_are_not_attempted_and_not_tries(self):
        ex = code_ex()
        for student in (..., None, conv_stub):
            assert ex.check(student).status == "not attempted"
        assert ex.tries == 0

    def test_a_wrong_function_gets_the_case_the_diagnosis_and_a_graded_hint(self):
        ex = code_ex()
        fb = ex.check(lambda h, k, s, p: (h + 2 * p - k) // s)
        assert fb.status == "wrong" and fb.summary.startswith("for H=5, k=3, s=1, p=0 yours gives 2, nn.Conv2d gives 3")
        assert "+ 1" in fb.diagnosis and fb.hints == ("try it on a 5-pixel row with k = 3.",)
        assert "floor((h + 2p - k)/s)" not in fb.message  # the formula is the second hint
        assert len(ex.check(lambda h, k, s, p: h).hints) == 2

    def test_the_reference_is_the_answer_and_passes(self):
        ex = code_ex()
        assert ex.answer is ex.reference is C.check_conv_out.reference
        fb = ex.check(ex.answer)
        assert fb.correct and "24 cases" in fb.message and "positions" in fb.message

    def test_the_solution_shows_the_reference_code(self):
        s = code_ex().solution()
        assert "def conv_out(h, k, s, p):" in s.code and "<pre class='ul-solution-code'" in s._repr_html_()

    def test_a_number_instead_of_code_is_not_a_try(self):
        ex = code_ex()
        fb = ex.check(570)
        assert fb.status == "wrong" and "without calling it" in fb.message and ex.tries == 0

    def test_a_raising_checker_is_reported_not_raised(self):
        def broken_checker(student):
            raise RuntimeError("checker bug")

        fb = CodeExercise("t.9", "q", broken_checker, reference=len).check(len)
        assert fb.status == "wrong" and "checker bug" in fb.message

    def test_a_code_exercise_is_an_exercise(self):
        ex = code_ex()
        assert isinstance(ex, Exercise) and ex.check("definitely wrong").status == "wrong"
        assert "Hint" in ex.check("definitely wrong").message and "Hint" in ex.check(-1).message

    @settings(max_examples=60, deadline=None)
    @given(value=answers, which=st.sampled_from(["conv_out", "pool_size", "max_pool", "center_crop", "head"]))
    def test_any_returned_value_gives_feedback(self, value, which):
        ex = CodeExercise("t.h", "q", C.CHECKERS[which])
        fb = ex.check(lambda *args, **kwargs: value)
        assert isinstance(fb, Feedback) and fb.status in ("wrong", "not attempted")


# ---- keys across the course ----------------------------------------------------------------------
class TestExerciseKeysAreUniqueAcrossTheCourse:
    def test_no_two_lesson_exercises_share_a_key(self):
        exercises = all_exercises(*LESSONS)
        assert len(exercises) > 40
        assert duplicate_keys(exercises) == {}

    def test_a_duplicate_would_be_found(self):
        a, b = whole(), whole(3)
        assert duplicate_keys([a, b, graded()]) == {"t.1": [a, b]}

    def test_every_lesson_exercise_accepts_its_answer_and_refuses_nonsense(self):
        for ex in all_exercises(*LESSONS):
            ex.reset()
            assert ex.check(ex.answer).correct, ex.key
            assert ex.check("definitely wrong").status == "wrong", ex.key
            assert not math.isnan(ex.tries) and ex.tries >= 1
            ex.reset()


def test_whole_and_tuple_readings_are_what_the_hints_look_at():
    from unet_lesson.ui.exercises import tuple_reading, whole_reading

    assert (
        whole_reading("570") == whole_reading(570) == 570
        and whole_reading(True) is None
        and whole_reading(570.0) is None
    )
    assert whole_reading("a") is None and whole_reading("(1, 2)") is None
    assert tuple_reading("(284, 284)", 2) == (284, 284) and tuple_reading("284x284x64", 3, whole=True) == (284, 284, 64)
    assert tuple_reading("(284, 284)", 3) is None and tuple_reading((True, 1, 2), 3, whole=True) is None
    assert tuple_reading((1.5, 2), 2) == (1.5, 2) and tuple_reading((1.5, 2), 2, whole=True) is None
