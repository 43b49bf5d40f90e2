"""How many: one definition of a clinic day's numbers, for every page that shows them (the
day sheet and its live counters, the schedule, the walk-in page), so that no two pages can
disagree about the same day.

- **appointments**: every appointment of the day that is not cancelled (walk-ins included);
  always ``expected + arrived + no_show``.
- **expected**: booked and not arrived yet.
- **arrived**: came in: waiting, in treatment or done.
- **seats left**: free seats someone could still take: in every open slot of a coming day;
  on the day itself only in the slots not over yet; none once the day is past. A blocked
  slot has none; a seat held for a standby offer is taken.
- **recent no-shows**: a youth's no-shows in the ``recent_days`` before the day looked at; a
  youth with ``flag_count`` or more is marked, so the desk can call them the day before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from clinic.rules.visits import VisitStatus


@dataclass(frozen=True)
class SlotSeats:
    """One slot's seats as stored: what it opens, what is taken, whether staff blocked it."""

    start: time
    end: time
    seats: int  # what the slot opens (0 for a time outside the day's plan)
    taken: int  # booked, walk-ins and offers held
    blocked: bool = False

    @property
    def free(self) -> int:
        return 0 if self.blocked else max(self.seats - self.taken, 0)


def seats_left(day: date, slots: Iterable[SlotSeats], now: datetime) -> int:
    """Free seats that can still be taken on ``day``, seen at ``now`` (clinic time)."""
    today = now.date()
    if day < today:
        return 0
    return sum(slot.free for slot in slots if day > today or slot.end > now.time())


@dataclass(frozen=True)
class DayCounts:
    appointments: int
    expected: int
    arrived: int
    waiting: int
    in_treatment: int
    done: int
    no_show: int
    seats_left: int


def day_counts(statuses: Iterable[str], seats: int) -> DayCounts:
    """The day's numbers from its appointments' statuses (cancelled ones are not counted)
    and its ``seats`` left (:func:`seats_left`)."""
    tally = Counter(VisitStatus(status) for status in statuses)
    waiting = tally[VisitStatus.CHECKED_IN]
    in_treatment = tally[VisitStatus.IN_TREATMENT]
    done = tally[VisitStatus.COMPLETED]
    expected = tally[VisitStatus.BOOKED]
    no_show = tally[VisitStatus.NO_SHOW]
    arrived = waiting + in_treatment + done
    return DayCounts(
        appointments=expected + arrived + no_show,
        expected=expected,
        arrived=arrived,
        waiting=waiting,
        in_treatment=in_treatment,
        done=done,
        no_show=no_show,
        seats_left=seats,
    )


@dataclass(frozen=True)
class NoShowPolicy:
    flag_count: int = 2
    recent_days: int = 365

    def since(self, day: date) -> date:
        """The first date whose no-shows count as recent for a sheet of ``day``."""
        return day - timedelta(days=self.recent_days)

    def flagged(self, recent_no_shows: int) -> bool:
        return self.flag_count > 0 and recent_no_shows >= self.flag_count
