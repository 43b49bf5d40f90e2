"""The links a youth holds, as every message to them carries one: to an appointment (change,
cancel, add to calendar, book the next session) or to a list entry (their place, an offered
seat, leave the list).

A token is 32 bytes from ``secrets`` (256 bits, 43 URL-safe characters), drawn when the
message carrying it is written; the database keeps only its SHA-256 (``YouthLink``), so a
backup or a leaked table opens nothing, and no salt or slow hash is needed for a random value.
Every message gets a fresh token and all stay valid together; whether one still opens its
page depends on what it points to (``clinic.rules.selfservice``), so a visit moved later
extends its links and a visit past ends them. A token that is unknown, malformed or past its
time is the same ``None`` to the caller: the visitor sees one "this link does not work" page.

Nothing here commits: ``mint`` writes in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic import settings
from clinic.extensions import db
from clinic.models import Appointment, ListEntry, YouthLink
from clinic.rules.policy import ClinicRules
from clinic.rules.selfservice import appointment_link_ends, entry_link_ends
from clinic.rules.visits import VisitStatus

TOKEN_BYTES = 32
# What token_urlsafe(32) looks like: anything else is refused before the database is asked.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint(*, appointment_id: int | None = None, entry_id: int | None = None) -> str:
    """A new token for the appointment or the list entry; only its hash is stored."""
    if (appointment_id is None) == (entry_id is None):
        raise ValueError("a link points to an appointment or to a list entry")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    db.session.add(
        YouthLink(token_hash=hash_token(token), appointment_id=appointment_id, entry_id=entry_id)
    )
    db.session.flush()
    return token


def url(token: str) -> str:
    """The link as a message writes it (the worker has no request to build it from)."""
    return settings.public_url(f"/my/{token}")


@dataclass(frozen=True)
class Held:
    """What a valid link opens: one appointment or one list entry (loaded with its slot)."""

    token_hash: str
    appointment: Appointment | None
    entry: ListEntry | None


def resolve(token: str | None, now: datetime, rules: ClinicRules) -> Held | None:
    """What ``token`` opens now, or None (unknown, malformed or past its time alike)."""
    if not token or not _TOKEN_SHAPE.fullmatch(token):
        return None
    return resolve_hash(hash_token(token), now, rules)


def resolve_hash(token_hash: str, now: datetime, rules: ClinicRules) -> Held | None:
    """As ``resolve``, from the hash a browser's session keeps after opening the link."""
    link = db.session.scalar(
        select(YouthLink)
        .where(YouthLink.token_hash == token_hash)
        .options(
            joinedload(YouthLink.appointment).joinedload(Appointment.slot),
            joinedload(YouthLink.entry),
        )
        # As it is now: the page a link opens follows every change, however recent.
        .execution_options(populate_existing=True)
    )
    if link is None or not _still_open(link, now, rules):
        return None
    return Held(token_hash, link.appointment, link.entry)


def _still_open(link: YouthLink, now: datetime, rules: ClinicRules) -> bool:
    if link.appointment is not None:
        ends = appointment_link_ends(
            link.appointment.slot.day,
            VisitStatus(link.appointment.status),
            rules.zone,
            rules.links,
        )
        return now < ends
    entry = link.entry
    # The columns hold naive UTC.
    closed_at = entry.closed_at.replace(tzinfo=UTC) if entry.closed_at is not None else None
    ends = entry_link_ends(entry.day, closed_at, rules.zone, rules.links)
    return ends is None or now < ends
