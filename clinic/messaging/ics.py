"""The appointment as an iCalendar (.ics) file, attached to confirmations and changes.

The event is written in the clinic's time zone with its VTIMEZONE, so a phone set to another
zone still shows the clinic's time, and daylight saving is the calendar app's job, not ours.
The title is neutral ("Clinic appointment"): calendars are seen by others.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress


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
