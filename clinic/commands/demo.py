"""``flask seed-demo``: a realistic, deterministic demo clinic (development only): staff
accounts, youth of all ages, returning clients and a clinic day with every kind of visit;
``--scale large`` adds five years of history (``--years``) for the benchmarks and reports."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import click
from flask import current_app
from sqlalchemy import func, select

from clinic import booking, settings
from clinic.commands import demo_large
from clinic.commands.demo_data import (
    DEMO_LOCATIONS,
    DEMO_PASSWORD,
    DEMO_STAFF,
    FIRST_NAMES,
    LAST_NAMES,
    demo_code,
)
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AppointmentStatus,
    ClinicDay,
    Intake,
    Slot,
    StaffUser,
    Treatment,
    Youth,
)
from clinic.rules.calendar import clinic_days, day_slots
from clinic.rules.eligibility import Eligibility, eligibility, needs_guardian

# The demo admin's two-step sign-in key: public (README), so development only, like the
# demo password (seed-demo refuses production).
DEMO_TOTP_SECRET = "DEMOADMINTOTPKEYFORLAPTOPSONLYXY"  # nosec B105


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even if the database already has data.")
@click.option(
    "--scale",
    type=click.Choice(["small", "large"]),
    default="small",
    show_default=True,
    help="small: four months around today. large: about 20,000 youth and five years of "
    "clinic days (40 seats a day), for benchmarks and reports.",
)
@click.option(
    "--years",
    type=click.IntRange(min=1),
    default=demo_large.LARGE_YEARS,
    show_default=True,
    help="With --scale large: the years of history before today.",
)
def seed_demo(force: bool, scale: str, years: int) -> None:
    """Load a demo clinic: staff accounts, youth, and bookings from two months back to two
    months ahead (five years back with --scale large). Does nothing if the database already
    has youth or staff."""
    if current_app.config["CLINIC_ENV"] == "production":
        raise click.ClickException("seed-demo is for development: its passwords are public.")
    if not force and (
        db.session.scalar(select(func.count()).select_from(StaffUser))
        or db.session.scalar(select(func.count()).select_from(Youth))
    ):
        click.echo("Demo data not loaded: the database already has data.")
        return
    rng = random.Random(2026)  # demo data, the same every run on purpose  # nosec B311
    rules = settings.current_rules()
    today = settings.clinic_now(rules).date()

    for email, name, role in DEMO_STAFF:
        user = StaffUser(email=email, name=name, role=role)
        user.set_password(DEMO_PASSWORD)
        if role == "admin":
            # Admins must have two-step sign-in: the demo admin's is on, with a public key
            # (README) that any authenticator app, or pyotp, turns into codes.
            user.totp_secret = DEMO_TOTP_SECRET
            user.totp_enabled_at = datetime.now(UTC).replace(tzinfo=None)
        db.session.add(user)

    # One cancelled day, so staff see what a closure looks like.
    upcoming = clinic_days(today + timedelta(days=1), today + timedelta(days=120))
    if len(upcoming) > 3:
        db.session.add(ClinicDay(day=upcoming[3], closed=True, note="Laser maintenance"))
    db.session.flush()

    if scale == "large":
        demo_large.seed_large(rng, rules, today, years)
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
    # The next clinic day is full, so its standby list can be tried.
    next_day = min((plan.day for plan in plans if plan.day > today), default=None)
    for plan in plans:
        fill = 0.9 if plan.day < today else 1.0 if plan.day == next_day else rng.uniform(0.2, 0.6)
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
                appointment = _demo_appointment(rng, youth, slot, demo_code(rng, codes))
                db.session.add(appointment)
                if plan.day < today:
                    _demo_visit_happened(rng, appointment, sessions, clinician)
    db.session.commit()
    click.echo(
        f"Demo clinic loaded: {youth_count} youth, {len(plans)} clinic days. "
        f"Staff sign-in: {DEMO_STAFF[1][0]} (and admin@, clinician@) / {DEMO_PASSWORD}; "
        f"admin@'s two-step sign-in key: {DEMO_TOTP_SECRET} (see the README)"
    )


def _demo_youth(rng: random.Random, n: int, day: date, rules) -> Youth:
    age = rng.randint(rules.ages.minimum, rules.ages.maximum)
    birth = day - timedelta(days=age * 365 + rng.randint(10, 350))
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    minor = needs_guardian(birth, day, rules.ages)
    return Youth(
        identity_key=Youth.make_identity_key(first, f"{last} {n}", birth),
        first_name=first,
        last_name=f"{last} {n}",  # numbered, so demo names are unique and obviously fake
        search_name=Youth.make_search_name(first, f"{last} {n}", None),
        date_of_birth=birth,
        phone=f"+1415555{n % 10000:04d}",
        language=rng.choice(["en", "es"]),
        guardian_name=f"{rng.choice(FIRST_NAMES)} {last}" if minor else None,
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
