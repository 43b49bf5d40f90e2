"""Staff downloads: the de-identified visit list of a range of clinic days
(``clinic.reports.visits``), as CSV streamed while it is read, or as a spreadsheet.

Headers and values are in the viewer's language; the list holds pseudonyms and vocabulary
labels only. Each download is recorded in the audit trail, with its dates, format and number
of rows, and committed before the first byte goes: a download that breaks off is still on
record as attempted. Rows are never logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

import xlsxwriter
from flask import flash, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from clinic import audit, vocab
from clinic.extensions import db
from clinic.permissions import Action
from clinic.reports import visits
from clinic.reports.visits import NOT_RECORDED, Outcome, VisitRow
from clinic.rules.reports import Period, RangeKind, last_complete
from clinic.web import context
from clinic.web.staff import bp, requires
from clinic.web.staff.reports.forms import EARLIEST_YEAR, LATEST_YEAR, LONGEST
from clinic.web.staff.reports.report_files import (
    csv_response,
    stream_csv,
    xlsx_response,
)

# Only the form the reports page writes: YYYY-MM-DD (fromisoformat alone takes other forms).
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What the consent column shows for an adult, who needs none.
NOT_APPLICABLE = "—"


class BadRange(ValueError):
    """The dates asked for make no list; ``str()`` is the message for the viewer."""


@bp.route("/reports/visits.csv")
@requires(Action.VIEW_REPORTS)
def report_visits_csv() -> Response:
    period = _period_or_back()
    if isinstance(period, Response):
        return period
    labels = _Labels.for_viewer()
    key = visits.export_key()  # drawn here: the rows are read after the view has returned
    _record(period, "csv")
    rows = (labels.cells(row) for row in visits.visit_rows(period, context.rules(), key))
    # The mark first, so Excel reads the Spanish labels' accents as UTF-8.
    lines = stream_csv(labels.header, rows, bom=True)
    return csv_response(lines, _filename(period, "csv"))


@bp.route("/reports/visits.xlsx")
@requires(Action.VIEW_REPORTS)
def report_visits_xlsx() -> Response:
    period = _period_or_back()
    if isinstance(period, Response):
        return period
    labels = _Labels.for_viewer()
    _record(period, "xlsx")
    rows = (labels.cells(row) for row in visits.visit_rows(period, context.rules()))
    return xlsx_response(
        lambda target: _write_workbook(target, labels.header, rows, title=_("Visits")),
        _filename(period, "xlsx"),
    )


# --- The range asked for ------------------------------------------------------------------


def _period_or_back() -> Period | Response:
    """The range from ``start`` and ``end``, or the reports page with the reason flashed (the
    links come from that page; a range typed by hand that makes no sense goes back to it).
    Neither given: last quarter, as the reports page and its download default to."""
    if request.args.get("start") is None and request.args.get("end") is None:
        return last_complete(RangeKind.QUARTER, context.now().date())
    try:
        return parse_period(request.args.get("start"), request.args.get("end"))
    except BadRange as error:
        flash(str(error), "error")
        return redirect(url_for("staff.reports"))


def parse_period(start: str | None, end: str | None) -> Period:
    """A custom period from two ISO dates, within the reports page's own limits (its form's:
    the years the clinic can have records of, and ten years at most)."""
    first, last = _day(start), _day(end)
    if first is None or last is None:
        raise BadRange(_("Please choose a start date and an end date."))
    if not all(EARLIEST_YEAR <= day.year <= LATEST_YEAR for day in (first, last)):
        raise BadRange(
            _(
                "Please enter a date between the years %(first)d and %(last)d.",
                first=EARLIEST_YEAR,
                last=LATEST_YEAR,
            )
        )
    if last < first:
        raise BadRange(_("The end date must be on or after the start date."))
    if last >= first + LONGEST:
        raise BadRange(_("A report covers at most 10 years. Please choose a shorter range."))
    return Period(first, last)


def _day(value: str | None) -> date | None:
    if value is None or not _ISO_DAY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:  # 2026-02-30
        return None


def _record(period: Period, file_format: str) -> None:
    """The export in the audit trail, committed now: before any row is read or sent."""
    audit.record(
        audit.EXPORT,
        object_type="visit_list",
        detail={
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "format": file_format,
            "rows": str(visits.visit_count(period)),
        },
    )
    db.session.commit()


def _filename(period: Period, extension: str) -> str:
    return f"visits-{period.start.isoformat()}-to-{period.end.isoformat()}.{extension}"


# --- Labels in the viewer's language ---------------------------------------------------------


@dataclass(frozen=True)
class _Labels:
    """The header and every value's label in the viewer's language, worked out once in the
    request: a CSV's rows are read after the view has returned, where there is no request
    (and so no viewer's language) to translate in."""

    header: tuple[str, ...]
    outcomes: dict[str, str]
    yes: str
    no: str
    first_time: str
    returning: str
    languages: dict[str, str]
    referrals: dict[str, str]

    @classmethod
    def for_viewer(cls) -> _Labels:
        locale = get_locale()
        names = locale.languages if locale is not None else {}
        return cls(
            header=(
                _("Youth (pseudonym)"),
                _("Date"),
                _("Status"),
                _("Walk-in"),
                _("Session"),
                _("First time or returning"),
                _("Age band"),
                _("Minor"),
                _("Guardian consent recorded"),
                _("Language"),
                _("Referral source"),
                _("Moved to another time"),
            ),
            outcomes={
                Outcome.BOOKED: _("Booked"),
                Outcome.CAME: _("Arrived, not treated"),
                Outcome.TREATED: _("Completed"),
                Outcome.NO_SHOW: _("No-show"),
                Outcome.CANCELLED_BY_STAFF: _("Cancelled by the clinic"),
                Outcome.CANCELLED_BY_YOUTH: _("Cancelled by the youth"),
            },
            yes=_("Yes"),
            no=_("No"),
            first_time=_("First time"),
            returning=_("Returning"),
            # Each language named in the viewer's ("inglés" for a Spanish reader).
            languages={code: _capitalized(names.get(code, code)) for code, _n in vocab.LANGUAGES},
            referrals={
                **{code: str(label) for code, label in vocab.REFERRAL_SOURCES},
                NOT_RECORDED: _("Not recorded"),
            },
        )

    def cells(self, row: VisitRow) -> tuple[Any, ...]:
        """The row's values as the file shows them: the day stays a date (ISO in CSV, a date
        cell in a spreadsheet), the session a number, everything else a label."""
        return (
            row.youth,
            row.day,
            self.outcomes[row.outcome],
            self._yes_no(row.walk_in),
            row.session,
            self.first_time if row.new else self.returning,
            row.age_band or "",
            self._yes_no(row.minor),
            NOT_APPLICABLE if row.consent is None else self._yes_no(row.consent),
            self.languages.get(row.language, row.language),
            self.referrals.get(row.referral, row.referral),
            self._yes_no(row.moved),
        )

    def _yes_no(self, value: bool | None) -> str:
        if value is None:
            return ""
        return self.yes if value else self.no


def _capitalized(name: str) -> str:
    return name[:1].upper() + name[1:]


# --- The spreadsheet -------------------------------------------------------------------------

# Columns' widths in characters, by position (the pseudonym, the date, the labels).
_WIDTHS = (16, 12, 24, 10, 9, 18, 10, 9, 16, 12, 36, 14)


def _write_workbook(
    target: IO[bytes], header: Iterable[str], rows: Iterator[tuple[Any, ...]], title: str
) -> None:
    """One sheet: the header, frozen and filterable, then the rows as they come. Constant
    memory: each row goes to disk when the next begins. Strings are written as strings, never
    read as formulas, numbers or links, whatever they hold."""
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    try:
        sheet = workbook.add_worksheet(title[:31])  # Excel's limit for a sheet's name
        bold = workbook.add_format({"bold": True})
        day_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        names = list(header)
        for column, width in enumerate(_WIDTHS[: len(names)]):
            sheet.set_column(column, column, width)
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, names, bold)
        last = 0
        for last, values in enumerate(rows, start=1):
            for column, value in enumerate(values):
                if isinstance(value, date):
                    sheet.write_datetime(last, column, value, day_format)
                elif isinstance(value, int) and not isinstance(value, bool):
                    sheet.write_number(last, column, value)
                elif value is None or value == "":
                    continue  # an empty cell, not an empty string
                else:
                    sheet.write_string(last, column, str(value))
        sheet.autofilter(0, 0, last, len(names) - 1)
    finally:
        workbook.close()
