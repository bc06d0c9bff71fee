"""Lesson 00 (start here): the black-box view and the border experiment agree with the shape table and real
forward passes; any value gets an answer or a message at once; the glossary quotes the notes; the first
prediction is asked before anything shows its answer."""

import json
import time
from pathlib import Path

import pytest
import torch

from unet_lesson import UNet, output_size, shape_table
from unet_lesson.lessons import l00_start_here as start
from unet_lesson.lessons import lessons
from unet_lesson.ui.glossary import GLOSSARY, glossary_html, term
from unet_lesson.ui.widgets import safe_view

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"


# ---- the black box ----------------------------------------------------------------------------
@pytest.mark.parametrize("size,padding", [(572, "valid"), (188, "valid"), (700, "valid"), (96, "same"), (576, "same")])
def test_network_io_view_is_the_shape_table(size, padding):
    v = start.network_io_view(size, padding)
    t = shape_table(size, padding=padding)
    assert (v.data["input"], v.data["output"], v.data["params"]) == (size, t.output_shape[1], t.total_params)
    assert f"{t.output_shape[1]}×{t.output_shape[2]}×2" in v.html and "the paper gives no count" in v.html


@pytest.mark.parametrize(
    "bad,words",
    [
        (dict(input_size=573), "Nearest valid sizes"),
        (dict(input_size=0), "input"),
        (dict(input_size=-5), "input"),
        (dict(input_size=572.5), "whole number"),
        (dict(input_size="572"), "whole number"),
        (dict(input_size=None), "whole number"),
        (dict(input_size=True), "whole number"),
        (dict(input_size=float("nan")), "whole number"),
        (dict(padding="full"), "padding must be one of"),
        (dict(padding=1), "padding must be one of"),
    ],
)
def test_network_io_view_explains_a_bad_value(bad, words):
    t0 = time.perf_counter()
    v = safe_view(start.network_io_view, **bad)
    assert time.perf_counter() - t0 < 10.0
    assert not v.ok and words in v.error and "Unexpected" not in v.error


@pytest.mark.parametrize("size", [10**9 * 16 + 188, 10**400, -(10**400)])
def test_network_io_view_answers_huge_values_at_once(size):
    t0 = time.perf_counter()
    v = safe_view(start.network_io_view, input_size=size)
    assert time.perf_counter() - t0 < 10.0
    assert v.ok == (size == 10**9 * 16 + 188), v.error
    if v.ok:
        assert v.data["output"] == size - 184


# ---- the experiment: a constant border -----------------------------------------------------
def test_border_view_runs_the_real_network_and_finds_a_constant_border():
    v = start.border_view()
    assert v.data["ran"] is True and v.data["sizes"] == (188, 380, 572)
    assert v.data["borders"] == (184, 184, 184)
    assert v.data["outputs"] == tuple(output_size(s)[0] for s in (188, 380, 572))


def test_border_view_outputs_are_a_real_forward_pass():
    net = UNet(base_channels=1).eval()
    with torch.no_grad():
        real = int(net(torch.zeros(1, 1, 204, 204)).shape[-1])
    assert start.border_view(sizes=(204,)).data["outputs"] == (real,) == (20,)


def test_border_view_beyond_its_limit_uses_the_shape_table():
    sizes = (188 + 16 * 50, 188 + 16 * 10**6)
    t0 = time.perf_counter()
    v = start.border_view(sizes=sizes)
    assert time.perf_counter() - t0 < 10.0
    assert v.data["ran"] is False and v.data["borders"] == (184, 184)
    assert f"{start.MAX_PIXELS:,}" in v.html and "not run" in v.html


@pytest.mark.parametrize(
    "bad,words",
    [
        ((573,), "Nearest valid sizes"),
        ((188, 0), "at least 1"),
        ((188, 2.5), "whole number"),
        (("188",), "whole number"),
        ((), "1 to 6 sizes"),
        (tuple(range(188, 300, 16)), "1 to 6 sizes"),
        (range(10**12), "1 to 6 sizes"),  # read no further than the seventh: no hang, no gigabytes
        (iter(int, 1), "1 to 6 sizes"),  # an endless iterator
        (572, "a few whole numbers"),
        ("572", "a few whole numbers"),
        (None, "a few whole numbers"),
    ],
)
def test_border_view_explains_a_bad_value(bad, words):
    v = safe_view(start.border_view, sizes=bad)
    assert not v.ok and words in v.error and "Unexpected" not in v.error


# ---- the course map and the glossary ---------------------------------------------------------
def test_the_course_map_lists_every_lesson():
    html = start.course_map()
    for lesson in lessons():
        assert lesson.notebook in html and lesson.title in html


def _notes():
    for base in (ROOT, ROOT.parent, ROOT.parent.parent):
        path = base / "shared" / "notes" / "handwritten-notes.txt"
        if path.exists():
            return path.read_text().replace("\\&", "&")
    pytest.skip("the handwritten notes are not next to this checkout")


def test_every_term_marked_as_the_notes_is_in_the_notes_and_the_others_are_not():
    notes = _notes()
    for t in GLOSSARY:
        assert (t.zh in notes) == t.in_notes, f"{t.zh}: in_notes={t.in_notes}"


def test_glossary_lookup_and_table():
    assert term("收缩路径") == "contracting path (encoder)"
    with pytest.raises(KeyError, match="not in the glossary"):
        term("不存在")
    html = glossary_html()
    assert html.count("(not in the notes)") == sum(not t.in_notes for t in GLOSSARY) >= 2
    assert all(t.zh.replace("&", "&amp;") in html for t in GLOSSARY)


# ---- exercises and the order of the notebook ---------------------------------------------------
@pytest.mark.parametrize("ex", start.EXERCISES, ids=lambda e: e.key)
def test_exercises_have_graded_hints_and_diagnose_typical_answers(ex):
    ex.reset()
    assert ex.check(...).status == "not attempted"
    assert len(ex.hints) == 3 and all(h.strip() for h in ex.hints)
    assert "Hint" in ex.check("definitely wrong").message
    ex.reset()


def test_exercise_diagnoses():
    assert "same padding" in start.EX_OUTPUT.check(572).message
    assert "smaller" in start.EX_OUTPUT.check(600).message
    assert "one or two" in start.EX_OUTPUT.check(570).message
    assert "before the last layer" in start.EX_CHANNELS.check(64).message
    assert start.EX_OUTPUT.check(388).correct and start.EX_CHANNELS.check("2").correct
    for ex in start.EXERCISES:
        ex.reset()


def test_the_first_prediction_comes_before_the_cell_that_prints_it():
    """0.1 is asked before the summary line and the experiment print 388 (predict, then run)."""
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]]
    ask = next(i for i, c in enumerate(cells) if "EX_OUTPUT.check(" in c)
    shows = [i for i, c in enumerate(cells) if "summary()" in c or "border_view(" in c or 'WIDGETS["start"]' in c]
    assert shows and ask < min(shows)
