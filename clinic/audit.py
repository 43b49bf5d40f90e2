"""The audit trail: an append-only record of who viewed or changed a youth's data, the
schedule and the staff accounts, when, from which address, and which fields (never the values).

Three ways in:

- **Changes** are recorded by themselves: after each flush, every new, changed or deleted row
  of an audited model becomes one event naming the fields that changed, written with one
  INSERT on the flush's own connection, so a rollback takes the event with the change. Use
  cases need not call anything for ORM writes; a Core ``UPDATE`` bypasses the flush, so the
  use case that runs one calls ``record`` for it (or inserts a ``StatusChange``, which counts).
- **Views** (``viewed``): one INSERT, committed at once on a connection of its own, so the
  page's own objects stay loaded and a page costs one statement more.
- **Other events** (``record``): sign-ins, exports, purges; added to the current session and
  written by the caller's commit.

Who acted comes from a small context set per request: the staff blueprint sets the signed-in
staff member and their address, the public blueprint the youth (no address kept); elsewhere
(the command line, the outbox worker) it is the system.

The database refuses UPDATE and DELETE on ``audit_event`` (triggers, see the migration), so
no route, role or bug can rewrite the trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, g, has_app_context, has_request_context, request
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.util import identity_key

from clinic.database import WRITE_OPTION
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AuditEvent,
    ClinicDay,
    Intake,
    ListEntry,
    SeatOffer,
    Slot,
    StaffUser,
    StatusChange,
    Treatment,
    Youth,
    utcnow,
)

# The actions an event can record.
VIEW = "view"
CREATE = "create"
UPDATE = "update"
DELETE = "delete"
SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
SIGN_OUT = "sign_out"
ACCOUNT_CHANGE = "account_change"
EXPORT = "export"
PURGE = "purge"
ERASE = "erase"
ACTIONS = (
    VIEW,
    CREATE,
    UPDATE,
    DELETE,
    SIGN_IN,
    SIGN_IN_FAILED,
    SIGN_OUT,
    ACCOUNT_CHANGE,
    EXPORT,
    PURGE,
    ERASE,
)

STAFF = "staff"
YOUTH = "youth"
SYSTEM = "system"

ADDRESS_LENGTH = 45  # the longest IPv6 text form


@dataclass(frozen=True)
class ActorContext:
    """Who the events of this request are by."""

    actor: str
    staff_id: int | None = None
    address: str | None = None


_SYSTEM = ActorContext(SYSTEM)
_G_KEY = "clinic_audit_actor"


def init_app(app: Flask) -> None:
    # Requests can share one app context (a test's), and with it ``g``: the actor goes with
    # the request that set it.
    app.teardown_request(_forget_actor)


def _forget_actor(_exc: BaseException | None) -> None:
    g.pop(_G_KEY, None)


def act_as_staff(staff_id: int, address: str | None) -> None:
    """The staff blueprint: this request's events are by this staff member, from there."""
    setattr(g, _G_KEY, ActorContext(STAFF, staff_id, _short(address)))


def act_as_youth() -> None:
    """The public blueprint: this request's events are by the youth; no address is kept."""
    setattr(g, _G_KEY, ActorContext(YOUTH))


def current_actor() -> ActorContext:
    if has_app_context():
        context = g.get(_G_KEY)
        if context is not None:
            return context
        if has_request_context():
            # A request no blueprint claimed (the sign-in pages): keep where it came from.
            return ActorContext(SYSTEM, None, _short(request.remote_addr))
    return _SYSTEM


def _short(address: str | None) -> str | None:
    return address[:ADDRESS_LENGTH] if address else None


def _event_row(
    action: str,
    *,
    youth_id: int | None,
    object_type: str | None,
    object_id: int | None,
    fields: Iterable[str],
    staff_id: int | None,
    detail: dict[str, str] | None,
    context: ActorContext,
) -> dict[str, Any]:
    actor = context.actor
    if staff_id is None:
        staff_id = context.staff_id
    elif actor == SYSTEM:
        actor = STAFF  # a sign-in names its account before the staff blueprint knows it
    return {
        "at": utcnow(),
        "actor": actor,
        "staff_id": staff_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "youth_id": youth_id,
        "fields": sorted(set(fields)),
        "address": context.address,
        "detail": detail,
    }


def record(
    action: str,
    *,
    youth_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    fields: Iterable[str] = (),
    staff_id: int | None = None,
    detail: dict[str, str] | None = None,
) -> None:
    """Add one event to the current session: the caller's commit writes it, with the change
    it records. ``staff_id`` defaults to the signed-in staff member of this request."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action: {action}")
    row = _event_row(
        action,
        youth_id=youth_id,
        object_type=object_type,
        object_id=object_id,
        fields=fields,
        staff_id=staff_id,
        detail=detail,
        context=current_actor(),
    )
    db.session.add(AuditEvent(**row))


def viewed(
    object_type: str,
    object_id: int | None,
    youth_id: int | None,
    *,
    detail: dict[str, str] | None = None,
) -> None:
    """A view by the signed-in staff member, written at once: one INSERT, committed on a
    connection of its own (a writer's, so SQLite waits for its lock rather than failing), so
    the page's session and the objects it loaded are untouched. Call it from pages that only
    read: a page holding SQLite's write lock would wait for itself."""
    _write_now(VIEW, object_type, object_id, youth_id, detail)


def exported(
    object_type: str,
    *,
    object_id: int | None = None,
    youth_id: int | None = None,
    detail: dict[str, str] | None = None,
) -> None:
    """A download by the signed-in staff member, written at once as ``viewed`` writes a view:
    on record before the first byte is read or sent, so a download that breaks off is still
    on record as attempted, and the view itself commits nothing."""
    _write_now(EXPORT, object_type, object_id, youth_id, detail)


def _write_now(
    action: str,
    object_type: str,
    object_id: int | None,
    youth_id: int | None,
    detail: dict[str, str] | None,
) -> None:
    row = _event_row(
        action,
        youth_id=youth_id,
        object_type=object_type,
        object_id=object_id,
        fields=(),
        staff_id=None,
        detail=detail,
        context=current_actor(),
    )
    writer = db.engine.connect().execution_options(**{WRITE_OPTION: True})
    with writer as connection, connection.begin():
        connection.execute(insert(AuditEvent.__table__), row)


# --- Reading the trail ----------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """Which events to show: about one youth, by one staff member, between two instants
    (UTC, naive; ``until`` excluded)."""

    youth_id: int | None = None
    staff_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[Any]:
        conditions = []
        if self.youth_id is not None:
            conditions.append(AuditEvent.youth_id == self.youth_id)
        if self.staff_id is not None:
            conditions.append(AuditEvent.staff_id == self.staff_id)
        if self.since is not None:
            conditions.append(AuditEvent.at >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.at < self.until)
        return conditions


def events(chosen: Filter, limit: int, before_id: int | None = None) -> list[AuditEvent]:
    """Newest first, ``limit`` at most, older than ``before_id`` (the keyset of the next page):
    two statements whatever the number of rows (the events, then their staff members)."""
    statement = (
        select(AuditEvent)
        .where(*chosen.where())
        .options(selectinload(AuditEvent.staff))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    return list(db.session.scalars(statement))


def export_rows(chosen: Filter, batch: int = 1000) -> Iterator[tuple[Any, ...]]:
    """Every event of the filter, oldest first, read in batches by id (no server-side cursor
    held open while the file downloads): (id, at, actor, staff id, staff name, action,
    object type, object id, youth id, fields, address)."""
    after = 0
    while True:
        rows = db.session.execute(
            select(
                AuditEvent.id,
                AuditEvent.at,
                AuditEvent.actor,
                AuditEvent.staff_id,
                StaffUser.name,
                AuditEvent.action,
                AuditEvent.object_type,
                AuditEvent.object_id,
                AuditEvent.youth_id,
                AuditEvent.fields,
                AuditEvent.address,
            )
            .outerjoin(StaffUser, StaffUser.id == AuditEvent.staff_id)
            .where(*chosen.where(), AuditEvent.id > after)
            .order_by(AuditEvent.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from (tuple(row) for row in rows)
        after = rows[-1][0]


def staff_members() -> list[tuple[int, str]]:
    """Every staff account, for the filter's choice (former staff too: their events stay)."""
    rows = db.session.execute(select(StaffUser.id, StaffUser.name).order_by(StaffUser.name))
    return [(row_id, name) for row_id, name in rows]


# --- Changes, recorded at flush -------------------------------------------------------------

# The object type each audited model's events name.
_AUDITED: dict[type, str] = {
    Youth: "youth",
    Appointment: "appointment",
    Intake: "intake",
    Treatment: "treatment",
    ListEntry: "list_entry",
    SeatOffer: "seat_offer",
    ClinicDay: "clinic_day",
    Slot: "slot",
    StatusChange: "status_change",
    StaffUser: "staff_user",
}

# Bookkeeping that changes with every write, or that the sign-in records as its own event.
# totp_last_step moves on every two-step sign-in (replay protection), which is recorded as
# a sign_in already; as an account change it would be noise.
_NOT_A_CHANGE = {"id", "updated_at", "last_login_at", "totp_last_step"}

# Of a slot, only what staff change: its seat counter moves with every booking.
_SLOT_FIELDS = {"blocked", "capacity"}


def _changed_fields(state: Any, *, new: bool) -> list[str]:
    """The names of the column attributes this flush wrote (a new row: those with a value)."""
    columns = state.mapper.column_attrs.keys()
    if new:
        return [
            key for key in columns if key not in _NOT_A_CHANGE and state.dict.get(key) is not None
        ]
    return [
        key
        for key in state.committed_state
        if key in columns and key not in _NOT_A_CHANGE and state.attrs[key].history.has_changes()
    ]


def _value(state: Any, key: str) -> Any:
    """A column's value without loading anything (None if the row's copy was expired)."""
    return state.dict.get(key)


_CORE_CHANGES = "clinic_audit_core_changes"


def changed(
    object_type: str,
    object_id: int,
    fields: Iterable[str] = (),
    *,
    youth_id: int | None = None,
    action: str = UPDATE,
    detail: dict[str, str] | None = None,
) -> None:
    """A change made with a Core ``INSERT``, ``UPDATE`` or ``DELETE`` (which the flush never
    sees): written with the flush's events, or at the commit, in the same transaction (a
    rollback drops it); its youth is looked up when not given. Events about one object in one
    flush merge, so naming the fields of a move that also adds a ``StatusChange`` is one event."""
    row = _event_row(
        action,
        youth_id=youth_id,
        object_type=object_type,
        object_id=object_id,
        fields=fields,
        staff_id=None,
        detail=detail,
        context=current_actor(),
    )
    lookup = (object_type, object_id) if youth_id is None and object_type in _LOOKUPS else None
    db.session().info.setdefault(_CORE_CHANGES, []).append((row, lookup))


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, _flush_context: Any) -> None:
    # At this point new rows have ids, and new/dirty/deleted and the attributes' histories
    # still describe what the flush wrote.
    pending: list[tuple[dict[str, Any], tuple[str, int] | None]] = []
    context = current_actor()
    for instances, action in (
        (session.new, CREATE),
        (session.dirty, UPDATE),
        (session.deleted, DELETE),
    ):
        for instance in instances:
            object_type = _AUDITED.get(type(instance))
            if object_type is None:
                continue
            state = inspect(instance)
            if isinstance(instance, StatusChange):
                pending.append(_status_change_event(session, state, context))
                continue
            if action == DELETE:
                fields: list[str] = []
            else:
                fields = _changed_fields(state, new=action == CREATE)
            if isinstance(instance, Slot):
                fields = [name for name in fields if name in _SLOT_FIELDS]
                if not fields and action != DELETE:
                    continue
            elif action == UPDATE and not fields:
                continue  # only a relationship changed, or a value set to itself
            object_id = _value(state, "id")
            if object_id is None and state.identity:
                object_id = state.identity[0]
            youth_id, lookup = _youth_of(session, instance, state)
            row = _event_row(
                action,
                youth_id=youth_id,
                object_type=object_type,
                object_id=object_id,
                fields=fields,
                staff_id=None,
                detail=None,
                context=context,
            )
            pending.append((row, lookup))
    _write(session, pending)


@event.listens_for(Session, "before_commit")
def _write_core_changes(session: Session) -> None:
    if session.info.get(_CORE_CHANGES):
        session.flush()  # its events take these along, if it has any
        _write(session, [])


@event.listens_for(Session, "after_transaction_end")
def _forget_core_changes(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_CORE_CHANGES, None)  # rolled back with their changes


def _write(session: Session, pending: list[tuple[dict[str, Any], tuple[str, int] | None]]) -> None:
    """One INSERT for the events of this flush (and the Core changes noted before it), on the
    flush's connection: the same transaction as the changes. Events about one object merge."""
    pending = pending + session.info.pop(_CORE_CHANGES, [])
    if not pending:
        return
    merged: dict[tuple[Any, ...], tuple[dict[str, Any], tuple[str, int] | None]] = {}
    for row, lookup in pending:
        key = (row["action"], row["object_type"], row["object_id"])
        if key in merged and row["object_id"] is not None:
            kept, kept_lookup = merged[key]
            kept["fields"] = sorted(set(kept["fields"]) | set(row["fields"]))
            kept["detail"] = kept["detail"] or row["detail"]
            if kept["youth_id"] is None and row["youth_id"] is not None:
                kept["youth_id"], kept_lookup = row["youth_id"], None
            merged[key] = (kept, kept_lookup)
        else:
            merged[key if row["object_id"] is not None else (id(row),)] = (row, lookup)
    rows = list(merged.values())
    _fill_youth_ids(session, rows)
    session.connection().execute(insert(AuditEvent.__table__), [row for row, _ in rows])


def _status_change_event(
    session: Session, state: Any, context: ActorContext
) -> tuple[dict[str, Any], tuple[str, int] | None]:
    """A move recorded in an appointment's history is a change to that appointment: its
    status, or its time (a move keeps the status)."""
    appointment_id = _value(state, "appointment_id")
    moved = _value(state, "from_status") == _value(state, "to_status")
    youth_id, lookup = _parent_youth(session, Appointment, "appointment", appointment_id)
    row = _event_row(
        UPDATE,
        youth_id=youth_id,
        object_type="appointment",
        object_id=appointment_id,
        fields=["slot_id"] if moved else ["status"],
        staff_id=None,
        detail={"change": str(_value(state, "action"))},
        context=context,
    )
    return row, lookup


def _youth_of(
    session: Session, instance: Any, state: Any
) -> tuple[int | None, tuple[str, int] | None]:
    """The youth an instance is about, from its own columns or a row already in the session;
    else what to look it up by ((object type, id))."""
    if isinstance(instance, Youth):
        return _value(state, "id"), None
    if isinstance(instance, Appointment | Treatment | ListEntry):
        youth_id = _value(state, "youth_id")
        return (youth_id if youth_id is not None else instance.youth_id), None
    if isinstance(instance, Intake):
        return _parent_youth(session, Appointment, "appointment", _value(state, "appointment_id"))
    if isinstance(instance, SeatOffer):
        return _parent_youth(session, ListEntry, "list_entry", _value(state, "entry_id"))
    return None, None


def _parent_youth(
    session: Session, model: type, kind: str, parent_id: int | None
) -> tuple[int | None, tuple[str, int] | None]:
    if parent_id is None:
        return None, None
    parent = session.identity_map.get(identity_key(model, parent_id))
    if parent is not None:
        youth_id = inspect(parent).dict.get("youth_id")
        if youth_id is not None:
            return youth_id, None
    return None, (kind, parent_id)


def _lookup_youth_ids(kind: str) -> Any:
    """SELECT (id, youth_id) for rows of ``kind``, by their ids (bound as ``ids``)."""
    appointment, entry = Appointment.__table__, ListEntry.__table__
    if kind in ("appointment", "list_entry", "treatment"):
        table = {"appointment": appointment, "list_entry": entry, "treatment": Treatment.__table__}[
            kind
        ]
        return select(table.c.id, table.c.youth_id), table.c.id
    offer = SeatOffer.__table__
    return (
        select(offer.c.id, entry.c.youth_id).join(entry, entry.c.id == offer.c.entry_id),
        offer.c.id,
    )


_LOOKUPS = ("appointment", "list_entry", "treatment", "seat_offer")


def _fill_youth_ids(
    session: Session, pending: list[tuple[dict[str, Any], tuple[str, int] | None]]
) -> None:
    """One SELECT per kind for the events whose youth was not at hand (rarely any)."""
    wanted: dict[str, set[int]] = {}
    for row, lookup in pending:
        if lookup is not None and row["youth_id"] is None:
            wanted.setdefault(lookup[0], set()).add(lookup[1])
    found: dict[tuple[str, int], int] = {}
    for kind, ids in wanted.items():
        statement, id_column = _lookup_youth_ids(kind)
        rows = session.connection().execute(statement.where(id_column.in_(sorted(ids))))
        found.update({(kind, row_id): youth_id for row_id, youth_id in rows})
    for row, lookup in pending:
        if lookup is not None and row["youth_id"] is None:
            row["youth_id"] = found.get(lookup)
