"""The refusals every way of taking a seat applies (online, from a record, at the desk):
the age and consent rule for the date, the healing interval, and whether a form's answers
repeat the booking it already made. Each reads what it needs and raises a ``BookingError``."""

from __future__ import annotations

from datetime import date, datetime, time

from clinic.booking.availability import day_availability, last_treatment
from clinic.booking.errors import GuardianRequired, NotEligible, SlotUnavailable, TooSoon
from clinic.models import Appointment, Youth
from clinic.rules.calendar import SlotPlan
from clinic.rules.eligibility import Eligibility, SlotState, eligibility, needs_guardian
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import earliest_follow_up


def check_youth(date_of_birth: date, day: date, has_guardian: bool, rules: ClinicRules) -> None:
    """Apply the age and consent rules for the appointment date; raise if one fails."""
    outcome = eligibility(date_of_birth, day, rules.ages)
    if outcome is not Eligibility.ELIGIBLE:
        raise NotEligible(outcome)
    if needs_guardian(date_of_birth, day, rules.ages) and not has_guardian:
        raise GuardianRequired()


def check_healed(youth_id: int, day: date, rules: ClinicRules) -> None:
    """Refuse a session on ``day`` sooner than the minimum interval after the youth's last
    treatment (``earliest_follow_up``), however it is booked: online, by staff,
    or as a walk-in."""
    last = last_treatment(youth_id)
    if last is None:
        return
    last_day, last_visit_id = last
    earliest = earliest_follow_up(last_day, rules.follow_up)
    if earliest is not None and day < earliest:
        raise TooSoon(earliest, last_visit_id)


def is_repeat_of(
    appointment: Appointment, first_name: str, last_name: str, date_of_birth: date, day: date
) -> bool:
    """Whether a submission repeats the one that made ``appointment`` (same youth, same day)."""
    key = Youth.make_identity_key(first_name, last_name, date_of_birth)
    return appointment.youth.identity_key == key and appointment.slot.day == day


def bookable_slot(day: date, start: time, rules: ClinicRules, now: datetime) -> SlotPlan:
    """The slot at ``start`` on ``day`` if it is open for booking, else ``SlotUnavailable``.
    A slot that looks full is still returned: the seat counter decides, atomically."""
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
