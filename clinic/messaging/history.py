"""What staff see of the messages to youth and do with them: the newest first, what waits for a
provider that is not configured, and sending one again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import transports
from clinic.models import (
    Appointment,
    ListEntry,
    MessageStatus,
    OutboxMessage,
    naive_utc,
)


class NotResendable(Exception):
    """Only a message that was sent, or died, can be sent again."""


class AlreadyResent(NotResendable):
    """A copy of this message is already waiting to go (a double click, or two desks)."""


def resend(message_id: int, staff_id: int) -> OutboxMessage:
    """Send a message again (the youth says it never came, or it died while the server was
    down): a new row, queued now, to the appointment's (or list entry's) current contact, with
    a fresh link. One copy at a time; one about a visit no longer ahead, or an offer no
    longer open, is not sent, as any would not be."""
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
                entry_id=original.entry_id,
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
    ready = set(transports.configured_channels())
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
    """The newest messages first, with their appointment or list entry and youth loaded for
    the page."""
    query = (
        select(OutboxMessage)
        .options(
            joinedload(OutboxMessage.appointment).joinedload(Appointment.youth),
            joinedload(OutboxMessage.appointment).joinedload(Appointment.slot),
            joinedload(OutboxMessage.appointment).joinedload(Appointment.intake),
            joinedload(OutboxMessage.entry).joinedload(ListEntry.youth),
            joinedload(OutboxMessage.created_by),
        )
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(db.session.scalars(query))
