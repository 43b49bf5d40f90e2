"""``flask`` commands: create-staff, seed-demo, outbox run, reminders."""

from __future__ import annotations

import heapq
import random
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import click
from flask import Flask, current_app
from sqlalchemy import func, insert, select

from clinic import accounts, booking, settings, vocab
from clinic.extensions import db
from clinic.messaging import outbox, transports, worker
from clinic.models import (
    Appointment,
    AppointmentStatus,
    ClinicDay,
    Intake,
    Slot,
    StaffRole,
    StaffUser,
    Treatment,
    Youth,
)
from clinic.rules.calendar import clinic_days, day_slots
from clinic.rules.eligibility import Eligibility, eligibility, needs_guardian
from clinic.rules.policy import ClinicRules

DEMO_PASSWORD = "demo-clinic-2026"
# The form's tattoo places, bar "somewhere else", which would need a note.
DEMO_LOCATIONS = [code for code, _label in vocab.TATTOO_LOCATIONS if code != "other"]
DEMO_STAFF = [
    ("admin@clinic.example", "Alex Admin", StaffRole.ADMIN),
    ("frontdesk@clinic.example", "Frankie Front Desk", StaffRole.FRONT_DESK),
    ("clinician@clinic.example", "Dr. Casey Clinician", StaffRole.CLINICIAN),
]


def init_app(app: Flask) -> None:
    app.cli.add_command(create_staff)
    app.cli.add_command(seed_demo)
    app.cli.add_command(outbox_group)
    app.cli.add_command(reminders)


@click.group("outbox")
def outbox_group() -> None:
    """Send the messages waiting in the outbox."""


@outbox_group.command("run")
@click.option("--loop", is_flag=True, help="Keep running (as a service) instead of once.")
def outbox_run(loop: bool) -> None:
    """Send every message that is due, once (for cron) or --loop as a service.

    Several can run at once, on one server or many: each claims different messages.
    """
    missing = {"email", "sms"} - set(transports.configured_channels())
    for channel in sorted(missing):
        click.echo(f"No {channel} provider configured: those messages stay queued.", err=True)
    if loop:
        stopping = threading.Event()

        def stop(_signal, _frame) -> None:
            # Finish the message in hand rather than leave it claimed until the claim expires.
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo("Outbox worker running; stop it with Ctrl-C or SIGTERM.")
        worker.run_forever(stopping)
        click.echo("Outbox worker stopped.")
        return
    report = worker.run_once()
    click.echo(
        f"{report.sent} sent, {report.retried} to retry, {report.dead} dead, "
        f"{report.skipped} no longer needed."
    )


@click.command("reminders")
def reminders() -> None:
    """Schedule the reminders of the coming days' appointments (safe to run repeatedly)."""
    added = outbox.schedule_reminders(datetime.now(UTC))
    click.echo(f"{added} reminders scheduled.")


@click.command("create-staff")
@click.argument("email")
@click.option("--name", prompt=True, help="The name other staff see.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in StaffRole]),
    prompt=True,
    help="admin, front_desk or clinician.",
)
@click.password_option(help="Prompted for, hidden, when not given.")
def create_staff(email: str, name: str, role: str, password: str) -> None:
    """Add a staff account (or reset the password and role of an existing one)."""
    # The same use case the admin's pages are built on, with no acting user: whoever runs
    # this already holds the server. It takes the write lock, as the app may be serving.
    try:
        created = accounts.create_or_reset_from_cli(
            email=email, name=name, role=role, password=password
        )
    except accounts.PasswordTooShort:
        raise click.BadParameter(
            f"use at least {accounts.MIN_PASSWORD_LENGTH} characters",
            param_hint="password",
        ) from None
    except accounts.InvalidEmail:
        raise click.BadParameter("not an email address", param_hint="email") from None
    except accounts.InvalidName:
        raise click.BadParameter("give a name of up to 100 characters", param_hint="name") from None
    except accounts.LastAdmin:
        raise click.ClickException(
            "this is the last active admin: make another account admin first"
        ) from None
    done = "created" if created else "updated, and signed out everywhere"
    click.echo(f"Staff account {done}: {accounts.normalize_email(email)} ({role}).")


# Deterministic demo people: a fixed seed, names from a short list, no real person.
_FIRST = [
    "Ana",
    "Luis",
    "Maya",
    "Jorge",
    "Destiny",
    "Marcus",
    "Sofía",
    "Kevin",
    "Iris",
    "Ángel",
    "Jasmine",
    "Diego",
    "Tiana",
    "Carlos",
    "Leilani",
    "Mateo",
    "Nia",
    "Oscar",
]
_LAST = [
    "García",
    "Nguyen",
    "Johnson",
    "Hernández",
    "Lee",
    "Martínez",
    "Williams",
    "Flores",
    "Tran",
    "Ramírez",
    "Brown",
    "Castillo",
    "Davis",
    "Morales",
    "Chen",
    "Reyes",
]


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even if the database already has data.")
@click.option(
    "--scale",
    type=click.Choice(["small", "large"]),
    default="small",
    show_default=True,
    help="small: four months around today. large: about 20,000 youth and two years of "
    "clinic days, for benchmarks.",
)
def seed_demo(force: bool, scale: str) -> None:
    """Load a demo clinic: staff accounts, youth, and bookings from two months back to two
    months ahead (two years back with --scale large). Does nothing if the database already
    has youth or staff."""
    if current_app.config["CLINIC_ENV"] == "production":
        raise click.ClickException("seed-demo is for development: its passwords are public.")
    if not force and (
        db.session.scalar(select(func.count()).select_from(StaffUser))
        or db.session.scalar(select(func.count()).select_from(Youth))
    ):
        click.echo("Demo data not loaded: the database already has data.")
        return
    rng = random.Random(2026)
    rules = settings.current_rules()
    today = settings.clinic_now(rules).date()

    for email, name, role in DEMO_STAFF:
        user = StaffUser(email=email, name=name, role=role)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)

    # One cancelled day, so staff see what a closure looks like.
    upcoming = clinic_days(today + timedelta(days=1), today + timedelta(days=120))
    if len(upcoming) > 3:
        db.session.add(ClinicDay(day=upcoming[3], closed=True, note="Laser maintenance"))
    db.session.flush()

    if scale == "large":
        _seed_large(rng, rules, today)
        return

    plans = booking.day_plans(today - timedelta(days=62), today + timedelta(days=62), rules)
    youth_count = 0
    codes: set[str] = set()
    returning: list[Youth] = []  # treated before, free to come back
    sessions: dict[int, int] = {}  # sessions given so far, per demo youth
    last_seen: dict[int, date] = {}
    clinician = db.session.scalar(
        select(StaffUser).where(StaffUser.email == "clinician@clinic.example")
    )
    for plan in plans:
        fill = 0.9 if plan.day < today else rng.uniform(0.2, 0.6)
        for slot_plan in day_slots(plan):
            taken = sum(rng.random() < fill for _ in range(slot_plan.seats))
            if not taken:
                continue
            slot = Slot(
                day=plan.day,
                start_time=slot_plan.start,
                end_time=slot_plan.end,
                capacity=slot_plan.seats,
                booked=taken,
            )
            db.session.add(slot)
            for _ in range(taken):
                # A returning youth comes back once the skin has healed (six weeks).
                eligible = [
                    y
                    for y in returning
                    if eligibility(y.date_of_birth, plan.day, rules.ages) is Eligibility.ELIGIBLE
                    and last_seen[id(y)] + timedelta(weeks=6) <= plan.day
                ]
                if eligible and rng.random() < 0.4:
                    youth = eligible[0]
                    returning.remove(youth)
                else:
                    youth_count += 1
                    youth = _demo_youth(rng, youth_count, plan.day, rules)
                    db.session.add(youth)
                last_seen[id(youth)] = plan.day
                if plan.day < today:
                    returning.append(youth)  # due back for the next session
                appointment = _demo_appointment(rng, youth, slot, _demo_code(rng, codes))
                db.session.add(appointment)
                if plan.day < today:
                    _demo_visit_happened(rng, appointment, sessions, clinician)
    db.session.commit()
    click.echo(
        f"Demo clinic loaded: {youth_count} youth, {len(plans)} clinic days. "
        f"Staff sign-in: {DEMO_STAFF[1][0]} (and admin@, clinician@) / {DEMO_PASSWORD}"
    )


def _demo_youth(rng: random.Random, n: int, day: date, rules) -> Youth:
    age = rng.randint(rules.ages.minimum, rules.ages.maximum)
    birth = day - timedelta(days=age * 365 + rng.randint(10, 350))
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    minor = needs_guardian(birth, day, rules.ages)
    return Youth(
        identity_key=Youth.make_identity_key(first, f"{last} {n}", birth),
        first_name=first,
        last_name=f"{last} {n}",  # numbered, so demo names are unique and obviously fake
        search_name=Youth.make_search_name(first, f"{last} {n}", None),
        date_of_birth=birth,
        phone=f"+1415555{n % 10000:04d}",
        language=rng.choice(["en", "es"]),
        guardian_name=f"{rng.choice(_FIRST)} {last}" if minor else None,
        guardian_relationship="parent" if minor else None,
        guardian_phone=f"+1415556{n % 10000:04d}" if minor else None,
    )


def _demo_visit_happened(
    rng: random.Random, appointment: Appointment, sessions: dict[int, int], clinician: StaffUser
) -> None:
    """A past visit: most were treated (a session of their course), a few did not come."""
    slot = appointment.slot
    if rng.random() < 0.1:
        appointment.status = AppointmentStatus.NO_SHOW
        slot.booked -= 1  # a no-show gives its seat back
        return
    number = sessions.get(id(appointment.youth), 0) + 1
    sessions[id(appointment.youth)] = number
    arrived = datetime.combine(slot.day, slot.start_time) + timedelta(hours=8)  # UTC
    appointment.status = AppointmentStatus.COMPLETED
    appointment.arrived_at = arrived
    appointment.called_at = arrived + timedelta(minutes=5)
    appointment.completed_at = arrived + timedelta(minutes=20)
    appointment.station = "Laser 1"
    appointment.station_day = slot.day
    appointment.treatment = Treatment(
        youth=appointment.youth,
        day=slot.day,
        session_number=number,
        areas=list(appointment.intake.tattoo_locations),
        skin_type=rng.choice(["II", "III", "IV", "V"]),
        settings="1064 nm, 3.5 J/cm², 4 mm",
        notes="Demo note: mild frosting, aftercare explained.",
        clinician=clinician,
        station="Laser 1",
    )


def _demo_code(rng: random.Random, taken: set[str]) -> str:
    while True:
        code = "".join(rng.choice(booking.CODE_ALPHABET) for _ in range(6))
        if code not in taken:
            taken.add(code)
            return code


def _demo_appointment(rng: random.Random, youth: Youth, slot: Slot, code: str) -> Appointment:
    appointment = Appointment(
        code=code,
        youth=youth,
        slot=slot,
        status=AppointmentStatus.BOOKED,
    )
    appointment.intake = Intake(
        tattoo_count=rng.randint(1, 3),
        tattoo_locations=rng.sample(DEMO_LOCATIONS, 2),
        tattoo_size=rng.choice(["small", "medium", "large"]),
        tattoo_colors=rng.choice(["black", "some_color", "color"]),
        tattoo_kind=rng.choice(["amateur", "professional", "unsure"]),
        screening=["tan"] if rng.random() < 0.1 else [],
        referral_source=rng.choice(["self", "friend", "court", "probation", "case_manager"]),
    )
    return appointment


# --- The large demo: two years of a full clinic, for benchmarks ----------------------------

# The clinic's 24 seats a day see about 1,300 visits in two years, far fewer than 20,000
# youth: most youth records are earlier patients whose visits predate the window. They make
# the youth table the size a long-running clinic has, which is what booking looks youth up in.
LARGE_YOUTH = 20_000  # tests lower it to stay fast
LARGE_DAYS_BACK = 2 * 365
LARGE_DAYS_AHEAD = 62
LARGE_MID_TREATMENT = 150  # earlier patients still coming back when the window opens
PAST_FILL = 0.97  # chance that a past seat was taken: nearly every one was
SESSIONS = (6, 10)  # a removal takes 6 to 10 sessions...
WEEKS_APART = (6, 8)  # ...6 to 8 weeks apart, so the skin heals between them
DROP_OUT = 0.08  # chance, after each session, that a youth does not come back
LOST_AFTER = timedelta(days=120)  # overdue this long: no longer expected back
CANCELLED_PER_SLOT = 0.05  # a slot that also holds a cancelled booking


@dataclass
class _Person:
    """A demo youth while the clinic's history is played out."""

    n: int  # numbers the last name, so identity keys are unique
    first: str
    last: str
    birth: date
    first_seen: date
    sessions_left: int
    language: str
    email: str | None
    guardian: str | None  # name, when a minor at the first visit
    treated_before: bool = False


@dataclass
class _Visit:
    person: _Person
    slot: int  # index into the slot rows
    day: date
    status: str
    returning: bool = False


def _seed_large(rng: random.Random, rules: ClinicRules, today: date) -> None:
    """Play two years of the clinic forward, day by day, then write it with bulk inserts.

    Past days are nearly full; booking thins out towards the end of the booking window. A
    seat goes first to a youth due back for their next session, else to a new youth, and a
    youth holds at most one upcoming appointment, as booking enforces.
    """
    start = today - timedelta(days=LARGE_DAYS_BACK)
    plans = booking.day_plans(start, today + timedelta(days=LARGE_DAYS_AHEAD), rules)
    people: list[_Person] = []

    def new_person(first_seen: date, sessions: int) -> _Person:
        age = rng.randint(rules.ages.minimum, rules.ages.maximum)
        birth = first_seen - timedelta(days=age * 365 + rng.randint(10, 350))
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        minor = needs_guardian(birth, first_seen, rules.ages)
        person = _Person(
            n=len(people) + 1,
            first=first,
            last=last,
            birth=birth,
            first_seen=first_seen,
            sessions_left=sessions,
            language=rng.choice(["en", "es"]),
            email=f"youth{len(people) + 1}@example.org" if rng.random() < 0.25 else None,
            guardian=f"{rng.choice(_FIRST)} {last}" if minor else None,
        )
        people.append(person)
        return person

    due: list[tuple[date, int]] = []  # heap of (next session due, person number)
    for _ in range(LARGE_MID_TREATMENT):
        person = new_person(start - timedelta(days=rng.randint(60, 400)), rng.randint(1, 8))
        person.treated_before = True
        heapq.heappush(due, (start + timedelta(days=rng.randint(0, 56)), person.n))

    slots: list[dict] = []
    visits: list[_Visit] = []
    for plan in plans:
        upcoming = plan.day >= today  # what booking counts as an upcoming appointment
        if upcoming:
            days_ahead = (plan.day - today).days
            fill = 0.85 * (1 - days_ahead / (LARGE_DAYS_AHEAD + 10)) + rng.uniform(-0.1, 0.1)
        else:
            fill = PAST_FILL
        for slot_plan in day_slots(plan):
            taken = sum(rng.random() < fill for _ in range(slot_plan.seats))
            cancelled = rng.random() < CANCELLED_PER_SLOT
            if not taken and not cancelled:
                continue
            slots.append(
                {
                    "day": plan.day,
                    "start_time": slot_plan.start,
                    "end_time": slot_plan.end,
                    "capacity": slot_plan.seats,
                    "booked": taken,  # the BOOKED visits added just below
                }
            )
            for _ in range(taken):
                person = _next_due(due, people, plan.day, rules) or new_person(
                    plan.day, rng.randint(*SESSIONS)
                )
                person.sessions_left -= 1
                visits.append(
                    _Visit(
                        person,
                        len(slots) - 1,
                        plan.day,
                        AppointmentStatus.BOOKED,
                        returning=person.treated_before,
                    )
                )
                person.treated_before = True
                # Someone already booked ahead is not due again: one upcoming appointment each.
                if not upcoming and person.sessions_left > 0 and rng.random() > DROP_OUT:
                    weeks = rng.randint(*WEEKS_APART)
                    heapq.heappush(due, (plan.day + timedelta(weeks=weeks), person.n))
            if cancelled:
                person = new_person(plan.day, 0)
                visits.append(_Visit(person, len(slots) - 1, plan.day, AppointmentStatus.CANCELLED))

    while len(people) < LARGE_YOUTH:
        new_person(start - timedelta(days=rng.randint(1, 6 * 365)), 0)

    # Plain multi-row INSERTs, then one SELECT per table to learn the ids by each row's
    # unique key: far faster than an ORM object, or a RETURNING, per row.
    db.session.execute(insert(Youth), [_youth_row(person) for person in people])
    youth_ids = dict(db.session.execute(select(Youth.identity_key, Youth.id)).all())
    db.session.execute(insert(Slot), slots)
    slot_ids = {
        (day, start): id_
        for day, start, id_ in db.session.execute(select(Slot.day, Slot.start_time, Slot.id))
    }
    front_desk = db.session.scalar(select(StaffUser.id).where(StaffUser.email == DEMO_STAFF[1][0]))
    codes: set[str] = set()
    appointments, intakes = [], []
    for visit in visits:
        booked_at = _demo_booked_at(rng, visit.day, today)
        cancelled_at = None
        if visit.status == AppointmentStatus.CANCELLED:
            cancelled_at = booked_at + (datetime.combine(visit.day, time()) - booked_at) / 2
        slot = slots[visit.slot]
        appointments.append(
            {
                "code": _demo_code(rng, codes),
                "youth_id": youth_ids[_identity_key(visit.person)],
                "slot_id": slot_ids[slot["day"], slot["start_time"]],
                "status": visit.status,
                "submission_key": None,
                "created_at": booked_at,
                # Cancelled by the front desk, taking a youth's call, before the day.
                "cancelled_at": cancelled_at,
                "cancelled_by_id": front_desk if cancelled_at else None,
            }
        )
        intakes.append(_intake_row(rng, visit, booked_at, rules))
    db.session.execute(insert(Appointment), appointments)
    appointment_ids = dict(db.session.execute(select(Appointment.code, Appointment.id)).all())
    for appointment, intake in zip(appointments, intakes, strict=True):
        intake["appointment_id"] = appointment_ids[appointment["code"]]
    db.session.execute(insert(Intake), intakes)
    db.session.commit()
    click.echo(
        f"Demo clinic loaded: {len(people)} youth, {len(visits)} appointments, "
        f"{len(plans)} clinic days. "
        f"Staff sign-in: {DEMO_STAFF[1][0]} (and admin@, clinician@) / {DEMO_PASSWORD}"
    )


def _next_due(
    due: list[tuple[date, int]], people: list[_Person], day: date, rules: ClinicRules
) -> _Person | None:
    """The youth most overdue for a session on ``day`` who may still be treated, if any."""
    while due and due[0][0] <= day:
        due_on, n = heapq.heappop(due)
        person = people[n - 1]
        if day - due_on > LOST_AFTER:
            continue
        eligible = eligibility(person.birth, day, rules.ages)
        if eligible is Eligibility.ELIGIBLE:
            return person
    return None


def _identity_key(person: _Person) -> str:
    return Youth.make_identity_key(person.first, f"{person.last} {person.n}", person.birth)


def _youth_row(person: _Person) -> dict:
    n, seen = person.n, datetime.combine(person.first_seen, time(12))
    return {
        "identity_key": _identity_key(person),
        "first_name": person.first,
        "last_name": f"{person.last} {n}",
        "preferred_name": None,
        "search_name": Youth.make_search_name(person.first, f"{person.last} {n}", None),
        "date_of_birth": person.birth,
        "phone": f"+1415555{n % 10000:04d}",
        "email": person.email,
        "language": person.language,
        "guardian_name": person.guardian,
        "guardian_relationship": "parent" if person.guardian else None,
        "guardian_phone": f"+1415556{n % 10000:04d}" if person.guardian else None,
        "created_at": seen,
        "updated_at": seen,
    }


def _demo_booked_at(rng: random.Random, day: date, today: date) -> datetime:
    """When a visit was booked: one to forty days before it, and never after today."""
    booked_on = min(day - timedelta(days=rng.randint(1, 40)), today)
    return datetime.combine(booked_on, time(rng.randint(8, 21), rng.randint(0, 59)))


def _intake_row(rng: random.Random, visit: _Visit, booked_at: datetime, rules: ClinicRules) -> dict:
    person, n = visit.person, visit.person.n
    # A guardian is given on the form only while the youth is a minor on the visit's date.
    minor = person.guardian is not None and needs_guardian(person.birth, visit.day, rules.ages)
    return {
        "phone": f"+1415555{n % 10000:04d}",
        "email": person.email,
        "language": person.language,
        "guardian_name": person.guardian if minor else None,
        "guardian_relationship": "parent" if minor else None,
        "guardian_phone": f"+1415556{n % 10000:04d}" if minor else None,
        "tattoo_count": rng.randint(1, 3),
        "tattoo_locations": rng.sample(DEMO_LOCATIONS, 2),
        "tattoo_size": rng.choice(["small", "medium", "large"]),
        "tattoo_colors": rng.choice(["black", "some_color", "color"]),
        "tattoo_kind": rng.choice(["amateur", "professional", "unsure"]),
        "tattoo_age_years": rng.choice([None, rng.randint(1, 10)]),
        "previous_removal": visit.returning,
        "tattoo_notes": None,
        "screening": ["tan"] if rng.random() < 0.1 else [],
        "referral_source": rng.choice(["self", "friend", "court", "probation", "case_manager"]),
        "created_at": booked_at,
    }
