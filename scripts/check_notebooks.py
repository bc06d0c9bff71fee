"""Two rules of how a lesson teaches, checked on executed notebooks (``tests/test_notebook_teaching.py``):

* **Predict, then run.** No exercise's answer appears above it: not in the markdown, not in a code cell,
  not in any output. The answer is searched the ways it is usually written (``568``, ``31,030,658``,
  ``568x568x64``, ``568×568×64``, ``568²×64``, ``(64, 568, 568)``, ``8.35``); answers too short to search
  (single digits, letters of a multiple choice) are skipped.
* **A guess before every widget.** The markdown cell right above each ``WIDGETS[...].show()`` asks the
  student to guess first (it contains "guess" and "try it": "what will happen for 573? Guess, then try it").

    .venv/bin/python scripts/check_notebooks.py notebooks/01_convolution_sizes.ipynb   # executes, then reports
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_solutions import _exercise, _source, exercise_cells  # noqa: E402

WIDGET = re.compile(r"WIDGETS\[[\"'](\w+)[\"']\]\.show\(")
PROMPT = re.compile(r"(?is)\bguess\b.*\btry it\b")
TAG = re.compile(r"<[^>]+>")


def execute(path: Path, timeout: int = 600) -> dict:
    """The notebook, run top to bottom in a fresh kernel in its own folder (as a student runs it)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    ).execute()
    return json.loads(nbformat.writes(nb))


def _output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        data = out.get("data", {})
        for kind in ("text/plain", "text/html", "text/markdown", "text/latex"):
            if kind in data:
                text = "".join(data[kind]) if isinstance(data[kind], list) else data[kind]
                parts.append(html.unescape(TAG.sub(" ", text)) if kind == "text/html" else text)
    return "\n".join(parts)


def _number(n: int) -> list[str]:
    plain = rf"(?<![\w.,]){n}(?![\w]|[.,]\d)"
    forms = [plain]
    if abs(n) >= 1000:
        forms.append(rf"(?<![\w.,]){n:,}(?![\w]|[.,]\d)".replace(",", r"[,\u2009 ]"))
    return forms


def _shape(h, w, c) -> list[str]:
    x = r"\s*[x×*]\s*"
    forms = [rf"(?<![\w.]){h}{x}{w}{x}{c}(?!\d)", rf"(?<![\w.]){c},\s*{h},\s*{w}(?!\d)"]
    if h == w:
        forms += [rf"(?<![\w.]){h}(?:²|\^2|\*\*2){x}{c}(?!\d)"]
    return forms


def answer_patterns(answer) -> list[str]:
    """Regular expressions for the ways ``answer`` is usually written; [] when it is too short to search."""
    if hasattr(answer, "item") and not isinstance(answer, (tuple, list)):
        answer = answer.item()
    if isinstance(answer, bool):
        return []
    if isinstance(answer, str):
        m = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\d+)\s*[x×]\s*(\d+)\s*", answer)
        return _shape(*map(int, m.groups())) if m else []
    if isinstance(answer, float):
        if answer.is_integer():
            return answer_patterns(int(answer))
        text = f"{answer:g}"
        return [rf"(?<![\w.]){re.escape(text)}(?!\d)"] if len(text.replace(".", "").lstrip("0")) >= 2 else []
    if isinstance(answer, int):
        return _number(answer) if abs(answer) >= 10 else []
    if isinstance(answer, (tuple, list)):
        if len(answer) == 3 and all(isinstance(v, int) for v in answer):
            return _shape(*answer)
        if len(answer) == 2 and all(isinstance(v, int) for v in answer) and max(map(abs, answer)) >= 10:
            a, b = answer
            return [rf"(?<![\w.]){a}(?:,|\s+and|\s*/|\s+or)\s*{b}(?!\d)"]
    return []


def leaks(nb: dict, notebook: str) -> list[str]:
    """Exercises whose answer is written somewhere above them (cell index, exercise, where)."""
    from unet_lesson.ui.exercises import CodeExercise

    found = []
    for i, m in exercise_cells(nb):
        ex = _exercise(m["name"], notebook)
        if isinstance(ex, CodeExercise):
            continue
        patterns = answer_patterns(ex.answer)
        for j in range(i):
            cell = nb["cells"][j]
            for place, text in (("text", _source(cell)), ("output", _output_text(cell))):
                hit = next((re.search(p, text) for p in patterns if re.search(p, text)), None)
                if hit:
                    snippet = text[max(0, hit.start() - 40) : hit.end() + 40].replace("\n", " ")
                    found.append(
                        f"{notebook} cell {i} {m['name']} ({ex.key}, answer {ex.answer!r}) is shown in the "
                        f"{place} of cell {j}: ...{snippet}..."
                    )
                    break
    return found


def missing_prompts(nb: dict, notebook: str) -> list[str]:
    """Widgets without a "guess, then try it" in the markdown cell right above them."""
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and WIDGET.search(_source(cell)):
            above = next(
                (nb["cells"][j] for j in range(i - 1, -1, -1) if nb["cells"][j]["cell_type"] == "markdown"), None
            )
            if above is None or not PROMPT.search(_source(above)) or i - nb["cells"].index(above) > 2:
                found.append(
                    f"{notebook} cell {i} ({WIDGET.search(_source(cell)).group(1)}): no 'guess, then try "
                    "it' prompt in the markdown right above the widget"
                )
    return found


def main(argv=None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])] or sorted(
        (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    problems = []
    for path in paths:
        nb = execute(path.resolve())
        problems += leaks(nb, path.stem) + missing_prompts(nb, path.stem)
    print("\n".join(problems) or "no exercise answer is shown above its exercise; every widget has a prompt")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
