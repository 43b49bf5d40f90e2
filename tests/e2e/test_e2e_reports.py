"""The reports page in a real browser: Chromium under the app's Content-Security-Policy against
gunicorn in the production configuration. An admin signs in (two steps), opens Reports from
the menu, picks last quarter, sees the six charts (inline SVG, no script: the policy guard
fails the test on any violation) and the figures beside the quarter before, prints them with
each chart's numbers, downloads the report as CSV, and follows a stale download link back to
the page; in English and in Spanish."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from clinic.rules.reports import RangeKind, last_complete
from tests.support import databases
from tests.support.browsers import sign_in_page
from tests.support.live import STAFF_PASSWORD, ClinicToday, Server, assert_clean_log

pytestmark = pytest.mark.slow

ADMIN = "admin@e2e-reports.test"
WORDS = {
    "en": {
        "menu": "Reports",
        "quarter": "A quarter",
        "which": "Quarter",
        "show": "Show the report",
        "first_table": "Youth and treatments",
        "previous": "Previous period",
        "chart": "Seats offered, booked and used, by clinic day",
        "download": "Download this report as CSV",
        "header": "Figure",
        "served": "Youth served",
    },
    "es": {
        "menu": "Informes",
        "quarter": "Un trimestre",
        "which": "Trimestre",
        "show": "Ver el informe",
        "first_table": "Jóvenes y tratamientos",
        "previous": "Período anterior",
        "chart": "Lugares ofrecidos, reservados y usados, por día de clínica",
        "download": "Descargar este informe en CSV",
        "header": "Dato",
        "served": "Jóvenes atendidos",
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = databases.new_database("e2ereports", tmp_path_factory.mktemp("e2ereports"))
    databases.migrate(url)
    clinic = ClinicToday(url)
    clinic.add_staff(ADMIN, "admin", "Alex Admin")
    clinic.close()
    started = Server(url, tmp_path_factory.mktemp("e2ereports-logs"), workers=2).start()
    try:
        yield started
    finally:
        started.stop()
        databases.drop_database(url)
    assert_clean_log(started)


@pytest.fixture(scope="module")
def authenticators() -> dict[str, str]:
    """The admin's authenticator key, set up at the first sign-in, kept for the next."""
    return {}


@pytest.mark.parametrize("language", ["en", "es"])
def test_an_admin_reads_last_quarter_and_downloads_it(guard, server, authenticators, language):
    from playwright.sync_api import expect

    words = WORDS[language]
    context = guard.new_context(
        base_url=f"http://127.0.0.1:{server.port}", locale="en-US", accept_downloads=True
    )
    # Signed in in English (the helper reads the English forms), then Spanish chosen.
    page = sign_in_page(context, ADMIN, STAFF_PASSWORD, authenticators)
    if language == "es":
        page.get_by_role("button", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", language)

    page.get_by_role("link", name=words["menu"], exact=True).click()
    expect(page.get_by_role("heading", level=1, name=words["menu"])).to_be_visible()
    page.get_by_label(words["quarter"], exact=True).check()
    quarter = page.get_by_label(words["which"], exact=True)
    quarter.select_option(index=0)  # the latest whole quarter, first in the list
    page.get_by_role("button", name=words["show"]).click()
    expect(page).to_have_url(re.compile(r"kind=quarter"))

    today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
    period = last_complete(RangeKind.QUARTER, today)
    table = page.get_by_role("table", name=words["first_table"])
    expect(table).to_be_visible()
    expect(table.get_by_role("columnheader", name=words["previous"], exact=True)).to_be_visible()
    expect(table.get_by_role("rowheader", name=words["served"], exact=True)).to_be_visible()
    charts = page.locator("figure.report-chart svg[role=img]")
    expect(charts).to_have_count(6)
    first = page.get_by_role("img", name=words["chart"])
    expect(first).to_be_visible()
    box = first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100  # drawn, at a readable size

    # Printed, each chart's numbers show under it, opened or not on screen.
    numbers = page.locator("details.chart-numbers table")
    expect(numbers.first).to_be_hidden()
    page.emulate_media(media="print")
    for index in range(6):
        expect(numbers.nth(index)).to_be_visible()
    expect(page.locator("details.chart-numbers summary").first).to_be_hidden()
    page.emulate_media(media="screen")
    expect(numbers.first).to_be_hidden()

    with page.expect_download() as arrival:
        page.get_by_role("link", name=words["download"]).click()
    download = arrival.value
    assert download.suggested_filename == (
        f"clinic-report-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"
    )
    with open(download.path(), encoding="utf-8-sig") as saved:
        rows = list(csv.reader(io.StringIO(saved.read())))
    assert rows[0][0] == words["header"]
    served = next(row for row in rows if row and row[0] == words["served"])
    assert served[1:3] == ["0", "0"]  # a clinic with no visits yet: counted, not missing
    # A kept link whose period the page no longer offers comes back to the page, which says
    # why; nothing is saved.
    stale = page.goto("/staff/reports/visits.csv?kind=month&month=2000-01")
    assert stale is not None and stale.status == 422
    expect(page.get_by_role("heading", level=1, name=words["menu"])).to_be_visible()
    expect(page.locator(".error").first).to_be_visible()
    context.close()
