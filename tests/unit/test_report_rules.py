"""Unit tests for the reports' pure rules in ``clinic.rules.reports``: the period a report
covers and the one before it, the age bands, and the two statistics the figures use.

No app, no database. Expected dates are written out by hand from a printed calendar (2024 and
2028 are leap years, 2026 and 2100 are not), never recomputed with dateutil.
"""

from __future__ import annotations

from datetime import date

import pytest

from clinic.rules.reports import (
    AGE_BANDS,
    Period,
    RangeKind,
    age_band,
    band_label,
    change,
    last_complete,
    nearest_rank,
    period_of,
    ratio,
)

D = date
M, Q, Y, C = RangeKind.MONTH, RangeKind.QUARTER, RangeKind.YEAR, RangeKind.CUSTOM


# --- Period --------------------------------------------------------------------------------


def test_a_period_cannot_end_before_it_starts():
    with pytest.raises(ValueError):
        Period(D(2026, 7, 2), D(2026, 7, 1))


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (D(2026, 7, 1), D(2026, 7, 1), 1),  # one day: both ends included
        (D(2026, 7, 1), D(2026, 9, 30), 92),  # Q3: 31 + 31 + 30
        (D(2026, 1, 1), D(2026, 12, 31), 365),
        (D(2028, 1, 1), D(2028, 12, 31), 366),
        (D(2028, 2, 1), D(2028, 2, 29), 29),
    ],
)
def test_a_period_counts_both_of_its_ends(start, end, days):
    assert Period(start, end).days == days


def test_a_period_is_custom_unless_told():
    assert Period(D(2026, 7, 1), D(2026, 7, 9)).kind is RangeKind.CUSTOM


# --- previous() ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "previous"),
    [
        # A whole month compares with the whole month before, whatever its length.
        ((D(2026, 3, 1), D(2026, 3, 31), M), (D(2026, 2, 1), D(2026, 2, 28))),
        ((D(2028, 3, 1), D(2028, 3, 31), M), (D(2028, 2, 1), D(2028, 2, 29))),
        ((D(2024, 3, 1), D(2024, 3, 31), M), (D(2024, 2, 1), D(2024, 2, 29))),
        ((D(2100, 3, 1), D(2100, 3, 31), M), (D(2100, 2, 1), D(2100, 2, 28))),  # not leap
        ((D(2026, 2, 1), D(2026, 2, 28), M), (D(2026, 1, 1), D(2026, 1, 31))),
        ((D(2026, 5, 1), D(2026, 5, 31), M), (D(2026, 4, 1), D(2026, 4, 30))),
        ((D(2026, 1, 1), D(2026, 1, 31), M), (D(2025, 12, 1), D(2025, 12, 31))),  # year back
        # Quarters.
        ((D(2026, 7, 1), D(2026, 9, 30), Q), (D(2026, 4, 1), D(2026, 6, 30))),
        ((D(2026, 4, 1), D(2026, 6, 30), Q), (D(2026, 1, 1), D(2026, 3, 31))),
        ((D(2026, 1, 1), D(2026, 3, 31), Q), (D(2025, 10, 1), D(2025, 12, 31))),
        ((D(2028, 4, 1), D(2028, 6, 30), Q), (D(2028, 1, 1), D(2028, 3, 31))),  # 91 days
        # Years.
        ((D(2026, 1, 1), D(2026, 12, 31), Y), (D(2025, 1, 1), D(2025, 12, 31))),
        ((D(2025, 1, 1), D(2025, 12, 31), Y), (D(2024, 1, 1), D(2024, 12, 31))),  # 366 days
    ],
)
def test_the_previous_month_quarter_or_year_is_the_whole_one_before(period, previous):
    start, end, kind = period
    before = Period(start, end, kind).previous()
    assert (before.start, before.end) == previous
    assert before.kind is kind


@pytest.mark.parametrize(
    ("start", "end", "previous"),
    [
        # Ten days: the ten days that end the day before.
        (D(2026, 7, 10), D(2026, 7, 19), (D(2026, 6, 30), D(2026, 7, 9))),
        # One day: the day before.
        (D(2026, 7, 10), D(2026, 7, 10), (D(2026, 7, 9), D(2026, 7, 9))),
        # Across a leap day: 1-10 March 2028 goes back to 20-29 February.
        (D(2028, 3, 1), D(2028, 3, 10), (D(2028, 2, 20), D(2028, 2, 29))),
        # Across a year's end: 5-14 January goes back to 26 December-4 January.
        (D(2026, 1, 5), D(2026, 1, 14), (D(2025, 12, 26), D(2026, 1, 4))),
        # A custom range that happens to be a whole month still counts days: March's 31
        # days go back to 29 January-28 February, not to February alone.
        (D(2026, 3, 1), D(2026, 3, 31), (D(2026, 1, 29), D(2026, 2, 28))),
    ],
)
def test_a_custom_range_compares_with_as_many_days_ending_the_day_before(start, end, previous):
    period = Period(start, end, C)
    before = period.previous()
    assert (before.start, before.end) == previous
    assert before.days == period.days
    assert before.kind is C


def test_a_month_that_does_not_start_on_the_first_goes_back_by_its_days():
    """A "month" from the 15th is not a calendar month: it compares with the same number of
    days before it, as a custom range would."""
    before = Period(D(2026, 3, 15), D(2026, 4, 14), M).previous()
    assert (before.start, before.end) == (D(2026, 2, 12), D(2026, 3, 14))
    assert before.days == 31


# --- period_of, last_complete --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "containing", "expected"),
    [
        (M, D(2026, 2, 14), (D(2026, 2, 1), D(2026, 2, 28))),
        (M, D(2028, 2, 14), (D(2028, 2, 1), D(2028, 2, 29))),
        (M, D(2026, 12, 31), (D(2026, 12, 1), D(2026, 12, 31))),
        (M, D(2026, 4, 1), (D(2026, 4, 1), D(2026, 4, 30))),
        (Q, D(2026, 11, 20), (D(2026, 10, 1), D(2026, 12, 31))),
        (Q, D(2026, 3, 31), (D(2026, 1, 1), D(2026, 3, 31))),
        (Q, D(2026, 4, 1), (D(2026, 4, 1), D(2026, 6, 30))),
        (Q, D(2026, 8, 15), (D(2026, 7, 1), D(2026, 9, 30))),
        (Y, D(2026, 7, 4), (D(2026, 1, 1), D(2026, 12, 31))),
        (Y, D(2028, 12, 31), (D(2028, 1, 1), D(2028, 12, 31))),
    ],
)
def test_period_of_is_the_whole_month_quarter_or_year_holding_the_date(kind, containing, expected):
    period = period_of(kind, containing)
    assert (period.start, period.end) == expected
    assert period.kind is kind


def test_a_custom_period_has_no_calendar_unit_to_hold_a_date():
    with pytest.raises(ValueError):
        period_of(RangeKind.CUSTOM, D(2026, 7, 4))


@pytest.mark.parametrize(
    ("kind", "today", "expected"),
    [
        # 6 December 2026: the last whole quarter is Q3, not the quarter under way.
        (Q, D(2026, 12, 6), (D(2026, 7, 1), D(2026, 9, 30))),
        (M, D(2026, 12, 6), (D(2026, 11, 1), D(2026, 11, 30))),
        (Y, D(2026, 12, 6), (D(2025, 1, 1), D(2025, 12, 31))),
        # New Year's Day: every unit before it is last year's.
        (M, D(2026, 1, 1), (D(2025, 12, 1), D(2025, 12, 31))),
        (Q, D(2026, 1, 1), (D(2025, 10, 1), D(2025, 12, 31))),
        (Y, D(2026, 1, 1), (D(2025, 1, 1), D(2025, 12, 31))),
        # The last day of a quarter is still in it: that quarter is not complete yet.
        (Q, D(2026, 3, 31), (D(2025, 10, 1), D(2025, 12, 31))),
        (Q, D(2026, 4, 1), (D(2026, 1, 1), D(2026, 3, 31))),
        # March 2028 looks back to a 29-day February.
        (M, D(2028, 3, 15), (D(2028, 2, 1), D(2028, 2, 29))),
    ],
)
def test_last_complete_is_the_whole_unit_before_todays(kind, today, expected):
    period = last_complete(kind, today)
    assert (period.start, period.end) == expected
    assert period.kind is kind


# --- Age bands -----------------------------------------------------------------------------


def test_the_bands_are_the_health_departments_in_order():
    assert [band_label(band) for band in AGE_BANDS] == ["13-15", "16-17", "18-21", "22-25"]


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (12, None),  # younger than the clinic treats
        (13, "13-15"),
        (15, "13-15"),
        (16, "16-17"),
        (17, "16-17"),
        (18, "18-21"),
        (21, "18-21"),
        (22, "22-25"),
        (25, "22-25"),
        (26, None),  # older than the clinic treats
    ],
)
def test_each_age_falls_in_its_band_at_the_edges(age, band):
    assert age_band(age) == band


# --- nearest_rank --------------------------------------------------------------------------

# Values that are not their own ranks, so a test sees which position was picked.
TEN = [3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 89.0, 144.0, 233.0]


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.9, None),  # nothing to rank
        ([7.0], 0.9, 7.0),  # n=1: the only value
        (TEN, 0.9, 144.0),  # n=10: ceil(9.0) = rank 9
        ([*TEN, 377.0], 0.9, 233.0),  # n=11: ceil(9.9) = rank 10
        (TEN, 0.5, 21.0),  # the median by nearest rank: rank 5
        (TEN, 1.0, 233.0),  # the largest
        (TEN, 0.0, 3.0),  # rank 0 is read as rank 1, the smallest
        ([10.0, 30.0], 0.9, 30.0),  # n=2: ceil(1.8) = rank 2
        ([2.0, 10.0, 30.0], 0.9, 30.0),  # n=3: ceil(2.7) = rank 3
    ],
)
def test_nearest_rank_picks_the_ceiling_rank(values, fraction, expected):
    assert nearest_rank(values, fraction) == expected


# --- ratio, change -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (3, 4, 0.75),
        (0, 4, 0.0),  # none of something: a known zero
        (4, 4, 1.0),
        (0, 0, None),  # nothing to divide: unknown, not zero
        (5, 0, None),
    ],
)
def test_ratio_is_unknown_over_nothing(part, whole, expected):
    assert ratio(part, whole) == expected


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (0.5, 0.25, 0.25),
        (3, 5, -2),  # a fall is negative
        (0, 0, 0),  # no change is a known zero
        (0.0, None, None),  # either side unknown: the change is too
        (None, 0.0, None),
        (None, None, None),
    ],
)
def test_change_is_unknown_when_either_side_is(current, previous, expected):
    assert change(current, previous) == expected
