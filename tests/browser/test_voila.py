"""The explorer as a student opens it in Voila: it renders without errors and its widgets show unet_lesson's numbers."""

from __future__ import annotations

import time

import pytest

from .drives import VOILA, drive_params
from .driving import settle
from .harness import ROOT, artifact_path, fresh_copy, voila_server
from .lab_page import STDERR, dump

pytestmark = pytest.mark.browser

# what Voila renders in place of a failing cell (with tracebacks hidden, the default)
VOILA_CELL_ERROR = "There was an error when executing cell"


@pytest.mark.parametrize("nb", drive_params(VOILA))
def test_notebook_in_voila(nb, page, expect, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    copy = fresh_copy(ROOT / nb.path, work)
    artifact_path(f"voila-{nb.name}-FAILED").unlink(missing_ok=True)
    t0 = time.monotonic()
    with voila_server(copy, tmp_path) as server:
        try:
            page.goto(server.url + "/", timeout=nb.run_timeout_s * 1000)
            for w in nb.widgets:
                expect(w.box(page), f"{w.css} must render in Voila").to_be_visible(timeout=nb.run_timeout_s * 1000)
            errors = [t[:500] for t in page.locator(STDERR).all_inner_texts()]
            expect(page.get_by_text(VOILA_CELL_ERROR)).to_have_count(0)
            assert not errors, f"{nb.path} shows errors in Voila:\n" + "\n".join(errors)
            logs = [
                w.drive(page, expect, error_shot=artifact_path(f"voila-{nb.name}-{w.css}-error") if i == 0 else None)
                for i, w in enumerate(nb.widgets)
            ]
            assert not page.locator(STDERR).count(), "an error appeared while driving the widgets"
            for w in nb.widgets:
                settle(w.box(page))
            page.screenshot(path=str(artifact_path(f"voila-{nb.name}")), full_page=True)
        except Exception:
            page.screenshot(path=str(artifact_path(f"voila-{nb.name}-FAILED")), full_page=True)
            print(server.log_tail())
            raise
    print(f"voila {nb.name}: {time.monotonic() - t0:.1f} s, steps: {dump(logs)}")
