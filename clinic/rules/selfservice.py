"""Self-service rules: how long a youth's link opens its page, how long an offered seat is
held for its claim, the program waiting list's order and its expected wait.

Pure: no Flask, no SQLAlchemy, no clock (``now`` is passed in, aware).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from clinic.rules.visits import VisitStatus


@dataclass(frozen=True)
class LinkPolicy:
    """How long a youth's link works, counted from what it points to."""

    days_after_treatment: int = 120  # a treated visit's link books the next session
    days_after_list: int = 14  # a closed list entry's link says what became of it


@dataclass(frozen=True)
class OfferPolicy:
    """How long an offered seat is held for the person it is offered to."""

    hold: timedelta = timedelta(hours=12)
    hold_close: timedelta = timedelta(hours=2)  # when the seat's day is tomorrow or today
    least: timedelta = timedelta(minutes=30)  # less time than this to answer: no offer
    # The program list's priority rules, in order ("visible", "referral"); see ``priority``.
    priority_rules: tuple[str, ...] = ("visible", "referral")
    rate_weeks: int = 8  # the expected wait is estimated from this many recent weeks


def _day_ends(day: date, zone: tzinfo) -> datetime:
    """Midnight after ``day``, clinic time, as an aware instant."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def appointment_link_ends(
    day: date, status: VisitStatus, zone: tzinfo, policy: LinkPolicy
) -> datetime:
    """Until when a link to the appointment on ``day`` opens its page (exclusive, aware).

    Rule: to the end of the visit's day, whatever became of it (a cancelled or missed visit's
    link still says so plainly until then); a visit treated, ``days_after_treatment`` days
    after it, because its page is where the youth books their next session.
    """
    if status is VisitStatus.COMPLETED:
        return _day_ends(day + timedelta(days=policy.days_after_treatment), zone)
    return _day_ends(day, zone)


def entry_link_ends(
    standby_day: date | None, closed_at: datetime | None, zone: tzinfo, policy: LinkPolicy
) -> datetime | None:
    """Until when a link to a list entry opens its page (exclusive, aware); None: no end yet.

    Rule: an entry still waiting, while it waits (a standby list ends with its day); a closed
    entry (left, removed, booked), ``days_after_list`` days after it closed.
    """
    if closed_at is not None:
        return closed_at + timedelta(days=policy.days_after_list)
    if standby_day is not None:
        return _day_ends(standby_day, zone)
    return None
