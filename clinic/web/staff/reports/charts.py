"""The report's charts: SVG drawn on the server by pygal, put inline in the page, each with
its numbers as a table beside it (``Chart.table``) for whoever cannot see the chart.

The pages' Content-Security-Policy allows no inline script or style, so each chart is cleaned
as pygal hands it over (``_clean``): its ``<script>`` (pygal writes its configuration as one
even without tooltips), its ``<style>``, comments, tooltips and every ``style`` attribute go,
and what the stylesheet did is written as presentation attributes (fills, strokes, text
anchors), which the policy does not govern. The chart then draws the same in the page, in
print and saved on its own, needs no request and links nowhere (the one URL left is the SVG
namespace). Its size and its print layout are ``static/reports.css``'s.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any
from xml.etree import ElementTree

import pygal
from babel import Locale
from babel.dates import format_skeleton
from babel.numbers import format_decimal, format_percent
from flask_babel import gettext as _
from markupsafe import Markup

from clinic.formats import display_locale
from clinic.reports.figures import Report
from clinic.rules.reports import AGE_BANDS, band_label, ratio
from clinic.web.staff.reports import table

# pygal adds a finder for its map plugins to ``sys.meta_path``, of the kind Python no longer
# asks (no ``find_spec``): from then on every import that no other finder resolves (an optional
# module's ``try: import``) warns ImportWarning, an error under the test suite's filters. The
# clinic draws no maps: the finder goes.
sys.meta_path[:] = [
    finder for finder in sys.meta_path if not isinstance(finder, pygal.PluginImportFixer)
]

WIDTH, HEIGHT = 760, 380

# Dark enough against white for a graphic (WCAG's 3:1, each above 4.5:1 here), apart from
# one another, and apart in grey when printed without colour (dark, mid, light-ish).
PALETTE = ("#1f4e99", "#b3541e", "#2e7d4f", "#6b3fa0", "#8a6d00")
INK = "#1a1a1a"
GRID = "#c8c8c8"
AXIS = "#595959"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


@dataclass(frozen=True)
class DataTable:
    """A chart's numbers: one row per category (a day, a month, a band), one column per
    series, every cell already formatted for the viewer."""

    columns: tuple[str, ...]  # the first heads the row labels
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    key: str  # names its element ids: "chart-<key>"
    title: str
    svg: Markup
    table: DataTable

    @property
    def caption_id(self) -> str:
        return _caption_id(self.key)


def _caption_id(key: str) -> str:
    """The id of a chart's caption, which names the chart (``aria-labelledby``)."""
    return f"chart-{key}-title"


# --- Numbers and dates in the viewer's language -------------------------------------------


def _count(value: float | None) -> str:
    if value is None:
        return table.DASH
    return _count_in(value, display_locale())


def _percent(value: float | None) -> str:
    if value is None:
        return table.DASH
    return _percent_in(value, display_locale())


def _day(day: date) -> str:
    return _day_in(day, display_locale())


def _month(month: date) -> str:
    return _month_in(month, display_locale())


# Five years of charts show some 700 numbers and 180 dates, most of them the same few (a
# day's 40 seats, a month's name): each is formatted once per process and language, as
# ``clinic.formats`` does for the pages' dates. Babel's own work per call is most of it.
@lru_cache(maxsize=4096)
def _count_in(value: float, locale: Locale) -> str:
    return format_decimal(value, "#,##0", locale=locale)


@lru_cache(maxsize=4096)
def _percent_in(value: float, locale: Locale) -> str:
    return format_percent(value, "#,##0.#%", locale=locale)


@lru_cache(maxsize=4096)
def _day_in(day: date, locale: Locale) -> str:
    return format_skeleton("MMMd", day, locale=locale)


@lru_cache(maxsize=1024)
def _month_in(month: date, locale: Locale) -> str:
    return format_skeleton("yMMM", month, locale=locale)


def _integer_ticks(highest: float) -> list[int]:
    """Whole-number marks from 0 to at least ``highest``, at most about six: a count has no
    half-youth to mark."""
    top = max(math.ceil(highest), 1)
    rough = top / 5
    magnitude = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough), 10 * magnitude)
    return list(range(0, top + step, step))


def _percent_ticks(highest: float) -> list[float]:
    top = min(max(highest, 0.1), 1.0)
    step = next(s for s in (0.02, 0.05, 0.1, 0.2, 0.25) if top / s <= 6)
    marks = math.ceil(top / step)
    return [round(i * step, 4) for i in range(marks + 1)]


# --- Cleaning what pygal draws --------------------------------------------------------------

# Drawn for pygal's script and stylesheet only: tooltips, hover guides, value overlays.
_DROPPED_TAGS = {"defs", "script", "style", "desc", "title"}
_DROPPED_GROUPS = {"tooltip-overlay", "overlay"}


def _classes(element: ElementTree.Element) -> set[str]:
    return set(element.get("class", "").split())


def _clean(key: str, caption_id: str) -> Callable[[Any], Any]:
    """pygal's XML filter for one chart: see the module's docstring."""

    def clean(root: ElementTree.Element) -> ElementTree.Element:
        root.set("id", f"chart-{key}")
        root.set("class", "report-svg")
        root.set("role", "img")
        root.set("aria-labelledby", caption_id)
        root.set("focusable", "false")
        root.set("font-family", FONT)
        root.set("fill", INK)
        _prune(root)
        _paint(root, inherited=set())
        return root

    return clean


def _prune(parent: ElementTree.Element) -> None:
    for child in list(parent):
        tag = child.tag if isinstance(child.tag, str) else ""
        if (
            not tag  # a comment (ElementTree's Comment is a function, not a name)
            or tag in _DROPPED_TAGS
            or _DROPPED_GROUPS & _classes(child)
        ):
            parent.remove(child)
            continue
        for name in ("style", "id"):
            child.attrib.pop(name, None)
        _prune(child)


def _paint(element: ElementTree.Element, inherited: set[str]) -> None:
    """What pygal's stylesheet would have said, as attributes: backgrounds white, series in
    the palette, lines unfilled, guides light, labels anchored as pygal placed them."""
    classes = _classes(element)
    within = inherited | classes
    tag = element.tag
    if "background" in classes:
        element.set("fill", "#ffffff")
    for name in classes:
        if name.startswith("color-"):
            colour = PALETTE[int(name.removeprefix("color-")) % len(PALETTE)]
            element.set("fill", colour)
            element.set("stroke", colour)
    if tag == "path" and "line" in classes:
        element.set("fill", "none")
        if "guide" in classes and _across_the_bars(within):
            element.set("stroke", "none")
        elif "guide" in classes:
            element.set("stroke", GRID)
            element.set("stroke-width", "1")
        elif "axis" in within and "series" not in within:
            element.set("stroke", AXIS)
        else:
            element.set("stroke-width", "3")  # a series' line, thick enough to print
    if "nofill" in classes:
        element.set("fill", "none")
    if tag == "rect" and "series" in within:
        element.set("stroke-width", "0")
    if tag == "text":
        _anchor(element, classes, within)
        element.set("stroke", "none")
        element.set("fill", INK)
    for child in element:
        _paint(child, within)


def _across_the_bars(within: set[str]) -> bool:
    """A guide along the categories' axis (between two bars), which pygal's stylesheet hides:
    only the value axis's guides are drawn."""
    if "always_show" in within:
        return False
    return ("vertical" in within and "x" in within) or ("horizontal" in within and "y" in within)


def _anchor(text: ElementTree.Element, classes: set[str], within: set[str]) -> None:
    size, anchor = "13", None
    if "title" in classes:
        size, anchor = "14", "middle"
    elif "no_data" in classes:
        size, anchor = "20", "middle"
    elif "axis" in within and "x" in within:
        rotated = text.get("transform") is not None
        anchor = ("end" if "backwards" in classes else "start") if rotated else "middle"
    elif "axis" in within and "y" in within:
        anchor = "end"
    elif "legend" in within:
        size = "14"
    text.set("font-size", size)
    if anchor:
        text.set("text-anchor", anchor)


def _render(chart: Any) -> Markup:
    # pygal's output, cleaned (``_clean``); every text in it was escaped by ElementTree.
    return Markup(chart.render(is_unicode=True))  # nosec B704: pygal's escaped SVG, no script


def _config(**options: Any) -> dict[str, Any]:
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "js": [],  # no tooltips: no script to load
        "css": [],
        "disable_xml_declaration": True,
        "no_prefix": True,
        "legend_at_bottom": True,
        "legend_box_size": 14,
        "truncate_legend": -1,
        "truncate_label": -1,
        "show_minor_x_labels": True,
        "no_data_text": _("Nothing to show for this period"),
        "style": pygal.style.Style(
            font_family=FONT,
            label_font_size=13,
            major_label_font_size=13,
            legend_font_size=14,
            title_font_size=14,
            no_data_font_size=20,
            colors=PALETTE,
        ),
        **options,
    }


def _x_labels(labels: Sequence[str]) -> dict[str, Any]:
    """Labels under the bars: upright while they fit, slanted when there are many, and only
    every few when there are very many (the table lists each)."""
    options: dict[str, Any] = {}
    if len(labels) > 8:
        options["x_label_rotation"] = 40
    if len(labels) > 16:
        options["x_labels_major_every"] = math.ceil(len(labels) / 12)
        options["show_minor_x_labels"] = False
    return options


class _NoTooltips:
    """pygal writes every bar's value, place and label as ``<desc>`` elements for its tooltip
    script, which the page does not load and ``_clean`` drops: they are not written at all.
    Four of the six elements of each bar, and most of five years' charts' time. (pygal's own
    ``_tooltip_data``, of the version requirements.txt pins; the charts' tests would see
    tooltips come back.)"""

    def _tooltip_data(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Bar(_NoTooltips, pygal.Bar):
    pass


class _StackedBar(_NoTooltips, pygal.StackedBar):
    pass


class _HorizontalBar(_NoTooltips, pygal.HorizontalBar):
    pass


_WITHOUT_TOOLTIPS: dict[type, type] = {
    pygal.Bar: _Bar,
    pygal.StackedBar: _StackedBar,
    pygal.HorizontalBar: _HorizontalBar,
}


# --- The charts ---------------------------------------------------------------------------


def report_charts(report: Report) -> list[Chart]:
    """The six charts of the reports page, in the order they are shown."""
    return [
        _seats_by_day(report),
        _no_show_rate(report),
        _waiting_list(report),
        _age_bands(report),
        _referrals(report),
        _new_and_returning(report),
    ]


def _bar_chart(
    key: str,
    labels: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    y_title: str,
    kind: type = pygal.Bar,
    percent: bool = False,
    **options: Any,
) -> Markup:
    values = [value for _name, numbers in series for value in numbers if value is not None]
    horizontal = kind is pygal.HorizontalBar
    if horizontal:  # pygal draws the first category at the bottom: the list reads down
        labels = labels[::-1]
        series = [(name, numbers[::-1]) for name, numbers in series]
    config = _config(
        **({"x_title": y_title} if horizontal else {"y_title": y_title}),
        **({} if horizontal else _x_labels(labels)),
        **options,
    )
    if values:
        # Marks of our own: whole numbers for counts, round percentages for rates, from 0.
        ticks = (
            _percent_ticks(_highest(series, kind))
            if percent
            else _integer_ticks(_highest(series, kind))
        )
        # Each mark written here, in the viewer's language: the formatter below is not.
        mark = _percent if percent else _count
        labels_at = [{"value": tick, "label": mark(tick)} for tick in ticks]
        config.update(y_labels=labels_at, range=(0, ticks[-1]))
    else:  # an empty frame with pygal's note in it, not a scale of nothing
        config.update(show_y_labels=False, show_y_guides=False, show_legend=False)
    # pygal formats every bar's value for its tooltip, which ``_clean`` then drops: not
    # worth a locale's number formatting each (a third of five years' charts' time).
    config["value_formatter"] = _unread
    chart = _WITHOUT_TOOLTIPS[kind](**config)
    chart.add_xml_filter(_clean(key, _caption_id(key)))
    chart.x_labels = labels
    if values:  # else pygal writes "nothing to show" (and cannot place marks on no data)
        for name, numbers in series:
            chart.add(name, numbers)
    return _render(chart)


def _unread(value: float | None) -> str:
    """A bar's value as its tooltip, which no reader sees (``_clean`` drops tooltips)."""
    return ""


def _highest(series: list[tuple[str, list[float | None]]], kind: type) -> float:
    """The top of the tallest bar: a stacked bar's is its column's total."""
    if kind is pygal.StackedBar:
        columns = zip(*(numbers for _name, numbers in series), strict=True)
        return max((sum(v or 0 for v in column) for column in columns), default=0)
    return max((v for _name, numbers in series for v in numbers if v is not None), default=0)


def _table(head: str, labels: list[str], series: list[tuple[str, list[str]]]) -> DataTable:
    columns = (head, *(name for name, _cells in series))
    rows = tuple(
        (label, *(cells[index] for _name, cells in series)) for index, label in enumerate(labels)
    )
    return DataTable(columns, rows)


def _seats_by_day(report: Report) -> Chart:
    days = report.current.days
    labels = [_day(day.day) for day in days]
    offered, booked, used = _("Seats offered"), _("Seats booked"), _("Seats used")
    series = [
        (offered, [float(day.seats) for day in days]),
        (booked, [float(day.booked) for day in days]),
        (used, [float(day.used) for day in days]),
    ]
    title = _("Seats offered, booked and used, by clinic day")
    closed = _("closed")
    table_labels = [
        f"{label} ({closed})" if day.closed else label
        for label, day in zip(labels, days, strict=True)
    ]
    return Chart(
        "seats",
        title,
        _bar_chart("seats", labels, series, y_title=_("Seats")),
        _table(
            _("Clinic day"),
            table_labels,
            [(name, [_count(v) for v in numbers]) for name, numbers in series],
        ),
    )


def _no_show_rate(report: Report) -> Chart:
    months = report.current.months
    labels = [_month(month.month) for month in months]
    rates = [ratio(month.no_shows, month.due) for month in months]
    name = _("No-show rate")
    title = _("No-show rate by month")
    return Chart(
        "no-shows",
        title,
        _bar_chart(
            "no-shows",
            labels,
            [(name, rates)],
            y_title=_("Appointments due that were missed"),
            percent=True,
            show_legend=False,
        ),
        _table(
            _("Month"),
            labels,
            [
                (_("Appointments due"), [_count(month.due) for month in months]),
                (_("No-shows"), [_count(month.no_shows) for month in months]),
                (name, [_percent(rate) for rate in rates]),
            ],
        ),
    )


def _waiting_list(report: Report) -> Chart:
    months = report.current.months
    labels = [_month(month.month) for month in months]
    name = _("On the waiting list at the end of the month")
    # None for a month not over yet: no bar (pygal skips None), "—" in the table.
    counts = [None if month.waiting_list is None else float(month.waiting_list) for month in months]
    title = _("Waiting list length by month")
    return Chart(
        "waiting-list",
        title,
        _bar_chart(
            "waiting-list",
            labels,
            [(name, counts)],
            y_title=_("Number of youth"),
            show_legend=False,
        ),
        _table(_("Month"), labels, [(name, [_count(v) for v in counts])]),
    )


def _new_and_returning(report: Report) -> Chart:
    months = report.current.months
    labels = [_month(month.month) for month in months]
    series = [
        (_("New youth"), [float(month.new_youth) for month in months]),
        (_("Returning youth"), [float(month.returning_youth) for month in months]),
    ]
    title = _("New and returning youth served by month")
    return Chart(
        "new-returning",
        title,
        _bar_chart(
            "new-returning",
            labels,
            series,
            y_title=_("Number of youth"),
            kind=pygal.StackedBar,
        ),
        _table(_("Month"), labels, [(n, [_count(v) for v in values]) for n, values in series]),
    )


def _both_periods(
    key: str,
    title: str,
    head: str,
    categories: list[tuple[str, str]],
    current: dict[str, int],
    previous: dict[str, int],
    **options: Any,
) -> Chart:
    """This period beside the period before, category by category."""
    labels = [label for _code, label in categories]
    series = [
        (_("This period"), [float(current.get(code, 0)) for code, _label in categories]),
        (_("Previous period"), [float(previous.get(code, 0)) for code, _label in categories]),
    ]
    return Chart(
        key,
        title,
        _bar_chart(key, labels, series, y_title=_("Number of youth"), **options),
        _table(head, labels, [(n, [_count(v) for v in values]) for n, values in series]),
    )


def _age_bands(report: Report) -> Chart:
    bands = [(band_label(band), band_label(band)) for band in AGE_BANDS]
    return _both_periods(
        "age-bands",
        _("Youth served by age"),
        _("Age"),
        bands,
        report.current.age_bands,
        report.previous.age_bands,
    )


def _referrals(report: Report) -> Chart:
    sources = table.referral_names(report.current, report.previous)
    return _both_periods(
        "referrals",
        _("How the youth served heard of the clinic"),
        _("Heard of the clinic from"),
        sources,
        report.current.referrals,
        report.previous.referrals,
        kind=pygal.HorizontalBar,
        height=max(HEIGHT, 60 + 44 * len(sources)),
    )
