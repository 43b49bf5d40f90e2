"""The browser, and the policy guard every browser test opens its contexts through."""

from __future__ import annotations

import pytest

from tests.support.browsers import PolicyGuard, launch, sync_playwright_or_skip


@pytest.fixture(scope="module")
def chromium():
    sync_playwright = sync_playwright_or_skip()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def guard(chromium):
    """Open browser contexts with ``guard.new_context(...)``: when the test is over they are
    closed, and the test fails if Chromium reported a Content-Security-Policy violation or a
    script error on any of their pages."""
    watching = PolicyGuard(chromium)
    yield watching
    watching.close()
    watching.check()
