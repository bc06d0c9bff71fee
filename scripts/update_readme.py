"""Regenerate the README's generated blocks from code (never edit them by hand).

    .venv/bin/python scripts/update_readme.py

Blocks: the lesson table (from each lesson module's LESSON), the paper's shape table (from
unet_lesson.shape_table) and the latest benchmark table
(from benchmarks/results.json, written by `make benchmark`). tests/test_readme.py fails when a block is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def shape_table_block() -> str:
    from unet_lesson import shape_table

    t = shape_table(572)
    return f"**{t.summary()}**\n\n{t.to_markdown()}"


def lessons_block() -> str:
    from unet_lesson.lessons import lessons
    from unet_lesson.ui.course import course_map_markdown

    return course_map_markdown(lessons())


def benchmark_block() -> str:
    import json

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run_benchmarks import RESULTS, table

    if not RESULTS.exists():
        return "_Not measured yet: run `make benchmark`._"
    return table(json.loads(RESULTS.read_text()))


BLOCKS = {"lessons": lessons_block, "shape-table": shape_table_block, "benchmarks": benchmark_block}


def render(readme: str) -> str:
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"README has no <!-- {name}:start --> ... <!-- {name}:end --> block")
        readme = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), readme)
    return readme


if __name__ == "__main__":
    path = ROOT / "README.md"
    path.write_text(render(path.read_text()))
    print(f"updated {path}")
