"""The writes every way of taking a seat shares: the slot's seat counter (one conditional
UPDATE, never a check-then-insert), the youth's row (found or added, and locked), the intake
row and the appointment's code. Called inside a use case's transaction; nothing here commits.
"""

from __future__ import annotations

import secrets

from sqlalchemy import exists, select, update

from clinic import audit
from clinic.booking.errors import SlotUnavailable
from clinic.booking.request import BookingRequest
from clinic.database import dialect_insert
from clinic.extensions import db
from clinic.models import Appointment, Intake, Slot, Youth, utcnow
from clinic.rules.calendar import SlotPlan

# Codes read aloud over the phone: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if not db.session.scalar(select(exists().where(Appointment.code == code))):
            return code


def insert_ignoring_conflict(model: type[db.Model], values: dict[str, object]) -> int | None:
    """INSERT a row unless one with the same unique key exists (another request made it).
    Returns the new row's id, or None when it existed."""
    statement = dialect_insert(model).values(**values).on_conflict_do_nothing()
    return db.session.execute(statement.returning(model.id)).scalar_one_or_none()


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


def give_back_seat(slot_id: int) -> None:
    """Return a seat taken in this transaction (by ``take_seat``) to the slot's counter."""
    db.session.execute(
        update(Slot)
        .where(Slot.id == slot_id)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )


def upsert_youth(request: BookingRequest) -> Youth:
    """Find the youth by name and date of birth, or add them with the details just given.

    The UPDATE takes the youth's row lock, so two bookings for the same youth run one after
    the other and the second sees the first's appointment. A record an admin merged into
    another stands for that other record.
    """
    key = Youth.make_identity_key(request.first_name, request.last_name, request.date_of_birth)
    values = {
        "identity_key": key,
        "first_name": request.first_name,
        "last_name": request.last_name,
        "date_of_birth": request.date_of_birth,
        "preferred_name": request.preferred_name,
        "search_name": Youth.make_search_name(
            request.first_name, request.last_name, request.preferred_name
        ),
        **request.contact,
    }
    created = insert_ignoring_conflict(Youth, values)
    if created is not None:  # a Core INSERT: the flush never sees it
        fields = [name for name, value in values.items() if value is not None]
        audit.changed("youth", created, fields, youth_id=created, action=audit.CREATE)
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


# What an intake says about the tattoo, the screening and the referral: what a later booking
# (the next session, a follow-up, a seat taken from a list) copies instead of asking again.
INTAKE_ANSWERS = (
    "tattoo_count",
    "tattoo_locations",
    "tattoo_size",
    "tattoo_colors",
    "tattoo_kind",
    "tattoo_age_years",
    "previous_removal",
    "tattoo_notes",
    "screening",
    "referral_source",
)


def answers_of(intake: Intake | None) -> dict[str, object]:
    """A previous intake's answers, copied for a later booking (the clinician checks them
    again at check-in). Nothing on file: a referral of "other", rather than inventing one
    for the funder's figures."""
    if intake is None:
        return {"referral_source": "other"}
    answers = {name: getattr(intake, name) for name in INTAKE_ANSWERS}
    answers["tattoo_locations"] = list(intake.tattoo_locations or [])
    answers["screening"] = list(intake.screening or [])
    return answers


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
