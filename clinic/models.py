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

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from clinic import scheduling
from clinic.extensions import db


def utcnow() -> datetime:
    """Current UTC time as a naive datetime (the columns hold UTC without a zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


class StaffRole(enum.StrEnum):
    ADMIN = "admin"
    FRONT_DESK = "front_desk"
    CLINICIAN = "clinician"


class StaffUser(UserMixin, db.Model):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (CheckConstraint("role IN ('admin', 'front_desk', 'clinician')", name="role"),)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class ClinicDay(db.Model):
    """A staff change to one date of the schedule (closed, extra, other hours or seats).

    Ordinary clinic days have no row: they come from the rule in ``scheduling.clinic_days``.
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

    def as_exception(self) -> scheduling.DayException:
        return scheduling.DayException(
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
    moves through a conditional UPDATE, and the CHECK makes overbooking impossible.
    """

    __tablename__ = "slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)

    appointments: Mapped[list[Appointment]] = relationship(
        back_populates="slot", order_by="Appointment.id"
    )

    __table_args__ = (
        UniqueConstraint("day", "start_time", name="uq_slot_day_start_time"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
    )


class ContactDetails:
    """How to reach a youth, and their parent or guardian when they are a minor."""

    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5), default="en")
    guardian_name: Mapped[str | None] = mapped_column(String(120))
    guardian_relationship: Mapped[str | None] = mapped_column(String(40))
    guardian_phone: Mapped[str | None] = mapped_column(String(20))


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
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    appointments: Mapped[list[Appointment]] = relationship(back_populates="youth")

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.first_name
        return f"{first} {self.last_name}"

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


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


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
    # Who cancelled: a staff account, or nobody (the youth, once self-service exists).
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    youth: Mapped[Youth] = relationship(back_populates="appointments")
    slot: Mapped[Slot] = relationship(back_populates="appointments")
    intake: Mapped[Intake | None] = relationship(back_populates="appointment", uselist=False)

    __table_args__ = (
        CheckConstraint("status IN ('booked', 'cancelled')", name="status"),
        Index("ix_appointment_youth_status", "youth_id", "status"),
        Index("ix_appointment_slot_id", "slot_id"),
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
    tattoo_notes: Mapped[str | None] = mapped_column(Text)
    screening: Mapped[list[str]] = mapped_column(JSON, default=list)
    referral_source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    appointment: Mapped[Appointment] = relationship(back_populates="intake")
