"""Exercises 6.6 and 7.9 as the notebooks give them: the network's ``__init__`` written out, ``forward`` left to
the student.

For each: the skeleton's ``__init__`` is the reference solution's, character for character (``make solutions``
replaces the cell with ``EX.solution_source``, so both give the same class); the skeleton as given is "not
attempted"; the skeleton with a right ``forward`` passes; with the block of the exercise before (6.5's
``DoubleConv``, 7.8's ``SameBlock``) still a stub, the check says so instead of failing the student's forward.
7.9 has lesson 06's layer names and takes 6.6's way of writing forward too.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from unet_lesson import shape_table
from unet_lesson.core.ops import center_crop
from unet_lesson.lessons import l06_the_original_unet as L06
from unet_lesson.lessons import l07_same_padding_unet as L07
from unet_lesson.ui.checkers import solutions as S

ROOT = Path(__file__).resolve().parents[1]
FORWARD = "    def forward(self, x):\n"


@dataclass(frozen=True)
class Skeleton:
    """One network exercise: its lesson, class, check line, the block it is built from, the steps its stub names."""

    lesson: object
    exercise: object
    name: str
    check: str
    reference: type
    block: str
    block_check: str
    block_reference: type
    steps: tuple[str, ...]
    passes_with: tuple[str, ...]  # what the success message says
    names: dict = field(default_factory=dict)  # the notebook's imports the cell uses

    def cells(self) -> list[dict]:
        return json.loads((ROOT / self.lesson.LESSON.path).read_text())["cells"]

    def cell(self, check_line: str) -> str:
        """The code cell that ends with ``check_line``, without that line (what the student edits)."""
        for cell in self.cells():
            text = "".join(cell["source"]).rstrip()
            if cell["cell_type"] == "code" and text.endswith(check_line):
                return text[: -len(check_line)]
        raise AssertionError(f"no cell of {self.lesson.LESSON.path} ends with {check_line}")

    def skeleton(self) -> str:
        return self.cell(self.check)

    def until_forward(self, text: str) -> str:
        start = text.index(f"class {self.name}")
        assert FORWARD in text[start:], f"no '{FORWARD.strip()}' in:\n{text}"
        return text[start : text.index(FORWARD, start)]

    def filled(self, forward: str) -> str:
        skeleton = self.skeleton()
        return skeleton[: skeleton.index(FORWARD)] + forward

    def define(self, source: str, block) -> type:
        namespace = {"torch": torch, "nn": nn, **self.names, self.block: block}
        exec(source, namespace)  # the cell as the student runs it, without its check line
        return namespace[self.name]


def _forward_of(cls: type) -> str:
    source = inspect.getsource(cls)
    return source[source.index(FORWARD) :]


MY_UNET = Skeleton(
    L06,
    L06.EX_MY_UNET,
    "MyUNet",
    "whole.EX_MY_UNET.check(MyUNet)",
    S.MyUNet,
    "DoubleConv",
    "whole.EX_DOUBLE_CONV.check(DoubleConv)",
    S.DoubleConv,
    ("contracting path", "bottom", "expanding path", "up-conv", "copy", "head"),
    ("31,030,658", "3 small configurations"),
    {"np": np, "center_crop": center_crop},
)
SAME_UNET = Skeleton(
    L07,
    L07.EX_SAME_UNET,
    "SameUNet",
    "same.EX_SAME_UNET.check(SameUNet)",
    S.SameUNet,
    "SameBlock",
    "same.EX_SAME_BLOCK.check(SameBlock)",
    S.SameBlock,
    ("contracting path", "bottom", "expanding path", "up-conv", "copy", "no crop", "head"),
    ("3 small configurations",),
)
CASES = pytest.mark.parametrize("ex", [MY_UNET, SAME_UNET], ids=["6.6 MyUNet", "7.9 SameUNet"])

# 6.6's forward with the crop taken out: as right for 7.9 as the reference's compact one
LESSON_06_FORWARD = _forward_of(S.MyUNet).replace("center_crop(copies.pop(), x.shape[-2:])", "copies.pop()")
assert "center_crop" not in LESSON_06_FORWARD


@CASES
def test_the_notebook_gives_the_reference_init_word_for_word(ex):
    given, wanted = ex.until_forward(ex.skeleton()), ex.until_forward(inspect.getsource(ex.reference))
    assert given == wanted, (
        f"exercise {ex.exercise.key}'s cell and unet_lesson/ui/checkers/solutions.py's {ex.name} must share their "
        "__init__ (and class line and docstring): copy the reference's text up to 'def forward' into the cell"
    )
    assert ex.until_forward(ex.exercise.solution_source) == wanted  # what make solutions puts in the cell


@CASES
def test_the_skeleton_leaves_forward_to_the_student_and_is_not_attempted(ex):
    skeleton = ex.skeleton()
    forward = skeleton[skeleton.index(FORWARD) :]
    code = [line for line in forward.split("\n")[1:] if line.strip() and not line.strip().startswith("#")]
    assert [line.split("#")[0].strip() for line in code] == ["..."], forward  # only the stub: no code given
    for step in ex.steps:
        assert step in forward, f"the stub's comments name the step {step!r}"
    r = ex.exercise.checker(ex.define(skeleton, ex.block_reference))
    assert r.status == "not attempted" and f"{ex.name}.forward is still a stub" in r.message, r


@pytest.mark.parametrize(
    "ex, forward",
    [(MY_UNET, _forward_of(S.MyUNet)), (SAME_UNET, _forward_of(S.SameUNet)), (SAME_UNET, LESSON_06_FORWARD)],
    ids=["6.6 the reference's", "7.9 the reference's", "7.9 written as 6.6's"],
)
def test_the_skeleton_with_a_right_forward_passes(ex, forward):
    r = ex.exercise.checker(ex.define(ex.filled(forward), ex.block_reference))
    assert r.status == "correct" and all(words in r.message for words in ex.passes_with), r


@CASES
def test_a_forward_on_an_unwritten_block_is_not_attempted_and_says_why(ex):
    namespace = {"nn": nn, "torch": torch}
    exec(ex.cell(ex.block_check), namespace)  # the block's cell as given: still a stub
    r = ex.exercise.checker(ex.define(ex.filled(_forward_of(ex.reference)), namespace[ex.block]))
    assert r.status == "not attempted", r
    assert f"built from your {ex.block}" in r.message and f"{ex.block}.forward is still a stub" in r.message, r


def test_7_9_has_lesson_06s_layer_names():
    with torch.device("meta"):
        mine, lesson_06 = S.SameUNet(), S.MyUNet()
    assert list(dict(mine.named_children())) == list(dict(lesson_06.named_children()))
    assert [type(m).__name__ for m in mine.expanding] == ["SameBlock"] * 4


def _hwc(shape) -> str:
    c, h, w = shape
    return f"{h}×{w}×{c}"


def test_6_6s_worked_hint_quotes_the_shape_table():
    rows = {r.kind: r for r in shape_table(572).where(path="expanding", level=4)}
    convs = shape_table(572).where(path="expanding", level=4, kind="conv")
    worked = (
        f"{_hwc(rows['up'].in_shape)} → up-conv → {_hwc(rows['up'].out_shape)}; the copy kept before the fourth "
        f"pool, {_hwc(rows['crop'].in_shape)} → crop → {_hwc(rows['crop'].out_shape)}; concatenated "
        f"{_hwc(rows['concat'].out_shape)} → DoubleConv → {_hwc(convs[-1].out_shape)}."
    )
    assert L06.EX_MY_UNET.hints[2].endswith(worked), (L06.EX_MY_UNET.hints[2], worked)


def test_7_9s_worked_hint_quotes_the_shape_table():
    rows = {r.kind: r for r in shape_table(512, padding="same").where(path="expanding", level=4)}
    convs = shape_table(512, padding="same").where(path="expanding", level=4, kind="conv")
    assert rows["crop"].in_shape == rows["crop"].out_shape == rows["up"].out_shape  # the crop keeps everything
    worked = (
        f"{_hwc(rows['up'].in_shape)} → up-conv → {_hwc(rows['up'].out_shape)}; the copy kept before the fourth "
        f"pool is {_hwc(rows['crop'].in_shape)} already; concatenated {_hwc(rows['concat'].out_shape)} → "
        f"SameBlock → {_hwc(convs[-1].out_shape)}."
    )
    assert L07.EX_SAME_UNET.hints[2].endswith(worked), (L07.EX_SAME_UNET.hints[2], worked)
