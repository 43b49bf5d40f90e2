"""Finding a youth: the one search box (a name, a phone or a date of birth), and the records
that may be the same person (for staff to check, never merged automatically). Reads only."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select

from clinic.crypto import blind_index
from clinic.extensions import db
from clinic.models import (
    Appointment,
    Intake,
    Slot,
    StaffUser,
    Treatment,
    Youth,
    normalize_name,
)
from clinic.permissions import Action, can, require
from clinic.rules.eligibility import age_today, normalize_phone
from clinic.rules.visits import VisitStatus

# The most rows a search lists; staff narrow the search when there are more.
SEARCH_LIMIT = 50


# Words of a name query that are matched (each one more LIKE); more would only slow it down.
MAX_NAME_WORDS = 5


# Statuses that mean the youth came to the clinic: what "last visit" counts.
ARRIVED = (VisitStatus.CHECKED_IN, VisitStatus.IN_TREATMENT, VisitStatus.COMPLETED)


class QueryKind(enum.StrEnum):
    NAME = "name"
    PHONE = "phone"
    BIRTH_DATE = "birth_date"


@dataclass(frozen=True)
class SearchQuery:
    kind: QueryKind
    words: tuple[str, ...] = ()
    phone: str | None = None
    birth_date: date | None = None


def parse_query(text: str) -> SearchQuery | None:
    """Read what staff typed in the one search box, or None if it is none of the three.

    Rule: YYYY-MM-DD or MM/DD/YYYY is a date of birth; text without letters is a phone in
    any format (as ``normalize_phone`` reads it); anything with a letter is a name, folded
    like ``normalize_name``, each word matched on its own.
    """
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return SearchQuery(QueryKind.BIRTH_DATE, birth_date=datetime.strptime(text, fmt).date())
        except ValueError:
            continue
    if not any(ch.isalpha() for ch in text):
        phone = normalize_phone(text)
        return SearchQuery(QueryKind.PHONE, phone=phone) if phone else None
    words = tuple(normalize_name(text).split())[:MAX_NAME_WORDS]
    return SearchQuery(QueryKind.NAME, words=words) if words else None


@dataclass(frozen=True)
class SearchRow:
    id: int
    display_name: str
    first_name: str
    last_name: str
    preferred_name: str | None
    date_of_birth: date
    age: int | None
    last_visit: date | None
    sessions: int
    phone: str | None  # only for staff who see contact details


@dataclass(frozen=True)
class SearchResult:
    rows: list[SearchRow]
    more: bool  # there were more than SEARCH_LIMIT matches


def search(query: SearchQuery, actor: StaffUser, today: date) -> SearchResult:
    """Youth records matching ``query``, at most ``SEARCH_LIMIT``, in one statement.

    Rule: merged records are never listed (their survivor is), nor erased ones. A name
    matches when every word occurs in the folded names; a phone matches the youth's own or
    one given on any of their bookings; a date of birth matches exactly. Searching by phone
    needs ``SEE_CONTACT`` (a reverse lookup would tell whose number it is).
    """
    require(actor.role, Action.VIEW_RECORDS)
    if query.kind is QueryKind.PHONE:
        require(actor.role, Action.SEE_CONTACT)
    sessions = (
        select(func.count(Treatment.id))
        .where(Treatment.youth_id == Youth.id)
        .correlate(Youth)
        .scalar_subquery()
    )
    last_visit = (
        select(func.max(Slot.day))
        .join(Appointment, Appointment.slot_id == Slot.id)
        .where(Appointment.youth_id == Youth.id, Appointment.status.in_(ARRIVED))
        .correlate(Youth)
        .scalar_subquery()
    )
    # An erased record keeps only its birth year (as 1 January): it would match strangers.
    statement = select(Youth, sessions, last_visit).where(
        Youth.merged_into_id.is_(None), Youth.purged_at.is_(None)
    )
    if query.kind is QueryKind.NAME:
        statement = statement.where(
            *(Youth.search_name.contains(word, autoescape=True) for word in query.words)
        )
    elif query.kind is QueryKind.PHONE:
        # Phones are encrypted at rest: the search compares blind indexes (clinic.crypto).
        phone_key = blind_index("phone", query.phone or "")
        given_on_booking = (
            select(Appointment.youth_id)
            .join(Intake, Intake.appointment_id == Appointment.id)
            .where(Intake.phone_index == phone_key)
        )
        statement = statement.where(
            or_(Youth.phone_index == phone_key, Youth.id.in_(given_on_booking))
        )
    else:
        statement = statement.where(Youth.date_of_birth == query.birth_date)
    statement = statement.order_by(
        func.lower(Youth.last_name), func.lower(Youth.first_name), Youth.id
    ).limit(SEARCH_LIMIT + 1)
    found = db.session.execute(statement).all()
    contact = can(actor.role, Action.SEE_CONTACT)
    rows = [
        SearchRow(
            id=youth.id,
            display_name=youth.display_name,
            first_name=youth.first_name,
            last_name=youth.last_name,
            preferred_name=youth.preferred_name,
            date_of_birth=youth.date_of_birth,
            age=age_today(youth.date_of_birth, today),
            last_visit=visit,
            sessions=count or 0,
            phone=youth.phone if contact else None,
        )
        for youth, count, visit in found[:SEARCH_LIMIT]
    ]
    return SearchResult(rows, more=len(found) > SEARCH_LIMIT)


@dataclass(frozen=True)
class PossibleDuplicate:
    youth: Youth
    same_birth_and_name: bool  # same date of birth and the same first or last name
    same_phone: bool


def possible_duplicates(
    first_name: str,
    last_name: str,
    date_of_birth: date,
    phone: str | None = None,
    exclude_id: int | None = None,
) -> list[PossibleDuplicate]:
    """Other youth records that may be the same person, for staff to check (never merged
    automatically).

    Rule: a record that is not merged, other than ``exclude_id``, that shares the date of birth
    and either the first or the last name (compared as ``normalize_name`` folds them: case,
    accents, spacing), or that shares the phone (any format; an unreadable phone is ignored).
    A record with exactly the same names and birth date is listed too: at a walk-in's intake
    that means "this youth is already on file".

    Cheap enough for every intake: one statement on the indexed date-of-birth and phone
    columns; the names are compared on those few rows. Ordered by last name, first name, id.
    """
    phone = normalize_phone(phone)
    matches = Youth.date_of_birth == date_of_birth
    if phone is not None:
        matches = or_(matches, Youth.phone_index == blind_index("phone", phone))
    statement = select(Youth).where(
        Youth.merged_into_id.is_(None), Youth.purged_at.is_(None), matches
    )
    if exclude_id is not None:
        statement = statement.where(Youth.id != exclude_id)
    first, last = normalize_name(first_name), normalize_name(last_name)
    found = []
    statement = statement.order_by(Youth.last_name, Youth.first_name, Youth.id)
    for youth in db.session.scalars(statement):
        same_name = youth.date_of_birth == date_of_birth and (
            normalize_name(youth.first_name) == first or normalize_name(youth.last_name) == last
        )
        same_phone = phone is not None and youth.phone == phone
        if same_name or same_phone:
            found.append(PossibleDuplicate(youth, same_name, same_phone))
    return found
