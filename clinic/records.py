"""Youth records: find a youth, read their history, book their next session, merge duplicates.

Use cases in the style of ``clinic.booking``: plain values in (the acting staff member, today or
``now``, the rules), no request globals, one transaction for each change. What a record shows
is filtered here, by the actor's role, so a template cannot show what the role may not see:
contact and guardian details need ``SEE_CONTACT``, screening answers and treatment notes
``SEE_CLINICAL``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from clinic import booking
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.models import (
    SEARCH_NAME_LENGTH,
    Appointment,
    Intake,
    Slot,
    StaffUser,
    Treatment,
    Youth,
    normalize_name,
    utcnow,
)
from clinic.permissions import Action, can, require
from clinic.rules.eligibility import age_on, normalize_phone
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import VisitStatus, earliest_follow_up

# The most rows a search lists; staff narrow the search when there are more.
SEARCH_LIMIT = 50
# Words of a name query that are matched (each one more LIKE); more would only slow it down.
MAX_NAME_WORDS = 5
# Statuses that mean the youth came to the clinic: what "last visit" counts.
ARRIVED = (VisitStatus.CHECKED_IN, VisitStatus.IN_TREATMENT, VisitStatus.COMPLETED)
CONTACT_FIELDS = (
    "phone",
    "email",
    "language",
    "contact_by",
    "guardian_name",
    "guardian_relationship",
    "guardian_phone",
)
GUARDIAN_FIELDS = ("guardian_name", "guardian_relationship", "guardian_phone")


def age_today(date_of_birth: date, today: date) -> int | None:
    """Age in whole years today, or None for a birth date in the future (a typing mistake)."""
    if date_of_birth > today:
        return None
    return age_on(date_of_birth, today)


# --- Search ------------------------------------------------------------------------------


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

    Rule: merged records are never listed (their survivor is). A name matches when every
    word occurs in the folded names; a phone matches the youth's own or one given on any of
    their bookings; a date of birth matches exactly. Searching by phone needs ``SEE_CONTACT``
    (a reverse lookup would tell whose number it is).
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
    statement = select(Youth, sessions, last_visit).where(Youth.merged_into_id.is_(None))
    if query.kind is QueryKind.NAME:
        statement = statement.where(
            *(Youth.search_name.contains(word, autoescape=True) for word in query.words)
        )
    elif query.kind is QueryKind.PHONE:
        given_on_booking = (
            select(Appointment.youth_id)
            .join(Intake, Intake.appointment_id == Appointment.id)
            .where(Intake.phone == query.phone)
        )
        statement = statement.where(or_(Youth.phone == query.phone, Youth.id.in_(given_on_booking)))
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


# --- Possible duplicates -----------------------------------------------------------------


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
        matches = or_(matches, Youth.phone == phone)
    statement = select(Youth).where(Youth.merged_into_id.is_(None), matches)
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


# --- One record --------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    phone: str | None
    email: str | None
    language: str
    contact_by: str | None
    guardian_name: str | None
    guardian_relationship: str | None
    guardian_phone: str | None

    @classmethod
    def of(cls, row: Youth | Intake) -> Contact:
        return cls(**{name: getattr(row, name) for name in CONTACT_FIELDS})

    @property
    def has_guardian(self) -> bool:
        return all(getattr(self, name) for name in GUARDIAN_FIELDS)


@dataclass(frozen=True)
class VisitEntry:
    id: int
    day: date
    start: time
    status: str
    walk_in: bool
    code: str
    ticket: int | None


@dataclass(frozen=True)
class ClinicalNotes:
    skin_type: str | None
    settings: str | None
    notes: str | None


@dataclass(frozen=True)
class TreatmentEntry:
    day: date
    session_number: int
    areas: list[str]
    clinician: str
    clinical: ClinicalNotes | None  # only for clinicians


@dataclass(frozen=True)
class YouthRecord:
    id: int
    first_name: str
    last_name: str
    preferred_name: str | None
    display_name: str
    date_of_birth: date
    age: int | None
    language: str
    contact: Contact | None  # None: the actor may not see contact details
    # The newest booking's contact when it differs from the record's (a new phone, a
    # guardian given later): shown flagged, since staff confirm changes at check-in.
    latest_contact: Contact | None
    visits: list[VisitEntry]  # newest first
    treatments: list[TreatmentEntry]  # newest first
    screening: list[str] | None  # the latest intake's answers; None: not a clinician
    sessions: int
    earliest_follow_up: date | None
    upcoming: VisitEntry | None
    duplicates: list[PossibleDuplicate]


@dataclass(frozen=True)
class Merged:
    """The record asked for was merged: its history lives on record ``into_id``."""

    into_id: int


def _load_youth(youth_id: int) -> Youth | None:
    return db.session.scalars(
        select(Youth)
        .where(Youth.id == youth_id)
        .options(
            selectinload(Youth.appointments).joinedload(Appointment.slot),
            selectinload(Youth.treatments).joinedload(Treatment.clinician),
        )
        .execution_options(populate_existing=True)
    ).one_or_none()


def latest_intake(youth_id: int) -> Intake | None:
    """What the youth answered on their newest booking (or walk-in), if any."""
    return db.session.scalars(
        select(Intake)
        .join(Intake.appointment)
        .where(Appointment.youth_id == youth_id)
        .order_by(Intake.created_at.desc(), Intake.id.desc())
        .limit(1)
    ).first()


def _visit(appointment: Appointment) -> VisitEntry:
    return VisitEntry(
        id=appointment.id,
        day=appointment.slot.day,
        start=appointment.slot.start_time,
        status=appointment.status,
        walk_in=appointment.walk_in,
        code=appointment.code,
        ticket=appointment.ticket,
    )


def _upcoming(visits: Sequence[VisitEntry], today: date) -> VisitEntry | None:
    ahead = [v for v in visits if v.status in booking.UPCOMING and v.day >= today]
    return min(ahead, key=lambda v: (v.day, v.start), default=None)


def youth_record(
    youth_id: int, actor: StaffUser, today: date, interval: timedelta
) -> YouthRecord | Merged | None:
    """A youth's record as ``actor`` may see it; ``Merged`` for a merged record, None if
    there is no such record.

    Rule: everyone with ``VIEW_RECORDS`` sees identity, visits and treatments (date, session,
    areas, clinician); contact and guardian only with ``SEE_CONTACT``; screening answers and
    treatment notes, skin type and laser settings only with ``SEE_CLINICAL``. The next
    session may be booked from the last treatment plus ``interval``
    (``earliest_follow_up``). A fixed number of statements, however long the
    history.
    """
    require(actor.role, Action.VIEW_RECORDS)
    youth = _load_youth(youth_id)
    if youth is None:
        return None
    if youth.merged_into_id is not None:
        return Merged(youth.merged_into_id)
    duplicates = possible_duplicates(
        youth.first_name, youth.last_name, youth.date_of_birth, youth.phone, youth.id
    )
    return _record(youth, actor, today, interval, duplicates)


def _record(
    youth: Youth,
    actor: StaffUser,
    today: date,
    interval: timedelta,
    duplicates: list[PossibleDuplicate],
) -> YouthRecord:
    intake = latest_intake(youth.id)
    sees_contact = can(actor.role, Action.SEE_CONTACT)
    clinician = can(actor.role, Action.SEE_CLINICAL)

    contact = latest_contact = None
    if sees_contact:
        contact = Contact.of(youth)
        if intake is not None and Contact.of(intake) != contact:
            latest_contact = Contact.of(intake)

    visits = sorted(
        (_visit(a) for a in youth.appointments),
        key=lambda v: (v.day, v.start, v.id),
        reverse=True,
    )
    treatments = [
        TreatmentEntry(
            day=t.day,
            session_number=t.session_number,
            areas=list(t.areas or []),
            clinician=t.clinician.name,
            clinical=ClinicalNotes(t.skin_type, t.settings, t.notes) if clinician else None,
        )
        for t in sorted(youth.treatments, key=lambda t: (t.day, t.id), reverse=True)
    ]
    last_treatment = treatments[0].day if treatments else None
    return YouthRecord(
        id=youth.id,
        first_name=youth.first_name,
        last_name=youth.last_name,
        preferred_name=youth.preferred_name,
        display_name=youth.display_name,
        date_of_birth=youth.date_of_birth,
        age=age_today(youth.date_of_birth, today),
        language=youth.language,
        contact=contact,
        latest_contact=latest_contact,
        visits=visits,
        treatments=treatments,
        screening=list(intake.screening or []) if clinician and intake is not None else None,
        sessions=len(treatments),
        earliest_follow_up=earliest_follow_up(last_treatment, interval),
        upcoming=_upcoming(visits, today),
        duplicates=duplicates,
    )


# --- Booking a follow-up -----------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpPlan:
    """What the follow-up form offers for one youth."""

    youth: Youth
    earliest: date | None  # from the last treatment; None before any
    first_day: date  # the first date offered: today or the earliest, whichever is later
    days: list[booking.DayAvailability]  # open days from first_day, bookable slots only
    window: list[booking.DayAvailability]  # every clinic day and time in the booking window
    guardian_on_file: bool
    upcoming: Appointment | None


def _guardian_on_file(youth: Youth, intake: Intake | None) -> Contact | None:
    """The record's guardian, else the one given on the newest booking (staff confirm it at
    check-in either way)."""
    for row in (youth, intake):
        if row is not None and Contact.of(row).has_guardian:
            return Contact.of(row)
    return None


def follow_up_plan(
    youth_id: int,
    actor: StaffUser,
    rules: ClinicRules,
    now: datetime,
    interval: timedelta,
) -> FollowUpPlan | Merged | None:
    """The dates and times a follow-up can be booked on for this youth.

    Rule: open clinic days in the booking window from today or the earliest follow-up date
    (last treatment plus ``interval``), whichever is later; only times still bookable with a
    seat left.
    """
    require(actor.role, Action.BOOK_FOLLOW_UP)
    youth = db.session.get(Youth, youth_id)
    if youth is None:
        return None
    if youth.merged_into_id is not None:
        return Merged(youth.merged_into_id)
    today = now.date()
    earliest = earliest_follow_up(booking.last_treatment_day(youth.id), interval)
    first_day = max(today, earliest) if earliest else today
    window = booking.upcoming_days(rules, now)
    days = []
    for day in window:
        if day.plan.day < first_day:
            continue
        open_slots = [s for s in day.slots if s.bookable]
        if open_slots:
            days.append(booking.DayAvailability(day.plan, open_slots))
    return FollowUpPlan(
        youth=youth,
        earliest=earliest,
        first_day=first_day,
        days=days,
        window=window,
        guardian_on_file=_guardian_on_file(youth, latest_intake(youth.id)) is not None,
        upcoming=booking.upcoming_appointment(youth.id, today),
    )


@dataclass(frozen=True)
class Guardian:
    name: str
    relationship: str
    phone: str


def book_follow_up(
    youth_id: int,
    day: date,
    start: time,
    submission_key: str,
    actor: StaffUser,
    rules: ClinicRules,
    now: datetime,
    guardian: Guardian | None = None,
) -> Appointment:
    """Book a youth's next session from their record, with ``booking.book``'s rules.

    Rule: same capacity, window and age rules as an online booking, and not before the last
    treatment plus ``rules.follow_up`` (``booking.TooSoon``, checked by the booking itself).
    The request is built from the record (names, birth date, contact, guardian: the
    record's, else the newest booking's) and the newest booking's tattoo, screening and
    referral answers, copied for the clinician to re-check at check-in. A guardian typed on
    the form (``SEE_CONTACT`` only) is used for this booking's intake. The submission key
    makes a repeated submission return the same appointment. Raises ``booking.BookingError``
    subclasses, LookupError for an unknown youth.
    """
    require(actor.role, Action.BOOK_FOLLOW_UP)
    if guardian is not None:
        require(actor.role, Action.SEE_CONTACT)
    youth = db.session.get(Youth, youth_id)
    if youth is not None and youth.merged_into_id is not None:
        youth = db.session.get(Youth, youth.merged_into_id)
    if youth is None:
        raise LookupError(youth_id)
    intake = latest_intake(youth.id)
    on_file = _guardian_on_file(youth, intake)
    if guardian is not None:
        guardian_fields = {
            "guardian_name": guardian.name,
            "guardian_relationship": guardian.relationship,
            "guardian_phone": guardian.phone,
        }
    elif on_file is not None:
        guardian_fields = {name: getattr(on_file, name) for name in GUARDIAN_FIELDS}
    else:
        guardian_fields = {}
    answers: dict[str, object]
    if intake is not None:
        answers = {
            "tattoo_count": intake.tattoo_count,
            "tattoo_locations": list(intake.tattoo_locations or []),
            "tattoo_size": intake.tattoo_size,
            "tattoo_colors": intake.tattoo_colors,
            "tattoo_kind": intake.tattoo_kind,
            "tattoo_age_years": intake.tattoo_age_years,
            "previous_removal": intake.previous_removal,
            "tattoo_notes": intake.tattoo_notes,
            "screening": list(intake.screening or []),
            "referral_source": intake.referral_source,
        }
    else:
        # Nothing on file to copy: "other" rather than inventing a referral for the funders.
        answers = {"referral_source": "other"}
    request = booking.BookingRequest(
        day=day,
        start=start,
        submission_key=submission_key,
        first_name=youth.first_name,
        last_name=youth.last_name,
        preferred_name=youth.preferred_name,
        date_of_birth=youth.date_of_birth,
        phone=youth.phone,
        email=youth.email,
        language=youth.language or "en",
        contact_by=youth.contact_by,
        **guardian_fields,
        **answers,
    )
    return booking.book(request, rules, now, staff_id=actor.id)


# --- Merging two records of one youth ----------------------------------------------------


class MergeRefused(Exception):
    """A merge the rules do not allow; ``reason`` says which, for the view's message."""

    SAME = "same"  # a record into itself
    KEPT_MERGED = "kept_merged"  # the record to keep was itself merged away
    OTHER_MERGED = "other_merged"  # the other record was merged already
    BOTH_UPCOMING = "both_upcoming"  # each holds an upcoming appointment

    def __init__(
        self,
        reason: str,
        kept_upcoming: VisitEntry | None = None,
        other_upcoming: VisitEntry | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kept_upcoming = kept_upcoming
        self.other_upcoming = other_upcoming


def merge_refusal(
    kept: Youth,
    other: Youth,
    kept_upcoming: VisitEntry | None,
    other_upcoming: VisitEntry | None,
) -> MergeRefused | None:
    """Why ``other`` cannot be merged into ``kept``, or None.

    Rule: never a record into itself, never into or from a record already merged, and not
    while both hold an upcoming appointment (a youth holds at most one: staff cancel one
    first).
    """
    if kept.id == other.id:
        return MergeRefused(MergeRefused.SAME)
    if kept.merged_into_id is not None:
        return MergeRefused(MergeRefused.KEPT_MERGED)
    if other.merged_into_id is not None:
        return MergeRefused(MergeRefused.OTHER_MERGED)
    if kept_upcoming is not None and other_upcoming is not None:
        return MergeRefused(MergeRefused.BOTH_UPCOMING, kept_upcoming, other_upcoming)
    return None


@dataclass(frozen=True)
class MergePreview:
    """Both records side by side, as the admin confirms a merge."""

    kept: YouthRecord
    other: YouthRecord
    refusal: MergeRefused | None


def merge_preview(
    kept_id: int, other_id: int, actor: StaffUser, today: date, interval: timedelta
) -> MergePreview | None:
    """The two records of a proposed merge and why it would be refused, if it would;
    None if either record does not exist."""
    require(actor.role, Action.MERGE_YOUTH)
    kept, other = _load_youth(kept_id), _load_youth(other_id)
    if kept is None or other is None:
        return None
    kept_record = _record(kept, actor, today, interval, [])
    other_record = _record(other, actor, today, interval, [])
    refusal = merge_refusal(kept, other, kept_record.upcoming, other_record.upcoming)
    return MergePreview(kept_record, other_record, refusal)


@dataclass(frozen=True)
class MergeResult:
    appointments_moved: int
    treatments_moved: int


class _MergedMeanwhile(Exception):
    """Another merge pointed a record at the one being merged away after it was read."""


def _lock(ids: Sequence[int]) -> None:
    """Take the youth rows' locks in id order (the UPDATE, as ``booking.upsert_youth`` does),
    so two merges over the same records wait for each other instead of deadlocking."""
    for youth_id in sorted(set(ids)):
        db.session.execute(
            update(Youth)
            .where(Youth.id == youth_id)
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def _merged_into(youth_id: int) -> list[int]:
    return sorted(db.session.scalars(select(Youth.id).where(Youth.merged_into_id == youth_id)))


def _upcoming_visit(youth_id: int, today: date) -> VisitEntry | None:
    appointment = booking.upcoming_appointment(youth_id, today)
    return _visit(appointment) if appointment is not None else None


def merge(kept_id: int, other_id: int, actor: StaffUser, today: date) -> MergeResult:
    """Merge record ``other_id`` into ``kept_id`` (admin only), in one transaction.

    Rule: the other record's appointments and treatments move to the kept one; the kept
    record's empty contact, guardian and preferred-name fields take the other's values (what
    it has stays); the other record stays, marked ``merged_into_id``, so its name and birth
    date keep resolving to the kept record when that youth books online again; records once
    merged into the other now point at the kept one, so it is always one step. The kept
    record's search names also carry the other's, so staff find it by either spelling.
    Refusals: see ``merge_refusal``. LookupError if either record does not exist.

    Locks: the rows merged into the other record first (a booking for one of those names
    locks it before its survivor), then both records in id order.
    """
    require(actor.role, Action.MERGE_YOUTH)
    if kept_id == other_id:
        raise MergeRefused(MergeRefused.SAME)
    for attempt in range(3):
        try:
            with write_transaction():
                return _merge_once(kept_id, other_id, today)
        except _MergedMeanwhile:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _merge_once(kept_id: int, other_id: int, today: date) -> MergeResult:
    aliases = _merged_into(other_id)
    _lock(aliases)
    _lock([kept_id, other_id])
    if _merged_into(other_id) != aliases:
        raise _MergedMeanwhile()
    rows = {
        youth.id: youth
        for youth in db.session.scalars(
            select(Youth)
            .where(Youth.id.in_((kept_id, other_id)))
            .execution_options(populate_existing=True)
        )
    }
    if kept_id not in rows or other_id not in rows:
        raise LookupError(kept_id if kept_id not in rows else other_id)
    kept, other = rows[kept_id], rows[other_id]
    refusal = merge_refusal(
        kept, other, _upcoming_visit(kept.id, today), _upcoming_visit(other.id, today)
    )
    if refusal is not None:
        raise refusal

    moved_appointments = db.session.execute(
        update(Appointment)
        .where(Appointment.youth_id == other.id)
        .values(youth_id=kept.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    moved_treatments = db.session.execute(
        update(Treatment)
        .where(Treatment.youth_id == other.id)
        .values(youth_id=kept.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    for name in ("phone", "email", "contact_by", "preferred_name"):
        if not getattr(kept, name) and getattr(other, name):
            setattr(kept, name, getattr(other, name))
    # The guardian is one person: take all three fields or none, never a mix of two people.
    if not any(getattr(kept, name) for name in GUARDIAN_FIELDS):
        for name in GUARDIAN_FIELDS:
            setattr(kept, name, getattr(other, name))
    kept.search_name = _joined_search_names(kept, other)
    other.merged_into_id = kept.id
    if aliases:
        db.session.execute(
            update(Youth)
            .where(Youth.id.in_(aliases))
            .values(merged_into_id=kept.id)
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    return MergeResult(moved_appointments, moved_treatments)


def _joined_search_names(kept: Youth, other: Youth) -> str:
    """The kept record's search words, then the other's not already there (column width)."""
    own = Youth.make_search_name(kept.first_name, kept.last_name, kept.preferred_name)
    words = own.split()
    for word in f"{kept.search_name} {other.search_name}".split():
        if word not in words:
            words.append(word)
    joined = ""
    for word in words:
        candidate = f"{joined} {word}".strip()
        if len(candidate) > SEARCH_NAME_LENGTH:
            break
        joined = candidate
    return joined
