"""The reports' pure rules: which dates a report covers, the period before it for comparison,
the age bands a funder asks for, and the two summary statistics the figures use.

A report covers clinic days: every figure counts what happened on (or for) the days from
``start`` to ``end``, both included, in the clinic's calendar. The period before it has the
same length in its own terms: the month, quarter or year before, or for a custom range the
same number of days ending the day before ``start``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta


class RangeKind(enum.StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Period:
    """The clinic days from ``start`` to ``end``, both included."""

    start: date
    end: date
    kind: RangeKind = RangeKind.CUSTOM

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends on or after its start")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period just before this one, of the same kind: a whole month, quarter or year
        for those (so 1-31 March compares with 1-28 February), else the same number of days."""
        step = _STEP.get(self.kind)
        if step is not None and self.start == _kind_start(self.kind, self.start):
            start = self.start - step
            return Period(start, self.start - timedelta(days=1), self.kind)
        length = timedelta(days=self.days)
        return Period(self.start - length, self.start - timedelta(days=1), self.kind)


_STEP = {
    RangeKind.MONTH: relativedelta(months=1),
    RangeKind.QUARTER: relativedelta(months=3),
    RangeKind.YEAR: relativedelta(years=1),
}


def _kind_start(kind: RangeKind, day: date) -> date:
    if kind is RangeKind.MONTH:
        return day.replace(day=1)
    if kind is RangeKind.QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def period_of(kind: RangeKind, containing: date) -> Period:
    """The whole calendar month, quarter or year that holds ``containing``."""
    if kind is RangeKind.CUSTOM:
        raise ValueError("a custom period needs its own dates")
    start = _kind_start(kind, containing)
    end = start + _STEP[kind] - timedelta(days=1)
    return Period(start, end, kind)


def last_complete(kind: RangeKind, today: date) -> Period:
    """The last whole month, quarter or year before the one ``today`` is in: what a report
    for the funder usually covers ("last quarter")."""
    return period_of(kind, period_of(kind, today).start - timedelta(days=1))


# The age bands the city's health department reports by (age on the day of the visit).
AGE_BANDS: tuple[tuple[int, int], ...] = ((13, 15), (16, 17), (18, 21), (22, 25))


def band_label(band: tuple[int, int]) -> str:
    return f"{band[0]}-{band[1]}"


def age_band(age: int) -> str | None:
    """The band ``age`` falls in, or None outside every band (never for an eligible youth)."""
    for low, high in AGE_BANDS:
        if low <= age <= high:
            return band_label((low, high))
    return None


def nearest_rank(sorted_values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``fraction`` of the
    values at or below it (the rank ceil(fraction * n), counted from 1). The SQL in
    ``clinic.reports`` picks the same rank, so tests can check one against the other."""
    if not sorted_values:
        return None
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def ratio(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a fraction, or None when there is nothing to divide (a rate
    over zero visits is unknown, not zero)."""
    return part / whole if whole else None


def change(current: float | None, previous: float | None) -> float | None:
    """The difference from the previous period, or None when either is unknown."""
    if current is None or previous is None:
        return None
    return current - previous
