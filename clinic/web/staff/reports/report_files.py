"""The report's table and its files: every figure of a period beside the period before it,
labelled in the viewer's language (``report_sections``: what the page's table and both files
show, so they cannot disagree); the report as CSV (streamed) and as XLSX (a workbook written
in constant memory); and the CSV helpers every export of this screen shares (``csv_safe``,
``stream_csv``, ``csv_response``).

A report file holds figures only: counts, rates and waits of a period, by day and by month.
Nothing in it names, dates or identifies a youth.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO, Any

import xlsxwriter
from babel.dates import format_skeleton
from babel.numbers import format_decimal, format_percent
from flask import Flask, Response, current_app, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from clinic import vocab
from clinic.formats import display_locale
from clinic.reports.figures import Figures, Report
from clinic.rules.reports import AGE_BANDS, Period, band_label, change

CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --- CSV, safely ------------------------------------------------------------------------------

# The first characters that make a spreadsheet read a cell as a formula (or, for a tab and a
# carriage return, that some spreadsheets strip before reading one).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Written first so that Excel reads the file as UTF-8 (Spanish labels keep their accents);
# other spreadsheets, and Python's csv module reading with "utf-8-sig", skip it.
BOM = "\ufeff"


def csv_safe(value: object) -> str:
    """One cell as text, never a formula: text that a spreadsheet would run (``=SUM(..)``,
    ``+1``, ``@cmd``, ``-2+3``) gets a leading apostrophe, which shows it as typed. A number
    stays a number: ``-3`` is a negative count, not a formula, and must stay summable."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def stream_csv(
    header: Iterable[object], rows: Iterable[Iterable[object]], *, bom: bool = False
) -> Iterator[str]:
    """The header and the rows as CSV lines, one string per row, each cell through
    ``csv_safe``: a generator to stream as a response body (``csv_response``), so a long
    export is never held in memory whole. ``bom`` puts the UTF-8 mark before the header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe(value) for value in values])
        return buffer.getvalue()

    yield (BOM if bom else "") + line(header)
    for row in rows:
        yield line(row)


def csv_response(lines: Iterator[str], filename: str) -> Response:
    """A CSV download streamed from ``lines`` (``stream_csv``). The rows are read while the
    server sends them, after the view has returned, in an app context of their own, so rows
    read lazily from the database still find it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(
        _in_app_context(app, lines),
        mimetype=CSV_MIMETYPE,
        headers=download_headers(filename),
    )


def download_headers(filename: str) -> dict[str, str]:
    # Names are built from dates and fixed ASCII words: nothing to quote or encode.
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }


def _in_app_context(app: Flask, lines: Iterator[str]) -> Iterator[str]:
    """The first line (the header) where the view ran, the rest in an app context of their
    own: a server may pull the first chunk in the request and the rest elsewhere (Werkzeug's
    test client does), and a context must be left where it was entered."""
    first = next(lines, None)
    if first is None:
        return
    yield first
    with app.app_context():
        yield from lines


# --- The report's table -------------------------------------------------------------------------


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
            ("cancelled_by_staff", _l("Cancelled by staff"), Unit.COUNT),
            ("cancelled_by_youth", _l("Cancelled by the youth"), Unit.COUNT),
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
            ("clinic_days", _l("Clinic days held"), Unit.COUNT),
            ("seats_offered", _l("Seats offered"), Unit.COUNT),
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

NOT_RECORDED = "not_recorded"


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
    rows = [
        Row(
            f"age_band:{band}",
            _("Aged %(band)s", band=band),
            Unit.COUNT,
            current.age_bands.get(band, 0),
            previous.age_bands.get(band, 0),
        )
        for band in (band_label(limits) for limits in AGE_BANDS)
    ]
    rows.append(Row("minors", _("Minors"), Unit.COUNT, current.minors, previous.minors))
    rows.append(
        Row(
            "minors_with_consent",
            _("Minors with a guardian's consent recorded"),
            Unit.COUNT,
            current.minors_with_consent,
            previous.minors_with_consent,
        )
    )
    for code, name in language_names(current, previous):
        rows.append(
            Row(
                f"language:{code}",
                _("Language: %(language)s", language=name),
                Unit.COUNT,
                current.languages.get(code, 0),
                previous.languages.get(code, 0),
            )
        )
    for code, name in referral_names(current, previous):
        rows.append(
            Row(
                f"referral:{code}",
                _("Heard of the clinic from: %(source)s", source=name),
                Unit.COUNT,
                current.referrals.get(code, 0),
                previous.referrals.get(code, 0),
            )
        )
    return rows


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


def month_words(month: date) -> str:
    return format_skeleton("yMMM", month, locale=display_locale())


# --- The files ------------------------------------------------------------------------------------


def filename(period: Period, extension: str) -> str:
    return f"clinic-report-{period.start.isoformat()}-to-{period.end.isoformat()}.{extension}"


def _figure_header(report: Report) -> list[str]:
    return [
        _("Figure"),
        _("This period: %(dates)s", dates=period_words(report.current.period)),
        _("Previous period: %(dates)s", dates=period_words(report.previous.period)),
        _("Difference"),
    ]


def _day_header() -> list[str]:
    return [
        _("Clinic day"),
        _("Closed"),
        _("Seats offered"),
        _("Seats booked"),
        _("Seats used"),
        _("No-shows"),
        _("Walk-ins"),
    ]


def _month_header() -> list[str]:
    return [
        _("Month"),
        _("Appointments due"),
        _("No-shows"),
        _("No-show rate (%)"),
        _("New youth"),
        _("Returning youth"),
        _("On the waiting list at the end of the month"),
    ]


def _day_rows(figures: Figures) -> Iterator[list[Any]]:
    yes, no = _("Yes"), _("No")
    for day in figures.days:
        yield [
            day.day,
            yes if day.closed else no,
            day.seats,
            day.booked,
            day.used,
            day.no_shows,
            day.walk_ins,
        ]


def _month_rows(figures: Figures) -> Iterator[list[Any]]:
    for month in figures.months:
        rate = month.no_shows / month.due if month.due else None
        yield [
            month.month.strftime("%Y-%m"),
            month.due,
            month.no_shows,
            file_value(rate, Unit.RATE),
            month.new_youth,
            month.returning_youth,
            month.waiting_list,
        ]


def _figure_rows(sections: list[Section]) -> Iterator[list[Any]]:
    for section in sections:
        yield [section.title]
        for row in section.rows:
            yield [
                file_label(row),
                file_value(row.current, row.unit),
                file_value(row.previous, row.unit),
                file_value(row.change, row.unit),
            ]


def report_csv(report: Report, course_sessions: int) -> Response:
    """The report as one CSV file: the figures (a section's title on a row of its own), then
    after an empty row each clinic day, then each month, each part under its own header."""
    sections = report_sections(report, course_sessions)

    def rows() -> Iterator[list[Any]]:
        yield from _figure_rows(sections)
        yield []
        yield _day_header()
        yield from _day_rows(report.current)
        yield []
        yield _month_header()
        yield from _month_rows(report.current)

    # Built here, in the request (labels need its language): only the writing is streamed.
    lines = list(stream_csv(_figure_header(report), rows(), bom=True))
    return csv_response(iter(lines), filename(report.current.period, "csv"))


# Excel refuses these in a sheet's name, and names longer than 31 characters.
_SHEET_FORBIDDEN = str.maketrans({char: " " for char in "[]:*?/\\"})


def _sheet_name(text: str) -> str:
    return text.translate(_SHEET_FORBIDDEN)[:31]


def report_xlsx(report: Report, course_sessions: int) -> Response:
    """The report as a workbook: the figures on the first sheet (rates in percent), clinic
    days on the second, months on the third."""
    sections = report_sections(report, course_sessions)
    return xlsx_response(
        lambda target: _write_workbook(target, report, sections),
        filename(report.current.period, "xlsx"),
    )


def xlsx_response(write: Callable[[IO[bytes]], None], name: str) -> Response:
    """A workbook download: ``write`` fills it (xlsxwriter, in constant memory: each row goes
    to its temporary file when the next begins), then it is zipped into memory and sent. A
    zip is written whole before its first byte can be sent; five years of visits make about
    a megabyte, so memory, not a file left to clean up."""
    buffer = io.BytesIO()
    write(buffer)
    buffer.seek(0)
    response = send_file(
        buffer, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=name, max_age=0
    )
    response.headers.update(download_headers(name))
    return response


def _write_workbook(target: IO[bytes], report: Report, sections: list[Section]) -> None:
    workbook = xlsxwriter.Workbook(
        target,
        # Every text as text: a label is never read as a formula or a number.
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False},
    )
    bold = workbook.add_format({"bold": True})
    formats = {
        Unit.COUNT: workbook.add_format({"num_format": "#,##0"}),
        Unit.RATE: workbook.add_format({"num_format": "0.0"}),
        Unit.DAYS: workbook.add_format({"num_format": "0.0"}),
        Unit.RATIO: workbook.add_format({"num_format": "0.00"}),
    }
    day_format = workbook.add_format({"num_format": "yyyy-mm-dd"})

    sheet = workbook.add_worksheet(_sheet_name(_("Report")))
    sheet.set_column(0, 0, 52)
    sheet.set_column(1, 3, 30)
    sheet.write_row(0, 0, _figure_header(report), bold)
    line = 1
    for section in sections:
        sheet.write_string(line, 0, section.title, bold)
        line += 1
        for row in section.rows:
            sheet.write_string(line, 0, file_label(row))
            for column, value in enumerate((row.current, row.previous, row.change), start=1):
                number = file_value(value, row.unit)
                if number is not None:
                    sheet.write_number(line, column, number, formats[row.unit])
            line += 1

    days = workbook.add_worksheet(_sheet_name(_("Clinic days")))
    days.set_column(0, 6, 16)
    days.write_row(0, 0, _day_header(), bold)
    for line, values in enumerate(_day_rows(report.current), start=1):
        days.write_datetime(line, 0, datetime.combine(values[0], time()), day_format)
        days.write_string(line, 1, values[1])
        for column, value in enumerate(values[2:], start=2):
            days.write_number(line, column, value)

    months = workbook.add_worksheet(_sheet_name(_("Months")))
    months.set_column(0, 6, 18)
    months.write_row(0, 0, _month_header(), bold)
    for line, values in enumerate(_month_rows(report.current), start=1):
        months.write_string(line, 0, values[0])
        for column, value in enumerate(values[1:], start=1):
            if value is not None:
                months.write_number(line, column, value)
    workbook.close()
