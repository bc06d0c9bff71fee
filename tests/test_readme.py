"""The README's generated blocks are current, and its quick start is exactly the Makefile's two targets."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_updater():
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_blocks_are_current():
    readme = (ROOT / "README.md").read_text()
    assert load_updater().render(readme) == readme, "run: .venv/bin/python scripts/update_readme.py"


def test_readme_shape_table_is_the_papers():
    readme = (ROOT / "README.md").read_text()
    assert "| 35 | head | 1 | 1x1 conv | 64×388×388 | 2×388×388 | 130 |" in readme
    assert "31,030,658 parameters" in readme


def test_quick_start_commands_exist_in_makefile_and_ci():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["make lab", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab: install$", makefile, re.M) and re.search(r"^test: install$", makefile, re.M)
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)
