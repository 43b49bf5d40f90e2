"""The report's charts (``clinic.web.staff.reports.charts``) on hand-made figures: what each
draws and the table of numbers beside it, the SVG fit for the pages' policy (no script, no
style, no address elsewhere), marks a reader can use, nothing drawn when there is nothing to
count, and titles in the viewer's language."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from clinic.reports.figures import DayFigures, Figures, MonthFigures, Report
from clinic.rules.reports import Period, RangeKind
from clinic.web.staff.reports import charts

EN = {"Accept-Language": "en"}
ES = {"Accept-Language": "es"}
Q3 = Period(date(2026, 7, 1), date(2026, 9, 30), RangeKind.QUARTER)


def hand_made() -> Report:
    days = [
        DayFigures(date(2026, 7, 21), False, 24, 20, 17, 2, 1),
        DayFigures(date(2026, 7, 28), True, 0, 0, 0, 0, 0),
        DayFigures(date(2026, 8, 18), False, 24, 22, 19, 1, 3),
    ]
    months = [
        MonthFigures(date(2026, 7, 1), 20, 2, 6, 9, 31),
        MonthFigures(date(2026, 8, 1), 22, 1, 4, 12, 35),
        MonthFigures(date(2026, 9, 1), 0, 0, 0, 0, 38),
    ]
    current = Figures(
        Q3,
        age_bands={"13-15": 3, "16-17": 5, "18-21": 9, "22-25": 4},
        referrals={"probation": 7, "school": 2, "not_recorded": 1},
        days=days,
        months=months,
    )
    previous = Figures(
        Q3.previous(),
        age_bands={"13-15": 1, "16-17": 2, "18-21": 8, "22-25": 6},
        referrals={"court": 4, "probation": 5},
    )
    return Report(current, previous)


@pytest.fixture
def drawn(app) -> dict[str, charts.Chart]:
    with app.test_request_context(headers=EN):
        return {chart.key: chart for chart in charts.report_charts(hand_made())}


def svg_texts(chart: charts.Chart) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", str(chart.svg))


def test_six_charts_in_the_pages_order(drawn):
    assert [(key, chart.title) for key, chart in drawn.items()] == [
        ("seats", "Seats offered, booked and used, by clinic day"),
        ("no-shows", "No-show rate by month"),
        ("waiting-list", "Waiting list length by month"),
        ("age-bands", "Youth served by age"),
        ("referrals", "How the youth served heard of the clinic"),
        ("new-returning", "New and returning youth served by month"),
    ]


@pytest.mark.parametrize(
    "key", ["seats", "no-shows", "waiting-list", "age-bands", "referrals", "new-returning"]
)
def test_each_chart_is_plain_svg_the_policy_lets_draw(drawn, key):
    svg = str(drawn[key].svg)
    head = svg.split(">", 1)[0]
    assert head.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert f'id="chart-{key}"' in head and 'role="img"' in head
    assert f'aria-labelledby="chart-{key}-title"' in head
    for forbidden in ("<script", "<style", "style=", "<!--", "xlink", "<desc", "<title", "<?xml"):
        assert forbidden not in svg, forbidden
    assert set(re.findall(r"https?://[^\s\"'<>]+", svg)) == {"http://www.w3.org/2000/svg"}
    assert svg.count(' id="') == 1  # the chart's own; pygal's legend ids would repeat
    # Drawn in colours of its own, on white: nothing is left for a stylesheet to fill (a
    # shape SVG fills by default is black).
    backgrounds = re.findall(r'<rect [^>]*class="background"[^>]*>', svg)
    assert backgrounds and all('fill="#ffffff"' in rect for rect in backgrounds)
    for group in re.findall(r'<g class="series [^"]*"[^>]*>', svg):
        assert re.search(r'fill="#[0-9a-f]{6}"', group), group
    for line in re.findall(r'<path [^>]*class="[^"]*\bline\b[^"]*"[^>]*>', svg):
        assert 'fill="none"' in line, line


def test_the_seats_chart_draws_each_day_and_its_table_says_the_same(drawn):
    chart = drawn["seats"]
    assert chart.table.columns == ("Clinic day", "Seats offered", "Seats booked", "Seats used")
    assert chart.table.rows == (
        ("Jul 21", "24", "20", "17"),
        ("Jul 28 (closed)", "0", "0", "0"),
        ("Aug 18", "24", "22", "19"),
    )
    texts = svg_texts(chart)
    assert {"Jul 21", "Jul 28", "Aug 18", "Seats offered", "Seats booked", "Seats used"} <= set(
        texts
    )
    # Whole numbers only on the count axis (nobody books half a seat), up to the top bar.
    marks = [text for text in texts if re.fullmatch(r"[\d.,]+", text)]
    assert marks == ["0", "5", "10", "15", "20", "25"]
    # Three series, one colour each, from the palette.
    for index in range(3):
        assert f'class="series serie-{index} color-{index}" fill="{charts.PALETTE[index]}"' in str(
            chart.svg
        )


def test_the_no_show_rate_is_in_percent_and_unknown_where_nothing_was_due(drawn):
    chart = drawn["no-shows"]
    assert chart.table.columns == ("Month", "Appointments due", "No-shows", "No-show rate")
    assert chart.table.rows == (
        ("Jul 2026", "20", "2", "10%"),
        ("Aug 2026", "22", "1", "4.5%"),
        ("Sep 2026", "0", "0", "—"),
    )
    assert "10%" in svg_texts(chart)


def test_the_waiting_list_and_new_and_returning_by_month(drawn):
    assert drawn["waiting-list"].table.rows == (
        ("Jul 2026", "31"),
        ("Aug 2026", "35"),
        ("Sep 2026", "38"),
    )
    stacked = drawn["new-returning"]
    assert stacked.table.columns == ("Month", "New youth", "Returning youth")
    assert stacked.table.rows == (
        ("Jul 2026", "6", "9"),
        ("Aug 2026", "4", "12"),
        ("Sep 2026", "0", "0"),
    )
    # The stack's top (4 + 12 = 16) is on the scale, not only the taller part's 12.
    marks = [int(text) for text in svg_texts(stacked) if text.isdigit()]
    assert max(marks) >= 16


def test_age_bands_and_referrals_compare_both_periods(drawn):
    bands = drawn["age-bands"]
    assert bands.table.columns == ("Age", "This period", "Previous period")
    assert bands.table.rows == (
        ("13-15", "3", "1"),
        ("16-17", "5", "2"),
        ("18-21", "9", "8"),
        ("22-25", "4", "6"),
    )
    referrals = drawn["referrals"]
    rows = dict((row[0], row[1:]) for row in referrals.table.rows)
    assert rows["A probation officer"] == ("7", "5")
    assert rows["A court"] == ("0", "4")
    assert rows["Not recorded"] == ("1", "0")
    # Every source of the intake's list, in its order, then those not recorded.
    assert [row[0] for row in referrals.table.rows][:3] == [
        "I found it myself",
        "A friend or family member",
        "A court",
    ]
    assert referrals.table.rows[-1][0] == "Not recorded"
    # Drawn top to bottom in the same order (in SVG, y grows downwards).
    placed = {
        label: float(y)
        for y, label in re.findall(
            r'<text[^>]*\by="([\d.]+)"[^>]*>([^<]*)</text>', str(referrals.svg)
        )
    }
    assert placed["I found it myself"] < placed["A court"] < placed["Not recorded"]


def test_nothing_to_count_draws_a_note_not_a_crash(app):
    empty = Report(Figures(Q3), Figures(Q3.previous()))
    with app.test_request_context(headers=EN):
        drawn = charts.report_charts(empty)
    for chart in drawn:
        assert "Nothing to show for this period" in svg_texts(chart) or chart.key in (
            "age-bands",
            "referrals",  # every band and source is listed, at zero
        )
    assert {chart.key: chart.table.rows for chart in drawn}["seats"] == ()


def test_a_year_of_days_labels_some_days_and_lists_them_all(app):
    start = date(2026, 1, 6)
    days = [DayFigures(start + timedelta(weeks=n), False, 24, 20, 18, 2, 0) for n in range(48)]
    report = Report(Figures(Q3, days=days), Figures(Q3.previous()))
    with app.test_request_context(headers=EN):
        (seats, *_rest) = charts.report_charts(report)
    assert len(seats.table.rows) == 48
    shown = [text for text in svg_texts(seats) if re.fullmatch(r"[A-Z][a-z]{2} \d+", text)]
    assert 4 <= len(shown) < 48  # thinned to stay legible; the table has every day


@pytest.mark.parametrize(
    ("highest", "marks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (7, [0, 2, 4, 6, 8]),
        (23, [0, 5, 10, 15, 20, 25]),
        (38, [0, 10, 20, 30, 40]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_count_marks_are_round_whole_numbers(highest, marks):
    assert charts._integer_ticks(highest) == marks


@pytest.mark.parametrize(
    ("highest", "top"), [(0.0, 0.1), (0.045, 0.1), (0.14, 0.15), (0.37, 0.4), (1.0, 1.0)]
)
def test_rate_marks_reach_just_past_the_highest_rate(highest, top):
    marks = charts._percent_ticks(highest)
    assert marks[0] == 0 and marks[-1] == pytest.approx(top) and len(marks) <= 7


def test_titles_axes_and_legends_in_spanish(app):
    with app.test_request_context(headers=ES):
        drawn = {chart.key: chart for chart in charts.report_charts(hand_made())}
    assert drawn["seats"].title == "Lugares ofrecidos, reservados y usados, por día de clínica"
    assert drawn["no-shows"].title == "Tasa de inasistencia por mes"
    assert drawn["new-returning"].table.columns == ("Mes", "Jóvenes nuevos", "Jóvenes que regresan")
    texts = svg_texts(drawn["seats"])
    assert {"Lugares ofrecidos", "Lugares reservados", "Lugares usados", "Lugares"} <= set(texts)
    assert "21 jul" in texts
    assert "Número de jóvenes" in svg_texts(drawn["age-bands"])
    assert "Este período" in svg_texts(drawn["age-bands"])


def test_a_month_not_over_draws_no_waiting_list_bar(app):
    """A month that has not ended has no waiting list at its end yet (None): no bar, and "—"
    in the table, never a bar of 0."""
    months = [
        MonthFigures(date(2026, 10, 1), 19, 2, 3, 4, 12),
        MonthFigures(date(2026, 11, 1), 21, 2, 1, 5, None),
        MonthFigures(date(2026, 12, 1), 0, 0, 0, 0, None),
    ]
    quarter = Period(date(2026, 10, 1), date(2026, 12, 31), RangeKind.QUARTER)
    report = Report(Figures(quarter, months=months), Figures(quarter.previous()))
    with app.test_request_context(headers=EN):
        chart = {chart.key: chart for chart in charts.report_charts(report)}["waiting-list"]
    assert chart.table.rows == (("Oct 2026", "12"), ("Nov 2026", "—"), ("Dec 2026", "—"))
    svg = str(chart.svg)
    assert len(re.findall(r'<rect [^>]*class="rect reactive', svg)) == 1
    assert {"Oct 2026", "Nov 2026", "Dec 2026"} <= set(svg_texts(chart))


def test_no_month_over_yet_draws_the_note(app):
    months = [MonthFigures(date(2026, 11, 1), 21, 2, 1, 5, None)]
    report = Report(Figures(Q3, months=months), Figures(Q3.previous()))
    with app.test_request_context(headers=EN):
        chart = {chart.key: chart for chart in charts.report_charts(report)}["waiting-list"]
    assert "Nothing to show for this period" in svg_texts(chart)
    assert chart.table.rows == (("Nov 2026", "—"),)
