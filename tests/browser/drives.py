"""The table: notebook -> the widgets a browser test drives in it, and what they must show.

Adding a notebook is a few lines: a :class:`NotebookDrive` with one :class:`WidgetDrive` per
widget (its ``ul-<topic>`` class, how to read its controls, the expected numbers as a
function of the controls computed by ``unet_lesson``, and the steps). Entries whose notebook
does not exist yet are skipped ("not landed yet"). Every notebook in ``notebooks/`` must be
listed (``test_every_notebook_is_in_the_table``), with an empty widget list when it has none.
"""
from __future__ import annotations

from unet_lesson import conv_out

from .driving import NotebookDrive, Press, Select, Type, WidgetDrive


# --------------------------------------------------------------------------------------
# the harness's own fixture: a convolution-size widget built the lessons' way
# --------------------------------------------------------------------------------------
def _fixture_conv_expected(size, kernel, stride, padding):
    return {"output": conv_out(size, kernel, stride, padding)}


def _fixture_conv_texts(size, kernel, stride, padding):
    return [conv_out.explain(size, kernel, stride, padding).text]


FIXTURE_CONV = WidgetDrive(
    css="ul-fixture",
    controls={"size": int, "kernel": int, "stride": int, "padding": int},
    expected=_fixture_conv_expected,
    texts=_fixture_conv_texts,
    steps=[
        Press("kernel", "ArrowRight", 2),   # 3x3 -> 5x5
        Type("size", 101),                  # a typed odd size
        Select("padding", "2"),
        Press("stride", "ArrowRight", 1),   # stride 2: a floor appears in the formula
        Type("size", -4, invalid=True),     # a negative size must be explained, not crash
        Type("size", 64),                   # and the widget recovers
    ],
)

FIXTURES = [NotebookDrive("tests/browser/fixtures/fixture_conv.ipynb", [FIXTURE_CONV], run_timeout_s=60)]

# --------------------------------------------------------------------------------------
# the lessons (filled in as they land on main)
# --------------------------------------------------------------------------------------
LESSONS: list[NotebookDrive] = [
]

# Voila serves the explorer (and the fixture, to prove the harness before the explorer lands)
VOILA: list[NotebookDrive] = [
    NotebookDrive("tests/browser/fixtures/fixture_conv.ipynb", [FIXTURE_CONV], run_timeout_s=60),
]

LAB: list[NotebookDrive] = FIXTURES + LESSONS
