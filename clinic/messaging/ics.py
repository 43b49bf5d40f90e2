"""The appointment as an iCalendar (.ics) file, attached to confirmations and changes and
offered on the youth's page ("Add to calendar": ``calendar_for``), so a youth who chose text
messages gets it too.

The event is written in the clinic's time zone with its VTIMEZONE, so a phone set to another
zone still shows the clinic's time, and daylight saving is the calendar app's job, not ours.
The title is neutral ("Clinic appointment"): calendars are seen by others.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from icalendar import Calendar, Event, vCalAddress
from sqlalchemy import func, select

from clinic import settings
from clinic.extensions import db
from clinic.messaging import texts, transports
from clinic.models import Appointment, OutboxMessage
from clinic.rules.visits import VisitStatus


def appointment_ics(
    *,
    code: str,
    day: date,
    start: time,
    end: time,
    zone: str,
    title: str,
    location: str,
    uid_domain: str,
    organizer: str,
    sequence: int,
    cancelled: bool = False,
    now: datetime | None = None,
) -> bytes:
    """One event for the appointment ``code``. Its UID stays the same for the appointment, and
    a higher ``sequence`` tells a calendar app that this file replaces an earlier one (a new
    time, or a cancellation)."""
    tz = ZoneInfo(zone)
    calendar = Calendar()
    calendar.add("prodid", "-//Youth tattoo removal clinic//scheduler//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", f"appointment-{code}@{uid_domain}")
    event.add("dtstamp", now or datetime.now(UTC))
    event.add("dtstart", datetime.combine(day, start, tzinfo=tz))
    event.add("dtend", datetime.combine(day, end, tzinfo=tz))
    event.add("summary", title)
    event.add("location", location)
    event.add("sequence", sequence)
    # Calendar apps act on a cancellation only from the event's organizer.
    event.add("organizer", vCalAddress(f"mailto:{organizer}"))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def calendar_for(
    appointment: Appointment,
    *,
    language: str | None = None,
    title: str | None = None,
    sequence: int | None = None,
    cancelled: bool | None = None,
    now: datetime | None = None,
) -> bytes:
    """The .ics file of ``appointment`` (an ``Appointment`` loaded with its slot), as the
    e-mails attach it and the youth's page offers it ("Add to calendar"): the same event
    (UID), in the clinic's zone with its VTIMEZONE, a neutral title and place.

    ``title``: the event's title, else the neutral one in ``language``. ``sequence``: the
    version; by default the newest message about the appointment, so that a download is
    never older than the file its last e-mail carried. ``cancelled``: by default, whether
    the appointment is cancelled.
    """
    if title is None:
        with force_locale(language or "en"):
            title = texts.calendar_title(appointment.code)
    if sequence is None:
        sequence = _newest_message(appointment.id)
    if cancelled is None:
        cancelled = appointment.status == VisitStatus.CANCELLED
    clinic = settings.clinic_info()
    slot = appointment.slot
    return appointment_ics(
        code=appointment.code,
        day=slot.day,
        start=slot.start_time,
        end=slot.end_time,
        zone=settings.clinic_zone().key,
        title=title,
        # Calendars are seen by family and on lock screens: the neutral name, as texts use.
        location=f"{clinic.sms_name}, {clinic.address}",
        uid_domain=transports.sender_domain(),
        organizer=transports.sender_address(),
        sequence=sequence,
        cancelled=cancelled,
        now=now,
    )


def _newest_message(appointment_id: int) -> int:
    newest = db.session.scalar(
        select(func.max(OutboxMessage.id)).where(OutboxMessage.appointment_id == appointment_id)
    )
    return newest or 0
