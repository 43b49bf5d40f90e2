"""Why a schedule change is refused, or waits for the admin's choice; the staff views put
each into words."""

from __future__ import annotations

from clinic.schedule.days import (
    Affected,
    Resolution,
)


class ScheduleError(Exception):
    """A schedule change refused by a rule; the view explains it."""


class DayPassed(ScheduleError):
    """A day in the past cannot be changed: it is the record of what happened."""


class NotAClinicDay(ScheduleError):
    """The clinic does not open that day (not on the rule, or closed), so it cannot be
    closed, changed or have a slot blocked."""


class AlreadyAClinicDay(ScheduleError):
    """An extra day on a date the clinic already opens."""


class ClosedDay(ScheduleError):
    """An extra day on a date that was closed: reopen it instead."""


class TooFarAhead(ScheduleError):
    """An extra day beyond the schedule page's horizon."""


class NotClosed(ScheduleError):
    pass


class NotExtra(ScheduleError):
    """Only an extra day can be removed; a regular day is closed instead."""


class NoSuchSlot(ScheduleError):
    """The day has no appointment time starting then."""


class NotAClinician(ScheduleError):
    """Only active clinician accounts can be rostered (one was deactivated or changed role
    since the page was drawn)."""


class InvalidHours(ScheduleError):
    """Hours, slot length or seats that cannot make a clinic day. ``field`` is the form field
    concerned; ``reason`` one of ``HOURS_REASONS``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


HOURS_REASONS = ("end_before_start", "slot_minutes", "seats", "no_slots")


class Stranding(ScheduleError):
    """The change would strand these bookings: the admin must choose one of ``options``.

    ``changed`` means the admin had chosen already, but the list now holds a booking they did
    not see (someone booked meanwhile): nothing was done, and they are asked again. ``movable`` says
    whether every one of them fits in a free seat of the new plan the same day.
    """

    def __init__(
        self,
        affected: list[Affected],
        options: tuple[Resolution, ...],
        movable: bool,
        changed: bool = False,
    ) -> None:
        super().__init__(f"{len(affected)} bookings")
        self.affected = affected
        self.options = options
        self.movable = movable
        self.changed = changed


class CannotMove(Stranding):
    """The admin chose to move the bookings, but not every one fits in a free seat the same
    day: nothing was done, and the other choices stand."""

    def __init__(self, affected: list[Affected], options: tuple[Resolution, ...]) -> None:
        super().__init__(affected, options, movable=False)


class ChangedMeanwhile(ScheduleError):
    """A booking changed status while the change was being made (the desk cancelled or
    checked it in): nothing was done."""
