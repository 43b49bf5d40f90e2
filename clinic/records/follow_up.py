"""Booking a youth's next session from their record: the dates the skin allows, and the
booking itself, made through ``clinic.booking`` under the same rules as an online booking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from clinic import booking
from clinic.extensions import db
from clinic.models import (
    Appointment,
    Intake,
    StaffUser,
    Youth,
)
from clinic.permissions import Action, require
from clinic.records.record import (
    GUARDIAN_FIELDS,
    Contact,
    Merged,
    latest_intake,
)
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import earliest_follow_up


@dataclass(frozen=True)
class FollowUpPlan:
    """What the follow-up form offers for one youth."""

    youth: Youth
    earliest: date | None  # from the last treatment; None before any
    first_day: date  # the first date offered: today or the earliest, whichever is later
    days: list[booking.DayAvailability]  # open days from first_day, bookable slots only
    window: list[booking.DayAvailability]  # every clinic day and time in the booking window
    guardian_on_file: bool
    upcoming: Appointment | None


def _guardian_on_file(youth: Youth, intake: Intake | None) -> Contact | None:
    """The record's guardian, else the one given on the newest booking (staff confirm it at
    check-in either way)."""
    for row in (youth, intake):
        if row is not None and Contact.of(row).has_guardian:
            return Contact.of(row)
    return None


def follow_up_plan(
    youth_id: int,
    actor: StaffUser,
    rules: ClinicRules,
    now: datetime,
    interval: timedelta,
) -> FollowUpPlan | Merged | None:
    """The dates and times a follow-up can be booked on for this youth.

    Rule: open clinic days in the booking window from today or the earliest follow-up date
    (last treatment plus ``interval``), whichever is later; only times still bookable with a
    seat left.
    """
    require(actor.role, Action.BOOK_FOLLOW_UP)
    youth = db.session.get(Youth, youth_id)
    if youth is None or youth.purged_at is not None:  # erased: nobody to book for
        return None
    if youth.merged_into_id is not None:
        return Merged(youth.merged_into_id)
    today = now.date()
    earliest = earliest_follow_up(booking.last_treatment_day(youth.id), interval)
    first_day = max(today, earliest) if earliest else today
    window = booking.upcoming_days(rules, now)
    days = []
    for day in window:
        if day.plan.day < first_day:
            continue
        open_slots = [s for s in day.slots if s.bookable]
        if open_slots:
            days.append(booking.DayAvailability(day.plan, open_slots))
    return FollowUpPlan(
        youth=youth,
        earliest=earliest,
        first_day=first_day,
        days=days,
        window=window,
        guardian_on_file=_guardian_on_file(youth, latest_intake(youth.id)) is not None,
        upcoming=booking.upcoming_appointment(youth.id, today),
    )


@dataclass(frozen=True)
class Guardian:
    name: str
    relationship: str
    phone: str


def book_follow_up(
    youth_id: int,
    day: date,
    start: time,
    submission_key: str,
    actor: StaffUser,
    rules: ClinicRules,
    now: datetime,
    guardian: Guardian | None = None,
) -> Appointment:
    """Book a youth's next session from their record, with ``booking.book``'s rules.

    Rule: same capacity, window and age rules as an online booking, and not before the last
    treatment plus ``rules.follow_up`` (``booking.TooSoon``, checked by the booking itself).
    The request is built from the record (names, birth date, contact, guardian: the
    record's, else the newest booking's) and the newest booking's tattoo, screening and
    referral answers, copied for the clinician to re-check at check-in. A guardian typed on
    the form (``SEE_CONTACT`` only) is used for this booking's intake. The submission key
    makes a repeated submission return the same appointment. Raises ``booking.BookingError``
    subclasses, LookupError for an unknown youth.
    """
    require(actor.role, Action.BOOK_FOLLOW_UP)
    if guardian is not None:
        require(actor.role, Action.SEE_CONTACT)
    youth = db.session.get(Youth, youth_id)
    if youth is not None and youth.merged_into_id is not None:
        youth = db.session.get(Youth, youth.merged_into_id)
    if youth is None or youth.purged_at is not None:
        raise LookupError(youth_id)
    intake = latest_intake(youth.id)
    on_file = _guardian_on_file(youth, intake)
    if guardian is not None:
        guardian_fields = {
            "guardian_name": guardian.name,
            "guardian_relationship": guardian.relationship,
            "guardian_phone": guardian.phone,
        }
    elif on_file is not None:
        guardian_fields = {name: getattr(on_file, name) for name in GUARDIAN_FIELDS}
    else:
        guardian_fields = {}
    answers = booking.answers_of(intake)
    request = booking.BookingRequest(
        day=day,
        start=start,
        submission_key=submission_key,
        first_name=youth.first_name,
        last_name=youth.last_name,
        preferred_name=youth.preferred_name,
        date_of_birth=youth.date_of_birth,
        phone=youth.phone,
        email=youth.email,
        language=youth.language or "en",
        contact_by=youth.contact_by,
        **guardian_fields,
        **answers,
    )
    return booking.book(request, rules, now, staff_id=actor.id)
