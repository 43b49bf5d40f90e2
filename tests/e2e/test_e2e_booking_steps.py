"""The booking's steps in a real browser, with the keyboard alone (Tab, Space, Enter, arrow keys
and typing; no clicks), on a 360 x 740 phone in Spanish: a 15-year-old books with her mother's
consent, after first pressing Enter on an empty step (the error summary takes the focus); a
26-year-old is refused kindly and can go back to fix the date. Every step is photographed, full
page, for CI to keep (never committed).

Chromium (Playwright) against gunicorn in the production configuration (CSRF on); the
``guard`` fixture fails the test on any Content-Security-Policy report.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest

from tests.support import databases
from tests.support.browsers import axe_violations
from tests.support.live import ClinicToday, Server, assert_clean_log, bookable_slots

pytestmark = pytest.mark.slow

PHONE = {"viewport": {"width": 360, "height": 740}, "locale": "es-US"}
SHOTS = Path(os.environ.get("E2E_ARTIFACTS", "test-artifacts")) / "booking"


def shot(page, name: str) -> None:
    """A full-page screenshot of the step, and axe-core's verdict on it: nothing to fix."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert axe_violations(page) == [], name


def focused(page, selector: str) -> bool:
    return page.evaluate(
        "s => !!document.activeElement && document.activeElement.matches(s)", selector
    )


def tab_to(page, selector: str, limit: int = 90) -> None:
    """Press Tab until the focus is on ``selector``, as a keyboard user does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page, selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def type_into(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def choose(page, selector: str, downs: int) -> None:
    """A closed list: focus it, then the arrow key moves its choice."""
    tab_to(page, selector)
    for _ in range(downs):
        page.keyboard.press("ArrowDown")


def tick(page, selector: str) -> None:
    tab_to(page, selector)
    page.keyboard.press("Space")
    assert page.locator(selector).is_checked(), selector


def press_button(page, name: str, limit: int = 90) -> None:
    """Tab to the button named ``name`` and press Enter."""
    read = "() => document.activeElement.tagName + ':' + document.activeElement.textContent.trim()"
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(read) == f"BUTTON:{name}":
            break
    else:
        raise AssertionError(f"Tab never reached the button {name}")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def born_for_age(day: date, age: int) -> date:
    """A birthday already past by ``day``, ``age`` years before (1 January, or ``day`` itself)."""
    return date(day.year - age, 1, 1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e_steps")
    url = databases.new_database("e2e_steps", tmp)
    databases.migrate(url)
    ClinicToday(url).close()
    live = Server(url, tmp, workers=2).start()
    try:
        yield live
    finally:
        live.stop()
        assert_clean_log(live)


def test_a_15_year_old_books_in_spanish_with_the_keyboard_alone(server, guard):
    from playwright.sync_api import expect

    day, starts = bookable_slots(server)
    clinic_day = date.fromisoformat(day)
    born = born_for_age(clinic_day, 15)
    page = guard.new_context(base_url=f"http://127.0.0.1:{server.port}", **PHONE).new_page()
    page.goto(f"/book/{day}/{starts[0]}")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_text("Paso 2 de 4")).to_be_visible()
    shot(page, "1-sobre-ti")

    # Enter on the empty step: the error summary, focused, links to each field.
    tab_to(page, "#first_name")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert focused(page, "#form-problems")
    expect(page.get_by_role("heading", name="Hay un problema")).to_be_visible()
    shot(page, "2-sobre-ti-errores")
    for target in page.locator("#form-problems a").evaluate_all(
        "links => links.map(a => a.getAttribute('href').slice(1))"
    ):
        assert page.locator(f"[id='{target}']").count() == 1, target

    # About her: day first in Spanish, then the month by name, then the year.
    type_into(page, "#first_name", "Lucía")
    type_into(page, "#last_name", "Ramírez")
    assert page.locator("#date_of_birth-day").evaluate(
        "day => day.compareDocumentPosition(document.getElementById('date_of_birth-month'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    type_into(page, "#date_of_birth-day", str(born.day))
    choose(page, "#date_of_birth-month", born.month)
    assert page.locator("#date_of_birth-month").input_value() == str(born.month)
    type_into(page, "#date_of_birth-year", str(born.year))
    type_into(page, "#phone", "415 555 0142")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a text box goes on, never back

    # Her mother: a step of its own, because she will be 15 on the day.
    expect(page.get_by_role("heading", name="Padre, madre o tutor legal")).to_be_visible()
    shot(page, "3-tutor")
    type_into(page, "#guardian_name", "Rosa Ramírez")
    choose(page, "#guardian_relationship", 1)
    type_into(page, "#guardian_phone", "415 555 0199")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # The tattoo and health: Space ticks and chooses; "Sí" shows the list.
    expect(page.get_by_text("Paso 3 de 4")).to_be_visible()
    tick(page, "#tattoo_locations-0")
    tick(page, "#tattoo_size-0")
    tick(page, "#tattoo_colors-0")
    tick(page, "#tattoo_kind-0")
    expect(page.locator("#screening-0")).to_be_hidden()
    tick(page, "#health_any-0")
    expect(page.locator("#screening-0")).to_be_visible()
    tick(page, "#screening-0")
    shot(page, "4-tatuaje-y-salud")
    press_button(page, "Continuar")

    # Check and book: her birth date in words, with her age on the day.
    expect(page.get_by_text("Paso 4 de 4")).to_be_visible()
    expect(page.get_by_text(re.compile(r"de 20\d\d – tendrás 15 años ese día"))).to_be_visible()
    expect(page.get_by_text("Rosa Ramírez")).to_be_visible()
    choose(page, "#referral_source", 2)
    tick(page, "#consent")
    shot(page, "5-revisa-y-reserva")
    press_button(page, "Reservar")
    expect(page.get_by_role("heading", name=re.compile("Lucía"))).to_be_visible()
    shot(page, "6-recibido")


def test_a_26_year_old_is_refused_kindly_and_can_fix_the_date(server, guard):
    from playwright.sync_api import expect

    day, starts = bookable_slots(server)
    born = born_for_age(date.fromisoformat(day), 26)
    page = guard.new_context(base_url=f"http://127.0.0.1:{server.port}", **PHONE).new_page()
    page.goto(f"/book/{day}/{starts[0]}")
    type_into(page, "#first_name", "Diego")
    type_into(page, "#last_name", "Soto")
    type_into(page, "#date_of_birth-day", str(born.day))
    choose(page, "#date_of_birth-month", born.month)
    type_into(page, "#date_of_birth-year", str(born.year))
    type_into(page, "#phone", "415 555 0143")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("de 13 a 25 años"))
    expect(page.get_by_text("311")).to_be_visible()
    assert page.locator("#form-problems").count() == 0  # a refusal, not a form error
    shot(page, "7-rechazo-26")

    press_button(page, "Cambiar mi fecha de nacimiento")
    expect(page.locator("#date_of_birth-year")).to_have_value(str(born.year))
    expect(page.locator("#last_name")).to_have_value("Soto")
