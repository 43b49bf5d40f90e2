"""``flask seed-demo --scale large``: years of clinic history (about 20,000 youth, two years of
clinic days, courses of treatment with drop-outs, no-shows and cancellations) written with bulk
inserts, for the benchmarks and for trying the staff pages at scale."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import click
from sqlalchemy import insert, select

from clinic import booking
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
    Intake,
    Slot,
    StaffUser,
    Youth,
)
from clinic.rules.calendar import day_slots
from clinic.rules.eligibility import Eligibility, eligibility, needs_guardian
from clinic.rules.policy import ClinicRules

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


def seed_large(rng: random.Random, rules: ClinicRules, today: date) -> None:
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
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
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
            guardian=f"{rng.choice(FIRST_NAMES)} {last}" if minor else None,
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
                "code": demo_code(rng, codes),
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
