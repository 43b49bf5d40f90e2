"""One youth's record as the acting staff member may see it: identity, contact (``SEE_CONTACT``),
visits with who changed each (staff, or the youth from their link), treatments, standby and
waiting-list entries, screening answers and notes (``SEE_CLINICAL``). What a record shows is
filtered here, by the actor's role, so a template cannot show what the role may not see. Reads
only, in a fixed number of statements however long the history."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload, selectinload

from clinic import booking
from clinic.booking import list_reads
from clinic.extensions import db
from clinic.models import (
    Actor,
    Appointment,
    Intake,
    StaffUser,
    StatusChange,
    Treatment,
    Youth,
    YouthChange,
)
from clinic.permissions import Action, can, require
from clinic.records.lookup import PossibleDuplicate, possible_duplicates
from clinic.rules.eligibility import age_today
from clinic.rules.visits import VisitStatus, earliest_follow_up

CONTACT_FIELDS = (
    "phone",
    "email",
    "language",
    "contact_by",
    "guardian_name",
    "guardian_relationship",
    "guardian_phone",
)


GUARDIAN_FIELDS = ("guardian_name", "guardian_relationship", "guardian_phone")

# What staff may edit on a record (``clinic.records.edit``), in the edit form's order.
EDITABLE_FIELDS = ("preferred_name", *CONTACT_FIELDS)

# The no-show history's default reach (the setting ``NO_SHOW_RECENT_DAYS``).
NO_SHOW_DAYS = 365


@dataclass(frozen=True)
class Contact:
    phone: str | None
    email: str | None
    language: str
    contact_by: str | None
    guardian_name: str | None
    guardian_relationship: str | None
    guardian_phone: str | None

    @classmethod
    def of(cls, row: object) -> Contact:
        """The contact details of a youth, an intake or anything holding the same names."""
        return cls(**{name: getattr(row, name) for name in CONTACT_FIELDS})

    @property
    def has_guardian(self) -> bool:
        return all(getattr(self, name) for name in GUARDIAN_FIELDS)


def newer_contact(current: Contact, given: Contact) -> Contact:
    """The record's contact updated with what a later booking gave (``given``).

    Rule: each contact detail the booking holds replaces the record's; its guardian is one
    person (all three details taken, or none); what the booking left empty stays as it is, so
    a booking with an e-mail only does not erase the phone on file.
    """
    updates = {
        name: getattr(given, name)
        for name in ("phone", "email", "language", "contact_by")
        if getattr(given, name)
    }
    if given.has_guardian:
        updates.update({name: getattr(given, name) for name in GUARDIAN_FIELDS})
    return replace(current, **updates)


def details_fingerprint(values: dict[str, str | None]) -> str:
    """A short digest of a record's editable details (``EDITABLE_FIELDS``), carried by the
    forms that change them: the record changed since the form was drawn when it no longer
    matches. Shown only to staff who see the values themselves."""
    text = json.dumps(values, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class DetailChange:
    """One field of the record changed by staff: who, when, which field, and the value it
    held before (None for roles that do not see contact details, or when it was empty)."""

    at: datetime  # naive UTC
    staff: str
    field: str
    old_value: str | None


@dataclass(frozen=True)
class ChangeEntry:
    """One move in an appointment's history: by a staff member (named), or by the youth from
    their link (a cancellation, or a move to another time: ``moved_from`` and ``moved_to``,
    the clinic's wall clock)."""

    action: str
    from_status: str
    to_status: str
    by_youth: bool
    staff: str | None  # the staff member's name; None for the youth's own change
    at: datetime  # naive UTC
    undone: bool
    moved_from: datetime | None = None
    moved_to: datetime | None = None


def _wall_clock(detail: dict[str, str] | None, key: str) -> datetime | None:
    """A reschedule's time from ``StatusChange.detail`` ('2026-12-22T16:00'), if readable."""
    try:
        return datetime.fromisoformat(str((detail or {})[key]))
    except (KeyError, ValueError):
        return None


def change_entry(change: StatusChange) -> ChangeEntry:
    by_youth = change.actor == Actor.YOUTH
    return ChangeEntry(
        action=change.action,
        from_status=change.from_status,
        to_status=change.to_status,
        by_youth=by_youth,
        staff=change.staff.name if change.staff is not None else None,
        at=change.at,
        undone=change.undone_at is not None,
        moved_from=_wall_clock(change.detail, "from"),
        moved_to=_wall_clock(change.detail, "to"),
    )


@dataclass(frozen=True)
class VisitEntry:
    id: int
    day: date
    start: time
    status: str
    walk_in: bool
    code: str
    ticket: int | None
    changes: tuple[ChangeEntry, ...] = ()  # oldest first; filled on the record page only


@dataclass(frozen=True)
class ClinicalNotes:
    skin_type: str | None
    settings: str | None
    notes: str | None


@dataclass(frozen=True)
class TreatmentEntry:
    day: date
    session_number: int
    areas: list[str]
    clinician: str
    clinical: ClinicalNotes | None  # only for clinicians


@dataclass(frozen=True)
class YouthRecord:
    id: int
    first_name: str
    last_name: str
    preferred_name: str | None
    display_name: str
    date_of_birth: date
    age: int | None
    language: str
    contact: Contact | None  # None: the actor may not see contact details
    # The newest booking's contact when it differs from the record's (a new phone, a
    # guardian given later): shown flagged, since staff confirm changes at check-in.
    latest_contact: Contact | None
    visits: list[VisitEntry]  # newest first
    treatments: list[TreatmentEntry]  # newest first
    screening: list[str] | None  # the latest intake's answers; None: not a clinician
    sessions: int
    earliest_follow_up: date | None
    upcoming: VisitEntry | None
    duplicates: list[PossibleDuplicate]
    # Standby and waiting-list entries, newest first (``clinic.booking.list_reads``).
    entries: list[list_reads.EntryView]
    # When the personal data was erased (``clinic.records.privacy``); None: not erased.
    purged_at: datetime | None = None
    # The details staff changed, newest first (``clinic.records.edit``).
    detail_changes: tuple[DetailChange, ...] = ()
    # The days of the youth's no-shows within the last ``no_show_days``, newest first.
    no_shows: tuple[date, ...] = ()
    no_show_days: int = NO_SHOW_DAYS
    # For "use the new details": the latest booking's intake, and the fingerprint of the
    # record's details as shown (both None unless ``latest_contact`` is shown).
    latest_intake_id: int | None = None
    details_drawn: str | None = None


@dataclass(frozen=True)
class Merged:
    """The record asked for was merged: its history lives on record ``into_id``."""

    into_id: int


def load_youth(youth_id: int, *, clinical: bool = True, contact: bool = True) -> Youth | None:
    """The youth with their visits, history, treatments and the details staff changed (in
    the youth's own statement: a record's edits are few). Without ``clinical`` the treatments'
    notes and laser settings (encrypted, for clinicians only) are not read: a long course
    would otherwise decrypt two values a session for a page that never shows them; without
    ``contact``, neither are the old values of the details changed."""
    treatment_options = () if clinical else (defer(Treatment.notes), defer(Treatment.settings))
    change_options = () if contact else (defer(YouthChange.old_value),)
    return (
        db.session.scalars(
            select(Youth)
            .where(Youth.id == youth_id)
            .options(
                # ``Youth.changes`` is declared by ``YouthChange`` (a backref).
                joinedload(Youth.changes).options(  # type: ignore[attr-defined]
                    joinedload(YouthChange.staff), *change_options
                ),
                selectinload(Youth.appointments).options(
                    joinedload(Appointment.slot),
                    # The history, with the staff member of each move (none for the youth's own).
                    selectinload(Appointment.changes).joinedload(StatusChange.staff),
                ),
                selectinload(Youth.treatments).options(
                    joinedload(Treatment.clinician), *treatment_options
                ),
            )
            .execution_options(populate_existing=True)
        )
        .unique()
        .one_or_none()
    )


def latest_intake(youth_id: int) -> Intake | None:
    """What the youth answered on their newest booking (or walk-in), if any."""
    return db.session.scalars(
        select(Intake)
        .join(Intake.appointment)
        .where(Appointment.youth_id == youth_id)
        .order_by(Intake.created_at.desc(), Intake.id.desc())
        .limit(1)
    ).first()


def visit_entry(appointment: Appointment, with_changes: bool = False) -> VisitEntry:
    """An appointment as a record lists it; its history only when asked (and loaded)."""
    return VisitEntry(
        id=appointment.id,
        day=appointment.slot.day,
        start=appointment.slot.start_time,
        status=appointment.status,
        walk_in=appointment.walk_in,
        code=appointment.code,
        ticket=appointment.ticket,
        changes=tuple(change_entry(c) for c in appointment.changes) if with_changes else (),
    )


def upcoming_entry(visits: Sequence[VisitEntry], today: date) -> VisitEntry | None:
    ahead = [v for v in visits if v.status in booking.UPCOMING and v.day >= today]
    return min(ahead, key=lambda v: (v.day, v.start), default=None)


def youth_record(
    youth_id: int,
    actor: StaffUser,
    today: date,
    interval: timedelta,
    *,
    no_show_days: int = NO_SHOW_DAYS,
) -> YouthRecord | Merged | None:
    """A youth's record as ``actor`` may see it; ``Merged`` for a merged record, None if
    there is no such record.

    Rule: everyone with ``VIEW_RECORDS`` sees identity, visits and treatments (date, session,
    areas, clinician); contact and guardian only with ``SEE_CONTACT``; screening answers and
    treatment notes, skin type and laser settings only with ``SEE_CLINICAL``; each
    appointment's history says who made each move (a staff member, or the youth from their
    link), and the youth's standby and waiting-list entries are listed. The details staff
    changed say who, when and which field; the old values only with ``SEE_CONTACT``. The
    no-shows of the last ``no_show_days`` are counted, with their days. The next session may
    be booked from the last treatment plus ``interval`` (``earliest_follow_up``). A fixed
    number of statements, however long the history.
    """
    require(actor.role, Action.VIEW_RECORDS)
    youth = load_youth(
        youth_id,
        clinical=can(actor.role, Action.SEE_CLINICAL),
        contact=can(actor.role, Action.SEE_CONTACT),
    )
    if youth is None:
        return None
    if youth.merged_into_id is not None:
        return Merged(youth.merged_into_id)
    duplicates = possible_duplicates(
        youth.first_name, youth.last_name, youth.date_of_birth, youth.phone, youth.id
    )
    return build_record(youth, actor, today, interval, duplicates, no_show_days=no_show_days)


def recent_no_shows(visits: Sequence[VisitEntry], today: date, days: int) -> tuple[date, ...]:
    """The days of the no-shows among ``visits`` within the last ``days`` days up to
    ``today``, newest first.

    Rule: a no-show counts from its clinic day for ``days`` days (the setting
    ``NO_SHOW_RECENT_DAYS``); older ones are history, not a pattern the desk acts on.
    """
    since = today - timedelta(days=days)
    return tuple(
        sorted(
            (v.day for v in visits if v.status == VisitStatus.NO_SHOW and since < v.day <= today),
            reverse=True,
        )
    )


def build_record(
    youth: Youth,
    actor: StaffUser,
    today: date,
    interval: timedelta,
    duplicates: list[PossibleDuplicate],
    *,
    no_show_days: int = NO_SHOW_DAYS,
) -> YouthRecord:
    intake = latest_intake(youth.id)
    sees_contact = can(actor.role, Action.SEE_CONTACT)
    clinician = can(actor.role, Action.SEE_CLINICAL)

    contact = latest_contact = None
    latest_intake_id = details_drawn = None
    if sees_contact:
        contact = Contact.of(youth)
        # Shown when the latest booking holds details the record does not: what "use the new
        # details" would take (a booking that left a detail empty changes nothing of it).
        if intake is not None and newer_contact(contact, Contact.of(intake)) != contact:
            latest_contact = Contact.of(intake)
            latest_intake_id = intake.id
            details_drawn = details_fingerprint(
                {name: getattr(youth, name) for name in EDITABLE_FIELDS}
            )

    visits = sorted(
        (visit_entry(a, with_changes=True) for a in youth.appointments),
        key=lambda v: (v.day, v.start, v.id),
        reverse=True,
    )
    treatments = [
        TreatmentEntry(
            day=t.day,
            session_number=t.session_number,
            areas=list(t.areas or []),
            clinician=t.clinician.name,
            clinical=ClinicalNotes(t.skin_type, t.settings, t.notes) if clinician else None,
        )
        for t in sorted(youth.treatments, key=lambda t: (t.day, t.id), reverse=True)
    ]
    detail_changes = tuple(
        DetailChange(
            at=change.at,
            staff=change.staff.name,
            field=change.field,
            old_value=change.old_value if sees_contact else None,
        )
        for change in reversed(youth.changes)  # type: ignore[attr-defined]
    )
    last_treatment = treatments[0].day if treatments else None
    return YouthRecord(
        id=youth.id,
        first_name=youth.first_name,
        last_name=youth.last_name,
        preferred_name=youth.preferred_name,
        display_name=youth.display_name,
        date_of_birth=youth.date_of_birth,
        age=age_today(youth.date_of_birth, today),
        language=youth.language,
        contact=contact,
        latest_contact=latest_contact,
        visits=visits,
        treatments=treatments,
        screening=list(intake.screening or []) if clinician and intake is not None else None,
        sessions=len(treatments),
        earliest_follow_up=earliest_follow_up(last_treatment, interval),
        upcoming=upcoming_entry(visits, today),
        duplicates=duplicates,
        entries=list_reads.youth_entries(youth.id),
        purged_at=youth.purged_at,
        detail_changes=detail_changes,
        no_shows=recent_no_shows(visits, today, no_show_days),
        no_show_days=no_show_days,
        latest_intake_id=latest_intake_id,
        details_drawn=details_drawn,
    )
