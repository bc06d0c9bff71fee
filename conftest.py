"""The lesson notebooks are executed once per test run, by nbval; the teaching checks read that same run.

After the last code cell of a lesson notebook (``notebooks/NN_topic.ipynb``, not the generated solutions)
has run, the notebook with the outputs nbval collected is checked by ``scripts/check_notebooks.py``: no
exercise's answer above it, a guess before every widget. A problem fails that last cell's test, naming
the exercise or widget; ``tests/test_notebook_teaching.py`` shows the check and this hook catch one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def _lesson_notebooks() -> set[str]:
    from unet_lesson import lessons

    return {lesson.notebook for lesson in lessons.lessons()}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call" or type(item).__name__ != "IPyNbCell":
        return
    path = Path(str(item.fspath))
    if path.parent.name == "solutions" or path.stem not in _lesson_notebooks():
        return
    outputs = getattr(item, "test_outputs", None)
    if outputs is not None:
        item.cell.outputs = outputs  # the collector's notebook now holds this run's outputs
    nb = item.parent.nb
    if item.cell_num != sum(cell.cell_type == "code" for cell in nb.cells) - 1:
        return
    report = outcome.get_result()
    if not report.passed:
        return
    import nbformat

    sys.path.insert(0, str(ROOT / "scripts"))
    import check_notebooks

    executed = json.loads(nbformat.writes(nb))
    problems = check_notebooks.leaks(executed, path.stem) + check_notebooks.missing_prompts(executed, path.stem)
    if problems:
        report.outcome = "failed"
        report.longrepr = f"{path.name} teaches against its rules (scripts/check_notebooks.py):\n" + "\n".join(problems)
