"""Exercise 6.6 as the notebook gives it: ``MyUNet.__init__`` written out, ``forward`` left to the student.

The skeleton's ``__init__`` is the reference solution's, character for character (``make solutions`` replaces
the cell with ``EX_MY_UNET.solution_source``, so both give the same class), the skeleton as given is "not
attempted", the skeleton with a right ``forward`` passes, and with 6.5's ``DoubleConv`` still a stub the check
says so instead of failing the student's forward.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from unet_lesson.core.ops import center_crop
from unet_lesson.lessons import l06_the_original_unet as L
from unet_lesson.ui.checkers import solutions as S

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / L.LESSON.path
FORWARD = "    def forward(self, x):\n"


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text())["cells"]


def _exercise_cell(check_line: str) -> str:
    """The code cell that ends with ``check_line``, without that line (what the student edits)."""
    for cell in _cells():
        text = "".join(cell["source"]).rstrip()
        if cell["cell_type"] == "code" and text.endswith(check_line):
            return text[: -len(check_line)]
    raise AssertionError(f"no cell of {NOTEBOOK.name} ends with {check_line}")


def _skeleton() -> str:
    return _exercise_cell("whole.EX_MY_UNET.check(MyUNet)")


def _until_forward(text: str) -> str:
    start = text.index("class MyUNet")
    assert FORWARD in text[start:], f"no '{FORWARD.strip()}' in:\n{text}"
    return text[start : text.index(FORWARD, start)]


def _define(source: str, **names):
    namespace = {"np": np, "torch": torch, "nn": nn, "center_crop": center_crop, **names}
    exec(source, namespace)  # the cell as the student runs it, without its check line
    return namespace["MyUNet"]


def test_the_notebook_gives_the_reference_init_word_for_word():
    reference = inspect.getsource(S.MyUNet)
    given, wanted = _until_forward(_skeleton()), _until_forward(reference)
    assert given == wanted, (
        "exercise 6.6's cell and unet_lesson/ui/checkers/solutions.py's MyUNet must share their __init__ (and "
        "class line and docstring): copy the reference's text up to 'def forward' into the cell"
    )
    assert _until_forward(L.EX_MY_UNET.solution_source) == wanted  # what make solutions puts in the cell


def test_the_skeleton_leaves_forward_to_the_student_and_is_not_attempted():
    skeleton = _skeleton()
    forward = skeleton[skeleton.index(FORWARD) :]
    code = [line for line in forward.split("\n")[1:] if line.strip() and not line.strip().startswith("#")]
    assert [line.split("#")[0].strip() for line in code] == ["..."], forward  # only the stub: no code given
    for step in ("contracting path", "bottom", "expanding path", "up-conv", "copy", "head"):
        assert step in forward, f"the stub's comments name the step {step!r}"
    r = L.EX_MY_UNET.checker(_define(skeleton, DoubleConv=S.DoubleConv))
    assert r.status == "not attempted" and "MyUNet.forward is still a stub" in r.message, r


def test_the_skeleton_with_a_right_forward_passes():
    skeleton = _skeleton()
    reference = inspect.getsource(S.MyUNet)
    filled = skeleton[: skeleton.index(FORWARD)] + reference[reference.index(FORWARD) :]
    r = L.EX_MY_UNET.checker(_define(filled, DoubleConv=S.DoubleConv))
    assert r.status == "correct" and "31,030,658" in r.message and "3 small configurations" in r.message, r


def test_a_forward_on_an_unwritten_double_conv_is_not_attempted_and_says_why():
    double_conv_stub = _exercise_cell("whole.EX_DOUBLE_CONV.check(DoubleConv)")
    namespace = {"nn": nn, "torch": torch}
    exec(double_conv_stub, namespace)
    skeleton, reference = _skeleton(), inspect.getsource(S.MyUNet)
    filled = skeleton[: skeleton.index(FORWARD)] + reference[reference.index(FORWARD) :]
    r = L.EX_MY_UNET.checker(_define(filled, DoubleConv=namespace["DoubleConv"]))
    assert r.status == "not attempted", r
    assert "built from your DoubleConv" in r.message and "DoubleConv.forward is still a stub" in r.message, r


def test_the_notebook_states_the_lessons_minutes():
    first = "".join(_cells()[0]["source"])
    m = re.search(r"\*About (\d+) minutes\.", first)
    assert m and int(m.group(1)) == L.LESSON.minutes, (m and m.group(0), L.LESSON.minutes)


def test_the_worked_hint_quotes_the_shape_table():
    from unet_lesson import shape_table

    def hwc(shape):
        c, h, w = shape
        return f"{h}×{w}×{c}"

    rows = {r.kind: r for r in shape_table(572).where(path="expanding", level=4)}
    convs = shape_table(572).where(path="expanding", level=4, kind="conv")
    worked = (
        f"{hwc(rows['up'].in_shape)} → up-conv → {hwc(rows['up'].out_shape)}; the copy kept before the fourth "
        f"pool, {hwc(rows['crop'].in_shape)} → crop → {hwc(rows['crop'].out_shape)}; concatenated "
        f"{hwc(rows['concat'].out_shape)} → DoubleConv → {hwc(convs[-1].out_shape)}."
    )
    assert L.EX_MY_UNET.hints[2].endswith(worked), (L.EX_MY_UNET.hints[2], worked)
