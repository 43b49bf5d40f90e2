"""A clinic Tuesday in real browsers, as issue 16's "Done when" tells it: a front desk and two
clinicians, each in a browser of their own, through the day's dead ends of before.

The desk edits a youth's phone (and the record keeps the old one in its history), moves a
booking to another open time, and books a youth who phones in. The day then fills up: the
walk-in page turns the next youth away at once, to the day's standby list and the next open
days, without a form to fill in first. The desk checks three youth in, in an order that is
not the call order (a youth of an earlier time arrives after one of a later time, and a minor
whose guardian has not consented yet arrives last): the waiting-room screen lists the next
tickets in the order "Call next" then calls them, without the minor, and never a name. A
clinician who presses "Treatment done" on an empty form is refused with a clear error, then
records the treatment. Last, the day's numbers are read from every page that shows them (the
day page of the desk and of a clinician, its live fragment, the walk-in page and the admin's
schedule) and agree, with a seat freed so that "seats left" is not a zero everywhere.

Chromium (Playwright) against gunicorn in the production configuration (CSRF on), the real
clock (today is made a clinic day around the current time, tomorrow an extra one), under the
policy guard (tests/e2e/conftest.py). Screenshots of the walk-in page on the full day, of the
waiting-room screen and of the desk's day at its end go to ``$E2E_ARTIFACTS/tuesday``
(``test-artifacts/`` by default).

A clinic day cannot run past midnight: in the last half hour of the clinic's day there is no
time left to open, so the test is skipped then (with the reason) rather than fail.
"""

from __future__ import annotations

import os
import re
import time as wall
from dataclasses import dataclass, field
from datetime import date, timedelta
from datetime import time as clock_time

import pytest
from sqlalchemy import text, update

from clinic import booking, settings
from clinic.extensions import db
from clinic.models import ClinicDay, OutboxMessage, StaffUser
from tests.support import databases
from tests.support.browsers import artifacts_dir, fill_by_name, sign_in_page
from tests.support.live import STAFF_PASSWORD, Booked, ClinicToday, Server, assert_clean_log

pytestmark = pytest.mark.slow

REFRESH_SECONDS = 2
# Long enough for a couple of refreshes of a staff page's live part.
LIVE_WAIT_MS = 8_000

DESK = "desk@tuesday.test"
LASER_1 = "cruz@tuesday.test"
LASER_2 = "lee@tuesday.test"
ADMIN = "admin@tuesday.test"
# The admin's authenticator app, set up before the day (admins must have two-step sign-in).
ADMIN_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

SLOT_MINUTES = 20
SEATS = 2  # one per clinician, one station each
SLOTS_TODAY = 5
# The test opens today's clinic until 23:40 at the latest; it needs that day to last its run.
LAST_START = clock_time(23, 30)
TOMORROW_START, TOMORROW_END = clock_time(16, 0), clock_time(17, 0)
COUNTS = (
    "appointments",
    "expected",
    "arrived",
    "waiting",
    "in_treatment",
    "done",
    "no_show",
    "seats_left",
)


@dataclass
class Tuesday:
    """The seeded clinic: today's times, tomorrow, the youth booked, and the app in this
    process (for what happens off screen: other youth booking online)."""

    url: str
    clinic: ClinicToday
    today: date
    tomorrow: date
    starts: list[clock_time]  # today's slots
    early: Booked  # an adult at the day's first time, who arrives second
    minor: Booked  # a minor at the first time, whose guardian's consent is not there yet
    late: Booked  # an adult at the second time, who arrives first
    caller_moves: Booked  # booked tomorrow at 16:00; phones to change their phone and time
    taken: dict[clock_time, int] = field(default_factory=dict)  # seats taken today, by time
    fillers: dict[clock_time, list[Booked]] = field(default_factory=dict)


def _at(minutes: int) -> clock_time:
    return clock_time(minutes // 60, minutes % 60)


def _minutes(moment: clock_time) -> int:
    return moment.hour * 60 + moment.minute


@pytest.fixture(scope="module")
def tuesday(tmp_path_factory):
    """Today a clinic day of five 20-minute times of two seats, from the one before the
    current time (fewer late at night); tomorrow an extra day, 16:00 to 17:00; four staff;
    three youth booked today and one tomorrow, whose confirmation went out long ago."""
    url = databases.new_database("e2e_tuesday", tmp_path_factory.mktemp("e2e-tuesday"))
    databases.migrate(url)
    clinic = ClinicToday(url)
    try:
        first = max(_minutes(clinic.current_slot()) - SLOT_MINUTES, 0)
        end = min(first + SLOTS_TODAY * SLOT_MINUTES, 23 * 60 + 40)
        today = clinic.open_today(start=_at(first), end=_at(end), seats=SEATS)
        starts = [_at(m) for m in range(first, end, SLOT_MINUTES)]
        tomorrow = today + timedelta(days=1)
        for email, role, name in (
            (DESK, "front_desk", "Dana Desk"),
            (LASER_1, "clinician", "Cruz Clinician"),
            (LASER_2, "clinician", "Lee Laser"),
            (ADMIN, "admin", "Alex Admin"),
        ):
            clinic.add_staff(email, role, name)
        with clinic.app.app_context():
            db.session.execute(text("DELETE FROM clinic_day WHERE day = :day"), {"day": tomorrow})
            db.session.add(
                ClinicDay(
                    day=tomorrow,
                    extra=True,
                    start_time=TOMORROW_START,
                    end_time=TOMORROW_END,
                    seats=SEATS,
                    slot_minutes=SLOT_MINUTES,
                    note="e2e tuesday",
                )
            )
            db.session.execute(
                update(StaffUser)
                .where(StaffUser.email == ADMIN)
                .values(totp_secret=ADMIN_SECRET, totp_enabled_at=db.func.now())
            )
            db.session.commit()
        seeded = Tuesday(
            url=url,
            clinic=clinic,
            today=today,
            tomorrow=tomorrow,
            starts=starts,
            early=clinic.book(starts[0], "Beto", "Temprano"),
            minor=clinic.book(starts[0], "Milo", "Menor", minor=True),
            late=clinic.book(starts[1], "Ana", "Adulta"),
            caller_moves=_book_tomorrow(clinic, tomorrow, "Dora", "Mueve"),
        )
        seeded.taken = {starts[0]: 2, starts[1]: 1}
        yield seeded
    finally:
        clinic.close()
        databases.drop_database(url)


def _book_tomorrow(clinic: ClinicToday, tomorrow: date, first: str, last: str) -> Booked:
    """A youth who booked tomorrow's first time online and had their confirmation: a move
    then sends them one message about it (a confirmation still queued would say the new time
    itself, and no notice of the move would be added)."""
    request = booking.BookingRequest(
        day=tomorrow,
        start=TOMORROW_START,
        submission_key=f"tuesday-{os.getpid()}-{wall.monotonic_ns()}",
        first_name=first,
        last_name=last,
        date_of_birth=date(tomorrow.year - 19, 3, 3),
        phone="+14155550160",  # as the intake form stores it
        tattoo_locations=["arms"],
        screening=["tan"],
    )
    with clinic.app.app_context():
        appointment = booking.book(request, settings.current_rules(), clinic.now())
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.appointment_id == appointment.id,
                OutboxMessage.kind == "confirmation",
            )
            .values(status="sent", sent_at=db.func.now())
        )
        db.session.commit()
        return Booked(appointment.id, appointment.code, f"{first} {last}", TOMORROW_START)


def _fill_today(tuesday: Tuesday) -> None:
    """Other youth book every seat left today (online, days ago): the day is full."""
    n = 0
    for start in tuesday.starts:
        for _ in range(SEATS - tuesday.taken.get(start, 0)):
            n += 1
            booked = tuesday.clinic.book(start, f"Lleno{n}", "Relleno")
            tuesday.fillers.setdefault(start, []).append(booked)
        tuesday.taken[start] = SEATS


@pytest.fixture(scope="module")
def server(tuesday, tmp_path_factory):
    started = Server(
        tuesday.url,
        tmp_path_factory.mktemp("e2e-tuesday-logs"),
        workers=2,
        QUEUE_REFRESH_SECONDS=str(REFRESH_SECONDS),
    ).start()
    try:
        yield started
    finally:
        started.stop()
    assert_clean_log(started)


# --- What the pages show -------------------------------------------------------------------


def _row(page, name: str):
    """The day sheet's row for one youth."""
    return page.locator("table.day-sheet tr", has_text=name)


def _waiting(page, name: str):
    return page.locator("ol.queue-list > li", has_text=name)


def _flash_name(youth: Booked) -> str:
    """How a flash names a youth to staff: first name and last initial, never a code."""
    first, last = youth.name.split(" ", 1)
    return f"{first} {last[0]}."


def _counts(page) -> dict[str, int]:
    """The day's numbers as the tally shows them (``data-count``)."""
    return {
        key: int(page.locator(f"ul.tally li[data-count='{key}'] strong").inner_text())
        for key in COUNTS
    }


def _time(moment: clock_time) -> re.Pattern:
    """A time as the pages write it ("4:40 PM", with a narrow no-break space)."""
    hour = moment.hour % 12 or 12
    period = "AM" if moment.hour < 12 else "PM"
    return re.compile(rf"\b{hour}:{moment.minute:02d}\s{period}")


def test_a_clinic_tuesday_with_a_front_desk_and_two_clinicians(guard, server, tuesday):
    from playwright.sync_api import expect

    if tuesday.clinic.now().time() >= LAST_START:
        pytest.skip("too close to midnight (clinic time) to open a clinic day: run it later")
    base = f"http://127.0.0.1:{server.port}"
    day_path = f"/staff/day/{tuesday.today.isoformat()}"
    authenticators = {ADMIN: ADMIN_SECRET}

    def person(**options):
        return guard.new_context(base_url=base, locale="en-US", **options)

    desk_context = person(viewport={"width": 1280, "height": 900})
    desk = sign_in_page(desk_context, DESK, STAFF_PASSWORD, authenticators)
    expect(desk).to_have_url(re.compile(re.escape(day_path) + "$"))
    # The clinicians' screens are open in the treatment rooms from the start of the day.
    laser_1 = sign_in_page(person(), LASER_1, STAFF_PASSWORD, authenticators)
    laser_2 = sign_in_page(person(), LASER_2, STAFF_PASSWORD, authenticators)
    for clinician in (laser_1, laser_2):
        expect(clinician).to_have_url(re.compile(re.escape(day_path) + "$"))

    # 1. Dora phones: she has a new number. The desk finds her record and edits the phone.
    dora = tuesday.caller_moves
    desk.get_by_role("link", name="Youth records").click()
    desk.get_by_label("Name, phone or date of birth").fill("Dora")
    desk.get_by_role("button", name="Search").click()
    desk.get_by_role("link", name=dora.name).click()
    expect(desk.get_by_role("heading", name=dora.name, level=1)).to_be_visible()
    contact = desk.locator("section[aria-labelledby='contact-heading'] dl.summary").first
    old_phone = contact.locator("dd").first.inner_text().strip()
    assert old_phone == "(415) 555-0160", old_phone
    desk.get_by_role("link", name="Edit details").click()
    desk.get_by_label("Mobile phone").fill("415 555 0123")
    desk.get_by_role("button", name="Save").click()
    expect(desk.locator(".flash-success")).to_have_text("Details saved: Phone.")
    expect(contact.locator("dd").first).to_have_text("(415) 555-0123")
    # The old number stays in the record's history, with who changed it.
    history = desk.locator("table.records", has=desk.locator("th", has_text="Before"))
    change = history.locator("tbody tr", has_text="Phone")
    expect(change).to_have_count(1)
    expect(change).to_contain_text("Dana Desk")
    expect(change).to_contain_text(old_phone)

    # 2. ...and 4:00 tomorrow no longer suits her: the desk moves her to 4:40.
    new_time = clock_time(16, 40)
    desk.get_by_role("link", name="Move to another time…").click()
    desk.get_by_label("New date and time").select_option(
        f"{tuesday.tomorrow.isoformat()}T{new_time:%H:%M}"
    )
    desk.get_by_role("button", name="Continue").click()
    expect(desk.get_by_text(re.compile(r"^Move from .* to .*\?$"))).to_be_visible()
    desk.get_by_role("button", name="Move", exact=True).click()
    expect(desk.locator(".flash-success")).to_have_text(
        re.compile(rf"^Moved: {_flash_name(dora)} is now on .* at {_time(new_time).pattern}")
    )
    desk.goto(f"/staff/day/{tuesday.tomorrow.isoformat()}")
    expect(_row(desk, dora.name)).to_have_count(1)
    expect(_row(desk, dora.name).locator("th")).to_contain_text(_time(new_time))
    # One message tells her of the new time; nothing was cancelled on her.
    assert _messages(tuesday, dora.code) == [("rescheduled", "queued")]

    # 3. A new youth phones in: the desk books her tomorrow at 4:00, the seat Dora left.
    desk.get_by_role("link", name="Book for a caller").click()
    fill_by_name(
        desk,
        {
            "slot": f"{tuesday.tomorrow.isoformat()}T{TOMORROW_START:%H:%M}",
            "first_name": "Elena",
            "last_name": "Nueva",
            "date_of_birth": f"{tuesday.tomorrow.year - 20}-05-20",
            "phone": "415 555 0188",
            "referral_source": "friend",
        },
    )
    desk.get_by_role("button", name="Book", exact=True).click()
    booked = desk.locator(".flash-success")
    expect(booked).to_have_text(
        re.compile(
            rf"^Booked: Elena N\. on .* at {_time(TOMORROW_START).pattern} "
            r"\(code [A-Z0-9]+\)\. The confirmation goes to the contact given"
        )
    )
    elena_code = re.search(r"\(code ([A-Z0-9]+)\)", booked.inner_text()).group(1)
    expect(desk.get_by_role("heading", name="Elena Nueva", level=1)).to_be_visible()
    # Her confirmation (with her link) is queued for the worker, by text as chosen.
    assert ("confirmation", "queued") in _messages(tuesday, elena_code)
    assert _channel(tuesday, elena_code, "confirmation") == "sms"

    # 4. Other youth booked every seat left today. A youth walks in: the page says so before
    #    anything is typed, and offers the standby list and the next open days instead.
    _fill_today(tuesday)
    desk.goto(day_path)
    desk.get_by_role("link", name="Add a walk-in").click()
    expect(desk.locator("#walk-in-full")).to_contain_text("Every seat left today is taken.")
    expect(desk.get_by_label("First name")).to_have_count(0)
    expect(desk.get_by_role("button", name="Next")).to_have_count(0)
    instead = desk.locator("section[aria-labelledby='instead']")
    # Tomorrow: six seats, Dora's and Elena's taken.
    tomorrow_item = instead.locator("li", has=desk.locator(f"time[datetime='{tuesday.tomorrow}']"))
    expect(tomorrow_item).to_contain_text("4 seats left.")
    expect(instead.get_by_role("link", name="Book one of these days")).to_be_visible()
    desk.screenshot(path=str(artifacts_dir("tuesday") / "walk-in-full-day.png"), full_page=True)
    instead.get_by_role("link", name="Today's standby list").click()
    expect(desk.get_by_role("heading", name=re.compile(r"^Standby for "))).to_be_visible()

    # The youth with appointments arrive, not in the order of their times: Ana (the second
    # time) first, then Beto (the first time), then Milo, a minor whose guardian's consent
    # is not confirmed yet (flagged: he waits, but cannot be called).
    desk.goto(day_path)
    ana, beto, milo = tuesday.late, tuesday.early, tuesday.minor
    for youth in (ana, beto):
        _row(desk, youth.name).get_by_role("button", name="Check in", exact=True).click()
        expect(desk.locator(".flash-success")).to_have_text(f"Checked in: {_flash_name(youth)}.")
    row = _row(desk, milo.name)
    row.locator("summary", has_text="Check in…").click()
    row.get_by_label("Not confirmed yet: flag it").check()
    row.get_by_role("button", name=f"Check in {milo.code}").click()
    expect(desk.locator(".flash-success")).to_have_text(f"Checked in: {_flash_name(milo)}.")
    expect(_waiting(desk, milo.name)).to_contain_text("Minor · consent missing")
    ticket = {
        youth.name: _waiting(desk, youth.name).get_attribute("data-ticket")
        for youth in (ana, beto, milo)
    }
    assert int(ticket[ana.name]) < int(ticket[beto.name]) < int(ticket[milo.name]), ticket

    # 6. The waiting room's screen: the next tickets in the order they will be called (the
    #    earlier time first, then arrival), the minor awaiting consent not among them.
    board = person(viewport={"width": 1280, "height": 720}).new_page()
    board.goto("/now-serving")
    expect(board.locator("p.next strong")).to_have_text([ticket[beto.name], ticket[ana.name]])
    # In both languages, for a room where not everyone reads English.
    expect(board.locator("p.order")).to_have_text(
        "In the order we will call them. · En el orden en que los llamaremos."
    )
    _no_names(board, tuesday)
    board.screenshot(path=str(artifacts_dir("tuesday") / "waiting-room-screen.png"))

    # ...and "Call next" calls them in that order, one to each clinician's station.
    laser_1.get_by_role("button", name="Call next to Laser 1").click()
    expect(laser_1.locator(".flash-success")).to_have_text(
        f"{_flash_name(beto)} called to Laser 1."
    )
    board.reload()
    laser_board = board.locator(".stations-board li", has_text="Laser 1")
    expect(laser_board.locator(".number")).to_have_text(ticket[beto.name])
    expect(board.locator("p.next strong")).to_have_text([ticket[ana.name]])
    # The second clinician's screen follows by itself; then they call the next one.
    station_1 = laser_2.locator("li.station", has_text="Laser 1")
    expect(station_1).to_contain_text(beto.name, timeout=LIVE_WAIT_MS)
    laser_2.get_by_role("button", name="Call next to Laser 2").click()
    expect(laser_2.locator(".flash-success")).to_have_text(f"{_flash_name(ana)} called to Laser 2.")
    board.reload()
    expect(board.locator(".stations-board li", has_text="Laser 2").locator(".number")).to_have_text(
        ticket[ana.name]
    )
    # Milo still waits for his guardian's consent: nobody is "next".
    expect(board.locator("p.next strong")).to_have_count(0)
    expect(board.locator("p.next")).to_contain_text("Nobody waiting")
    _no_names(board, tuesday)
    desk.reload()
    expect(_waiting(desk, milo.name)).to_contain_text("Minor · consent missing")

    # 5. "Treatment done" with nothing filled in is refused, the suggested session kept.
    laser_1.locator("li.station", has_text="Laser 1").get_by_role("link", name="Complete…").click()
    expect(laser_1.get_by_role("heading", name="Record the treatment")).to_be_visible()
    session = laser_1.get_by_label("Session number")
    expect(session).to_have_value("1")
    for box in laser_1.locator("input[name='areas']:checked").all():
        box.uncheck()  # the intake's areas come ticked
    with laser_1.expect_response(
        lambda response: response.request.method == "POST" and "/complete" in response.url
    ) as refused:
        laser_1.get_by_role("button", name="Treatment done").click()
    assert refused.value.status == 422
    problems = laser_1.locator(".error-summary")
    expect(problems).to_contain_text("There is a problem")
    for message in (
        "Please tick at least one place.",
        "Please choose the skin type.",
        "Please write the laser settings used.",
    ):
        expect(problems).to_contain_text(message)
    expect(session).to_have_value("1")
    # Nothing was recorded: Beto is still in treatment at Laser 1.
    board.reload()
    expect(laser_board.locator(".number")).to_have_text(ticket[beto.name])

    laser_1.get_by_label("Hands or fingers").check()
    laser_1.get_by_label("Skin type (Fitzpatrick)").select_option("IV")
    laser_1.get_by_label("Laser settings (wavelength, fluence, spot size)").fill(
        "1064 nm, 3.5 J/cm², 4 mm"
    )
    laser_1.get_by_role("button", name="Treatment done").click()
    expect(laser_1.locator(".flash-success")).to_have_text(
        f"Treatment recorded for {_flash_name(beto)}."
    )
    expect(laser_1.locator("li.station", has_text="Laser 1")).to_contain_text("Free")

    # 7. A youth of the day's last time phones to cancel: one seat is free again, and every
    #    page that counts the day says the same.
    last = tuesday.starts[-1]
    leaving = tuesday.fillers[last][-1]
    desk.goto(day_path)
    row = _row(desk, leaving.name)
    row.locator("summary", has_text="Cancel…").click()
    row.get_by_role("button", name=f"Cancel appointment {leaving.code}").click()
    expect(desk.locator(".flash-success")).to_have_text(
        f"Appointment of {_flash_name(leaving)} cancelled. Its seat is free again."
    )
    appointments = SEATS * len(tuesday.starts) - 1
    expected = {
        "appointments": appointments,
        "expected": appointments - 3,
        "arrived": 3,
        "waiting": 1,
        "in_treatment": 1,
        "done": 1,
        "no_show": 0,
        "seats_left": 1,
    }
    desk.reload()
    assert _counts(desk) == expected
    expect(desk.locator("p.lead")).to_contain_text(f"{appointments} appointments")
    laser_2.reload()
    assert _counts(laser_2) == expected, "a clinician's day page counts otherwise"
    fragment = desk_context.new_page()
    fragment.goto(f"{day_path}/live")
    assert _counts(fragment) == expected, "the live fragment counts otherwise"
    fragment.close()
    # The walk-in page offers the freed seat, before anything is typed.
    desk.goto("/staff/walk-in")
    expect(desk.locator("#walk-in-seats")).to_contain_text("1 seat left today.")
    # The admin's schedule: the same appointments and seats left.
    admin = sign_in_page(person(), ADMIN, STAFF_PASSWORD, authenticators)
    admin.get_by_role("link", name="Schedule").click()
    today_row = admin.locator(
        "table.schedule tbody tr",
        has=admin.locator(f"th time[datetime='{tuesday.today.isoformat()}']"),
    )
    expect(today_row).to_have_count(1)
    cells = today_row.locator("td")
    assert int(cells.nth(4).inner_text()) == expected["seats_left"], "schedule: seats left"
    assert int(cells.nth(3).inner_text()) == appointments, "schedule: appointments"

    desk.goto(day_path)
    desk.screenshot(path=str(artifacts_dir("tuesday") / "front-desk-day.png"), full_page=True)


def _no_names(board, tuesday: Tuesday) -> None:
    """The waiting room's screen shows numbers: no youth's name nor code, ever."""
    shown = board.locator("body").inner_text()
    youth = [tuesday.early, tuesday.minor, tuesday.late]
    youth += [b for booked in tuesday.fillers.values() for b in booked]
    for someone in youth:
        for word in (*someone.name.split(" "), someone.code):
            assert word not in shown, word


def _messages(tuesday: Tuesday, code: str) -> list[tuple[str, str]]:
    """The messages about one appointment still to go, reminders aside: (kind, status)."""
    with tuesday.clinic.app.app_context():
        rows = db.session.execute(
            text(
                "SELECT m.kind, m.status FROM outbox_message m "
                "JOIN appointment a ON a.id = m.appointment_id "
                "WHERE a.code = :code AND m.kind NOT LIKE 'reminder%' ORDER BY m.id"
            ),
            {"code": code},
        ).all()
        db.session.rollback()
    return [(kind, status) for kind, status in rows if status != "sent"]


def _channel(tuesday: Tuesday, code: str, kind: str) -> str:
    with tuesday.clinic.app.app_context():
        channel = db.session.execute(
            text(
                "SELECT m.channel FROM outbox_message m "
                "JOIN appointment a ON a.id = m.appointment_id "
                "WHERE a.code = :code AND m.kind = :kind"
            ),
            {"code": code, "kind": kind},
        ).scalar_one()
        db.session.rollback()
    return channel
