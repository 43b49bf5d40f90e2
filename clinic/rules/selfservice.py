"""Self-service rules: how long a youth's link opens its page, how long an offered seat is
held for its claim, the program waiting list's order and its expected wait.

Pure: no Flask, no SQLAlchemy, no clock (``now`` is passed in, aware).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

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


# --- Seat offers -----------------------------------------------------------------------------


def offer_expiry(
    now: datetime, starts: datetime, cutoff_at: datetime, policy: OfferPolicy, zone: tzinfo
) -> datetime | None:
    """Until when a seat starting at ``starts`` (aware) is held for the person it is offered
    to at ``now`` (aware), or None: not worth offering.

    Rule: ``policy.hold`` from now, or ``policy.hold_close`` when the seat's day is today or
    tomorrow (clinic calendar: ``zone``); never later than ``cutoff_at``, when booking closes
    for that slot, since a seat given back after it could be taken by nobody. Less than
    ``policy.least`` left to answer: no offer (None).
    """
    if now.tzinfo is None or starts.tzinfo is None or cutoff_at.tzinfo is None:
        raise ValueError("offer_expiry needs time-zone-aware datetimes")
    days_ahead = (starts.astimezone(zone).date() - now.astimezone(zone).date()).days
    hold = policy.hold_close if days_ahead <= 1 else policy.hold
    expires = min(now.astimezone(UTC) + hold, cutoff_at.astimezone(UTC))
    if expires - now.astimezone(UTC) < policy.least:
        return None
    return expires


# --- The program waiting list ----------------------------------------------------------------

# The intake's answers (``clinic.vocab``) each priority rule looks for.
VISIBLE_LOCATIONS = frozenset({"face_neck", "hands"})
# Referred by a program that works toward a job or a return from custody: the intake's "job
# program" and "re-entry program" answers, and probation (re-entry supervision).
PROGRAM_REFERRALS = frozenset({"job_program", "reentry", "probation"})


def priority(
    tattoo_locations: Sequence[str], referral_source: str | None, rules: tuple[str, ...]
) -> int:
    """Where a youth joining the program's waiting list goes: 0 first.

    Rule: the clinic's priority ``rules`` in order (a setting, "visible,referral" by default);
    a youth matching the first gets 0, else the second 1, ...; none of them, ``len(rules)``.
    "visible": a tattoo on the face, neck or hands; "referral": referred by a job or re-entry
    program, or a probation officer. A rule of another name matches nobody. Within one
    priority, the list keeps its joining order.
    """
    matches = {
        "visible": bool(VISIBLE_LOCATIONS.intersection(tattoo_locations)),
        "referral": referral_source in PROGRAM_REFERRALS,
    }
    for place, rule in enumerate(rules):
        if matches.get(rule, False):
            return place
    return len(rules)


def expected_wait(position: int, invitations: int, weeks: int) -> timedelta | None:
    """How long until number ``position`` on the waiting list is invited, at the pace of the
    last ``weeks`` weeks (``invitations`` people invited from the list in them); None when
    nobody was invited in them: there is nothing to estimate from.

    Rule: the people ahead, and this one, leave the list at the recent rate:
    ``position / (invitations / weeks)`` weeks.
    """
    if position < 1:
        raise ValueError("a place on the list counts from 1")
    if invitations <= 0 or weeks <= 0:
        return None
    return timedelta(weeks=weeks) * position / invitations


def weeks_to_say(wait: timedelta) -> int:
    """A wait as the page says it: whole weeks, rounded up, at least one."""
    return max(1, math.ceil(wait / timedelta(weeks=1)))
