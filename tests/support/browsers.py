"""Chromium for the browser tests (``tests/e2e``): where it is, how it is started, and
Playwright, or a visible skip when either is missing; and the guard that fails a test whose
pages broke the Content-Security-Policy or threw a script error.

Every browser context of the suite is opened through a ``PolicyGuard`` (the ``guard``
fixture in ``tests/e2e/conftest.py``), so every page is watched from its first request.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Headless as root in a container, and never reaching for the internet (it would be refused).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sync_playwright_or_skip():
    """Playwright and Chromium, or a visible skip; in CI (``CI`` set) their absence fails."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "Playwright for Python is not installed"
    if missing is None and not Path(CHROMIUM).exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    return sync_playwright


def launch(playwright):
    """Headless Chromium, enforcing each page's Content-Security-Policy (Playwright's
    ``bypass_csp`` stays off), as a youth's or a staff member's browser would."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


# What Chromium writes to a page's console when it blocks something under the policy
# ("Refused to execute inline script because it violates the following Content Security
# Policy directive: ...", "Refused to load the image ...", "Refused to apply inline style
# ...") or cannot read a policy header ("Unrecognized Content-Security-Policy directive",
# "Error with Permissions-Policy header: ...").
POLICY_MESSAGE = re.compile(
    r"^Refused to |Content[- ]Security[- ]Policy|Permissions[- ]Policy", re.IGNORECASE
)


class PolicyGuard:
    """Opens browser contexts and listens on each of their pages, however the page came
    (``new_page``, a popup, a link opened in a new tab): a console message that reports a
    policy violation, and any uncaught script error. ``check`` fails the test on either."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts: list = []
        self.violations: list[str] = []
        self.script_errors: list[str] = []

    def new_context(self, **options):
        context = self.browser.new_context(**options)
        context.on("page", self._watch)
        self.contexts.append(context)
        return context

    def _watch(self, page) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.script_errors.append(f"{page.url}: {error}"))

    def _console(self, page, message) -> None:
        if POLICY_MESSAGE.search(message.text):
            self.violations.append(f"{page.url}: {message.text}")

    def close(self) -> None:
        """Close the contexts still open; their last console messages arrive before."""
        for context in self.contexts:
            context.close()
        self.contexts.clear()

    def check(self) -> None:
        """Fail the test if any watched page broke the policy or threw; start afresh."""
        problems = [f"policy violation: {text}" for text in self.violations] + [
            f"script error: {text}" for text in self.script_errors
        ]
        self.violations.clear()
        self.script_errors.clear()
        if problems:
            pytest.fail("\n".join(["Chromium reported:", *problems]), pytrace=False)


# --- Staff sign-in in a browser -----------------------------------------------------------------


def sign_in_page(context, email: str, password: str, authenticators: dict[str, str]):
    """Sign a staff member in on a new page of ``context`` through the real forms, as a person
    would: the password, then the code from their authenticator app when the account asks for
    one. An account that must set one up first reads the key from the set-up page (as typing
    it into an app would), keeps it in ``authenticators`` (e-mail -> key) for its later
    sign-ins, and goes past its recovery codes. Returns the page, on the staff page it led to.

    Each code is the current 30-second step's (or the next one's, when an earlier sign-in of
    the test used it: a code works once)."""
    import time

    import pyotp

    page = context.new_page()
    page.goto("/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()

    def code() -> str:
        secret = authenticators[email]
        step = max(int(time.time() // 30), authenticators.get(f"{email}#step", 0) + 1)
        authenticators[f"{email}#step"] = step
        return pyotp.TOTP(secret).generate_otp(step)

    if page.url.endswith("/auth/two-factor/setup"):
        authenticators[email] = page.locator("code.secret").inner_text().replace(" ", "")
        page.get_by_label("Code from the app").fill(code())
        page.get_by_role("button", name="Turn on two-step sign-in").click()
        page.get_by_role("link", name="I have kept them: continue").click()
    elif page.url.endswith("/auth/two-factor"):
        page.get_by_label("Code").fill(code())
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


# --- Accessibility: axe-core in the page, and forms filled by field name ----------------------


def artifacts_dir(*parts: str) -> Path:
    """Where browser tests keep screenshots for CI to collect (never committed):
    ``$E2E_ARTIFACTS``, else ``test-artifacts/`` at the top of the repository."""
    root = Path(
        os.environ.get("E2E_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
    )
    folder = root.joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now, every rule the engine runs by default
    (WCAG A and AA, and its best practices), as plain dicts: ``id``, ``impact``, ``help`` and
    the CSS ``targets`` of the offending elements. The engine is injected through the
    debugging protocol, so the page's Content-Security-Policy is neither loosened nor broken."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return [
        {
            "id": violation["id"],
            "impact": violation.get("impact"),
            "help": violation.get("help", ""),
            "targets": [" ".join(map(str, node["target"])) for node in violation["nodes"]],
        }
        for violation in results["violations"]
    ]


def fill_by_name(page, values: dict, scope: str = "main form") -> None:
    """Fill a form from a dict of field names to values (as posted), whatever language its
    labels are in: text fields filled, choices checked, lists selected. Names the form does
    not have are skipped (a step of a form shows only some of them), as are hidden fields; a
    field shown only after another answer (details after a "Yes") is filled after the rest."""
    form = page.locator(scope).last
    later = []
    for name, value in values.items():
        if not _fill_field(form, name, value):
            later.append((name, value))
    for name, value in later:
        _fill_field(form, name, value)


def _fill_field(form, name: str, value) -> bool:
    """Fill one field; False if it is there but out of sight (for now)."""
    fields = form.locator(f"[name='{name}']:not([type='hidden'])")
    if fields.count() == 0:
        parts = form.locator(f"[name='{name}-day']:not([type='hidden'])")
        if parts.count() and isinstance(value, str) and value.count("-") == 2:
            # A date as three fields (day, month as a list, year): see BirthDateField.
            year, month, day = value.split("-")
            parts.first.fill(str(int(day)))
            form.locator(f"[name='{name}-month']").first.select_option(str(int(month)))
            form.locator(f"[name='{name}-year']").first.fill(year)
        return True
    first = fields.first
    kind = (first.get_attribute("type") or "").lower()
    tag = first.evaluate("element => element.tagName").lower()
    if kind in ("radio", "checkbox"):
        for choice in value if isinstance(value, list | tuple) else [value]:
            box = form.locator(f"[name='{name}'][value='{choice}']")
            if box.count() and not box.first.is_visible():
                return False
            if box.count():
                box.first.check()
    elif not first.is_visible():
        return False
    elif tag == "select":
        first.select_option(value)
    else:
        first.fill(str(value))
    return True


def press_on(page, scope: str = "main form") -> None:
    """Send the page's main form as it is, past the browser's own checks, by the visible
    button that goes on (a step form's "Continue" or "Book", not "Back" nor "Change"), and
    wait for the page it leads to."""
    form = page.locator(scope).last
    form.evaluate("form => { form.noValidate = true; }")
    onward = form.locator(
        ", ".join(
            f"button[value='{value}']:not([aria-hidden='true']):visible"
            for value in ("next", "book")
        )
    )
    buttons = (
        onward
        if onward.count()
        else form.locator(
            "button:not([type='button']):not([aria-hidden='true']):not([value='back']):visible,"
            " input[type='submit']"
        )
    )
    with page.expect_navigation():
        buttons.first.click()
