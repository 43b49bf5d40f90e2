"""The waiting room's screen: the ticket at each station and the next tickets, in the order
they will be called. Numbers only, never a name (it hangs on a public wall)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from clinic.booking.roster import rostered_counts
from clinic.clinic_day.moves import waiting_from
from clinic.extensions import db
from clinic.models import Appointment, Slot, Youth
from clinic.rules.calendar import stations_for
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import VisitStatus, call_order


@dataclass(frozen=True)
class NowServing:
    """What the waiting-room screen shows: ticket numbers only, never names."""

    stations: list[tuple[str, int | None]]
    next_tickets: list[int]


# How many coming tickets the screen lists: enough to see one's turn approach, few enough
# to read across a room.
NEXT_SHOWN = 6


def open_stations(stations: Sequence[str], day: date) -> tuple[str, ...]:
    """The stations open on ``day``: one per clinician rostered, all without a roster."""
    return stations_for(stations, rostered_counts(day, day).get(day, 0))


def waiting_room(day: date, rules: ClinicRules) -> NowServing:
    """Who is at each station and who comes next, as ticket numbers, in two statements (the
    day's tickets, and how many clinicians are rostered: the stations open that day).

        Rule: "next" is the call order (``rules.visits.call_order``), the one "Call next"
        follows, so a minor waiting for a guardian's consent is not listed until it is recorded.
    """
    rows = db.session.execute(
        select(
            Appointment.id,
            Appointment.status,
            Appointment.ticket,
            Appointment.station,
            Appointment.arrived_at,
            Appointment.consent,
            Slot.start_time,
            Youth.date_of_birth,
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .join(Youth, Youth.id == Appointment.youth_id)
        .where(
            Slot.day == day,
            Appointment.status.in_((VisitStatus.CHECKED_IN, VisitStatus.IN_TREATMENT)),
        )
    ).all()
    busy = {row.station: row.ticket for row in rows if row.status == VisitStatus.IN_TREATMENT}
    tickets = {row.id: row.ticket for row in rows}
    waiting = [
        waiting_from(row, day, rules) for row in rows if row.status == VisitStatus.CHECKED_IN
    ]
    return NowServing(
        stations=[(name, busy.get(name)) for name in open_stations(rules.stations, day)],
        next_tickets=[
            tickets[w.appointment_id]
            for w in call_order(waiting)[:NEXT_SHOWN]
            if tickets[w.appointment_id]
        ],
    )
