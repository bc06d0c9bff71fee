"""Write ``solutions/NN_*.ipynb``: the lesson notebooks with every exercise filled in, for instructors.

    make solutions            # = .venv/bin/python scripts/make_solutions.py
    .venv/bin/python scripts/make_solutions.py --check   # only say which exercise cells break the convention

Generated from the student notebooks, never kept by hand (``solutions/`` is ignored by git). An exercise cell
is a code cell that ends with ``<module>.EX_NAME.check(<argument>)``:

* an answer exercise has a line ``answer = ...``: it becomes ``answer = <the worked answer>``;
* a code exercise has the student's stub above the check: it becomes the course's reference solution
  (``EX.solution_source``, which defines the same name).

Every check line becomes ``assert <module>.EX_NAME.check(<argument>).correct``, so running the solutions
(``make test`` runs them under nbval) proves that every checker accepts a right answer in the notebook itself.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
CHECK = re.compile(r"^(?P<indent>\s*)(?P<module>[A-Za-z_]\w*)\.(?P<name>EX_\w+)\.check\((?P<arg>.*)\)\s*;?\s*$")
DEFINES = re.compile(r"^(?:def|class) (\w+)", re.M)
STUB_ANSWER = re.compile(r"^answer\s*=\s*\.\.\.(?P<comment>\s*#.*)?$")


class ConventionError(ValueError):
    """An exercise cell that the generator cannot fill in (the message says which and why)."""


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _set_source(cell, text: str) -> None:
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def exercise_cells(nb: dict):
    """``(index, match of the check line)`` for every exercise cell of a notebook."""
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        lines = _source(cell).rstrip().split("\n")
        m = CHECK.match(lines[-1]) if lines else None
        if m:
            yield i, m


def _exercise(name: str, notebook: str):
    """The exercise object ``name`` of the notebook's lesson module (or, failing that, any lesson module)."""
    from unet_lesson import lessons as course

    modules = course.modules()
    mine = [m for m in modules if m.LESSON.notebook == notebook]
    for module in mine + modules:
        if hasattr(module, name):
            return getattr(module, name)
    raise ConventionError(f"{notebook}: no lesson module has an exercise {name}")


def _literal(value) -> str:
    """The answer as Python source a student could have typed."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):
        value = value.item()
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def solve(nb: dict, notebook: str) -> dict:
    """A copy of ``nb`` with every exercise filled in and every check asserted."""
    from unet_lesson.ui.exercises import CodeExercise

    nb = json.loads(json.dumps(nb))
    found = 0
    for i, m in exercise_cells(nb):
        cell = nb["cells"][i]
        ex = _exercise(m["name"], notebook)
        lines = _source(cell).rstrip().split("\n")
        body = lines[:-1]
        where = f"{notebook}, cell {i} ({m['name']})"
        if isinstance(ex, CodeExercise):
            arg = m["arg"].strip()
            src = ex.solution_source.strip("\n")
            if not re.search(rf"^(def|class)\s+{re.escape(arg)}\b", src, re.M):
                defined = DEFINES.findall(src)
                raise ConventionError(
                    f"{where}: the check is on {arg!r}, but the reference solution does not "
                    f"define it (it defines {defined})"
                )
            body = src.split("\n") + [""]
        else:
            stubs = [k for k, line in enumerate(body) if STUB_ANSWER.match(line.strip())]
            if len(stubs) != 1 or m["arg"].strip() != "answer":
                raise ConventionError(
                    f"{where}: an answer exercise cell has one line 'answer = ...' and ends "
                    f"with {m['module']}.{m['name']}.check(answer)"
                )
            body[stubs[0]] = f"answer = {_literal(ex.answer)}  # the worked answer"
        assert_line = (
            f"{m['indent']}assert {m['module']}.{m['name']}.check({m['arg']}).correct, "
            f'"the checker rejects the course\'s own answer to {ex.key}"'
        )
        _set_source(cell, "\n".join(body + [assert_line]))
        cell["outputs"], cell["execution_count"] = [], None
        found += 1
    nb.setdefault("metadata", {})["unet_lesson"] = {"solutions": True, "exercises": found}
    return nb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check the convention; write nothing")
    ap.add_argument("--out", type=Path, default=SOLUTIONS)
    args = ap.parse_args(argv)
    problems, written = [], 0
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text())
        try:
            solved = solve(nb, path.stem)
        except ConventionError as e:
            problems.append(str(e))
            continue
        if not args.check:
            args.out.mkdir(exist_ok=True)
            (args.out / path.name).write_text(json.dumps(solved, indent=1, ensure_ascii=False) + "\n")
            written += 1
    for p in problems:
        print(f"convention: {p}", file=sys.stderr)
    if not args.check:
        print(f"wrote {written} notebooks with their exercises solved to {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
