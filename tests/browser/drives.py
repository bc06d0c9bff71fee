"""The table: notebook -> the widgets a browser test drives in it, and what they must show.

Adding a notebook is a few lines: a :class:`NotebookDrive` with one :class:`WidgetDrive` per
widget (its ``ul-<topic>`` class, how to read its controls, the expected numbers as a
function of the controls computed by ``unet_lesson``, and the steps). Entries whose notebook
does not exist yet are skipped ("not landed yet"). Every notebook in ``notebooks/`` must be
listed (``test_every_notebook_is_in_the_table``), with an empty widget list when it has none.
"""
from __future__ import annotations

from unet_lesson import check_input_size, conv_out, count_parameters, nearest_valid_sizes, shape_table

from .driving import NotebookDrive, Press, Select, Type, WidgetDrive, number


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

# 00 start here: the whole U-Net as a black box (input size, padding -> output size, parameters)
def _start_expected(input_size, padding):
    out_h, out_w = check_input_size(input_size, padding=padding)  # InvalidInputSize is a ValueError
    return {"input": input_size, "output": out_h, "params": count_parameters(padding=padding)}


def _start_texts(input_size, padding):
    c_out, h_out, w_out = shape_table(input_size, padding=padding).output_shape
    return [f"{input_size}×{input_size}×1", f"{h_out}×{w_out}×{c_out}",
            f"{count_parameters(padding=padding):,} parameters"]


def _start_nearest(input_size, padding):
    if input_size < 1:
        return {}
    below, above = nearest_valid_sizes(input_size, padding=padding)
    return {"nearest_below": below, "nearest_above": above}


def _start_error_texts(message, input_size, padding):
    return [message] + [number(n) for n in _start_nearest(input_size, padding).values() if n]


START = WidgetDrive(
    css="ul-start",
    controls={"input_size": int, "padding": str},
    expected=_start_expected,
    texts=_start_texts,
    error_texts=_start_error_texts,
    error_data=_start_nearest,
    steps=[
        Type("input_size", 588),
        Type("input_size", 570, invalid=True),  # odd size at a 2x2 pool: says where and the nearest sizes
        Select("padding", "same", invalid=True),
        Type("input_size", 96),
        Type("input_size", -5, invalid=True),
        Select("padding", "valid", invalid=True),
        Type("input_size", 572),
    ],
)

LESSONS: list[NotebookDrive] = [
    NotebookDrive("notebooks/00_start_here.ipynb", [START]),
]

# Voila serves the explorer (and the fixture, to prove the harness before the explorer lands)
VOILA: list[NotebookDrive] = [
    NotebookDrive("tests/browser/fixtures/fixture_conv.ipynb", [FIXTURE_CONV], run_timeout_s=60),
]

LAB: list[NotebookDrive] = FIXTURES + LESSONS


def drive_params(drives: list[NotebookDrive]) -> list:
    """pytest parameters, one per notebook; those whose file does not exist yet are skipped."""
    import pytest

    from .harness import ROOT

    return [pytest.param(d, id=d.name, marks=pytest.mark.skipif(
        not (ROOT / d.path).exists(), reason=f"{d.path}: not landed yet")) for d in drives]
