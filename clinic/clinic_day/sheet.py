"""Reading the clinic day: the day sheet staff work from (every slot with its visits, the
queue, the stations, the counts) and the waiting room's screen. Reads only, in a fixed number
of statements whatever the number of bookings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import defer, joinedload, selectinload

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
from clinic.rules.eligibility import age_on, needs_guardian, slot_start
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import (
    QueuePlace,
    VisitStatus,
    is_late,
    next_session_number,
    queue_order,
)


@dataclass
class Visit:
    """One appointment as the day sheet shows it."""

    appointment: Appointment
    start: time  # the slot's start: the youth's appointment time
    age: int
    minor: bool
    session_number: int  # the session this visit is (1: first visit)
    started: bool  # the appointment time has come
    late: bool  # booked, not here, past the grace period: offered as a no-show
    last_change: StatusChange | None

    @property
    def youth(self) -> Youth:
        return self.appointment.youth

    @property
    def status(self) -> VisitStatus:
        return VisitStatus(self.appointment.status)

    @property
    def consent_ok(self) -> bool:
        return not self.minor or self.appointment.consent in (Consent.CONFIRMED, Consent.EXEMPT)

    @property
    def flags(self) -> list[str]:
        intake = self.appointment.intake
        return list(intake.screening) if intake else []


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
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def visits(self) -> list[Visit]:
        return [visit for slot in self.slots for visit in slot.visits]

    def walk_in_seats(self, now: datetime) -> int | None:
        """Free seats a walk-in could still take, or None unless the clinic is open today."""
        if self.plan is None or self.day != now.date():
            return None
        return sum(
            slot.seats_free
            for slot in self.slots
            if slot.plan.end > now.time() and slot.plan.seats > 0
        )

    @property
    def appointment_count(self) -> int:
        return len(self.visits)


# Encrypted columns the sheet never shows, left unloaded: each one loaded is a decryption
# (about a fifth of the day view's time when they all were), and what a page does not need it
# should not read. Read later by other code, each loads on first use as usual.
UNSHOWN_YOUTH = (
    Youth.phone,
    Youth.email,
    Youth.guardian_relationship,
    Youth.guardian_phone,
)
UNSHOWN_INTAKE = (
    Intake.phone,
    Intake.email,
    Intake.guardian_relationship,
    Intake.guardian_phone,
    Intake.tattoo_notes,
    Intake.referral_source,
)
UNSHOWN_INTAKE_NOT_CLINICAL = (*UNSHOWN_INTAKE, Intake.screening)
UNSHOWN_TREATMENT = (Treatment.settings, Treatment.notes)

# How far the day view looks for the previous and next clinic day (two months covers any
# ordinary gap; a longer closure shows the date picker instead).
NEARBY = timedelta(days=62)


def day_sheet(day: date, rules: ClinicRules, now: datetime, *, clinical: bool = True) -> DaySheet:
    """A clinic day for staff: every slot with its visits, the queue, stations and counts.
    Without ``clinical`` (a reader whose role does not see health answers), the intakes'
    screening answers are left unread: ``Visit.flags`` would load them one by one.

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
        day - NEARBY, day + NEARBY, rules.day, [row.as_exception() for row in changes.values()]
    )
    plan = next((p for p in nearby if p.day == day), None)
    rows = db.session.scalars(
        select(Slot)
        .where(Slot.day == day)
        .options(
            # Each appointment's youth, intake and treatment in the same statement (one row
            # each): two statements in all instead of four.
            selectinload(Slot.appointments).options(
                joinedload(Appointment.youth, innerjoin=True).options(*map(defer, UNSHOWN_YOUTH)),
                joinedload(Appointment.intake).options(
                    *map(defer, UNSHOWN_INTAKE if clinical else UNSHOWN_INTAKE_NOT_CLINICAL)
                ),
                joinedload(Appointment.treatment).options(*map(defer, UNSHOWN_TREATMENT)),
            )
        )
        .order_by(Slot.start_time)
    ).all()
    appointments = [
        a for row in rows for a in row.appointments if a.status != VisitStatus.CANCELLED
    ]
    before = _treatments_before(day, [a.youth_id for a in appointments])
    latest = _latest_changes([a.id for a in appointments])

    by_start = {row.start_time: row for row in rows}
    slot_plans = {p.start: p for p in (day_slots(plan) if plan else [])}
    for row in rows:
        # A time outside the plan is listed only while it still holds someone: a booking made
        # before the hours changed must never be hidden, an emptied row is just history.
        if row.start_time not in slot_plans and any(
            a.status != VisitStatus.CANCELLED for a in row.appointments
        ):
            slot_plans[row.start_time] = SlotPlan(day, row.start_time, row.end_time, 0)
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
        row = by_start.get(start)
        visits = []
        starts_at = slot_start(day, start, rules.zone)
        for appointment in row.appointments if row else []:
            if appointment.status == VisitStatus.CANCELLED:
                continue
            youth = appointment.youth
            visits.append(
                Visit(
                    appointment=appointment,
                    start=start,
                    age=age_on(youth.date_of_birth, day),
                    minor=needs_guardian(youth.date_of_birth, day, rules.ages),
                    session_number=(
                        appointment.treatment.session_number
                        if appointment.treatment
                        else next_session_number(before.get(youth.id, 0))
                    ),
                    started=now >= starts_at,
                    late=appointment.status == VisitStatus.BOOKED
                    and is_late(starts_at, now, grace),
                    last_change=latest.get(appointment.id),
                )
            )
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
    tally = Counter(visit.status for visit in visits)
    sheet.counts = {
        "booked": len(visits),
        "arrived": tally[VisitStatus.CHECKED_IN]
        + tally[VisitStatus.IN_TREATMENT]
        + tally[VisitStatus.COMPLETED],
        "waiting": tally[VisitStatus.CHECKED_IN],
        "in_treatment": tally[VisitStatus.IN_TREATMENT],
        "done": tally[VisitStatus.COMPLETED],
        "no_show": tally[VisitStatus.NO_SHOW],
        "not_arrived": tally[VisitStatus.BOOKED],
    }
    return sheet


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


def _latest_changes(appointment_ids: list[int]) -> dict[int, StatusChange]:
    """Each appointment's latest move (what "undo" would revert): one query."""
    if not appointment_ids:
        return {}
    newest = (
        select(func.max(StatusChange.id))
        .where(StatusChange.appointment_id.in_(appointment_ids))
        .group_by(StatusChange.appointment_id)
    )
    changes = db.session.scalars(select(StatusChange).where(StatusChange.id.in_(newest))).all()
    return {change.appointment_id: change for change in changes}


@dataclass(frozen=True)
class NowServing:
    """What the waiting-room screen shows: ticket numbers only, never names."""

    stations: list[tuple[str, int | None]]
    next_tickets: list[int]


def now_serving(day: date, rules: ClinicRules) -> NowServing:
    rows = db.session.execute(
        select(
            Appointment.status,
            Appointment.ticket,
            Appointment.station,
            Appointment.arrived_at,
            Slot.start_time,
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(
            Slot.day == day,
            Appointment.status.in_((VisitStatus.CHECKED_IN, VisitStatus.IN_TREATMENT)),
        )
    ).all()
    busy = {row.station: row.ticket for row in rows if row.status == VisitStatus.IN_TREATMENT}
    places = queue_order(
        QueuePlace(row.start_time, row.arrived_at or datetime.min, row.ticket or 0)
        for row in rows
        if row.status == VisitStatus.CHECKED_IN
    )
    return NowServing(
        stations=[(name, busy.get(name)) for name in rules.stations],
        next_tickets=[place.ticket for place in places[:6]],
    )
