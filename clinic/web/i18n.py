"""The visitor's language, and the date and time formats (``clinic.formats``) as template
filters."""

from flask import current_app, request, session
from flask_babel import get_locale

from clinic.formats import clock, clock_at, day_clock_at, long_day, short_day


def select_locale() -> str:
    """The language the visitor chose, else the browser's best guess, else English."""
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or languages[0]


def init_app(app) -> None:
    app.jinja_env.filters.update(
        long_day=long_day,
        short_day=short_day,
        clock=clock,
        clock_at=clock_at,
        day_clock_at=day_clock_at,
    )
    app.jinja_env.globals.update(current_locale=lambda: str(get_locale()))
