""" "Lost your link?": a youth gives a phone or e-mail and their date of birth, and if a booking
or a list entry of theirs matches, its link is sent again, to the contact it was booked with.

The visitor is told the same whether or not anything matched (the page, its status and, with
the web layer's floor, its timing), and this function runs the same queries either way, so
that nobody learns from it whether a phone number or an e-mail belongs to a client. The link
goes only to a contact the booking itself holds, never anywhere the visitor typed otherwise.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import false, or_, select

from clinic.booking.availability import UPCOMING
from clinic.crypto import contact_index
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import outbox
from clinic.models import (
    Appointment,
    AppointmentStatus,
    EntryStatus,
    Intake,
    ListEntry,
    ListKind,
    Slot,
    Youth,
)
from clinic.rules.policy import ClinicRules


def send_link_again(
    phone: str | None, email: str | None, date_of_birth: date, rules: ClinicRules, now: datetime
) -> None:
    """Queue "here is your link" for what matches the contact and the date of birth, in one
    transaction: the youth's upcoming appointment (else their latest treated visit whose link
    still works, from which the next session is booked), and each list entry still waiting.

    ``phone`` is normalised as the intake form stores it ('+14155550134'); ``email`` is
    compared without regard to case. Returns nothing: the caller answers the same either way.
    """
    with write_transaction():
        appointment_id = _matching_appointment(phone, email, date_of_birth, rules, now)
        entry_ids = _matching_entries(phone, email, date_of_birth, now)
        # To the contact typed (it is the booking's: it matched), not another one on file.
        channel = "sms" if phone is not None else "email"
        if appointment_id is not None:
            outbox.link_again(now, appointment_id=appointment_id, channel=channel)
        for entry_id in entry_ids:
            outbox.link_again(now, entry_id=entry_id, channel=channel)


def _contact_matches(model: type[Intake] | type[ListEntry], phone: str | None, email: str | None):
    # Contacts are encrypted at rest: compare their blind indexes (clinic.crypto), which
    # normalise as the search does (a phone's digits, an e-mail casefolded).
    if phone is not None:
        key = contact_index("phone", phone)
        return model.phone_index == key if key else false()
    key = contact_index("email", email)
    return model.email_index == key if key else false()


def _matching_appointment(
    phone: str | None, email: str | None, date_of_birth: date, rules: ClinicRules, now: datetime
) -> int | None:
    today = now.astimezone(rules.zone).date()
    # A treated visit's link works this many days after it (clinic.rules.selfservice).
    treated_since = today - timedelta(days=rules.links.days_after_treatment)
    upcoming = Appointment.status.in_(UPCOMING) & (Slot.day >= today)
    treated = (Appointment.status == AppointmentStatus.COMPLETED) & (Slot.day >= treated_since)
    rows = db.session.execute(
        select(Appointment.id, Appointment.status)
        .join(Slot, Slot.id == Appointment.slot_id)
        .join(Intake, Intake.appointment_id == Appointment.id)
        .join(Youth, Youth.id == Appointment.youth_id)
        .where(
            Youth.date_of_birth == date_of_birth,
            _contact_matches(Intake, phone, email),
            or_(upcoming, treated),
        )
        # The latest first: an upcoming visit is later than any treated one.
        .order_by(Slot.day.desc(), Slot.start_time.desc(), Appointment.id.desc())
    ).all()
    for row in rows:
        if row.status != AppointmentStatus.COMPLETED:
            return row.id
    return rows[0].id if rows else None


def _matching_entries(
    phone: str | None, email: str | None, date_of_birth: date, now: datetime
) -> list[int]:
    return list(
        db.session.scalars(
            select(ListEntry.id)
            .join(Youth, Youth.id == ListEntry.youth_id)
            .where(
                Youth.date_of_birth == date_of_birth,
                _contact_matches(ListEntry, phone, email),
                ListEntry.status == EntryStatus.WAITING,
                or_(ListEntry.kind == ListKind.PROGRAM, ListEntry.day >= now.date()),
            )
            .order_by(ListEntry.id)
        )
    )
