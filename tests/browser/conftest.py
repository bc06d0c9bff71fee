"""Fixtures for the browser tests: Chromium through Playwright (skipped without Chromium, required in CI)."""

from __future__ import annotations

import pytest

from .harness import launch_chromium, new_context, require_browser

# the fixture notebooks are driven by the browser tests, not collected by nbval
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, one per test module (so one per pytest-xdist worker under --dist loadscope)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser context and page that may only reach 127.0.0.1."""
    context = new_context(chromium)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    return expect
