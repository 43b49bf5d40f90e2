"""Every setting the rules take, gathered in one value that the app builds from its
configuration once per request (``clinic.settings.current_rules``) and passes to the use cases,
so that no use case reads the configuration itself.

Pure: no Flask, no SQLAlchemy, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, tzinfo

from clinic.rules.calendar import DayDefaults
from clinic.rules.eligibility import AgeLimits, BookingWindow
from clinic.rules.messages import ReminderPolicy
from clinic.rules.selfservice import LinkPolicy, OfferPolicy


@dataclass(frozen=True)
class ClinicRules:
    """The clinic's settings, with the defaults DOMAIN.md describes."""

    zone: tzinfo
    day: DayDefaults = DayDefaults()
    window: BookingWindow = BookingWindow()
    ages: AgeLimits = AgeLimits()
    follow_up: timedelta = timedelta(weeks=6)  # the least time between two sessions
    # The treatment stations (lasers with a clinician), by the names staff use.
    stations: tuple[str, ...] = ("Laser 1", "Laser 2")
    # A booked youth not here this long after their time is offered to staff as a no-show.
    no_show_grace: timedelta = timedelta(minutes=15)
    reminders: ReminderPolicy = ReminderPolicy()
    links: LinkPolicy = LinkPolicy()
    offers: OfferPolicy = OfferPolicy()
