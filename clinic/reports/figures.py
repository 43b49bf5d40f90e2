"""The figures of one period of clinic days, and of the period before it (``report``).

Definitions (every count is over the clinic days from ``period.start`` to ``period.end``):

- **youth served**: distinct youth with a completed visit (a treatment recorded). New: their
  first completed visit ever is in the period; returning: they had one before it.
- **treatments**: completed visits. **sessions per youth**: treatments / youth served.
- **finished a course**: youth whose ``COURSE_SESSIONS``-th completed visit (counted over all
  time) falls in the period.
- **appointments**: every visit on the period's days that was booked ahead (not a walk-in),
  whatever became of it; **cancelled by staff** (a staff account cancelled it, including a
  cancelled clinic day) or **by the youth** (from their link); **moved**: appointments on the
  period's days that were moved at least once, by the youth or the desk.
- **no-shows**; **no-show rate**: no-shows / visits that were due (booked ahead, not cancelled,
  on a day already over).
- **walk-ins**: visits added at the desk on the day.
- **standby joined**: standby entries for the period's days; **standby seated**: of them, those
  who took a seat. **Waiting list joined**: program entries that joined on a day of the
  period; **on the waiting list at the end**: open entries at the end of ``period.end``.
- **wait**: days from joining a list to taking a seat, for entries seated in the period (mean,
  and the 90th percentile by nearest rank).
- **seats offered**: the open slots' seats of each clinic day as planned (staff changes,
  roster and blocked times applied); **seats used**: visits that came (checked in, in
  treatment, completed), walk-ins included.
- **age bands**, **minors**, **languages**, **referral sources**: of the youth served, each
  counted once, as on their first completed visit in the period (age on that day; a youth who
  turns 18 later in the period stays in the band of that first visit). **Minors with consent**:
  minors whose guardian's consent was recorded (confirmed, or exempt by staff decision).
- **purged**: youth served whose personal data has since been erased; they are counted in
  every figure above, from the anonymous facts their rows keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from clinic.rules.reports import Period


@dataclass(frozen=True)
class DayFigures:
    """One clinic day of the period (a cancelled day too: ``closed``, no seats)."""

    day: date
    closed: bool
    seats: int  # seats offered
    booked: int  # visits not cancelled: booked ahead and walk-ins
    used: int  # visits that came: checked in, in treatment or completed
    no_shows: int
    walk_ins: int


@dataclass(frozen=True)
class MonthFigures:
    """One calendar month of the period, for the charts over time."""

    month: date  # its first day
    due: int  # visits due (booked ahead, not cancelled, day over)
    no_shows: int
    new_youth: int
    returning_youth: int
    waiting_list: int  # open waiting-list entries at the end of the month (or of the period)


@dataclass(frozen=True)
class Figures:
    """Every figure of one period; ``None`` where a rate or a wait has nothing to count."""

    period: Period
    youth_served: int = 0
    new_youth: int = 0
    returning_youth: int = 0
    treatments: int = 0
    sessions_per_youth: float | None = None
    finished_course: int = 0
    appointments: int = 0
    cancelled_by_staff: int = 0
    cancelled_by_youth: int = 0
    moved: int = 0
    due: int = 0
    no_shows: int = 0
    no_show_rate: float | None = None
    walk_ins: int = 0
    standby_joined: int = 0
    standby_seated: int = 0
    waitlist_joined: int = 0
    waitlist_at_end: int = 0
    waits_counted: int = 0
    wait_days_mean: float | None = None
    wait_days_p90: float | None = None
    clinic_days: int = 0  # days that ran (not cancelled)
    seats_offered: int = 0
    seats_used: int = 0
    age_bands: dict[str, int] = field(default_factory=dict)  # "13-15" .. "22-25", in order
    minors: int = 0
    minors_with_consent: int = 0
    languages: dict[str, int] = field(default_factory=dict)  # code -> youth
    referrals: dict[str, int] = field(default_factory=dict)  # vocab code -> youth
    purged_youth: int = 0
    days: list[DayFigures] = field(default_factory=list)
    months: list[MonthFigures] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    current: Figures
    previous: Figures
