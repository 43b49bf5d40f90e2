"""Why a move on the clinic day is refused; the staff views put each into words."""

from __future__ import annotations

from clinic.rules.visits import VisitAction, VisitStatus


class VisitError(Exception):
    """A move refused by a rule; the view explains it."""


class NotFound(VisitError):
    pass


class WrongDay(VisitError):
    """Check-in, calling and treatment happen on the appointment's own day."""


class NotYet(VisitError):
    """A no-show before the appointment time has come."""


class ChangedMeanwhile(VisitError):
    """Someone else moved this appointment a moment ago."""


class Refused(VisitError):
    """The move is not possible from where the visit stands."""

    def __init__(self, status: VisitStatus, action: VisitAction) -> None:
        super().__init__(f"{action.value} from {status.value}")
        self.status = status
        self.action = action


class ConsentNeeded(VisitError):
    """A minor cannot be treated until a guardian's consent is confirmed."""


class StationBusy(VisitError):
    def __init__(self, station: str) -> None:
        super().__init__(station)
        self.station = station


class UnknownStation(VisitError):
    pass


class NobodyWaiting(VisitError):
    """No one in the queue can be called (or only minors awaiting consent)."""


class SeatTaken(VisitError):
    """Undoing a no-show or cancel needs the seat back, and a walk-in has taken it."""


class NothingToUndo(VisitError):
    pass


class ScheduleChanged(VisitError):
    """Undoing would put a visit back on a time the schedule no longer offers (the day was
    closed, the hours changed, or the time was blocked)."""


class OtherAppointment(VisitError):
    """Undoing would give the youth a second upcoming appointment (they booked another)."""


class FormReused(VisitError):
    """The walk-in form already added someone else (the Back button)."""


class NoFreeSeat(VisitError):
    """A walk-in, but every seat left today is taken."""


class NoClinicToday(VisitError):
    pass


class TreatmentIncomplete(VisitError):
    """A treatment recorded without its area, skin type or laser settings."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = tuple(missing)


class ConsentNotChosen(VisitError):
    """A minor's walk-in without the desk saying what the guardian said (confirmed, not
    needed, or not confirmed yet): never assumed."""
