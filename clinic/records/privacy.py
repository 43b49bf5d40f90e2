"""Retention and the youth's rights: which records are due for erasure, erasing one youth's
personal data (by the retention purge, or on their request), and exporting it.

Erasing keeps the rows and the anonymous facts the reports count (visits per day and status,
unique youth, treatments and their areas, age bands through ``Appointment.age_at_visit``,
language, referral source, tattoo kind, size and count, consent recorded), and removes what
names or reaches a person: names, the birth date's day and month, contact and guardian
details, screening answers, tattoo and treatment notes, laser settings and skin type, list
answers, message addresses and contexts, and the youth's links. Audit events are kept (they
hold field names, never values). Every write goes through the models' columns, so a column
stored encrypted (``clinic.crypto``) is written as its type says.

Use cases take plain values and run in one transaction each; a purge commits per batch, so it
can run while the clinic books.
"""

from __future__ import annotations

import secrets
import time as timer
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from flask_babel import force_locale
from sqlalchemy import Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import joinedload

from clinic import audit, vocab
from clinic.booking import offers
from clinic.booking.seats import give_back_seat
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.models import (
    Actor,
    Appointment,
    EntryStatus,
    Intake,
    ListEntry,
    MessageStatus,
    OutboxMessage,
    Slot,
    StaffUser,
    StatusChange,
    Treatment,
    Youth,
    YouthChange,
    YouthLink,
    naive_utc,
)
from clinic.permissions import Action, require
from clinic.rules.eligibility import age_on
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import VisitAction, VisitStatus

# What an erased record's names become: "Erased #123" wherever a page prints the names
# (``Youth.display_name`` says "Erased record #123" in the reader's language).
ERASED_FIRST_NAME = "Erased"

# The fields emptied, by table: what the audit event lists (names, never values).
CONTACT = ("phone", "email", "contact_by", "guardian_name", "guardian_relationship")
CONTACT_FIELDS = (*CONTACT, "guardian_phone")
YOUTH_FIELDS = (
    "first_name",
    "last_name",
    "preferred_name",
    "search_name",
    "identity_key",
    "date_of_birth",
    *CONTACT_FIELDS,
)
ERASED_FIELDS = (
    *(f"youth.{name}" for name in YOUTH_FIELDS),
    *(f"intake.{name}" for name in (*CONTACT_FIELDS, "tattoo_notes", "screening")),
    # Skin type goes too: no report counts it, and with the areas and the visit days it would
    # narrow an anonymous row down to a person.
    *(f"treatment.{name}" for name in ("notes", "settings", "skin_type")),
    *(f"list_entry.{name}" for name in (*CONTACT_FIELDS, "answers")),
    "outbox_message.recipient",
    "outbox_message.context",
    "youth_link",
)
# Messages still to go when a record is erased: they go nowhere now.
UNSENT = (MessageStatus.QUEUED, MessageStatus.SENDING)
# A youth in the building (checked in or being treated today) is not erased under them.
IN_CLINIC = (VisitStatus.CHECKED_IN, VisitStatus.IN_TREATMENT)
PURGE_BATCH = 500


class ErasureRefused(Exception):
    """The youth is in the clinic now (checked in or in treatment): finish or cancel that
    visit first."""


@dataclass
class Erased:
    """What one erasure (or a purge, summed over its batches) did."""

    youth: int = 0  # records erased, merged-away ones included
    appointments: int = 0  # kept, anonymous
    messages: int = 0  # addresses and contexts cleared
    links: int = 0  # deleted
    cancelled: int = 0  # upcoming bookings cancelled first (a request only)
    removed: int = 0  # waiting-list places withdrawn first (a request only)

    def add(self, other: Erased) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


# --- Who is due ----------------------------------------------------------------------------


def retention_cutoff(today: date, years: int) -> date:
    """``today`` ``years`` years back (29 February falls back to the 28th)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def _due(cutoff: date, among: Sequence[int] | None = None) -> Select[tuple[int]]:
    """The ids of the youth whose personal data the retention rule erases: one statement.

    Rule: a record (not merged into another) created before ``cutoff``, with no appointment
    of any status on or after it (which covers every upcoming booking), no place still
    waiting on a list, and no list joined on or after it (a recent request for a seat is
    contact too). A record merged into another follows that one: it goes with it (see
    ``_erase_rows``), or on its own once that one is erased already.
    """
    since = datetime.combine(cutoff, time())
    recent_visit = (
        select(Appointment.id)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(Appointment.youth_id == Youth.id, Slot.day >= cutoff)
    )
    open_or_recent_entry = select(ListEntry.id).where(
        ListEntry.youth_id == Youth.id,
        or_(ListEntry.status == EntryStatus.WAITING, ListEntry.joined_at >= since),
    )
    erased_roots = select(Youth.id).where(Youth.purged_at.is_not(None)).scalar_subquery()
    query = select(Youth.id).where(
        Youth.purged_at.is_(None),
        or_(
            and_(
                Youth.merged_into_id.is_(None),
                Youth.created_at < since,
                ~exists(recent_visit),
                ~exists(open_or_recent_entry),
            ),
            Youth.merged_into_id.in_(erased_roots),
        ),
    )
    if among is not None:
        query = query.where(Youth.id.in_(among))
    return query.order_by(Youth.id)


def due_youth(cutoff: date) -> list[int]:
    """The ids the retention rule erases now (``_due``), oldest records first."""
    return list(db.session.scalars(_due(cutoff)))


# --- Erasing -------------------------------------------------------------------------------


def _erase_rows(youth_ids: Iterable[int], action: str, now: datetime) -> Erased:
    """Erase the personal data of ``youth_ids`` and of the records merged into them, in the
    caller's transaction, with one audit event each (``action``: "purge" or "erase"). A
    fixed number of statements per call, however many youth."""
    roots = sorted(set(youth_ids))
    if not roots:
        return Erased()
    aliases = db.session.scalars(
        select(Youth.id).where(Youth.merged_into_id.in_(roots), Youth.purged_at.is_(None))
    )
    ids = sorted({*roots, *aliases})
    stamp = naive_utc(now)

    # The age at each visit, from the real birth date, before it keeps only its year.
    visits = db.session.execute(
        select(Appointment.id, Slot.day, Youth.date_of_birth)
        .join(Slot, Slot.id == Appointment.slot_id)
        .join(Youth, Youth.id == Appointment.youth_id)
        .where(Appointment.youth_id.in_(ids))
    ).all()
    if visits:
        db.session.execute(
            update(Appointment),
            [
                {"id": id_, "age_at_visit": age_on(birth, day) if day >= birth else None}
                for id_, day, birth in visits
            ],
        )

    births = db.session.execute(
        select(Youth.id, Youth.date_of_birth).where(Youth.id.in_(ids))
    ).all()
    no_contact = dict.fromkeys(CONTACT_FIELDS)
    db.session.execute(
        update(Youth),
        [
            {
                "id": id_,
                "first_name": ERASED_FIRST_NAME,
                "last_name": f"#{id_}",
                "preferred_name": None,
                "search_name": "",
                # Random: a later booking in the same name and birth date starts a new record.
                "identity_key": secrets.token_hex(32),
                # The year alone, as HIPAA's Safe Harbor keeps it.
                "date_of_birth": date(birth.year, 1, 1),
                **no_contact,
                "purged_at": stamp,
                "updated_at": stamp,
            }
            for id_, birth in births
        ],
    )

    quietly = {"synchronize_session": False}
    appointment_ids = select(Appointment.id).where(Appointment.youth_id.in_(ids))
    entry_ids = select(ListEntry.id).where(ListEntry.youth_id.in_(ids))
    db.session.execute(
        update(Intake)
        .where(Intake.appointment_id.in_(appointment_ids))
        .values(**no_contact, tattoo_notes=None, screening=[])
        .execution_options(**quietly)
    )
    db.session.execute(
        update(Treatment)
        .where(Treatment.youth_id.in_(ids))
        .values(notes=None, settings=None, skin_type=None)
        .execution_options(**quietly)
    )
    db.session.execute(
        update(ListEntry)
        .where(ListEntry.youth_id.in_(ids))
        .values(**no_contact, answers={})
        .execution_options(**quietly)
    )
    theirs = or_(
        OutboxMessage.appointment_id.in_(appointment_ids), OutboxMessage.entry_id.in_(entry_ids)
    )
    db.session.execute(
        update(OutboxMessage)
        .where(theirs, OutboxMessage.status.in_(UNSENT))
        .values(status=MessageStatus.CANCELLED, claim_token=None, claimed_until=None)
        .execution_options(**quietly)
    )
    messages = db.session.execute(
        update(OutboxMessage)
        .where(theirs)
        .values(recipient=None, context={})
        .execution_options(**quietly)
    ).rowcount
    links = db.session.execute(
        delete(YouthLink)
        .where(
            or_(YouthLink.appointment_id.in_(appointment_ids), YouthLink.entry_id.in_(entry_ids))
        )
        .execution_options(**quietly)
    ).rowcount
    # The values staff replaced (an old phone, a former guardian) are personal data too.
    db.session.execute(
        delete(YouthChange).where(YouthChange.youth_id.in_(ids)).execution_options(**quietly)
    )
    # One event per youth, written with one INSERT at the commit (the audit trail's way for
    # Core UPDATEs, which the flush never sees): a purge of thousands stays a few statements.
    for id_ in ids:
        audit.changed("youth", id_, ERASED_FIELDS, youth_id=id_, action=action)
    return Erased(youth=len(ids), appointments=len(visits), messages=messages, links=links)


def _lock(youth_ids: Sequence[int]) -> None:
    """Take the youth rows' locks (PostgreSQL; SQLite's write lock is held already), so a
    booking for one of them either committed before (and is seen) or waits until after."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Youth.id).where(Youth.id.in_(youth_ids)).with_for_update()).all()


def purge_batch(youth_ids: Sequence[int], cutoff: date, now: datetime) -> Erased:
    """Erase those of ``youth_ids`` still due (read again under their locks: one may have
    booked meanwhile), in one transaction."""
    with write_transaction():
        _lock(youth_ids)
        still_due = list(db.session.scalars(_due(cutoff, among=youth_ids)))
        return _erase_rows(still_due, "purge", now)


@dataclass
class PurgeReport:
    due: int
    done: Erased = field(default_factory=Erased)
    seconds: float = 0.0


def purge(
    cutoff: date,
    now: datetime,
    *,
    batch_size: int = PURGE_BATCH,
    due: list[int] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> PurgeReport:
    """Erase every youth due under the retention rule (``_due``), ``batch_size`` per
    transaction; ``on_batch`` hears how many ids each batch took (a progress bar). Running
    it again erases nothing more."""
    started = timer.perf_counter()
    ids = due_youth(cutoff) if due is None else due
    db.session.rollback()  # end the read: each batch is its own write transaction
    report = PurgeReport(due=len(ids))
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        report.done.add(purge_batch(batch, cutoff, now))
        if on_batch is not None:
            on_batch(len(batch))
    report.seconds = timer.perf_counter() - started
    return report


# --- Erasing on request --------------------------------------------------------------------


@dataclass(frozen=True)
class Upcoming:
    day: date
    start: time
    code: str


@dataclass(frozen=True)
class ErasurePreview:
    """What erasing a youth on request will do, for the admin to confirm."""

    youth_id: int
    name: str
    purged_at: datetime | None
    appointments: int
    treatments: int
    upcoming: list[Upcoming]  # cancelled first (their seats go to the lists)
    waiting: int  # list places withdrawn first
    in_clinic: bool  # refused: the youth is here now


def _root(youth_id: int) -> Youth | None:
    youth = db.session.get(Youth, youth_id, populate_existing=True)
    if youth is not None and youth.merged_into_id is not None:
        youth = db.session.get(Youth, youth.merged_into_id, populate_existing=True)
    return youth


def _visits(youth_id: int) -> list[tuple[int, int, date, time, str, str]]:
    return [
        tuple(row)
        for row in db.session.execute(
            select(
                Appointment.id,
                Appointment.slot_id,
                Slot.day,
                Slot.start_time,
                Appointment.status,
                Appointment.code,
            )
            .join(Slot, Slot.id == Appointment.slot_id)
            .where(Appointment.youth_id == youth_id)
        )
    ]


def erasure_preview(youth_id: int, actor: StaffUser, today: date) -> ErasurePreview | None:
    """What erasing ``youth_id`` (or the record it was merged into) will do; None if there is
    no such record."""
    require(actor.role, Action.MANAGE_PRIVACY)
    youth = _root(youth_id)
    if youth is None:
        return None
    visits = _visits(youth.id)
    treatments = db.session.scalar(
        select(func.count()).select_from(Treatment).where(Treatment.youth_id == youth.id)
    )
    waiting = db.session.scalar(
        select(func.count())
        .select_from(ListEntry)
        .where(ListEntry.youth_id == youth.id, ListEntry.status == EntryStatus.WAITING)
    )
    return ErasurePreview(
        youth_id=youth.id,
        name=youth.display_name,
        purged_at=youth.purged_at,
        appointments=len(visits),
        treatments=treatments or 0,
        upcoming=sorted(
            Upcoming(day, start, code)
            for _id, _slot, day, start, status, code in visits
            if status == VisitStatus.BOOKED and day >= today
        ),
        waiting=waiting or 0,
        in_clinic=any(status in IN_CLINIC and day >= today for *_, day, _s, status, _c in visits),
    )


def erase_on_request(youth_id: int, actor: StaffUser, rules: ClinicRules, now: datetime) -> Erased:
    """Erase one youth's personal data at their request (admin), in one transaction.

    Their upcoming bookings are cancelled first and their waiting places withdrawn, each
    seat passed to the lists as any cancellation's is, without a message to the youth (whose
    address goes). Refused (``ErasureRefused``) while they are checked in or being treated
    today. Raises ``LookupError`` for no such record; an erased record is left as it is.
    """
    require(actor.role, Action.MANAGE_PRIVACY)
    today = now.date()
    with write_transaction():
        youth = _root(youth_id)
        if youth is None:
            raise LookupError(youth_id)
        _lock([youth.id])
        if youth.purged_at is not None:
            return Erased()
        visits = _visits(youth.id)
        if any(status in IN_CLINIC and day >= today for *_, day, _s, status, _c in visits):
            raise ErasureRefused()
        cancelled, freed_days = _cancel_upcoming(visits, actor, now)
        removed = _withdraw_places(youth.id, actor, rules, now)
        done = _erase_rows([youth.id], "erase", now)
        for day in sorted(freed_days):
            offers.fill_freed(day, rules, now)
        done.cancelled, done.removed = cancelled, removed
        return done


def _cancel_upcoming(
    visits: list[tuple[int, int, date, time, str, str]], actor: StaffUser, now: datetime
) -> tuple[int, set[date]]:
    """Cancel the youth's upcoming bookings as staff would (history, seat given back), with
    no message; returns how many, and the days whose seats are free again."""
    today, stamp = now.date(), naive_utc(now)
    cancelled, days = 0, set()
    for id_, slot_id, day, _start, status, _code in visits:
        if status != VisitStatus.BOOKED or day < today:
            continue
        moved = db.session.execute(
            update(Appointment)
            .where(Appointment.id == id_, Appointment.status == VisitStatus.BOOKED)
            .values(status=VisitStatus.CANCELLED, cancelled_at=stamp, cancelled_by_id=actor.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            continue
        db.session.add(
            StatusChange(
                appointment_id=id_,
                action=VisitAction.CANCEL,
                from_status=VisitStatus.BOOKED,
                to_status=VisitStatus.CANCELLED,
                staff_id=actor.id,
                actor=Actor.STAFF,
                at=stamp,
            )
        )
        give_back_seat(slot_id)
        cancelled += 1
        days.add(day)
    return cancelled, days


def _withdraw_places(youth_id: int, actor: StaffUser, rules: ClinicRules, now: datetime) -> int:
    """Take the youth off every list they wait on (as staff remove), passing any seat held
    for them to the next person."""
    entry_ids = list(
        db.session.scalars(
            update(ListEntry)
            .where(ListEntry.youth_id == youth_id, ListEntry.status == EntryStatus.WAITING)
            .values(status=EntryStatus.REMOVED, closed_at=naive_utc(now), closed_by_id=actor.id)
            .returning(ListEntry.id)
            .execution_options(synchronize_session=False)
        )
    )
    for entry_id in entry_ids:  # a Core UPDATE: the flush would not see it
        audit.changed(
            "list_entry", entry_id, ("status", "closed_at", "closed_by_id"), youth_id=youth_id
        )
    offers.withdraw_offers(entry_ids, rules, now)
    return len(entry_ids)


# --- Export --------------------------------------------------------------------------------


def _labelled(choices: list[tuple[str, Any]]) -> dict[str, str]:
    return {code: str(label) for code, label in choices}


def _when(moment: datetime | None) -> str | None:
    """A stored UTC time as ISO 8601 with its zone."""
    return f"{moment.isoformat(timespec='minutes')}Z" if moment else None


def export_youth(youth_id: int, actor: StaffUser, now: datetime) -> dict[str, Any] | None:
    """Everything the clinic holds about one youth, as a document with readable keys: the
    record, each appointment with its intake answers and treatment (notes included), list
    places and the messages sent. Labels are in the youth's language. Recorded as an
    "export" audit event (committed). None if there is no such record."""
    require(actor.role, Action.MANAGE_PRIVACY)
    youth = _root(youth_id)
    if youth is None:
        return None
    appointments = list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.youth_id == youth.id)
            .options(
                joinedload(Appointment.slot),
                joinedload(Appointment.intake),
                joinedload(Appointment.treatment).joinedload(Treatment.clinician),
            )
            .order_by(Appointment.id)
        ).unique()
    )
    entries = list(
        db.session.scalars(
            select(ListEntry).where(ListEntry.youth_id == youth.id).order_by(ListEntry.id)
        )
    )
    appointment_ids = [a.id for a in appointments]
    entry_ids = [e.id for e in entries]
    messages = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.appointment_id.in_(appointment_ids),
                    OutboxMessage.entry_id.in_(entry_ids),
                )
            )
            .order_by(OutboxMessage.id)
        )
    )
    changes = list(
        db.session.scalars(
            select(YouthChange).where(YouthChange.youth_id == youth.id).order_by(YouthChange.id)
        )
    )
    with force_locale(youth.language or "en"):
        document = _document(youth, appointments, entries, messages, now, changes)
    audit.record(
        "export",
        youth_id=youth.id,
        object_type="youth",
        object_id=youth.id,
        fields=(
            "youth",
            "youth_change",
            "appointment",
            "intake",
            "treatment",
            "list_entry",
            "outbox_message",
        ),
    )
    db.session.commit()
    return document


def _contact(row: Youth | Intake | ListEntry, channels: dict[str, str]) -> dict[str, Any]:
    return {
        "Phone": row.phone,
        "Email": row.email,
        "Messages by": channels.get(row.contact_by or "", row.contact_by),
        "Parent or guardian": {
            "Name": row.guardian_name,
            "Relationship": row.guardian_relationship,
            "Phone": row.guardian_phone,
        },
    }


def _document(
    youth: Youth,
    appointments: list[Appointment],
    entries: list[ListEntry],
    messages: list[OutboxMessage],
    now: datetime,
    changes: list[YouthChange],
) -> dict[str, Any]:
    area, screening = _labelled(vocab.TATTOO_LOCATIONS), _labelled(vocab.SCREENING_FLAGS)
    size, colors = _labelled(vocab.TATTOO_SIZES), _labelled(vocab.TATTOO_COLORS)
    kind, referral = _labelled(vocab.TATTOO_KINDS), _labelled(vocab.REFERRAL_SOURCES)
    channels, languages = _labelled(vocab.CONTACT_CHANNELS), _labelled(vocab.LANGUAGES)

    def visit(appointment: Appointment) -> dict[str, Any]:
        intake, treatment = appointment.intake, appointment.treatment
        return {
            "Date": appointment.slot.day.isoformat(),
            "Time": appointment.slot.start_time.strftime("%H:%M"),
            "Status": appointment.status,
            "Code": appointment.code,
            "Walk-in": appointment.walk_in,
            "Booked at": _when(appointment.created_at),
            "Arrived at": _when(appointment.arrived_at),
            "Cancelled at": _when(appointment.cancelled_at),
            "Guardian consent": appointment.consent,
            "Intake answers": None
            if intake is None
            else {
                **_contact(intake, channels),
                "Language": languages.get(intake.language, intake.language),
                "Number of tattoos": intake.tattoo_count,
                "Where": [area.get(code, code) for code in intake.tattoo_locations or []],
                "Size": size.get(intake.tattoo_size, intake.tattoo_size),
                "Colours": colors.get(intake.tattoo_colors, intake.tattoo_colors),
                "Kind": kind.get(intake.tattoo_kind, intake.tattoo_kind),
                "Years since the tattoo": intake.tattoo_age_years,
                "Had removal before": intake.previous_removal,
                "About the tattoo": intake.tattoo_notes,
                "Health questions ticked": [
                    screening.get(code, code) for code in intake.screening or []
                ],
                "How they heard of the clinic": referral.get(
                    intake.referral_source, intake.referral_source
                ),
            },
            "Treatment": None
            if treatment is None
            else {
                "Session": treatment.session_number,
                "Areas": [area.get(code, code) for code in treatment.areas or []],
                "Skin type": treatment.skin_type,
                "Laser settings": treatment.settings,
                "Notes": treatment.notes,
                "Clinician": treatment.clinician.name,
            },
        }

    return {
        "About this file": (
            "The personal data the clinic holds about one young person, exported at their "
            "request. Dates are the clinic's; times ending in Z are UTC."
        ),
        "Exported at": _when(naive_utc(now)),
        "Record": {
            "Record number": youth.id,
            "First name": youth.first_name,
            "Last name": youth.last_name,
            "Goes by": youth.preferred_name,
            "Date of birth": youth.date_of_birth.isoformat(),
            "Language": languages.get(youth.language, youth.language),
            **_contact(youth, channels),
            "Record created at": _when(youth.created_at),
            "Erased at": _when(youth.purged_at),
        },
        "Details changed by staff": [
            {"Changed at": _when(change.at), "Field": change.field, "Before": change.old_value}
            for change in changes
        ],
        "Appointments": [visit(a) for a in appointments],
        "Standby and waiting lists": [
            {
                "List": "standby" if entry.kind == "standby" else "waiting list",
                "Day": entry.day.isoformat() if entry.day else None,
                "Status": entry.status,
                "Joined at": _when(entry.joined_at),
                "Closed at": _when(entry.closed_at),
                **_contact(entry, channels),
            }
            for entry in entries
        ],
        "Messages": [
            {
                "Kind": message.kind,
                "Sent by": channels.get(message.channel, message.channel),
                "Status": message.status,
                "Written at": _when(message.created_at),
                "Sent at": _when(message.sent_at),
                "Sent to": message.recipient,
            }
            for message in messages
        ],
    }


__all__ = [
    "ERASED_FIELDS",
    "Erased",
    "ErasurePreview",
    "ErasureRefused",
    "PurgeReport",
    "due_youth",
    "erase_on_request",
    "erasure_preview",
    "export_youth",
    "purge",
    "purge_batch",
    "retention_cutoff",
]
