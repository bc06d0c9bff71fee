"""Notebooks are committed clean (no outputs), valid, numbered in course order, and listed in the README."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert (ROOT / "notebooks" / "00_start_here.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: run nbstripout on it"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_named_and_listed(path):
    assert re.fullmatch(r"(\d\d_[a-z0-9_]+|explorer)\.ipynb", path.name), path.name
    assert f"notebooks/{path.name}" in (ROOT / "README.md").read_text(), f"README does not list {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_imports_the_package_not_a_copy(path):
    """Package thick, notebooks thin: no model class defined in a lesson, except in the student's own code
    exercises (a stub the student fills in, whose cell ends by handing it to a checker: ``L.EX_NAME.check(X)``)."""
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    exercise = re.compile(r"\.EX_\w+\.check\(\w+\)\s*$")
    code = "\n".join(c for c in cells if not exercise.search(c))
    assert "unet_lesson" in "\n".join(cells)
    assert not re.search(r"^\s*class \w+\(.*nn\.Module", code, re.M), f"{path.name} defines a network"
