"""Editing a youth's details (front desk and admin): the name they go by, contact, language,
channel and guardian; and the record's "use the new details" of their latest booking, which
goes through the same edit.

One transaction per edit. The youth row's ORM update is audited by itself (the trail names the
fields); each field changed also leaves a ``YouthChange`` with the value it held before, so an
edit can be checked and undone by hand. The blind indexes of phone and e-mail follow the new
values (``crypto.keep_blind_indexes``): a search finds the new number, not the old.

An edit is refused when the record changed after the form was drawn (``drawn``, the
fingerprint of the values the form showed): two desks editing one youth never overwrite each
other's change unseen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime

from sqlalchemy import select

from clinic.database import write_transaction
from clinic.extensions import db
from clinic.models import SEARCH_NAME_LENGTH, StaffUser, Youth, YouthChange, naive_utc
from clinic.permissions import Action, require
from clinic.records.record import (
    EDITABLE_FIELDS,
    GUARDIAN_FIELDS,
    Contact,
    Merged,
    details_fingerprint,
    latest_intake,
    newer_contact,
)
from clinic.rules.eligibility import AgeLimits, needs_guardian
from clinic.rules.messages import choose_channel


@dataclass(frozen=True)
class YouthDetails:
    """The editable part of a youth's record, as plain values (cleaned by the caller: phones
    normalised, empty answers None)."""

    preferred_name: str | None
    phone: str | None
    email: str | None
    language: str
    contact_by: str | None
    guardian_name: str | None
    guardian_relationship: str | None
    guardian_phone: str | None

    @classmethod
    def of(cls, youth: Youth) -> YouthDetails:
        return cls(**{name: getattr(youth, name) for name in EDITABLE_FIELDS})

    def fingerprint(self) -> str:
        return details_fingerprint(asdict(self))

    def with_newer(self, given: Contact) -> YouthDetails:
        """These details updated with what a later booking gave (``newer_contact``)."""
        return replace(self, **asdict(newer_contact(Contact.of(self), given)))

    def differences(self, other: YouthDetails) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


class EditRefused(Exception):
    """An edit the rules do not allow; ``reason`` says which, for the view's message."""

    CHANGED_MEANWHILE = "changed_meanwhile"  # the record (or its latest booking) moved on
    NO_CONTACT = "no_contact"  # neither phone nor e-mail left
    NO_EMAIL = "no_email"  # e-mail chosen as the channel, without an address
    GUARDIAN_HALF = "guardian_half"  # a guardian is all three details or none
    GUARDIAN_REQUIRED = "guardian_required"  # a minor's guardian cannot be removed
    ERASED = "erased"  # the personal data was erased
    NOTHING_NEW = "nothing_new"  # "use the new details", but there are none

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def edit_refusal(
    old: YouthDetails, new: YouthDetails, birth: date, today: date, ages: AgeLimits
) -> str | None:
    """Why ``new`` may not replace ``old`` on the record of a youth born on ``birth``, or None.

    Rule: a youth stays reachable (a phone or an e-mail; e-mail as the channel only with an
    address); a guardian is one person (name, relationship and phone together, or none); a
    youth under ``ages.adult`` today keeps the guardian on file (a new one may replace them).
    """
    if not new.phone and not new.email:
        return EditRefused.NO_CONTACT
    if new.contact_by == "email" and not new.email:
        return EditRefused.NO_EMAIL
    guardian = [getattr(new, name) for name in GUARDIAN_FIELDS]
    if any(guardian) and not all(guardian):
        return EditRefused.GUARDIAN_HALF
    had_guardian = all(getattr(old, name) for name in GUARDIAN_FIELDS)
    if had_guardian and not any(guardian) and needs_guardian(birth, today, ages):
        return EditRefused.GUARDIAN_REQUIRED
    return None


def _settle_channel(old: YouthDetails, new: YouthDetails) -> YouthDetails:
    """A record that never chose a channel keeps none when the form only showed the one its
    messages go by anyway (e-mail if any, else a text): saving the form chose nothing."""
    shown = choose_channel(None, old.phone, old.email)
    if old.contact_by is None and new.contact_by == shown:
        return replace(new, contact_by=None)
    return new


@dataclass(frozen=True)
class EditForm:
    """What the edit form starts from: the record's details and their fingerprint."""

    youth_id: int
    display_name: str
    date_of_birth: date
    details: YouthDetails
    drawn: str


def edit_form(youth_id: int, actor: StaffUser) -> EditForm | Merged | None:
    """The details to edit (``EDIT_CONTACT``); ``Merged`` for a merged record, None if there
    is no such record or its data was erased."""
    require(actor.role, Action.EDIT_CONTACT)
    youth = db.session.get(Youth, youth_id)
    if youth is None or youth.purged_at is not None:
        return None
    if youth.merged_into_id is not None:
        return Merged(youth.merged_into_id)
    details = YouthDetails.of(youth)
    return EditForm(
        youth.id, youth.display_name, youth.date_of_birth, details, details.fingerprint()
    )


def edit_youth(
    youth_id: int,
    new: YouthDetails,
    drawn: str,
    actor: StaffUser,
    now: datetime,
    ages: AgeLimits,
) -> list[str]:
    """Replace a youth's editable details with ``new`` (``EDIT_CONTACT``), in one transaction;
    the names of the fields changed (none: nothing written).

    Refusals (``EditRefused``): the record changed since the form showed ``drawn``; erased;
    ``edit_refusal``'s rules. LookupError if there is no such record (or it was merged away).
    """
    require(actor.role, Action.EDIT_CONTACT)
    with write_transaction():
        youth = _locked(youth_id)
        old = YouthDetails.of(youth)
        if old.fingerprint() != drawn:
            raise EditRefused(EditRefused.CHANGED_MEANWHILE)
        return _apply(youth, old, _settle_channel(old, new), actor, now, ages)


def use_new_details(
    youth_id: int,
    intake_id: int,
    drawn: str,
    actor: StaffUser,
    now: datetime,
    ages: AgeLimits,
) -> list[str]:
    """Take the details the youth gave on their latest booking (intake ``intake_id``, the one
    the record showed) onto the record, through the same rules as an edit; the fields changed.

    Refused as ``edit_youth`` is, and with ``CHANGED_MEANWHILE`` when a newer booking came
    since, ``NOTHING_NEW`` when the booking adds nothing to the record.
    """
    require(actor.role, Action.EDIT_CONTACT)
    with write_transaction():
        youth = _locked(youth_id)
        old = YouthDetails.of(youth)
        intake = latest_intake(youth.id)
        if old.fingerprint() != drawn or intake is None or intake.id != intake_id:
            raise EditRefused(EditRefused.CHANGED_MEANWHILE)
        new = old.with_newer(Contact.of(intake))
        if new == old:
            raise EditRefused(EditRefused.NOTHING_NEW)
        return _apply(youth, old, new, actor, now, ages)


def _locked(youth_id: int) -> Youth:
    """The youth row, locked until the commit (PostgreSQL; SQLite's writer holds the whole
    database already), read afresh."""
    youth = db.session.scalars(
        select(Youth)
        .where(Youth.id == youth_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if youth is None or youth.merged_into_id is not None:
        raise LookupError(youth_id)
    if youth.purged_at is not None:
        raise EditRefused(EditRefused.ERASED)
    return youth


def _apply(
    youth: Youth,
    old: YouthDetails,
    new: YouthDetails,
    actor: StaffUser,
    now: datetime,
    ages: AgeLimits,
) -> list[str]:
    refusal = edit_refusal(old, new, youth.date_of_birth, now.date(), ages)
    if refusal is not None:
        raise EditRefused(refusal)
    changed = old.differences(new)
    if not changed:
        return []
    at = naive_utc(now)
    for name in changed:
        db.session.add(
            YouthChange(
                youth_id=youth.id,
                at=at,
                staff_id=actor.id,
                field=name,
                old_value=_as_text(getattr(old, name)),
            )
        )
        setattr(youth, name, getattr(new, name))
    if "preferred_name" in changed:
        youth.search_name = _search_name(youth, old.preferred_name)
    youth.updated_at = at
    db.session.flush()
    return changed


def _as_text(value: str | None) -> str | None:
    return value if value else None


def _search_name(youth: Youth, old_preferred: str | None) -> str:
    """The record's search words with the new name they go by instead of the old one; the
    words a merge brought in (another spelling) stay."""
    own = Youth.make_search_name(youth.first_name, youth.last_name, youth.preferred_name)
    words = own.split()
    dropped = set(Youth.make_search_name("", "", old_preferred).split()) - set(
        Youth.make_search_name(youth.first_name, youth.last_name, None).split()
    )
    for word in youth.search_name.split():
        if word not in words and word not in dropped:
            words.append(word)
    joined = ""
    for word in words:
        candidate = f"{joined} {word}".strip()
        if len(candidate) > SEARCH_NAME_LENGTH:
            break
        joined = candidate
    return joined
