"""The clinic day in real browsers: Chromium (driven by Playwright) against gunicorn in the
production configuration (CSRF on), on a freshly migrated database, with the real clock.

Three people at once, each with their own cookies: the front desk checks youth in, a
clinician whose screen was open before anyone arrived sees them appear without reloading,
calls the next one and records the treatment, and the desk's counts follow by themselves;
the waiting room's screen shows ticket numbers only. The page also works with JavaScript off.
Every page runs under the app's Content-Security-Policy: a violation Chromium reports fails
the test (the ``guard`` fixture, tests/e2e/conftest.py), and the last test shows it does.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from datetime import time as clock_time
from types import SimpleNamespace

import pytest

from tests.support import databases
from tests.support.live import STAFF_PASSWORD, ClinicToday, Server, assert_clean_log

pytestmark = pytest.mark.slow

REFRESH_SECONDS = 2
# Long enough for a couple of refreshes of the live part (and the waiting-room screen's 5 s).
LIVE_WAIT_MS = 12_000

DESK = "desk@e2e.test"
CLINICIAN = "clinician@e2e.test"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """Today made a clinic day around the current time, two staff, three booked youth."""
    url = databases.new_database("e2e", tmp_path_factory.mktemp("e2e"))
    databases.migrate(url)
    clinic = ClinicToday(url)
    try:
        now = clinic.now()
        slot = clinic.current_slot()
        # A few slots either side of now, so the day sheet looks like an evening's.
        start = max(datetime.combine(now.date(), slot) - timedelta(hours=1), _midnight(now))
        end = min(datetime.combine(now.date(), slot) + timedelta(hours=2), _last_end(now))
        today = clinic.open_today(start=start.time(), end=end.time(), seats=3)
        clinic.add_staff(DESK, "front_desk", "Dana Desk")
        clinic.add_staff(CLINICIAN, "clinician", "Cruz Clinician")
        yield SimpleNamespace(
            url=url,
            today=today,
            adult=clinic.book(slot, "Ana", "Adulta"),
            minor=clinic.book(slot, "Milo", "Menor", minor=True),
            no_js=clinic.book(slot, "Nora", "Sinjs"),
        )
    finally:
        clinic.close()
        databases.drop_database(url)


def _midnight(now: datetime) -> datetime:
    return datetime.combine(now.date(), clock_time(0, 0))


def _last_end(now: datetime) -> datetime:
    return datetime.combine(now.date(), clock_time(23, 40))


@pytest.fixture(scope="module")
def server(clinic, tmp_path_factory):
    started = Server(
        clinic.url,
        tmp_path_factory.mktemp("e2e-logs"),
        workers=2,
        QUEUE_REFRESH_SECONDS=str(REFRESH_SECONDS),
    ).start()
    try:
        yield started
    finally:
        started.stop()
    assert_clean_log(started)


def _base(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
def person(guard, server):
    """Opens one person's browser: a context of its own (its own cookies), in English,
    watched by the policy guard (which closes it after the test)."""

    def open_context(**options):
        return guard.new_context(base_url=_base(server), locale="en-US", **options)

    return open_context


def _sign_in(context, email: str):
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto("/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # /staff/ leads to today, the clinic day.
    expect(page).to_have_url(re.compile(r"/staff/day/\d{4}-\d{2}-\d{2}$"))
    return page


def _mark_document(page) -> None:
    """Tag the loaded document: the tag survives the live refreshes, not a reload."""
    page.evaluate("window.__sameDocument = true")


def _same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def _row(page, name: str):
    """The day sheet's row for one youth."""
    return page.locator("table.day-sheet tr", has_text=name)


def _waiting(page, name: str | None = None):
    """The waiting list's entries (one youth's, given a name)."""
    entries = page.locator("ol.queue-list > li")
    return entries if name is None else entries.filter(has_text=name)


def _tally(page, label: str):
    return page.locator("ul.tally li").filter(has_text=re.compile(rf"^\s*\d+\s+{label}\s*$"))


def _count(label: str, number: int):
    return re.compile(rf"^\s*{number}\s+{label}")


def _flash_name(youth) -> str:
    """How a flash names a youth to staff: first name and last initial ("Ana A."), never a code."""
    first, last = youth.name.split(" ", 1)
    return f"{first} {last[0]}."


# The tests share one clinic day; each leaves the queue as it found it apart from the tickets
# it handed out, so neither depends on running first.


def test_a_clinic_day_in_three_browsers(person, clinic, tmp_path):
    from playwright.sync_api import expect

    adult, minor = clinic.adult, clinic.minor
    day_path = f"/staff/day/{clinic.today.isoformat()}"

    # The clinician's screen is open before anyone arrives.
    clinician = _sign_in(person(), CLINICIAN)
    expect(clinician).to_have_url(re.compile(re.escape(day_path) + "$"))
    expect(clinician.locator("section.queue")).to_contain_text("Nobody is waiting.")
    _mark_document(clinician)

    # (a) The front desk checks in the adult, then the minor with the guardian's consent.
    desk = _sign_in(person(viewport={"width": 1024, "height": 768}), DESK)
    _row(desk, adult.name).get_by_role("button", name="Check in", exact=True).click()
    expect(desk.locator(".flash-success")).to_have_text(f"Checked in: {_flash_name(adult)}.")
    row = _row(desk, minor.name)
    row.locator("summary", has_text="Check in…").click()
    row.get_by_label("Confirmed (signed form, here, or by phone)").check()
    row.get_by_role("button", name=f"Check in {minor.code}").click()
    expect(desk.locator(".flash-success")).to_have_text(f"Checked in: {_flash_name(minor)}.")
    expect(_row(desk, minor.name)).to_contain_text("Minor · consent confirmed")
    first_ticket = int(_waiting(desk, adult.name).get_attribute("data-ticket"))
    expect(_waiting(desk, minor.name)).to_have_attribute("data-ticket", str(first_ticket + 1))
    _mark_document(desk)

    # (b) The clinician sees both waiting, in order, without reloading.
    waiting = _waiting(clinician)
    expect(waiting).to_have_count(2, timeout=LIVE_WAIT_MS)
    expect(waiting.nth(0)).to_contain_text(f"#{first_ticket} {adult.name}")
    expect(waiting.nth(1)).to_contain_text(minor.name)
    expect(waiting.nth(1)).to_contain_text("Minor · consent confirmed")
    expect(_tally(clinician, "waiting")).to_have_text(_count("waiting", 2))
    assert _same_document(clinician), "the clinician's page reloaded instead of refreshing"

    # (c) Call next, then record the treatment.
    clinician.get_by_role("button", name="Call next to Laser 1").click()
    expect(clinician.locator(".flash-success")).to_have_text(
        f"{_flash_name(adult)} called to Laser 1."
    )
    station = clinician.locator("li.station", has_text="Laser 1")
    expect(station).to_contain_text(adult.name)

    # (e) The waiting room's screen: ticket numbers, never a name.
    board = person().new_page()
    board.goto("/now-serving")
    laser_1 = board.locator(".stations-board li", has_text="Laser 1")
    expect(laser_1.locator(".number")).to_have_text(str(first_ticket))
    expect(board.locator("p.next strong")).to_have_text([str(first_ticket + 1)])
    shown = board.locator("body").inner_text()
    for word in ("Ana", "Adulta", "Milo", "Menor", adult.code, minor.code):
        assert word not in shown, word

    station.get_by_role("link", name="Complete…").click()
    expect(clinician.get_by_role("heading", name="Record the treatment")).to_be_visible()
    clinician.get_by_label("Session number").fill("1")
    clinician.get_by_label("Hands or fingers").check()
    clinician.get_by_label("Skin type (Fitzpatrick)").select_option("IV")
    clinician.get_by_label("Laser settings (wavelength, fluence, spot size)").fill(
        "1064 nm, 3.5 J/cm², 4 mm"
    )
    clinician.get_by_label("Clinical notes").fill("Tolerated well; mild frosting. Aftercare given.")
    clinician.get_by_role("button", name="Treatment done").click()
    expect(clinician.locator(".flash-success")).to_have_text(
        f"Treatment recorded for {_flash_name(adult)}."
    )
    expect(clinician.locator("li.station", has_text="Laser 1")).to_contain_text("Free")

    # (d) The desk's counts follow by themselves, and so does the waiting room.
    expect(_tally(desk, "done")).to_have_text(_count("done", 1), timeout=LIVE_WAIT_MS)
    expect(_tally(desk, "in treatment")).to_have_text(_count("in treatment", 0))
    expect(_tally(desk, "waiting")).to_have_text(_count("waiting", 1))
    expect(_row(desk, adult.name)).to_contain_text("Done")
    assert _same_document(desk), "the front desk's page reloaded instead of refreshing"
    expect(laser_1.locator(".number")).to_have_text("–", timeout=LIVE_WAIT_MS)

    # What the lead looks at: the desk's day page on a laptop and on a phone.
    shots = []
    for width, height in ((1024, 768), (390, 844)):
        desk.set_viewport_size({"width": width, "height": height})
        # Wide tables scroll inside the page; the page itself never scrolls sideways.
        assert desk.evaluate("document.documentElement.scrollWidth") <= width
        path = tmp_path / f"front-desk-day-{width}x{height}.png"
        desk.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000, path  # something was drawn, not a blank page
        shots.append(path)
    print("\nscreenshots:", *shots, sep="\n  ")

    # Leave the queue as found: the minor's check-in is undone (a mis-tap, as it were).
    _waiting(desk, minor.name).get_by_role("button", name="Undo check-in").click()
    expect(desk.locator(".flash-success")).to_have_text(
        f"Undone: {_flash_name(minor)} is “Booked” again."
    )


def test_the_day_page_works_without_javascript(person, clinic):
    """Plain forms, a Refresh link and native disclosure widgets: a tablet with JavaScript
    off can still run the desk."""
    from playwright.sync_api import expect

    youth = clinic.no_js
    desk = _sign_in(person(java_script_enabled=False), DESK)
    _row(desk, youth.name).get_by_role("button", name="Check in", exact=True).click()
    expect(desk.locator(".flash-success")).to_have_text(f"Checked in: {_flash_name(youth)}.")
    expect(_waiting(desk, youth.name)).to_be_visible()
    # The print button needs JavaScript, so it stays hidden; the Refresh link is there.
    expect(desk.get_by_role("button", name="Print the day sheet")).to_be_hidden()
    desk.get_by_role("link", name="Refresh").click()
    expect(_row(desk, youth.name)).to_contain_text("Waiting")

    # The youth had to leave: the two-step cancel works without JavaScript too.
    row = _row(desk, youth.name)
    row.locator("summary", has_text="Cancel…").click()
    row.get_by_role("button", name=f"Cancel appointment {youth.code}").click()
    expect(desk.locator(".flash-success")).to_have_text(
        f"Appointment of {_flash_name(youth)} cancelled. Its seat is free again."
    )
    expect(_waiting(desk, youth.name)).to_have_count(0)


def test_the_guard_fails_a_page_that_breaks_the_policy(person, guard):
    """The guard the tests above run under, on an app page made to break the policy: an
    inline script, an image from elsewhere, an inline style. Chromium blocks each and says
    so, and the guard's check (the one run after every browser test) fails."""
    import time

    page = person().new_page()
    page.goto("/")
    # Playwright's own evaluation is exempt from the page's policy; what it adds is not.
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            const image = document.createElement("img");
            image.src = "https://tracker.example/pixel.png";
            document.body.append(image);
            document.body.setAttribute("style", "background: red");
        }"""
    )
    deadline = time.monotonic() + 5
    while len(guard.violations) < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright deliver the console messages
    assert page.evaluate("window.injected") is None, "the inline script ran"
    # Chromium's wording changes between versions ("Refused to execute inline script
    # because it violates ...", "Executing inline script violates ..."); the directive stays.
    violations = guard.violations
    assert any(_blocked(v, "inline script", "script-src 'self'") for v in violations), violations
    assert any(_blocked(v, "tracker.example/pixel.png", "img-src 'self'") for v in violations)
    assert any(_blocked(v, "inline style", "style-src 'self'") for v in violations), violations
    with pytest.raises(pytest.fail.Exception, match="Content Security Policy"):
        guard.check()
    guard.check()  # the check started afresh: the teardown's passes


def _blocked(message: str, what: str, directive: str) -> bool:
    return what in message and directive in message and "Content Security Policy" in message
