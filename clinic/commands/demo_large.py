"""``flask seed-demo --scale large``: five years of a busy clinic's history, for the benchmarks
and for the reports, written with bulk inserts.

The clinic's calendar (the last two Tuesdays of each month) with 40 seats a day; past visits
with the outcomes a clinic sees: treated (with its treatment record and the day's history),
no-shows, bookings cancelled by the desk or by the youth from their link, bookings moved,
walk-ins, minors whose guardian's consent was recorded, a few cancelled clinic days; standby
lists for full days and the program's waiting list over the years; and youth whose personal
data the retention purge (or their own request) has since erased, through
``clinic.records.privacy`` itself, so an erased record is exactly what the app makes of one.

Deterministic: the same random generator, seeded by the caller, gives the same clinic (bar
what erasure draws at random, the erased records' identity keys).
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import click
from flask import current_app
from sqlalchemy import func, insert, select, text

from clinic import booking
from clinic.booking.moves import RESCHEDULE
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
    Actor,
    Appointment,
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
from clinic.records import privacy
from clinic.rules.calendar import DayPlan, SlotPlan, clinic_days, day_slots
from clinic.rules.eligibility import Eligibility, eligibility, needs_guardian
from clinic.rules.policy import ClinicRules
from clinic.rules.selfservice import priority
from clinic.rules.visits import SEAT_HOLDING, VisitAction, VisitStatus
from clinic.schedule.days import SCHEDULE_CANCEL

# Most youth records are earlier patients whose visits predate the window: they make the youth
# table the size a long-running clinic's is, which is what booking looks youth up in. They
# are left out of the erasures below (a real clinic's would long be erased), so that the
# benchmarks' lookups keep a table of this size.
LARGE_YOUTH = 20_000  # tests lower it to stay fast


LARGE_YEARS = 5  # the default of --years: five years back from today


LARGE_DAYS_AHEAD = 62


# A busy clinic: the usual hours (16:00-20:00) in eight half-hour slots of five seats, 40
# seats a day, set on each seeded day as staff would (a ``ClinicDay`` row), so that
# ``booking.day_plans`` (and with it the reports' seats offered) opens exactly these.
LARGE_SLOT_MINUTES = 30


LARGE_SEATS_PER_SLOT = 5


LARGE_MID_TREATMENT = 150  # earlier patients still coming back when the window opens


PAST_FILL = 0.94  # chance that a past seat was booked ahead


NO_SHOW = 0.10  # of the visits booked ahead and not cancelled


CANCELLED = 0.12  # chance that a seat also held a booking cancelled before the day


CANCELLED_BY_YOUTH = 0.6  # of the cancellations: from the youth's link; else the desk's


MOVED = 0.06  # chance that a booking had been moved there from another time


MOVED_BY_YOUTH = 0.6  # of the moves: from the youth's link; else the desk's


WALK_IN = 0.6  # chance that a seat still free on the day went to a walk-in


STANDBY_DAY = 0.6  # chance that a past day filled up and had a standby list


STANDBY_SEATED = 0.7  # chance that a seat freed by a cancellation went to standby


STANDBY_EXTRA = (1, 6)  # people on a day's standby list who got no seat


WAITLIST_FIRST = 0.3  # of the new youth: invited from the program's waiting list


WAITLIST_WAIT_DAYS = (14, 150)  # from joining the waiting list to the invitation


WAITLIST_GAVE_UP = 0.25  # per youth invited, another who left or was removed meanwhile


WAITING_NOW = 40  # on the waiting list today


CLOSED_PER_YEAR = 1  # past clinic days cancelled (laser maintenance, a closure)


CONSENT_EXEMPT = 0.05  # of the minors treated: exempt by staff decision; else confirmed


SESSIONS = (6, 10)  # a removal takes 6 to 10 sessions...


WEEKS_APART = (6, 8)  # ...6 to 8 weeks apart, so the skin heals between them


DROP_OUT = 0.08  # chance, after each session, that a youth does not come back


LOST_AFTER = timedelta(days=120)  # overdue this long: no longer expected back


PURGE_MONTHS = 12  # the retention purge has run monthly this long


ERASED_ON_REQUEST = 0.01  # of the youth treated: erased at their own request


# Who the clinic sees, and how they heard of it (the intake's vocabulary: ``clinic.vocab``).
AGES = range(13, 26)
AGE_WEIGHTS = (3, 5, 7, 9, 10, 10, 10, 9, 8, 7, 5, 4, 3)
REFERRALS = (
    ("self", 22),
    ("friend", 18),
    ("court", 10),
    ("probation", 15),
    ("case_manager", 12),
    ("job_program", 8),
    ("reentry", 6),
    ("school", 6),
    ("other", 3),
)
SKIN_TYPES = (("I", 3), ("II", 12), ("III", 25), ("IV", 30), ("V", 20), ("VI", 10))
CLOSURE_NOTES = ("Laser maintenance", "Staff training", "Building closed")


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
    guardian: str | None  # name, when a minor at the first contact
    referral: str
    locations: list[str]
    skin_type: str
    filler: bool = False  # an earlier patient, with no visit in the window
    treated_before: bool = False
    sessions_done: int = 0
    created: datetime | None = None  # first contact (UTC): a booking or a list joined
    last_contact: date | None = None  # the last visit's day or list joined (erasure)
    waiting: bool = False  # on a list now


@dataclass
class _Visit:
    """One appointment, as it will be written."""

    index: int  # its place in the visits
    person: _Person
    slot: int  # index into the slot rows
    day: date
    start: time
    status: str
    booked_at: datetime  # UTC, as every stored instant
    returning: bool = False
    walk_in: bool = False
    cancelled_at: datetime | None = None
    cancelled_by: int | None = None  # staff id; None with a cancellation: the youth
    cancel_action: str = VisitAction.CANCEL
    arrived_at: datetime | None = None
    called_at: datetime | None = None
    completed_at: datetime | None = None
    no_show_at: datetime | None = None
    station: str | None = None
    session_number: int | None = None
    consent: str | None = None
    moved: tuple[datetime, datetime, int | None] | None = None  # old time, when, staff id
    ticket: int | None = None


@dataclass
class _Entry:
    """A place on a standby list or on the program's waiting list."""

    kind: str
    person: _Person
    day: date | None
    status: str
    joined_at: datetime
    closed_at: datetime | None = None
    closed_by: int | None = None
    visit: int | None = None  # index into the visits: the seat taken
    returning: bool = field(init=False)  # treated before, when joining

    def __post_init__(self) -> None:
        self.returning = self.person.treated_before


@dataclass
class _Staff:
    admin: int
    desk: int
    clinician: int


@dataclass
class _History:
    """The clinic's history as played out, before it is written."""

    people: list[_Person] = field(default_factory=list)
    slots: list[dict[str, Any]] = field(default_factory=list)
    visits: list[_Visit] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)


class _Clinic:
    """Plays the clinic forward, day by day: who books each seat, and what became of it."""

    def __init__(self, rng: random.Random, rules: ClinicRules, today: date, staff: _Staff):
        self.rng, self.rules, self.today, self.staff = rng, rules, today, staff
        # Nothing is written as done after the start of today (the seed's "now" is later).
        self.now = self.utc(today, time(0))
        self.history = _History()
        self.due: list[tuple[date, int]] = []  # heap of (next session due, person number)

    # --- People --------------------------------------------------------------------------

    def new_person(self, first_seen: date, sessions: int, *, filler: bool = False) -> _Person:
        rng, people = self.rng, self.history.people
        age = rng.choices(AGES, AGE_WEIGHTS)[0]
        age = min(max(age, self.rules.ages.minimum), self.rules.ages.maximum)
        birth = first_seen - timedelta(days=age * 365 + rng.randint(10, 350))
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        minor = needs_guardian(birth, first_seen, self.rules.ages)
        person = _Person(
            n=len(people) + 1,
            first=first,
            last=last,
            birth=birth,
            first_seen=first_seen,
            sessions_left=sessions,
            language=rng.choices(("en", "es"), (65, 35))[0],
            email=f"youth{len(people) + 1}@example.org" if rng.random() < 0.25 else None,
            guardian=f"{rng.choice(FIRST_NAMES)} {last}" if minor else None,
            referral=rng.choices(*zip(*REFERRALS, strict=True))[0],
            locations=rng.sample(DEMO_LOCATIONS, rng.randint(1, 2)),
            skin_type=rng.choices(*zip(*SKIN_TYPES, strict=True))[0],
            filler=filler,
        )
        people.append(person)
        return person

    def someone(self, day: date) -> _Person:
        """Who books a seat on ``day``: the youth most overdue for a session, else a new one."""
        return self.next_due(day) or self.new_person(day, self.rng.randint(*SESSIONS))

    def next_due(self, day: date) -> _Person | None:
        """The youth most overdue for a session on ``day`` who may still be treated, if any."""
        while self.due and self.due[0][0] <= day:
            due_on, n = heapq.heappop(self.due)
            person = self.history.people[n - 1]
            if day - due_on > LOST_AFTER:
                continue
            if eligibility(person.birth, day, self.rules.ages) is Eligibility.ELIGIBLE:
                return person
        return None

    def come_back(self, person: _Person, on: date) -> None:
        heapq.heappush(self.due, (on, person.n))

    def contact(self, person: _Person, at: datetime, day: date) -> None:
        """The youth was in touch at ``at`` (UTC) about ``day``: their record exists since."""
        if person.created is None or at < person.created:
            person.created = at
        if person.last_contact is None or day > person.last_contact:
            person.last_contact = day

    # --- Times ---------------------------------------------------------------------------

    def utc(self, day: date, moment: time) -> datetime:
        """A clinic wall-clock time as stored: UTC without a zone."""
        return naive_utc(datetime.combine(day, moment, tzinfo=self.rules.zone))

    def booked_at(self, day: date, least: int = 1, most: int = 40) -> datetime:
        """When a visit was booked: ``least`` to ``most`` days before it, never after
        yesterday (so never after the seed's "now")."""
        rng = self.rng
        on = min(day - timedelta(days=rng.randint(least, most)), self.today - timedelta(days=1))
        return self.utc(on, time(rng.randint(8, 21), rng.randint(0, 59)))

    def between(self, start: datetime, end: datetime) -> datetime:
        if end <= start:
            return start
        return start + timedelta(seconds=self.rng.randint(0, int((end - start).total_seconds())))

    # --- The days ------------------------------------------------------------------------

    def slot_row(self, day: date, plan: SlotPlan) -> int:
        self.history.slots.append(
            {
                "day": day,
                "start_time": plan.start,
                "end_time": plan.end,
                "capacity": plan.seats,
                "booked": 0,  # counted from the visits once all are played
            }
        )
        return len(self.history.slots) - 1

    def visit(
        self, person: _Person, slot: int, plan: SlotPlan, status: str, booked: datetime
    ) -> _Visit:
        visits = self.history.visits
        visit = _Visit(
            len(visits),
            person,
            slot,
            plan.day,
            plan.start,
            status,
            booked,
            returning=person.treated_before,
        )
        visits.append(visit)
        self.contact(person, booked, plan.day)
        return visit

    def past_day(self, plan: DayPlan, before: date | None) -> None:
        """A clinic day that ran: ``before`` is the clinic day before it (a move's origin)."""
        rng, day = self.rng, plan.day
        first = len(self.history.visits)
        standby_day = rng.random() < STANDBY_DAY
        freed: list[tuple[_Visit, datetime]] = []  # seats retaken after a cancellation
        free: list[tuple[int, SlotPlan]] = []  # seats still free on the day
        for slot_plan in day_slots(plan):
            slot = self.slot_row(day, slot_plan)
            for _ in range(slot_plan.seats):
                cancelled_at = None
                if rng.random() < CANCELLED:
                    cancelled_at = self.cancelled_booking(slot, slot_plan)
                if rng.random() >= PAST_FILL:
                    free.append((slot, slot_plan))
                    continue
                holder = self.booked_ahead(slot, slot_plan, before, cancelled_at)
                if cancelled_at is not None:
                    freed.append((holder, cancelled_at))
                if rng.random() < NO_SHOW:
                    self.no_show(holder)
                else:
                    self.treated(holder)
        for slot, slot_plan in free:
            if rng.random() < WALK_IN:
                self.walk_in(slot, slot_plan)
        if standby_day:
            self.standby(day, freed)
        self.hand_out_tickets(self.history.visits[first:])

    def booked_ahead(
        self, slot: int, plan: SlotPlan, before: date | None, after: datetime | None
    ) -> _Visit:
        """A seat booked ahead: by the youth due, or a new one (some invited from the waiting
        list); some moved there from another time. ``after``: the seat was freed by a
        cancellation then, and booked again after it."""
        rng = self.rng
        person = self.someone(plan.day)
        starts = self.utc(plan.day, plan.start)
        if after is not None:
            booked = after + timedelta(minutes=rng.randint(20, 48 * 60))
            booked = min(booked, starts - timedelta(hours=1), self.now)
            return self.visit(person, slot, plan, VisitStatus.BOOKED, booked)
        if rng.random() >= MOVED:
            visit = self.visit(person, slot, plan, VisitStatus.BOOKED, self.booked_at(plan.day))
            self.invited_from_waiting_list(visit)
            return visit
        # Booked for another time that day, or for the clinic day before, then moved here.
        origin_day = before if before is not None and rng.random() < 0.5 else plan.day
        opens = datetime.combine(origin_day, self.rules.day.start)
        slots = (datetime.combine(origin_day, self.rules.day.end) - opens) // timedelta(
            minutes=LARGE_SLOT_MINUTES
        )
        origin = opens + timedelta(minutes=LARGE_SLOT_MINUTES * rng.randrange(slots))
        booked = self.booked_at(origin_day, least=2)
        moved_at = self.between(booked, min(self.utc(origin_day, origin.time()), self.now))
        by = None if rng.random() < MOVED_BY_YOUTH else self.staff.desk
        visit = self.visit(person, slot, plan, VisitStatus.BOOKED, booked)
        if origin != datetime.combine(plan.day, plan.start):
            visit.moved = (origin, moved_at, by)
        self.invited_from_waiting_list(visit)
        return visit

    def invited_from_waiting_list(self, visit: _Visit) -> None:
        """A new youth's first seat came from the program's waiting list (some of them)."""
        rng, person = self.rng, visit.person
        if person.treated_before or person.created != visit.booked_at:
            return  # a returning youth, or one in touch before: they booked themselves
        if rng.random() >= WAITLIST_FIRST:
            return
        joined = visit.booked_at - timedelta(days=rng.randint(*WAITLIST_WAIT_DAYS))
        self.history.entries.append(
            _Entry(
                ListKind.PROGRAM,
                person,
                None,
                EntryStatus.BOOKED,
                joined_at=joined,
                closed_at=visit.booked_at,
                visit=visit.index,
            )
        )
        self.contact(person, joined, visit.day)
        if rng.random() < WAITLIST_GAVE_UP:
            self.gave_up(joined)

    def gave_up(self, around: datetime) -> None:
        """Someone who joined the waiting list near ``around`` and left it, or whom the desk
        removed (they had been treated elsewhere, or could not be reached): never seen."""
        rng = self.rng
        joined = around + timedelta(days=rng.randint(-30, 30))
        joined = min(joined, self.utc(self.today - timedelta(days=2), time(12)))
        person = self.new_person(joined.date(), 0)
        closed = min(
            joined + timedelta(days=rng.randint(7, 120)),
            self.utc(self.today - timedelta(days=1), time(12)),
        )
        removed = rng.random() < 0.3
        self.history.entries.append(
            _Entry(
                ListKind.PROGRAM,
                person,
                None,
                EntryStatus.REMOVED if removed else EntryStatus.LEFT,
                joined_at=joined,
                closed_at=closed,
                closed_by=self.staff.desk if removed else None,
            )
        )
        self.contact(person, joined, closed.date())

    def cancelled_booking(self, slot: int, plan: SlotPlan) -> datetime:
        """A booking of this seat cancelled before the day, by the youth or the desk; the
        youth books another day. Returns when the seat was freed."""
        rng = self.rng
        person = self.someone(plan.day)
        visit = self.visit(person, slot, plan, VisitStatus.CANCELLED, self.booked_at(plan.day, 3))
        starts = self.utc(plan.day, plan.start)
        visit.cancelled_at = self.between(
            visit.booked_at, min(starts - timedelta(hours=3), self.now)
        )
        visit.cancelled_by = None if rng.random() < CANCELLED_BY_YOUTH else self.staff.desk
        self.come_back(person, plan.day + timedelta(days=rng.randint(7, 35)))
        return visit.cancelled_at

    def no_show(self, visit: _Visit) -> None:
        visit.status = VisitStatus.NO_SHOW
        starts = datetime.combine(visit.day, visit.start)
        late = starts + self.rules.no_show_grace + timedelta(minutes=self.rng.randint(0, 40))
        visit.no_show_at = self.utc(visit.day, late.time())
        if self.rng.random() < 0.6:  # most book again
            self.come_back(visit.person, visit.day + timedelta(days=self.rng.randint(14, 42)))

    def treated(self, visit: _Visit, arrived: datetime | None = None) -> None:
        """The youth came and was treated: a session of their course."""
        rng, person, day = self.rng, visit.person, visit.day
        starts = datetime.combine(day, visit.start)
        if arrived is None:
            arrived = starts + timedelta(minutes=rng.randint(-20, 10))
        called = max(arrived, starts) + timedelta(minutes=rng.randint(2, 25))
        done = called + timedelta(minutes=rng.randint(10, 25))
        visit.status = VisitStatus.COMPLETED
        visit.arrived_at = self.utc(day, arrived.time())
        visit.called_at = self.utc(day, called.time())
        visit.completed_at = self.utc(day, done.time())
        visit.station = rng.choice(self.rules.stations)
        if needs_guardian(person.birth, day, self.rules.ages):
            exempt = rng.random() < CONSENT_EXEMPT
            visit.consent = Consent.EXEMPT if exempt else Consent.CONFIRMED
        person.sessions_done += 1
        person.sessions_left -= 1
        person.treated_before = True
        visit.session_number = person.sessions_done
        if person.sessions_left > 0 and rng.random() > DROP_OUT:
            self.come_back(person, day + timedelta(weeks=rng.randint(*WEEKS_APART)))

    def walk_in(self, slot: int, plan: SlotPlan) -> None:
        """A youth who came without an appointment and took a seat still free."""
        arrived = datetime.combine(plan.day, plan.start) + timedelta(
            minutes=self.rng.randint(-25, 10)
        )
        person = self.someone(plan.day)
        at = self.utc(plan.day, arrived.time())
        visit = self.visit(person, slot, plan, VisitStatus.BOOKED, at)
        visit.walk_in = True
        self.treated(visit, arrived)

    def standby(self, day: date, freed: list[tuple[_Visit, datetime]]) -> None:
        """The day filled up: youth joined its standby list. Most seats a cancellation freed
        went to them (an offer, claimed); the others' places closed when the day passed, or
        they left the list; they book another day."""
        rng, entries = self.rng, self.history.entries
        for visit, freed_at in freed:
            if rng.random() >= STANDBY_SEATED or visit.walk_in:
                continue
            joined = self.between(freed_at - timedelta(days=20), freed_at)
            entries.append(
                _Entry(
                    ListKind.STANDBY,
                    visit.person,
                    day,
                    EntryStatus.BOOKED,
                    joined_at=joined,
                    closed_at=visit.booked_at,
                    visit=visit.index,
                )
            )
            self.contact(visit.person, joined, day)
        day_end = self.utc(day, self.rules.day.end)
        for _ in range(rng.randint(*STANDBY_EXTRA)):
            person = self.someone(day)
            joined = self.booked_at(day, 1, 20)
            left = rng.random() < 0.2
            entries.append(
                _Entry(
                    ListKind.STANDBY,
                    person,
                    day,
                    EntryStatus.LEFT if left else EntryStatus.CLOSED,
                    joined_at=joined,
                    closed_at=self.between(joined, day_end) if left else day_end,
                )
            )
            self.contact(person, joined, day)
            self.come_back(person, day + timedelta(days=1))

    @staticmethod
    def hand_out_tickets(visits: Sequence[_Visit]) -> None:
        """The day's tickets, in the order the youth arrived."""
        arrived = sorted(
            (v for v in visits if v.arrived_at is not None), key=lambda v: (v.arrived_at, v.index)
        )
        for number, visit in enumerate(arrived, start=1):
            visit.ticket = number

    def closed_day(self, day: date, slot_plans: Sequence[SlotPlan], closed_at: datetime) -> None:
        """A clinic day staff cancelled: the bookings made by then were cancelled by the admin
        (the schedule's cancellation), and their youth book another day."""
        rng = self.rng
        for slot_plan in slot_plans:
            slot = self.slot_row(day, slot_plan)
            for _ in range(slot_plan.seats):
                if rng.random() >= 0.6:
                    continue
                person = self.someone(day)
                booked = self.booked_at(day, 15, 40)
                visit = self.visit(person, slot, slot_plan, VisitStatus.CANCELLED, booked)
                visit.cancelled_at = max(closed_at, booked + timedelta(minutes=5))
                visit.cancelled_by = self.staff.admin
                visit.cancel_action = SCHEDULE_CANCEL
                self.come_back(person, day + timedelta(days=rng.randint(7, 21)))

    def upcoming_day(self, plan: DayPlan, before: date | None, full: bool) -> None:
        """A day still ahead: booked, thinning out towards the end of the booking window; a
        youth holds at most one upcoming appointment, as booking enforces."""
        rng, day = self.rng, plan.day
        days_ahead = (day - self.today).days
        fill = 1.0 if full else 0.85 * (1 - days_ahead / (LARGE_DAYS_AHEAD + 10))
        fill = fill if full else fill + rng.uniform(-0.1, 0.1)
        for slot_plan in day_slots(plan):
            slot = self.slot_row(day, slot_plan)
            for _ in range(slot_plan.seats):
                if rng.random() < CANCELLED / 2:
                    self.cancelled_booking(slot, slot_plan)
                if rng.random() < fill:
                    self.booked_ahead(slot, slot_plan, before, None)
        if full:
            # The next clinic day is full: youth wait on its standby list now.
            for _ in range(rng.randint(3, 6)):
                person = self.new_person(self.today - timedelta(days=1), rng.randint(*SESSIONS))
                joined = self.booked_at(self.today, 1, 6)
                self.history.entries.append(
                    _Entry(ListKind.STANDBY, person, day, EntryStatus.WAITING, joined_at=joined)
                )
                self.contact(person, joined, day)
                person.waiting = True

    def waiting_now(self) -> None:
        """The program's waiting list today: joined over the last months, still waiting."""
        rng = self.rng
        for _ in range(WAITING_NOW):
            joined = self.booked_at(self.today, 1, 150)
            person = self.new_person(joined.date(), rng.randint(*SESSIONS))
            self.history.entries.append(
                _Entry(ListKind.PROGRAM, person, None, EntryStatus.WAITING, joined_at=joined)
            )
            self.contact(person, joined, joined.date())
            person.waiting = True


# --- Playing and writing ---------------------------------------------------------------------


def seed_large(
    rng: random.Random, rules: ClinicRules, today: date, years: int = LARGE_YEARS
) -> None:
    """Play ``years`` of the clinic forward, day by day, then write it with bulk inserts, and
    erase the youth the retention purge (or their own request) would have by now."""
    if years < 1:
        raise click.BadParameter("at least one year", param_hint="--years")
    start = today - timedelta(days=years * 365)
    end = today + timedelta(days=LARGE_DAYS_AHEAD)
    staff = _staff()
    clinic = _Clinic(rng, rules, today, staff)
    closed = _set_the_days(rng, rules, start, end, today)
    plans = booking.day_plans(start, end, rules)
    steps = len(plans) + len(closed) + WRITE_STEPS + PURGE_MONTHS + 1
    with click.progressbar(length=steps, label="Seeding the clinic's history") as bar:
        history = _play(clinic, plans, closed, bar.update)
        youth_ids = _write(rng, history, rules, staff, bar.update)
        erased = _erase(rng, history, youth_ids, rules, today, bar.update)
    _analyze()
    click.echo(
        f"Demo clinic loaded: {len(history.people)} youth, {len(history.visits)} appointments, "
        f"{len(plans)} clinic days, {erased} records erased. "
        f"Staff sign-in: {DEMO_STAFF[1][0]} (and admin@, clinician@) / {DEMO_PASSWORD}"
    )


def _analyze() -> None:
    """PostgreSQL: refresh the planner's statistics after the bulk load, as its autovacuum
    would within a minute or so in production. Until then the planner believes the tables
    hold a handful of rows and picks nested loops over thousands: a year's report took 230
    ms instead of 90. SQLite is left as a real clinic's file would be: it keeps no
    statistics unless someone runs ANALYZE, and plans well without them here."""
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def _staff() -> _Staff:
    ids = dict(db.session.execute(select(StaffUser.email, StaffUser.id)).all())
    admin, desk, clinician = (ids[email] for email, _name, _role in DEMO_STAFF)
    return _Staff(admin=admin, desk=desk, clinician=clinician)


def _set_the_days(
    rng: random.Random, rules: ClinicRules, start: date, end: date, today: date
) -> dict[date, tuple[list[SlotPlan], date]]:
    """Give each clinic day of the range its 40 seats (a ``ClinicDay`` row, as staff set a
    day's slots and seats), and close a few past ones. Days staff changed already (the demo's
    upcoming closure) stay as they are. Returns the closed days: their slots as they would
    have run, and the date they were closed on."""
    changed = set(
        db.session.scalars(select(ClinicDay.day).where(ClinicDay.day.between(start, end)))
    )
    regular = [day for day in clinic_days(start, end) if day not in changed]
    # Not the last weeks' days: bench/run.py shows the latest past day, a full one.
    past = [day for day in regular if day < today - timedelta(days=45)]
    years = max(round((today - start).days / 365), 1)
    to_close = set(rng.sample(past, min(CLOSED_PER_YEAR * years, len(past))))
    shape = {"slot_minutes": LARGE_SLOT_MINUTES, "seats": LARGE_SEATS_PER_SLOT}
    rows, closed = [], {}
    for day in regular:
        # A closed day keeps its shape too: reopened, it runs as the others do.
        shut = day in to_close
        note = rng.choice(CLOSURE_NOTES) if shut else None
        rows.append({"day": day, "closed": shut, "note": note, **shape})
        if shut:
            plan = DayPlan(day, rules.day.start, rules.day.end, **shape)
            closed[day] = (day_slots(plan), day - timedelta(days=rng.randint(3, 14)))
    if rows:
        db.session.execute(insert(ClinicDay), rows)
    return closed


def _play(
    clinic: _Clinic,
    plans: list[DayPlan],
    closed: dict[date, tuple[list[SlotPlan], date]],
    step: Callable[[int], None],
) -> _History:
    rng, today = clinic.rng, clinic.today
    start = min([*(plan.day for plan in plans), *closed], default=today)
    for _ in range(LARGE_MID_TREATMENT):
        # Their earlier sessions predate the records: returning, with none on file.
        person = clinic.new_person(start - timedelta(days=rng.randint(60, 400)), rng.randint(1, 8))
        person.treated_before = True
        clinic.contact(person, clinic.utc(person.first_seen, time(17)), person.first_seen)
        clinic.come_back(person, start + timedelta(days=rng.randint(0, 56)))

    days: list[tuple[date, DayPlan | None]] = sorted(
        [*((plan.day, plan) for plan in plans), *((day, None) for day in closed)],
        key=lambda item: item[0],
    )
    before: date | None = None  # the clinic day before: where a move may come from
    next_day = min((plan.day for plan in plans if plan.day >= today), default=None)
    for day, plan in days:
        if plan is None:
            slot_plans, closed_on = closed[day]
            clinic.closed_day(day, slot_plans, clinic.utc(closed_on, time(18)))
        elif day < today:
            clinic.past_day(plan, before)
            before = day
        else:
            clinic.upcoming_day(plan, before, full=day == next_day)
            before = day
        step(1)
    clinic.waiting_now()
    while len(clinic.history.people) < LARGE_YOUTH:
        first_seen = start - timedelta(days=rng.randint(1, 6 * 365))
        person = clinic.new_person(first_seen, 0, filler=True)
        clinic.contact(person, clinic.utc(first_seen, time(12)), first_seen)
    return clinic.history


def _count_seats(history: _History) -> None:
    """Each slot's counter: the visits holding one of its seats, as the database keeps it."""
    held = Counter(v.slot for v in history.visits if v.status in SEAT_HOLDING)
    for index, row in enumerate(history.slots):
        row["booked"] = held[index]
    # Slots where nobody ever booked are not stored: they exist only as the rule.
    used = {v.slot for v in history.visits}
    keep = sorted(used)
    renumber = {old: new for new, old in enumerate(keep)}
    history.slots = [history.slots[i] for i in keep]
    for visit in history.visits:
        visit.slot = renumber[visit.slot]


WRITE_STEPS = 7  # youth, slots, appointments, intakes, treatments, history, lists


def _insert(model: Any, rows: list[dict[str, Any]], *key: str) -> list[int]:
    """Plain multi-row INSERTs, then, given ``key`` (columns unique to each row), one SELECT
    that learns the new ids, returned in the rows' order. Far faster than a RETURNING, which
    with the columns' Python-side defaults (the blind indexes) comes to one INSERT per row."""
    if rows:
        db.session.execute(insert(model), rows)
    if not key:
        return []
    columns = [getattr(model, name) for name in key]
    found = {tuple(row[:-1]): row[-1] for row in db.session.execute(select(*columns, model.id))}
    return [found[tuple(row[name] for name in key)] for row in rows]


def _write(
    rng: random.Random,
    history: _History,
    rules: ClinicRules,
    staff: _Staff,
    step: Callable[[int], None],
) -> list[int]:
    """Write the history; returns the youth's ids, by person number (from 1)."""
    _count_seats(history)
    youth_ids = _insert(Youth, [_youth_row(p) for p in history.people], "identity_key")
    step(1)
    slot_ids = _insert(Slot, history.slots, "day", "start_time")
    step(1)
    codes: set[str] = set()
    appointment_ids = _insert(
        Appointment,
        [
            _appointment_row(visit, youth_ids, slot_ids, demo_code(rng, codes), staff)
            for visit in history.visits
        ],
        "code",
    )
    step(1)
    intakes = [_intake_row(rng, visit, rules) for visit in history.visits]
    for intake, id_ in zip(intakes, appointment_ids, strict=True):
        intake["appointment_id"] = id_
    _insert(Intake, intakes)
    step(1)
    _insert(
        Treatment,
        [
            _treatment_row(visit, appointment_ids[i], youth_ids, staff)
            for i, visit in enumerate(history.visits)
            if visit.status == VisitStatus.COMPLETED
        ],
    )
    step(1)
    changes = [
        change
        for i, visit in enumerate(history.visits)
        for change in _changes(visit, appointment_ids[i], staff)
    ]
    _insert(StatusChange, changes)
    step(1)
    _write_lists(rng, history, rules, youth_ids, appointment_ids, slot_ids)
    step(1)
    db.session.commit()  # the erasures below run in transactions of their own
    return youth_ids


def _write_lists(
    rng: random.Random,
    history: _History,
    rules: ClinicRules,
    youth_ids: list[int],
    appointment_ids: list[int],
    slot_ids: list[int],
) -> None:
    """The standby and waiting-list places, in the order they were joined (the lists' rank),
    and the offer each seated one claimed."""
    entries = sorted(history.entries, key=lambda e: e.joined_at)
    ranks: Counter[tuple[str, date | None]] = Counter()
    rows = []
    for entry in entries:
        ranks[entry.kind, entry.day] += 1
        if entry.visit is not None:
            # The answers the seat's intake then recorded: as on the day it was taken.
            entry.returning = history.visits[entry.visit].returning
        rows.append(_entry_row(rng, entry, ranks[entry.kind, entry.day], rules, youth_ids))
        if entry.visit is not None:
            rows[-1]["appointment_id"] = appointment_ids[entry.visit]
    entry_ids = _insert(ListEntry, rows, "submission_key")
    offers = []
    for entry, entry_id in zip(entries, entry_ids, strict=True):
        if entry.visit is None or entry.closed_at is None:
            continue
        visit = history.visits[entry.visit]
        offered = max(entry.closed_at - timedelta(minutes=rng.randint(10, 600)), entry.joined_at)
        hold = rules.offers.hold
        offers.append(
            {
                "entry_id": entry_id,
                "slot_id": slot_ids[visit.slot],
                "status": OfferStatus.CLAIMED,
                "offered_at": offered,
                "expires_at": offered + hold,
                "answered_at": entry.closed_at,
                "appointment_id": appointment_ids[entry.visit],
            }
        )
    _insert(SeatOffer, offers)


def _erase(
    rng: random.Random,
    history: _History,
    youth_ids: list[int],
    rules: ClinicRules,
    today: date,
    step: Callable[[int], None],
) -> int:
    """Erase, through ``clinic.records.privacy``, whom the clinic would have by now: the
    monthly retention purge of the last ``PURGE_MONTHS`` months (no contact for
    ``RETENTION_YEARS``), and a few youth treated who asked. Returns how many records are
    erased."""
    years = current_app.config["RETENTION_YEARS"]
    known = [
        (person, youth_ids[person.n - 1])
        for person in history.people
        if not person.filler and not person.waiting and person.last_contact is not None
    ]
    erased: set[int] = set()
    for months_ago in range(PURGE_MONTHS, 0, -1):
        run_on = _months_before(today, months_ago)
        cutoff = privacy.retention_cutoff(run_on, years)
        # The purge checks each again (``privacy._due``): it erases no one it would not.
        due = [
            id_
            for person, id_ in known
            if id_ not in erased
            and person.last_contact < cutoff
            and (person.created or datetime.max) < datetime.combine(cutoff, time())
        ]
        if due:
            privacy.purge(cutoff, datetime.combine(run_on, time(3), tzinfo=rules.zone), due=due)
            erased.update(due)
        step(1)
    admin = db.session.scalar(select(StaffUser).where(StaffUser.email == DEMO_STAFF[0][0]))
    asked = [
        (person, id_)
        for person, id_ in known
        if id_ not in erased and person.sessions_done and person.last_contact < today
    ]
    for person, id_ in rng.sample(asked, round(len(asked) * ERASED_ON_REQUEST)):
        on = min(
            person.last_contact + timedelta(days=rng.randint(1, 60)), today - timedelta(days=1)
        )
        db.session.commit()  # each erasure is its own write transaction
        privacy.erase_on_request(
            id_, admin, rules, datetime.combine(on, time(11), tzinfo=rules.zone)
        )
    step(1)
    return db.session.scalar(
        select(func.count()).select_from(Youth).where(Youth.purged_at.is_not(None))
    )


def _months_before(day: date, months: int) -> date:
    month = day.month - months
    year = day.year + (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


# --- Rows ------------------------------------------------------------------------------------


def _identity_key(person: _Person) -> str:
    return Youth.make_identity_key(person.first, f"{person.last} {person.n}", person.birth)


def _youth_row(person: _Person) -> dict[str, Any]:
    n = person.n
    created = person.created or datetime.combine(person.first_seen, time(12))
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
        "created_at": created,
        "updated_at": created,
    }


def _appointment_row(
    visit: _Visit, youth_ids: list[int], slot_ids: list[int], code: str, staff: _Staff
) -> dict[str, Any]:
    return {
        "code": code,
        "youth_id": youth_ids[visit.person.n - 1],
        "slot_id": slot_ids[visit.slot],
        "status": visit.status,
        "submission_key": None,
        "created_at": visit.booked_at,
        "cancelled_at": visit.cancelled_at,
        "cancelled_by_id": visit.cancelled_by,
        "walk_in": visit.walk_in,
        "ticket": visit.ticket,
        "arrived_at": visit.arrived_at,
        "called_at": visit.called_at,
        "station": visit.station,
        "station_day": visit.day if visit.station else None,
        "completed_at": visit.completed_at,
        "consent": visit.consent,
        # A minor's consent is recorded by the desk at check-in.
        "consent_by_id": staff.desk if visit.consent else None,
        "consent_at": visit.arrived_at if visit.consent else None,
    }


def _treatment_row(
    visit: _Visit, appointment_id: int, youth_ids: list[int], staff: _Staff
) -> dict[str, Any]:
    return {
        "appointment_id": appointment_id,
        "youth_id": youth_ids[visit.person.n - 1],
        "day": visit.day,
        "session_number": visit.session_number,
        "areas": list(visit.person.locations),
        "skin_type": visit.person.skin_type,
        "settings": "1064 nm, 3.5 J/cm², 4 mm",
        "notes": "Demo note: mild frosting, aftercare explained.",
        "clinician_id": staff.clinician,
        "station": visit.station,
        "created_at": visit.completed_at,
    }


def _changes(visit: _Visit, appointment_id: int, staff: _Staff) -> list[dict[str, Any]]:
    """The visit's history, as the app writes it: a move, then the day's steps or the
    cancellation."""
    rows: list[dict[str, Any]] = []

    def change(
        action: str,
        old: str,
        new: str,
        at: datetime | None,
        by: int | None,
        detail: dict[str, str] | None = None,
    ) -> None:
        rows.append(
            {
                "appointment_id": appointment_id,
                "action": action,
                "from_status": old,
                "to_status": new,
                "staff_id": by,
                "actor": Actor.STAFF if by is not None else Actor.YOUTH,
                "detail": detail,
                "at": at,
            }
        )

    booked, checked_in = VisitStatus.BOOKED.value, VisitStatus.CHECKED_IN.value
    if visit.moved is not None:
        old, at, by = visit.moved
        detail = {"from": _minutes(old), "to": _minutes(datetime.combine(visit.day, visit.start))}
        change(RESCHEDULE, booked, booked, at, by, detail=detail)
    if visit.status == VisitStatus.CANCELLED:
        change(visit.cancel_action, booked, visit.status, visit.cancelled_at, visit.cancelled_by)
    elif visit.status == VisitStatus.NO_SHOW:
        change(VisitAction.NO_SHOW, booked, visit.status, visit.no_show_at, staff.desk)
    elif visit.status == VisitStatus.COMPLETED:
        arriving = "walk_in" if visit.walk_in else VisitAction.CHECK_IN
        change(arriving, booked, checked_in, visit.arrived_at, staff.desk)
        in_treatment = VisitStatus.IN_TREATMENT.value
        change(VisitAction.CALL, checked_in, in_treatment, visit.called_at, staff.clinician)
        change(
            VisitAction.COMPLETE, in_treatment, visit.status, visit.completed_at, staff.clinician
        )
    return rows


def _minutes(moment: datetime) -> str:
    """'2026-12-22T16:00', as the history's detail records a time."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def _intake_row(rng: random.Random, visit: _Visit, rules: ClinicRules) -> dict[str, Any]:
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
        **_answers(rng, person, visit.returning),
        "created_at": visit.booked_at,
    }


def _answers(rng: random.Random, person: _Person, returning: bool) -> dict[str, Any]:
    """The intake's answers (what a list entry keeps too: ``booking.seats.INTAKE_ANSWERS``)."""
    return {
        "tattoo_count": len(person.locations) + rng.randint(0, 1),
        "tattoo_locations": list(person.locations),
        "tattoo_size": rng.choice(["small", "medium", "large"]),
        "tattoo_colors": rng.choice(["black", "some_color", "color"]),
        "tattoo_kind": rng.choice(["amateur", "professional", "unsure"]),
        "tattoo_age_years": rng.choice([None, rng.randint(1, 10)]),
        "previous_removal": returning,
        "tattoo_notes": None,
        "screening": ["tan"] if rng.random() < 0.1 else [],
        "referral_source": person.referral,
    }


def _entry_row(
    rng: random.Random,
    entry: _Entry,
    rank: int,
    rules: ClinicRules,
    youth_ids: list[int],
) -> dict[str, Any]:
    person, n = entry.person, entry.person.n
    on = entry.day or entry.joined_at.date()
    minor = person.guardian is not None and needs_guardian(person.birth, on, rules.ages)
    standby = entry.kind == ListKind.STANDBY
    rules_order = rules.offers.priority_rules
    return {
        "kind": entry.kind,
        "youth_id": youth_ids[n - 1],
        "day": entry.day,
        "status": entry.status,
        "priority": 0 if standby else priority(person.locations, person.referral, rules_order),
        "rank": rank,
        "answers": _answers(rng, person, entry.returning),
        # The joining form's key, as the app keeps it (and here what learns the entry's id).
        "submission_key": f"{rng.getrandbits(128):032x}",
        "joined_at": entry.joined_at,
        "closed_at": entry.closed_at,
        "closed_by_id": entry.closed_by,
        "appointment_id": None,
        "phone": f"+1415555{n % 10000:04d}",
        "email": person.email,
        "language": person.language,
        "guardian_name": person.guardian if minor else None,
        "guardian_relationship": "parent" if minor else None,
        "guardian_phone": f"+1415556{n % 10000:04d}" if minor else None,
    }
