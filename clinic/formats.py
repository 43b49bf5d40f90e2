"""Dates and times as people read them, in the language of the page or message being written
(Flask-Babel's current locale) and the conventions of the clinic's country
(``LOCALE_TERRITORY``): Spanish in San Francisco is ``es_US``, which reads "4:20 p.m." as US
Spanish speakers do, where plain ``es`` (Spain) would write "16:20". Used by the pages and by
the messages to youth alike.

Times are the clinic's wall clock: an appointment's time is never shifted to another zone;
only stored instants (naive UTC) are turned into the clinic's time here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from flask import current_app
from flask_babel import get_locale

from clinic import settings


@lru_cache(maxsize=16)
def _regional(language: str, territory: str) -> Locale:
    try:
        return Locale(language, territory or None)
    except UnknownLocaleError:  # a territory Babel has no data for: the language alone
        return Locale(language)


def display_locale() -> Locale:
    """The current language with the clinic's territory: ``es`` -> ``es_US``. Only formats
    change: the catalogue (the words) stays the language's own."""
    locale = get_locale()
    territory = current_app.config.get("LOCALE_TERRITORY", "")
    if locale is None or locale.territory or not territory:
        return locale or Locale("en")
    return _regional(locale.language, territory)


# Pages show the same few dates and the day's slot times again and again (a day sheet, every
# row): each formatting, in each locale, is worked out once per process. Babel's own work
# per call is most of a short page's formatting time.
@lru_cache(maxsize=4096)
def _long_day(day: date, locale: Locale) -> str:
    return babel_dates.format_date(day, "full", locale=locale)


@lru_cache(maxsize=4096)
def _short_day(day: date, locale: Locale) -> str:
    return babel_dates.format_skeleton("MMMEd", day, locale=locale)


@lru_cache(maxsize=4096)
def _clock(value: time, locale: Locale) -> str:
    return babel_dates.format_time(value, "short", locale=locale)


def long_day(day: date) -> str:
    """'Tuesday, November 24, 2026' / 'martes, 24 de noviembre de 2026'."""
    return _long_day(day, display_locale())


def short_day(day: date) -> str:
    """'Tue, Nov 24' / 'mar, 24 de nov'."""
    return _short_day(day, display_locale())


def clock(value: time) -> str:
    """'4:20 PM' / '4:20 p.m.' (Babel puts a narrow no-break space before the period of the
    day, so it never wraps alone; the SMS transport turns it into a plain space). Times are
    the clinic's wall clock: never shifted to another zone."""
    return _clock(value, display_locale())


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


# "a.m."/"p.m." (es_US), with or without a space inside, followed by a sentence's own period.
_DOUBLE_PERIOD = re.compile(r"(?<=[ap]\.m\.)\.|(?<=[ap]\.\sm\.)\.")


def merge_periods(text: str) -> str:
    """One period where a time ends a sentence: 'tu cita es el martes a las 4:20 p.m..' ->
    '... 4:20 p.m.' (Spanish, like English, lets the abbreviation's period end the sentence).
    The sentences come from the catalogue with their own period, written for '4:20 PM'."""
    if "m.." not in text:
        return text
    return _DOUBLE_PERIOD.sub("", text)
