"""The report as files: one CSV (the figures, then each clinic day, then each month, each part
under its own header) and one workbook (a sheet for each part). Both are written from the
report's table (``table.report_sections``), so they say what the page says.

A report file holds figures only: counts, rates and waits of a period, by day and by month.
Nothing in it names, dates or identifies a youth.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time
from typing import IO, Any

from flask_babel import gettext as _
from werkzeug.wrappers import Response

from clinic.reports.figures import DayFigures, Figures, MonthFigures, Report
from clinic.rules.reports import Period, ratio
from clinic.web.downloads import csv_response, new_workbook, stream_csv, xlsx_response
from clinic.web.staff.reports.table import (
    Section,
    Unit,
    file_label,
    file_value,
    period_words,
    report_sections,
)


def filename(period: Period, extension: str) -> str:
    return f"clinic-report-{period.start.isoformat()}-to-{period.end.isoformat()}.{extension}"


@dataclass(frozen=True)
class _Words:
    """Every word a report file holds, in the viewer's language, worked out in the request: a
    CSV's lines are made after the view has returned, where there is no request (and so no
    viewer's language) to translate in."""

    figure_header: tuple[str, ...]
    day_header: tuple[str, ...]
    month_header: tuple[str, ...]
    yes: str
    no: str
    sections: tuple[tuple[str, tuple[tuple[str, Unit, Any, Any, Any], ...]], ...]

    @classmethod
    def for_viewer(cls, report: Report, course_sessions: int) -> _Words:
        return cls(
            figure_header=(
                _("Figure"),
                _("This period: %(dates)s", dates=period_words(report.current.period)),
                _("Previous period: %(dates)s", dates=period_words(report.previous.period)),
                _("Difference"),
            ),
            day_header=(
                _("Clinic day"),
                _("Closed"),
                _("Seats offered"),
                _("Seats booked"),
                _("Seats used"),
                _("No-shows"),
                _("Walk-ins"),
            ),
            month_header=(
                _("Month"),
                _("Appointments due"),
                _("No-shows"),
                _("No-show rate (%)"),
                _("New youth"),
                _("Returning youth"),
                _("On the waiting list at the end of the month"),
            ),
            yes=_("Yes"),
            no=_("No"),
            sections=_labelled(report_sections(report, course_sessions)),
        )


def _labelled(
    sections: list[Section],
) -> tuple[tuple[str, tuple[tuple[str, Unit, Any, Any, Any], ...]], ...]:
    """Each section's title and rows as a file writes them: (label, unit, this period, the
    period before, the difference)."""
    return tuple(
        (
            section.title,
            tuple(
                (file_label(row), row.unit, row.current, row.previous, row.change)
                for row in section.rows
            ),
        )
        for section in sections
    )


def _month_values(month: MonthFigures) -> tuple[Any, ...]:
    """A month's row as both files hold it: the waiting list empty for a month not over yet
    (``None``: nothing counted yet), the no-show rate empty where nothing was due."""
    return (
        month.month.strftime("%Y-%m"),
        month.due,
        month.no_shows,
        file_value(ratio(month.no_shows, month.due), Unit.RATE),
        month.new_youth,
        month.returning_youth,
        month.waiting_list,
    )


def _day_values(day: DayFigures, words: _Words) -> tuple[Any, ...]:
    return (
        day.day,
        words.yes if day.closed else words.no,
        day.seats,
        day.booked,
        day.used,
        day.no_shows,
        day.walk_ins,
    )


# --- CSV ------------------------------------------------------------------------------------


def report_csv(report: Report, course_sessions: int) -> Response:
    """The report as one CSV file, streamed: the words are worked out here, in the request,
    and each line is made as the server sends it. The figures first (a section's title on a
    row of its own), then after an empty row each clinic day, then each month."""
    words = _Words.for_viewer(report, course_sessions)
    lines = stream_csv(words.figure_header, _csv_rows(report.current, words), bom=True)
    return csv_response(lines, filename(report.current.period, "csv"))


def _csv_rows(current: Figures, words: _Words) -> Iterator[tuple[Any, ...]]:
    for title, rows in words.sections:
        yield (title,)
        for label, unit, *values in rows:
            yield (label, *(file_value(value, unit) for value in values))
    yield ()
    yield words.day_header
    for day in current.days:
        yield _day_values(day, words)
    yield ()
    yield words.month_header
    for month in current.months:
        yield _month_values(month)


# --- XLSX -----------------------------------------------------------------------------------

# Excel refuses these in a sheet's name, and names longer than 31 characters.
_SHEET_FORBIDDEN = str.maketrans({char: " " for char in "[]:*?/\\"})


def _sheet_name(text: str) -> str:
    return text.translate(_SHEET_FORBIDDEN)[:31]


def report_xlsx(report: Report, course_sessions: int) -> Response:
    """The report as a workbook: the figures on the first sheet (rates in percent), clinic
    days on the second, months on the third."""
    words = _Words.for_viewer(report, course_sessions)
    names = (_sheet_name(_("Report")), _sheet_name(_("Clinic days")), _sheet_name(_("Months")))
    return xlsx_response(
        lambda target: _write_workbook(target, report.current, words, names),
        filename(report.current.period, "xlsx"),
    )


def _write_workbook(
    target: IO[bytes], current: Figures, words: _Words, names: tuple[str, str, str]
) -> None:
    workbook = new_workbook(target)
    try:
        bold = workbook.add_format({"bold": True})
        formats = {
            Unit.COUNT: workbook.add_format({"num_format": "#,##0"}),
            Unit.RATE: workbook.add_format({"num_format": "0.0"}),
            Unit.DAYS: workbook.add_format({"num_format": "0.0"}),
            Unit.RATIO: workbook.add_format({"num_format": "0.00"}),
        }
        day_format = workbook.add_format({"num_format": "yyyy-mm-dd"})

        sheet = workbook.add_worksheet(names[0])
        sheet.set_column(0, 0, 52)
        sheet.set_column(1, 3, 30)
        sheet.write_row(0, 0, words.figure_header, bold)
        line = 1
        for title, rows in words.sections:
            sheet.write_string(line, 0, title, bold)
            line += 1
            for label, unit, *values in rows:
                sheet.write_string(line, 0, label)
                for column, value in enumerate(values, start=1):
                    number = file_value(value, unit)
                    if number is not None:  # an empty cell: nothing to count
                        sheet.write_number(line, column, number, formats[unit])
                line += 1

        days = workbook.add_worksheet(names[1])
        days.set_column(0, 6, 16)
        days.write_row(0, 0, words.day_header, bold)
        for line, day in enumerate(current.days, start=1):
            values = _day_values(day, words)
            days.write_datetime(line, 0, datetime.combine(day.day, time()), day_format)
            days.write_string(line, 1, values[1])
            for column, value in enumerate(values[2:], start=2):
                days.write_number(line, column, value)

        months = workbook.add_worksheet(names[2])
        months.set_column(0, 6, 18)
        months.write_row(0, 0, words.month_header, bold)
        for line, month in enumerate(current.months, start=1):
            values = _month_values(month)
            months.write_string(line, 0, values[0])
            for column, value in enumerate(values[1:], start=1):
                if value is not None:  # an empty cell: a rate of nothing, a month not over
                    months.write_number(line, column, value)
    finally:
        workbook.close()
