"""The report's table: every figure of a period beside the period before it, labelled in the
viewer's language (``report_sections``), and how each number reads on the page (``show``,
``show_change``) and in a file (``file_value``, ``file_label``). The page's table, its charts
and both report files are made from it, so they cannot disagree.

Figures only: counts, rates and waits of a period. Nothing here names, dates or identifies a
youth.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from babel.dates import format_skeleton
from babel.numbers import format_decimal, format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from clinic import vocab
from clinic.formats import display_locale
from clinic.reports.figures import Figures, Report
from clinic.rules.reports import AGE_BANDS, Period, band_label, change


class Unit(enum.StrEnum):
    """How a figure reads: a count, a rate (a fraction, shown as %), days, or a ratio."""

    COUNT = "count"
    RATE = "rate"
    DAYS = "days"
    RATIO = "ratio"


Number = int | float


@dataclass(frozen=True)
class Row:
    """One figure of the period and of the period before it (None: nothing to count)."""

    key: str  # stable and language-free: "no_show_rate", "age_band:13-15", "referral:court"
    label: str
    unit: Unit
    current: Number | None
    previous: Number | None

    @property
    def change(self) -> Number | None:
        return change(self.current, self.previous)


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[Row]


# (attribute of Figures, label, unit), by section.
_SECTIONS: tuple[tuple[Any, tuple[tuple[str, Any, Unit], ...]], ...] = (
    (
        _l("Youth and treatments"),
        (
            ("youth_served", _l("Youth served"), Unit.COUNT),
            ("new_youth", _l("New youth (first treatment ever)"), Unit.COUNT),
            ("returning_youth", _l("Returning youth"), Unit.COUNT),
            ("treatments", _l("Treatments"), Unit.COUNT),
            ("sessions_per_youth", _l("Treatments per youth served"), Unit.RATIO),
            ("finished_course", None, Unit.COUNT),  # its label names the course's length
            ("purged_youth", _l("Youth served whose personal data was since erased"), Unit.COUNT),
        ),
    ),
    (
        _l("Appointments"),
        (
            ("appointments", _l("Appointments booked ahead"), Unit.COUNT),
            # The desk cancels for a youth who phones, and the admin cancels whole days: what
            # a staff account cancelled is cancelled through the clinic, not by its choice.
            (
                "cancelled_by_staff",
                _l("Cancelled through the clinic (a call, or a day cancelled)"),
                Unit.COUNT,
            ),
            ("cancelled_by_youth", _l("Cancelled by the youth online"), Unit.COUNT),
            ("moved", _l("Moved to another time"), Unit.COUNT),
            ("due", _l("Appointments due"), Unit.COUNT),
            ("no_shows", _l("No-shows"), Unit.COUNT),
            ("no_show_rate", _l("No-show rate"), Unit.RATE),
            ("walk_ins", _l("Walk-ins"), Unit.COUNT),
        ),
    ),
    (
        _l("Clinic days and seats"),
        (
            # Of the days before today: a period reaching past today lists its days to come
            # (``Figures.days``) but counts only those held.
            ("clinic_days", _l("Clinic days held"), Unit.COUNT),
            ("seats_offered", _l("Seats on clinic days held"), Unit.COUNT),
            ("seats_used", _l("Seats used"), Unit.COUNT),
        ),
    ),
    (
        _l("Standby and waiting lists"),
        (
            ("standby_joined", _l("Joined a standby list"), Unit.COUNT),
            ("standby_seated", _l("Seated from a standby list"), Unit.COUNT),
            ("waitlist_joined", _l("Joined the waiting list"), Unit.COUNT),
            ("waitlist_at_end", _l("On the waiting list at the end of the period"), Unit.COUNT),
            ("waits_counted", _l("Seated from the waiting list"), Unit.COUNT),
            ("wait_days_mean", _l("Average wait for a seat (days)"), Unit.DAYS),
            ("wait_days_p90", _l("Wait for 9 in 10 to get a seat (days)"), Unit.DAYS),
        ),
    ),
)


def _finished_label(course_sessions: int) -> str:
    return _("Finished a course (%(sessions)d treatments)", sessions=course_sessions)


def report_sections(report: Report, course_sessions: int) -> list[Section]:
    """Every figure of the report, labelled in the current language, in the order the page
    and the files show them."""
    current, previous = report.current, report.previous
    sections = []
    for title, figures in _SECTIONS:
        rows = [
            Row(
                name,
                str(label) if label is not None else _finished_label(course_sessions),
                unit,
                getattr(current, name),
                getattr(previous, name),
            )
            for name, label, unit in figures
        ]
        sections.append(Section(str(title), rows))
    sections.append(Section(_("Who came"), _who_came(current, previous)))
    return sections


def _who_came(current: Figures, previous: Figures) -> list[Row]:
    def per_group(field: str, key: str, labelled: list[tuple[str, str]]) -> list[Row]:
        """One row per group of a counted field (``age_bands``, ``languages``, ``referrals``):
        its count in each period, 0 where a period counted none; keyed "<key>:<code>"."""
        now, before = getattr(current, field), getattr(previous, field)
        return [
            Row(f"{key}:{code}", label, Unit.COUNT, now.get(code, 0), before.get(code, 0))
            for code, label in labelled
        ]

    bands = [band_label(limits) for limits in AGE_BANDS]
    languages = language_names(current, previous)
    referrals = referral_names(current, previous)
    return [
        *per_group(
            "age_bands", "age_band", [(band, _("Aged %(band)s", band=band)) for band in bands]
        ),
        Row("minors", _("Minors"), Unit.COUNT, current.minors, previous.minors),
        Row(
            "minors_with_consent",
            _("Minors with a guardian's consent recorded"),
            Unit.COUNT,
            current.minors_with_consent,
            previous.minors_with_consent,
        ),
        *per_group(
            "languages",
            "language",
            [(code, _("Language: %(language)s", language=name)) for code, name in languages],
        ),
        *per_group(
            "referrals",
            "referral",
            [
                (code, _("Heard of the clinic from: %(source)s", source=name))
                for code, name in referrals
            ],
        ),
    ]


def _codes_in_order(known: Sequence[str], *counts: dict[str, int]) -> list[str]:
    """The vocabulary's codes in its own order (each once, counted or not), then any other
    code either period counted (an old code, "not recorded") after them."""
    seen = set(known)
    extra = sorted({code for found in counts for code in found if code not in seen}, key=str)
    return [*known, *extra]


def language_names(current: Figures, previous: Figures) -> list[tuple[str, str]]:
    names = dict(vocab.LANGUAGES)  # each language named in itself, as the intake shows it
    codes = _codes_in_order(
        [code for code, _name in vocab.LANGUAGES], current.languages, previous.languages
    )
    return [(str(code), names.get(code) or _("Not recorded")) for code in codes]


def referral_names(current: Figures, previous: Figures) -> list[tuple[str, str]]:
    names = {code: str(label) for code, label in vocab.REFERRAL_SOURCES}
    codes = _codes_in_order(list(names), current.referrals, previous.referrals)
    return [(code, names.get(code) or _("Not recorded")) for code in codes]


# --- Numbers as the viewer reads them -----------------------------------------------------------

DASH = "—"


def show(value: Number | None, unit: Unit) -> str:
    """A figure for the page: in the viewer's locale, a rate as a percentage, "—" when there
    is nothing to count."""
    if value is None:
        return DASH
    locale = display_locale()
    if unit is Unit.RATE:
        return format_percent(value, "#,##0.0%", locale=locale)
    if unit is Unit.DAYS:
        return format_decimal(value, "#,##0.0", locale=locale)
    if unit is Unit.RATIO:
        return format_decimal(value, "#,##0.00", locale=locale)
    return format_decimal(value, "#,##0", locale=locale)


def show_change(value: Number | None, unit: Unit) -> str:
    """A change from the previous period, signed ("+3", "−2", "0"); a rate's in percentage
    points, since a rate's relative change reads as something else."""
    if value is None:
        return DASH
    locale = display_locale()
    if unit is Unit.RATE:
        points = format_decimal(value * 100, "+#,##0.0;-#,##0.0", locale=locale)
        return _("%(points)s points", points=_minus(points))
    pattern = {Unit.DAYS: "+#,##0.0;-#,##0.0", Unit.RATIO: "+#,##0.00;-#,##0.00"}.get(
        unit, "+#,##0;-#,##0"
    )
    if value == 0:
        return format_decimal(0, "0", locale=locale)
    return _minus(format_decimal(value, pattern, locale=locale))


def _minus(text: str) -> str:
    # The typographic minus: a hyphen reads as a dash, and a screen reader says "minus".
    return text.replace("-", "\u2212")


def file_value(value: Number | None, unit: Unit) -> Number | None:
    """A figure for a file: a plain number a spreadsheet can add up (a rate in percent, to
    one decimal place, as its column's header says), or empty."""
    if value is None:
        return None
    if unit is Unit.RATE:
        return round(value * 100, 1)
    if unit is Unit.DAYS:
        return round(value, 1)
    if unit is Unit.RATIO:
        return round(value, 2)
    return value


def file_label(row: Row) -> str:
    """A row's label in a file, its unit named where the number alone would not say it."""
    if row.unit is Unit.RATE:
        return _("%(figure)s (%%)", figure=row.label)
    return row.label


def period_words(period: Period) -> str:
    """'Jul 1, 2026 – Sep 30, 2026' in the viewer's language."""
    locale = display_locale()
    start = format_skeleton("yMMMd", period.start, locale=locale)
    end = format_skeleton("yMMMd", period.end, locale=locale)
    return f"{start} – {end}"
