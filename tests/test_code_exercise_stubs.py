"""Every code exercise of every lesson, as the student first meets it in the notebook: the stub in its cell is
"not attempted" (never "wrong", never an error), the course's reference passes, and the solution on request is code
that defines the same name. The stubs are taken from the notebooks themselves, so a renamed stub or a stub the
checker cannot tell from an attempt fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from unet_lesson import lessons as course
from unet_lesson.ui.exercises import CodeExercise

ROOT = Path(__file__).resolve().parents[1]
CHECK = re.compile(r"^\s*\w+\.(EX_\w+)\.check\((\w+)\)\s*$")


def _stub_cells():
    for module in course.modules():
        nb = json.loads((ROOT / module.LESSON.path).read_text())
        for cell in nb["cells"]:
            lines = "".join(cell["source"]).rstrip().split("\n")
            m = CHECK.match(lines[-1]) if cell["cell_type"] == "code" else None
            if m and isinstance(getattr(module, m.group(1), None), CodeExercise):
                yield pytest.param(
                    module, m.group(1), m.group(2), "\n".join(lines[:-1]), id=f"{module.LESSON.notebook}-{m.group(1)}"
                )


CASES = list(_stub_cells())


def test_every_lesson_with_code_exercises_is_found():
    found = {c.values[0].LESSON.notebook for c in CASES}
    assert {f"0{n}" for n in range(1, 9)} <= {name[:2] for name in found}, sorted(found)


@pytest.mark.parametrize("module,ex_name,name,stub", CASES)
def test_the_stub_is_not_attempted_and_the_reference_passes(module, ex_name, name, stub):
    ex = getattr(module, ex_name)
    namespace = {"np": np, "torch": torch, "nn": nn}
    exec(stub, namespace)  # the cell as the student first sees it, without its check line
    try:
        assert ex.check(namespace[name]).status == "not attempted", f"{ex_name}: the notebook's stub of {name}"
        assert ex.check(ex.reference).correct, f"{ex_name}: the reference"
        code = ex.solution().code
        assert re.search(rf"^(def|class) {name}\b", code, re.M), f"{ex_name}: the solution defines {name}"
    finally:
        ex.reset()
