"""Language choice and the date/time formats every page uses."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from flask import current_app, request, session
from flask_babel import format_date, format_time, get_locale


def select_locale() -> str:
    """The language the visitor chose, else the browser's best guess, else English."""
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or languages[0]


def long_day(day: date) -> str:
    """'Tuesday, November 24, 2026' / 'martes, 24 de noviembre de 2026'."""
    return format_date(day, "full")


def short_day(day: date) -> str:
    """'Tue, Nov 24' / 'mar, 24 nov'."""
    return babel_dates.format_skeleton("MMMEd", day, locale=get_locale())


def clock(value: time) -> str:
    """'4:20 PM' / '16:20'. Times are the clinic's wall clock: never shifted to another zone."""
    return format_time(value, "short", rebase=False)


def clock_at(moment: datetime | None) -> str:
    """A stored instant (naive UTC) as the clinic's wall-clock time: '4:37 PM'."""
    if moment is None:
        return ""
    zone = ZoneInfo(current_app.config["CLINIC_TZ"])
    return clock(moment.replace(tzinfo=UTC).astimezone(zone).time())


def day_clock_at(moment: datetime | None) -> str:
    """A stored instant (naive UTC) as the clinic's date and wall-clock time: 'Tue, Nov 24,
    4:37 PM'."""
    if moment is None:
        return ""
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(current_app.config["CLINIC_TZ"]))
    return f"{short_day(local.date())}, {clock(local.time())}"


def init_app(app) -> None:
    app.jinja_env.filters.update(
        long_day=long_day,
        short_day=short_day,
        clock=clock,
        clock_at=clock_at,
        day_clock_at=day_clock_at,
    )
    app.jinja_env.globals.update(current_locale=lambda: str(get_locale()))
