"""The visitor's language, the date and time formats (``clinic.formats``) as template
filters, and the clinic's phone number as a link a phone can call."""

from flask import current_app, request, session
from flask_babel import get_locale
from markupsafe import Markup

from clinic.formats import clock, clock_at, day_clock_at, long_day, merge_periods, short_day
from clinic.rules.eligibility import normalize_phone


def tel_href(phone: str) -> str:
    """'(415) 555-0134' -> 'tel:+14155550134'; a number that is not a US one keeps its digits."""
    number = normalize_phone(phone) or "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    return f"tel:{number}"


def clinic_phone() -> Markup:
    """The clinic's number as a ``tel:`` link: one tap calls from a phone. The number itself is
    the link's text (its accessible name), so it reads and copies as printed. Safe to pass
    into ``_("... %(phone)s", phone=clinic_phone())``: Markup is not escaped again."""
    phone = current_app.config["CLINIC_PHONE"]
    return Markup('<a class="tel" href="{}">{}</a>').format(tel_href(phone), phone)


def select_locale() -> str:
    """The language the visitor chose, else the browser's best guess, else English."""
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or languages[0]


def one_period(value: object) -> object:
    """Jinja's ``finalize``: every ``{{ ... }}`` output with one period where a time ends a
    sentence ('... a las 4:20 p.m.', not 'p.m..'). A translated sentence is one output, so
    its own final period and the time's meet here. Cheap: a substring test on strings only."""
    if isinstance(value, str) and "m.." in value:
        if isinstance(value, Markup):
            # Safe already; merge_periods only drops a period, so it stays safe.
            return Markup(merge_periods(str(value)))  # nosec B704
        return merge_periods(value)
    return value


def init_app(app) -> None:
    # Before any template is compiled: Jinja reads ``finalize`` when it compiles.
    app.jinja_env.finalize = one_period
    app.jinja_env.filters.update(
        long_day=long_day,
        short_day=short_day,
        clock=clock,
        clock_at=clock_at,
        day_clock_at=day_clock_at,
    )
    app.jinja_env.globals.update(
        current_locale=lambda: str(get_locale()), clinic_phone=clinic_phone
    )
