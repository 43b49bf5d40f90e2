"""``flask`` commands: create-staff, seed-demo."""

from __future__ import annotations

import random
from datetime import date, timedelta

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from clinic import booking, scheduling
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AppointmentStatus,
    ClinicDay,
    Intake,
    Slot,
    StaffRole,
    StaffUser,
    Youth,
)

DEMO_PASSWORD = "demo-clinic-2026"
DEMO_STAFF = [
    ("admin@clinic.example", "Alex Admin", StaffRole.ADMIN),
    ("frontdesk@clinic.example", "Frankie Front Desk", StaffRole.FRONT_DESK),
    ("clinician@clinic.example", "Dr. Casey Clinician", StaffRole.CLINICIAN),
]


def init_app(app: Flask) -> None:
    app.cli.add_command(create_staff)
    app.cli.add_command(seed_demo)


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
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="password")
    email = email.strip().lower()
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None:
        user = StaffUser(email=email)
        db.session.add(user)
    user.name, user.role, user.active = name, role, True
    user.set_password(password)
    db.session.commit()
    click.echo(f"Staff account ready: {email} ({role}).")


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
def seed_demo(force: bool) -> None:
    """Load a demo clinic: staff accounts, youth, and bookings from two months back to two
    months ahead. Does nothing if the database already has youth or staff."""
    if current_app.config["CLINIC_ENV"] == "production":
        raise click.ClickException("seed-demo is for development: its passwords are public.")
    if not force and (
        db.session.scalar(select(func.count()).select_from(StaffUser))
        or db.session.scalar(select(func.count()).select_from(Youth))
    ):
        click.echo("Demo data not loaded: the database already has data.")
        return
    rng = random.Random(2026)
    rules = booking.current_rules()
    today = booking.clinic_now(rules).date()

    for email, name, role in DEMO_STAFF:
        user = StaffUser(email=email, name=name, role=role)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)

    # One cancelled day, so staff see what a closure looks like.
    upcoming = scheduling.clinic_days(today + timedelta(days=1), today + timedelta(days=120))
    if len(upcoming) > 3:
        db.session.add(ClinicDay(day=upcoming[3], closed=True, note="Laser maintenance"))
    db.session.flush()

    plans = booking.day_plans(today - timedelta(days=62), today + timedelta(days=62), rules)
    youth_count = 0
    codes: set[str] = set()
    returning: list[Youth] = []  # treated before, free to come back
    for plan in plans:
        fill = 0.9 if plan.day < today else rng.uniform(0.2, 0.6)
        for slot_plan in scheduling.day_slots(plan):
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
                eligible = [
                    y
                    for y in returning
                    if scheduling.eligibility(y.date_of_birth, plan.day, rules.ages)
                    is scheduling.Eligibility.ELIGIBLE
                ]
                if plan.day >= today and eligible and rng.random() < 0.4:
                    youth = eligible[0]
                    returning.remove(youth)
                else:
                    youth_count += 1
                    youth = _demo_youth(rng, youth_count, plan.day, rules)
                    db.session.add(youth)
                    if plan.day < today - timedelta(days=35):
                        returning.append(youth)
                db.session.add(_demo_appointment(rng, youth, slot, _demo_code(rng, codes)))
    db.session.commit()
    click.echo(
        f"Demo clinic loaded: {youth_count} youth, {len(plans)} clinic days. "
        f"Staff sign-in: {DEMO_STAFF[1][0]} (and admin@, clinician@) / {DEMO_PASSWORD}"
    )


def _demo_youth(rng: random.Random, n: int, day: date, rules) -> Youth:
    age = rng.randint(rules.ages.minimum, rules.ages.maximum)
    birth = day - timedelta(days=age * 365 + rng.randint(10, 350))
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    minor = scheduling.needs_guardian(birth, day, rules.ages)
    return Youth(
        identity_key=Youth.make_identity_key(first, f"{last} {n}", birth),
        first_name=first,
        last_name=f"{last} {n}",  # numbered, so demo names are unique and obviously fake
        date_of_birth=birth,
        phone=f"+1415555{n % 10000:04d}",
        language=rng.choice(["en", "es"]),
        guardian_name=f"{rng.choice(_FIRST)} {last}" if minor else None,
        guardian_relationship="parent" if minor else None,
        guardian_phone=f"+1415556{n % 10000:04d}" if minor else None,
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
        tattoo_locations=rng.sample(["face_neck", "hands", "arms", "chest_back", "legs"], 2),
        tattoo_size=rng.choice(["small", "medium", "large"]),
        tattoo_colors=rng.choice(["black", "some_color", "color"]),
        tattoo_kind=rng.choice(["amateur", "professional", "unsure"]),
        screening=["tan"] if rng.random() < 0.1 else [],
        referral_source=rng.choice(["self", "friend", "court", "probation", "case_manager"]),
    )
    return appointment
