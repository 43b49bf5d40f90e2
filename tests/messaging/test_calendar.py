"""The appointment's calendar file, as e-mails attach it and the youth's page offers it
(``ics.calendar_for``), parsed back: the clinic's wall-clock time on either side of a
daylight-saving change, from the file's own VTIMEZONE as a calendar app in another zone reads
it; the same event (UID) at every version, never older than the last one e-mailed; a neutral
title in the youth's language; a cancelled appointment's file cancels the event."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from clinic.extensions import db
from clinic.messaging import ics
from clinic.models import Appointment, AppointmentStatus, Slot
from tests.conftest import LA, NOW
from tests.support.outbox import book_at, run_at

MARCH = date(2027, 3, 23)  # a Tuesday after US daylight saving began (2027-03-14): UTC-7
NOVEMBER = date(2026, 11, 24)  # a Tuesday after it ended (2026-11-01): UTC-8


def appointment_on(day: date, start: time = time(16, 20), **booking) -> Appointment:
    """A booking moved to ``day`` at ``start`` (beyond the booking window too), loaded with
    its slot as the web and the worker load it."""
    appointment_id = book_at(0, **booking)
    end = (datetime.combine(day, start) + timedelta(minutes=20)).time()
    slot = Slot(day=day, start_time=start, end_time=end, capacity=2, booked=1)
    db.session.add(slot)
    db.session.flush()
    db.session.execute(
        update(Appointment).where(Appointment.id == appointment_id).values(slot_id=slot.id)
    )
    db.session.commit()
    return db.session.scalars(
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .options(joinedload(Appointment.slot))
    ).one()


def parsed(content: bytes):
    calendar = Calendar.from_ical(content)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


@pytest.mark.parametrize(
    ("day", "offset"), [(MARCH, timedelta(hours=-7)), (NOVEMBER, timedelta(hours=-8))]
)
def test_the_event_keeps_the_clinics_time_across_daylight_saving(app, day, offset):
    appointment = appointment_on(day)
    calendar, event = parsed(ics.calendar_for(appointment, language="en"))
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "America/Los_Angeles"
    assert event["DTSTART"].params["TZID"] == "America/Los_Angeles"
    start = event.decoded("DTSTART")
    assert (start.date(), start.time()) == (day, time(16, 20))
    assert start.utcoffset() == offset
    assert event.decoded("DTEND") - start == timedelta(minutes=20)
    # As an app that does not know the zone reads it: from the VTIMEZONE in the file itself.
    own_rules = zone.to_tz(lookup_tzid=False)
    wall_clock = datetime.combine(day, time(16, 20))
    assert own_rules.utcoffset(wall_clock) == offset


def test_the_e_mailed_file_is_the_same_in_march(app, sent):
    appointment_on(MARCH, email="ana@example.org", contact_by="email")
    run_at(NOW)
    (attachment,) = [a for a in sent.attachments if a is not None]
    name, content, mimetype = attachment
    assert name == "appointment.ics" and mimetype.endswith("method=PUBLISH")
    _calendar, event = parsed(content)
    assert event.decoded("DTSTART") == datetime(2027, 3, 23, 16, 20, tzinfo=LA)
    assert event.decoded("DTSTART").utcoffset() == timedelta(hours=-7)


def test_a_download_is_the_same_event_and_never_older_than_the_last_e_mail(app, sent):
    appointment = appointment_on(NOVEMBER, email="ana@example.org", contact_by="email")
    run_at(NOW)
    (attachment,) = [a for a in sent.attachments if a is not None]
    _calendar, mailed = parsed(attachment[1])
    _calendar, downloaded = parsed(ics.calendar_for(appointment, language="en"))
    assert downloaded["UID"] == mailed["UID"]
    assert downloaded["SEQUENCE"] >= mailed["SEQUENCE"]


def test_the_title_is_neutral_and_in_the_youths_language(app):
    appointment = appointment_on(NOVEMBER)
    _calendar, event = parsed(ics.calendar_for(appointment, language="es"))
    assert str(event["SUMMARY"]) == f"Cita en la clínica ({appointment.code})"
    shown = f"{event['SUMMARY']} {event['LOCATION']}".lower()
    assert "tattoo" not in shown and "tatuaje" not in shown


def test_a_cancelled_appointments_file_cancels_the_event(app):
    appointment = appointment_on(NOVEMBER)
    db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id)
        .values(status=AppointmentStatus.CANCELLED)
    )
    db.session.commit()
    appointment = db.session.scalars(
        select(Appointment)
        .where(Appointment.id == appointment.id)
        .options(joinedload(Appointment.slot))
    ).one()
    calendar, event = parsed(ics.calendar_for(appointment))
    assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
