"""JupyterLab page helpers: open a notebook, wait for its kernel, Run All, collect errors."""

from __future__ import annotations

import json

_NOTEBOOK_READY_JS = """() => {
  const app = window.jupyterapp;
  const w = app && app.shell && app.shell.currentWidget;
  if (!w || !w.content || !w.content.model || !w.sessionContext) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(w.sessionContext.isReady && k && k.status === 'idle');
}"""

# Run All has finished when every code cell has run, or a cell failed (the rest then stays
# unrun), and the kernel is idle again
_RUN_ALL_DONE_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  const cells = w.content.model.cells;
  let pending = false, failed = false;
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code' || !c.sharedModel.getSource().trim()) continue;
    if (c.executionCount === null) pending = true;
    for (const o of c.outputs.toJSON()) if (o.output_type === 'error') failed = true;
  }
  return failed || !pending;
}"""

_CELLS_JS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const cells = nb.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    out.push({index: i, count: c.executionCount, outputs: c.outputs.toJSON(),
              source: c.sharedModel.getSource()});
  }
  return out;
}"""

STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


def open_notebook(page, url: str, timeout_ms: int = 90_000) -> None:
    """Open the notebook at ``url`` and wait until its kernel is started and idle."""
    page.goto(url)
    page.wait_for_function(_NOTEBOOK_READY_JS, timeout=timeout_ms, polling=200)
    # what a student sees: the status bar says the kernel is idle
    page.get_by_text("| Idle").first.wait_for(timeout=timeout_ms)


def run_all(page, timeout_ms: float) -> None:
    """Run > Run All Cells, as a student does, and wait until it has finished and the kernel is idle."""
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item:not(.lm-mod-hidden)", has_text="Run All Cells").first.click()
    page.wait_for_function(_RUN_ALL_DONE_JS, timeout=timeout_ms, polling=250)


def cell_problems(page) -> list[str]:
    """Every code cell that did not run, or shows an error or a traceback (from the notebook model)."""
    problems = []
    for cell in page.evaluate(_CELLS_JS):
        head = cell["source"].strip().splitlines()[0][:80] if cell["source"].strip() else ""
        if not cell["source"].strip():
            continue
        if cell["count"] is None:
            problems.append(f"cell {cell['index']} ({head!r}) did not run")
        for out in cell["outputs"]:
            if out.get("output_type") == "error":
                problems.append(f"cell {cell['index']} ({head!r}) raised {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                if "Traceback" in text or "Error" in text:
                    problems.append(f"cell {cell['index']} ({head!r}) wrote to stderr: {text[:500]}")
    return problems


def dom_tracebacks(page) -> list[str]:
    """Traceback text in stderr/error outputs rendered on the page."""
    texts = page.locator(STDERR).all_inner_texts()
    return [t[:500] for t in texts if "Traceback" in t or "Error" in t]


def widget_classes(page) -> set[str]:
    """The ``ul-<topic>`` classes of all lesson widgets rendered on the page."""
    classes = page.eval_on_selector_all(".ul-widget", "els => els.map(e => Array.from(e.classList))")
    return {c for cl in classes for c in cl if c.startswith("ul-") and c != "ul-widget"}


def dump(obj) -> str:
    return json.dumps(obj, indent=1, default=str)[:3000]
