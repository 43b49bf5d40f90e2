"""Use cases: what youth and staff do, each one load -> rules -> write -> commit once.

Views call these with plain values and the current clinic time; nothing here reads the request.
Rule violations are raised as ``BookingError`` subclasses, which the views turn into translated
messages next to the right field.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from clinic import outbox, scheduling
from clinic.database import dialect_insert, lock_day, write_transaction
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AppointmentStatus,
    ClinicDay,
    Intake,
    Slot,
    Treatment,
    Youth,
    utcnow,
)
from clinic.scheduling import ClinicRules, DayPlan, Eligibility, SlotPlan, SlotState

# --- Settings and the clock, read at the edge --------------------------------------------


def _clock_time(text: str) -> time:
    return time.fromisoformat(text)


def current_rules() -> ClinicRules:
    """The clinic's rules as configured for this app."""
    config = current_app.config
    return ClinicRules(
        zone=ZoneInfo(config["CLINIC_TZ"]),
        day=scheduling.DayDefaults(
            start=_clock_time(config["CLINIC_DAY_START"]),
            end=_clock_time(config["CLINIC_DAY_END"]),
            slot_minutes=config["SLOT_MINUTES"],
            seats=config["SEATS_PER_SLOT"],
        ),
        window=scheduling.BookingWindow(
            horizon_days=config["BOOKING_HORIZON_DAYS"],
            cutoff=timedelta(hours=config["BOOKING_CUTOFF_HOURS"]),
        ),
        ages=scheduling.AgeLimits(
            minimum=config["MIN_AGE"], maximum=config["MAX_AGE"], adult=config["GUARDIAN_AGE"]
        ),
        follow_up=timedelta(weeks=config["FOLLOW_UP_MIN_WEEKS"]),
    )


def clinic_now(rules: ClinicRules) -> datetime:
    """The current instant, aware, in the clinic's time zone."""
    return datetime.now(rules.zone)


# --- Reading the schedule ----------------------------------------------------------------


@dataclass(frozen=True)
class SlotAvailability:
    plan: SlotPlan
    capacity: int
    booked: int
    state: SlotState

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.booked, 0)

    @property
    def bookable(self) -> bool:
        return self.state is SlotState.OPEN


@dataclass(frozen=True)
class DayAvailability:
    plan: DayPlan
    slots: list[SlotAvailability]

    @property
    def seats_left(self) -> int:
        """Seats that can still be booked: free seats in slots still open for booking."""
        return sum(s.seats_left for s in self.slots if s.bookable)

    @property
    def bookable(self) -> bool:
        return any(s.bookable for s in self.slots)

    @property
    def full(self) -> bool:
        """No seat can be booked because seats ran out (rather than booking having closed)."""
        return not self.bookable and any(s.state is SlotState.FULL for s in self.slots)


def day_plans(start: date, end: date, rules: ClinicRules) -> list[DayPlan]:
    """The clinic days from ``start`` to ``end`` as they will run, staff changes applied."""
    exceptions = db.session.scalars(select(ClinicDay).where(ClinicDay.day.between(start, end)))
    return scheduling.plan_days(start, end, rules.day, [row.as_exception() for row in exceptions])


def _availability(
    plans: Sequence[DayPlan], rules: ClinicRules, now: datetime
) -> list[DayAvailability]:
    """Combine the rule's slots with the seat counters of slots already in the database."""
    if not plans:
        return []
    rows = db.session.scalars(
        select(Slot).where(Slot.day.between(plans[0].day, plans[-1].day))
    ).all()
    by_key = {(row.day, row.start_time): row for row in rows}
    days = []
    for plan in plans:
        slots = []
        for slot_plan in scheduling.day_slots(plan):
            row = by_key.get((plan.day, slot_plan.start))
            capacity = slot_plan.seats  # the plan, with staff changes, is the truth
            booked = row.booked if row else 0
            starts_at = scheduling.slot_start(plan.day, slot_plan.start, rules.zone)
            state = scheduling.slot_state(
                starts_at, capacity - booked, now, rules.window, blocked=bool(row and row.blocked)
            )
            slots.append(SlotAvailability(slot_plan, capacity, booked, state))
        days.append(DayAvailability(plan, slots))
    return days


def upcoming_days(rules: ClinicRules, now: datetime) -> list[DayAvailability]:
    """The clinic days open for booking from today to the end of the booking window."""
    today = now.date()
    plans = day_plans(today, rules.window.last_day(today), rules)
    return [day for day in _availability(plans, rules, now) if day.slots and day.plan.seats > 0]


def day_availability(day: date, rules: ClinicRules, now: datetime) -> DayAvailability | None:
    """One clinic day's slots and seats, or None if the clinic does not open that day."""
    plans = day_plans(day, day, rules)
    found = _availability(plans, rules, now)
    return found[0] if found else None


def next_clinic_day(rules: ClinicRules, today: date) -> date | None:
    """Today if the clinic opens today, else the next clinic day within a year."""
    plans = day_plans(today, today + timedelta(days=366), rules)
    return plans[0].day if plans else None


# --- Booking -----------------------------------------------------------------------------


class BookingError(Exception):
    """A booking refused by a rule; the view explains it to the youth."""


class SlotUnavailable(BookingError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "not_offered", "closed", "too_far_ahead" or "full"


class NotEligible(BookingError):
    def __init__(self, outcome: Eligibility) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


class GuardianRequired(BookingError):
    pass


class AlreadyBooked(BookingError):
    """The youth already holds an upcoming appointment."""


class SubmissionReused(BookingError):
    """The form's key already booked someone else (a shared phone, the Back button)."""


class SubmissionCancelled(BookingError):
    """The form's key made a booking that has been cancelled since."""


class TooSoon(BookingError):
    """A follow-up session before the minimum interval since the last treatment."""

    def __init__(self, earliest: date) -> None:
        super().__init__(earliest.isoformat())
        self.earliest = earliest


@dataclass
class BookingRequest:
    """Everything the intake form collects, already checked for shape by the form."""

    day: date
    start: time
    submission_key: str
    first_name: str
    last_name: str
    date_of_birth: date
    preferred_name: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str = "en"
    contact_by: str | None = None  # "sms" or "email"
    guardian_name: str | None = None
    guardian_relationship: str | None = None
    guardian_phone: str | None = None
    tattoo_count: int = 1
    tattoo_locations: list[str] = field(default_factory=list)
    tattoo_size: str = "small"
    tattoo_colors: str = "black"
    tattoo_kind: str = "unsure"
    tattoo_age_years: int | None = None
    previous_removal: bool = False
    tattoo_notes: str | None = None
    screening: list[str] = field(default_factory=list)
    referral_source: str = "self"

    @property
    def contact(self) -> dict[str, str | None]:
        """The ``ContactDetails`` columns, as given on this form."""
        return {
            "phone": self.phone,
            "email": self.email,
            "language": self.language,
            "contact_by": self.contact_by,
            "guardian_name": self.guardian_name,
            "guardian_relationship": self.guardian_relationship,
            "guardian_phone": self.guardian_phone,
        }

    @property
    def has_guardian(self) -> bool:
        return all((self.guardian_name, self.guardian_relationship, self.guardian_phone))


def check_youth(date_of_birth: date, day: date, has_guardian: bool, rules: ClinicRules) -> None:
    """Apply the age and consent rules for the appointment date; raise if one fails."""
    outcome = scheduling.eligibility(date_of_birth, day, rules.ages)
    if outcome is not Eligibility.ELIGIBLE:
        raise NotEligible(outcome)
    if scheduling.needs_guardian(date_of_birth, day, rules.ages) and not has_guardian:
        raise GuardianRequired()


def find_by_submission(submission_key: str) -> Appointment | None:
    """The appointment a form already made, with what ``is_repeat_of`` compares."""
    return db.session.scalar(
        select(Appointment)
        .where(Appointment.submission_key == submission_key)
        .options(joinedload(Appointment.youth), joinedload(Appointment.slot))
    )


# Codes read aloud over the phone: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if not db.session.scalar(select(exists().where(Appointment.code == code))):
            return code


def insert_ignoring_conflict(model: type[db.Model], values: dict[str, object]) -> None:
    """INSERT a row unless one with the same unique key exists (another request made it)."""
    db.session.execute(dialect_insert(model).values(**values).on_conflict_do_nothing())


def book(
    request: BookingRequest, rules: ClinicRules, now: datetime, staff_id: int | None = None
) -> Appointment:
    """Book a seat for a youth: one transaction, committed once, or nothing at all.

    The seat is taken by a conditional UPDATE of the slot's counter, so two requests can never
    both take the last seat. Repeating the same submission returns the first appointment.
    """
    for attempt in range(3):
        try:
            with write_transaction():
                appointment = _book_once(request, rules, now, staff_id)
            return appointment
        except IntegrityError:
            # A concurrent request inserted the same unique row first; start again and the
            # lookups below will find it.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _book_once(
    request: BookingRequest, rules: ClinicRules, now: datetime, staff_id: int | None
) -> Appointment:
    earlier = find_by_submission(request.submission_key)
    if earlier is not None:
        if not is_repeat_of(
            earlier, request.first_name, request.last_name, request.date_of_birth, request.day
        ):
            raise SubmissionReused()
        if earlier.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            # Its booking was cancelled since: never show it as booked; a fresh form books anew.
            raise SubmissionCancelled()
        return earlier

    # Read the day's plan only once a schedule change to it can no longer be half way.
    lock_day(request.day, exclusive=False)
    slot_plan = _bookable_slot(request.day, request.start, rules, now)
    check_youth(request.date_of_birth, request.day, request.has_guardian, rules)

    youth = upsert_youth(request)
    upcoming = upcoming_appointment(youth.id, now.date())
    if upcoming is not None:
        if upcoming.submission_key == request.submission_key:
            return upcoming
        raise AlreadyBooked()
    check_healed(youth.id, request.day, rules)

    slot_id = take_seat(slot_plan)
    appointment = Appointment(
        code=new_code(),
        youth_id=youth.id,
        slot_id=slot_id,
        status=AppointmentStatus.BOOKED,
        submission_key=request.submission_key,
    )
    appointment.intake = intake_from(request)
    db.session.add(appointment)
    db.session.flush()
    # In this transaction: the booking and its confirmation commit together or not at all.
    outbox.booked(appointment.id, now, staff_id=staff_id)
    return appointment


# An appointment still ahead of the youth: booked, or under way on the day itself.
UPCOMING = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_TREATMENT)


def upcoming_appointment(
    youth_id: int, today: date, exclude_id: int | None = None
) -> Appointment | None:
    """The youth's appointment from ``today`` on that is not over, if any (at most one)."""
    return db.session.scalars(
        select(Appointment)
        .join(Appointment.slot)
        .where(
            Appointment.youth_id == youth_id,
            Appointment.status.in_(UPCOMING),
            Slot.day >= today,
            Appointment.id != (exclude_id or 0),
        )
        .options(joinedload(Appointment.slot))
    ).first()


def last_treatment_day(youth_id: int) -> date | None:
    """The day of the youth's latest treatment, if any."""
    return db.session.scalar(select(func.max(Treatment.day)).where(Treatment.youth_id == youth_id))


def check_healed(youth_id: int, day: date, rules: ClinicRules) -> None:
    """Refuse a session on ``day`` sooner than the minimum interval after the youth's last
    treatment (``scheduling.earliest_follow_up``), however it is booked: online, by staff,
    or as a walk-in."""
    earliest = scheduling.earliest_follow_up(last_treatment_day(youth_id), rules.follow_up)
    if earliest is not None and day < earliest:
        raise TooSoon(earliest)


def intake_from(request: BookingRequest) -> Intake:
    """The intake row recording what a booking's form said."""
    return Intake(
        **request.contact,
        tattoo_count=request.tattoo_count,
        tattoo_locations=list(request.tattoo_locations),
        tattoo_size=request.tattoo_size,
        tattoo_colors=request.tattoo_colors,
        tattoo_kind=request.tattoo_kind,
        tattoo_age_years=request.tattoo_age_years,
        previous_removal=request.previous_removal,
        tattoo_notes=request.tattoo_notes,
        screening=list(request.screening),
        referral_source=request.referral_source,
    )


def is_repeat_of(
    appointment: Appointment, first_name: str, last_name: str, date_of_birth: date, day: date
) -> bool:
    """Whether a submission repeats the one that made ``appointment`` (same youth, same day)."""
    key = Youth.make_identity_key(first_name, last_name, date_of_birth)
    return appointment.youth.identity_key == key and appointment.slot.day == day


def _bookable_slot(day: date, start: time, rules: ClinicRules, now: datetime) -> SlotPlan:
    availability = day_availability(day, rules, now)
    if availability is None:
        raise SlotUnavailable("not_offered")
    slot = next((s for s in availability.slots if s.plan.start == start), None)
    if slot is None:
        raise SlotUnavailable("not_offered")
    if slot.state in (SlotState.CLOSED, SlotState.TOO_FAR_AHEAD, SlotState.BLOCKED):
        raise SlotUnavailable(slot.state.value)
    # A slot that looks full here is still tried: the counter decides, atomically.
    return slot.plan


def upsert_youth(request: BookingRequest) -> Youth:
    """Find the youth by name and date of birth, or add them with the details just given.

    The UPDATE takes the youth's row lock, so two bookings for the same youth run one after
    the other and the second sees the first's appointment. A record an admin merged into
    another stands for that other record.
    """
    key = Youth.make_identity_key(request.first_name, request.last_name, request.date_of_birth)
    insert_ignoring_conflict(
        Youth,
        {
            "identity_key": key,
            "first_name": request.first_name,
            "last_name": request.last_name,
            "date_of_birth": request.date_of_birth,
            "preferred_name": request.preferred_name,
            "search_name": Youth.make_search_name(
                request.first_name, request.last_name, request.preferred_name
            ),
            **request.contact,
        },
    )
    youth = _lock_youth(Youth.identity_key == key)
    if youth.merged_into_id is not None:
        youth = _lock_youth(Youth.id == youth.merged_into_id)
    return youth


def _lock_youth(where) -> Youth:
    db.session.execute(
        update(Youth)
        .where(where)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return db.session.scalars(
        select(Youth).where(where).execution_options(populate_existing=True)
    ).one()


def take_seat(slot_plan: SlotPlan) -> int:
    """Take one seat of the slot, or raise SlotUnavailable("full"). Returns the slot's id.

    The seats come from today's plan, so a change of seats for a date applies to slots booked
    before it too; lowering them below the seats taken keeps those bookings and takes no more.
    """
    insert_ignoring_conflict(
        Slot,
        {
            "day": slot_plan.day,
            "start_time": slot_plan.start,
            "end_time": slot_plan.end,
            "capacity": slot_plan.seats,
            "booked": 0,
        },
    )
    slot_id = db.session.execute(
        update(Slot)
        .where(
            Slot.day == slot_plan.day,
            Slot.start_time == slot_plan.start,
            Slot.booked < slot_plan.seats,
            Slot.blocked.is_(False),
        )
        .values(booked=Slot.booked + 1, capacity=slot_plan.seats)
        .returning(Slot.id)
    ).scalar_one_or_none()
    if slot_id is None:
        raise SlotUnavailable("full")
    return slot_id


class NotCancellable(BookingError):
    """Only an upcoming, booked appointment can be cancelled: this one was cancelled already,
    or its day has passed."""


@dataclass(frozen=True)
class Cancellation:
    code: str
    day: date


def cancel(appointment_id: int, staff_id: int | None, now: datetime) -> Cancellation:
    """Cancel an upcoming appointment and give its seat back.

    One transaction: the appointment's status changes only if it is still booked and
    upcoming, and the seat is given back only if it did, so two people cancelling the same
    appointment at once free one seat; a booking racing for that seat sees it only once the
    cancel has committed.
    """
    with write_transaction():
        cancelled = db.session.execute(
            update(Appointment)
            .where(
                Appointment.id == appointment_id,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.slot_id.in_(select(Slot.id).where(Slot.day >= now.date())),
            )
            .values(
                status=AppointmentStatus.CANCELLED,
                cancelled_at=utcnow(),
                cancelled_by_id=staff_id,
            )
            .returning(Appointment.slot_id, Appointment.code)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if cancelled is None:
            raise NotCancellable()
        outbox.cancelled(appointment_id, now, staff_id=staff_id)
        day = db.session.execute(
            update(Slot)
            .where(Slot.id == cancelled.slot_id)
            .values(booked=Slot.booked - 1)
            .returning(Slot.day)
            .execution_options(synchronize_session=False)
        ).scalar_one()
    return Cancellation(cancelled.code, day)


def confirmed_appointment(appointment_id: int) -> Appointment | None:
    """A booked (not cancelled) appointment with its slot and youth, for the confirmation."""
    return db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id, Appointment.status == AppointmentStatus.BOOKED)
        .options(
            selectinload(Appointment.slot),
            selectinload(Appointment.youth),
            selectinload(Appointment.intake),
        )
    )
