"""Exercise 7.9 as the notebook gives it: ``SameUNet.__init__`` written out, ``forward`` left to the student.

As for 6.6 (tests/test_my_unet_skeleton.py): the skeleton's ``__init__`` is the reference solution's, character
for character (``make solutions`` replaces the cell with ``EX_SAME_UNET.solution_source``), it has lesson 06's
layer names, the skeleton as given is "not attempted", the skeleton with a right ``forward`` passes (the
reference's, and 6.6's written without the crop), and with 7.8's ``SameBlock`` still a stub the check says so.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import torch
from torch import nn

from unet_lesson import shape_table
from unet_lesson.lessons import l07_same_padding_unet as L
from unet_lesson.ui.checkers import solutions as S

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / L.LESSON.path
FORWARD = "    def forward(self, x):\n"

# 6.6's forward as a student wrote it, the crop taken out: as right as the reference's compact one
LESSON_06_FORWARD = """    def forward(self, x):
        copies = []
        for block in self.contracting:
            x = block(x)
            copies.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up_conv, block in zip(self.up_convs, self.expanding):
            x = up_conv(x)
            x = block(torch.cat([copies.pop(), x], dim=1))
        return self.head(x)
"""


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
    return _exercise_cell("same.EX_SAME_UNET.check(SameUNet)")


def _until_forward(text: str) -> str:
    start = text.index("class SameUNet")
    assert FORWARD in text[start:], f"no '{FORWARD.strip()}' in:\n{text}"
    return text[start : text.index(FORWARD, start)]


def _define(source: str, **names):
    namespace = {"torch": torch, "nn": nn, **names}  # the notebook's imports (no center_crop in lesson 07)
    exec(source, namespace)  # the cell as the student runs it, without its check line
    return namespace["SameUNet"]


def _filled(forward: str) -> str:
    skeleton = _skeleton()
    return skeleton[: skeleton.index(FORWARD)] + forward


def test_the_notebook_gives_the_reference_init_word_for_word():
    reference = inspect.getsource(S.SameUNet)
    given, wanted = _until_forward(_skeleton()), _until_forward(reference)
    assert given == wanted, (
        "exercise 7.9's cell and unet_lesson/ui/checkers/solutions.py's SameUNet must share their __init__ (and "
        "class line and docstring): copy the reference's text up to 'def forward' into the cell"
    )
    assert _until_forward(L.EX_SAME_UNET.solution_source) == wanted  # what make solutions puts in the cell


def test_the_init_has_lesson_06s_layer_names():
    with torch.device("meta"):
        mine, lesson_06 = S.SameUNet(), S.MyUNet()
    assert list(dict(mine.named_children())) == list(dict(lesson_06.named_children()))
    assert [type(m).__name__ for m in mine.expanding] == ["SameBlock"] * 4


def test_the_skeleton_leaves_forward_to_the_student_and_is_not_attempted():
    skeleton = _skeleton()
    forward = skeleton[skeleton.index(FORWARD) :]
    code = [line for line in forward.split("\n")[1:] if line.strip() and not line.strip().startswith("#")]
    assert [line.split("#")[0].strip() for line in code] == ["..."], forward  # only the stub: no code given
    for step in ("contracting path", "bottom", "expanding path", "up-conv", "copy", "no crop", "head"):
        assert step in forward, f"the stub's comments name the step {step!r}"
    r = L.EX_SAME_UNET.checker(_define(skeleton, SameBlock=S.SameBlock))
    assert r.status == "not attempted" and "SameUNet.forward is still a stub" in r.message, r


def test_the_skeleton_with_a_right_forward_passes():
    reference = inspect.getsource(S.SameUNet)
    for forward in (reference[reference.index(FORWARD) :], LESSON_06_FORWARD):
        r = L.EX_SAME_UNET.checker(_define(_filled(forward), SameBlock=S.SameBlock))
        assert r.status == "correct" and "3 small configurations" in r.message, (forward, r)


def test_a_forward_on_an_unwritten_same_block_is_not_attempted_and_says_why():
    block_stub = _exercise_cell("same.EX_SAME_BLOCK.check(SameBlock)")
    namespace = {"nn": nn, "torch": torch}
    exec(block_stub, namespace)
    r = L.EX_SAME_UNET.checker(_define(_filled(LESSON_06_FORWARD), SameBlock=namespace["SameBlock"]))
    assert r.status == "not attempted", r
    assert "built from your SameBlock" in r.message and "SameBlock.forward is still a stub" in r.message, r


def test_the_notebook_states_the_lessons_minutes():
    first = "".join(_cells()[0]["source"])
    m = re.search(r"\*About (\d+) minutes\.", first)
    assert m and int(m.group(1)) == L.LESSON.minutes, (m and m.group(0), L.LESSON.minutes)


def test_the_worked_hint_quotes_the_shape_table():
    def hwc(shape):
        c, h, w = shape
        return f"{h}×{w}×{c}"

    rows = {r.kind: r for r in shape_table(512, padding="same").where(path="expanding", level=4)}
    convs = shape_table(512, padding="same").where(path="expanding", level=4, kind="conv")
    assert rows["crop"].in_shape == rows["crop"].out_shape == rows["up"].out_shape  # the crop keeps everything
    worked = (
        f"{hwc(rows['up'].in_shape)} → up-conv → {hwc(rows['up'].out_shape)}; the copy kept before the fourth "
        f"pool is {hwc(rows['crop'].in_shape)} already; concatenated {hwc(rows['concat'].out_shape)} → SameBlock "
        f"→ {hwc(convs[-1].out_shape)}."
    )
    assert L.EX_SAME_UNET.hints[2].endswith(worked), (L.EX_SAME_UNET.hints[2], worked)
