"""The clinic day, as staff run it: check-in, the waiting queue, treatment, no-shows, cancel,
undo, walk-ins; and the day sheet that shows it all.

Every move is one use case and one transaction, with the acting staff member passed in. A
move reads the appointment's status, then changes it with an UPDATE conditional on that same
status: if someone else moved it in between (two clinicians calling the same youth), the
UPDATE matches nothing and the move is refused, on PostgreSQL and SQLite alike. Which moves
exist, and which statuses hold a seat, are rules in ``scheduling``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from clinic import booking, outbox, scheduling
from clinic.database import dialect_insert, lock_day, write_transaction
from clinic.extensions import db
from clinic.models import (
    Appointment,
    ClinicDay,
    Consent,
    Slot,
    StaffUser,
    StatusChange,
    TicketCounter,
    Treatment,
    Youth,
    naive_utc,
)
from clinic.permissions import UNDO_ACTION, Action, can, require
from clinic.scheduling import ClinicRules, InvalidTransition, SlotPlan, VisitAction, VisitStatus

# --- Refusals ----------------------------------------------------------------------------


class VisitError(Exception):
    """A move refused by a rule; the view explains it."""


class NotFound(VisitError):
    pass


class WrongDay(VisitError):
    """Check-in, calling and treatment happen on the appointment's own day."""


class NotYet(VisitError):
    """A no-show before the appointment time has come."""


class ChangedMeanwhile(VisitError):
    """Someone else moved this appointment a moment ago."""


class Refused(VisitError):
    """The move is not possible from where the visit stands."""

    def __init__(self, status: VisitStatus, action: VisitAction) -> None:
        super().__init__(f"{action.value} from {status.value}")
        self.status = status
        self.action = action


class ConsentNeeded(VisitError):
    """A minor cannot be treated until a guardian's consent is confirmed."""


class StationBusy(VisitError):
    def __init__(self, station: str) -> None:
        super().__init__(station)
        self.station = station


class UnknownStation(VisitError):
    pass


class NobodyWaiting(VisitError):
    """No one in the queue can be called (or only minors awaiting consent)."""


class SeatTaken(VisitError):
    """Undoing a no-show or cancel needs the seat back, and a walk-in has taken it."""


class NothingToUndo(VisitError):
    pass


class ScheduleChanged(VisitError):
    """Undoing would put a visit back on a time the schedule no longer offers (the day was
    closed, the hours changed, or the time was blocked)."""


class OtherAppointment(VisitError):
    """Undoing would give the youth a second upcoming appointment (they booked another)."""


class FormReused(VisitError):
    """The walk-in form already added someone else (the Back button)."""


class NoFreeSeat(VisitError):
    """A walk-in, but every seat left today is taken."""


class NoClinicToday(VisitError):
    pass


# --- Settings ----------------------------------------------------------------------------


def stations() -> tuple[str, ...]:
    return tuple(current_app.config["STATIONS"])


def no_show_grace() -> timedelta:
    return timedelta(minutes=current_app.config["NO_SHOW_GRACE_MINUTES"])


# --- One move ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Moved:
    appointment_id: int
    code: str
    day: date
    old: VisitStatus
    new: VisitStatus
    station: str | None = None


@dataclass(frozen=True)
class _Current:
    id: int
    code: str
    status: VisitStatus
    slot_id: int
    youth_id: int
    day: date
    start: time
    date_of_birth: date
    consent: str | None
    station: str | None


def _load(appointment_id: int) -> _Current:
    row = db.session.execute(
        select(
            Appointment.id,
            Appointment.code,
            Appointment.status,
            Appointment.slot_id,
            Appointment.youth_id,
            Slot.day,
            Slot.start_time,
            Youth.date_of_birth,
            Appointment.consent,
            Appointment.station,
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .join(Youth, Youth.id == Appointment.youth_id)
        .where(Appointment.id == appointment_id)
    ).one_or_none()
    if row is None:
        raise NotFound()
    return _Current(
        row.id,
        row.code,
        VisitStatus(row.status),
        row.slot_id,
        row.youth_id,
        row.day,
        row.start_time,
        row.date_of_birth,
        row.consent,
        row.station,
    )


def _move(
    current: _Current,
    action: VisitAction,
    actor: StaffUser,
    now: datetime,
    **values: object,
) -> Moved:
    """Apply ``action`` to the appointment as last read: status, seat counter, history."""
    try:
        new = scheduling.next_status(current.status, action)
    except InvalidTransition:
        raise Refused(current.status, action) from None
    changed = db.session.execute(
        update(Appointment)
        .where(Appointment.id == current.id, Appointment.status == current.status)
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise ChangedMeanwhile()
    _adjust_seat(current.slot_id, scheduling.seat_change(current.status, new))
    db.session.add(
        StatusChange(
            appointment_id=current.id,
            action=action.value,
            from_status=current.status.value,
            to_status=new.value,
            staff_id=actor.id,
            at=naive_utc(now),
        )
    )
    return Moved(current.id, current.code, current.day, current.status, new, values.get("station"))


def _adjust_seat(slot_id: int, delta: int) -> None:
    """Give a seat back when a move leaves a seat-holding status (taking one back is
    ``_retake_seat``, which is conditional like any booking)."""
    if delta < 0:
        db.session.execute(
            update(Slot)
            .where(Slot.id == slot_id)
            .values(booked=Slot.booked - 1)
            .execution_options(synchronize_session=False)
        )
    elif delta > 0:
        raise AssertionError("no forward move takes a seat")


def _on_the_day(current: _Current, now: datetime) -> None:
    if current.day != now.date():
        raise WrongDay()


def _next_ticket(day: date) -> int:
    """The day's next ticket number, from one atomic upsert of the day's counter."""
    statement = dialect_insert(TicketCounter).values(day=day, last_ticket=1)
    statement = statement.on_conflict_do_update(
        index_elements=[TicketCounter.day],
        set_={"last_ticket": TicketCounter.last_ticket + 1},
    ).returning(TicketCounter.last_ticket)
    return db.session.execute(statement).scalar_one()


def _needs_consent(current: _Current, rules: ClinicRules) -> bool:
    return scheduling.needs_guardian(current.date_of_birth, current.day, rules.ages)


# --- The moves ---------------------------------------------------------------------------


def check_in(
    appointment_id: int,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    consent: Consent | None = None,
) -> Moved:
    """The youth has arrived: record the time, hand out the day's next ticket, and for a
    minor record the guardian's consent (confirmed, exempt, or flagged as missing).

    Rule: only on the appointment's day, only a booked appointment.
    """
    require(actor.role, Action.CHECK_IN)
    with write_transaction():
        current = _load(appointment_id)
        _on_the_day(current, now)
        values: dict[str, object] = {"arrived_at": naive_utc(now)}
        if _needs_consent(current, rules):
            values.update(_consent_values(consent or Consent.MISSING, actor, now))
        if current.status is VisitStatus.BOOKED:
            values["ticket"] = _next_ticket(current.day)
        return _move(current, VisitAction.CHECK_IN, actor, now, **values)


def _consent_values(consent: Consent, actor: StaffUser, now: datetime) -> dict[str, object]:
    return {"consent": consent.value, "consent_by_id": actor.id, "consent_at": naive_utc(now)}


def record_consent(appointment_id: int, actor: StaffUser, now: datetime, consent: Consent) -> Moved:
    """Record a minor's guardian consent after check-in (the guardian arrived or called)."""
    require(actor.role, Action.CHECK_IN)
    with write_transaction():
        current = _load(appointment_id)
        if current.status not in (VisitStatus.BOOKED, VisitStatus.CHECKED_IN):
            raise Refused(current.status, VisitAction.CHECK_IN)
        recorded = db.session.execute(
            update(Appointment)
            .where(Appointment.id == current.id, Appointment.status == current.status)
            .values(**_consent_values(consent, actor, now))
            .execution_options(synchronize_session=False)
        ).rowcount
        if recorded != 1:
            raise ChangedMeanwhile()
    return Moved(current.id, current.code, current.day, current.status, current.status)


def call(
    appointment_id: int, actor: StaffUser, station: str, now: datetime, rules: ClinicRules
) -> Moved:
    """A clinician calls a waiting youth to a station: in treatment.

    Rule: the youth must be waiting (checked in) today; a minor needs confirmed (or exempt)
    guardian consent; a station treats one youth at a time. Two clinicians calling the same
    youth at once: one succeeds, the other is told.
    """
    require(actor.role, Action.TREAT)
    if station not in stations():
        raise UnknownStation()
    with write_transaction():
        current = _load(appointment_id)
        _on_the_day(current, now)
        return _call(current, actor, station, now, rules)


def _call(
    current: _Current, actor: StaffUser, station: str, now: datetime, rules: ClinicRules
) -> Moved:
    consented = current.consent in (Consent.CONFIRMED, Consent.EXEMPT)
    if _needs_consent(current, rules) and not consented:
        raise ConsentNeeded()
    try:
        with db.session.begin_nested():
            return _move(
                current,
                VisitAction.CALL,
                actor,
                now,
                station=station,
                station_day=current.day,
                called_at=naive_utc(now),
            )
    except IntegrityError:
        # The partial unique index: someone is already on this station.
        raise StationBusy(station) from None


def call_next(day: date, actor: StaffUser, station: str, now: datetime, rules: ClinicRules):
    """Call the first youth in the queue who can be treated now to ``station``.

    Rule: the queue order (``scheduling.queue_order``); minors still awaiting consent are
    passed over, not removed. If another clinician takes the same youth first, the next one
    in line is called instead.
    """
    require(actor.role, Action.TREAT)
    if station not in stations():
        raise UnknownStation()
    if day != now.date():
        raise WrongDay()
    with write_transaction():
        for appointment_id in _queue_ids(day):
            current = _load(appointment_id)
            if current.status is not VisitStatus.CHECKED_IN:
                continue
            try:
                return _call(current, actor, station, now, rules)
            except (ConsentNeeded, ChangedMeanwhile):
                continue
        raise NobodyWaiting()


def _queue_ids(day: date) -> list[int]:
    rows = db.session.execute(
        select(Appointment.id, Slot.start_time, Appointment.arrived_at, Appointment.ticket)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Slot.day == day, Appointment.status == VisitStatus.CHECKED_IN)
    ).all()
    places = {
        scheduling.QueuePlace(row.start_time, row.arrived_at or datetime.min, row.ticket or 0): (
            row.id
        )
        for row in rows
    }
    return [places[place] for place in scheduling.queue_order(places)]


@dataclass
class TreatmentRecord:
    """What the clinician records when completing a visit."""

    areas: list[str]
    session_number: int | None = None  # None: the next in the youth's course
    skin_type: str | None = None
    settings: str | None = None
    notes: str | None = None


def complete(
    appointment_id: int, actor: StaffUser, record: TreatmentRecord, now: datetime
) -> Moved:
    """The treatment is done: record it (session number, areas, clinician, notes) and free
    the station.

    Rule: only a youth in treatment. The session number defaults to one more than the
    treatments the youth had before.
    """
    require(actor.role, Action.TREAT)
    with write_transaction():
        # No same-day check: a treatment whose "done" was forgotten is recorded the next
        # day rather than left in treatment for ever.
        current = _load(appointment_id)
        moved = _move(current, VisitAction.COMPLETE, actor, now, completed_at=naive_utc(now))
        outbox.treated(current.id, now, staff_id=actor.id)
        youth_id = db.session.scalar(
            select(Appointment.youth_id).where(Appointment.id == current.id)
        )
        session_number = record.session_number or scheduling.next_session_number(
            db.session.scalar(
                select(func.count()).select_from(Treatment).where(Treatment.youth_id == youth_id)
            )
            or 0
        )
        db.session.add(
            Treatment(
                appointment_id=current.id,
                youth_id=youth_id,
                day=current.day,
                session_number=session_number,
                areas=list(record.areas),
                skin_type=record.skin_type,
                settings=record.settings,
                notes=record.notes,
                clinician_id=actor.id,
                station=current.station,
            )
        )
        return moved


def mark_no_show(appointment_id: int, actor: StaffUser, now: datetime, rules: ClinicRules):
    """The youth did not come: their seat is released.

    Rule: only a booked appointment whose time has come (the offer to staff waits for the
    grace period, see ``late_appointments``; by hand it is allowed from the start time).
    """
    require(actor.role, Action.MARK_NO_SHOW)
    with write_transaction():
        current = _load(appointment_id)
        starts = scheduling.slot_start(current.day, current.start, rules.zone)
        if now < starts:
            raise NotYet()
        return _move(current, VisitAction.NO_SHOW, actor, now)


def mark_no_shows(
    appointment_ids: list[int], actor: StaffUser, now: datetime, rules: ClinicRules
) -> list[Moved]:
    """Mark every listed appointment that is still booked and past the grace period a
    no-show, in one transaction; the others (arrived meanwhile) are left alone."""
    require(actor.role, Action.MARK_NO_SHOW)
    moved = []
    with write_transaction():
        for appointment_id in appointment_ids:
            try:
                current = _load(appointment_id)
            except NotFound:
                continue
            starts = scheduling.slot_start(current.day, current.start, rules.zone)
            late = scheduling.is_late(starts, now, no_show_grace())
            if current.status is not VisitStatus.BOOKED or not late:
                continue
            try:
                with db.session.begin_nested():
                    moved.append(_move(current, VisitAction.NO_SHOW, actor, now))
            except ChangedMeanwhile:
                continue  # checked in at this very moment: they came after all
    return moved


def cancel(appointment_id: int, actor: StaffUser, now: datetime) -> Moved:
    """Cancel a booking (the youth called) or a waiting youth who left; the seat is freed.

    Rule: a booked appointment from today on (a past one is a no-show instead), or a youth
    who checked in and left without being seen, whatever the day.
    """
    require(actor.role, Action.CANCEL)
    with write_transaction():
        current = _load(appointment_id)
        if current.status is VisitStatus.BOOKED and current.day < now.date():
            raise WrongDay()
        moved = _move(
            current,
            VisitAction.CANCEL,
            actor,
            now,
            cancelled_at=naive_utc(now),
            cancelled_by_id=actor.id,
        )
        # A youth who left the waiting room knows; one who was still to come is told.
        if current.status is VisitStatus.BOOKED:
            outbox.cancelled(current.id, now, staff_id=actor.id)
        return moved


# What undoing a move clears, besides the status.
_UNDO_CLEARS: dict[str, dict[str, object]] = {
    VisitAction.CHECK_IN: {"arrived_at": None, "ticket": None},
    VisitAction.CALL: {"station": None, "station_day": None, "called_at": None},
    VisitAction.COMPLETE: {"completed_at": None},
    VisitAction.NO_SHOW: {},
    VisitAction.CANCEL: {"cancelled_at": None, "cancelled_by_id": None},
}


def last_change(appointment_id: int) -> StatusChange | None:
    return db.session.scalar(
        select(StatusChange)
        .where(StatusChange.appointment_id == appointment_id)
        .order_by(StatusChange.id.desc())
        .limit(1)
    )


def undoable(change: StatusChange | None, role: str, today: date, rules: ClinicRules) -> bool:
    """Whether ``change`` can be undone by someone with ``role`` today.

    Rule: only the latest move of an appointment, only once, only on the day it was made,
    and only by a role allowed to make that move.
    """
    if change is None or change.undone_at is not None or change.action not in UNDO_ACTION:
        return False
    made_on = change.at.replace(tzinfo=UTC).astimezone(rules.zone).date()
    return made_on == today and can(role, UNDO_ACTION[change.action])


def undo(appointment_id: int, actor: StaffUser, now: datetime, rules: ClinicRules) -> Moved:
    """Revert the appointment's latest move (a mis-tap): its status and what it recorded.

    Undoing a completion removes the treatment it recorded; undoing a no-show or a cancel
    takes the seat back if it is still free.
    """
    with write_transaction():
        change = last_change(appointment_id)
        if change is None or not undoable(change, actor.role, now.date(), rules):
            if change is not None and change.action in UNDO_ACTION:
                require(actor.role, UNDO_ACTION[change.action])
            raise NothingToUndo()
        current = _load(appointment_id)
        if current.status != change.to_status:
            raise ChangedMeanwhile()
        back = VisitStatus(change.from_status)
        delta = scheduling.seat_change(current.status, back)
        seats = _seats_to_return_to(current, now, rules) if delta > 0 else 0
        values = dict(_UNDO_CLEARS[change.action])
        if change.action == VisitAction.COMPLETE:
            db.session.execute(delete(Treatment).where(Treatment.appointment_id == current.id))
        try:
            with db.session.begin_nested():
                changed = db.session.execute(
                    update(Appointment)
                    .where(Appointment.id == current.id, Appointment.status == current.status)
                    .values(status=back, **values)
                    .execution_options(synchronize_session=False)
                ).rowcount
        except IntegrityError:
            raise StationBusy(current.station or "") from None
        if changed != 1:
            raise ChangedMeanwhile()
        if delta > 0:
            _retake_seat(current.slot_id, seats)
        else:
            _adjust_seat(current.slot_id, delta)
        marked = db.session.execute(
            update(StatusChange)
            .where(StatusChange.id == change.id, StatusChange.undone_at.is_(None))
            .values(undone_at=naive_utc(now), undone_by_id=actor.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if marked != 1:
            raise ChangedMeanwhile()
        if change.action == VisitAction.CANCEL and back is VisitStatus.BOOKED:
            outbox.restored(current.id, now, staff_id=actor.id)
        elif change.action == VisitAction.COMPLETE:
            outbox.untreated(current.id)
    return Moved(current.id, current.code, current.day, current.status, back)


def _seats_to_return_to(current: _Current, now: datetime, rules: ClinicRules) -> int:
    """Check that a no-show or cancellation can be undone: its time is still offered and the
    youth holds no other upcoming appointment. Returns the slot's seats under today's plan.

    Taken under the day's lock (shared, as a booking), so a schedule change cannot pass in
    between; the youth's row lock keeps a booking of theirs from slipping in meanwhile.
    """
    lock_day(current.day, exclusive=False)
    plans = booking.day_plans(current.day, current.day, rules)
    slot_plan = scheduling.find_slot(plans[0], current.start) if plans else None
    if slot_plan is None:
        raise ScheduleChanged()
    db.session.execute(
        update(Youth)
        .where(Youth.id == current.youth_id)
        .values(updated_at=naive_utc(now))
        .execution_options(synchronize_session=False)
    )
    if booking.upcoming_appointment(current.youth_id, now.date(), exclude_id=current.id):
        raise OtherAppointment()
    return slot_plan.seats


def _retake_seat(slot_id: int, seats: int) -> None:
    """Take a seat back on the same terms as a booking: a free seat, the slot not blocked."""
    taken = db.session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked < seats, Slot.blocked.is_(False))
        .values(booked=Slot.booked + 1, capacity=seats)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise SeatTaken()


# --- Walk-ins ----------------------------------------------------------------------------


def walk_in(
    request: booking.BookingRequest,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    consent: Consent | None = None,
) -> Appointment:
    """Add a youth who came without an appointment: same intake and age rule as booking, a
    free seat of today's remaining slots, checked in at once with a ticket.

    Rule: today only, on a clinic day; the earliest slot not yet over with a free seat
    (``scheduling.walk_in_slot``), taken with the same conditional UPDATE as a booking. A
    youth who already holds an upcoming appointment is told to check in to that one.
    """
    require(actor.role, Action.CHECK_IN)
    today = now.date()
    request.day = today
    for attempt in range(3):
        try:
            with write_transaction():
                return _walk_in_once(request, actor, now, rules, consent)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _walk_in_once(request, actor, now, rules, consent) -> Appointment:
    earlier = booking.find_by_submission(request.submission_key)
    if earlier is not None:
        same = booking.is_repeat_of(
            earlier, request.first_name, request.last_name, request.date_of_birth, now.date()
        )
        if not same:
            raise FormReused()
        return earlier  # the same walk-in form sent twice
    today = now.date()
    lock_day(today, exclusive=False)
    plans = booking.day_plans(today, today, rules)
    if not plans:
        raise NoClinicToday()
    booking.check_youth(request.date_of_birth, today, request.has_guardian, rules)
    youth = booking.upsert_youth(request)
    if booking.upcoming_appointment(youth.id, today) is not None:
        raise booking.AlreadyBooked()
    booking.check_healed(youth.id, today, rules)
    taken = _seats_taken(today)
    slot_plans = scheduling.day_slots(plans[0])
    for _ in range(len(slot_plans)):
        chosen = scheduling.walk_in_slot(slot_plans, taken, now.time())
        if chosen is None:
            raise NoFreeSeat()
        try:
            slot_id = booking.take_seat(chosen)
            break
        except booking.SlotUnavailable:
            taken[chosen.start] = chosen.seats  # filled meanwhile: try the next one
    else:
        raise NoFreeSeat()
    needs = scheduling.needs_guardian(request.date_of_birth, today, rules.ages)
    appointment = Appointment(
        code=booking.new_code(),
        youth_id=youth.id,
        slot_id=slot_id,
        status=VisitStatus.CHECKED_IN,
        submission_key=request.submission_key,
        walk_in=True,
        arrived_at=naive_utc(now),
        ticket=_next_ticket(today),
        **(_consent_values(consent or Consent.MISSING, actor, now) if needs else {}),
    )
    appointment.intake = booking.intake_from(request)
    db.session.add(appointment)
    db.session.flush()
    db.session.add(
        StatusChange(
            appointment_id=appointment.id,
            action="walk_in",
            from_status=VisitStatus.BOOKED.value,
            to_status=VisitStatus.CHECKED_IN.value,
            staff_id=actor.id,
            at=naive_utc(now),
        )
    )
    return appointment


def walk_in_seats(rules: ClinicRules, now: datetime) -> int | None:
    """Free seats a walk-in could still take today, or None when there is no clinic today."""
    today = now.date()
    plans = booking.day_plans(today, today, rules)
    if not plans:
        return None
    taken = _seats_taken(today)
    return sum(
        max(slot.seats - taken.get(slot.start, 0), 0)
        for slot in scheduling.day_slots(plans[0])
        if slot.end > now.time()
    )


def _seats_taken(day: date) -> dict[time, int]:
    """Seats taken per slot start; a blocked slot counts as full."""
    rows = db.session.execute(
        select(Slot.start_time, Slot.booked, Slot.blocked).where(Slot.day == day)
    )
    return {row.start_time: 10**6 if row.blocked else row.booked for row in rows}


# --- The day sheet -----------------------------------------------------------------------


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
    plan: scheduling.DayPlan | None
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


# How far the day view looks for the previous and next clinic day (two months covers any
# ordinary gap; a longer closure shows the date picker instead).
NEARBY = timedelta(days=62)


def day_sheet(day: date, rules: ClinicRules, now: datetime) -> DaySheet:
    """A clinic day for staff: every slot with its visits, the queue, stations and counts.

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
    nearby = scheduling.plan_days(
        day - NEARBY, day + NEARBY, rules.day, [row.as_exception() for row in changes.values()]
    )
    plan = next((p for p in nearby if p.day == day), None)
    rows = db.session.scalars(
        select(Slot)
        .where(Slot.day == day)
        .options(
            selectinload(Slot.appointments).options(
                selectinload(Appointment.youth),
                selectinload(Appointment.intake),
                selectinload(Appointment.treatment),
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
    slot_plans = {p.start: p for p in (scheduling.day_slots(plan) if plan else [])}
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
    grace = no_show_grace()
    for start in sorted(slot_plans):
        slot_plan = slot_plans[start]
        row = by_start.get(start)
        visits = []
        starts_at = scheduling.slot_start(day, start, rules.zone)
        for appointment in row.appointments if row else []:
            if appointment.status == VisitStatus.CANCELLED:
                continue
            youth = appointment.youth
            visits.append(
                Visit(
                    appointment=appointment,
                    start=start,
                    age=scheduling.age_on(youth.date_of_birth, day),
                    minor=scheduling.needs_guardian(youth.date_of_birth, day, rules.ages),
                    session_number=(
                        appointment.treatment.session_number
                        if appointment.treatment
                        else scheduling.next_session_number(before.get(youth.id, 0))
                    ),
                    started=now >= starts_at,
                    late=appointment.status == VisitStatus.BOOKED
                    and scheduling.is_late(starts_at, now, grace),
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
            scheduling.QueuePlace(
                visit.start,
                visit.appointment.arrived_at or datetime.min,
                visit.appointment.ticket or 0,
            )
        ]
    }
    sheet.waiting = [order[place] for place in scheduling.queue_order(order)]
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


def now_serving(day: date) -> NowServing:
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
    places = scheduling.queue_order(
        scheduling.QueuePlace(row.start_time, row.arrived_at or datetime.min, row.ticket or 0)
        for row in rows
        if row.status == VisitStatus.CHECKED_IN
    )
    return NowServing(
        stations=[(name, busy.get(name)) for name in stations()],
        next_tickets=[place.ticket for place in places[:6]],
    )
