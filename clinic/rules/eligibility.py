"""Who may book what and when: the booking window, the age rule, a guardian's consent, and
the phone numbers a youth can be reached at.

Pure: no Flask, no SQLAlchemy, no clock (callers pass ``now``). Where a rule compares instants
(the booking cut-off), it takes time-zone-aware datetimes and compares them in UTC, so that a
daylight-saving change cannot shift a cut-off by an hour.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from dateutil.relativedelta import relativedelta

# --- Booking window ----------------------------------------------------------------------


@dataclass(frozen=True)
class BookingWindow:
    """How far ahead booking opens and how long before a slot it closes (settings)."""

    horizon_days: int = 60
    cutoff: timedelta = timedelta(hours=2)

    def last_day(self, today: date) -> date:
        """The furthest date that can be booked on ``today``."""
        return today + timedelta(days=self.horizon_days)


def slot_start(day: date, start: time, zone: tzinfo) -> datetime:
    """Return the aware instant at which a slot starts, from its clinic-local wall clock."""
    return datetime.combine(day, start, tzinfo=zone)


class SlotState(enum.Enum):
    """Whether a slot can be booked right now, and if not, why not."""

    OPEN = "open"
    TOO_FAR_AHEAD = "too_far_ahead"
    CLOSED = "closed"  # past the cut-off, or already over
    BLOCKED = "blocked"  # staff took this time out of the schedule
    FULL = "full"


def slot_state(
    starts_at: datetime,
    seats_left: int,
    now: datetime,
    window: BookingWindow,
    blocked: bool = False,
) -> SlotState:
    """Return whether a slot starting at ``starts_at`` (aware) can be booked at ``now`` (aware).

    Rule: booking opens ``horizon_days`` ahead (by the clinic's calendar date) and closes
    ``cutoff`` before the slot starts; a slot staff blocked takes no booking; a slot with no
    seat left is full.
    """
    if starts_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("slot_state needs time-zone-aware datetimes")
    today = now.astimezone(starts_at.tzinfo).date()
    if starts_at.date() > window.last_day(today):
        return SlotState.TOO_FAR_AHEAD
    if now.astimezone(UTC) > starts_at.astimezone(UTC) - window.cutoff:
        return SlotState.CLOSED
    if blocked:
        return SlotState.BLOCKED
    if seats_left <= 0:
        return SlotState.FULL
    return SlotState.OPEN


# --- Age and eligibility -----------------------------------------------------------------


def age_on(birth_date: date, day: date) -> int:
    """Return a person's age in whole years on ``day``.

    Rule: calendar arithmetic. A birthday counts from the day itself; someone born on
    29 February turns a year older on 1 March in common years.
    """
    if day < birth_date:
        raise ValueError("day is before birth_date")
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


@dataclass(frozen=True)
class AgeLimits:
    """The program's age range (settings): eligible from ``minimum`` up to ``maximum``."""

    minimum: int = 13
    maximum: int = 25
    adult: int = 18


class Eligibility(enum.Enum):
    """The outcome of the age rule for one person on one date."""

    ELIGIBLE = "eligible"
    TOO_YOUNG = "too_young"
    TOO_OLD = "too_old"
    NOT_BORN = "not_born"  # a date of birth after the appointment: a typing mistake


def eligibility(birth_date: date, day: date, limits: AgeLimits = AgeLimits()) -> Eligibility:
    """Return whether someone born on ``birth_date`` may be treated on ``day``.

    Rule: eligible means ``limits.minimum`` or older and not yet ``limits.maximum + 1`` on the
    appointment date itself (13 to 25 by default), not on the day of booking.
    """
    if birth_date > day:
        return Eligibility.NOT_BORN
    age = age_on(birth_date, day)
    if age < limits.minimum:
        return Eligibility.TOO_YOUNG
    if age > limits.maximum:
        return Eligibility.TOO_OLD
    return Eligibility.ELIGIBLE


def age_today(birth_date: date, today: date) -> int | None:
    """Return a person's age in whole years ``today``, or None for a birth date after it (a
    typing mistake, shown as such rather than as a negative age)."""
    if birth_date > today:
        return None
    return age_on(birth_date, today)


def birthday_at_age(birth_date: date, age: int) -> date:
    """Return the date on which someone born on ``birth_date`` turns ``age``.

    Rule: as ``age_on``: a 29 February birthday falls on 1 March in common years.
    """
    anniversary = birth_date + relativedelta(years=age)
    if (birth_date.month, birth_date.day) == (2, 29) and anniversary.day == 28:
        return anniversary + timedelta(days=1)
    return anniversary


def needs_guardian(birth_date: date, day: date, limits: AgeLimits = AgeLimits()) -> bool:
    """Return whether a parent or guardian must consent for treatment on ``day``.

    Rule: anyone under ``limits.adult`` (18) on the appointment date needs a guardian's
    consent; emancipation and other exceptions are a staff decision at check-in.
    """
    return age_on(birth_date, day) < limits.adult


# --- Phone numbers -----------------------------------------------------------------------

_PHONE_JUNK = re.compile(r"[\s().\-]")


def normalize_phone(text: str | None) -> str | None:
    """'(415) 555-0134' -> '+14155550134'; None if it is not a US number.

    Rule: ten digits, the area code not starting with 0 or 1, with or without the country
    code 1; spaces, dots, dashes and brackets are ignored.
    """
    if not text:
        return None
    digits = _PHONE_JUNK.sub("", text)
    if digits.startswith("+1"):
        digits = digits[2:]
    elif digits.startswith("1") and len(digits) == 11:
        digits = digits[1:]
    if not re.fullmatch(r"[2-9]\d{9}", digits):
        return None
    return "+1" + digits
