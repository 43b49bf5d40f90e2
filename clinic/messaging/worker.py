"""The outbox worker (``flask outbox run``): claims due messages, writes each in the youth's
language with a fresh link to what it is about (an appointment or a list entry), sends it by
e-mail or text, and records the outcome.

Several workers can run at once: claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so they
take different rows; on SQLite the claim is made under the database's single write lock. Each
message is sent outside any transaction. A failed try is retried after an exponential backoff
with jitter (``clinic.rules.messages.retry_delay``); after ``OUTBOX_MAX_ATTEMPTS`` tries, or at
once on a permanent error, the message is dead and staff see it, with a resend button.

Delivery is at least once: a worker that dies between sending and recording leaves its claim
to expire (``OUTBOX_CLAIM_SECONDS``), and another worker sends again.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time as clock_time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from limits import RateLimitItem, parse_many
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import joinedload

from clinic import settings
from clinic.database import discard_transaction, write_transaction
from clinic.extensions import db, limiter
from clinic.messaging import ics, links, outbox, transports
from clinic.messaging.outbox import CANCELLATIONS, visit_key
from clinic.messaging.texts import Facts, compose
from clinic.models import (
    Appointment,
    AppointmentStatus,
    EntryStatus,
    ListEntry,
    MessageStatus,
    OfferStatus,
    OutboxMessage,
    SeatOffer,
    naive_utc,
)
from clinic.rules.eligibility import needs_guardian
from clinic.rules.messages import (
    Kind,
    retry_delay,
)
from clinic.rules.visits import earliest_follow_up

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0  # cancelled or expired when their turn came
    held: int = 0  # their destination had its day's share: they wait (MESSAGES_PER_DESTINATION)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.dead + self.skipped + self.held


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
    lease = at + settings.outbox_settings().claim
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
    batch_size = settings.outbox_settings().batch_size
    report = RunReport()
    channels = transports.configured_channels()
    while stopping is None or not stopping.is_set():
        batch = claim(now(), batch_size, channels)
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
        failure = transports.TemporaryFailure(f"unexpected {type(error).__name__}")
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


def run_forever(
    stopping: threading.Event,
    before_each_poll: Callable[[datetime], object] | None = None,
) -> None:
    """``flask outbox run --loop``: send what is due, then look again every few seconds, until
    ``stopping`` is set; and keep reminders scheduled every ten minutes, so that a missing
    cron line cannot stop them. A database that goes away (a restart) is waited for.

    ``before_each_poll(now)`` runs before each look (the command passes the seat offers'
    sweep: offers lapse and freed seats are offered on time, and their messages go in the
    same poll); it commits its own work, and its failure is logged like the worker's own."""
    poll = settings.outbox_settings().poll_seconds
    next_reminders = 0.0
    while not stopping.is_set():
        try:
            if clock_time.monotonic() >= next_reminders:
                outbox.schedule_reminders(datetime.now(UTC))
                next_reminders = clock_time.monotonic() + 600
            if before_each_poll is not None:
                before_each_poll(datetime.now(UTC))
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
    """A claimed message and what it is about, read before sending: an appointment, or a
    list entry (with the seat offer the message is about, if any)."""

    message: OutboxMessage
    appointment: Appointment | None
    entry: ListEntry | None = None
    offer: SeatOffer | None = None


def _load(message_id: int) -> _Outgoing:
    message = db.session.get(OutboxMessage, message_id)
    appointment = entry = offer = None
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
    if message.entry_id is not None:
        entry = db.session.scalar(
            select(ListEntry)
            .where(ListEntry.id == message.entry_id)
            .options(joinedload(ListEntry.youth))
        )
        offer_id = (message.context or {}).get("offer_id")
        if offer_id:
            offer = db.session.scalar(
                select(SeatOffer)
                .where(SeatOffer.id == int(offer_id))
                .options(joinedload(SeatOffer.slot))
            )
    return _Outgoing(message, appointment, entry, offer)


def _mint_link(outgoing: _Outgoing) -> str:
    """A fresh link to what the message is about, written in its own short transaction
    before the message is composed. If the send then fails, the token is never seen and
    its hash stays unused: harmless (it opens nothing anyone holds), and the next try mints
    another."""
    message = outgoing.message
    target = (
        {"appointment_id": message.appointment_id}
        if message.appointment_id is not None
        else {"entry_id": message.entry_id}
    )
    db.session.rollback()
    with write_transaction():
        token = links.mint(**target)
    return links.url(token)


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
        _fail(message_id, token, transports.PermanentFailure("no address to send to"), now, rand)
        report.dead += 1
        return
    held_until = _destination_full(address)
    if held_until is not None:
        db.session.rollback()
        # Not a failure and not a try: it waits until the destination may hear from us again.
        _finish(message_id, token, status=MessageStatus.QUEUED, send_after=held_until)
        report.held += 1
        return
    link = _mint_link(outgoing)
    outgoing = _load(message_id)  # afresh: the link's commit expired what was loaded
    written = compose(kind, _facts(outgoing, kind, link), language)
    attachment = _calendar_file(outgoing, written, message_id) if channel == "email" else None
    db.session.rollback()  # no transaction stays open while the network is slow
    try:
        if channel == "email":
            reference = transports.send_email(
                address, written.letter.subject, written.text, written.html, attachment
            )
        else:
            reference = transports.send_sms(address, written.letter.sms)
    except transports.DeliveryFailure as failure:
        dead = _fail(message_id, token, failure, now, rand)
        if dead:
            report.dead += 1
        else:
            report.retried += 1
        log.warning(
            "outbox: message %d (%s, %s) failed: %s", message_id, kind, channel, failure.reason
        )
        return
    _count_for_destination(address)
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


# Messages per destination, counted in the rate limiter's shared store (Redis in production)
# under a keyed hash of the address: anyone can type a stranger's number into the booking
# form, and the clinic must not become a way to flood it. Checked before sending and counted
# after, so a failed try costs nothing; workers sending to one address at the same instant
# may each send one more.
_DESTINATION = "message-destination"


def _destination_limits(address: str) -> list[tuple[RateLimitItem, str, str]]:
    """Each configured limit with the keys ``address`` counts under; none while limits are
    off."""
    if not limiter.enabled:
        return []
    key = settings.keyed_hash(_DESTINATION, address)
    return [
        (item, _DESTINATION, key) for item in parse_many(settings.outbox_settings().per_destination)
    ]


def _destination_full(address: str) -> datetime | None:
    """When ``address`` may get messages again, if it has had its share (naive UTC)."""
    for item, *keys in _destination_limits(address):
        if not limiter.limiter.test(item, *keys):
            reset, _remaining = limiter.limiter.get_window_stats(item, *keys)
            return naive_utc(datetime.fromtimestamp(reset + 1, UTC))
    return None


def _count_for_destination(address: str) -> None:
    for item, *keys in _destination_limits(address):
        limiter.limiter.hit(item, *keys)


def _renew(message_id: int, token: str, now: datetime) -> bool:
    """Extend this worker's claim on a message just before sending it; False if the claim
    is no longer ours."""
    lease = naive_utc(now) + settings.outbox_settings().claim
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
    if message.entry_id is not None:
        return _why_skip_entry(outgoing, kind)
    if appointment is None:
        return None
    if kind in CANCELLATIONS:
        # Undone since (a mis-tap, or "send again" on an old notice): the youth is booked, and
        # a notice, with its calendar file removing the visit, would say otherwise.
        booked = appointment.status == AppointmentStatus.BOOKED
        return MessageStatus.CANCELLED if booked else None
    if not kind.about_a_visit_ahead:
        return None
    if appointment.status != AppointmentStatus.BOOKED:
        return MessageStatus.CANCELLED
    visit = visit_key(appointment.slot.day, appointment.slot.start_time)
    if kind.is_reminder and (message.context or {}).get("starts", visit) != visit:
        return MessageStatus.CANCELLED
    return None


def _why_skip_entry(outgoing: _Outgoing, kind: Kind) -> MessageStatus | None:
    """A message about a list entry that should no longer go: an offer no longer open (taken,
    declined, passed on, withdrawn), or news of a place on a list the youth has left."""
    entry = outgoing.entry
    if entry is None:
        return MessageStatus.CANCELLED
    if kind is Kind.SEAT_OFFERED:
        offer = outgoing.offer
        if offer is None or offer.status != OfferStatus.OPEN:
            return MessageStatus.CANCELLED
        return None
    if kind in (Kind.LIST_JOINED, Kind.OFFER_LAPSED) and entry.status != EntryStatus.WAITING:
        return MessageStatus.CANCELLED
    return None


def _address(outgoing: _Outgoing) -> str | None:
    """Where the message goes: the contact given with this booking or list entry, as it is
    now."""
    if outgoing.message.entry_id is not None:
        contact = outgoing.entry
    else:
        contact = outgoing.appointment.intake if outgoing.appointment else None
    if contact is None:
        return None
    return contact.address_for(outgoing.message.channel)


def _facts(outgoing: _Outgoing, kind: Kind, link: str) -> Facts:
    if outgoing.message.entry_id is not None:
        return _entry_facts(outgoing, link)
    rules = settings.current_rules()
    appointment = outgoing.appointment
    youth = appointment.youth
    day = appointment.slot.day
    context = outgoing.message.context or {}
    old = context.get("old_start")
    requested = context.get("requested")  # a declined request's "2026-11-24T16:00"
    before = datetime.fromisoformat(context["old"]) if context.get("old") else None
    if kind is Kind.TOO_SOON:
        next_session_from = date.fromisoformat(context["earliest"])
    elif kind is Kind.AFTERCARE:
        next_session_from = earliest_follow_up(day, rules.follow_up)
    else:
        next_session_from = None
    return Facts(
        code=appointment.code,
        day=day,
        start=appointment.slot.start_time,
        name=youth.preferred_name or youth.first_name,
        minor=needs_guardian(youth.date_of_birth, day, rules.ages),
        old_start=before.time() if before else time.fromisoformat(old) if old else None,
        old_day=before.date() if before else None,
        next_session_from=next_session_from,
        requested=datetime.fromisoformat(requested) if requested else None,
        joining=context.get("joining"),
        link=link,
        treated=appointment.status == AppointmentStatus.COMPLETED,
    )


def _entry_facts(outgoing: _Outgoing, link: str) -> Facts:
    """A list entry's message: the youth's name; the offered seat's day and time, else the
    standby list's day (none for the program's waiting list)."""
    rules = settings.current_rules()
    entry, offer = outgoing.entry, outgoing.offer
    youth = entry.youth
    day, start = entry.day, None
    if offer is not None:
        day, start = offer.slot.day, offer.slot.start_time
    return Facts(
        code="",
        day=day,
        start=start,
        name=youth.preferred_name or youth.first_name,
        minor=day is not None and needs_guardian(youth.date_of_birth, day, rules.ages),
        link=link,
        deadline=offer.expires_at.replace(tzinfo=UTC) if offer is not None else None,
        earliest=entry.earliest,
        latest=entry.latest,
    )


def _calendar_file(outgoing: _Outgoing, written, sequence: int) -> tuple[str, bytes, str] | None:
    if not written.letter.calendar or outgoing.appointment is None:
        return None
    method = "CANCEL" if written.letter.cancelled else "PUBLISH"
    content = ics.calendar_for(
        outgoing.appointment,
        title=written.calendar_title,
        # The message's id: a later message about the appointment has a higher one, so a
        # calendar app takes its file as the newer version (a new time, a cancellation).
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


def _fail(message_id, token, failure: transports.DeliveryFailure, now, rand) -> bool:
    """Record a failed try: queued again after the backoff, or dead. Returns True if dead."""
    config = settings.outbox_settings()
    attempts = (
        db.session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == message_id)) + 1
    )
    db.session.rollback()
    dead = isinstance(failure, transports.PermanentFailure) or attempts >= config.max_attempts
    delay = retry_delay(
        attempts,
        config.retry_base,
        config.retry_cap,
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
