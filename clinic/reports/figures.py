"""The figures of one period of clinic days, and of the period before it (``report``).

Definitions (every count is over the clinic days from ``period.start`` to ``period.end``):

- **youth served**: distinct youth with a completed visit (a treatment recorded). New: their
  first completed visit ever is in the period; returning: they had one before it.
- **treatments**: completed visits. **sessions per youth**: treatments / youth served.
- **finished a course**: youth whose ``COURSE_SESSIONS``-th completed visit (counted over all
  time) falls in the period.
- **appointments**: every visit on the period's days that was booked ahead (not a walk-in),
  whatever became of it; of them, **cancelled through the clinic** (by a staff account: the
  desk taking a youth's call, or a cancelled clinic day) or **online by the youth** (from
  their link); **moved**: appointments on the
  period's days that were moved at least once, by the youth or the desk.
- **no-shows**: every no-show recorded (today's too, once the desk marked it); **no-show
  rate**: the no-shows of days already over / the visits due on them (booked ahead, not
  cancelled). A month's row counts only days over, so with today inside the period its
  months' no-shows may add up to fewer than the period's.
- **walk-ins**: visits added at the desk on the day (not cancelled: a walk-in who left).
- **standby joined**: standby entries for the period's days; **standby seated**: of them, those
  who took a seat. **Waiting list joined**: program entries that joined on a day of the
  period; **on the waiting list at the end**: the people with an open entry at the end of
  ``period.end`` (or at the start of today, for a period not over yet), each once.
- **wait**: days from joining the waiting list to taking a seat (the entry's status "booked",
  closed on a date of the period), for entries seated in the period: the mean, and the 90th
  percentile by nearest rank. Standby entries are not counted: they wait hours for one day.
- **clinic days held**, **seats offered** and **seats used** count the days before today: the
  open slots' seats of each clinic day as planned (staff changes, roster and blocked times
  applied; the settings as they are now, for a day without changes of its own), and the visits
  that came (checked in, in treatment, completed), walk-ins included. ``days`` lists the coming
  days of the period too, with their seats and bookings.
- **age bands**, **minors**, **languages**, **referral sources**: of the youth served, each
  counted once, as on their first completed visit in the period (age on that day; a youth who
  turns 18 later in the period stays in the band of that first visit). **Minors with consent**:
  minors whose guardian's consent was recorded (confirmed, or exempt by staff decision).
- **purged**: youth served whose personal data has since been erased; they are counted in
  every figure above, from the anonymous facts their rows keep.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Subquery, and_, case, func, or_, select

from clinic.booking.availability import day_plans
from clinic.booking.moves import RESCHEDULE
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AppointmentStatus,
    ClinicDay,
    EntryStatus,
    Intake,
    ListEntry,
    ListKind,
    Slot,
    StatusChange,
    Youth,
    naive_utc,
)
from clinic.reports.facts import CONSENT_RECORDED, NOT_RECORDED, referral_codes, session_order
from clinic.reports.sql import age_on, days_between
from clinic.rules.calendar import clinic_days, day_slots
from clinic.rules.policy import ClinicRules
from clinic.rules.reports import AGE_BANDS, Period, age_band, band_label, ratio


@dataclass(frozen=True)
class DayFigures:
    """One clinic day of the period (a cancelled day too: ``closed``, no seats)."""

    day: date
    closed: bool
    seats: int  # seats offered
    booked: int  # visits not cancelled: booked ahead and walk-ins
    used: int  # visits that came: checked in, in treatment or completed
    no_shows: int
    walk_ins: int


@dataclass(frozen=True)
class MonthFigures:
    """One calendar month of the period, for the charts over time."""

    month: date  # its first day
    due: int  # visits due (booked ahead, not cancelled, day over)
    no_shows: int  # on its days already over: what its no-show rate is made of
    # Each youth served is counted once, in the month of their first completed visit of the
    # period, so the months add up to the period's totals (a report of that month alone may
    # count more: a youth first seen earlier in the period is then counted in it too).
    new_youth: int
    returning_youth: int
    # On the waiting list at the end of the month (or of the period); None for a month not
    # over yet.
    waiting_list: int | None


@dataclass(frozen=True)
class Figures:
    """Every figure of one period; ``None`` where a rate or a wait has nothing to count."""

    period: Period
    youth_served: int = 0
    new_youth: int = 0
    returning_youth: int = 0
    treatments: int = 0
    sessions_per_youth: float | None = None
    finished_course: int = 0
    appointments: int = 0
    cancelled_by_staff: int = 0
    cancelled_by_youth: int = 0
    moved: int = 0
    due: int = 0
    no_shows: int = 0
    no_show_rate: float | None = None
    walk_ins: int = 0
    standby_joined: int = 0
    standby_seated: int = 0
    waitlist_joined: int = 0
    waitlist_at_end: int = 0
    waits_counted: int = 0
    wait_days_mean: float | None = None
    wait_days_p90: float | None = None
    clinic_days: int = 0  # days that ran (not cancelled)
    seats_offered: int = 0
    seats_used: int = 0
    age_bands: dict[str, int] = field(default_factory=dict)  # "13-15" .. "22-25", in order
    minors: int = 0
    minors_with_consent: int = 0
    languages: dict[str, int] = field(default_factory=dict)  # code -> youth
    referrals: dict[str, int] = field(default_factory=dict)  # vocab code -> youth
    purged_youth: int = 0
    days: list[DayFigures] = field(default_factory=list)
    months: list[MonthFigures] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    current: Figures
    previous: Figures


# --- Reading them -----------------------------------------------------------------------------
#
# A fixed set of statements per period, whatever its length: the visits by clinic day, the
# completed visits with each youth's running count, the profile of the youth served, the
# lists, the waits and the waiting list's length at each month's end, and the day plans
# (``booking.day_plans``: the staff changes and the roster). Python then adds up at most one
# row per clinic day or month, and per combination of the profile's few values.

COME = (AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_TREATMENT, AppointmentStatus.COMPLETED)


def _utc_midnight(day: date, rules: ClinicRules) -> datetime:
    """The clinic's midnight starting ``day``, as the naive UTC the timestamps are stored in."""
    return naive_utc(datetime.combine(day, time(), tzinfo=rules.zone))


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _months(period: Period) -> list[date]:
    first = period.start.replace(day=1)
    months = []
    while first <= period.end:
        months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def report(period: Period, rules: ClinicRules, today: date, course_sessions: int) -> Report:
    """The figures of ``period`` and of the period before it."""
    return Report(
        current=figures(period, rules, today, course_sessions),
        previous=figures(period.previous(), rules, today, course_sessions),
    )


def figures(period: Period, rules: ClinicRules, today: date, course_sessions: int) -> Figures:
    """Every figure of ``period`` (see the module's definitions), counted by the database."""
    start, end = period.start, period.end
    begins, ends = _utc_midnight(start, rules), _utc_midnight(end + timedelta(days=1), rules)
    visits = _visits_by_day(start, end)
    served = _served_by_day(start, end, course_sessions)
    profile = _profile(start, end)
    days = _days(period, rules, visits)
    standby_joined, standby_seated, waitlist_joined = _lists(start, end, begins, ends)
    waits_counted, wait_mean, wait_p90 = _waits(begins, ends)
    months = _months(period)
    waiting, waitlist_at_end = _waiting_list(months, ends, _utc_midnight(today, rules), rules)

    def total(rows: dict[date, Any], name: str) -> int:
        return sum(getattr(row, name) for row in rows.values())

    # A visit is due once its day is over: today's and later ones are not counted as due, and
    # the seats of a day count as offered once it was held.
    past = {day: row for day, row in visits.items() if day < today}
    held = [day for day in days if day.day < today]
    due = total(past, "due")
    treatments = total(served, "treatments")
    youth_served = total(served, "youth")
    new_youth = total(served, "new")
    past_months = _by_month(past, ("due", "no_shows"))
    served_months = _by_month(served, ("new", "youth"))
    month_rows = [
        MonthFigures(
            month=month,
            due=past_months[month]["due"],
            no_shows=past_months[month]["no_shows"],
            new_youth=served_months[month]["new"],
            returning_youth=served_months[month]["youth"] - served_months[month]["new"],
            waiting_list=waiting[index],
        )
        for index, month in enumerate(months)
    ]
    bands = {band_label(band): 0 for band in AGE_BANDS}
    languages: dict[str, int] = {}
    referrals: dict[str, int] = {}
    names = referral_codes()
    minors = minors_with_consent = purged = 0
    for row in profile:
        band = age_band(row.age) if row.age is not None else None
        if band is not None:
            bands[band] += row.youth
        languages[row.language] = languages.get(row.language, 0) + row.youth
        referral = names.get(row.referral_index, NOT_RECORDED)
        referrals[referral] = referrals.get(referral, 0) + row.youth
        if row.age is not None and row.age < rules.ages.adult:
            minors += row.youth
            minors_with_consent += row.consented
        purged += row.purged
    return Figures(
        period=period,
        youth_served=youth_served,
        new_youth=new_youth,
        returning_youth=youth_served - new_youth,
        treatments=treatments,
        sessions_per_youth=ratio(treatments, youth_served),
        finished_course=total(served, "finished"),
        appointments=total(visits, "ahead"),
        cancelled_by_staff=total(visits, "cancelled_by_staff"),
        cancelled_by_youth=total(visits, "cancelled_by_youth"),
        moved=total(visits, "moved"),
        due=due,
        no_shows=total(visits, "no_shows"),
        no_show_rate=ratio(total(past, "no_shows"), due),
        walk_ins=total(visits, "walk_ins"),
        standby_joined=standby_joined,
        standby_seated=standby_seated,
        waitlist_joined=waitlist_joined,
        waitlist_at_end=waitlist_at_end,
        waits_counted=waits_counted,
        wait_days_mean=wait_mean,
        wait_days_p90=wait_p90,
        clinic_days=sum(not day.closed for day in held),
        seats_offered=sum(day.seats for day in held),
        seats_used=sum(day.used for day in held),
        age_bands=bands,
        minors=minors,
        minors_with_consent=minors_with_consent,
        languages=dict(sorted(languages.items(), key=lambda item: (-item[1], item[0]))),
        referrals=dict(sorted(referrals.items(), key=lambda item: (-item[1], item[0]))),
        purged_youth=purged,
        days=days,
        months=month_rows,
    )


def _by_month(rows: dict[date, Any], names: tuple[str, ...]) -> defaultdict[date, Counter[str]]:
    """Per-day rows added up by month (keyed by its first day): one pass over the days."""
    months: defaultdict[date, Counter[str]] = defaultdict(Counter)
    for day, row in rows.items():
        bucket = months[day.replace(day=1)]
        for name in names:
            bucket[name] += getattr(row, name)
    return months


def _visits_by_day(start: date, end: date) -> dict[date, Any]:
    """Every visit on the period's days, counted by clinic day."""
    status = Appointment.status
    cancelled = status == AppointmentStatus.CANCELLED
    ahead = Appointment.walk_in.is_(False)
    moved = (
        select(StatusChange.id)
        .where(StatusChange.appointment_id == Appointment.id, StatusChange.action == RESCHEDULE)
        .exists()
    )
    rows = db.session.execute(
        select(
            Slot.day,
            _count(ahead).label("ahead"),
            _count(~cancelled).label("booked"),
            _count(status.in_(COME)).label("used"),
            _count(status == AppointmentStatus.NO_SHOW).label("no_shows"),
            _count(and_(~ahead, ~cancelled)).label("walk_ins"),
            _count(and_(ahead, cancelled, Appointment.cancelled_by_id.is_not(None))).label(
                "cancelled_by_staff"
            ),
            _count(and_(ahead, cancelled, Appointment.cancelled_by_id.is_(None))).label(
                "cancelled_by_youth"
            ),
            _count(and_(ahead, ~cancelled)).label("due"),
            _count(moved).label("moved"),
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Slot.day.between(start, end))
        .group_by(Slot.day)
    ).all()
    return {row.day: row for row in rows}


def _completed(start: date, end: date) -> Subquery:
    """The completed visits, up to ``end``, of the youth with one in the period, each with
    the youth's running count of completed visits (all time: ``n_all``) and of those in the
    period (``n_range``, 1 on their first visit in it)."""
    served = (
        select(Appointment.youth_id)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Appointment.status == AppointmentStatus.COMPLETED, Slot.day.between(start, end))
    )
    order = session_order()
    ranked = (
        select(
            Appointment.id,
            Appointment.youth_id,
            Appointment.consent,
            Appointment.age_at_visit,
            Slot.day,
            Slot.start_time,
            func.row_number()
            .over(partition_by=Appointment.youth_id, order_by=order)
            .label("n_all"),
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(
            Appointment.status == AppointmentStatus.COMPLETED,
            Slot.day <= end,
            Appointment.youth_id.in_(served),
        )
        .subquery()
    )
    return (
        select(
            ranked,
            func.row_number()
            .over(
                partition_by=ranked.c.youth_id,
                order_by=(ranked.c.day, ranked.c.start_time, ranked.c.id),
            )
            .label("n_range"),
        )
        .where(ranked.c.day >= start)
        .subquery()
    )


def _served_by_day(start: date, end: date, course_sessions: int) -> dict[date, Any]:
    visits = _completed(start, end)
    first = visits.c.n_range == 1
    rows = db.session.execute(
        select(
            visits.c.day,
            func.count().label("treatments"),
            _count(first).label("youth"),
            _count(and_(first, visits.c.n_all == 1)).label("new"),
            _count(visits.c.n_all == course_sessions).label("finished"),
        ).group_by(visits.c.day)
    ).all()
    return {row.day: row for row in rows}


def _profile(start: date, end: date) -> Sequence[Row[Any]]:
    """The youth served, each once, as on their first completed visit in the period: counted
    by age, language, referral, consent and erasure, so Python adds up a few groups."""
    visits = _completed(start, end)
    age = func.coalesce(visits.c.age_at_visit, age_on(Youth.date_of_birth, visits.c.day))
    consented = visits.c.consent.in_(CONSENT_RECORDED)
    purged = Youth.purged_at.is_not(None)
    return db.session.execute(
        select(
            age.label("age"),
            Youth.language,
            Intake.referral_index,
            func.count().label("youth"),
            _count(consented).label("consented"),
            _count(purged).label("purged"),
        )
        .select_from(visits)
        .join(Youth, Youth.id == visits.c.youth_id)
        .outerjoin(Intake, Intake.appointment_id == visits.c.id)
        .where(visits.c.n_range == 1)
        .group_by(age, Youth.language, Intake.referral_index)
    ).all()


def _days(period: Period, rules: ClinicRules, visits: dict[date, Any]) -> list[DayFigures]:
    """Each clinic day of the period with its seats as planned (staff changes, roster and
    blocked times applied) beside its visits; a cancelled day has no seats."""
    plans = day_plans(period.start, period.end, rules)
    blocked = db.session.execute(
        select(Slot.day, Slot.start_time).where(
            Slot.day.between(period.start, period.end), Slot.blocked.is_(True)
        )
    ).all()
    shut = {(day, start) for day, start in blocked}
    closed = db.session.execute(
        select(ClinicDay.day, ClinicDay.extra).where(
            ClinicDay.day.between(period.start, period.end), ClinicDay.closed.is_(True)
        )
    ).all()
    regular = set(clinic_days(period.start, period.end))
    rows = [
        DayFigures(
            day=plan.day,
            closed=False,
            seats=sum(s.seats for s in day_slots(plan) if (plan.day, s.start) not in shut),
            booked=visits[plan.day].booked if plan.day in visits else 0,
            used=visits[plan.day].used if plan.day in visits else 0,
            no_shows=visits[plan.day].no_shows if plan.day in visits else 0,
            walk_ins=visits[plan.day].walk_ins if plan.day in visits else 0,
        )
        for plan in plans
    ]
    # A cancelled day: a regular Tuesday, or an extra day added and then cancelled.
    rows += [
        DayFigures(day, True, 0, 0, 0, 0, 0) for day, extra in closed if extra or day in regular
    ]
    return sorted(rows, key=lambda row: row.day)


def _lists(start: date, end: date, begins: datetime, ends: datetime) -> tuple[int, int, int]:
    standby = and_(ListEntry.kind == ListKind.STANDBY, ListEntry.day.between(start, end))
    joined = and_(
        ListEntry.kind == ListKind.PROGRAM,
        ListEntry.joined_at >= begins,
        ListEntry.joined_at < ends,
    )
    row = db.session.execute(
        select(
            _count(standby),
            _count(and_(standby, ListEntry.status == EntryStatus.BOOKED)),
            _count(joined),
        ).where(or_(standby, joined))
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _waits(begins: datetime, ends: datetime) -> tuple[int, float | None, float | None]:
    """Waits from joining the waiting list to a seat, for those seated in the period: how
    many, the mean and the 90th percentile by nearest rank (the smallest wait whose rank r
    has r >= 0.9 n, written 10 r >= 9 n to stay in integers on both databases)."""
    wait = days_between(ListEntry.closed_at, ListEntry.joined_at)
    seated = (
        select(
            wait.label("wait"),
            func.row_number().over(order_by=wait).label("rank"),
            func.count().over().label("n"),
        )
        .where(
            ListEntry.kind == ListKind.PROGRAM,
            ListEntry.status == EntryStatus.BOOKED,
            ListEntry.closed_at >= begins,
            ListEntry.closed_at < ends,
        )
        .subquery()
    )
    count, mean, p90 = db.session.execute(
        select(
            func.count(),
            func.avg(seated.c.wait),
            func.min(case((seated.c.rank * 10 >= seated.c.n * 9, seated.c.wait))),
        )
    ).one()
    return int(count), _float(mean), _float(p90)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _waiting_list(
    months: list[date], ends: datetime, now: datetime, rules: ClinicRules
) -> tuple[list[int | None], int]:
    """How many were on the waiting list at the end of each month of the period (the last
    month's taken at the period's end; None for a month not over by ``now``), and at the
    period's end (or ``now``, if that comes first): one column each, in one statement. A
    person is counted once, even with two places after their records were merged."""
    month_ends = [
        min(_utc_midnight((month + timedelta(days=32)).replace(day=1), rules), ends)
        for month in months
    ]
    counted = [moment for moment in month_ends if moment <= now]
    at_end = min(ends, now)
    person = func.coalesce(Youth.merged_into_id, Youth.id)

    def on_list_at(moment: datetime) -> Any:
        waiting = and_(
            ListEntry.joined_at < moment,
            or_(ListEntry.closed_at.is_(None), ListEntry.closed_at >= moment),
        )
        return func.count(func.distinct(case((waiting, person))))

    row = db.session.execute(
        select(*(on_list_at(moment) for moment in (*counted, at_end)))
        .join(Youth, Youth.id == ListEntry.youth_id)
        .where(
            ListEntry.kind == ListKind.PROGRAM,
            ListEntry.joined_at < at_end,
            or_(ListEntry.closed_at.is_(None), ListEntry.closed_at >= min(*counted, at_end)),
        )
    ).one()
    values = [int(value) for value in row]
    by_month = iter(values[:-1])
    return [next(by_month) if moment <= now else None for moment in month_ends], values[-1]
