"""The package's layers import downward only: core <- seg <- ui <- lessons.

* ``unet_lesson/core``: size arithmetic, options, shapes, the model, the by-hand operations;
* ``unet_lesson/seg``: data, augmentation, losses, training, tiling, checkpoints;
* ``unet_lesson/ui``: widgets, HTML tables, figures, exercises, the diagram, the explorer;
* ``unet_lesson/lessons``: one module per notebook.

A module may import its own layer and the layers below it, never one above. The core and the
segmentation layer import neither matplotlib nor ipywidgets, so they run (and are tested) headless.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "unet_lesson"
ORDER = {"core": 0, "seg": 1, "ui": 2, "lessons": 3}
MAX_LINES = 600


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "unet_lesson":
        return None
    if len(parts) == 1:
        return "top"
    return parts[1] if parts[1] in ORDER else "top"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every unet_lesson module a file imports (relative imports resolved), with its line."""
    tree = ast.parse(path.read_text())
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from .. import x: x may be a module
                    out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
                    continue
            else:
                target = node.module or ""
            out.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return [(line, t) for line, t in out if t.split(".")[0] == "unet_lesson"]


FILES = sorted(p for p in PKG.rglob("*.py"))


def test_every_module_is_in_a_layer():
    loose = [
        p.relative_to(PKG).as_posix() for p in FILES if _layer_of(_module_name(p)) == "top" and p.name != "__init__.py"
    ]
    assert not loose, f"modules outside core/, seg/, ui/, lessons/: {loose}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(PKG).as_posix())
def test_imports_point_downward(path):
    mine = _layer_of(_module_name(path))
    if mine == "top":  # unet_lesson/__init__.py re-exports the core only
        allowed = {"core"}
    else:
        allowed = {name for name, rank in ORDER.items() if rank <= ORDER[mine]}
    bad = [f"line {line}: imports {target}" for line, target in _imports(path) if _layer_of(target) not in allowed]
    assert not bad, f"{path.relative_to(PKG)} ({mine}) may import only {sorted(allowed)}: " + "; ".join(bad)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(PKG).as_posix())
def test_no_module_is_over_600_lines(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(PKG)} has {n} lines (at most {MAX_LINES}): split it by job"


UI_LIBRARIES = ("matplotlib", "ipywidgets", "IPython")


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if p.relative_to(PKG).parts[0] in ("core", "seg")],
    ids=lambda p: p.relative_to(PKG).as_posix(),
)
def test_core_and_segmentation_draw_nothing(path):
    """Pictures live in ui/: a core or segmentation module never imports a drawing or widget library,
    not even inside a function."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and not node.level
            else []
        )
        found += [f"line {node.lineno}: {n}" for n in names if n.split(".")[0] in UI_LIBRARIES]
    assert not found, f"{path.relative_to(PKG)} imports {found}: move the picture or widget to unet_lesson/ui"


@pytest.mark.parametrize("layer", ["core", "seg"])
def test_core_and_segmentation_import_headless(layer):
    modules = sorted(_module_name(p) for p in (PKG / layer).rglob("*.py"))
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"bad = [m for m in {UI_LIBRARIES!r} if m in sys.modules]\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PKG.parent
    ).stdout.strip()
    assert out == "", f"importing unet_lesson.{layer} pulls in {out}"
