"""Every widget notebook in a real JupyterLab and Chromium: Run All, no errors, widgets show unet_lesson's numbers."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from .drives import LAB, drive_params
from .driving import settle
from .harness import NOTEBOOKS, ROOT, api, artifact_path, fresh_copy, lab_server, shutdown_sessions
from .lab_page import cell_problems, dom_tracebacks, dump, open_notebook, run_all, widget_classes


@pytest.fixture(scope="class")
def lab(chromium, tmp_path_factory):
    """One JupyterLab server per test class (its own port, token off, isolated dirs in tmp).

    Each test gets its own fresh copy of its notebook in its own folder, hence a new kernel,
    and ends every session it started; the server is stopped (SIGTERM, wait) at the end.
    """
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "root"
    root.mkdir()
    with lab_server(root, base) as server:
        yield server, root


def check_in_jupyterlab(nb, lab, page, expect):
    """Open a fresh copy, Run All, no errors; drive every widget; screenshot."""
    server, root = lab
    assert not api(server, "/api/kernels"), "a kernel from an earlier test is still running"
    work = root / nb.name
    work.mkdir()
    copy = fresh_copy(ROOT / nb.path, work)
    rel = copy.relative_to(root).as_posix()
    artifact_path(f"{nb.name}-FAILED").unlink(missing_ok=True)
    t0 = time.monotonic()
    try:
        open_notebook(page, f"{server.url}/lab/tree/{urllib.parse.quote(rel)}?reset")
        run_all(page, timeout_ms=nb.run_timeout_s * 1000)
        problems = cell_problems(page) + dom_tracebacks(page)
        assert not problems, f"{nb.path} does not run cleanly in JupyterLab:\n" + "\n".join(problems)

        logs = [
            w.drive(page, expect, error_shot=artifact_path(f"{nb.name}-{w.css}-error") if i == 0 else None)
            for i, w in enumerate(nb.widgets)
        ]

        shown = widget_classes(page)
        driven = {w.css for w in nb.widgets}
        assert shown <= driven, (
            f"{nb.path} shows widgets {sorted(shown - driven)} that no drive in tests/browser/drives.py checks"
        )
        assert not dom_tracebacks(page), f"a traceback appeared while driving {nb.path}"
        if nb.widgets:
            settle(nb.widgets[-1].box(page))
            nb.widgets[-1].box(page).scroll_into_view_if_needed()
        page.screenshot(path=str(artifact_path(nb.name)))
    except Exception:
        page.screenshot(path=str(artifact_path(f"{nb.name}-FAILED")))
        print(server.log_tail())
        raise
    finally:
        page.close()
        shutdown_sessions(server)
    print(f"{nb.name}: {time.monotonic() - t0:.1f} s, steps: {dump(logs)}")


# Two classes: under `pytest -n 2 --dist loadscope` each class is its own scope, so the two
# workers share the notebooks (alternating, to balance the slow ones).
@pytest.mark.browser
class TestLabA:
    @pytest.mark.parametrize("nb", drive_params(LAB[0::2]))
    def test_notebook_in_jupyterlab(self, nb, lab, page, expect):
        check_in_jupyterlab(nb, lab, page, expect)


@pytest.mark.browser
class TestLabB:
    @pytest.mark.parametrize("nb", drive_params(LAB[1::2]))
    def test_notebook_in_jupyterlab(self, nb, lab, page, expect):
        check_in_jupyterlab(nb, lab, page, expect)


def test_every_notebook_is_in_the_table():
    """A notebook that lands in notebooks/ must get an entry in drives.LAB (empty if it has no widget)."""
    listed = {(ROOT / d.path).resolve() for d in LAB}
    missing = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if p.resolve() not in listed)
    assert not missing, f"add these notebooks to tests/browser/drives.py (LESSONS): {missing}"


@pytest.mark.parametrize("required", [False, True])
def test_missing_chromium_skips_here_and_fails_in_ci(required, monkeypatch):
    """Without Chromium the browser tests skip saying why; with UNET_LESSON_REQUIRE_BROWSER=1 they fail."""
    from . import harness

    monkeypatch.setattr(harness, "CHROMIUM", "/nonexistent/chromium")
    if required:
        monkeypatch.setenv(harness.REQUIRE_ENV, "1")
        with pytest.raises(pytest.fail.Exception, match="Chromium not found.*REQUIRE_BROWSER=1"):
            harness.require_browser()
    else:
        monkeypatch.delenv(harness.REQUIRE_ENV, raising=False)
        with pytest.raises(pytest.skip.Exception, match="Chromium not found at /nonexistent/chromium"):
            harness.require_browser()
