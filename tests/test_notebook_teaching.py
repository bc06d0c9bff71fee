"""How a lesson teaches, checked on every executed notebook (scripts/check_notebooks.py, run by ../conftest.py
on nbval's own run of each lesson, so that ``make test`` executes every notebook once):

* predict, then run: no exercise's answer appears above it, in text or in any output;
* a guess before every widget: the markdown right above each ``WIDGETS[...].show()`` asks for one.

The checks themselves are shown to fail on a notebook that breaks each rule.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import check_notebooks as C  # noqa: E402


def _tiny_lesson(tmp: Path, leak: bool) -> Path:
    """A three-cell 01_convolution_sizes: the import, a cell that may print exercise 1.1's answer, 1.1 itself."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from unet_lesson.lessons import l01_convolution_sizes as conv"),
        nbformat.v4.new_code_cell("print(conv.conv_out(572, 3, 1, 0))" if leak else "print('no answer here')"),
        nbformat.v4.new_code_cell("answer = ...\nconv.EX_FIRST_CONV.check(answer)"),
    ]
    path = tmp / "01_convolution_sizes.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.mark.parametrize("leak", [False, True], ids=["clean", "an output gives the answer away"])
def test_nbval_runs_the_teaching_checks_on_its_own_run_of_each_lesson(leak):
    """make test executes every lesson once (nbval); ../conftest.py checks that run. Shown here on a tiny
    lesson whose second cell prints exercise 1.1's answer (570) above it: the last cell's test fails, naming it."""
    tmp = ROOT / "test-artifacts" / f"teaching-check-{'leak' if leak else 'clean'}"
    tmp.mkdir(parents=True, exist_ok=True)
    path = _tiny_lesson(tmp, leak)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", str(path.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if leak:
        assert run.returncode == 1 and "1 failed, 2 passed" in run.stdout, run.stdout[-3000:]
        assert "EX_FIRST_CONV" in run.stdout and "teaches against its rules" in run.stdout
    else:
        assert run.returncode == 0 and "3 passed" in run.stdout, run.stdout[-3000:]


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
