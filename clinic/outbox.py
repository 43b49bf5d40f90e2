"""The outbox: every message to a youth is a row written in the same transaction as the change
that causes it, and sent later by a worker (``flask outbox run``).

So a booking never fails, or waits, because mail or SMS is down: it commits its outbox rows
with the appointment, and the worker delivers them when it can. The worker claims due rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers take different rows; on SQLite
the claim is made under the database's single write lock), sends each outside any
transaction, then records the outcome. A failed try is retried after an exponential backoff
with jitter (``scheduling.retry_delay``); after ``OUTBOX_MAX_ATTEMPTS`` tries, or at once on a
permanent error, the message is dead and staff see it, with a resend button.

Delivery is at least once: a worker that dies between sending and recording leaves its claim
to expire (``OUTBOX_CLAIM_SECONDS``), and another worker sends again. Reminders are made
once each: their ``dedup_key`` is unique, so scheduling them twice inserts nothing.

Part 1 writes rows (called inside the use cases' transactions, never committing); part 2 is
the worker; part 3 what staff see and do.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time as clock_time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Text, and_, cast, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from clinic import calendar, delivery, scheduling
from clinic.database import dialect_insert, discard_transaction, write_transaction
from clinic.extensions import db
from clinic.messages import Facts, Kind, choose_channel, compose
from clinic.models import (
    Appointment,
    AppointmentStatus,
    Intake,
    MessageStatus,
    OutboxMessage,
    Slot,
    naive_utc,
)

log = logging.getLogger(__name__)


def reminder_policy(config: Mapping[str, Any] | None = None) -> scheduling.ReminderPolicy:
    """The reminder settings, read; the app factory calls it once, so that a time that
    cannot be read stops the app at start rather than failing every booking."""
    config = config if config is not None else current_app.config

    def at(name: str) -> time | None:
        text = config[name].strip()
        try:
            return time.fromisoformat(text) if text else None
        except ValueError:
            raise RuntimeError(
                f"{name} must be a time like 10:00 (or empty), not {text!r}"
            ) from None

    return scheduling.ReminderPolicy(
        days_before=config["REMINDER_DAYS_BEFORE"],
        early_at=at("REMINDER_EARLY_AT"),
        same_day_at=at("REMINDER_SAME_DAY_AT"),
    )


# --- 1. Writing messages, inside the caller's transaction --------------------------------


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


def _visit(day: date, start: time) -> str:
    """A visit's date and time, as reminders record it: '2026-11-24T16:00'."""
    return f"{day.isoformat()}T{start.strftime('%H:%M')}"


def _starts(day: date, start: time) -> datetime:
    """An appointment's start as stored in the outbox: naive UTC."""
    zone = ZoneInfo(current_app.config["CLINIC_TZ"])
    return naive_utc(scheduling.slot_start(day, start, zone))


_REMINDERS = (Kind.REMINDER_EARLY, Kind.REMINDER_SAME_DAY)
_CANCELLATIONS = (Kind.CANCELLED, Kind.CLINIC_CANCELLED)
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
_EXPIRE_AT_START = (Kind.CONFIRMATION, Kind.RESTORED, Kind.MOVED, *_CANCELLATIONS)


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
    appointment_id: int, now: datetime, *, by_clinic: bool = False, staff_id: int | None = None
) -> None:
    """A booking cancelled (by staff for the youth, or because the clinic changed its day):
    its reminders are withdrawn, and the youth is told."""
    _withdraw(_REMINDERS, appointment_id)
    target = _target(appointment_id)
    if target is not None:
        kind = Kind.CLINIC_CANCELLED if by_clinic else Kind.CANCELLED
        _add(target, kind, now, staff_id=staff_id)


def moved(appointment_id: int, old_start: time, now: datetime, *, staff_id: int | None = None):
    """A booking moved to another time the same day: the youth is told, and the reminders not
    sent yet take the new time (one already sent is not sent again).

    Moved twice before the first notice went, the youth gets one notice, from the time they
    last heard of to the new one; moved back to that time, none."""
    target = _target(appointment_id)
    if target is None:
        return
    # What still waits expires when the visit starts: at its new time now.
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.appointment_id == appointment_id,
            OutboxMessage.kind.in_(_EXPIRE_AT_START),
            OutboxMessage.status == MessageStatus.QUEUED,
        )
        .values(expires_at=_starts(target.day, target.start))
        .execution_options(synchronize_session=False)
    )
    unsent = _withdraw((Kind.MOVED,), appointment_id)
    known = min(unsent, key=lambda row: row.id).context["old_start"] if unsent else None
    known_start = time.fromisoformat(known) if known else old_start
    if known_start != target.start:
        context = {"old_start": known_start.isoformat()}
        _add(target, Kind.MOVED, now, staff_id=staff_id, context=context)
    _schedule_reminders(target, now)


def restored(appointment_id: int, now: datetime, *, staff_id: int | None = None) -> None:
    """A cancellation undone: a cancellation notice not sent yet is withdrawn (the youth never
    hears of the mis-tap); only one that reached them is followed by a "booked again", and a
    youth who has heard nothing of the booking yet gets its confirmation."""
    _withdraw(_CANCELLATIONS, appointment_id)
    target = _target(appointment_id)
    if target is None:
        return
    # Notices that reached the youth, or are reaching them now (a worker is mid-send), and
    # that no "booked again" has answered yet. Staff resends do not count: one cancellation,
    # one apology.
    heard = _count(appointment_id, _CANCELLATIONS, _GONE)
    answered = _count(appointment_id, (Kind.RESTORED,), _NOT_WITHDRAWN)
    if heard > answered:
        _add(target, Kind.RESTORED, now, staff_id=staff_id)
    elif not _count(appointment_id, (Kind.CONFIRMATION, Kind.RESTORED, Kind.MOVED), _NOT_WITHDRAWN):
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
    zone = ZoneInfo(current_app.config["CLINIC_TZ"])
    now = now.astimezone(UTC)
    # A booking being made now was made now, whatever its row's clock says.
    booked_at = min(target.created_at.replace(tzinfo=UTC), now)
    reminders = scheduling.reminders_for(
        target.day, target.start, zone, booked_at, now, reminder_policy()
    )
    count = 0
    for reminder in reminders:
        values = {
            "kind": reminder.kind.value,
            "channel": target.channel,
            "language": target.language,
            "appointment_id": target.id,
            # The time it reminds of: a reminder for a time the booking has left is not sent.
            "context": {"starts": _visit(target.day, target.start)},
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
    policy = reminder_policy()
    today = now.astimezone(ZoneInfo(current_app.config["CLINIC_TZ"])).date()
    # A week beyond the earliest reminder: rows made early wait for their time harmlessly.
    horizon = today + timedelta(days=max(policy.days_before, 0) + 7)
    added = 0
    with write_transaction():
        # A reminder the clinic has turned off since it was queued is not sent.
        turned_off = [kind for kind in scheduling.ReminderKind if kind not in policy.enabled]
        if turned_off:
            _withdraw(turned_off)
        for target in _targets(
            Appointment.status == AppointmentStatus.BOOKED, Slot.day.between(today, horizon)
        ):
            added += _schedule_reminders(target, now)
    return added


# --- 2. The worker -----------------------------------------------------------------------


@dataclass
class RunReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0  # cancelled or expired when their turn came

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.dead + self.skipped


def claim(now: datetime, limit: int, channels: Iterable[str]) -> list[tuple[int, str]]:
    """Claim up to ``limit`` due messages for this worker; returns (id, claim token) pairs.

    Due: queued with its send-after time passed, or claimed by a worker whose claim ran out
    (it died mid-send). Only channels that can send now are claimed; the others wait.
    """
    channels = tuple(channels)
    if not channels:
        return []
    at = naive_utc(now)
    due = or_(
        and_(OutboxMessage.status == MessageStatus.QUEUED, OutboxMessage.send_after <= at),
        and_(OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.claimed_until < at),
    )
    token = secrets.token_hex(16)
    lease = at + timedelta(seconds=current_app.config["OUTBOX_CLAIM_SECONDS"])
    with write_transaction():
        ids = db.session.scalars(
            select(OutboxMessage.id)
            .where(due, OutboxMessage.channel.in_(channels))
            .order_by(OutboxMessage.send_after, OutboxMessage.id)
            .limit(limit)
            # PostgreSQL: rows another worker is claiming are skipped, not waited for. SQLite
            # ignores this; its write lock (BEGIN IMMEDIATE) makes claims one at a time.
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            return []
        claimed = db.session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), due)
            .values(status=MessageStatus.SENDING, claim_token=token, claimed_until=lease)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
    return [(message_id, token) for message_id in sorted(claimed)]


def run_once(
    now: Callable[[], datetime] | None = None,
    rand: Callable[[], float] = random.random,
    stopping: threading.Event | None = None,
) -> RunReport:
    """Send every message due now, batch after batch, until none is left (or ``stopping`` is
    set: the messages claimed but not tried are given back). Returns a report."""
    now = now or (lambda: datetime.now(UTC))
    config = current_app.config
    report = RunReport()
    channels = delivery.configured_channels()
    while stopping is None or not stopping.is_set():
        batch = claim(now(), config["OUTBOX_BATCH_SIZE"], channels)
        if not batch:
            break
        for index, (message_id, token) in enumerate(batch):
            if stopping is not None and stopping.is_set():
                _release(batch[index:])
                break
            _try(message_id, token, now, rand, report)
    return report


def _try(message_id: int, token: str, now, rand, report: RunReport) -> None:
    """Deliver one claimed message; whatever goes wrong with it is recorded on it as a failed
    try, and the worker goes on with the others."""
    try:
        _deliver(message_id, token, now, rand, report)
    except Exception as error:  # one bad message must not stop the rest
        db.session.rollback()
        # The type and where, never the message: exception texts can quote an address.
        log.error(
            "outbox: message %d failed unexpectedly: %s\n%s",
            message_id,
            type(error).__name__,
            "".join(traceback.format_tb(error.__traceback__)),
        )
        failure = delivery.TemporaryFailure(f"unexpected {type(error).__name__}")
        if _fail(message_id, token, failure, now, rand):
            report.dead += 1
        else:
            report.retried += 1


def _release(claimed: list[tuple[int, str]]) -> None:
    """Give claimed messages back, untried, for the next worker."""
    with write_transaction():
        for message_id, token in claimed:
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
                .values(status=MessageStatus.QUEUED, claim_token=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )


def run_forever(stopping: threading.Event) -> None:
    """``flask outbox run --loop``: send what is due, then look again every few seconds, until
    ``stopping`` is set; and keep reminders scheduled every ten minutes, so that a missing
    cron line cannot stop them. A database that goes away (a restart) is waited for."""
    poll = current_app.config["OUTBOX_POLL_SECONDS"]
    next_reminders = 0.0
    while not stopping.is_set():
        try:
            if clock_time.monotonic() >= next_reminders:
                schedule_reminders(datetime.now(UTC))
                next_reminders = clock_time.monotonic() + 600
            report = run_once(stopping=stopping)
        except Exception as error:
            discard_transaction()  # over a dead connection too: the loop must live on
            log.error("outbox: %s; trying again in %d s", type(error).__name__, poll)
            stopping.wait(poll)
            continue
        if report.handled:
            log.info(
                "outbox: %d sent, %d to retry, %d dead, %d skipped",
                report.sent,
                report.retried,
                report.dead,
                report.skipped,
            )
        else:
            stopping.wait(poll)


@dataclass(frozen=True)
class _Outgoing:
    """A claimed message and what it is about, read before sending."""

    message: OutboxMessage
    appointment: Appointment | None


def _load(message_id: int) -> _Outgoing:
    message = db.session.get(OutboxMessage, message_id)
    appointment = None
    if message.appointment_id is not None:
        appointment = db.session.scalar(
            select(Appointment)
            .where(Appointment.id == message.appointment_id)
            .options(
                joinedload(Appointment.slot),
                joinedload(Appointment.youth),
                joinedload(Appointment.intake),
            )
        )
    return _Outgoing(message, appointment)


def _deliver(message_id, token, now, rand, report: RunReport) -> None:
    if not _renew(message_id, token, now()):
        return  # our claim ran out (a long batch) and another worker has this one now
    outgoing = _load(message_id)
    message = outgoing.message
    kind, channel, language = Kind(message.kind), message.channel, message.language
    skip = _why_skip(outgoing, kind, now())
    if skip is not None:
        db.session.rollback()
        _finish(message_id, token, status=skip)
        report.skipped += 1
        return
    address = _address(outgoing)
    if address is None:
        db.session.rollback()
        _fail(message_id, token, delivery.PermanentFailure("no address to send to"), now, rand)
        report.dead += 1
        return
    written = compose(kind, _facts(outgoing, kind), language)
    attachment = _calendar_file(outgoing, written, message_id) if channel == "email" else None
    db.session.rollback()  # no transaction stays open while the network is slow
    try:
        if channel == "email":
            reference = delivery.send_email(
                address, written.letter.subject, written.text, written.html, attachment
            )
        else:
            reference = delivery.send_sms(address, written.letter.sms)
    except delivery.DeliveryFailure as failure:
        dead = _fail(message_id, token, failure, now, rand)
        if dead:
            report.dead += 1
        else:
            report.retried += 1
        log.warning(
            "outbox: message %d (%s, %s) failed: %s", message_id, kind, channel, failure.reason
        )
        return
    _finish(
        message_id,
        token,
        status=MessageStatus.SENT,
        sent_at=naive_utc(now()),
        recipient=address,
        provider_ref=reference[:64],
        last_error=None,
        attempts=OutboxMessage.attempts + 1,
        last_attempt_at=naive_utc(now()),
    )
    report.sent += 1


def _renew(message_id: int, token: str, now: datetime) -> bool:
    """Extend this worker's claim on a message just before sending it; False if the claim
    is no longer ours."""
    lease = naive_utc(now) + timedelta(seconds=current_app.config["OUTBOX_CLAIM_SECONDS"])
    with write_transaction():
        return bool(
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
                .values(claimed_until=lease)
                .execution_options(synchronize_session=False)
            ).rowcount
        )


def _why_skip(outgoing: _Outgoing, kind: Kind, now: datetime) -> MessageStatus | None:
    """A message that should no longer go: its moment has passed, or it is about a visit
    that is no longer ahead as it was written (cancelled, or moved since)."""
    message, appointment = outgoing.message, outgoing.appointment
    if message.expires_at is not None and naive_utc(now) >= message.expires_at:
        return MessageStatus.EXPIRED
    if appointment is None:
        return None
    if kind in _CANCELLATIONS:
        # Undone since (a mis-tap, or "send again" on an old notice): the youth is booked, and
        # a notice, with its calendar file removing the visit, would say otherwise.
        booked = appointment.status == AppointmentStatus.BOOKED
        return MessageStatus.CANCELLED if booked else None
    if not kind.about_a_visit_ahead:
        return None
    if appointment.status != AppointmentStatus.BOOKED:
        return MessageStatus.CANCELLED
    visit = _visit(appointment.slot.day, appointment.slot.start_time)
    if kind.is_reminder and (message.context or {}).get("starts", visit) != visit:
        return MessageStatus.CANCELLED
    return None


def _address(outgoing: _Outgoing) -> str | None:
    """Where the message goes: the contact given with this booking, as it is now."""
    intake = outgoing.appointment.intake if outgoing.appointment else None
    if intake is None:
        return None
    return intake.address_for(outgoing.message.channel)


def _facts(outgoing: _Outgoing, kind: Kind) -> Facts:
    # Here, not at the top: booking imports this module to write messages with its bookings.
    from clinic.booking import current_rules

    rules = current_rules()
    appointment = outgoing.appointment
    youth = appointment.youth
    day = appointment.slot.day
    old = outgoing.message.context.get("old_start")
    return Facts(
        code=appointment.code,
        day=day,
        start=appointment.slot.start_time,
        name=youth.preferred_name or youth.first_name,
        minor=scheduling.needs_guardian(youth.date_of_birth, day, rules.ages),
        old_start=time.fromisoformat(old) if old else None,
        next_session_from=(
            scheduling.earliest_follow_up(day, rules.follow_up) if kind is Kind.AFTERCARE else None
        ),
    )


def _calendar_file(outgoing: _Outgoing, written, sequence: int) -> tuple[str, bytes, str] | None:
    if not written.letter.calendar or outgoing.appointment is None:
        return None
    config = current_app.config
    slot = outgoing.appointment.slot
    method = "CANCEL" if written.letter.cancelled else "PUBLISH"
    content = calendar.appointment_ics(
        code=outgoing.appointment.code,
        day=slot.day,
        start=slot.start_time,
        end=slot.end_time,
        zone=config["CLINIC_TZ"],
        title=written.calendar_title,
        # Calendars are seen by family and on lock screens: the neutral name, as texts use.
        location=f"{config['CLINIC_SMS_NAME']}, {config['CLINIC_ADDRESS']}",
        uid_domain=delivery.sender_domain(),
        organizer=delivery.sender_address(),
        sequence=sequence,
        cancelled=written.letter.cancelled,
    )
    return ("appointment.ics", content, f"text/calendar; charset=utf-8; method={method}")


def _finish(message_id: int, token: str, **values: object) -> bool:
    """Record a claimed message's outcome, unless its claim ran out and another worker took
    it over meanwhile (then that worker records it)."""
    with write_transaction():
        changed = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
            .values(claim_token=None, claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        ).rowcount
    if not changed:
        log.warning("outbox: message %d was taken over by another worker", message_id)
    return bool(changed)


def _fail(message_id, token, failure: delivery.DeliveryFailure, now, rand) -> bool:
    """Record a failed try: queued again after the backoff, or dead. Returns True if dead."""
    config = current_app.config
    attempts = (
        db.session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == message_id)) + 1
    )
    db.session.rollback()
    dead = (
        isinstance(failure, delivery.PermanentFailure) or attempts >= config["OUTBOX_MAX_ATTEMPTS"]
    )
    delay = scheduling.retry_delay(
        attempts,
        timedelta(seconds=config["OUTBOX_RETRY_BASE_SECONDS"]),
        timedelta(seconds=config["OUTBOX_RETRY_CAP_SECONDS"]),
        rand(),
    )
    at = naive_utc(now())
    _finish(
        message_id,
        token,
        status=MessageStatus.DEAD if dead else MessageStatus.QUEUED,
        attempts=attempts,
        last_attempt_at=at,
        last_error=failure.reason,
        send_after=at if dead else at + delay,
    )
    return dead


# --- 3. What staff see and do ------------------------------------------------------------


class NotResendable(Exception):
    """Only a message that was sent, or died, can be sent again."""


class AlreadyResent(NotResendable):
    """A copy of this message is already waiting to go (a double click, or two desks)."""


def resend(message_id: int, staff_id: int) -> OutboxMessage:
    """Send a message again (the youth says it never came, or it died while the server was
    down): a new row, queued now, to the appointment's current contact. One copy at a time;
    one about a visit no longer ahead is not sent, as any would not be."""
    try:
        with write_transaction():
            original = db.session.get(OutboxMessage, message_id)
            if original is None or original.status not in (
                MessageStatus.SENT,
                MessageStatus.DEAD,
            ):
                raise NotResendable()
            copies = (
                db.session.execute(
                    select(OutboxMessage.status).where(OutboxMessage.resend_of_id == message_id)
                )
                .scalars()
                .all()
            )
            if any(s in (MessageStatus.QUEUED, MessageStatus.SENDING) for s in copies):
                raise AlreadyResent()
            again = OutboxMessage(
                kind=original.kind,
                channel=original.channel,
                language=original.language,
                appointment_id=original.appointment_id,
                context=dict(original.context or {}),
                expires_at=original.expires_at,
                created_by_id=staff_id,
                resend_of_id=original.id,
                # Two desks at once compute the same key: the database keeps one copy.
                dedup_key=f"resend:{original.id}:{len(copies) + 1}",
            )
            db.session.add(again)
            db.session.flush()
            return again
    except IntegrityError:
        raise AlreadyResent() from None


@dataclass(frozen=True)
class Waiting:
    """Messages that cannot go because their channel has no provider configured."""

    channel: str
    count: int


def waiting_without_provider(now: datetime) -> list[Waiting]:
    ready = set(delivery.configured_channels())
    counts = db.session.execute(
        select(OutboxMessage.channel, func.count())
        .where(
            OutboxMessage.status == MessageStatus.QUEUED,
            OutboxMessage.send_after <= naive_utc(now),  # due: not reminders weeks ahead
        )
        .group_by(OutboxMessage.channel)
    ).all()
    return [Waiting(channel, count) for channel, count in counts if channel not in ready]


def recent(status: str | None, limit: int, offset: int = 0) -> list[OutboxMessage]:
    """The newest messages first, with their appointment and youth loaded for the page."""
    query = (
        select(OutboxMessage)
        .options(
            joinedload(OutboxMessage.appointment).joinedload(Appointment.youth),
            joinedload(OutboxMessage.appointment).joinedload(Appointment.slot),
            joinedload(OutboxMessage.appointment).joinedload(Appointment.intake),
            joinedload(OutboxMessage.created_by),
        )
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(db.session.scalars(query))
