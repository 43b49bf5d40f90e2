"""Database models. Models never commit: the use cases in ``clinic.booking`` do, once.

Appointment times are stored as the clinic's wall-clock date and time (no time zone), because
that is what the clinic and the youth mean by "Tuesday at 4:20"; conversion to instants happens
only at the edges.
"""

from __future__ import annotations

import enum
import hashlib
import unicodedata
from datetime import UTC, date, datetime, time

from flask import has_request_context
from flask_babel import gettext
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from clinic import crypto, settings
from clinic.crypto import EncryptedJSON, EncryptedText
from clinic.extensions import db
from clinic.permissions import Action, Role, can
from clinic.rules.calendar import DayException
from clinic.rules.visits import VisitStatus


def utcnow() -> datetime:
    """Current UTC time as a naive datetime (the columns hold UTC without a zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(moment: datetime) -> datetime:
    """An aware instant as the columns hold it: UTC without a zone."""
    return moment.astimezone(UTC).replace(tzinfo=None)


# The roles and what each may do live in ``clinic.permissions``.
StaffRole = Role


class StaffUser(UserMixin, db.Model):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Two-step sign-in (clinic.accounts): the authenticator app's shared secret, encrypted at
    # rest; drawn at set-up, and on once ``totp_enabled_at`` is set. ``totp_last_step`` is the
    # 30-second step of the last code accepted: only a later one is, so a code works once.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    totp_last_step: Mapped[int | None] = mapped_column()

    __table_args__ = (CheckConstraint("role IN ('admin', 'front_desk', 'clinician')", name="role"),)

    # The sign-in this request came with, set by ``clinic.accounts.sign_in`` and
    # ``signed_in_user``: its token (str) and its ``StaffSession`` id (int). Plain attributes,
    # not columns: the database keeps only the token's hash, in ``staff_session``.
    session_token = None
    session_id = None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def get_id(self) -> str:  # Flask-Login keeps this in the session
        if self.session_token is None:
            raise RuntimeError("sign in with clinic.accounts.sign_in, which draws the token")
        return self.session_token

    def can(self, action: Action) -> bool:
        return can(self.role, action, settings.permission_grants())

    def set_password(self, password: str) -> None:
        method = settings.password_hash_method()
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


def hash_session_token(token: str) -> str:
    """What the database keeps of a session token: its SHA-256. A copy of the table (a backup,
    a read-only leak) signs nobody in; the token is random, so no salt or slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


class StaffSession(db.Model):
    """One sign-in of a staff account: a browser that typed the password.

    Each sign-in gets its own row and its own token, so two devices are two sessions and
    signing out of one leaves the other. A session lasts ``STAFF_SESSION_HOURS`` from its
    sign-in at most (``expires_at``), whatever the activity; signing out deletes its row, and a
    password change or a deactivation deletes all of the account's rows.
    """

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Indexed: expired rows are deleted by it at each sign-in.
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ClinicDay(db.Model):
    """A staff change to one date of the schedule (closed, extra, other hours or seats).

    Ordinary clinic days have no row: they come from the rule in ``clinic_days``.
    """

    __tablename__ = "clinic_day"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    closed: Mapped[bool] = mapped_column(default=False)
    extra: Mapped[bool] = mapped_column(default=False)
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    slot_minutes: Mapped[int | None]
    seats: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("slot_minutes IS NULL OR slot_minutes > 0", name="slot_minutes"),
        CheckConstraint("seats IS NULL OR seats >= 0", name="seats"),
    )

    def as_exception(self) -> DayException:
        return DayException(
            day=self.day,
            closed=self.closed,
            extra=self.extra,
            start=self.start_time,
            end=self.end_time,
            slot_minutes=self.slot_minutes,
            seats=self.seats,
        )


class Slot(db.Model):
    """A bookable time and its seat counter.

    A row is created the first time a slot is booked (or changed by staff); until then the
    slot exists only as a rule. ``booked`` is the counter the database keeps honest: it only
    moves through a conditional UPDATE, and the CHECK makes overbooking impossible. It counts
    every seat taken: by an appointment, and by an open standby or waiting-list offer
    (``SeatOffer``), which holds its seat until it is claimed or lapses.
    """

    __tablename__ = "slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)
    # Blocked by the admin: no new booking or walk-in takes a seat here.
    blocked: Mapped[bool] = mapped_column(default=False)

    appointments: Mapped[list[Appointment]] = relationship(
        back_populates="slot", order_by="Appointment.id"
    )

    __table_args__ = (
        UniqueConstraint("day", "start_time", name="uq_slot_day_start_time"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
    )


class ContactDetails:
    """How to reach a youth, and their parent or guardian when they are a minor."""

    # Encrypted at rest (clinic.crypto), like the guardian's details below: SQL never compares
    # them; equality search goes through the blind indexes (keyed hashes of the normalised
    # value), which ``crypto.keep_blind_indexes`` keeps in step however a value is written.
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    email: Mapped[str | None] = mapped_column(EncryptedText)
    phone_index: Mapped[str | None] = mapped_column(
        String(64), index=True, default=crypto.index_default("phone")
    )
    email_index: Mapped[str | None] = mapped_column(
        String(64), index=True, default=crypto.index_default("email")
    )
    language: Mapped[str] = mapped_column(String(5), default="en")
    # "sms" or "email": how the youth wants confirmations and reminders (None, or a way
    # they gave no contact for: e-mail if they gave one, else a text; messages.choose_channel).
    contact_by: Mapped[str | None] = mapped_column(String(5))
    guardian_name: Mapped[str | None] = mapped_column(EncryptedText)
    guardian_relationship: Mapped[str | None] = mapped_column(EncryptedText)
    guardian_phone: Mapped[str | None] = mapped_column(EncryptedText)

    def address_for(self, channel: str) -> str | None:
        """Where a message on ``channel`` ("email" or "sms") reaches them, if anywhere."""
        return self.email if channel == "email" else self.phone


SEARCH_NAME_LENGTH = 200


class Youth(ContactDetails, db.Model):
    """A young person the clinic treats; one row across all their visits.

    ``identity_key`` (a hash of the normalized names and date of birth) recognises a returning
    youth who books online without an account. Contact and guardian details here are the ones
    first given; a later online booking records its own on its intake instead of overwriting
    these, so that someone who knows a youth's name and birth date cannot redirect their
    messages.
    """

    __tablename__ = "youth"

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_key: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    preferred_name: Mapped[str | None] = mapped_column(String(60))
    date_of_birth: Mapped[date] = mapped_column(Date)
    # The names folded as ``normalize_name`` does ("jose nunez ..."), for staff search.
    search_name: Mapped[str] = mapped_column(String(SEARCH_NAME_LENGTH), default="", index=True)
    # Set when an admin merged this record into another: bookings under this identity go
    # to that record, and searches no longer list this one.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("youth.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Set when the personal data was erased (retention, or the youth's request:
    # ``clinic.records.privacy``); the row stays, anonymous, so the reports' counts stay.
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)

    appointments: Mapped[list[Appointment]] = relationship(back_populates="youth")
    treatments: Mapped[list[Treatment]] = relationship(
        back_populates="youth", order_by="Treatment.day"
    )

    __table_args__ = (Index("ix_youth_dob", "date_of_birth"),)

    @property
    def display_name(self) -> str:
        if self.purged_at is not None:
            # The reader's language in a request; outside one (a command), English.
            if not has_request_context():
                return f"Erased record #{self.id}"
            return gettext("Erased record #%(id)d", id=self.id)
        first = self.preferred_name or self.first_name
        return f"{first} {self.last_name}"

    @staticmethod
    def short_name_of(first_name: str, preferred_name: str | None, last_name: str) -> str:
        """ "Ana F.": the first (or preferred) name and the last name's initial. What a staff
        flash says: enough for the desk to know whom a move touched, and no more, since a
        flash travels in the session cookie, which is signed but not encrypted."""
        first = (preferred_name or first_name).strip()
        initial = last_name.strip()[:1].upper()
        return f"{first} {initial}." if initial else first

    @property
    def short_name(self) -> str:
        return Youth.short_name_of(self.first_name, self.preferred_name, self.last_name)

    @staticmethod
    def make_search_name(first_name: str, last_name: str, preferred_name: str | None) -> str:
        # Folding can lengthen a name many times over (NFKD spells out ligatures such as
        # U+FDFA in 18 letters), so the column's width is a cut, not a promise.
        names = (first_name, last_name, preferred_name)
        return " ".join(normalize_name(n) for n in names if n)[:SEARCH_NAME_LENGTH]

    @staticmethod
    def make_identity_key(first_name: str, last_name: str, date_of_birth: date) -> str:
        """SHA-256 of the folded names and birth date: fixed length, and no second copy of
        the name in clear."""
        parts = (normalize_name(first_name), normalize_name(last_name), date_of_birth.isoformat())
        return hashlib.sha256("|".join(parts).encode()).hexdigest()


def normalize_name(name: str) -> str:
    """Fold case, accents and spacing, so "José  Núñez" and "jose nunez" match."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.replace("-", " ").split())


AppointmentStatus = VisitStatus  # the statuses and their moves are rules: see scheduling


class Consent(enum.StrEnum):
    """A minor's guardian consent, as the front desk recorded it at check-in."""

    CONFIRMED = "confirmed"  # signed form, guardian present, or confirmed by phone
    EXEMPT = "exempt"  # emancipated, or Family Code 6922: a staff decision
    MISSING = "missing"  # flagged: not confirmed yet; the youth cannot be treated


class Appointment(db.Model):
    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    youth_id: Mapped[int] = mapped_column(ForeignKey("youth.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"))
    status: Mapped[str] = mapped_column(String(20), default=AppointmentStatus.BOOKED)
    # The key of the form that created it: a repeated submission finds this row instead of
    # booking twice.
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Who cancelled: a staff account, or nobody (the youth, from their link; see StatusChange).
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    # The clinic day itself. Times are UTC; the ticket is the number the waiting room sees.
    walk_in: Mapped[bool] = mapped_column(default=False)
    ticket: Mapped[int | None]
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime)
    called_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Where the youth is treated, and on which date: one youth per station at a time.
    station: Mapped[str | None] = mapped_column(String(40))
    station_day: Mapped[date | None] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Guardian consent for a minor, recorded before treatment (see Consent).
    consent: Mapped[str | None] = mapped_column(String(12))
    consent_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    consent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The youth's age in whole years on the visit's day, written when their record is erased
    # (the birth date then keeps only its year), so the reports' age bands stay the same.
    age_at_visit: Mapped[int | None]

    youth: Mapped[Youth] = relationship(back_populates="appointments")
    slot: Mapped[Slot] = relationship(back_populates="appointments")
    intake: Mapped[Intake | None] = relationship(back_populates="appointment", uselist=False)
    treatment: Mapped[Treatment | None] = relationship(back_populates="appointment", uselist=False)
    changes: Mapped[list[StatusChange]] = relationship(
        back_populates="appointment", order_by="StatusChange.id"
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('booked', 'checked_in', 'in_treatment', 'completed', 'no_show', "
            "'cancelled')",
            name="status",
        ),
        CheckConstraint(
            "consent IS NULL OR consent IN ('confirmed', 'exempt', 'missing')", name="consent"
        ),
        Index("ix_appointment_youth_status", "youth_id", "status"),
        Index("ix_appointment_slot_id", "slot_id"),
        # Two clinicians can never put two youth on one station at once.
        Index(
            "uq_appointment_station_in_treatment",
            "station_day",
            "station",
            unique=True,
            sqlite_where=text("status = 'in_treatment'"),
            postgresql_where=text("status = 'in_treatment'"),
        ),
    )


class Intake(ContactDetails, db.Model):
    """What a youth told us when booking: contact, guardian, tattoos, screening, referral.

    One per booking, since answers change between visits (a new phone, pregnancy, a recent
    tan). Messages about this appointment go to the contact given here. Screening answers are
    flags for the clinician, never reasons to refuse.
    """

    __tablename__ = "intake"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), unique=True)
    tattoo_count: Mapped[int]
    tattoo_locations: Mapped[list[str]] = mapped_column(JSON, default=list)
    tattoo_size: Mapped[str] = mapped_column(String(20))
    tattoo_colors: Mapped[str] = mapped_column(String(20))
    tattoo_kind: Mapped[str] = mapped_column(String(20))
    tattoo_age_years: Mapped[int | None]
    previous_removal: Mapped[bool] = mapped_column(default=False)
    # Encrypted at rest (clinic.crypto): read in Python, never filtered or grouped in SQL.
    tattoo_notes: Mapped[str | None] = mapped_column(EncryptedText)
    screening: Mapped[list[str]] = mapped_column(EncryptedJSON, default=list)
    referral_source: Mapped[str] = mapped_column(EncryptedText)
    # Its blind index (crypto.referral_index): what the reports group by.
    referral_index: Mapped[str | None] = mapped_column(
        String(64), default=crypto.index_default("referral", "referral_source")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    appointment: Mapped[Appointment] = relationship(back_populates="intake")


class Actor(enum.StrEnum):
    """Who made a change to an appointment."""

    STAFF = "staff"
    YOUTH = "youth"  # from their own link (self-service): cancelled or moved by the youth


class StatusChange(db.Model):
    """One move of an appointment, by whom and when: the queue's history, what "undo"
    reverts, and the youth's own changes from their link (``actor`` youth, no staff member;
    a move to another time keeps its status and says where from and to in ``detail``)."""

    __tablename__ = "status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    actor: Mapped[str] = mapped_column(String(10), default=Actor.STAFF)
    # A reschedule's times: {"from": "2026-12-22T16:00", "to": "2027-01-26T17:20"}.
    detail: Mapped[dict[str, str] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    appointment: Mapped[Appointment] = relationship(back_populates="changes")
    staff: Mapped[StaffUser | None] = relationship(foreign_keys=[staff_id])

    __table_args__ = (
        Index("ix_status_change_appointment_id", "appointment_id", "id"),
        CheckConstraint("actor IN ('staff', 'youth')", name="actor"),
        # A staff change names its staff member; a youth's names none.
        CheckConstraint("(actor = 'staff') = (staff_id IS NOT NULL)", name="actor_staff"),
    )


class Treatment(db.Model):
    """A laser session given: what the clinician recorded when completing the visit.

    ``notes`` and the laser settings are clinical: only clinicians see them.
    """

    __tablename__ = "treatment"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), unique=True)
    youth_id: Mapped[int] = mapped_column(ForeignKey("youth.id"))
    day: Mapped[date] = mapped_column(Date)
    session_number: Mapped[int]
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    skin_type: Mapped[str | None] = mapped_column(String(4))  # Fitzpatrick I-VI
    settings: Mapped[str | None] = mapped_column(EncryptedText)  # encrypted at rest
    notes: Mapped[str | None] = mapped_column(EncryptedText)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    station: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    appointment: Mapped[Appointment] = relationship(back_populates="treatment")
    youth: Mapped[Youth] = relationship(back_populates="treatments")
    clinician: Mapped[StaffUser] = relationship()

    __table_args__ = (
        CheckConstraint("session_number >= 1", name="session_number"),
        Index("ix_treatment_youth_day", "youth_id", "day"),
    )


class TicketCounter(db.Model):
    """The last ticket number handed out on a clinic day (one atomic upsert per check-in)."""

    __tablename__ = "ticket_counter"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_ticket: Mapped[int] = mapped_column(default=0)


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its send-after time, or for a retry
    SENDING = "sending"  # claimed by a worker until ``claimed_until``
    SENT = "sent"
    DEAD = "dead"  # failed for good (a permanent error, or out of tries): staff may resend
    CANCELLED = "cancelled"  # no longer wanted (a reminder for a cancelled appointment)
    EXPIRED = "expired"  # its moment passed before it could go (a reminder after the visit)


class OutboxMessage(db.Model):
    """A message to a youth, written in the same transaction as the change that causes it and
    sent later by ``flask outbox run`` (see ``clinic.messaging``).

    The row holds what the message is about, not its text: the text is written when it is
    sent, in the language recorded here, from the appointment as it is then. ``recipient``
    is the address it was last sent to, for staff; it is never logged.
    """

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(5))
    language: Mapped[str] = mapped_column(String(5), default="en")
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    # Or a standby or waiting-list entry (joined, offered a seat, link sent again).
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("list_entry.id"))
    # Facts the message needs that the appointment no longer holds (a moved booking's old time).
    context: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # At most one row per key: a reminder is scheduled once however often the job runs.
    dedup_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=MessageStatus.QUEUED)
    send_after: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Why the last try failed, with any address scrubbed out.
    last_error: Mapped[str | None] = mapped_column(String(200))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    recipient: Mapped[str | None] = mapped_column(EncryptedText)  # encrypted at rest
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    resend_of_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id"))

    appointment: Mapped[Appointment | None] = relationship()
    entry: Mapped[ListEntry | None] = relationship()
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id])

    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'dead', 'cancelled', 'expired')",
            name="status",
        ),
        CheckConstraint("channel IN ('email', 'sms')", name="channel"),
        Index("ix_outbox_message_due", "status", "send_after"),
        Index("ix_outbox_message_appointment_id", "appointment_id"),
        Index("ix_outbox_message_entry_id", "entry_id"),
        Index("ix_outbox_message_created_at", "created_at"),
    )


# --- Self-service: the youth's links, standby and the program's waiting list -------------


class YouthLink(db.Model):
    """A link a youth holds: to one appointment (change, cancel, add to calendar, book the
    next session) or to one list entry (their place, an offered seat, leave the list).

    The token is 32 bytes from ``secrets`` (256 bits), drawn when a message carrying it is
    written; only its SHA-256 is kept, so a copy of the database opens nothing. Each message
    carries a fresh token, all valid together: whether a token still opens its page is decided
    by what it points to (``clinic.booking.links``), so a visit moved later extends its links
    and a visit past ends them.
    """

    __tablename__ = "youth_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("list_entry.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    appointment: Mapped[Appointment | None] = relationship()
    entry: Mapped[ListEntry | None] = relationship()

    __table_args__ = (
        CheckConstraint("(appointment_id IS NULL) <> (entry_id IS NULL)", name="one_target"),
    )


class ListKind(enum.StrEnum):
    STANDBY = "standby"  # one clinic day (or a time range on it) that was full
    PROGRAM = "program"  # the clinic's waiting list: every day in the window was full


class EntryStatus(enum.StrEnum):
    WAITING = "waiting"  # on the list (an offer may be out to them: see SeatOffer)
    BOOKED = "booked"  # took an offered seat: ``appointment_id``
    LEFT = "left"  # left the list from their link
    REMOVED = "removed"  # removed by staff
    CLOSED = "closed"  # the day passed, or they booked some other way


OPEN_ENTRY = (EntryStatus.WAITING,)


class ListEntry(ContactDetails, db.Model):
    """A youth on a day's standby list or on the program's waiting list.

    Joining takes the same intake as booking (``answers``: what ``Intake`` would record), so
    that taking an offered seat books without a form; messages go to the contact given here.
    Order: ``priority`` (0 first; the program list's rules, see ``clinic.rules.waitlist``), then
    ``rank`` (the joining order, which staff may change on a standby list), then ``id``.
    """

    __tablename__ = "list_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    youth_id: Mapped[int] = mapped_column(ForeignKey("youth.id"))
    # Standby only: the day, and the times that suit (None: any time that day).
    day: Mapped[date | None] = mapped_column(Date)
    earliest: Mapped[time | None] = mapped_column(Time)
    latest: Mapped[time | None] = mapped_column(Time)
    status: Mapped[str] = mapped_column(String(10), default=EntryStatus.WAITING)
    priority: Mapped[int] = mapped_column(default=0)
    rank: Mapped[int] = mapped_column(default=0)
    # Encrypted at rest (clinic.crypto): holds the screening and referral answers.
    answers: Mapped[dict[str, object]] = mapped_column(EncryptedJSON, default=dict)
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))

    youth: Mapped[Youth] = relationship()
    appointment: Mapped[Appointment | None] = relationship()
    offers: Mapped[list[SeatOffer]] = relationship(back_populates="entry", order_by="SeatOffer.id")

    __table_args__ = (
        CheckConstraint("kind IN ('standby', 'program')", name="kind"),
        CheckConstraint(
            "status IN ('waiting', 'booked', 'left', 'removed', 'closed')", name="status"
        ),
        CheckConstraint("(kind = 'standby') = (day IS NOT NULL)", name="standby_day"),
        Index("ix_list_entry_list", "kind", "day", "status"),
        # The reports: who joined, and who left the lists, in a range of dates.
        Index("ix_list_entry_kind_joined", "kind", "joined_at"),
        Index("ix_list_entry_kind_closed", "kind", "closed_at"),
        Index("ix_list_entry_youth_id", "youth_id"),
        # One place per youth on each list: joining twice finds the first.
        Index(
            "uq_list_entry_waiting_standby",
            "youth_id",
            "day",
            unique=True,
            sqlite_where=text("status = 'waiting' AND kind = 'standby'"),
            postgresql_where=text("status = 'waiting' AND kind = 'standby'"),
        ),
        Index(
            "uq_list_entry_waiting_program",
            "youth_id",
            unique=True,
            sqlite_where=text("status = 'waiting' AND kind = 'program'"),
            postgresql_where=text("status = 'waiting' AND kind = 'program'"),
        ),
    )


# phone_index and email_index follow phone and e-mail however they are written.
crypto.keep_blind_indexes(Youth, Intake, ListEntry)
crypto.keep_referral_index(Intake)


class OfferStatus(enum.StrEnum):
    OPEN = "open"  # holds its seat until ``expires_at``
    CLAIMED = "claimed"  # booked: ``appointment_id``
    DECLINED = "declined"  # "no thanks" from the link
    LAPSED = "lapsed"  # not claimed in time: passed to the next person
    WITHDRAWN = "withdrawn"  # the entry left or was removed, or the day closed


class SeatOffer(db.Model):
    """One seat offered to one list entry, held for it (counted in ``Slot.booked``) until
    claimed or lapsed. At most one open offer per entry; a seat has at most one offer because
    the offer itself holds it."""

    __tablename__ = "seat_offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("list_entry.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"))
    status: Mapped[str] = mapped_column(String(10), default=OfferStatus.OPEN)
    offered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    # A staff member who invited by hand; None when the seat freed and the list moved.
    offered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    entry: Mapped[ListEntry] = relationship(back_populates="offers")
    slot: Mapped[Slot] = relationship()

    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'claimed', 'declined', 'lapsed', 'withdrawn')", name="status"
        ),
        Index("ix_seat_offer_status_expires", "status", "expires_at"),
        Index("ix_seat_offer_slot_id", "slot_id"),
        Index(
            "uq_seat_offer_open_per_entry",
            "entry_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )


class YouthChange(db.Model):
    """One field of a youth's record changed by staff (``clinic.records.edit``): who, when,
    which field, and the value it held before, so a mistyped phone can be put back and the
    desk can see what a youth was reached at. The audit trail names the fields only; the old
    values live here, encrypted at rest like the contact columns they come from, and are
    shown only to roles that see contact details. One row per field changed."""

    __tablename__ = "youth_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    youth_id: Mapped[int] = mapped_column(ForeignKey("youth.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    field: Mapped[str] = mapped_column(String(30))
    old_value: Mapped[str | None] = mapped_column(EncryptedText)

    # ``Youth.changes`` (oldest first) is declared from here, so the record loads its history
    # in the same statement as the youth (``clinic.records.record.load_youth``).
    # (A backref as its (name, options) pair: ``Youth`` itself stays as it is.)
    youth: Mapped[Youth] = relationship(backref=("changes", {"order_by": "YouthChange.id"}))
    staff: Mapped[StaffUser] = relationship()

    __table_args__ = (Index("ix_youth_change_youth_id", "youth_id", "id"),)


# --- The audit trail -----------------------------------------------------------------------


class AuditEvent(db.Model):
    """One entry of the append-only audit trail (``clinic.audit``): who viewed or changed
    what, when and from where. ``fields`` holds the names of the fields changed, never their
    values; ``detail`` only non-personal facts (an export's date range). ``youth_id`` has no
    foreign key on purpose: erasing a youth keeps the trail of who saw their record. The
    database refuses UPDATE and DELETE on this table (triggers, see the migration)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # "staff", "youth" (from their own link or the booking form) or "system" (CLI, worker).
    actor: Mapped[str] = mapped_column(String(10))
    # No foreign key either: the trail outlives, and never blocks, the rows it names.
    staff_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(20))
    object_type: Mapped[str | None] = mapped_column(String(20))
    object_id: Mapped[int | None]
    youth_id: Mapped[int | None]
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The staff member's address (None for a youth and for the command line).
    address: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, str] | None] = mapped_column(JSON)

    staff: Mapped[StaffUser | None] = relationship(
        primaryjoin="foreign(AuditEvent.staff_id) == StaffUser.id", viewonly=True
    )

    __table_args__ = (
        CheckConstraint("actor IN ('staff', 'youth', 'system')", name="actor"),
        Index("ix_audit_event_youth_at", "youth_id", "at"),
        Index("ix_audit_event_staff_at", "staff_id", "at"),
        Index("ix_audit_event_at", "at"),
    )


class RosterEntry(db.Model):
    """One clinician rostered to work one clinic day (``clinic.schedule``). A day's seats per
    slot and its stations follow from how many active clinicians it has (``roster_seats``,
    ``day_stations``); a day with no row keeps the ordinary day's."""

    __tablename__ = "roster_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )

    # Also the index the reads use: they look a range of days up.
    __table_args__ = (UniqueConstraint("day", "staff_id"),)


class RecoveryCode(db.Model):
    """One of a staff account's one-time recovery codes for two-step sign-in (a lost phone):
    the SHA-256 of the code as shown (normalised, ``clinic.accounts.hash_recovery_code``; the
    code is random, so no salt or slow hash is needed), and when it was used."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
