"""The outbox, as the use cases write it: every message to a youth is a row written in the same
transaction as the change that causes it (a booking, a cancellation, a move, a treatment, a
place on a list, an offered seat), and sent later by the worker (``clinic.messaging.worker``).
So a booking never fails, or waits, because mail or SMS is down. A message is about an
appointment (``appointment_id``, to the booking's contact) or a list entry (``entry_id``, to
the contact given with the entry).

Reminders are made once each: their ``dedup_key`` is unique, so scheduling them twice inserts
nothing. Nothing here commits: the caller's transaction does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Text, cast, func, select, update

from clinic import settings
from clinic.database import dialect_insert, write_transaction
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AppointmentStatus,
    Intake,
    ListEntry,
    ListKind,
    MessageStatus,
    OutboxMessage,
    SeatOffer,
    Slot,
    naive_utc,
)
from clinic.rules.eligibility import slot_start
from clinic.rules.messages import (
    Kind,
    ReminderKind,
    choose_channel,
    reminders_for,
)
from clinic.rules.selfservice import appointment_link_ends, entry_link_ends
from clinic.rules.visits import VisitStatus


@dataclass(frozen=True)
class _Target:
    """An appointment as the outbox needs it: where it is and how to reach the youth."""

    id: int
    status: str
    day: date
    start: time
    created_at: datetime
    channel: str | None
    language: str


def _target(appointment_id: int) -> _Target | None:
    found = _targets(Appointment.id == appointment_id)
    return found[0] if found else None


def _targets(*where: Any) -> list[_Target]:
    rows = db.session.execute(
        select(
            Appointment.id,
            Appointment.status,
            Appointment.created_at,
            Slot.day,
            Slot.start_time,
            Intake.contact_by,
            Intake.phone,
            Intake.email,
            Intake.language,
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .join(Intake, Intake.appointment_id == Appointment.id)
        .where(*where)
        .order_by(Appointment.id)
    )
    return [
        _Target(
            id=row.id,
            status=row.status,
            day=row.day,
            start=row.start_time,
            created_at=row.created_at,
            channel=choose_channel(row.contact_by, row.phone, row.email),
            language=row.language or "en",
        )
        for row in rows
    ]


def visit_key(day: date, start: time) -> str:
    """A visit's date and time, as reminders record it: '2026-11-24T16:00'."""
    return f"{day.isoformat()}T{start.strftime('%H:%M')}"


def _starts(day: date, start: time) -> datetime:
    """An appointment's start as stored in the outbox: naive UTC."""
    return naive_utc(slot_start(day, start, settings.clinic_zone()))


_REMINDERS = (Kind.REMINDER_EARLY, Kind.REMINDER_SAME_DAY)
CANCELLATIONS = (Kind.CANCELLED, Kind.CLINIC_CANCELLED, Kind.YOUTH_CANCELLED)
# Notices of a new time (the clinic's hours changed; the youth moved it themselves).
_NEW_TIME = (Kind.MOVED, Kind.RESCHEDULED)
# Messages that reached the youth or are reaching them now (a worker is sending).
_GONE = (MessageStatus.SENT, MessageStatus.SENDING)
# Messages that went, are going or will go (not withdrawn, not expired).
_NOT_WITHDRAWN = (
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DEAD,
)
# Messages about the visit ahead are pointless once it has started.
_EXPIRE_AT_START = (Kind.CONFIRMATION, Kind.RESTORED, *_NEW_TIME, *CANCELLATIONS)


def _add(
    target: _Target,
    kind: Kind,
    now: datetime,
    *,
    staff_id: int | None = None,
    context: dict[str, str] | None = None,
) -> None:
    if target.channel is None:
        return  # no way to reach them: staff see the booking had no contact
    db.session.add(
        OutboxMessage(
            kind=kind,
            channel=target.channel,
            language=target.language,
            appointment_id=target.id,
            context=context or {},
            created_by_id=staff_id,
            # The use case's clock, which is the one its change was made at.
            send_after=naive_utc(now),
            created_at=naive_utc(now),
            expires_at=_starts(target.day, target.start) if kind in _EXPIRE_AT_START else None,
        )
    )


def booked(appointment_id: int, now: datetime, *, staff_id: int | None = None) -> None:
    """A new booking: its confirmation, and its reminders."""
    target = _target(appointment_id)
    if target is None:
        return
    _add(target, Kind.CONFIRMATION, now, staff_id=staff_id)
    _schedule_reminders(target, now)


def cancelled(
    appointment_id: int,
    now: datetime,
    *,
    kind: Kind = Kind.CANCELLED,
    staff_id: int | None = None,
) -> None:
    """A booking cancelled: by staff for the youth (``CANCELLED``), because the clinic changed
    its day (``CLINIC_CANCELLED``) or by the youth from their link (``YOUTH_CANCELLED``). Its
    reminders are withdrawn, and the youth is told."""
    if kind not in CANCELLATIONS:
        raise ValueError(f"{kind} is not a cancellation")
    _withdraw(_REMINDERS, appointment_id)
    target = _target(appointment_id)
    if target is not None:
        _add(target, kind, now, staff_id=staff_id)


def moved(appointment_id: int, old_start: time, now: datetime, *, staff_id: int | None = None):
    """A booking moved to another time the same day: the youth is told, and the reminders not
    sent yet take the new time (one already sent is not sent again).

    Moved twice before the first notice went, the youth gets one notice, from the time they
    last heard of to the new one; moved back to that time, none."""
    target = _target(appointment_id)
    if target is None:
        return
    _expire_at_new_start(target)
    rescheduled_unsent = _withdraw((Kind.RESCHEDULED,), appointment_id)
    if rescheduled_unsent:
        # The youth moved it to another day and has not heard yet: that notice, written when
        # it goes, gives the time as it is then; one notice, not two.
        context = min(rescheduled_unsent, key=lambda row: row.id).context
        _add(target, Kind.RESCHEDULED, now, staff_id=staff_id, context=dict(context))
        _schedule_reminders(target, now)
        return
    unsent = _withdraw((Kind.MOVED,), appointment_id)
    known = min(unsent, key=lambda row: row.id).context["old_start"] if unsent else None
    known_start = time.fromisoformat(known) if known else old_start
    if known_start != target.start:
        context = {"old_start": known_start.isoformat()}
        _add(target, Kind.MOVED, now, staff_id=staff_id, context=context)
    _schedule_reminders(target, now)


def rescheduled(
    appointment_id: int,
    old_day: date,
    old_start: time,
    now: datetime,
    *,
    staff_id: int | None = None,
) -> None:
    """The booking was moved to another day or time, by the youth from their link or by the
    desk (``staff_id``; the booking already holds the new slot): the youth gets the new time
    and a calendar update, and the reminders not sent yet follow it (one already sent is not
    sent again).

    Moved twice before the first notice went, the youth gets one notice, from the visit they
    last heard of to the new one; moved back to it, none. A confirmation still waiting says
    the new time itself."""
    target = _target(appointment_id)
    if target is None:
        return
    _expire_at_new_start(target)
    unsent = sorted(_withdraw(_NEW_TIME, appointment_id), key=lambda row: row.id)
    known_day, known_start = old_day, old_start
    if unsent:
        first = unsent[0].context or {}
        if first.get("old"):
            known = datetime.fromisoformat(first["old"])
            known_day, known_start = known.date(), known.time()
        elif first.get("old_start"):
            # A same-day move by the clinic that had not gone: it was about ``old_day``.
            known_start = time.fromisoformat(first["old_start"])
    waiting = _count(appointment_id, (Kind.CONFIRMATION, Kind.RESTORED), (MessageStatus.QUEUED,))
    if (known_day, known_start) != (target.day, target.start) and not waiting:
        context = {"old": visit_key(known_day, known_start)}
        _add(target, Kind.RESCHEDULED, now, staff_id=staff_id, context=context)
    _schedule_reminders(target, now)


def _expire_at_new_start(target: _Target) -> None:
    """What still waits about the visit expires when it starts: at its new time now."""
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.appointment_id == target.id,
            OutboxMessage.kind.in_(_EXPIRE_AT_START),
            OutboxMessage.status == MessageStatus.QUEUED,
        )
        .values(expires_at=_starts(target.day, target.start))
        .execution_options(synchronize_session=False)
    )


def restored(appointment_id: int, now: datetime, *, staff_id: int | None = None) -> None:
    """A cancellation undone: a cancellation notice not sent yet is withdrawn (the youth never
    hears of the mis-tap); only one that reached them is followed by a "booked again", and a
    youth who has heard nothing of the booking yet gets its confirmation."""
    _withdraw(CANCELLATIONS, appointment_id)
    target = _target(appointment_id)
    if target is None:
        return
    # Notices that reached the youth, or are reaching them now (a worker is mid-send), and
    # that no "booked again" has answered yet. Staff resends do not count: one cancellation,
    # one apology.
    heard = _count(appointment_id, CANCELLATIONS, _GONE)
    answered = _count(appointment_id, (Kind.RESTORED,), _NOT_WITHDRAWN)
    if heard > answered:
        _add(target, Kind.RESTORED, now, staff_id=staff_id)
    elif not _count(appointment_id, (Kind.CONFIRMATION, Kind.RESTORED, *_NEW_TIME), _NOT_WITHDRAWN):
        # Cancelled before its confirmation went (the worker then dropped it), and the notice
        # never went either: the youth has not heard of this booking at all.
        _add(target, Kind.CONFIRMATION, now, staff_id=staff_id)
    _schedule_reminders(target, now)


def treated(appointment_id: int, now: datetime, *, staff_id: int | None = None) -> None:
    """A treatment done: aftercare tips, in the youth's language; once per visit, even when
    a completion is undone after the tips went and then made again."""
    target = _target(appointment_id)
    if target is not None and not _count(appointment_id, (Kind.AFTERCARE,), _GONE):
        _add(target, Kind.AFTERCARE, now, staff_id=staff_id)


def already_booked(
    appointment_id: int, day: date, start: time, now: datetime, *, joining: str | None = None
) -> None:
    """An online request for ``day`` at ``start`` in the name of a youth who already has this
    appointment ahead: they are told so at its contact, and the request was not booked.
    ``joining`` ("standby" or "program"): the request was to join that list instead."""
    target = _target(appointment_id)
    if target is not None:
        _add_once(target, Kind.ALREADY_BOOKED, day, start, now, **_joining(joining))


def too_soon(
    appointment_id: int,
    earliest: date,
    day: date,
    start: time,
    now: datetime,
    *,
    joining: str | None = None,
) -> None:
    """An online request for ``day`` at ``start`` sooner than the healing interval after the
    youth's last treatment (at ``appointment_id``): they are told the earliest date."""
    target = _target(appointment_id)
    if target is not None:
        _add_once(
            target,
            Kind.TOO_SOON,
            day,
            start,
            now,
            earliest=earliest.isoformat(),
            **_joining(joining),
        )


def _joining(joining: str | None) -> dict[str, str]:
    return {"joining": joining} if joining else {}


def _add_once(
    target: _Target, kind: Kind, day: date, start: time, now: datetime, **context: str
) -> None:
    """A notice about a declined request, at most one a day per appointment: anyone can
    submit the form in a youth's name, and must not be able to flood them with messages."""
    if target.channel is None:
        return
    local_day = now.astimezone(settings.clinic_zone()).date()
    # Worth sending until the visit it is about starts, or the time asked for has passed.
    ends = _starts(target.day, target.start) if kind.about_a_visit_ahead else _starts(day, start)
    db.session.execute(
        dialect_insert(OutboxMessage)
        .values(
            kind=kind,
            channel=target.channel,
            language=target.language,
            appointment_id=target.id,
            context={"requested": visit_key(day, start), **context},
            dedup_key=f"declined:{target.id}:{local_day.isoformat()}",
            status=MessageStatus.QUEUED,
            attempts=0,
            send_after=naive_utc(now),
            created_at=naive_utc(now),
            expires_at=ends,
        )
        .on_conflict_do_nothing()
    )


# --- "Lost your link?" and the lists ------------------------------------------------------


@dataclass(frozen=True)
class _EntryTarget:
    """A standby or waiting-list entry as the outbox needs it: the contact given with it."""

    id: int
    kind: str
    status: str
    day: date | None  # standby only
    closed_at: datetime | None  # naive UTC
    channel: str | None
    language: str


def _entry_target(entry_id: int) -> _EntryTarget | None:
    row = db.session.execute(
        select(
            ListEntry.id,
            ListEntry.kind,
            ListEntry.status,
            ListEntry.day,
            ListEntry.closed_at,
            ListEntry.contact_by,
            ListEntry.phone,
            ListEntry.email,
            ListEntry.language,
        ).where(ListEntry.id == entry_id)
    ).one_or_none()
    if row is None:
        return None
    return _EntryTarget(
        id=row.id,
        kind=row.kind,
        status=row.status,
        day=row.day,
        closed_at=row.closed_at,
        channel=choose_channel(row.contact_by, row.phone, row.email),
        language=row.language or "en",
    )


def _add_about_entry(
    target: _EntryTarget,
    kind: Kind,
    now: datetime,
    *,
    dedup_key: str,
    expires_at: datetime | None = None,
    context: dict[str, str] | None = None,
    channel: str | None = None,
    staff_id: int | None = None,
) -> None:
    """Queue a message about a list entry, to the entry's own contact; at most one per
    ``dedup_key`` (a second is silently not made)."""
    channel = channel or target.channel
    if channel is None:
        return
    db.session.execute(
        dialect_insert(OutboxMessage)
        .values(
            kind=kind,
            channel=channel,
            language=target.language,
            entry_id=target.id,
            context=context or {},
            dedup_key=dedup_key,
            status=MessageStatus.QUEUED,
            attempts=0,
            send_after=naive_utc(now),
            created_at=naive_utc(now),
            created_by_id=staff_id,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing()
    )


def _local_day(now: datetime) -> date:
    return now.astimezone(settings.clinic_zone()).date()


def _standby_ends(target: _EntryTarget) -> datetime | None:
    """A standby entry's messages are worth sending until its day is over (naive UTC)."""
    if target.kind != ListKind.STANDBY or target.day is None:
        return None
    return naive_utc(
        datetime.combine(target.day + timedelta(days=1), time(0), tzinfo=settings.clinic_zone())
    )


def link_again(
    now: datetime,
    *,
    appointment_id: int | None = None,
    entry_id: int | None = None,
    channel: str | None = None,
) -> None:
    """Lost your link? The youth is sent a fresh link to the appointment or list entry, at
    most once a day per appointment or entry (anyone can type a youth's contact into the
    form, and must not be able to flood them). ``channel`` ("email" or "sms"): the contact
    the youth typed, if the booking or entry has it; otherwise the way they chose."""
    if (appointment_id is None) == (entry_id is None):
        raise ValueError("a link is to an appointment or to a list entry")
    rules = settings.current_rules()
    day = _local_day(now).isoformat()
    if entry_id is not None:
        entry = _entry_target(entry_id)
        if entry is None:
            return
        closed_at = entry.closed_at.replace(tzinfo=UTC) if entry.closed_at else None
        ends = entry_link_ends(entry.day, closed_at, rules.zone, rules.links)
        _add_about_entry(
            entry,
            Kind.LINK_AGAIN,
            now,
            dedup_key=f"link:entry:{entry.id}:{day}",
            expires_at=naive_utc(ends) if ends is not None else None,
            channel=_typed_channel(
                channel, select(ListEntry.email, ListEntry.phone).where(ListEntry.id == entry.id)
            ),
        )
        return
    target = _target(appointment_id)
    if target is None:
        return
    # Not worth sending once the link it carries would no longer open.
    ends = appointment_link_ends(target.day, VisitStatus(target.status), rules.zone, rules.links)
    typed = _typed_channel(
        channel, select(Intake.email, Intake.phone).where(Intake.appointment_id == target.id)
    )
    chosen = typed or target.channel
    if chosen is None:
        return
    db.session.execute(
        dialect_insert(OutboxMessage)
        .values(
            kind=Kind.LINK_AGAIN,
            channel=chosen,
            language=target.language,
            appointment_id=target.id,
            context={},
            dedup_key=f"link:appointment:{target.id}:{day}",
            status=MessageStatus.QUEUED,
            attempts=0,
            send_after=naive_utc(now),
            created_at=naive_utc(now),
            expires_at=naive_utc(ends),
        )
        .on_conflict_do_nothing()
    )


def _typed_channel(channel: str | None, contact: Any) -> str | None:
    """``channel`` if the contact (a query for its e-mail and phone) has that way to reach
    them; else None."""
    if channel not in ("email", "sms"):
        return None
    row = db.session.execute(contact).one_or_none()
    if row is None:
        return None
    return channel if (row.email if channel == "email" else row.phone) else None


def joined_list(entry_id: int, now: datetime) -> None:
    """A youth joined a day's standby list or the program's waiting list: they are told so,
    with the link to their place. At most one a day per entry: joining again in their name
    finds the same entry, and must not flood them."""
    target = _entry_target(entry_id)
    if target is None:
        return
    _add_about_entry(
        target,
        Kind.LIST_JOINED,
        now,
        dedup_key=f"joined:{target.id}:{_local_day(now).isoformat()}",
        expires_at=_standby_ends(target),
    )


def seat_offered(offer_id: int, now: datetime) -> None:
    """A seat is offered to a list entry: the youth gets the seat's day and time, the claim
    link and the deadline. The message expires with the offer, and the worker does not send
    it once the offer is no longer open (claimed, declined, withdrawn, lapsed)."""
    offer = _offer(offer_id)
    if offer is None:
        return
    target = _entry_target(offer.entry_id)
    if target is not None:
        _add_about_entry(
            target,
            Kind.SEAT_OFFERED,
            now,
            dedup_key=f"offer:{offer.id}",
            expires_at=offer.expires_at,
            context={"offer_id": str(offer.id)},
            staff_id=offer.offered_by_id,
        )


def offer_lapsed(offer_id: int, now: datetime) -> None:
    """An offer passed to the next person unclaimed: its message, if still waiting, is
    withdrawn, and the youth is told they are still on the list."""
    offer = _offer(offer_id)
    if offer is None:
        return
    _withdraw_offer(offer.id)
    target = _entry_target(offer.entry_id)
    if target is not None:
        _add_about_entry(
            target,
            Kind.OFFER_LAPSED,
            now,
            dedup_key=f"lapsed:{offer.id}",
            expires_at=_standby_ends(target),
            context={"offer_id": str(offer.id)},
        )


def _offer(offer_id: int) -> Any:
    return db.session.execute(
        select(
            SeatOffer.id, SeatOffer.entry_id, SeatOffer.expires_at, SeatOffer.offered_by_id
        ).where(SeatOffer.id == offer_id)
    ).one_or_none()


def _withdraw_offer(offer_id: int) -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.dedup_key == f"offer:{offer_id}",
            OutboxMessage.status == MessageStatus.QUEUED,
        )
        .values(status=MessageStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )


def _count(appointment_id: int, kinds: Iterable[Kind], statuses: Iterable[MessageStatus]) -> int:
    """The appointment's messages of these kinds in these states, leaving out staff resends."""
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.appointment_id == appointment_id,
            OutboxMessage.kind.in_(tuple(kinds)),
            OutboxMessage.status.in_(tuple(statuses)),
            OutboxMessage.resend_of_id.is_(None),
        )
    )


def untreated(appointment_id: int) -> None:
    """A completion undone: its aftercare tips go only if they have not already."""
    _withdraw((Kind.AFTERCARE,), appointment_id)


def _withdraw(kinds: Iterable[str], appointment_id: int | None = None) -> list[Any]:
    """Cancel the messages of these kinds that have not gone yet: the appointment's, or
    everyone's. Returns the withdrawn rows' (id, context); only rows still queued at this
    instant are withdrawn, never one a worker is sending."""
    where = [OutboxMessage.kind.in_(tuple(kinds)), OutboxMessage.status == MessageStatus.QUEUED]
    if appointment_id is not None:
        where.append(OutboxMessage.appointment_id == appointment_id)
    return db.session.execute(
        update(OutboxMessage)
        .where(*where)
        .values(status=MessageStatus.CANCELLED)
        .returning(OutboxMessage.id, OutboxMessage.context)
        .execution_options(synchronize_session=False)
    ).all()


def reminder_key(kind: str, appointment_id: int) -> str:
    """One reminder of each kind per appointment, ever: a job run twice makes none, and a
    reminder already sent is not sent again when the appointment moves."""
    return f"{kind}:{appointment_id}"


def _schedule_reminders(target: _Target, now: datetime) -> int:
    """Insert the appointment's reminders still to come, unless they exist. One withdrawn
    (the booking was cancelled, then restored) is queued again; one still queued for another
    time (the booking moved) takes the new time; one sent, dead or expired is left alone.
    Returns how many rows were added or changed."""
    if target.channel is None or target.status != AppointmentStatus.BOOKED:
        return 0
    rules = settings.current_rules()
    now = now.astimezone(UTC)
    # A booking being made now was made now, whatever its row's clock says.
    booked_at = min(target.created_at.replace(tzinfo=UTC), now)
    reminders = reminders_for(target.day, target.start, rules.zone, booked_at, now, rules.reminders)
    count = 0
    for reminder in reminders:
        values = {
            "kind": reminder.kind.value,
            "channel": target.channel,
            "language": target.language,
            "appointment_id": target.id,
            # The time it reminds of: a reminder for a time the booking has left is not sent.
            "context": {"starts": visit_key(target.day, target.start)},
            "dedup_key": reminder_key(reminder.kind, target.id),
            "status": MessageStatus.QUEUED.value,
            "send_after": naive_utc(reminder.send_at),
            "expires_at": naive_utc(reminder.expires_at),
            "attempts": 0,
            "created_at": naive_utc(now),
        }
        statement = dialect_insert(OutboxMessage).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[OutboxMessage.dedup_key],
            set_={
                "status": MessageStatus.QUEUED.value,
                "channel": target.channel,
                "language": target.language,
                "send_after": values["send_after"],
                "expires_at": values["expires_at"],
                "context": values["context"],
                "attempts": 0,
                "last_error": None,
            },
            where=(OutboxMessage.status == MessageStatus.CANCELLED.value)
            | (
                (OutboxMessage.status == MessageStatus.QUEUED.value)
                & (
                    # The visit moved, or the reminder settings changed.
                    # JSON has no equality on PostgreSQL; its text does.
                    (cast(OutboxMessage.context, Text) != cast(statement.excluded.context, Text))
                    | (OutboxMessage.send_after != statement.excluded.send_after)
                    | (OutboxMessage.expires_at != statement.excluded.expires_at)
                )
            ),
        )
        # RETURNING: a row comes back only if one was inserted or revived (rowcount is -1
        # for an upsert on psycopg).
        count += len(db.session.execute(statement.returning(OutboxMessage.id)).all())
    return count


def schedule_reminders(now: datetime) -> int:
    """Make sure every booked appointment in the coming days has its reminders (the
    ``flask reminders`` job). Bookings schedule their own; this catches what they could not
    (bookings made before reminders existed, a setting changed since). Idempotent: run it as
    often as you like. Returns how many reminders it added or moved."""
    rules = settings.current_rules()
    policy = rules.reminders
    today = now.astimezone(rules.zone).date()
    # A week beyond the earliest reminder: rows made early wait for their time harmlessly.
    horizon = today + timedelta(days=max(policy.days_before, 0) + 7)
    added = 0
    with write_transaction():
        # A reminder the clinic has turned off since it was queued is not sent.
        turned_off = [kind for kind in ReminderKind if kind not in policy.enabled]
        if turned_off:
            _withdraw(turned_off)
        for target in _targets(
            Appointment.status == AppointmentStatus.BOOKED, Slot.day.between(today, horizon)
        ):
            added += _schedule_reminders(target, now)
    return added
