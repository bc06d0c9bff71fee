"""How a lesson teaches, checked on every executed notebook (scripts/check_notebooks.py):

* predict, then run: no exercise's answer appears above it, in text or in any output;
* a guess before every widget: the markdown right above each ``WIDGETS[...].show()`` asks for one.

The checks themselves are shown to fail on a notebook that breaks each rule.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import check_notebooks as C  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_answer_above_its_exercise_and_a_guess_before_every_widget(path):
    nb = C.execute(path)
    problems = C.leaks(nb, path.stem) + C.missing_prompts(nb, path.stem)
    assert not problems, "\n".join(problems)


def _lesson01():
    return json.loads((ROOT / "notebooks" / "01_convolution_sizes.ipynb").read_text())


def test_the_leak_check_finds_an_answer_written_above_its_exercise():
    nb = _lesson01()
    assert not C.leaks(nb, "01_convolution_sizes")
    first = next(i for i, _ in C.exercise_cells(nb))
    name = next(m["name"] for _, m in C.exercise_cells(nb))
    answer = C._exercise(name, "01_convolution_sizes").answer
    leaked = copy.deepcopy(nb)
    leaked["cells"].insert(first, {"cell_type": "markdown", "metadata": {}, "source": [f"The answer is {answer}."]})
    found = C.leaks(leaked, "01_convolution_sizes")
    assert found and name in found[0]


def test_the_prompt_check_finds_a_widget_without_a_guess():
    nb = _lesson01()
    assert not C.missing_prompts(nb, "01_convolution_sizes")
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = [line.replace("Guess", "Look").replace("guess", "look") for line in cell["source"]]
    assert len(C.missing_prompts(nb, "01_convolution_sizes")) == 2  # the conv widget and the field widget
