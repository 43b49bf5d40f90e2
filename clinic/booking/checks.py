"""The refusals every way of taking a seat applies (online, from a record, at the desk):
the age and consent rule for the date, the healing interval, and whether a form's answers
repeat the booking it already made. Each reads what it needs and raises a ``BookingError``."""

from __future__ import annotations

from datetime import date

from clinic.booking.availability import last_treatment
from clinic.booking.errors import GuardianRequired, NotEligible, TooSoon
from clinic.models import Appointment, Youth
from clinic.rules.eligibility import Eligibility, eligibility, needs_guardian
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
