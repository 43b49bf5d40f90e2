"""Why a booking is refused. The web layer puts each into words next to the field concerned
(``clinic.web.refusals``); the youth never sees a bare error."""

from __future__ import annotations

from datetime import date

from clinic.rules.eligibility import Eligibility


class BookingError(Exception):
    """A booking refused by a rule; the view explains it to the youth."""


class SlotUnavailable(BookingError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "not_offered", "closed", "too_far_ahead" or "full"


class NotEligible(BookingError):
    def __init__(self, outcome: Eligibility) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


class GuardianRequired(BookingError):
    pass


class AlreadyBooked(BookingError):
    """The youth already holds an upcoming appointment: ``appointment_id``, when known."""

    def __init__(self, appointment_id: int | None = None) -> None:
        super().__init__()
        self.appointment_id = appointment_id


class SubmissionReused(BookingError):
    """The form's key already booked someone else (a shared phone, the Back button)."""


class SubmissionCancelled(BookingError):
    """The form's key made a booking that has been cancelled since."""


class TooSoon(BookingError):
    """A follow-up session before the minimum interval since the last treatment."""

    def __init__(self, earliest: date, last_visit_id: int | None = None) -> None:
        super().__init__(earliest.isoformat())
        self.earliest = earliest
        self.last_visit_id = last_visit_id  # the appointment of the last treatment


class NotCancellable(BookingError):
    """Only an upcoming, booked appointment can be cancelled: this one was cancelled already,
    or its day has passed."""


class ListNotOpen(BookingError):
    """A list that cannot be joined now: ``reason`` "open_times" (there are seats to book:
    book one instead) or "not_offered" (no such clinic day, or booking for it has closed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OfferGone(BookingError):
    """An offered seat that can no longer be taken or refused: claimed or refused already,
    past its deadline, or passed on."""


class NoSeatToOffer(BookingError):
    """A staff invitation with no free, bookable seat in the booking window to offer (or a
    seat too close to its time to be worth holding)."""


class NotOnList(BookingError):
    """A list entry that is no longer waiting (it left, was removed, booked or closed)."""


class NotChangeable(BookingError):
    """A youth's own change to an appointment that is no longer booked and ahead of them: it
    was cancelled or moved meanwhile (another tab, the clinic), or its time has come."""


class SameTime(BookingError):
    """A move to the time the appointment already has."""


class NoNextSession(BookingError):
    """The next session is booked from a treated visit's link only."""
