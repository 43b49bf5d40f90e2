"""The report as files (``staff.report_download``): the CSV reads back to the very numbers
the report counts, the workbook opens with them, both in the viewer's language, each download
on record in the audit trail, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from clinic import settings
from clinic.extensions import db
from clinic.models import AuditEvent
from clinic.reports import figures
from clinic.rules.reports import Period, RangeKind
from clinic.web.downloads import XLSX_MIMETYPE
from clinic.web.staff.reports import table
from tests.conftest import PASSWORD, sign_in
from tests.reports.conftest import COURSE_SESSIONS, Q2, Q3

EN = {"Accept-Language": "en"}
URL = "/staff/reports/download"
TODAY = date(2026, 11, 20)  # the suite's frozen clock


@pytest.fixture
def admin(app, small_clinic):
    client = app.test_client()
    assert sign_in(client, "admin@clinic.test", PASSWORD).status_code == 303
    return client


def expected_report(app):
    """The report of Q3 as the page's table labels it, in English."""
    with app.test_request_context(headers=EN):
        report = figures.report(Q3, settings.current_rules(), TODAY, COURSE_SESSIONS)
        sections = table.report_sections(report, COURSE_SESSIONS)
    return report, sections


def fetched(response):
    """The response read whole and closed (a workbook is sent from a file the response
    closes), for tests that look at it after."""
    response.get_data()
    response.close()
    return response


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def number(text: str) -> float | None:
    return float(text) if text else None


def test_the_csv_reads_back_to_the_numbers_the_report_counts(admin, app):
    report, sections = expected_report(app)
    response = admin.get(URL, query_string={"format": "csv"}, headers=EN)
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="clinic-report-2026-07-01-to-2026-09-30.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.is_streamed  # each line made as it is sent
    assert response.get_data().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    rows = read_csv(response)
    assert rows[0] == [
        "Figure",
        "This period: Jul 1, 2026 – Sep 30, 2026",
        "Previous period: Apr 1, 2026 – Jun 30, 2026",
        "Difference",
    ]
    by_label = {row[0]: row[1:] for row in rows if len(row) == 4}
    for section in sections:
        assert [section.title] in rows
        for row in section.rows:
            current, previous, change = by_label[table.file_label(row)]
            assert number(current) == table.file_value(row.current, row.unit)
            assert number(previous) == table.file_value(row.previous, row.unit)
            assert number(change) == table.file_value(row.change, row.unit)
    # The figures a funder asks for first, straight from the report.
    assert number(by_label["Youth served"][0]) == report.current.youth_served
    assert number(by_label["Youth served"][1]) == report.previous.youth_served
    assert number(by_label["Treatments"][0]) == report.current.treatments
    rate = report.current.no_show_rate
    assert number(by_label["No-show rate (%)"][0]) == (
        round(rate * 100, 1) if rate is not None else None
    )


def test_the_csv_lists_each_clinic_day_and_each_month_after_the_figures(admin, app):
    report, _sections = expected_report(app)
    rows = read_csv(admin.get(URL, query_string={"format": "csv"}, headers=EN))
    days_at = rows.index(
        [
            "Clinic day",
            "Closed",
            "Seats offered",
            "Seats booked",
            "Seats used",
            "No-shows",
            "Walk-ins",
        ]
    )
    assert rows[days_at - 1] == []
    days = rows[days_at + 1 : days_at + 1 + len(report.current.days)]
    assert [row[0] for row in days] == [day.day.isoformat() for day in report.current.days]
    for row, day in zip(days, report.current.days, strict=True):
        assert row[1] == ("Yes" if day.closed else "No")
        assert [int(v) for v in row[2:]] == [
            day.seats,
            day.booked,
            day.used,
            day.no_shows,
            day.walk_ins,
        ]
    assert [day.day for day in report.current.days if day.closed] == [date(2026, 8, 25)]
    months_at = rows.index(
        [
            "Month",
            "Appointments due",
            "No-shows",
            "No-show rate (%)",
            "New youth",
            "Returning youth",
            "On the waiting list at the end of the month",
        ]
    )
    months = rows[months_at + 1 :]
    assert [row[0] for row in months] == ["2026-07", "2026-08", "2026-09"]
    for row, month in zip(months, report.current.months, strict=True):
        assert int(row[1]) == month.due and int(row[2]) == month.no_shows
        assert int(row[4]) == month.new_youth and int(row[5]) == month.returning_youth
        assert int(row[6]) == month.waiting_list


def test_the_workbook_opens_with_the_same_numbers(admin, app):
    report, sections = expected_report(app)
    response = fetched(admin.get(URL, query_string={"format": "xlsx"}, headers=EN))
    assert response.status_code == 200
    assert response.mimetype == XLSX_MIMETYPE
    assert (
        response.headers["Content-Disposition"].endswith(
            'filename="clinic-report-2026-07-01-to-2026-09-30.xlsx"'
        )
        or "clinic-report-2026-07-01-to-2026-09-30.xlsx" in response.headers["Content-Disposition"]
    )
    assert response.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as book:
        assert book.testzip() is None
        workbook = book.read("xl/workbook.xml").decode()
        assert re.findall(r'<sheet name="([^"]+)"', workbook) == ["Report", "Clinic days", "Months"]
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        days = book.read("xl/worksheets/sheet2.xml").decode()
    # Written in constant memory, every text is inline in its cell: the labels are here.
    texts = re.findall(r"<t[^>]*>([^<]*)</t>", sheet)
    cells = re.findall(
        r'<c r="([A-Z]+)(\d+)"[^>]*>(?:<v>([^<]*)</v>|<is><t[^>]*>([^<]*)</t>)', sheet
    )
    by_row: dict[str, dict[str, str]] = {}
    for column, line, value, text in cells:
        by_row.setdefault(line, {})[column] = value or text
    labelled = {row["A"]: row for row in by_row.values() if "A" in row}
    for section in sections:
        assert section.title in texts
        for row in section.rows:
            cells_of = labelled[table.file_label(row).replace("&", "&amp;")]
            for column, value in zip("BCD", (row.current, row.previous, row.change), strict=True):
                expected = table.file_value(value, row.unit)
                if expected is None:
                    assert column not in cells_of
                else:
                    assert float(cells_of[column]) == expected
    assert float(labelled["Youth served"]["B"]) == report.current.youth_served
    # The days sheet: a date (a number, formatted) and the day's counts.
    assert days.count("<row ") == 1 + len(report.current.days)


def test_headers_follow_the_viewers_language(app, small_clinic):
    client = app.test_client()
    client.post("/language", data={"lang": "es", "next": "/"})
    assert sign_in(client, "admin@clinic.test", PASSWORD).status_code == 303
    rows = read_csv(client.get(URL, query_string={"format": "csv"}))
    assert rows[0][0] == "Dato"
    assert rows[0][1] == "Este período: 1 jul 2026 – 30 sept 2026"
    assert ["Jóvenes y tratamientos"] in rows
    assert any(row and row[0] == "Jóvenes atendidos" for row in rows)
    assert any(row and row[0] == "Día de clínica" for row in rows)


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_each_download_is_on_record_with_its_dates_and_format(admin, file_format):
    args = {"format": file_format, "kind": "month", "month": "2026-08"}
    assert fetched(admin.get(URL, query_string=args, headers=EN)).status_code == 200
    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "report", AuditEvent.action == "export")
    ).all()
    assert event.detail == {"start": "2026-08-01", "end": "2026-08-31", "format": file_format}
    assert event.staff_id is not None and event.youth_id is None


def test_the_files_name_and_identify_nobody(admin, app):
    """Only figures: none of the small clinic's names, nor a birth date."""
    csv_text = admin.get(URL, query_string={"format": "csv"}, headers=EN).get_data(as_text=True)
    book = fetched(admin.get(URL, query_string={"format": "xlsx"}, headers=EN)).get_data()
    with zipfile.ZipFile(io.BytesIO(book)) as opened:
        xml = "".join(opened.read(name).decode() for name in opened.namelist())
    for text in (csv_text, xml):
        for secret in ("Example", "Bea", "Cruz", "2008-08-01", "2004-03-10"):
            assert secret not in text


@pytest.mark.parametrize("file_format", ["pdf", "CSV", ""])
def test_an_unknown_format_is_a_bad_request(admin, file_format):
    response = admin.get(URL, query_string={"format": file_format}, headers=EN)
    assert response.status_code == 400


def test_without_a_format_the_report_comes_as_csv(admin):
    response = admin.get(URL, headers=EN)
    assert response.status_code == 200 and response.mimetype == "text/csv"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"kind": "custom", "start": "2026-09-30", "end": "2026-07-01"},
            "The last day must be on or after the first day.",
        ),
        ({"kind": "custom", "start": "2026-07-01"}, "Please enter the last day of the report."),
        # A kept link to a month since dropped from the page's list (two years back at most).
        ({"kind": "month", "month": "2024-10"}, "Please choose one of the periods listed."),
        ({"kind": "quarter", "quarter": "2026-Q4"}, "Please choose one of the periods listed."),
    ],
)
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_wrong_period_goes_back_to_the_page_which_says_why(admin, args, message, file_format):
    """Never an error page saved as the file: the page, with the same arguments, and its
    form's errors."""
    response = admin.get(URL, query_string={**args, "format": file_format}, headers=EN)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/staff/reports"
    assert parse_qs(location.query, keep_blank_values=True) == {
        name: [value] for name, value in args.items()
    }
    page = admin.get(response.headers["Location"], headers=EN)
    assert page.status_code == 422
    assert message in unescape(page.get_data(as_text=True))
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()


def test_the_previous_period_of_a_custom_range_is_as_long(admin, app):
    args = {"format": "csv", "kind": "custom", "start": "2026-07-01", "end": "2026-07-31"}
    rows = read_csv(admin.get(URL, query_string=args, headers=EN))
    assert rows[0][1:3] == [
        "This period: Jul 1, 2026 – Jul 31, 2026",
        "Previous period: May 31, 2026 – Jun 30, 2026",
    ]
    with app.test_request_context(headers=EN):
        previous = figures.figures(
            Q3.__class__(date(2026, 5, 31), date(2026, 6, 30)),
            settings.current_rules(),
            TODAY,
            COURSE_SESSIONS,
        )
    by_label = {row[0]: row for row in rows if len(row) == 4}
    assert number(by_label["Appointments booked ahead"][2]) == previous.appointments
    assert Q2.end == date(2026, 6, 30)


# --- A period reaching past today ---------------------------------------------------------------

QUARTER_NOW = Period(date(2026, 10, 1), date(2026, 12, 31), RangeKind.CUSTOM)


def reaching_past_today() -> figures.Report:
    """This quarter on 20 November: October over, November and December not, so their
    waiting list is not known yet (None); the days to come listed with their seats."""
    current = figures.Figures(
        QUARTER_NOW,
        cancelled_by_staff=3,
        cancelled_by_youth=2,
        clinic_days=2,
        seats_offered=48,
        days=[
            figures.DayFigures(date(2026, 10, 27), False, 24, 20, 18, 2, 1),
            figures.DayFigures(date(2026, 11, 10), False, 24, 21, 19, 2, 0),
            figures.DayFigures(date(2026, 11, 24), False, 24, 9, 0, 0, 0),
            figures.DayFigures(date(2026, 12, 22), False, 24, 3, 0, 0, 0),
        ],
        months=[
            figures.MonthFigures(date(2026, 10, 1), 19, 2, 3, 4, 12),
            figures.MonthFigures(date(2026, 11, 1), 21, 2, 1, 5, None),
            figures.MonthFigures(date(2026, 12, 1), 0, 0, 0, 0, None),
        ],
    )
    return figures.Report(current, figures.Figures(QUARTER_NOW.previous()))


@pytest.fixture
def past_today(admin, monkeypatch):
    monkeypatch.setattr(figures, "report", lambda *args: reaching_past_today())
    return admin


CUSTOM = {"kind": "custom", "start": "2026-10-01", "end": "2026-12-31"}


def test_a_month_not_over_has_no_waiting_list_in_the_csv(past_today):
    rows = read_csv(past_today.get(URL, query_string={**CUSTOM, "format": "csv"}, headers=EN))
    at = next(n for n, row in enumerate(rows) if row and row[0] == "Month")
    assert rows[at + 1 :] == [
        ["2026-10", "19", "2", "10.5", "3", "4", "12"],
        ["2026-11", "21", "2", "9.5", "1", "5", ""],
        ["2026-12", "0", "0", "", "0", "0", ""],
    ]
    # The days to come are listed with their seats; the totals are of the days held.
    by_label = {row[0]: row[1:] for row in rows if len(row) == 4}
    assert by_label["Clinic days held"][0] == "2"
    assert by_label["Seats on clinic days held"][0] == "48"
    days_at = next(n for n, row in enumerate(rows) if row and row[0] == "Clinic day")
    assert [row[0] for row in rows[days_at + 1 : days_at + 5]] == [
        "2026-10-27",
        "2026-11-10",
        "2026-11-24",
        "2026-12-22",
    ]


def test_a_month_not_over_has_no_waiting_list_in_the_workbook(past_today):
    response = fetched(past_today.get(URL, query_string={**CUSTOM, "format": "xlsx"}))
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as book:
        months = book.read("xl/worksheets/sheet3.xml").decode()
    cells = dict(re.findall(r'<c r="([A-Z]+\d+)"[^>]*><v>([^<]*)</v>', months))
    assert cells["G2"] == "12"
    assert "G3" not in cells and "G4" not in cells  # empty, not 0
    assert "D4" not in cells  # no rate of nothing due
    assert cells["D3"] == "9.5"


def test_cancellations_are_named_for_who_cancelled_through_which_way(past_today):
    """The desk cancels for a youth who phones, and the admin cancels whole days: a staff
    account's cancellation is through the clinic, not the clinic's own choice."""
    rows = read_csv(past_today.get(URL, query_string={**CUSTOM, "format": "csv"}, headers=EN))
    by_label = {row[0]: row[1:] for row in rows if len(row) == 4}
    assert by_label["Cancelled through the clinic (a call, or a day cancelled)"][0] == "3"
    assert by_label["Cancelled by the youth online"][0] == "2"
    assert not any(row and "by staff" in row[0] for row in rows)
