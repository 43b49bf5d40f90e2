"""The de-identified visit list: one row per visit on a period's clinic days, the list a funder
may take away to count in their own way (``clinic.web.staff.reports.visit_list`` writes it as CSV
or a spreadsheet).

A row says what a funder's questions need and nothing that points at a person: a pseudonym in
place of the youth (stable within one list, so their visits can be followed across it, and
different in every list, so two lists cannot be joined on it), the day, what became of the
visit, whether it was a walk-in or was moved, the youth's session number and whether they were
new, their age band, whether they were a minor and their guardian's consent was recorded, their
language and how they heard of the clinic. Never: names, birth dates or exact ages, contact
details, screening answers, notes, appointment codes, record ids, times, stations or staff.

The facts match the report's figures (``clinic.reports.figures``): the same statuses, the same
count of completed visits (all time, in order of day, time and booking), the same age (the age
kept at erasure first, else from the birth date), the same language (the youth's) and the same
referral (the visit's intake).

Rows are read by one statement, streamed from the database in batches, so a list of years of
visits is never held in memory whole.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Select, case, exists, func, select

from clinic.booking.moves import RESCHEDULE
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AppointmentStatus,
    Intake,
    Slot,
    StatusChange,
    Youth,
)
from clinic.reports.facts import CONSENT_RECORDED, NOT_RECORDED, referral_codes, session_order
from clinic.reports.sql import age_on
from clinic.rules.policy import ClinicRules
from clinic.rules.reports import Period, age_band

# Hex digits of a pseudonym: 48 bits. Among 20,000 youth the chance that two share one in a
# list is about n^2 / 2^49, under one in a million (32 bits would make it about 5%).
PSEUDONYM_HEX = 12
# Rows fetched from the database at a time while the list streams.
BATCH = 500


class Outcome(enum.StrEnum):
    """What became of a visit, as the list says it: a stable code, labelled by the export."""

    BOOKED = "booked"  # still ahead, or its day not closed yet
    CAME = "came"  # checked in or in treatment, no treatment recorded
    TREATED = "treated"  # completed: a treatment recorded
    NO_SHOW = "no_show"
    CANCELLED_BY_STAFF = "cancelled_by_staff"  # a staff account, a cancelled day included
    CANCELLED_BY_YOUTH = "cancelled_by_youth"  # from their own link


class VisitRow(NamedTuple):
    """One visit of the list, in the list's column order."""

    youth: str  # the pseudonym, "Y-" and PSEUDONYM_HEX hex digits
    day: date
    outcome: Outcome
    walk_in: bool
    # Treated rows only: the youth's nth completed visit, counted over all time.
    session: int | None
    new: bool  # no completed visit before this one
    age_band: str | None  # "13-15" .. "22-25"; None outside every band
    minor: bool | None  # None when the age is unknown
    # Minors only: consent confirmed, or exempt by staff decision (as the figures count it).
    consent: bool | None
    language: str  # the youth's language code
    referral: str  # a vocab.REFERRAL_SOURCES code, or NOT_RECORDED
    moved: bool  # moved to another time at least once, by the youth or the desk


COLUMNS: tuple[str, ...] = VisitRow._fields


def export_key() -> bytes:
    """A fresh key for one list's pseudonyms, drawn from ``secrets`` and never stored: once the
    list is written, nobody (the clinic included) can tell which youth a pseudonym stands for,
    nor match it with another list's."""
    return secrets.token_bytes(32)


def pseudonym(key: bytes, youth_id: int) -> str:
    """The youth's name in one list: an HMAC-SHA256 of their record's id under the list's key.
    Without the key the id cannot be found from it, even by trying every id."""
    digest = hmac.new(key, str(youth_id).encode(), hashlib.sha256).hexdigest()
    return "Y-" + digest[:PSEUDONYM_HEX]


def visit_count(period: Period) -> int:
    """How many rows ``visit_rows`` gives for ``period`` (for the export's audit event)."""
    counted = db.session.scalar(
        select(func.count())
        .select_from(Appointment)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Slot.day.between(period.start, period.end))
    )
    return counted or 0


def visit_rows(period: Period, rules: ClinicRules, key: bytes | None = None) -> Iterator[VisitRow]:
    """Every visit on the period's clinic days, in order of day and time, one ``VisitRow``
    each, read by one statement as the caller iterates. ``key``: the list's pseudonym key
    (``export_key``; a fresh one if not given)."""
    key = key if key is not None else export_key()
    referrals = referral_codes()
    names: dict[int, str] = {}
    result = db.session.execute(_statement(period).execution_options(yield_per=BATCH))
    for row in result:
        name = names.get(row.youth_id)
        if name is None:
            name = names[row.youth_id] = pseudonym(key, row.youth_id)
        treated = row.status == AppointmentStatus.COMPLETED
        # The running count includes this visit when it is a completed one.
        before = row.completed_so_far - (1 if treated else 0)
        age = row.age
        minor = None if age is None or age < 0 else age < rules.ages.adult
        yield VisitRow(
            youth=name,
            day=row.day,
            outcome=_outcome(row.status, bool(row.by_staff)),
            walk_in=bool(row.walk_in),
            session=row.completed_so_far if treated else None,
            new=before == 0,
            age_band=age_band(age) if age is not None else None,
            minor=minor,
            consent=row.consent in CONSENT_RECORDED if minor else None,
            language=row.language,
            referral=referrals.get(row.referral_index, NOT_RECORDED),
            moved=bool(row.moved),
        )


_OUTCOMES = {
    AppointmentStatus.BOOKED: Outcome.BOOKED,
    AppointmentStatus.CHECKED_IN: Outcome.CAME,
    AppointmentStatus.IN_TREATMENT: Outcome.CAME,
    AppointmentStatus.COMPLETED: Outcome.TREATED,
    AppointmentStatus.NO_SHOW: Outcome.NO_SHOW,
}


def _outcome(status: str, by_staff: bool) -> Outcome:
    if status == AppointmentStatus.CANCELLED:
        # A cancellation names its staff member; one from the youth's link names nobody.
        return Outcome.CANCELLED_BY_STAFF if by_staff else Outcome.CANCELLED_BY_YOUTH
    return _OUTCOMES[AppointmentStatus(status)]


def _statement(period: Period) -> Select[Any]:
    """The period's visits with each youth's running count of completed visits.

    The count is a window over the youth's visits of all time up to the period's end (only
    the youth with a visit in the period), in the order the report counts sessions (day, time,
    booking); the list then keeps the period's rows. A visit's running count is its session
    number when it was completed, and the number of sessions before it otherwise.
    """
    order = session_order()
    in_period = Slot.day.between(period.start, period.end)
    youth_in_period = (
        select(Appointment.youth_id).join(Slot, Slot.id == Appointment.slot_id).where(in_period)
    )
    completed = Appointment.status == AppointmentStatus.COMPLETED
    history = (
        select(
            Appointment.id,
            func.sum(case((completed, 1), else_=0))
            .over(partition_by=Appointment.youth_id, order_by=order, rows=(None, 0))
            .label("completed_so_far"),
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Slot.day <= period.end, Appointment.youth_id.in_(youth_in_period))
        .subquery("history")
    )
    moved = exists().where(
        StatusChange.appointment_id == Appointment.id, StatusChange.action == RESCHEDULE
    )
    # An erased record keeps only its birth year: the age written at erasure comes first.
    age = func.coalesce(Appointment.age_at_visit, age_on(Youth.date_of_birth, Slot.day))
    return (
        select(
            Appointment.youth_id,
            Slot.day,
            Appointment.status,
            Appointment.cancelled_by_id.is_not(None).label("by_staff"),
            Appointment.walk_in,
            history.c.completed_so_far,
            age.label("age"),
            Appointment.consent,
            Youth.language,
            Intake.referral_index,
            moved.label("moved"),
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .join(Youth, Youth.id == Appointment.youth_id)
        .join(history, history.c.id == Appointment.id)
        .outerjoin(Intake, Intake.appointment_id == Appointment.id)
        .where(in_period)
        .order_by(*order)
    )
