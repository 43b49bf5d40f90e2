"""Dates and times as people read them, in the language of the page or message being written
(Flask-Babel's current locale). Used by the pages and by the messages to youth alike.

Times are the clinic's wall clock: an appointment's time is never shifted to another zone;
only stored instants (naive UTC) are turned into the clinic's time here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from babel import dates as babel_dates
from flask_babel import format_date, format_time, get_locale

from clinic import settings


def long_day(day: date) -> str:
    """'Tuesday, November 24, 2026' / 'martes, 24 de noviembre de 2026'."""
    return format_date(day, "full")


def short_day(day: date) -> str:
    """'Tue, Nov 24' / 'mar, 24 nov'."""
    return babel_dates.format_skeleton("MMMEd", day, locale=get_locale())


def clock(value: time) -> str:
    """'4:20 PM' / '16:20'. Times are the clinic's wall clock: never shifted to another zone."""
    return format_time(value, "short", rebase=False)


def _local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(settings.clinic_zone())


def clock_at(moment: datetime | None) -> str:
    """A stored instant (naive UTC) as the clinic's wall-clock time: '4:37 PM'."""
    if moment is None:
        return ""
    return clock(_local(moment).time())


def day_clock_at(moment: datetime | None) -> str:
    """A stored instant (naive UTC) as the clinic's date and wall-clock time: 'Tue, Nov 24,
    4:37 PM'."""
    if moment is None:
        return ""
    local = _local(moment)
    return f"{short_day(local.date())}, {clock(local.time())}"
