"""A youth runs their booking from their link: the landing that swaps the token for the
session, the appointment page (upcoming, moved, cancelled, past, treated), cancel, reschedule,
the calendar file and the next session; and the one page every link that does not work gets.

The use cases are called through the pages (as the youth would) and directly where a rule's
edge is easier to reach that way. Races against real workers:
tests/concurrency/test_self_service_races.py."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, time

import pytest
from icalendar import Calendar
from sqlalchemy import select

from clinic import booking, settings
from clinic.booking import manage, moves
from clinic.booking.errors import NotChangeable
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import links
from clinic.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    ClinicDay,
    Intake,
    ListEntry,
    ListKind,
    OutboxMessage,
    SeatOffer,
    StatusChange,
    Youth,
    YouthLink,
)
from tests.conftest import LA, NEXT_DAY, NOW
from tests.support.outbox import run_at
from tests.support.querycount import count_statements
from tests.support.youth_links import (
    EN,
    ES,
    book,
    changes,
    counters,
    kinds,
    link_to,
    open_link,
    slot_of,
    treat,
)

LATER_DAY = date(2026, 12, 22)  # the next clinic day after NEXT_DAY
CSRF = re.compile(r'name="csrf_token"( type="hidden")? value="[^"]*"')


def page(client, path: str = "/my", headers=EN):
    response = client.get(path, headers=headers)
    return response, response.get_data(as_text=True)


def without_csrf(body: str) -> str:
    return CSRF.sub("csrf", body)


# --- Tokens -----------------------------------------------------------------------------------


def test_tokens_are_random_and_only_their_hash_is_kept(app):
    appointment_id = book()
    with write_transaction():
        tokens = [links.mint(appointment_id=appointment_id) for _ in range(1000)]
    assert len(set(tokens)) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) for token in tokens)  # 256 bits
    stored = set(db.session.scalars(select(YouthLink.token_hash)))
    assert stored == {hashlib.sha256(token.encode()).hexdigest() for token in tokens}
    # The raw token is nowhere in the database: every table, every column, as text.
    dump = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            dump.extend(str(value) for value in row)
    everything = "\n".join(dump)
    assert not [token for token in tokens if token in everything]


# --- The landing and the appointment page ----------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        (
            EN,
            [
                "Tuesday, November 24, 2026",
                "4:00\u202fPM",
                "2500 Mission Street, San Francisco, CA",
                "A photo ID if you have one",
                "Change the day or time",
                "Cancel this appointment",
                "Add to calendar",
            ],
        ),
        (
            ES,
            [
                "martes, 24 de noviembre de 2026",
                "16:00",
                "2500 Mission Street, San Francisco, CA",
                "Una identificación con foto",
                "Cambiar el día o la hora",
                "Cancelar esta cita",
                "Añadir al calendario",
            ],
        ),
    ],
)
def test_the_link_opens_the_appointment_without_the_token_in_the_address(
    app, client, headers, words
):
    appointment_id = book()
    token = link_to(appointment_id)
    landing = client.get(f"/my/{token}", headers=headers)
    assert landing.status_code == 303 and landing.headers["Location"] == "/my"
    assert landing.headers["Referrer-Policy"] == "no-referrer"
    with client.session_transaction() as session:
        assert session["my_link"] == links.hash_token(token)

    response, body = page(client, headers=headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert token not in body
    code = db.session.get(Appointment, appointment_id).code
    assert code in body
    assert 'href="tel:+14155550134"' in body
    for word in words:
        assert word in body, word
    if headers is EN:
        # Not under the guardian age: nothing about a guardian to bring.
        assert "Your parent or guardian" not in body


def test_a_minors_page_asks_to_bring_the_guardian(app, client):
    appointment_id = book(
        date_of_birth=date(2011, 3, 3),
        guardian_name="Marta Reyes",
        guardian_relationship="parent",
        guardian_phone="+14155550111",
    )
    open_link(client, appointment_id)
    assert "Your parent or guardian, or their phone number" in page(client)[1]


def test_the_page_takes_the_same_number_of_queries_however_often_it_moved(app, client):
    appointment_id = book()
    open_link(client, appointment_id)
    with count_statements() as first:
        client.get("/my", headers=EN)
    rules = settings.current_rules()
    for day in (LATER_DAY, date(2026, 12, 29), NEXT_DAY):
        manage.reschedule_by_youth(appointment_id, day, time(17, 0), rules, NOW)
    with count_statements() as later:
        assert "You moved this appointment" in client.get("/my", headers=EN).get_data(True)
    assert len(later) == len(first)


# --- The one page for every link that does not work ------------------------------------------


def test_every_link_that_does_not_work_gets_the_same_page(app, clock):
    upcoming = book(1)
    cancelled = book(2)
    expired = link_to(upcoming)
    cancelled_link = link_to(cancelled)
    manage.cancel_by_youth(cancelled, settings.current_rules(), NOW)
    # After the visit's day: both links have ended (the cancelled one too).
    clock.set(datetime(2026, 11, 25, 0, 0, 1, tzinfo=LA))

    answers = {}
    for label, path in {
        "malformed": "/my/not-a-token",
        "malformed, right length": "/my/" + "!" * 43,
        "unknown": "/my/" + "A" * 43,
        "expired": f"/my/{expired}",
        "cancelled, after its day": f"/my/{cancelled_link}",
        "no link": "/my",
        "cancel without a link": "/my/cancel",
        "calendar without a link": "/my/calendar.ics",
    }.items():
        response = app.test_client().get(path, headers=EN)
        answers[label] = (response.status_code, without_csrf(response.get_data(as_text=True)))
    first = answers["unknown"]
    assert first[0] == 404
    assert "This link does not work" in first[1]
    assert 'href="/my/lost"' in first[1]
    for label, answer in answers.items():
        assert answer == first, label


def test_a_cancelled_appointments_link_says_so_until_its_day_ends(app, client, clock):
    appointment_id = book()
    open_link(client, appointment_id)
    manage.cancel_by_youth(appointment_id, settings.current_rules(), NOW)
    clock.set(datetime(2026, 11, 24, 23, 59, tzinfo=LA))
    response, body = page(client)
    assert response.status_code == 200
    assert "This appointment is cancelled" in body
    assert 'href="/book"' in body
    assert "Cancel this appointment" not in body and "Change the day" not in body


def test_a_past_appointment_says_it_is_past(app, client, clock):
    appointment_id = book()
    open_link(client, appointment_id)
    clock.set(datetime(2026, 11, 24, 16, 30, tzinfo=LA))  # its time gone, nobody checked in
    body = page(client)[1]
    assert "This appointment's time has passed" in body
    assert "Cancel this appointment" not in body
    # And nothing can change it any more.
    assert client.post("/my/cancel").status_code == 303
    assert slot_of(appointment_id)[2] == AppointmentStatus.BOOKED


# --- Cancel -----------------------------------------------------------------------------------


def test_the_youth_cancels_after_a_confirmation_step(app, client):
    appointment_id = book()
    other = book(2)  # the slot's other seat
    open_link(client, appointment_id)
    before = counters()

    response, body = page(client, "/my/cancel")
    assert response.status_code == 200
    assert "Cancel your appointment?" in body and "Yes, cancel my appointment" in body
    assert slot_of(appointment_id)[2] == AppointmentStatus.BOOKED  # the GET changed nothing

    done = client.post("/my/cancel", headers=EN)
    assert done.status_code == 303 and done.headers["Location"] == "/my"
    body = page(client)[1]
    assert "Your appointment is cancelled" in body

    assert slot_of(appointment_id)[2] == AppointmentStatus.CANCELLED
    assert slot_of(other)[2] == AppointmentStatus.BOOKED
    after = counters()
    assert after[(NEXT_DAY, time(16, 0))] == before[(NEXT_DAY, time(16, 0))] - 1
    (change,) = changes(appointment_id)
    assert (change.action, change.from_status, change.to_status) == (
        "cancel",
        "booked",
        "cancelled",
    )
    assert change.actor == Actor.YOUTH and change.staff_id is None
    assert db.session.get(Appointment, appointment_id).cancelled_by_id is None
    assert kinds(appointment_id)[-1] == "youth_cancelled"
    # Its reminders will not go.
    assert not db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.appointment_id == appointment_id,
            OutboxMessage.kind.like("reminder%"),
            OutboxMessage.status == "queued",
        )
    ).all()


def test_cancelling_twice_frees_one_seat(app):
    appointment_id = book()
    rules = settings.current_rules()
    manage.cancel_by_youth(appointment_id, rules, NOW)
    with pytest.raises(booking.NotCancellable):
        manage.cancel_by_youth(appointment_id, rules, NOW)
    assert counters()[(NEXT_DAY, time(16, 0))] == 0
    assert len(changes(appointment_id)) == 1


# --- Reschedule -------------------------------------------------------------------------------


def test_the_youth_moves_to_another_open_time(app, client, sent):
    appointment_id = book()
    run_at(NOW)  # the confirmation went (one still waiting would say the new time itself)
    open_link(client, appointment_id)
    response, body = page(client, "/my/reschedule")
    assert response.status_code == 200
    assert 'value="2026-12-22T17:00"' in body
    assert 'value="2026-11-24T16:00"' not in body  # its own time is not offered
    assert 'value="2026-11-24T16:20"' in body

    moved = client.post("/my/reschedule", data={"slot": "2026-12-22T17:00"}, headers=EN)
    assert moved.status_code == 303 and moved.headers["Location"] == "/my"
    body = page(client)[1]
    assert "Done: your appointment is now on Tuesday, December 22, 2026 at 5:00\u202fPM" in body
    assert (
        "You moved this appointment from "
        '<time datetime="2026-11-24T16:00">Tuesday, November 24, 2026, 4:00\u202fPM</time> to '
        '<time datetime="2026-12-22T17:00">Tuesday, December 22, 2026, 5:00\u202fPM</time>'
    ) in body

    assert slot_of(appointment_id) == (LATER_DAY, time(17, 0), AppointmentStatus.BOOKED)
    seats = counters()
    assert seats[(NEXT_DAY, time(16, 0))] == 0 and seats[(LATER_DAY, time(17, 0))] == 1
    (change,) = changes(appointment_id)
    assert (change.action, change.from_status, change.to_status) == (
        "reschedule",
        "booked",
        "booked",
    )
    assert change.actor == Actor.YOUTH and change.staff_id is None
    assert change.detail == {"from": "2026-11-24T16:00", "to": "2026-12-22T17:00"}
    message = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.appointment_id == appointment_id, OutboxMessage.kind == "rescheduled"
        )
    ).one()
    assert message.context == {"old": "2026-11-24T16:00"}


def test_a_moved_visits_link_works_until_its_new_day_ends(app, client, clock):
    appointment_id = book()
    token = link_to(appointment_id)
    manage.reschedule_by_youth(
        appointment_id, LATER_DAY, time(16, 0), settings.current_rules(), NOW
    )
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=LA))  # after the old day
    assert client.get(f"/my/{token}").status_code == 303
    assert "Tuesday, December 22, 2026" in page(client)[1]


def test_a_move_into_a_full_slot_changes_nothing(app, client):
    appointment_id = book()
    book(2, day=LATER_DAY)
    book(3, day=LATER_DAY)  # 22 Dec 16:00 is full now
    open_link(client, appointment_id)
    before = counters()
    messages_before = kinds()

    response = client.post("/my/reschedule", data={"slot": "2026-12-22T16:00"}, headers=EN)
    assert response.status_code == 422
    assert "Sorry, this time just filled up" in response.get_data(as_text=True)
    assert counters() == before
    assert slot_of(appointment_id) == (NEXT_DAY, time(16, 0), AppointmentStatus.BOOKED)
    assert changes(appointment_id) == []
    assert kinds() == messages_before


def test_a_move_to_its_own_time_or_a_time_not_offered_is_refused(app, client):
    appointment_id = book()
    open_link(client, appointment_id)
    before = counters()
    own = client.post("/my/reschedule", data={"slot": "2026-11-24T16:00"}, headers=EN)
    assert own.status_code == 422
    assert "This is already the time of your appointment" in own.get_data(as_text=True)
    for slot in ("2026-11-25T16:00", "2026-11-24T16:10", "nonsense", ""):
        refused = client.post("/my/reschedule", data={"slot": slot}, headers=EN)
        assert refused.status_code == 422, slot
    assert counters() == before
    assert changes(appointment_id) == []


def test_a_cancelled_appointment_cannot_be_moved(app, client):
    appointment_id = book()
    open_link(client, appointment_id)
    rules = settings.current_rules()
    manage.cancel_by_youth(appointment_id, rules, NOW)
    assert client.get("/my/reschedule").status_code == 303
    assert client.post("/my/reschedule", data={"slot": "2026-12-22T17:00"}).status_code == 303
    with pytest.raises(NotChangeable):
        manage.reschedule_by_youth(appointment_id, LATER_DAY, time(17, 0), rules, NOW)
    assert counters() == {(NEXT_DAY, time(16, 0)): 0}


def test_a_move_that_lost_a_race_rolls_back_its_new_seat(app, monkeypatch):
    """The appointment changed between the read and the conditional UPDATE (another tab moved
    it): the whole transaction rolls back, the new seat with it."""
    appointment_id = book()
    rules = settings.current_rules()
    real_check = moves.check_healed

    def meanwhile(youth_id, day, rules):
        real_check(youth_id, day, rules)
        # The same transaction sees the change a concurrent one committed (READ COMMITTED).
        db.session.execute(
            Appointment.__table__.update()
            .where(Appointment.id == appointment_id)
            .values(status=AppointmentStatus.CANCELLED)
        )

    monkeypatch.setattr(moves, "check_healed", meanwhile)
    with pytest.raises(NotChangeable):
        manage.reschedule_by_youth(appointment_id, LATER_DAY, time(17, 0), rules, NOW)
    # The new slot's row was made in the rolled-back transaction: it is gone with it.
    assert counters() == {(NEXT_DAY, time(16, 0)): 1}
    assert slot_of(appointment_id)[2] == AppointmentStatus.BOOKED


def test_a_youth_who_turns_26_before_the_new_date_cannot_move_to_it(app, client):
    # 25 on 24 November, 26 from 1 December.
    appointment_id = book(date_of_birth=date(2000, 12, 1))
    open_link(client, appointment_id)
    before = counters()
    response = client.post("/my/reschedule", data={"slot": "2026-12-22T17:00"}, headers=EN)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "up to age 25 on the day of the appointment, and you will be 26" in body
    assert counters() == before
    assert slot_of(appointment_id)[:2] == (NEXT_DAY, time(16, 0))
    # A time on the same day is fine.
    assert client.post("/my/reschedule", data={"slot": "2026-11-24T17:00"}).status_code == 303


def _treated_on(day: date, n: int = 9) -> None:
    """An earlier visit of youth ``n`` (as ``book`` makes them), treated on ``day``."""
    db.session.add(ClinicDay(day=day, extra=True))
    db.session.commit()
    earlier = book(n, day=day, now=datetime.combine(day, time(9), tzinfo=LA))
    treat(earlier)


def test_the_healing_interval_holds_for_a_move_at_its_boundary(app):
    # Treated on Tuesday 10 November: six weeks later is Tuesday 22 December. A clinic day on
    # Monday 21 December (an extra one) is one day too soon.
    _treated_on(date(2026, 11, 10))
    db.session.add(ClinicDay(day=date(2026, 12, 21), extra=True))
    db.session.commit()
    appointment_id = book(9, day=date(2026, 12, 29))
    rules = settings.current_rules()
    before = counters()
    with pytest.raises(booking.TooSoon) as refused:
        manage.reschedule_by_youth(appointment_id, date(2026, 12, 21), time(16, 0), rules, NOW)
    assert refused.value.earliest == LATER_DAY
    assert counters() == before
    manage.reschedule_by_youth(appointment_id, LATER_DAY, time(16, 0), rules, NOW)
    assert slot_of(appointment_id)[:2] == (LATER_DAY, time(16, 0))


# --- Add to calendar --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "day", "utc_start"),
    [
        # Standard time: 16:00 in San Francisco is midnight UTC.
        (NOW, NEXT_DAY, datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
        # Daylight saving time from 14 March 2027: 16:00 is 23:00 UTC.
        (
            datetime(2027, 3, 1, 9, 0, tzinfo=LA),
            date(2027, 3, 23),
            datetime(2027, 3, 23, 23, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_calendar_file_is_the_visit_in_the_clinics_time(
    app, client, clock, now, day, utc_start
):
    clock.set(now)
    appointment_id = book(day=day, now=now)
    open_link(client, appointment_id)
    response = client.get("/my/calendar.ics", headers=EN)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    assert response.headers["Content-Disposition"] == 'attachment; filename="appointment.ics"'
    assert response.headers["Cache-Control"] == "no-store"
    calendar = Calendar.from_ical(response.get_data())
    (event,) = calendar.walk("VEVENT")
    start = event.decoded("dtstart")
    assert str(start.tzinfo) == "America/Los_Angeles"
    assert start.astimezone(UTC) == utc_start
    assert event.decoded("dtend") - start == (
        datetime(2000, 1, 1, 16, 20) - datetime(2000, 1, 1, 16, 0)
    )
    assert calendar.walk("VTIMEZONE")
    code = db.session.get(Appointment, appointment_id).code
    assert str(event["uid"]).startswith(f"appointment-{code}@")
    # Never older than the files the messages attached (numbered by message id).
    last_message = max(db.session.scalars(select(OutboxMessage.id)))
    assert int(event["sequence"]) == last_message
    assert "Mission Youth Clinic" in str(event["location"])  # the neutral name


def test_a_cancelled_appointment_has_no_calendar_file(app, client):
    appointment_id = book()
    open_link(client, appointment_id)
    manage.cancel_by_youth(appointment_id, settings.current_rules(), NOW)
    assert client.get("/my/calendar.ics").status_code == 303


# --- The next session -------------------------------------------------------------------------


def _treated_link(client, clock, **overrides) -> int:
    """Youth 1 booked NEXT_DAY and was treated; it is the next morning and their browser
    opened the visit's link. Extra clinic days on 4 and 5 January: six weeks after 24
    November is 5 January."""
    for day in (date(2027, 1, 4), date(2027, 1, 5)):
        db.session.add(ClinicDay(day=day, extra=True))
    db.session.commit()
    appointment_id = book(**overrides)
    treat(appointment_id)
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=LA))
    open_link(client, appointment_id)
    return appointment_id


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        (EN, ["Your session is done", "Book your next session", "Tuesday, January 5, 2027"]),
        (ES, ["Tu sesión está hecha", "Reserva tu próxima sesión", "martes, 5 de enero de 2027"]),
    ],
)
def test_a_treated_visits_page_offers_the_next_session(app, client, clock, headers, words):
    _treated_link(client, clock)
    body = page(client, headers=headers)[1]
    for word in words:
        assert word in body, word
    assert 'href="/my/next"' in body


def test_the_next_session_page_lists_only_days_the_skin_allows(app, client, clock):
    _treated_link(client, clock)
    response, body = page(client, "/my/next")
    assert response.status_code == 200
    assert 'value="2027-01-05T16:00"' in body and 'value="2027-01-19T16:00"' in body
    for too_soon in ("2027-01-04", "2026-12-29", "2026-12-22"):
        assert f'value="{too_soon}T' not in body
    # The contact details on file, to confirm; no intake to retype.
    assert 'value="+14155550001"' in body
    assert "tattoo_locations" not in body and "date_of_birth" not in body


def _next_form(body: str, **answers) -> dict:
    key = re.search(r'name="submission_key"[^>]*value="([^"]+)"', body).group(1)
    return {
        "slot": "2027-01-05T16:00",
        "submission_key": key,
        "phone": "415 555 0199",
        "email": "",
        "contact_by": "sms",
        "language": "es",
        **answers,
    }


def test_the_youth_books_the_next_session_from_the_link(app, client, clock):
    treated = _treated_link(client, clock)
    form = _next_form(page(client, "/my/next")[1])
    response = client.post("/my/next", data=form, headers=EN)
    assert response.status_code == 303 and response.headers["Location"] == "/my"

    # The browser now holds the new appointment's link.
    body = page(client)[1]
    assert "Booked: your next session is on Tuesday, January 5, 2027" in body
    assert "Tuesday, January 5, 2027" in body and "Cancel this appointment" in body
    new = db.session.scalars(
        select(Appointment).where(Appointment.id != treated, Appointment.status == "booked")
    ).one()
    assert new.youth_id == db.session.get(Appointment, treated).youth_id
    intake = db.session.scalars(select(Intake).where(Intake.appointment_id == new.id)).one()
    # The updated contact; the previous intake's answers.
    assert (intake.phone, intake.language, intake.contact_by) == ("+14155550199", "es", "sms")
    assert intake.tattoo_locations == ["arms"] and intake.referral_source == "probation"
    assert "confirmation" in kinds(new.id)
    with client.session_transaction() as session:
        held = db.session.scalars(
            select(YouthLink).where(YouthLink.token_hash == session["my_link"])
        ).one()
    assert held.appointment_id == new.id

    # The same form again (a double tap) books nothing more.
    again = client.post("/my/next", data=form, headers=EN)
    assert again.status_code in (303, 422)
    assert (
        len(db.session.scalars(select(Appointment).where(Appointment.status == "booked")).all())
        == 1
    )


def test_the_healing_interval_holds_for_the_next_session_at_its_boundary(app, clock):
    for day in (date(2027, 1, 4), date(2027, 1, 5)):
        db.session.add(ClinicDay(day=day, extra=True))
    db.session.commit()
    treated = book()
    treat(treated)
    now = datetime(2026, 11, 25, 9, 0, tzinfo=LA)
    rules = settings.current_rules()
    contact = manage.ContactUpdate(
        phone="+14155550001", email=None, language="en", contact_by="sms"
    )
    with pytest.raises(booking.TooSoon) as refused:
        manage.book_next(
            treated, date(2027, 1, 4), time(16, 0), contact, rules, now, submission_key="n" * 32
        )
    assert refused.value.earliest == date(2027, 1, 5)
    assert counters().get((date(2027, 1, 4), time(16, 0)), 0) == 0
    booked = manage.book_next(
        treated, date(2027, 1, 5), time(16, 0), contact, rules, now, submission_key="m" * 32
    )
    assert booked.appointment.slot_id is not None
    assert slot_of(booked.appointment.id)[:2] == (date(2027, 1, 5), time(16, 0))
    assert (
        db.session.scalars(select(YouthLink).where(YouthLink.token_hash == booked.link_hash))
        .one()
        .appointment_id
        == booked.appointment.id
    )


def test_the_next_session_counts_from_the_last_treatment(app, clock):
    _treated_on(date(2026, 10, 6), n=1)  # the youth's first session
    db.session.add(ClinicDay(day=date(2027, 1, 5), extra=True))
    db.session.commit()
    treated = book(1)
    treat(treated)  # and their second, on 24 November
    now = datetime(2026, 11, 25, 9, 0, tzinfo=LA)
    rules = settings.current_rules()
    plan = manage.next_session_plan(db.session.get(Appointment, treated).youth_id, rules, now)
    assert plan.earliest == date(2027, 1, 5)
    assert plan.days[0].plan.day == date(2027, 1, 5)


def test_the_next_session_keeps_the_age_rule(app, clock):
    # 25 on 24 November 2026, 26 from 2 January 2027.
    for day in (date(2027, 1, 5),):
        db.session.add(ClinicDay(day=day, extra=True))
    db.session.commit()
    treated = book(date_of_birth=date(2001, 1, 2))
    treat(treated)
    contact = manage.ContactUpdate(phone="+14155550001", email=None, language="en", contact_by=None)
    with pytest.raises(booking.NotEligible):
        manage.book_next(
            treated,
            date(2027, 1, 5),
            time(16, 0),
            contact,
            settings.current_rules(),
            datetime(2026, 11, 25, 9, 0, tzinfo=LA),
            submission_key="a" * 32,
        )
    assert counters().get((date(2027, 1, 5), time(16, 0)), 0) == 0


def test_only_a_treated_visit_books_the_next_session(app, client):
    appointment_id = book()
    open_link(client, appointment_id)
    assert client.get("/my/next").status_code == 303
    assert client.post("/my/next", data={"slot": "2026-12-22T16:00"}).status_code == 303
    with pytest.raises(booking.BookingError):
        manage.book_next(
            appointment_id,
            LATER_DAY,
            time(16, 0),
            manage.ContactUpdate(phone=None, email="a@b.test", language="en", contact_by=None),
            settings.current_rules(),
            NOW,
            submission_key="z" * 32,
        )
    assert db.session.scalars(select(StatusChange)).all() == []


# --- A seat the youth frees goes to the list --------------------------------------------------


@pytest.mark.parametrize("change", ["cancel", "reschedule"])
def test_a_seat_the_youth_frees_is_offered_to_the_days_standby_list(app, change):
    # A short, full day: two slots of one seat, both booked; someone on its standby list.
    db.session.add(ClinicDay(day=NEXT_DAY, start_time=time(16, 0), end_time=time(16, 40), seats=1))
    db.session.commit()
    leaving, staying = book(1), book(2, start=time(16, 20))
    waiting = Youth(
        identity_key=Youth.make_identity_key("Lia", "Wait", date(2004, 4, 4)),
        first_name="Lia",
        last_name="Wait",
        date_of_birth=date(2004, 4, 4),
    )
    db.session.add(waiting)
    db.session.flush()
    entry = ListEntry(
        kind=ListKind.STANDBY,
        day=NEXT_DAY,
        youth_id=waiting.id,
        phone="+14155550077",
        contact_by="sms",
        answers={},
    )
    db.session.add(entry)
    db.session.commit()

    rules = settings.current_rules()
    if change == "cancel":
        manage.cancel_by_youth(leaving, rules, NOW)
    else:
        manage.reschedule_by_youth(leaving, LATER_DAY, time(16, 0), rules, NOW)

    db.session.rollback()
    (offer,) = db.session.scalars(select(SeatOffer)).all()
    assert (offer.entry_id, offer.status) == (entry.id, "open")
    # The offer holds the seat: the 16:00 counter is still 1, with nobody booked in it.
    assert counters()[(NEXT_DAY, time(16, 0))] == 1
    assert slot_of(staying)[:2] == (NEXT_DAY, time(16, 20))
    assert "seat_offered" in [
        kind
        for kind in db.session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.entry_id == entry.id)
        )
    ]


def test_opening_links_from_one_address_is_limited(app):
    app.config["LINK_LIMIT_PER_ADDRESS"] = "3 per hour"
    token = link_to(book())
    client = app.test_client()
    statuses = [
        client.get(f"/my/{token}", environ_base={"REMOTE_ADDR": "10.3.3.3"}).status_code
        for _ in range(4)
    ]
    assert statuses == [303, 303, 303, 429]
    other = app.test_client().get(f"/my/{token}", environ_base={"REMOTE_ADDR": "10.4.4.4"})
    assert other.status_code == 303


# --- Every page, in English and Spanish -------------------------------------------------------

PAGES = {
    "en": {
        "/my": "Your appointment",
        "/my/cancel": "Cancel your appointment?",
        "/my/reschedule": "Change the day or time",
        "/my/lost": "Lost your link?",
        "/my/lost/sent": "If these details match a booking",
        "unknown": "This link does not work",
        "treated /my": "Your session is done",
        "/my/next": "How to reach you",
    },
    "es": {
        "/my": "Tu cita",
        "/my/cancel": "¿Cancelar tu cita?",
        "/my/reschedule": "Cambiar el día o la hora",
        "/my/lost": "¿Perdiste tu enlace?",
        "/my/lost/sent": "Si estos datos coinciden con una reserva",
        "unknown": "Este enlace no funciona",
        "treated /my": "Tu sesión está hecha",
        "/my/next": "Cómo contactarte",
    },
}


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_page_in_both_languages(app, client, clock, language):
    headers = {"Accept-Language": language}
    open_link(client, book())
    words = PAGES[language]
    for path in ("/my", "/my/cancel", "/my/reschedule", "/my/lost", "/my/lost/sent"):
        response, body = page(client, path, headers)
        assert response.status_code == 200, path
        assert words[path] in body, path
    response, body = page(app.test_client(), "/my/" + "B" * 43, headers)
    assert response.status_code == 404 and words["unknown"] in body

    treated_client = app.test_client()
    _treated_link(treated_client, clock, n=5)
    assert words["treated /my"] in page(treated_client, "/my", headers)[1]
    response, body = page(treated_client, "/my/next", headers)
    assert response.status_code == 200 and words["/my/next"] in body


def _shown_for(page: str) -> str:
    """The appointment a form on ``page`` was shown for (its hidden field)."""
    return re.search(r'name="about"( type="hidden")? value="([^"]*)"', page).group(2)


@pytest.mark.parametrize("path", ["/my/cancel", "/my/reschedule"])
def test_a_page_left_open_in_another_tab_changes_nothing_after_another_link_opened(
    app, client, path
):
    """A parent opens one child's cancel page, then the other child's link in a second tab,
    then presses "Yes, cancel" in the first tab: neither appointment changes."""
    first, second = book(1), book(2, start=time(16, 20))
    open_link(client, first)
    shown = _shown_for(client.get(path).get_data(as_text=True))
    open_link(client, second)

    response = client.post(path, data={"about": shown, "slot": "2026-12-22T17:00"}, headers=EN)

    assert response.status_code == 303 and response.headers["Location"] == "/my"
    page = client.get("/my", headers=EN).get_data(as_text=True)
    assert "nothing was changed" in page
    for appointment_id, start in ((first, time(16, 0)), (second, time(16, 20))):
        assert slot_of(appointment_id)[1:] == (start, AppointmentStatus.BOOKED)
    # The form shown for the open link still works.
    own = _shown_for(client.get("/my/cancel").get_data(as_text=True))
    assert client.post("/my/cancel", data={"about": own}).status_code == 303
    assert slot_of(second)[2] == AppointmentStatus.CANCELLED
