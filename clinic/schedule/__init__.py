"""The schedule: the admin shapes the coming clinic days.

The rule (``clinic_days``) makes the ordinary days; every staff change to one date
is its ``ClinicDay`` row (closed with a note, an extra day, other hours, slot length or seats)
and a slot taken out of the day is its ``Slot`` row with ``blocked`` set. The public booking
pages read both, so a change shows up for youth at once.

A change never drops a booking silently. Before it is written, ``stranded_bookings``
says which seat-holding bookings the new plan leaves without a seat; if any are still ahead
(booked or checked in), the change is refused with the list (``Stranding``) until the admin
chooses what happens to them: cancel them (and call them, from ``cancelled_by_schedule``),
move them to the nearest free time the same day, or, when the slot length stays (fewer seats,
other hours), keep them on the day sheet. The choice names the appointments the admin saw; if
the change, recomputed under the day's lock, strands one they did not see (someone booked
meanwhile), nothing is done and they are asked again.

Every change takes the day's lock exclusively before it reads anything, so a booking (which
takes it shared) either finishes first and is seen, or starts after and sees the new plan.

A day's clinician roster (``set_roster``) is such a change too: its seats per slot follow
from how many clinicians work it, unless seats were set for the date.

Inside: a date as stored and as it runs (``days``), the refusals (``errors``), the reads
(``overview``), the changes (``changes``) and what happens to the bookings a change strands
(``strand``).

May import: ``clinic.rules``, ``models``, ``database``, ``extensions``, ``permissions``,
``clinic.booking`` (moved bookings take seats as bookings do) and ``clinic.messaging``. Never
the web. This module is the package's interface.
"""

from clinic.schedule.changes import (
    Outcome,
    add_extra_day,
    block_slot,
    change_hours,
    check_hours,
    close_day,
    remove_extra_day,
    reopen_day,
    set_roster,
    unblock_slot,
)
from clinic.schedule.days import (
    ACTIVE,
    HORIZON,
    MAX_SEATS,
    MAX_SLOT_MINUTES,
    NOTE_LENGTH,
    SCHEDULE_CANCEL,
    Affected,
    Hours,
    Resolution,
    horizon_end,
)
from clinic.schedule.errors import (
    HOURS_REASONS,
    AlreadyAClinicDay,
    CannotMove,
    ChangedMeanwhile,
    ClosedDay,
    DayPassed,
    InvalidHours,
    NoSuchSlot,
    NotAClinicDay,
    NotAClinician,
    NotClosed,
    NotExtra,
    ScheduleError,
    Stranding,
    TooFarAhead,
)
from clinic.schedule.overview import (
    DayEditor,
    EditorSlot,
    ScheduleDay,
    cancelled_by_schedule,
    day_editor,
    overview,
)

__all__ = [
    "ACTIVE",
    "HORIZON",
    "HOURS_REASONS",
    "MAX_SEATS",
    "MAX_SLOT_MINUTES",
    "NOTE_LENGTH",
    "SCHEDULE_CANCEL",
    "Affected",
    "AlreadyAClinicDay",
    "CannotMove",
    "ChangedMeanwhile",
    "ClosedDay",
    "DayEditor",
    "DayPassed",
    "EditorSlot",
    "Hours",
    "InvalidHours",
    "NoSuchSlot",
    "NotAClinicDay",
    "NotAClinician",
    "NotClosed",
    "NotExtra",
    "Outcome",
    "Resolution",
    "ScheduleDay",
    "ScheduleError",
    "Stranding",
    "TooFarAhead",
    "add_extra_day",
    "block_slot",
    "cancelled_by_schedule",
    "change_hours",
    "check_hours",
    "close_day",
    "day_editor",
    "horizon_end",
    "overview",
    "remove_extra_day",
    "reopen_day",
    "set_roster",
    "unblock_slot",
]
