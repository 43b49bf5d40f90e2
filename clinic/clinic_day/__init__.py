"""The clinic day, as staff run it: check-in, the waiting queue, treatment, no-shows, cancel,
undo and walk-ins, and the day sheet and waiting-room screen that show it.

Inside: the refusals (``errors``), an appointment as a move reads it and the writes every move
shares (``current``), the moves (``moves``), undo (``undo``), walk-ins (``walk_ins``) and the
reads (``sheet``; the waiting room's screen, ``waiting_room``). Every move is one use case
and one transaction, with the acting staff member passed in and checked against
``clinic.permissions``.

May import: ``clinic.rules``, ``models``, ``database``, ``extensions``, ``permissions``,
``clinic.booking`` (walk-ins take seats as bookings do) and ``clinic.messaging``. Never the
web. This module is the package's interface.
"""

from clinic.clinic_day.current import Moved
from clinic.clinic_day.errors import (
    ChangedMeanwhile,
    ConsentNeeded,
    ConsentNotChosen,
    FormReused,
    NobodyWaiting,
    NoClinicToday,
    NoFreeSeat,
    NotFound,
    NothingToUndo,
    NotYet,
    OtherAppointment,
    Refused,
    ScheduleChanged,
    SeatTaken,
    StationBusy,
    TreatmentIncomplete,
    UnknownStation,
    VisitError,
    WrongDay,
)
from clinic.clinic_day.moves import (
    TreatmentRecord,
    call,
    call_next,
    cancel,
    check_in,
    complete,
    mark_no_show,
    mark_no_shows,
    record_consent,
)
from clinic.clinic_day.sheet import (
    DaySheet,
    SheetSlot,
    Visit,
    day_sheet,
    sessions_before,
)
from clinic.clinic_day.undo import last_change, undo, undoable
from clinic.clinic_day.waiting_room import NowServing, waiting_room
from clinic.clinic_day.walk_ins import OpenDay, other_days, walk_in, walk_in_seats

__all__ = [
    "ChangedMeanwhile",
    "ConsentNeeded",
    "ConsentNotChosen",
    "DaySheet",
    "FormReused",
    "Moved",
    "NoClinicToday",
    "NoFreeSeat",
    "NobodyWaiting",
    "NotFound",
    "NotYet",
    "NothingToUndo",
    "NowServing",
    "OpenDay",
    "OtherAppointment",
    "Refused",
    "ScheduleChanged",
    "SeatTaken",
    "SheetSlot",
    "StationBusy",
    "TreatmentIncomplete",
    "TreatmentRecord",
    "UnknownStation",
    "Visit",
    "VisitError",
    "WrongDay",
    "call",
    "call_next",
    "cancel",
    "check_in",
    "complete",
    "day_sheet",
    "last_change",
    "mark_no_show",
    "mark_no_shows",
    "other_days",
    "record_consent",
    "sessions_before",
    "undo",
    "undoable",
    "waiting_room",
    "walk_in",
    "walk_in_seats",
]
