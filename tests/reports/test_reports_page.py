"""The reports page (``staff.reports``): who may open it, the period form and its errors, the
figures' table beside the period before, the charts inline, both languages, and the view on
record in the audit trail. Figures come from the small clinic of ``conftest.py`` through the
real ``clinic.reports.figures.report``; the page must show exactly what it returns."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from clinic import settings
from clinic.extensions import db
from clinic.models import AuditEvent, StaffRole
from clinic.reports import figures
from tests.conftest import PASSWORD, sign_in
from tests.reports.conftest import COURSE_SESSIONS, Q2, Q3

EN = {"Accept-Language": "en"}
ES = {"Accept-Language": "es"}
URL = "/staff/reports"


class Cells(HTMLParser):
    """Every table row of a page as its cells' text: a row header's, then the data cells'."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(page: str) -> dict[str, list[str]]:
    """The figures' tables, by row label (the first table of each label wins: the figures
    come before the charts' own tables)."""
    parser = Cells()
    parser.feed(page)
    found: dict[str, list[str]] = {}
    for row in parser.rows:
        if row:
            found.setdefault(row[0], row[1:])
    return found


def signed_in(app, email: str):
    client = app.test_client()
    assert sign_in(client, email, PASSWORD).status_code == 303
    return client


@pytest.fixture
def admin(app, small_clinic):
    return signed_in(app, "admin@clinic.test")


def test_the_admin_sees_last_quarter_beside_the_quarter_before(admin):
    # The clock stands on 20 November 2026: the last whole quarter is Q3, compared with Q2.
    response = admin.get(URL, headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This period: Jul 1, 2026 – Sep 30, 2026." in page
    assert "Compared with the period before: Apr 1, 2026 – Jun 30, 2026." in page
    assert '<option selected value="2026-Q3">' in page or 'value="2026-Q3" selected' in page


def test_the_table_shows_every_figure_of_both_periods_as_the_report_counts_them(admin, app):
    page = admin.get(URL, headers=EN).get_data(as_text=True)
    with app.test_request_context(headers=EN):
        from clinic.web.staff.reports import table

        report = figures.report(Q3, settings.current_rules(), date(2026, 11, 20), COURSE_SESSIONS)
        sections = table.report_sections(report, COURSE_SESSIONS)
        expected = {
            row.label: [
                table.show(row.current, row.unit),
                table.show(row.previous, row.unit),
                table.show_change(row.change, row.unit),
            ]
            for section in sections
            for row in section.rows
        }
    shown = table_rows(page)
    for label, cells in expected.items():
        assert shown.get(unescape(label)) == cells, label
    # Every field of Figures but the per-day and per-month lists has its row (the dicts
    # one row per key), so nothing the report counts is left off the page.
    keys = {row.key.split(":")[0] for section in sections for row in section.rows}
    scalar = {
        name
        for name, value in vars(report.current).items()
        if name not in ("period", "days", "months")
    }
    named = {"age_bands": "age_band", "languages": "language", "referrals": "referral"}
    assert {named.get(name, name) for name in scalar} == keys


def test_figures_are_formatted_for_the_reader(admin, app, monkeypatch):
    """Rates as percentages, waits in days with one decimal, changes signed, "—" for a rate
    with nothing to count; checked on hand-made figures, whatever the clinic holds."""
    current = figures.Figures(
        Q3,
        youth_served=1234,
        due=8,
        no_shows=1,
        no_show_rate=0.125,
        wait_days_mean=12.34,
        sessions_per_youth=2.5,
    )
    previous = figures.Figures(Q2, youth_served=1300, no_show_rate=None, wait_days_mean=10.0)
    monkeypatch.setattr(figures, "report", lambda *args: figures.Report(current, previous))
    shown = table_rows(admin.get(URL, headers=EN).get_data(as_text=True))
    assert shown["Youth served"] == ["1,234", "1,300", "\u221266"]
    assert shown["No-show rate"] == ["12.5%", "—", "—"]
    assert shown["Average wait for a seat (days)"] == ["12.3", "10.0", "+2.3"]
    assert shown["Treatments per youth served"] == ["2.50", "—", "—"]
    # Spanish as the clinic's readers write it (es_US: the same digits as in English).
    shown = table_rows(admin.get(URL, headers=ES).get_data(as_text=True))
    assert shown["Jóvenes atendidos"] == ["1,234", "1,300", "\u221266"]
    assert shown["Tasa de inasistencia"] == ["12.5%", "—", "—"]


@pytest.mark.parametrize(
    ("args", "covers", "before"),
    [
        ({"kind": "month", "month": "2026-08"}, "Aug 1, 2026 – Aug 31, 2026", "Jul 1, 2026"),
        ({"kind": "year", "year": "2025"}, "Jan 1, 2025 – Dec 31, 2025", "Jan 1, 2024"),
        (
            {"kind": "custom", "start": "2026-07-01", "end": "2026-07-31"},
            "Jul 1, 2026 – Jul 31, 2026",
            "May 31, 2026 – Jun 30, 2026",  # the same number of days, just before
        ),
    ],
)
def test_a_month_a_year_or_dates_of_ones_choosing(admin, args, covers, before):
    response = admin.get(URL, query_string=args, headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"This period: {covers}." in page
    assert before in page.split("Compared with the period before:", 1)[1][:80]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"kind": "custom", "start": "2026-09-30", "end": "2026-07-01"},
            "The last day must be on or after the first day.",
        ),
        (
            {"kind": "custom", "start": "2010-01-01", "end": "2020-01-01"},
            "A report covers at most 10 years. Please choose a shorter range.",
        ),
        ({"kind": "custom", "start": "", "end": "2026-07-01"}, "Please enter the first day"),
        ({"kind": "custom", "start": "2026-07-01", "end": "soon"}, "Not a valid date value."),
        ({"kind": "custom", "start": "1999-12-31", "end": "2000-01-31"}, "between the years"),
        ({"kind": "custom", "start": "99999-01-01", "end": "2026-01-01"}, "Not a valid date"),
        ({"kind": "month", "month": "1999-01"}, "Please choose one of the periods listed."),
        ({"kind": "quarter", "quarter": "2026-Q9"}, "Please choose one of the periods listed."),
        ({"kind": "year", "year": "'; DROP TABLE"}, "Please choose one of the periods listed."),
        ({"kind": "fortnight"}, "Not a valid choice"),
        ({"kind": "custom", "start": "2026-07-01\x00", "end": "2026-07-02"}, "Not a valid date"),
    ],
)
def test_a_period_that_makes_no_report_is_explained_never_a_crash(admin, args, message):
    response = admin.get(URL, query_string=args, headers=EN)
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "There is a problem" in page
    assert message in page
    assert "This period:" not in page  # no report beside a wrong form


def test_the_other_kinds_fields_are_not_checked(admin):
    """Every field of the form comes with each request (they are all on the page): a month's
    list holding something odd does not stop a quarter's report."""
    args = {"kind": "quarter", "quarter": "2026-Q2", "month": "nonsense", "start": "x"}
    response = admin.get(URL, query_string=args, headers=EN)
    assert response.status_code == 200
    assert "This period: Apr 1, 2026 – Jun 30, 2026." in response.get_data(as_text=True)


def test_the_period_lists_offer_recent_whole_periods_only(admin):
    page = admin.get(URL, headers=EN).get_data(as_text=True)
    quarters = re.findall(r'value="(\d{4}-Q\d)"', page)
    months = re.findall(r'value="(\d{4}-\d{2})"', page)
    years = re.findall(r'value="(\d{4})"', page)
    assert quarters[0] == "2026-Q3" and quarters[-1] == "2024-Q4" and len(quarters) == 8
    assert months[0] == "2026-10" and months[-1] == "2024-11" and len(months) == 24
    assert years == ["2025", "2024", "2023", "2022", "2021", "2020"]


@pytest.mark.parametrize("role", [StaffRole.FRONT_DESK, StaffRole.CLINICIAN])
def test_other_roles_are_refused_unless_the_clinic_grants_them(app, small_clinic, role):
    client = signed_in(app, f"{role.value}@clinic.test")
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}/download?format=csv").status_code == 403
    app.config["REPORTS_ROLES"] = (role.value,)
    assert client.get(URL, headers=EN).status_code == 200
    assert client.get(f"{URL}/download?format=csv").status_code == 200


def test_signed_out_goes_to_the_sign_in_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_the_menu_offers_reports_to_those_who_may_see_them(app, small_clinic):
    desk = signed_in(app, "front_desk@clinic.test")
    assert 'href="/staff/reports"' not in desk.get(
        "/staff/", headers=EN, follow_redirects=True
    ).get_data(as_text=True)
    admin = signed_in(app, "admin@clinic.test")
    assert 'href="/staff/reports"' in admin.get(
        "/staff/", headers=EN, follow_redirects=True
    ).get_data(as_text=True)


def test_the_charts_are_inline_svg_without_script_style_or_outside_address(admin):
    page = admin.get(URL, headers=EN).get_data(as_text=True)
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    assert len(svgs) == 6
    for svg in svgs:
        assert "<script" not in svg and "<style" not in svg and "style=" not in svg
        assert set(re.findall(r"https?://[^\s\"'<>]+", svg)) == {"http://www.w3.org/2000/svg"}
        assert "xlink" not in svg and "<!--" not in svg
        labelled = re.search(r'<svg[^>]*aria-labelledby="([^"]+)"', svg).group(1)
        assert 'role="img"' in svg.split(">", 1)[0]
        assert f'<figcaption id="{labelled}">' in page
    # Each chart's numbers in a table of their own under it.
    assert page.count('<details class="chart-numbers">') == 6
    # Ids are unique on the page (six charts drawn by one library).
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_the_page_in_spanish_has_spanish_charts_and_labels(app, small_clinic):
    client = app.test_client()
    client.post("/language", data={"lang": "es", "next": "/"})
    assert sign_in(client, "admin@clinic.test", PASSWORD).status_code == 303
    page = unescape(client.get(URL).get_data(as_text=True))
    assert '<html lang="es">' in page
    for words in (
        "Lugares ofrecidos, reservados y usados, por día de clínica",
        "Tasa de inasistencia por mes",
        "Largo de la lista de espera por mes",
        "Jóvenes atendidos por edad",
        "Cómo supieron de la clínica los jóvenes atendidos",
        "Jóvenes nuevos y que regresan, por mes",
        "Este período: 1 jul 2026 – 30 sept 2026.",
        "Los números de este gráfico",
        "Un oficial de libertad condicional",  # a referral source, as the intake words it
    ):
        assert words in page, words
    assert "Seats offered, booked and used" not in page


def test_the_view_is_on_record_with_its_dates(admin):
    admin.get(URL, query_string={"kind": "month", "month": "2026-08"}, headers=EN)
    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "report")
    ).all()
    assert event.action == "view"
    assert event.detail == {"start": "2026-08-01", "end": "2026-08-31"}
    assert event.youth_id is None and event.staff_id is not None


def test_a_refused_form_is_not_recorded(admin):
    admin.get(URL, query_string={"kind": "custom", "start": "x"}, headers=EN)
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "report")
    ).all()


def test_the_page_costs_the_same_statements_for_a_month_and_a_year(admin):
    from tests.support.querycount import count_statements

    counts = []
    for args in ({"kind": "month", "month": "2026-08"}, {"kind": "year", "year": "2025"}):
        with count_statements() as statements:
            assert admin.get(URL, query_string=args, headers=EN).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    "args",
    [
        {"kind": "quarter", "quarter": "2026-Q2"},
        {"kind": "month", "month": "2026-08"},
        {"kind": "custom", "start": "2026-07-01", "end": "2026-07-31"},
    ],
)
def test_every_download_link_carries_the_pages_own_period(admin, args):
    """The four downloads read their period with the page's form, from the page's own
    arguments: what the page shows is what they hold."""
    page = admin.get(URL, query_string=args, headers=EN).get_data(as_text=True)
    links = [
        urlsplit(unescape(href))
        for href in re.findall(r'href="(/staff/reports/[^"]+)"', page)
        if "download" in href or "visits." in href
    ]
    assert [link.path for link in links] == [
        "/staff/reports/download",
        "/staff/reports/download",
        "/staff/reports/visits.csv",
        "/staff/reports/visits.xlsx",
    ]
    for link in links:
        query = parse_qs(link.query)
        query.pop("format", None)
        assert query == {name: [value] for name, value in args.items()}


def test_cancellations_are_named_for_the_way_they_came(admin):
    shown = table_rows(admin.get(URL, headers=EN).get_data(as_text=True))
    assert "Cancelled through the clinic (a call, or a day cancelled)" in shown
    assert "Cancelled by the youth online" in shown
    assert "Cancelled by staff" not in shown and "Seats on clinic days held" in shown


def test_a_month_not_over_shows_a_dash_for_its_waiting_list(admin, monkeypatch):
    quarter = Q3.__class__(date(2026, 10, 1), date(2026, 12, 31))
    months = [
        figures.MonthFigures(date(2026, 10, 1), 19, 2, 3, 4, 12),
        figures.MonthFigures(date(2026, 11, 1), 21, 2, 1, 5, None),
        figures.MonthFigures(date(2026, 12, 1), 0, 0, 0, 0, None),
    ]
    report = figures.Report(
        figures.Figures(quarter, months=months), figures.Figures(quarter.previous())
    )
    monkeypatch.setattr(figures, "report", lambda *args: report)
    args = {"kind": "custom", "start": "2026-10-01", "end": "2026-12-31"}
    page = admin.get(URL, query_string=args, headers=EN).get_data(as_text=True)
    numbers = page.split('id="chart-waiting-list-title-numbers"', 1)[1].split("</table>", 1)[0]
    parser = Cells()
    parser.feed("<table><caption" + numbers)
    assert [row for row in parser.rows if row and row[0] != "Month"] == [
        ["Oct 2026", "12"],
        ["Nov 2026", "—"],
        ["Dec 2026", "—"],
    ]
