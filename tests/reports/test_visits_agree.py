"""The visit list and the report count the same clinic: added up, the list's rows give the
report's figures (on the hand-built clinic of the known-answer tests)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from clinic import settings
from clinic.reports import visits
from clinic.reports.figures import figures
from clinic.reports.visits import Outcome
from clinic.rules.reports import Period, RangeKind

Q3 = Period(date(2026, 7, 1), date(2026, 9, 30), RangeKind.QUARTER)


def test_the_visit_list_adds_up_to_the_report(small_clinic):
    rules = settings.current_rules()
    report = figures(Q3, rules, date(2026, 10, 6), course_sessions=6)
    rows = list(visits.visit_rows(Q3, rules))
    outcomes = Counter(row.outcome for row in rows)
    treated = [row for row in rows if row.outcome is Outcome.TREATED]
    ahead = [row for row in rows if not row.walk_in]

    assert outcomes[Outcome.TREATED] == report.treatments
    assert len({row.youth for row in treated}) == report.youth_served
    assert outcomes[Outcome.NO_SHOW] == report.no_shows
    assert len(ahead) == report.appointments
    assert sum(row.outcome is Outcome.CANCELLED_BY_STAFF for row in ahead) == (
        report.cancelled_by_staff
    )
    assert sum(row.outcome is Outcome.CANCELLED_BY_YOUTH for row in ahead) == (
        report.cancelled_by_youth
    )
    assert sum(row.moved for row in ahead) == report.moved
    walk_ins = [
        row for row in rows if row.walk_in and row.outcome is not Outcome.CANCELLED_BY_STAFF
    ]
    assert len(walk_ins) == report.walk_ins
    # Each youth's first treated row of the quarter is new exactly when the report says so.
    first_rows = {}
    for row in treated:
        first_rows.setdefault(row.youth, row)
    assert sum(row.new for row in first_rows.values()) == report.new_youth
    assert sum(row.session == 6 for row in treated) == report.finished_course
