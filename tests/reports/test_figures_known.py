"""Known answers: the figures of the small clinic in ``conftest.py``, counted by hand from its
tables with the definitions in ``clinic.reports.figures``' docstring, against what the
report's SQL computes, on SQLite and (with TEST_DATABASE_URL) PostgreSQL.

Every expected number below is written out, with the people it counts, never computed by
the code under test. Where a definition could be read two ways, the comment says which
reading the number follows.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from clinic import settings
from clinic.reports.figures import DayFigures, Figures, MonthFigures, figures, report
from clinic.rules.reports import Period, RangeKind
from tests.reports.conftest import COURSE_SESSIONS, Q2, Q3, TODAY
from tests.support.querycount import count_statements

D = date


def day(when: date, seats: int, booked: int, used: int, no_shows: int, walk_ins: int) -> DayFigures:
    return DayFigures(
        day=when,
        closed=False,
        seats=seats,
        booked=booked,
        used=used,
        no_shows=no_shows,
        walk_ins=walk_ins,
    )


def month(
    first: date, due: int, no_shows: int, new: int, returning: int, listed: int
) -> MonthFigures:
    return MonthFigures(
        month=first,
        due=due,
        no_shows=no_shows,
        new_youth=new,
        returning_youth=returning,
        waiting_list=listed,
    )


def closed(when: date) -> DayFigures:
    return DayFigures(day=when, closed=True, seats=0, booked=0, used=0, no_shows=0, walk_ins=0)


# --- Q3 (1 July - 30 September 2026): the report's period ----------------------------------

Q3_EXPECTED = Figures(
    period=Q3,
    # Completed in Q3: Ana, Bea, Uma (21 Jul); Fer, Hana, Sam (28 Jul); Cruz, Dani, Ivan,
    # Eli (18 Aug); Bea, Gus, Tess (29 Sep): 13 visits, 12 youth (Bea twice).
    youth_served=12,
    # Ana (05-19) and Cruz (three sessions before Q2, two in it) had one before Q3.
    new_youth=10,
    returning_youth=2,
    treatments=13,
    sessions_per_youth=13 / 12,
    # Cruz's 6th completed visit is on 18 August; nobody else has more than two.
    finished_course=1,
    # Booked ahead on Q3's days, whatever became of them: Ana, Bea, Quin (21 Jul); Dani,
    # Fer, Hana, Sam (28 Jul); Cruz, Dani, Ivan (18 Aug); Pat (25 Aug); Bea, Gus, Oli, Rae,
    # Tess (29 Sep). Walk-ins Uma and Eli are not appointments.
    appointments=16,
    # Quin by the desk; Pat with the cancelled day (by the admin).
    cancelled_by_staff=2,
    # Rae from her link.
    cancelled_by_youth=1,
    # Sam (from 30 June, a Q2 day, moved on 25 June: counted where the appointment is now)
    # and Tess (from 22 September, by the desk).
    moved=2,
    # The 16 appointments less the 3 cancelled; every day is over on 6 October.
    due=13,
    no_shows=2,  # Dani (28 Jul), Oli (29 Sep)
    no_show_rate=2 / 13,
    walk_ins=2,  # Uma, Eli
    # Standby entries for Q3's days: Mia (for 21 Jul, joined 30 June: counted by its day)
    # and Gus (29 Sep), who took a seat.
    standby_joined=2,
    standby_seated=1,
    # Program entries joined on a Q3 day in the clinic's calendar: Kai (07-02), Hana
    # (07-05), Jo (09-10). Not Lu: 30 June 22:30 in the clinic, though 1 July in UTC.
    waitlist_joined=3,
    # Open at the end of 30 September: Jo. Not Lu: removed at 20:00 that evening in the
    # clinic, though 1 October in UTC.
    waitlist_at_end=1,
    # Seats taken in Q3 from the waiting list: Hana 10 days (07-05 to 07-15), Ivan 30
    # (06-20 to 07-20; joined in Q2, seated in Q3). Gus's 2 days on standby do not count.
    # Mean 40 / 2; the 90th percentile by nearest rank: rank ceil(0.9 * 2) = 2 of [10, 30].
    waits_counted=2,
    wait_days_mean=20.0,
    wait_days_p90=30.0,
    clinic_days=5,  # 25 August was cancelled
    # 24 (21 Jul) + 18 (28 Jul: 9 slots) + 24 (18 Aug) + 0 (25 Aug) + 24 (22 Sep)
    # + 22 (29 Sep: one slot blocked).
    seats_offered=112,
    seats_used=13,  # the completed visits, the walk-ins among them
    # As on their first completed visit in Q3:
    #   13-15: Dani 15 (from age_at_visit; her erased birth date 2010-01-01 would say 16),
    #          Eli 14
    #   16-17: Bea 17 (18 at her second visit, she stays here), Fer 16
    #   18-21: Hana 20, Sam 21, Gus 19, Tess 21 (22 the day after her visit)
    #   22-25: Ana 22, Uma 25, Cruz 24, Ivan 23
    age_bands={"13-15": 2, "16-17": 2, "18-21": 4, "22-25": 4},
    minors=4,  # Bea, Fer, Dani, Eli
    minors_with_consent=3,  # Bea and Dani confirmed, Eli exempt; Fer's visit has none
    languages={"en": 7, "es": 5},  # es: Ana, Fer, Hana, Dani, Eli
    # As on the first completed visit in Q3: Ana's is probation (court was Q2's), Bea's
    # school (friend was her second), Cruz's reentry.
    referrals={
        "probation": 2,  # Ana, Tess
        "school": 1,  # Bea
        "other": 1,  # Uma
        "friend": 2,  # Fer, Gus
        "job_program": 1,  # Hana
        "self": 2,  # Sam, Ivan
        "reentry": 1,  # Cruz
        "court": 1,  # Dani
        "case_manager": 1,  # Eli
    },
    purged_youth=1,  # Dani
    days=[
        # day, seats, booked (not cancelled, walk-ins and no-shows included), used,
        # no-shows, walk-ins
        day(D(2026, 7, 21), 24, 3, 3, 0, 1),  # Ana, Bea, Uma (walk-in); Quin cancelled
        day(D(2026, 7, 28), 18, 4, 3, 1, 0),  # Dani (no-show), Fer, Hana, Sam
        day(D(2026, 8, 18), 24, 4, 4, 0, 1),  # Cruz, Dani, Ivan, Eli (walk-in)
        closed(D(2026, 8, 25)),  # Pat's booking cancelled with the day
        day(D(2026, 9, 22), 24, 0, 0, 0, 0),  # nobody: Tess was moved away
        day(D(2026, 9, 29), 22, 4, 3, 1, 0),  # Bea, Gus, Oli (no-show), Tess; Rae cancelled
    ],
    months=[
        # month, due, no-shows, new youth, returning youth, on the waiting list at its end.
        # Each youth served is counted once, in the month of their first completed visit in
        # the period, so the months add up to the period (Bea is July's, not September's).
        # July: due Ana, Bea, Dani, Fer, Hana, Sam; new Bea, Uma, Fer, Hana, Sam; returning
        # Ana; on the list at the end of 31 July: Lu, Kai.
        month(D(2026, 7, 1), 6, 1, 5, 1, 2),
        # August: due Cruz, Dani, Ivan; new Dani, Ivan, Eli; returning Cruz; Lu (Kai left
        # on 1 August).
        month(D(2026, 8, 1), 3, 0, 3, 1, 1),
        # September: due Bea, Gus, Oli, Tess; new Gus, Tess; Bea counted in July; Jo.
        month(D(2026, 9, 1), 4, 1, 2, 0, 1),
    ],
)


# --- Q2 (1 April - 30 June 2026): the period before ----------------------------------------

Q2_EXPECTED = Figures(
    period=Q2,
    # Completed in Q2: Cruz (04-21, 06-30), Xio (04-28, walk-in), Ana (05-19).
    youth_served=3,
    new_youth=2,  # Xio, Ana
    returning_youth=1,  # Cruz
    treatments=4,
    sessions_per_youth=4 / 3,
    finished_course=0,  # Cruz's 4th and 5th
    # Cruz (04-21), Ana (05-19), Vic (05-26), Wes (06-23), Cruz (06-30). Sam's booking on
    # 30 June is on 28 July now.
    appointments=5,
    cancelled_by_staff=0,
    cancelled_by_youth=1,  # Wes
    moved=0,  # Sam was moved on 25 June, but away from Q2's days
    due=4,
    no_shows=1,  # Vic
    no_show_rate=1 / 4,
    walk_ins=1,  # Xio
    standby_joined=1,  # Nia (for 23 June); Mia joined on 30 June, but for a July day
    standby_seated=0,
    # Ivan (06-20) and Lu (30 June in the clinic's calendar).
    waitlist_joined=2,
    waitlist_at_end=2,  # Ivan (seated 20 July), Lu
    # Nobody took a seat in Q2: the figures say so rather than zero days.
    waits_counted=0,
    wait_days_mean=None,
    wait_days_p90=None,
    clinic_days=6,
    # 24 + 24 + 12 (19 May: one clinician rostered) + 24 + 36 (23 June: 3 a slot) + 24.
    seats_offered=144,
    seats_used=4,
    # Cruz 24, Ana 22; Xio 15 (age_at_visit; 2010-01-01 would say 16).
    age_bands={"13-15": 1, "16-17": 0, "18-21": 0, "22-25": 2},
    minors=1,  # Xio
    minors_with_consent=1,
    languages={"en": 1, "es": 2},  # Cruz; Xio, Ana
    # Cruz's first Q2 visit says reentry (his 06-30 intake says other); Ana court.
    referrals={"reentry": 1, "friend": 1, "court": 1},
    purged_youth=1,  # Xio
    days=[
        day(D(2026, 4, 21), 24, 1, 1, 0, 0),  # Cruz
        day(D(2026, 4, 28), 24, 1, 1, 0, 1),  # Xio (walk-in)
        day(D(2026, 5, 19), 12, 1, 1, 0, 0),  # Ana
        day(D(2026, 5, 26), 24, 1, 0, 1, 0),  # Vic (no-show)
        day(D(2026, 6, 23), 36, 0, 0, 0, 0),  # Wes cancelled
        day(D(2026, 6, 30), 24, 1, 1, 0, 0),  # Cruz; Sam's slot left empty by his move
    ],
    months=[
        # month, due, no-shows, new youth, returning youth, on the waiting list at its end.
        # April: due Cruz; new Xio; returning Cruz; on the list at the end: Zoe.
        month(D(2026, 4, 1), 1, 0, 1, 1, 1),
        # May: due Ana, Vic; new Ana; Zoe was removed on 5 May.
        month(D(2026, 5, 1), 2, 1, 1, 0, 0),
        # June: due Cruz (served, but counted in April's row: his first Q2 visit); Ivan and
        # Lu on the list.
        month(D(2026, 6, 1), 1, 0, 0, 0, 2),
    ],
)


# --- Comparing -----------------------------------------------------------------------------

# The counts that a report lists by key: a key with no youth may be listed with 0 or left
# out (the definitions do not say), so those are compared without their zeros. Age bands
# are always the four, in order.
SPARSE = ("languages", "referrals")


def differences(actual: Figures, expected: Figures) -> list[str]:
    """Every field that differs, each on a line: one run shows every disagreement."""
    found = []
    for spec in dataclasses.fields(Figures):
        name = spec.name
        got, want = getattr(actual, name), getattr(expected, name)
        if name in SPARSE:
            got = {key: count for key, count in got.items() if count}
        if name == "age_bands":
            same = list(got.items()) == list(want.items())
        elif isinstance(want, float):
            same = got is not None and got == pytest.approx(want, rel=1e-9)
        else:
            same = got == want
        if not same:
            found.append(f"{name}: got {got!r}, expected {want!r}")
    return found


def assert_figures(actual: Figures, expected: Figures) -> None:
    found = differences(actual, expected)
    assert not found, "\n".join(found)


@pytest.fixture
def rules(app):
    return settings.current_rules()


# --- The tests -----------------------------------------------------------------------------


def test_the_quarter_s_figures_are_the_ones_counted_by_hand(small_clinic, rules):
    assert_figures(figures(Q3, rules, TODAY, course_sessions=COURSE_SESSIONS), Q3_EXPECTED)


def test_the_previous_quarter_s_figures_are_the_ones_counted_by_hand(small_clinic, rules):
    assert_figures(figures(Q2, rules, TODAY, course_sessions=COURSE_SESSIONS), Q2_EXPECTED)


def test_the_report_compares_the_quarter_with_the_one_before(small_clinic, rules):
    both = report(Q3, rules, TODAY, course_sessions=COURSE_SESSIONS)
    assert both.previous.period == Q3.previous() == Q2
    assert_figures(both.current, Q3_EXPECTED)
    assert_figures(both.previous, Q2_EXPECTED)


def test_a_month_of_the_quarter_counts_as_its_row_of_the_quarter(small_clinic, rules):
    """August on its own: its totals are the quarter's August row and its days."""
    august = Period(D(2026, 8, 1), D(2026, 8, 31), RangeKind.MONTH)
    got = figures(august, rules, TODAY, course_sessions=COURSE_SESSIONS)
    row = Q3_EXPECTED.months[1]
    assert got.months == [row]
    assert (got.due, got.no_shows, got.new_youth, got.returning_youth, got.waitlist_at_end) == (
        row.due,
        row.no_shows,
        row.new_youth,
        row.returning_youth,
        row.waiting_list,
    )
    assert got.days == Q3_EXPECTED.days[2:4]
    # Cruz, Dani, Ivan, Eli; Cruz finished his course; Dani is the erased one.
    assert (got.youth_served, got.finished_course, got.purged_youth) == (4, 1, 1)
    assert got.age_bands == {"13-15": 2, "16-17": 0, "18-21": 0, "22-25": 2}


def test_a_youth_is_counted_in_the_month_of_their_first_visit_of_the_period(small_clinic, rules):
    """Bea's second visit is in September. A report of September alone counts her there, as
    returning (her first was in July); the quarter counts her once, in its July row, so that
    its months add up to the quarter."""
    september = Period(D(2026, 9, 1), D(2026, 9, 30), RangeKind.MONTH)
    alone = figures(september, rules, TODAY, course_sessions=COURSE_SESSIONS)
    # Bea, Gus, Tess; Gus and Tess new.
    assert (alone.youth_served, alone.new_youth, alone.returning_youth) == (3, 2, 1)
    assert (alone.months[0].new_youth, alone.months[0].returning_youth) == (2, 1)
    row = Q3_EXPECTED.months[2]
    assert (row.new_youth, row.returning_youth) == (2, 0)
    assert sum(m.new_youth for m in Q3_EXPECTED.months) == Q3_EXPECTED.new_youth
    assert sum(m.returning_youth for m in Q3_EXPECTED.months) == Q3_EXPECTED.returning_youth
    # Her age band is the one of that month's visit: 18 on 29 September.
    assert alone.age_bands == {"13-15": 0, "16-17": 0, "18-21": 3, "22-25": 0}
    assert (alone.minors, alone.minors_with_consent) == (0, 0)


def test_a_day_not_over_yet_is_not_due(small_clinic, rules):
    """On 29 September itself (the evening: every visit of the day recorded), the day is not
    over yet: its visits are not due, and Oli's no-show there, though counted, is not in the
    rate; it is not a day held yet, so its seats are not offered ones; the waiting list is
    counted at the start of the day, and September's month-end not at all."""
    got = figures(Q3, rules, D(2026, 9, 29), course_sessions=COURSE_SESSIONS)
    july, august, september = Q3_EXPECTED.months
    expected = dataclasses.replace(
        Q3_EXPECTED,
        # 13 less Bea, Gus, Oli and Tess on 29 September.
        due=9,
        no_shows=2,  # Dani and Oli: a no-show recorded is one
        no_show_rate=1 / 9,  # Dani's over the nine due
        # Held: 21 and 28 July, 18 August and 22 September (25 August was cancelled).
        clinic_days=4,
        seats_offered=112 - 22,
        seats_used=13 - 3,  # less Bea, Gus and Tess on 29 September
        # Still on the list at the start of 29 September: the one removed on the 30th too.
        waitlist_at_end=2,
        months=[
            july,
            august,
            # The month's due and no-shows are the ones its rate is made of; its end is ahead.
            dataclasses.replace(september, due=0, no_shows=0, waiting_list=None),
        ],
    )
    assert_figures(got, expected)


def test_a_custom_range_counts_the_same_days_as_the_quarter(small_clinic, rules):
    """The same dates as a custom range: the same figures (only the period's kind differs)."""
    custom = Period(Q3.start, Q3.end, RangeKind.CUSTOM)
    got = figures(custom, rules, TODAY, course_sessions=COURSE_SESSIONS)
    assert_figures(got, dataclasses.replace(Q3_EXPECTED, period=custom))


def test_the_statements_do_not_grow_with_the_period(small_clinic, rules):
    """A month, a quarter and a year cost the same number of statements: the figures are
    counted in SQL over the range, not day by day or month by month."""
    periods = {
        "month": Period(D(2026, 8, 1), D(2026, 8, 31), RangeKind.MONTH),
        "quarter": Q3,
        "year": Period(D(2026, 1, 1), D(2026, 12, 31), RangeKind.YEAR),
    }
    figures(Q3, rules, TODAY, course_sessions=COURSE_SESSIONS)  # anything read once, read
    counts = {}
    for name, period in periods.items():
        with count_statements() as statements:
            figures(period, rules, TODAY, course_sessions=COURSE_SESSIONS)
        counts[name] = len(statements)
    assert counts["month"] > 0  # the listener saw the figures' statements
    assert counts["month"] == counts["quarter"] == counts["year"], counts
