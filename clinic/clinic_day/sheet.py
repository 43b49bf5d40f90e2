"""Reading the clinic day: the day sheet staff work from (every slot with its visits, the
queue, the stations, the counts) and the waiting room's screen. Reads only, in a fixed number
of statements whatever the number of bookings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache

from sqlalchemy import Date, Row, Select, bindparam, func, null, select
from sqlalchemy.orm import aliased

from clinic.booking.roster import rostered_counts
from clinic.extensions import db
from clinic.models import (
    Appointment,
    ClinicDay,
    Consent,
    Intake,
    Slot,
    StatusChange,
    Treatment,
    Youth,
)
from clinic.rules.calendar import DayPlan, SlotPlan, day_slots, plan_days
from clinic.rules.counts import DayCounts, NoShowPolicy, SlotSeats, day_counts, seats_left
from clinic.rules.eligibility import age_on, needs_guardian, slot_start
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import (
    QueuePlace,
    VisitStatus,
    is_late,
    next_session_number,
    queue_order,
)


@dataclass(frozen=True)
class SheetYouth:
    """What the day sheet shows of a youth: plain values read with the appointment, not an ORM
    entity (loading ~25-40 entities with their relationships was most of the sheet's time)."""

    id: int
    first_name: str
    last_name: str
    preferred_name: str | None
    purged_at: datetime | None
    date_of_birth: date
    guardian_name: str | None

    display_name = Youth.display_name  # the model's own rule ("Erased record #12" once purged)


@dataclass(frozen=True)
class SheetIntake:
    guardian_name: str | None
    screening: list[str]  # empty for a reader who does not see health answers


@dataclass(frozen=True)
class SheetAppointment:
    """What the day sheet shows of an appointment, as plain values."""

    id: int
    code: str
    status: str
    ticket: int | None
    walk_in: bool
    station: str | None
    arrived_at: datetime | None
    called_at: datetime | None
    consent: str | None
    intake: SheetIntake | None


@dataclass(frozen=True)
class LastChange:
    """An appointment's latest move, with what ``undo.undoable`` reads of it."""

    action: str
    actor: str
    at: datetime
    undone_at: datetime | None


@dataclass
class Visit:
    """One appointment as the day sheet shows it."""

    appointment: SheetAppointment
    youth: SheetYouth
    start: time  # the slot's start: the youth's appointment time
    age: int
    minor: bool
    session_number: int  # the session this visit is (1: first visit)
    started: bool  # the appointment time has come
    late: bool  # booked, not here, past the grace period: offered as a no-show
    last_change: LastChange | None  # what "undo" would revert
    recent_no_shows: int = 0  # the youth's no-shows in the recent past (NoShowPolicy)
    no_show_flag: bool = False  # enough of them that the desk should call the day before

    @property
    def status(self) -> VisitStatus:
        return VisitStatus(self.appointment.status)

    @property
    def consent_ok(self) -> bool:
        return not self.minor or self.appointment.consent in (Consent.CONFIRMED, Consent.EXEMPT)

    @property
    def flags(self) -> list[str]:
        intake = self.appointment.intake
        return intake.screening if intake else []

    @property
    def guardian(self) -> str | None:
        """The guardian's name to show: the one this booking gave, else the youth's first."""
        intake = self.appointment.intake
        return (intake and intake.guardian_name) or self.youth.guardian_name


@dataclass
class SheetSlot:
    plan: SlotPlan
    capacity: int
    booked: int
    blocked: bool
    visits: list[Visit]

    @property
    def seats_free(self) -> int:
        return 0 if self.blocked else max(self.capacity - self.booked, 0)


@dataclass
class DaySheet:
    day: date
    plan: DayPlan | None
    slots: list[SheetSlot]
    closed_note: str | None = None
    previous_day: date | None = None
    following_day: date | None = None
    waiting: list[Visit] = field(default_factory=list)
    in_treatment: dict[str, Visit] = field(default_factory=dict)
    late: list[Visit] = field(default_factory=list)
    counts: DayCounts | None = None  # clinic.rules.counts: the same numbers on every page

    @property
    def visits(self) -> list[Visit]:
        return [visit for slot in self.slots for visit in slot.visits]

    def walk_in_seats(self, now: datetime) -> int | None:
        """Free seats a walk-in could still take, or None unless the clinic is open today:
        the day's seats left (``clinic.rules.counts.seats_left``)."""
        if self.plan is None or self.day != now.date() or self.counts is None:
            return None
        return self.counts.seats_left

    def slot_seats(self) -> list[SlotSeats]:
        return [
            SlotSeats(slot.plan.start, slot.plan.end, slot.capacity, slot.booked, slot.blocked)
            for slot in self.slots
        ]

    @property
    def appointment_count(self) -> int:
        return len(self.visits)


# How far the day view looks for the previous and next clinic day (two months covers any
# ordinary gap; a longer closure shows the date picker instead).
NEARBY = timedelta(days=62)


def day_sheet(
    day: date,
    rules: ClinicRules,
    now: datetime,
    *,
    clinical: bool = True,
    no_shows: NoShowPolicy = NoShowPolicy(),
) -> DaySheet:
    """A clinic day for staff: every slot with its visits, the queue, stations and counts.
    Without ``clinical`` (a reader whose role does not see health answers), the intakes'
    screening answers are left unread (and undecrypted): ``Visit.flags`` is then empty.

    A fixed number of queries whatever the number of bookings. Slots that exist in the
    database but no longer in the plan (hours changed after booking) are listed too, so no
    booking is ever hidden from staff. Cancelled appointments are left out.
    """
    changes = {
        row.day: row
        for row in db.session.scalars(
            select(ClinicDay).where(ClinicDay.day.between(day - NEARBY, day + NEARBY))
        )
    }
    nearby = plan_days(
        day - NEARBY,
        day + NEARBY,
        rules.day,
        [row.as_exception() for row in changes.values()],
        rostered_counts(day - NEARBY, day + NEARBY),
    )
    plan = next((p for p in nearby if p.day == day), None)
    slot_rows = db.session.execute(
        select(Slot.start_time, Slot.end_time, Slot.booked, Slot.blocked).where(Slot.day == day)
    ).all()
    booked = _booked_visits(day, clinical, no_shows.since(day))
    by_start: dict[time, list] = {}
    for row in booked:
        by_start.setdefault(row.start_time, []).append(row)

    slot_plans = {p.start: p for p in (day_slots(plan) if plan else [])}
    for row in slot_rows:
        # A time outside the plan is listed only while it still holds someone: a booking made
        # before the hours changed must never be hidden, an emptied row is just history.
        if row.start_time not in slot_plans and row.start_time in by_start:
            slot_plans[row.start_time] = SlotPlan(day, row.start_time, row.end_time, 0)
    slot_row = {row.start_time: row for row in slot_rows}
    sheet = DaySheet(
        day,
        plan,
        [],
        closed_note=changes[day].note if day in changes and plan is None else None,
        previous_day=next((p.day for p in reversed(nearby) if p.day < day), None),
        following_day=next((p.day for p in nearby if p.day > day), None),
    )
    grace = rules.no_show_grace
    for start in sorted(slot_plans):
        slot_plan = slot_plans[start]
        row = slot_row.get(start)
        starts_at = slot_start(day, start, rules.zone)
        started = now >= starts_at
        visits = [
            Visit(
                appointment=_appointment(booking),
                youth=_youth(booking),
                start=start,
                age=age_on(booking.date_of_birth, day),
                minor=needs_guardian(booking.date_of_birth, day, rules.ages),
                session_number=(
                    booking.session_number
                    if booking.session_number is not None
                    else next_session_number(booking.sessions_before)
                ),
                started=started,
                late=booking.status == VisitStatus.BOOKED and is_late(starts_at, now, grace),
                last_change=_last_change(booking),
                recent_no_shows=booking.recent_no_shows,
                no_show_flag=no_shows.flagged(booking.recent_no_shows),
            )
            for booking in by_start.get(start, [])
        ]
        visits.sort(key=lambda v: (v.appointment.ticket or 10**6, v.appointment.id))
        sheet.slots.append(
            SheetSlot(
                plan=slot_plan,
                capacity=slot_plan.seats,
                booked=row.booked if row else 0,
                blocked=bool(row and row.blocked),
                visits=visits,
            )
        )
    visits = sheet.visits
    order = {
        place: visit
        for visit in visits
        if visit.status is VisitStatus.CHECKED_IN
        for place in [
            QueuePlace(
                visit.start,
                visit.appointment.arrived_at or datetime.min,
                visit.appointment.ticket or 0,
            )
        ]
    }
    sheet.waiting = [order[place] for place in queue_order(order)]
    sheet.in_treatment = {
        visit.appointment.station or "": visit
        for visit in visits
        if visit.status is VisitStatus.IN_TREATMENT
    }
    sheet.late = [visit for visit in visits if visit.late]
    open_slots = sheet.slot_seats() if plan is not None else []
    sheet.counts = day_counts(
        (visit.appointment.status for visit in visits), seats_left(day, open_slots, now)
    )
    return sheet


def _booked_visits(day: date, clinical: bool, no_shows_since: date) -> list[Row]:
    """The day's appointments (cancelled ones left out) with what the sheet shows of each
    youth, intake and treatment, the sessions each youth had before and each appointment's
    latest move: one statement of plain columns, no ORM entities (building those was most of
    the day view's time).

    Only the encrypted columns shown are read (each one read is a decryption): the guardians'
    names, and the screening answers for a ``clinical`` reader only.
    """
    return db.session.execute(_booked_query(clinical), {"day": day, "since": no_shows_since}).all()


# Built once per process, not per request: building this statement (its aliases above all)
# took longer than running it. It holds no data, only the SQL; the day is a parameter.
@cache
def _booked_query(clinical: bool) -> Select:
    day = bindparam("day", type_=Date)
    earlier = aliased(Treatment)
    sessions_before = (
        select(func.count())
        .where(earlier.youth_id == Appointment.youth_id, earlier.day < day)
        .scalar_subquery()
    )
    since = bindparam("since", type_=Date)
    missed = aliased(Appointment)
    missed_slot = aliased(Slot)
    recent_no_shows = (
        select(func.count())
        .select_from(missed)
        .join(missed_slot, missed_slot.id == missed.slot_id)
        .where(
            missed.youth_id == Appointment.youth_id,
            missed.status == VisitStatus.NO_SHOW,
            missed_slot.day >= since,
            missed_slot.day < day,
        )
        .scalar_subquery()
    )
    latest = aliased(StatusChange)
    latest_id = (
        select(func.max(latest.id)).where(latest.appointment_id == Appointment.id).scalar_subquery()
    )
    return (
        select(
            Slot.start_time,
            Appointment.id,
            Appointment.code,
            Appointment.status,
            Appointment.ticket,
            Appointment.walk_in,
            Appointment.station,
            Appointment.arrived_at,
            Appointment.called_at,
            Appointment.consent,
            Appointment.youth_id,
            Youth.first_name,
            Youth.last_name,
            Youth.preferred_name,
            Youth.purged_at,
            Youth.date_of_birth,
            Youth.guardian_name,
            Intake.id.label("intake_id"),
            Intake.guardian_name.label("intake_guardian_name"),
            (Intake.screening if clinical else null()).label("screening"),
            Treatment.session_number,
            sessions_before.label("sessions_before"),
            recent_no_shows.label("recent_no_shows"),
            StatusChange.action,
            StatusChange.actor,
            StatusChange.at,
            StatusChange.undone_at,
        )
        .join(Appointment.slot)
        .join(Appointment.youth)
        .outerjoin(Appointment.intake)
        .outerjoin(Appointment.treatment)
        .outerjoin(StatusChange, StatusChange.id == latest_id)
        .where(Slot.day == day, Appointment.status != VisitStatus.CANCELLED)
    )


def _appointment(row: Row) -> SheetAppointment:
    intake = None
    if row.intake_id is not None:
        intake = SheetIntake(row.intake_guardian_name, list(row.screening or []))
    return SheetAppointment(
        id=row.id,
        code=row.code,
        status=row.status,
        ticket=row.ticket,
        walk_in=row.walk_in,
        station=row.station,
        arrived_at=row.arrived_at,
        called_at=row.called_at,
        consent=row.consent,
        intake=intake,
    )


def _last_change(row: Row) -> LastChange | None:
    if row.action is None:
        return None
    return LastChange(row.action, row.actor, row.at, row.undone_at)


def _youth(row: Row) -> SheetYouth:
    return SheetYouth(
        id=row.youth_id,
        first_name=row.first_name,
        last_name=row.last_name,
        preferred_name=row.preferred_name,
        purged_at=row.purged_at,
        date_of_birth=row.date_of_birth,
        guardian_name=row.guardian_name,
    )


def sessions_before(youth_id: int, day: date) -> int:
    """How many sessions the youth had before ``day``."""
    return _treatments_before(day, [youth_id]).get(youth_id, 0)


def _treatments_before(day: date, youth_ids: list[int]) -> dict[int, int]:
    """How many sessions each youth had before ``day``: one grouped query."""
    if not youth_ids:
        return {}
    rows = db.session.execute(
        select(Treatment.youth_id, func.count())
        .where(Treatment.youth_id.in_(set(youth_ids)), Treatment.day < day)
        .group_by(Treatment.youth_id)
    ).all()
    return dict(rows)
