"""Target sizes (WCAG 2.2): every control a finger or a pointer aims at is at least 44 x 44 CSS
px on the public pages, on a phone (360 x 740), and at least 24 x 24 on the staff pages, on a
desk's screen (1280 x 800). Measured in Chromium on the laid-out pages, both languages.

What counts: links, buttons, inputs, selects, text areas and summaries; a radio or a checkbox
counts with its label (a tap on either works), as the row a finger sees. Exempt, as WCAG
exempts them: a link inline in running text (its height is the line's), and what is not shown
(the skip link waits off screen until it has focus).
"""

from __future__ import annotations

import re
import time as wall
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from clinic import accounts
from clinic.extensions import db
from clinic.messaging import links
from clinic.models import Appointment, StaffUser
from tests.support import databases
from tests.support.live import STAFF_PASSWORD, ClinicToday, Server, assert_clean_log

pytestmark = pytest.mark.slow

PHONE = {"width": 360, "height": 740}
DESK_SCREEN = {"width": 1280, "height": 800}
DESK = "desk@targets.test"
CLINICIAN = "laser@targets.test"
ADMIN = "admin@targets.test"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

# Each control's size and why it is exempt, if it is: in the page, as the browser laid it out.
MEASURE = """
(minimum) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  const interactive = 'a[href], button, input, select, textarea, summary, label';
  const words = (text) => text.replace(/\\s+/g, ' ').trim();
  const shown = (el) => {
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') return false;
    const box = el.getBoundingClientRect();
    return box.width > 1 && box.height > 1 && box.right > 0 && box.bottom > 0;
  };
  // A link in running text: laid out inline, in a block whose own words (those outside any
  // control) make at least two words besides it.
  const inText = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display.startsWith('inline')) {
      block = block.parentElement;
    }
    const copy = block.cloneNode(true);
    copy.querySelectorAll(interactive).forEach((c) => c.remove());
    return words(copy.textContent).split(' ').filter((w) => /\\w/.test(w)).length >= 2;
  };
  // A radio or checkbox with its labels: the area a tap selects it from.
  const area = (el) => {
    let box = el.getBoundingClientRect();
    let [left, top, right, bottom] = [box.left, box.top, box.right, box.bottom];
    if (el.matches('input[type=radio], input[type=checkbox]')) {
      if (!shown(el)) [left, top, right, bottom] = [1e9, 1e9, -1e9, -1e9];
      for (const label of el.labels || []) {
        const b = label.getBoundingClientRect();
        left = Math.min(left, b.left); top = Math.min(top, b.top);
        right = Math.max(right, b.right); bottom = Math.max(bottom, b.bottom);
      }
    } else if (!shown(el)) {
      return null;
    }
    return { width: right - left, height: bottom - top };
  };
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    if (el.closest('[hidden], [aria-hidden=true]')) continue;
    const size = area(el);
    if (size === null || size.width <= 1 || inText(el)) continue;
    if (size.width + 0.5 < minimum || size.height + 0.5 < minimum) {
      const name = words(el.getAttribute('aria-label') || el.textContent || el.value || '')
        || el.getAttribute('name') || el.id || '';
      small.push(`${el.tagName.toLowerCase()}${el.type ? '[' + el.type + ']' : ''}` +
        ` "${name.slice(0, 40)}" ${Math.round(size.width)}x${Math.round(size.height)}`);
    }
  }
  return small;
}
"""


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """Today a clinic day with a booked youth (for the staff pages and a youth's own link),
    and one account per role; the admin with its second step set."""
    url = databases.new_database("targets", tmp_path_factory.mktemp("targets"))
    databases.migrate(url)
    clinic = ClinicToday(url)
    try:
        slot = clinic.current_slot()
        clinic.open_today(seats=3)
        clinic.add_staff(DESK, "front_desk", "Dana Desk")
        clinic.add_staff(CLINICIAN, "clinician", "Cruz Clinician")
        clinic.add_staff(ADMIN, "admin", "Alex Admin")
        booked = clinic.book(slot, "Ana", "Adulta")
        clinic.book(slot, "Milo", "Menor", minor=True)
        with clinic.app.app_context():
            db.session.execute(
                update(StaffUser)
                .where(StaffUser.email == ADMIN)
                .values(totp_secret=SECRET, totp_enabled_at=db.func.now())
            )
            token = links.mint(appointment_id=booked.id)
            youth_id = db.session.get(Appointment, booked.id).youth_id
            db.session.commit()
        yield SimpleNamespace(url=url, token=token, youth=youth_id)
    finally:
        clinic.close()
        databases.drop_database(url)


@pytest.fixture(scope="module")
def server(clinic, tmp_path_factory):
    started = Server(clinic.url, tmp_path_factory.mktemp("targets-logs"), workers=2).start()
    try:
        yield started
    finally:
        started.stop()
    assert_clean_log(started)


def _small(page, minimum: int) -> list[str]:
    return page.evaluate(MEASURE, minimum)


def _here(page, minimum: int, found: dict[str, list[str]]) -> None:
    small = _small(page, minimum)
    if small:
        found[f"{page.url} ({page.viewport_size['width']} px)"] = small


def _check(page, path: str, minimum: int, found: dict[str, list[str]]) -> None:
    response = page.goto(path)
    assert response is not None and response.ok, path
    _here(page, minimum, found)


@pytest.mark.parametrize("locale", ["en-US", "es-US"])
def test_every_public_control_is_44_px_on_a_phone(guard, server, clinic, locale):
    context = guard.new_context(
        base_url=f"http://127.0.0.1:{server.port}", locale=locale, viewport=PHONE
    )
    page = context.new_page()
    found: dict[str, list[str]] = {}
    for path in ("/", "/book", "/my/lost", "/waiting-list"):
        _check(page, path, 44, found)
    # A day's times, and the booking's first step, reached as a youth does: by tapping.
    # Each tap's new page is measured once it has loaded: measured before its stylesheet
    # applied, every control was its unstyled 17 px (seen once in CI on a loaded machine).
    page.goto("/book")
    page.locator("a.card").first.click()
    page.wait_for_url(re.compile(r"/book/\d{4}-\d{2}-\d{2}$"))
    _here(page, 44, found)
    page.locator("a.time").first.click()
    page.wait_for_url(re.compile(r"/book/\d{4}-\d{2}-\d{2}/\d{2}:\d{2}$"))
    _here(page, 44, found)
    # The youth's own link: the appointment's page.
    _check(page, f"/my/{clinic.token}", 44, found)
    assert not found, "\n".join(f"{url}: {', '.join(small)}" for url, small in found.items())


_USED_STEPS: set[int] = set()


def _unused_step() -> int:
    """A time step whose code was not used yet: a code works once (replay protection), and
    the one after the current step is accepted too (clock drift); else wait for a new step."""
    while True:
        now = accounts.totp_step(wall.time())
        for step in (now, now + 1):
            if step not in _USED_STEPS and all(step > used for used in _USED_STEPS):
                _USED_STEPS.add(step)
                return step
        wall.sleep(1)


def _sign_in(context, email: str):
    page = context.new_page()
    page.goto("/auth/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    if page.url.endswith("/auth/two-factor"):
        code = accounts.totp_code(SECRET, _unused_step())
        page.locator("input[name=code]").fill(code)
        page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/staff/"))
    return page


STAFF_PAGES = {
    DESK: ["/staff/day", "/staff/walk-in", "/staff/youth", "/staff/lists", "/staff/messages"],
    CLINICIAN: ["/staff/day", "/staff/youth"],
    ADMIN: ["/staff/schedule", "/staff/accounts", "/staff/settings", "/staff/audit"],
}


@pytest.mark.parametrize("email", list(STAFF_PAGES))
def test_every_staff_control_is_24_px_on_a_desk_screen(guard, server, clinic, email):
    context = guard.new_context(
        base_url=f"http://127.0.0.1:{server.port}", locale="en-US", viewport=DESK_SCREEN
    )
    page = _sign_in(context, email)
    found: dict[str, list[str]] = {}
    for path in STAFF_PAGES[email]:
        _check(page, path, 24, found)
    if email != ADMIN:  # a youth's record: the widest tables
        _check(page, f"/staff/youth/{clinic.youth}", 24, found)
    assert not found, "\n".join(f"{url}: {', '.join(small)}" for url, small in found.items())


def test_the_wide_staff_tables_scroll_by_keyboard(guard, server, clinic):
    """The day sheet and a record's tables are focusable, named regions: a keyboard user can
    reach them and scroll them sideways (axe: scrollable-region-focusable)."""
    context = guard.new_context(
        base_url=f"http://127.0.0.1:{server.port}", locale="en-US", viewport=PHONE
    )
    page = _sign_in(context, DESK)
    page.goto("/staff/day")
    sheet = page.locator("div.table-scroll:has(table.day-sheet)")
    assert sheet.get_attribute("role") == "region" and sheet.get_attribute("tabindex") == "0"
    label = sheet.get_attribute("aria-labelledby")
    assert page.locator(f"#{label}").inner_text() == "Day sheet"
    assert sheet.evaluate("el => el.scrollWidth > el.clientWidth")  # wide at 360 px
    sheet.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("el => el.scrollLeft > 0", arg=sheet.element_handle())


# Tables wider than their box, and whether each is a named region in the tab order; and
# whether the page itself scrolls sideways (it must not: the table scrolls instead).
OVERFLOW = """() => {
  const wide = [...document.querySelectorAll('table')].filter(
    (t) => t.scrollWidth > t.parentElement.clientWidth || t.scrollWidth > innerWidth);
  return {
    page: document.documentElement.scrollWidth > document.documentElement.clientWidth,
    unreachable: wide.map((t) => t.parentElement).filter((box) => !(
      box.classList.contains('table-scroll') && box.getAttribute('role') === 'region' &&
      box.getAttribute('tabindex') === '0' &&
      (box.getAttribute('aria-label') || box.getAttribute('aria-labelledby')))).length,
  };
}"""


@pytest.mark.parametrize("email", [DESK, ADMIN])
def test_no_staff_page_scrolls_sideways_on_a_phone(guard, server, clinic, email):
    """At 360 px every staff table wider than the screen scrolls inside a focusable, named
    region, and the page itself never scrolls sideways."""
    context = guard.new_context(
        base_url=f"http://127.0.0.1:{server.port}", locale="en-US", viewport=PHONE
    )
    page = _sign_in(context, email)
    extra = [f"/staff/youth/{clinic.youth}"] if email == DESK else []
    wrong = {}
    for path in STAFF_PAGES[email] + extra:
        page.goto(path)
        found = page.evaluate(OVERFLOW)
        if found["page"] or found["unreachable"]:
            wrong[path] = found
    assert not wrong, wrong
