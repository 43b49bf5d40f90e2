"""Merging two records of one youth (admin only): the preview side by side, the refusals,
and the merge itself, one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import aliased

from clinic import audit, booking
from clinic.database import retrying_transaction
from clinic.extensions import db
from clinic.models import (
    SEARCH_NAME_LENGTH,
    Appointment,
    EntryStatus,
    ListEntry,
    StaffUser,
    Treatment,
    Youth,
    utcnow,
)
from clinic.permissions import Action, require
from clinic.records.errors import MergeRefused
from clinic.records.record import (
    GUARDIAN_FIELDS,
    VisitEntry,
    YouthRecord,
    build_record,
    load_youth,
    visit_entry,
)


def merge_refusal(
    kept: Youth,
    other: Youth,
    kept_upcoming: VisitEntry | None,
    other_upcoming: VisitEntry | None,
) -> MergeRefused | None:
    """Why ``other`` cannot be merged into ``kept``, or None.

    Rule: never a record into itself, never into or from a record already merged, and not
    while both hold an upcoming appointment (a youth holds at most one: staff cancel one
    first).
    """
    if kept.id == other.id:
        return MergeRefused(MergeRefused.SAME)
    if kept.merged_into_id is not None:
        return MergeRefused(MergeRefused.KEPT_MERGED)
    if other.merged_into_id is not None:
        return MergeRefused(MergeRefused.OTHER_MERGED)
    if kept_upcoming is not None and other_upcoming is not None:
        return MergeRefused(MergeRefused.BOTH_UPCOMING, kept_upcoming, other_upcoming)
    return None


@dataclass(frozen=True)
class MergePreview:
    """Both records side by side, as the admin confirms a merge."""

    kept: YouthRecord
    other: YouthRecord
    refusal: MergeRefused | None


def merge_preview(
    kept_id: int, other_id: int, actor: StaffUser, today: date, interval: timedelta
) -> MergePreview | None:
    """The two records of a proposed merge and why it would be refused, if it would;
    None if either record does not exist."""
    require(actor.role, Action.MERGE_YOUTH)
    kept, other = load_youth(kept_id), load_youth(other_id)
    if kept is None or other is None:
        return None
    kept_record = build_record(kept, actor, today, interval, [])
    other_record = build_record(other, actor, today, interval, [])
    refusal = merge_refusal(kept, other, kept_record.upcoming, other_record.upcoming)
    return MergePreview(kept_record, other_record, refusal)


@dataclass(frozen=True)
class MergeResult:
    appointments_moved: int
    treatments_moved: int


class _MergedMeanwhile(Exception):
    """Another merge pointed a record at the one being merged away after it was read."""


def _lock(ids: Sequence[int]) -> None:
    """Take the youth rows' locks in id order (the UPDATE, as ``booking.upsert_youth`` does),
    so two merges over the same records wait for each other instead of deadlocking."""
    for youth_id in sorted(set(ids)):
        db.session.execute(
            update(Youth)
            .where(Youth.id == youth_id)
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def _merged_into(youth_id: int) -> list[int]:
    return sorted(db.session.scalars(select(Youth.id).where(Youth.merged_into_id == youth_id)))


def _upcoming_visit(youth_id: int, today: date) -> VisitEntry | None:
    appointment = booking.upcoming_appointment(youth_id, today)
    return visit_entry(appointment) if appointment is not None else None


def merge(kept_id: int, other_id: int, actor: StaffUser, today: date) -> MergeResult:
    """Merge record ``other_id`` into ``kept_id`` (admin only), in one transaction.

    Rule: the other record's appointments and treatments move to the kept one; the kept
    record's empty contact, guardian and preferred-name fields take the other's values (what
    it has stays); the other record stays, marked ``merged_into_id``, so its name and birth
    date keep resolving to the kept record when that youth books online again; records once
    merged into the other now point at the kept one, so it is always one step. The kept
    record's search names also carry the other's, so staff find it by either spelling.
    Refusals: see ``merge_refusal``. LookupError if either record does not exist.

    Locks: the rows merged into the other record first (a booking for one of those names
    locks it before its survivor), then both records in id order.
    """
    require(actor.role, Action.MERGE_YOUTH)
    if kept_id == other_id:
        raise MergeRefused(MergeRefused.SAME)
    return retrying_transaction(
        lambda: _merge_once(kept_id, other_id, today), retry_on=(_MergedMeanwhile,)
    )


def _merge_once(kept_id: int, other_id: int, today: date) -> MergeResult:
    aliases = _merged_into(other_id)
    _lock(aliases)
    _lock([kept_id, other_id])
    if _merged_into(other_id) != aliases:
        raise _MergedMeanwhile()
    rows = {
        youth.id: youth
        for youth in db.session.scalars(
            select(Youth)
            .where(Youth.id.in_((kept_id, other_id)))
            .execution_options(populate_existing=True)
        )
    }
    if kept_id not in rows or other_id not in rows:
        raise LookupError(kept_id if kept_id not in rows else other_id)
    kept, other = rows[kept_id], rows[other_id]
    refusal = merge_refusal(
        kept, other, _upcoming_visit(kept.id, today), _upcoming_visit(other.id, today)
    )
    if refusal is not None:
        raise refusal

    moved: dict[str, list[int]] = {}
    for kind, model in (("appointment", Appointment), ("treatment", Treatment)):
        moved[kind] = list(
            db.session.scalars(
                update(model)
                .where(model.youth_id == other.id)
                .values(youth_id=kept.id)
                .returning(model.id)
                .execution_options(synchronize_session=False)
            )
        )
    moved["list_entry"] = _move_list_entries(other.id, kept.id)
    for kind, ids in moved.items():
        for row_id in ids:
            audit.changed(kind, row_id, ["youth_id"], youth_id=kept.id)
    moved_appointments, moved_treatments = len(moved["appointment"]), len(moved["treatment"])
    for name in ("phone", "email", "contact_by", "preferred_name"):
        if not getattr(kept, name) and getattr(other, name):
            setattr(kept, name, getattr(other, name))
    # The guardian is one person: take all three fields or none, never a mix of two people.
    if not any(getattr(kept, name) for name in GUARDIAN_FIELDS):
        for name in GUARDIAN_FIELDS:
            setattr(kept, name, getattr(other, name))
    kept.search_name = _joined_search_names(kept, other)
    other.merged_into_id = kept.id
    if aliases:
        db.session.execute(
            update(Youth)
            .where(Youth.id.in_(aliases))
            .values(merged_into_id=kept.id)
            .execution_options(synchronize_session=False)
        )
        for alias in aliases:
            audit.changed("youth", alias, ["merged_into_id"], youth_id=alias)
    db.session.flush()
    return MergeResult(moved_appointments, moved_treatments)


def _move_list_entries(from_id: int, to_id: int) -> list[int]:
    """The other record's standby and waiting-list entries move to the kept one, except a
    waiting entry for a list the kept record already waits on (one place per list): that one
    stays where it is, and still books the kept record if its offer comes (an entry's youth
    is read through ``merged_into_id``)."""
    kept_entry = aliased(ListEntry)
    same_list_waiting = (
        select(kept_entry.id)
        .where(
            kept_entry.youth_id == to_id,
            kept_entry.status == EntryStatus.WAITING,
            kept_entry.kind == ListEntry.kind,
            # Standby: the same day; the program list has no day (NULL on both sides).
            or_(
                kept_entry.day == ListEntry.day,
                and_(kept_entry.day.is_(None), ListEntry.day.is_(None)),
            ),
        )
        .exists()
    )
    return list(
        db.session.scalars(
            update(ListEntry)
            .where(
                ListEntry.youth_id == from_id,
                ~and_(ListEntry.status == EntryStatus.WAITING, same_list_waiting),
            )
            .values(youth_id=to_id)
            .returning(ListEntry.id)
            .execution_options(synchronize_session=False)
        )
    )


def _joined_search_names(kept: Youth, other: Youth) -> str:
    """The kept record's search words, then the other's not already there (column width)."""
    own = Youth.make_search_name(kept.first_name, kept.last_name, kept.preferred_name)
    words = own.split()
    for word in f"{kept.search_name} {other.search_name}".split():
        if word not in words:
            words.append(word)
    joined = ""
    for word in words:
        candidate = f"{joined} {word}".strip()
        if len(candidate) > SEARCH_NAME_LENGTH:
            break
        joined = candidate
    return joined
