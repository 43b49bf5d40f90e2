"""The de-identified visit list of a period's clinic days (``clinic.reports.visits``), as CSV
streamed while it is read, or as a spreadsheet: the reports page's links, for the period that
page shows (the same query arguments, read by the same form).

Headers and values are in the viewer's language; the list holds pseudonyms and vocabulary
labels only. Each download is recorded in the audit trail, with its dates, format and number
of rows, before the first row is read: a download that breaks off is still on record as
attempted. Rows are never logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from clinic import audit, vocab
from clinic.permissions import Action
from clinic.reports import visits
from clinic.reports.visits import NOT_RECORDED, Outcome, VisitRow
from clinic.rules.reports import Period
from clinic.web import context
from clinic.web.downloads import csv_response, new_workbook, stream_csv, xlsx_response
from clinic.web.staff import bp, requires
from clinic.web.staff.reports.views import period_or_page

# What the consent column shows for an adult, who needs none.
NOT_APPLICABLE = "—"


@bp.route("/reports/visits.csv")
@requires(Action.VIEW_REPORTS)
def report_visits_csv() -> Response:
    period = period_or_page()
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
    period = period_or_page()
    if isinstance(period, Response):
        return period
    labels = _Labels.for_viewer()
    _record(period, "xlsx")
    rows = (labels.cells(row) for row in visits.visit_rows(period, context.rules()))
    return xlsx_response(
        lambda target: _write_workbook(target, labels.header, rows, title=_("Visits")),
        _filename(period, "xlsx"),
    )


def _record(period: Period, file_format: str) -> None:
    """The export in the audit trail, written at once (``audit.exported``): before any row is
    read or sent."""
    audit.exported(
        "visit_list",
        detail={
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "format": file_format,
            "rows": str(visits.visit_count(period)),
        },
    )


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
                # The desk cancels for a youth who phones, the admin cancels whole days.
                Outcome.CANCELLED_BY_STAFF: _("Cancelled through the clinic"),
                Outcome.CANCELLED_BY_YOUTH: _("Cancelled online by the youth"),
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
_WIDTHS = (16, 12, 30, 10, 9, 18, 10, 9, 16, 12, 36, 14)


def _write_workbook(
    target: IO[bytes], header: Iterable[str], rows: Iterator[tuple[Any, ...]], title: str
) -> None:
    """One sheet: the header, frozen and filterable, then the rows as they come (each goes to
    disk when the next begins: ``new_workbook``)."""
    workbook = new_workbook(target)
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
