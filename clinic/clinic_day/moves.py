"""The moves staff make on the clinic day: check-in (with a minor's consent), calling a youth
to a station, recording the treatment, no-shows and cancelling. Each is one use case and one
transaction, with the acting staff member passed in and checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from clinic import audit
from clinic.booking import offers
from clinic.clinic_day.current import (
    Current,
    Moved,
    consent_values,
    load,
    make_move,
    needs_consent,
    next_ticket,
    on_the_day,
)
from clinic.clinic_day.errors import (
    ChangedMeanwhile,
    ConsentNeeded,
    NobodyWaiting,
    NotFound,
    NotYet,
    Refused,
    StationBusy,
    TreatmentIncomplete,
    UnknownStation,
    WrongDay,
)
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import outbox
from clinic.models import (
    Appointment,
    Consent,
    Slot,
    StaffUser,
    Treatment,
    Youth,
    naive_utc,
)
from clinic.permissions import Action, require
from clinic.rules.eligibility import needs_guardian, slot_start
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import (
    QueuePlace,
    VisitAction,
    VisitStatus,
    Waiting,
    awaiting_consent,
    call_order,
    is_late,
    missing_treatment_details,
    next_session_number,
)


def check_in(
    appointment_id: int,
    actor: StaffUser,
    now: datetime,
    rules: ClinicRules,
    consent: Consent | None = None,
) -> Moved:
    """The youth has arrived: record the time, hand out the day's next ticket, and for a
    minor record the guardian's consent (confirmed, exempt, or flagged as missing).

    Rule: only on the appointment's day, only a booked appointment.
    """
    require(actor.role, Action.CHECK_IN)
    with write_transaction():
        current = load(appointment_id)
        on_the_day(current, now)
        values: dict[str, object] = {"arrived_at": naive_utc(now)}
        if needs_consent(current, rules):
            values.update(consent_values(consent or Consent.MISSING, actor, now))
        if current.status is VisitStatus.BOOKED:
            values["ticket"] = next_ticket(current.day)
        return make_move(current, VisitAction.CHECK_IN, actor, now, **values)


def record_consent(appointment_id: int, actor: StaffUser, now: datetime, consent: Consent) -> Moved:
    """Record a minor's guardian consent after check-in (the guardian arrived or called)."""
    require(actor.role, Action.CHECK_IN)
    with write_transaction():
        current = load(appointment_id)
        if current.status not in (VisitStatus.BOOKED, VisitStatus.CHECKED_IN):
            raise Refused(current.status, VisitAction.CHECK_IN)
        recorded = db.session.execute(
            update(Appointment)
            .where(Appointment.id == current.id, Appointment.status == current.status)
            .values(**consent_values(consent, actor, now))
            .execution_options(synchronize_session=False)
        ).rowcount
        if recorded != 1:
            raise ChangedMeanwhile()
        fields = consent_values(consent, actor, now)
        audit.changed("appointment", current.id, fields, youth_id=current.youth_id)
    return Moved(current.id, current.code, current.day, current.status, current.status)


def call(
    appointment_id: int, actor: StaffUser, station: str, now: datetime, rules: ClinicRules
) -> Moved:
    """A clinician calls a waiting youth to a station: in treatment.

    Rule: the youth must be waiting (checked in) today; a minor needs confirmed (or exempt)
    guardian consent; a station treats one youth at a time. Two clinicians calling the same
    youth at once: one succeeds, the other is told.
    """
    require(actor.role, Action.TREAT)
    if station not in rules.stations:
        raise UnknownStation()
    with write_transaction():
        current = load(appointment_id)
        on_the_day(current, now)
        return _call(current, actor, station, now, rules)


def _call(
    current: Current, actor: StaffUser, station: str, now: datetime, rules: ClinicRules
) -> Moved:
    if awaiting_consent(needs_consent(current, rules), current.consent in CONSENT_GIVEN):
        raise ConsentNeeded()
    try:
        with db.session.begin_nested():
            return make_move(
                current,
                VisitAction.CALL,
                actor,
                now,
                station=station,
                station_day=current.day,
                called_at=naive_utc(now),
            )
    except IntegrityError:
        # The partial unique index: someone is already on this station.
        raise StationBusy(station) from None


def call_next(day: date, actor: StaffUser, station: str, now: datetime, rules: ClinicRules):
    """Call the first youth in the queue who can be treated now to ``station``.

    Rule: the call order (``call_order``), the same the waiting-room screen shows; minors
    still awaiting consent are passed over, not removed. If another clinician takes the same
    youth first, the next one in line is called instead.
    """
    require(actor.role, Action.TREAT)
    if station not in rules.stations:
        raise UnknownStation()
    if day != now.date():
        raise WrongDay()
    with write_transaction():
        for appointment_id in _queue_ids(day, rules):
            current = load(appointment_id)
            if current.status is not VisitStatus.CHECKED_IN:
                continue
            try:
                return _call(current, actor, station, now, rules)
            except (ConsentNeeded, ChangedMeanwhile):
                continue
        raise NobodyWaiting()


def _queue_ids(day: date, rules: ClinicRules) -> list[int]:
    """The waiting youth who can be called, in call order (``call_order``)."""
    return [waiting.appointment_id for waiting in call_order(waiting_queue(day, rules))]


def waiting_queue(day: date, rules: ClinicRules) -> list[Waiting]:
    """Everyone waiting on ``day`` (checked in, not yet called), in one statement."""
    rows = db.session.execute(
        select(
            Appointment.id,
            Appointment.ticket,
            Appointment.arrived_at,
            Appointment.consent,
            Slot.start_time,
            Youth.date_of_birth,
        )
        .join(Slot, Slot.id == Appointment.slot_id)
        .join(Youth, Youth.id == Appointment.youth_id)
        .where(Slot.day == day, Appointment.status == VisitStatus.CHECKED_IN)
    ).all()
    return [waiting_from(row, day, rules) for row in rows]


def waiting_from(row, day: date, rules: ClinicRules) -> Waiting:
    """A queue row (id, ticket, arrived_at, consent, start_time, date_of_birth) as the call
    order reads it."""
    return Waiting(
        QueuePlace(row.start_time, row.arrived_at or datetime.min, row.ticket or 0),
        row.id,
        awaiting_consent(
            needs_guardian(row.date_of_birth, day, rules.ages), row.consent in CONSENT_GIVEN
        ),
    )


# A minor may be treated once the guardian's consent is confirmed or recorded as not needed.
CONSENT_GIVEN = frozenset({Consent.CONFIRMED, Consent.EXEMPT})


@dataclass
class TreatmentRecord:
    """What the clinician records when completing a visit."""

    areas: list[str]
    session_number: int | None = None  # None: the next in the youth's course
    skin_type: str | None = None
    settings: str | None = None
    notes: str | None = None


def complete(
    appointment_id: int, actor: StaffUser, record: TreatmentRecord, now: datetime
) -> Moved:
    """The treatment is done: record it (session number, areas, skin type, laser settings,
    clinician, notes) and free the station.

    Rule: only a youth in treatment; the area, the skin type and the laser settings are
    required (``missing_treatment_details``: ``TreatmentIncomplete`` names what is missing),
    the notes optional. The session number defaults to one more than the treatments the
    youth had before.
    """
    require(actor.role, Action.TREAT)
    missing = missing_treatment_details(record.areas, record.skin_type, record.settings)
    if missing:
        raise TreatmentIncomplete(missing)
    with write_transaction():
        # No same-day check: a treatment whose "done" was forgotten is recorded the next
        # day rather than left in treatment for ever.
        current = load(appointment_id)
        moved = make_move(current, VisitAction.COMPLETE, actor, now, completed_at=naive_utc(now))
        outbox.treated(current.id, now, staff_id=actor.id)
        youth_id = db.session.scalar(
            select(Appointment.youth_id).where(Appointment.id == current.id)
        )
        session_number = record.session_number or next_session_number(
            db.session.scalar(
                select(func.count()).select_from(Treatment).where(Treatment.youth_id == youth_id)
            )
            or 0
        )
        db.session.add(
            Treatment(
                appointment_id=current.id,
                youth_id=youth_id,
                day=current.day,
                session_number=session_number,
                areas=list(record.areas),
                skin_type=record.skin_type,
                settings=record.settings.strip() if record.settings else None,
                notes=record.notes,
                clinician_id=actor.id,
                station=current.station,
            )
        )
        return moved


def mark_no_show(appointment_id: int, actor: StaffUser, now: datetime, rules: ClinicRules):
    """The youth did not come: their seat is released.

    Rule: only a booked appointment whose time has come (the offer to staff waits for the
    grace period, see ``late_appointments``; by hand it is allowed from the start time).
    """
    require(actor.role, Action.MARK_NO_SHOW)
    with write_transaction():
        current = load(appointment_id)
        starts = slot_start(current.day, current.start, rules.zone)
        if now < starts:
            raise NotYet()
        moved = make_move(current, VisitAction.NO_SHOW, actor, now)
        # The freed seat goes to the day's standby list first, if the day can still use it.
        offers.fill_freed(current.day, rules, now)
        return moved


def mark_no_shows(
    appointment_ids: list[int], actor: StaffUser, now: datetime, rules: ClinicRules
) -> list[Moved]:
    """Mark every listed appointment that is still booked and past the grace period a
    no-show, in one transaction; the others (arrived meanwhile) are left alone."""
    require(actor.role, Action.MARK_NO_SHOW)
    moved = []
    with write_transaction():
        for appointment_id in appointment_ids:
            try:
                current = load(appointment_id)
            except NotFound:
                continue
            starts = slot_start(current.day, current.start, rules.zone)
            late = is_late(starts, now, rules.no_show_grace)
            if current.status is not VisitStatus.BOOKED or not late:
                continue
            try:
                with db.session.begin_nested():
                    moved.append(make_move(current, VisitAction.NO_SHOW, actor, now))
            except ChangedMeanwhile:
                continue  # checked in at this very moment: they came after all
        for day in sorted({m.day for m in moved}):
            offers.fill_freed(day, rules, now)
    return moved


def cancel(appointment_id: int, actor: StaffUser, now: datetime, rules: ClinicRules) -> Moved:
    """Cancel a booking (the youth called) or a waiting youth who left; the seat is freed and
    offered to the day's standby list (then the waiting list) at once.

    Rule: a booked appointment from today on (a past one is a no-show instead), or a youth
    who checked in and left without being seen, whatever the day.
    """
    require(actor.role, Action.CANCEL)
    with write_transaction():
        current = load(appointment_id)
        if current.status is VisitStatus.BOOKED and current.day < now.date():
            raise WrongDay()
        moved = make_move(
            current,
            VisitAction.CANCEL,
            actor,
            now,
            cancelled_at=naive_utc(now),
            cancelled_by_id=actor.id,
        )
        # A youth who left the waiting room knows; one who was still to come is told.
        if current.status is VisitStatus.BOOKED:
            outbox.cancelled(current.id, now, staff_id=actor.id)
        offers.fill_freed(current.day, rules, now)
        return moved
