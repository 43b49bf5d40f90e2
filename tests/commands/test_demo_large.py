"""``flask seed-demo --scale large``: years of a busy clinic's history, consistent with the rules
the app keeps, with every outcome the reports count (clinic/commands/demo_large.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from clinic import booking, crypto, settings
from clinic.booking.moves import RESCHEDULE
from clinic.commands import demo_large
from clinic.extensions import db
from clinic.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    AuditEvent,
    ClinicDay,
    Consent,
    EntryStatus,
    Intake,
    ListEntry,
    ListKind,
    OfferStatus,
    SeatOffer,
    Slot,
    StaffUser,
    StatusChange,
    Treatment,
    Youth,
    naive_utc,
)
from clinic.records.privacy import ERASED_FIRST_NAME
from clinic.rules.calendar import day_slots
from clinic.rules.eligibility import Eligibility, age_on, eligibility, needs_guardian
from clinic.rules.visits import SEAT_HOLDING
from clinic.schedule.days import SCHEDULE_CANCEL
from tests.conftest import NOW

YOUTH = 1_500  # the real 20,000 only makes it slower


def count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


def seed(runner, monkeypatch, years: int) -> str:
    monkeypatch.setattr(demo_large, "LARGE_YOUTH", YOUTH)
    result = runner.invoke(args=["seed-demo", "--scale", "large", "--years", str(years)])
    assert result.exit_code == 0, result.output
    return result.output


def statuses() -> Counter:
    return Counter(
        dict(
            db.session.execute(
                select(Appointment.status, func.count()).group_by(Appointment.status)
            ).all()
        )
    )


def test_a_year_has_every_outcome_a_clinic_sees(runner, monkeypatch):
    output = seed(runner, monkeypatch, years=1)
    assert "Seeding the clinic's history" in output  # the progress bar's label
    loaded = output.splitlines()[-1]
    appointments = db.session.scalar(select(func.count()).select_from(Appointment))
    assert loaded.startswith(f"Demo clinic loaded: {YOUTH} youth, {appointments} appointments")
    assert db.session.scalar(select(func.count()).select_from(Youth)) == YOUTH
    intakes = db.session.scalar(select(func.count()).select_from(Intake))
    assert intakes == appointments  # one intake per booking, walk-ins' too
    today = NOW.date()
    by_status = statuses()
    # Past visits happened: treated, or no-shows (about one in ten of those due).
    done, no_shows = by_status[AppointmentStatus.COMPLETED], by_status[AppointmentStatus.NO_SHOW]
    walk_ins = count(select(Appointment.id).where(Appointment.walk_in))
    assert done > 500
    assert 0.07 <= no_shows / (done - walk_ins + no_shows) <= 0.13
    past_booked = select(Appointment.id).join(Appointment.slot).where(Slot.day < today)
    assert count(past_booked.where(Appointment.status == AppointmentStatus.BOOKED)) == 0
    assert by_status[AppointmentStatus.BOOKED] > 0  # the days ahead

    # Treated: the day's times, a station, and the treatment the clinician recorded.
    treated = db.session.execute(
        select(Appointment, Treatment)
        .join(Treatment, Treatment.appointment_id == Appointment.id)
        .join(Appointment.slot)
        .where(Appointment.status == AppointmentStatus.COMPLETED)
    ).all()
    assert len(treated) == done
    clinician = db.session.scalar(
        select(StaffUser.id).where(StaffUser.email == "clinician@clinic.example")
    )
    for appointment, treatment in treated:
        assert appointment.arrived_at <= appointment.called_at < appointment.completed_at
        assert appointment.station in ("Laser 1", "Laser 2") and appointment.ticket >= 1
        assert treatment.day == appointment.station_day and treatment.areas
        assert treatment.clinician_id == clinician and treatment.station == appointment.station
    # Each day's tickets go 1, 2, 3... in the order the youth arrived.
    tickets = defaultdict(list)
    for appointment, treatment in treated:
        tickets[treatment.day].append((appointment.arrived_at, appointment.ticket))
    for day_tickets in tickets.values():
        assert [t for _, t in sorted(day_tickets)] == list(range(1, len(day_tickets) + 1))

    # Walk-ins: added at the desk on the day, and treated.
    assert walk_ins > 5
    walk_in_changes = select(StatusChange.id).where(StatusChange.action == "walk_in")
    assert count(walk_in_changes) == walk_ins

    # Cancelled by the desk (and by the admin closing a day), and by the youth from their link.
    desk = select(Appointment.id).where(Appointment.cancelled_by_id.is_not(None))
    youth = select(Appointment.id).where(
        Appointment.status == AppointmentStatus.CANCELLED, Appointment.cancelled_by_id.is_(None)
    )
    assert count(desk) > 10 and count(youth) > 10
    youth_cancels = select(StatusChange.id).where(
        StatusChange.action == "cancel", StatusChange.actor == Actor.YOUTH
    )
    assert count(youth_cancels) == count(youth)
    assert count(select(StatusChange.id).where(StatusChange.action == SCHEDULE_CANCEL)) > 0

    # Moved, by the youth and by the desk, with the times the history records.
    moves = db.session.scalars(select(StatusChange).where(StatusChange.action == RESCHEDULE)).all()
    assert {move.actor for move in moves} == {Actor.YOUTH, Actor.STAFF}
    for move in moves:
        assert move.from_status == move.to_status == AppointmentStatus.BOOKED
        assert move.detail["from"] != move.detail["to"]

    # Minors treated had their guardian's consent recorded by the desk.
    minors = 0
    for appointment, treatment in treated:
        birth = db.session.get(Youth, appointment.youth_id).date_of_birth
        if appointment.age_at_visit is None and needs_guardian(birth, treatment.day):
            minors += 1
            assert appointment.consent in (Consent.CONFIRMED, Consent.EXEMPT)
            assert appointment.consent_by_id is not None and appointment.consent_at
    assert minors > 20

    # A cancelled clinic day: its bookings were cancelled, nobody came.
    closed = db.session.scalars(select(ClinicDay.day).where(ClinicDay.closed)).all()
    assert any(day < today for day in closed)
    on_closed = db.session.scalars(
        select(Appointment.status).join(Appointment.slot).where(Slot.day.in_(closed))
    ).all()
    assert set(on_closed) <= {AppointmentStatus.CANCELLED}


def test_a_year_has_its_lists_and_erased_records(runner, monkeypatch):
    seed(runner, monkeypatch, years=1)
    entries = db.session.scalars(select(ListEntry)).all()
    kinds = Counter((entry.kind, entry.status) for entry in entries)
    for kind in (ListKind.STANDBY, ListKind.PROGRAM):
        assert kinds[kind, EntryStatus.BOOKED] > 5, kinds
        assert kinds[kind, EntryStatus.WAITING] > 0, kinds
    assert kinds[ListKind.STANDBY, EntryStatus.CLOSED] > 0
    assert kinds[ListKind.PROGRAM, EntryStatus.LEFT] > 0
    appointments = {a.id: a for a in db.session.scalars(select(Appointment))}
    slots = {s.id: s for s in db.session.scalars(select(Slot))}
    offers = {o.entry_id: o for o in db.session.scalars(select(SeatOffer))}
    for entry in entries:
        assert entry.closed_at is None or entry.joined_at <= entry.closed_at
        if entry.status == EntryStatus.WAITING:
            assert entry.closed_at is None and entry.appointment_id is None
        if entry.status != EntryStatus.BOOKED:
            continue
        # Seated: the offer claimed, on the day waited for (standby), booked when it closed.
        seat = appointments[entry.appointment_id]
        assert seat.youth_id == entry.youth_id and seat.created_at == entry.closed_at
        offer = offers[entry.id]
        assert offer.status == OfferStatus.CLAIMED and offer.appointment_id == seat.id
        assert offer.slot_id == seat.slot_id and offer.answered_at == entry.closed_at
        if entry.kind == ListKind.STANDBY:
            assert slots[seat.slot_id].day == entry.day
        else:
            # Invited from the waiting list weeks to months after joining.
            assert timedelta(days=14) <= entry.closed_at - entry.joined_at <= timedelta(days=151)
    # One place per youth and list: the app's unique indexes held for the waiting ones.
    waiting = Counter(
        (e.kind, e.youth_id, e.day) for e in entries if e.status == EntryStatus.WAITING
    )
    assert max(waiting.values()) == 1

    # Referral: every intake's blind index, as the app computes it from the answer.
    for source, index in db.session.execute(select(Intake.referral_source, Intake.referral_index)):
        assert index == crypto.referral_index(source)

    # Erased: names, contact and birth day gone the way the privacy module erases, each
    # visit's age kept for the reports, and the referral's index.
    erased = db.session.scalars(select(Youth).where(Youth.purged_at.is_not(None))).all()
    assert erased
    for youth in erased:
        assert youth.first_name == ERASED_FIRST_NAME and youth.last_name == f"#{youth.id}"
        assert youth.phone is None and youth.guardian_name is None
        assert (youth.date_of_birth.month, youth.date_of_birth.day) == (1, 1)
    visits = db.session.execute(
        select(Appointment.age_at_visit, Slot.day, Intake.referral_index, Intake.phone)
        .join(Appointment.slot)
        .join(Intake, Intake.appointment_id == Appointment.id)
        .where(Appointment.youth_id.in_([youth.id for youth in erased]))
    ).all()
    assert visits
    for age, _day, referral_index, phone in visits:
        assert age is not None and 13 <= age <= 25
        assert referral_index is not None and phone is None


@pytest.mark.slow  # four years of history: about 7 s on PostgreSQL
def test_the_retention_purge_erased_whom_it_would_over_the_last_year(runner, monkeypatch, app):
    seed(runner, monkeypatch, years=4)
    years = app.config["RETENTION_YEARS"]
    erased = dict(
        db.session.execute(
            select(Youth.id, Youth.purged_at).where(Youth.purged_at.is_not(None))
        ).all()
    )
    assert len(erased) > 100  # "some hundreds" at the real scale
    by = dict(
        db.session.execute(
            select(AuditEvent.youth_id, AuditEvent.action).where(
                AuditEvent.action.in_(("purge", "erase"))
            )
        ).all()
    )
    assert set(by) == set(erased) and set(by.values()) == {"purge", "erase"}
    last_visit = dict(
        db.session.execute(
            select(Appointment.youth_id, func.max(Slot.day))
            .join(Appointment.slot)
            .group_by(Appointment.youth_id)
        ).all()
    )
    today = NOW.date()
    for youth_id, purged_at in erased.items():
        erased_on = purged_at.date()
        assert erased_on < today
        if youth_id in last_visit:
            assert last_visit[youth_id] < erased_on
        if by[youth_id] == "purge":
            # The monthly purge of the last year: no contact for the retention period.
            assert demo_large.PURGE_MONTHS == 12  # on the 1st of each month, from a year ago
            assert erased_on >= date(today.year - 1, today.month, 1) and erased_on.day == 1
            if youth_id in last_visit:
                assert last_visit[youth_id] < erased_on.replace(year=erased_on.year - years)


def test_each_day_opens_40_seats_as_the_app_plans_it(runner, monkeypatch):
    seed(runner, monkeypatch, years=1)
    rules = settings.current_rules()
    today = NOW.date()
    start, end = today - timedelta(days=365), today + timedelta(days=demo_large.LARGE_DAYS_AHEAD)
    plans = booking.day_plans(start, end, rules)
    assert len(plans) >= 20
    for plan in plans:
        assert sum(slot.seats for slot in day_slots(plan)) == 40
        assert (plan.start, plan.end) == (rules.day.start, rules.day.end)

    # Every seat counter equals the visits holding one of its seats.
    held = Counter(
        db.session.scalars(
            select(Appointment.slot_id).where(Appointment.status.in_(SEAT_HOLDING))
        ).all()
    )
    for slot in db.session.scalars(select(Slot)):
        assert slot.capacity == demo_large.LARGE_SEATS_PER_SLOT
        assert slot.booked == held[slot.id] <= slot.capacity
    # Past days nearly full; the days ahead fill less the further they are.
    past = [plan.day for plan in plans if plan.day < today]
    taken = count(
        select(Appointment.id)
        .join(Appointment.slot)
        .where(Slot.day.in_(past), Appointment.status.in_(SEAT_HOLDING))
    )
    no_shows = count(
        select(Appointment.id)
        .join(Appointment.slot)
        .where(Slot.day.in_(past), Appointment.status == AppointmentStatus.NO_SHOW)
    )
    assert taken + no_shows >= 0.85 * 40 * len(past)


def test_the_history_keeps_the_booking_rules(runner, monkeypatch):
    seed(runner, monkeypatch, years=1)
    births = dict(db.session.execute(select(Youth.id, Youth.date_of_birth)).all())
    created = dict(db.session.execute(select(Youth.id, Youth.created_at)).all())
    rows = db.session.execute(
        select(Appointment, Slot.day)
        .join(Appointment.slot)
        .where(Appointment.age_at_visit.is_(None))  # erased ones keep only the birth year
        .order_by(Appointment.youth_id, Slot.day)
    ).all()
    treated: dict[int, list[date]] = defaultdict(list)
    upcoming: Counter = Counter()
    for appointment, day in rows:
        youth_id = appointment.youth_id
        assert created[youth_id] <= appointment.created_at
        assert appointment.created_at < naive_utc(NOW)  # nothing happened after "now"
        cancelled = appointment.status == AppointmentStatus.CANCELLED
        assert cancelled == (appointment.cancelled_at is not None)
        if cancelled:
            assert appointment.created_at <= appointment.cancelled_at
        if appointment.status in SEAT_HOLDING:
            # Everyone booked or treated was eligible on the day.
            assert eligibility(births[youth_id], day) is Eligibility.ELIGIBLE
        if appointment.status == AppointmentStatus.COMPLETED:
            treated[youth_id].append(day)
        if appointment.status == AppointmentStatus.BOOKED:
            upcoming[youth_id] += 1
    # Sessions six weeks or more apart (the skin heals), and a course of them for some.
    for days in treated.values():
        assert all(b - a >= timedelta(weeks=6) for a, b in pairwise(days))
    assert sum(len(days) >= 5 for days in treated.values()) >= 10
    assert max(upcoming.values()) == 1  # one upcoming appointment each

    # Session numbers count the youth's treatments on file.
    sessions = db.session.execute(
        select(Treatment.youth_id, Treatment.session_number).order_by(
            Treatment.youth_id, Treatment.day
        )
    ).all()
    numbers: dict[int, list[int]] = defaultdict(list)
    for youth_id, number in sessions:
        numbers[youth_id].append(number)
    assert all(n == list(range(1, len(n) + 1)) for n in numbers.values())

    # The history's steps follow one another in time.
    for appointment_id, times in _change_times().items():
        assert times == sorted(times), appointment_id
    # Ages on the day within the program's range, minors included.
    ages = Counter(age_on(births[a.youth_id], day) for a, day in rows if a.status in SEAT_HOLDING)
    assert min(ages) >= 13 and max(ages) <= 25 and sum(ages[a] for a in range(13, 18)) > 0


def _change_times() -> dict[int, list[datetime]]:
    times: dict[int, list[datetime]] = defaultdict(list)
    for appointment_id, at in db.session.execute(
        select(StatusChange.appointment_id, StatusChange.at).order_by(StatusChange.id)
    ):
        times[appointment_id].append(at)
    return times


def test_the_large_seed_is_deterministic(app, runner, tmp_path, monkeypatch):
    from clinic import create_app
    from tests.support import databases

    monkeypatch.setattr(demo_large, "LARGE_YOUTH", 500)
    runner.invoke(args=["seed-demo", "--scale", "large", "--years", "1"])
    first = _snapshot()
    other = databases.new_database("other", tmp_path)
    try:
        databases.migrate(other)
        second_app = create_app({"SQLALCHEMY_DATABASE_URI": other})
        with second_app.app_context():
            second_app.test_cli_runner().invoke(
                args=["seed-demo", "--scale", "large", "--years", "1"]
            )
            second = _snapshot()
            db.session.remove()
            db.engine.dispose()
    finally:
        databases.drop_database(other)
    assert first == second and len(first[1]) > 800


def _snapshot():
    # An erased record's identity key is drawn at random (privacy): compare the others.
    youth = db.session.execute(
        select(Youth.identity_key, Youth.date_of_birth)
        .where(Youth.purged_at.is_(None))
        .order_by(Youth.id)
    ).all()
    appointments = db.session.execute(
        select(Appointment.code, Appointment.status, Slot.day, Slot.start_time)
        .join(Appointment.slot)
        .order_by(Appointment.id)
    ).all()
    return youth, appointments


def test_years_must_be_at_least_one(runner):
    result = runner.invoke(args=["seed-demo", "--scale", "large", "--years", "0"])
    assert result.exit_code != 0 and "--years" in result.output
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 0


def test_the_large_seed_refuses_to_run_in_production(app, runner):
    app.config["CLINIC_ENV"] = "production"
    result = runner.invoke(args=["seed-demo", "--scale", "large"])
    assert result.exit_code != 0 and "development" in result.output
    assert db.session.scalar(select(func.count()).select_from(Youth)) == 0
