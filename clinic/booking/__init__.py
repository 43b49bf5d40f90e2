"""Booking: a seat for a youth on a clinic day.

Owns the open days and times with their seats (``availability``, reads), the refusals
(``errors``), the checks every way of booking applies (``checks``), the shared writes that
take a seat and record the youth (``seats``), and the use cases that book and cancel
(``book``, with the desk's booking for a caller). The clinic day's walk-ins, the records'
follow-ups and the schedule's moves take their seats through here, under the same rules.
``moves`` moves one booking to another open time, for the youth or by the desk: one service.

The youth's self-service lives here too, as modules used by their own name: ``manage`` (what
a youth does from an appointment's link: cancel, move, book the next session), ``lost`` (a
link sent again), ``lists`` (joining and leaving standby and the waiting list; staff reorder
and remove), ``offers`` (a freed seat held and offered to the lists, claimed, lapsed, passed
on; ``fill_freed`` is what every change that frees a seat calls), ``places`` (a place on a
list and its expected wait) and ``list_reads`` (the staff's view of the lists).

May import: ``clinic.rules``, ``models``, ``database``, ``extensions``, ``settings`` and
``clinic.messaging`` (a booking writes its messages in its own transaction). Never the web.
This module is the package's interface: what other packages and the web call.
"""

from clinic.booking.availability import (
    UPCOMING,
    ClosedDay,
    DayAvailability,
    SlotAvailability,
    confirmed_appointment,
    day_availability,
    day_plans,
    days_to_book,
    find_by_submission,
    last_treatment_day,
    next_clinic_day,
    upcoming_appointment,
    upcoming_days,
)
from clinic.booking.book import Cancellation, book, book_for_caller, cancel, request_online
from clinic.booking.checks import check_healed, check_youth, is_repeat_of
from clinic.booking.errors import (
    AlreadyBooked,
    BookingError,
    GuardianRequired,
    NotCancellable,
    NotChangeable,
    NotEligible,
    SameTime,
    SlotUnavailable,
    SubmissionCancelled,
    SubmissionReused,
    TooSoon,
)
from clinic.booking.moves import (
    Move,
    appointment_to_move,
    is_ahead,
    move_booking,
    move_by_staff,
    move_options,
)
from clinic.booking.request import BookingRequest
from clinic.booking.seats import (
    CODE_ALPHABET,
    answers_of,
    insert_ignoring_conflict,
    intake_from,
    new_code,
    take_seat,
    upsert_youth,
)

__all__ = [
    "CODE_ALPHABET",
    "UPCOMING",
    "AlreadyBooked",
    "BookingError",
    "BookingRequest",
    "Cancellation",
    "ClosedDay",
    "DayAvailability",
    "GuardianRequired",
    "Move",
    "NotCancellable",
    "NotChangeable",
    "NotEligible",
    "SameTime",
    "SlotAvailability",
    "SlotUnavailable",
    "SubmissionCancelled",
    "SubmissionReused",
    "TooSoon",
    "answers_of",
    "appointment_to_move",
    "book",
    "book_for_caller",
    "cancel",
    "check_healed",
    "check_youth",
    "confirmed_appointment",
    "day_availability",
    "day_plans",
    "days_to_book",
    "find_by_submission",
    "insert_ignoring_conflict",
    "intake_from",
    "is_ahead",
    "is_repeat_of",
    "last_treatment_day",
    "move_booking",
    "move_by_staff",
    "move_options",
    "new_code",
    "next_clinic_day",
    "request_online",
    "take_seat",
    "upcoming_appointment",
    "upcoming_days",
    "upsert_youth",
]
