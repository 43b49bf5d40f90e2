"""A small clinic built by hand, row by row, for the reports' known-answer tests.

Two quarters of 2026: Q3 (July to September) is the report's period, Q2 (April to June) the
one before it. The clinic days are the last two Tuesdays of each month:

    Q2: Tue 21 and 28 April, 19 and 26 May, 23 and 30 June
    Q3: Tue 21 and 28 July, 18 and 25 August, 22 and 29 September

and staff changed some of them (``ClinicDay`` rows, the roster and a blocked slot), so the
seats offered differ from day to day. Every row is written through the ORM with the values
the app's own use cases would leave (a move's history entry, a cancellation's who and when,
an erasure's anonymous row as ``clinic.records.privacy`` leaves it), and nothing here calls
the code under test: the expected figures in ``test_figures_known.py`` are counted by hand
from the tables below.

The people (first names only; every last name is "Example"):

    who   born        lang  what happens (visits: day, time, status)
    Ana   2004-03-10  es    05-19 completed (first ever, referral court); 07-21 completed
                            (referral probation): returning in Q3
    Bea   2008-08-01  en    07-21 completed at 17 (consent confirmed, referral school);
                            09-29 completed at 18 (referral friend): turns 18 within Q3
    Cruz  2001-11-02  en    sessions 1-3 before Q2, 04-21 (4th, referral reentry) and 06-30
                            (5th, referral other) in Q2, 08-18 (6th) in Q3: finishes a course
    Dani  2010-09-15  es    07-28 no-show; 08-18 completed at 15 (consent confirmed, referral
                            court); erased since: birth date 2010-01-01, age_at_visit 15
    Eli   2012-06-30  es    08-18 walk-in completed at 14 (consent exempt, case_manager)
    Fer   2010-03-03  es    07-28 completed at 16, no consent on the visit (friend)
    Gus   2007-04-04  en    standby for 09-29 (joined 09-25, seated 09-27); 09-29 completed
                            at 19 (friend)
    Hana  2006-01-15  es    waiting list 07-05, seated 07-15 (10 days); 07-28 completed at 20
                            (job_program)
    Ivan  2003-02-20  en    waiting list 06-20, seated 07-20 (30 days); 08-18 completed at 23
                            (self)
    Jo    2009-05-05  en    waiting list 09-10, still waiting
    Kai   2005-05-05  en    waiting list 07-02, left it 08-01
    Lu    2006-06-06  es    waiting list 30 June 22:30 clinic time (1 July in UTC), removed
                            30 September 20:00 clinic time (1 October in UTC)
    Mia   2006-02-02  en    standby for 07-21, joined 06-30; the day passed (closed 07-22)
    Nia   2007-07-07  en    standby for 06-23, joined 06-20; the day passed (closed 06-24)
    Oli   2002-02-02  en    09-29 no-show
    Pat   2004-04-04  en    08-25 booked; the day was cancelled (by the admin, on 08-10)
    Quin  2003-03-03  en    07-21 booked; cancelled by the desk on 07-20
    Rae   2005-05-15  en    09-29 booked; cancelled from her link on 09-28
    Sam   2005-07-01  en    06-30 booked; moved from his link (on 06-25) to 07-28, completed
                            at 21 (self)
    Tess  2004-09-30  en    09-22 booked; moved by the desk (on 09-15) to 09-29, completed at
                            21, the day before she turns 22 (probation)
    Uma   2001-05-05  en    07-21 walk-in completed at 25 (other)
    Vic   2006-06-16  en    05-26 no-show
    Wes   2007-07-17  en    06-23 booked; cancelled from his link on 06-22
    Xio   2010-11-11  es    04-28 walk-in completed at 15 (consent confirmed, friend); erased
                            since: birth date 2010-01-01, age_at_visit 15
    Zoe   2004-12-12  en    waiting list 2026-02-10, removed by the desk 05-05

The days as planned (12 slots of 20 minutes from 16:00 to 20:00, 2 seats each, unless):

    05-19  one clinician on the roster: 1 seat a slot   -> 12 seats
    06-23  the admin set 3 seats a slot                  -> 36 seats
    07-28  closes at 19:00: 9 slots                      -> 18 seats
    08-25  cancelled (ClinicDay closed)                  ->  0 seats
    09-22  nobody booked or came (only the slot Tess moved away from, now empty)
    09-29  the 19:40 slot blocked                        -> 22 seats
"""

from __future__ import annotations

import itertools
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic.extensions import db
from clinic.models import (
    Actor,
    Appointment,
    ClinicDay,
    EntryStatus,
    Intake,
    ListEntry,
    ListKind,
    OfferStatus,
    RosterEntry,
    SeatOffer,
    Slot,
    StaffRole,
    StatusChange,
    Treatment,
    Youth,
)
from clinic.rules.eligibility import age_on
from clinic.rules.reports import Period, RangeKind
from clinic.rules.visits import SEAT_HOLDING, VisitStatus

LA = ZoneInfo("America/Los_Angeles")

Q2 = Period(date(2026, 4, 1), date(2026, 6, 30), RangeKind.QUARTER)
Q3 = Period(date(2026, 7, 1), date(2026, 9, 30), RangeKind.QUARTER)
# A week after Q3: every day of both quarters is over, so every visit not cancelled is due.
TODAY = date(2026, 10, 6)
COURSE_SESSIONS = 6

# Seats per slot where the plan is not the default 2 (the roster's and the admin's).
SEATS_PER_SLOT = {date(2026, 5, 19): 1, date(2026, 6, 23): 3}
DEFAULT_SEATS = 2
SLOT = timedelta(minutes=20)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    """The clinic's wall clock on ``day`` as the columns hold instants: naive UTC."""
    local = datetime.combine(day, time(hour, minute), LA)
    return local.astimezone(UTC).replace(tzinfo=None)


def after(day: date, start: time, minutes: int) -> datetime:
    """``minutes`` after a slot's start, as naive UTC."""
    return utc(day, start.hour, start.minute) + timedelta(minutes=minutes)


@dataclass
class SmallClinic:
    """The ids a test may need: staff and youth by first name."""

    admin_id: int
    desk_id: int
    clinician_id: int
    youth: dict[str, int] = field(default_factory=dict)


class Builder:
    """Writes the clinic's rows the way its use cases leave them (see the module docstring)."""

    def __init__(self, clinic: SmallClinic) -> None:
        self.clinic = clinic
        self.codes = itertools.count(1)
        self.sessions: Counter[int] = Counter()
        self.languages: dict[int, str] = {}

    # --- people ----------------------------------------------------------------------

    def youth(self, first: str, born: date, language: str = "en") -> int:
        last = "Example"
        minor_now = age_on(born, TODAY) < 18
        row = Youth(
            identity_key=Youth.make_identity_key(first, last, born),
            first_name=first,
            last_name=last,
            date_of_birth=born,
            search_name=Youth.make_search_name(first, last, None),
            phone=f"415555{len(self.clinic.youth):04d}",
            language=language,
            contact_by="sms",
        )
        if minor_now:
            row.guardian_name = f"Guardian of {first}"
            row.guardian_relationship = "parent"
            row.guardian_phone = f"415666{len(self.clinic.youth):04d}"
        db.session.add(row)
        db.session.flush()
        self.clinic.youth[first] = row.id
        self.languages[row.id] = language
        return row.id

    # --- slots and visits ------------------------------------------------------------

    def slot(self, day: date, start: time, *, blocked: bool = False) -> Slot:
        row = db.session.query(Slot).filter_by(day=day, start_time=start).one_or_none()
        if row is None:
            end = (datetime.combine(day, start) + SLOT).time()
            seats = SEATS_PER_SLOT.get(day, DEFAULT_SEATS)
            row = Slot(day=day, start_time=start, end_time=end, capacity=seats, blocked=blocked)
            row.booked = 0
            db.session.add(row)
            db.session.flush()
        return row

    def visit(
        self,
        first: str,
        day: date,
        start: time,
        status: VisitStatus,
        *,
        referral: str = "self",
        walk_in: bool = False,
        consent: str | None = None,
        booked_on: date | None = None,
    ) -> Appointment:
        """One visit with the intake its booking (or the desk's walk-in form) recorded, and
        for a completed one the treatment the clinician recorded."""
        youth_id = self.clinic.youth[first]
        slot = self.slot(day, start)
        if status in SEAT_HOLDING:
            slot.booked += 1
        created = (
            after(day, start, 0) if walk_in else utc(booked_on or day - timedelta(days=14), 11)
        )
        appointment = Appointment(
            code=f"RPT{next(self.codes):05d}",
            youth_id=youth_id,
            slot_id=slot.id,
            status=status,
            walk_in=walk_in,
            created_at=created,
        )
        came = status in (VisitStatus.CHECKED_IN, VisitStatus.IN_TREATMENT, VisitStatus.COMPLETED)
        if came:
            appointment.arrived_at = after(day, start, 0)
        if consent is not None:
            appointment.consent = consent
            appointment.consent_by_id = self.clinic.desk_id
            appointment.consent_at = after(day, start, 0)
        if status is VisitStatus.COMPLETED:
            appointment.called_at = after(day, start, 5)
            appointment.completed_at = after(day, start, 15)
        appointment.intake = Intake(
            language=self.languages[youth_id],
            phone="4155550000",
            tattoo_count=1,
            tattoo_locations=["hands"],
            tattoo_size="small",
            tattoo_colors="black",
            tattoo_kind="amateur",
            tattoo_age_years=3,
            screening=[],
            referral_source=referral,
        )
        db.session.add(appointment)
        db.session.flush()
        if walk_in:
            appointment.ticket = slot.booked
            self.change(appointment, "walk_in", VisitStatus.CHECKED_IN, created)
        if status is VisitStatus.COMPLETED:
            self.sessions[youth_id] += 1
            db.session.add(
                Treatment(
                    appointment_id=appointment.id,
                    youth_id=youth_id,
                    day=day,
                    session_number=self.sessions[youth_id],
                    areas=["hands"],
                    clinician_id=self.clinic.clinician_id,
                    station="Laser 1",
                )
            )
        elif status is VisitStatus.NO_SHOW:
            self.change(appointment, "no_show", status, after(day, start, 20))
        return appointment

    def change(
        self,
        appointment: Appointment,
        action: str,
        to_status: VisitStatus,
        at: datetime,
        *,
        by_youth: bool = False,
        staff_id: int | None = None,
        detail: dict[str, str] | None = None,
    ) -> None:
        db.session.add(
            StatusChange(
                appointment_id=appointment.id,
                action=action,
                from_status=VisitStatus.BOOKED.value,
                to_status=to_status.value,
                actor=Actor.YOUTH if by_youth else Actor.STAFF,
                staff_id=None if by_youth else (staff_id or self.clinic.desk_id),
                detail=detail,
                at=at,
            )
        )

    def cancel(
        self,
        appointment: Appointment,
        on: date,
        *,
        by_staff: int | None,
        action: str = "cancel",
    ) -> None:
        """Cancelled on ``on`` by a staff account, or (None) by the youth from their link,
        as ``clinic.booking.manage`` and ``clinic.schedule.strand`` record it."""
        appointment.cancelled_at = utc(on, 10)
        appointment.cancelled_by_id = by_staff
        self.change(
            appointment,
            action,
            VisitStatus.CANCELLED,
            utc(on, 10),
            by_youth=by_staff is None,
            staff_id=by_staff,
        )

    def move(
        self,
        appointment: Appointment,
        old_day: date,
        old_start: time,
        on: date,
        *,
        by_youth: bool,
    ) -> None:
        """The appointment was first at ``old_day`` ``old_start``; the move left that slot's
        row behind, empty, as ``clinic.booking.moves`` does."""
        self.slot(old_day, old_start)
        slot = db.session.get(Slot, appointment.slot_id)
        detail = {
            "from": datetime.combine(old_day, old_start).strftime("%Y-%m-%dT%H:%M"),
            "to": datetime.combine(slot.day, slot.start_time).strftime("%Y-%m-%dT%H:%M"),
        }
        self.change(
            appointment,
            "reschedule",
            VisitStatus.BOOKED,
            utc(on, 12),
            by_youth=by_youth,
            detail=detail,
        )

    # --- lists -----------------------------------------------------------------------

    def entry(
        self,
        first: str,
        kind: ListKind,
        joined_at: datetime,
        *,
        day: date | None = None,
        status: EntryStatus = EntryStatus.WAITING,
        closed_at: datetime | None = None,
        seat: Appointment | None = None,
    ) -> ListEntry:
        youth_id = self.clinic.youth[first]
        row = ListEntry(
            kind=kind,
            youth_id=youth_id,
            day=day,
            status=status,
            joined_at=joined_at,
            closed_at=closed_at,
            closed_by_id=self.clinic.desk_id if status is EntryStatus.REMOVED else None,
            appointment_id=seat.id if seat is not None else None,
            phone="4155550000",
            language=self.languages[youth_id],
            answers={"referral_source": "self"},
        )
        db.session.add(row)
        db.session.flush()
        if seat is not None:
            # The offer that seated them: made that morning, claimed at ``closed_at``.
            assert closed_at is not None
            db.session.add(
                SeatOffer(
                    entry_id=row.id,
                    slot_id=seat.slot_id,
                    status=OfferStatus.CLAIMED,
                    offered_at=closed_at - timedelta(hours=3),
                    expires_at=closed_at + timedelta(hours=21),
                    answered_at=closed_at,
                    appointment_id=seat.id,
                )
            )
        return row

    # --- erasure ---------------------------------------------------------------------

    def erase(self, first: str, at: datetime) -> None:
        """What ``clinic.records.privacy`` leaves of a youth erased on request: the age at
        each visit from the real birth date, then the birth date's year alone, the names and
        contact gone; language, referral, consent and the visits themselves stay."""
        youth = db.session.get(Youth, self.clinic.youth[first])
        appointments = db.session.query(Appointment).filter_by(youth_id=youth.id).all()
        for appointment in appointments:
            day = db.session.get(Slot, appointment.slot_id).day
            appointment.age_at_visit = age_on(youth.date_of_birth, day)
            intake = db.session.query(Intake).filter_by(appointment_id=appointment.id).one()
            intake.phone = intake.email = intake.contact_by = None
            intake.guardian_name = intake.guardian_relationship = intake.guardian_phone = None
            intake.tattoo_notes = None
            intake.screening = []
        for treatment in db.session.query(Treatment).filter_by(youth_id=youth.id):
            treatment.notes = treatment.settings = treatment.skin_type = None
        for entry in db.session.query(ListEntry).filter_by(youth_id=youth.id):
            entry.phone = entry.email = entry.contact_by = None
            entry.guardian_name = entry.guardian_relationship = entry.guardian_phone = None
            entry.answers = {}
        youth.first_name = "Erased"
        youth.last_name = f"#{youth.id}"
        youth.preferred_name = None
        youth.search_name = ""
        youth.identity_key = secrets.token_hex(32)
        youth.date_of_birth = date(youth.date_of_birth.year, 1, 1)
        youth.phone = youth.email = youth.contact_by = None
        youth.guardian_name = youth.guardian_relationship = youth.guardian_phone = None
        youth.purged_at = at
        youth.updated_at = at


T = time  # short alias for the slot times below
D = date
C, N, X = VisitStatus.COMPLETED, VisitStatus.NO_SHOW, VisitStatus.CANCELLED
B = VisitStatus.BOOKED


def build(clinic: SmallClinic) -> None:
    b = Builder(clinic)
    for first, born, language in [
        ("Ana", D(2004, 3, 10), "es"),
        ("Bea", D(2008, 8, 1), "en"),
        ("Cruz", D(2001, 11, 2), "en"),
        ("Dani", D(2010, 9, 15), "es"),
        ("Eli", D(2012, 6, 30), "es"),
        ("Fer", D(2010, 3, 3), "es"),
        ("Gus", D(2007, 4, 4), "en"),
        ("Hana", D(2006, 1, 15), "es"),
        ("Ivan", D(2003, 2, 20), "en"),
        ("Jo", D(2009, 5, 5), "en"),
        ("Kai", D(2005, 5, 5), "en"),
        ("Lu", D(2006, 6, 6), "es"),
        ("Mia", D(2006, 2, 2), "en"),
        ("Nia", D(2007, 7, 7), "en"),
        ("Oli", D(2002, 2, 2), "en"),
        ("Pat", D(2004, 4, 4), "en"),
        ("Quin", D(2003, 3, 3), "en"),
        ("Rae", D(2005, 5, 15), "en"),
        ("Sam", D(2005, 7, 1), "en"),
        ("Tess", D(2004, 9, 30), "en"),
        ("Uma", D(2001, 5, 5), "en"),
        ("Vic", D(2006, 6, 16), "en"),
        ("Wes", D(2007, 7, 17), "en"),
        ("Xio", D(2010, 11, 11), "es"),
        ("Zoe", D(2004, 12, 12), "en"),
    ]:
        b.youth(first, born, language)

    # The schedule as staff changed it.
    db.session.add_all(
        [
            RosterEntry(day=D(2026, 5, 19), staff_id=clinic.clinician_id),
            ClinicDay(day=D(2026, 6, 23), seats=3, note="A second laser on loan"),
            ClinicDay(day=D(2026, 7, 28), end_time=T(19, 0), note="Closes early"),
            ClinicDay(day=D(2026, 8, 25), closed=True, note="Staff training"),
        ]
    )
    b.slot(D(2026, 9, 29), T(19, 40), blocked=True)

    # Cruz's first three sessions, before either quarter.
    for day in (D(2025, 10, 21), D(2025, 12, 23), D(2026, 2, 24)):
        b.visit("Cruz", day, T(16, 0), C, referral="reentry")

    # --- Q2 ---------------------------------------------------------------------------
    b.visit("Cruz", D(2026, 4, 21), T(16, 0), C, referral="reentry")  # 4th session
    b.visit(
        "Xio", D(2026, 4, 28), T(16, 0), C, referral="friend", walk_in=True, consent="confirmed"
    )
    b.visit("Ana", D(2026, 5, 19), T(16, 0), C, referral="court")
    b.visit("Vic", D(2026, 5, 26), T(16, 0), N)
    wes = b.visit("Wes", D(2026, 6, 23), T(16, 0), X)
    b.cancel(wes, D(2026, 6, 22), by_staff=None)
    b.visit("Cruz", D(2026, 6, 30), T(16, 0), C, referral="other")  # 5th session

    # --- Q3 ---------------------------------------------------------------------------
    # 21 July
    b.visit("Ana", D(2026, 7, 21), T(16, 0), C, referral="probation")
    b.visit("Bea", D(2026, 7, 21), T(16, 0), C, referral="school", consent="confirmed")
    quin = b.visit("Quin", D(2026, 7, 21), T(16, 20), X)
    b.cancel(quin, D(2026, 7, 20), by_staff=clinic.desk_id)
    b.visit("Uma", D(2026, 7, 21), T(17, 0), C, referral="other", walk_in=True)
    # 28 July (closes at 19:00)
    b.visit("Dani", D(2026, 7, 28), T(16, 0), N)
    b.visit("Fer", D(2026, 7, 28), T(16, 0), C, referral="friend")
    hana = b.visit(
        "Hana", D(2026, 7, 28), T(16, 20), C, referral="job_program", booked_on=D(2026, 7, 15)
    )
    sam = b.visit("Sam", D(2026, 7, 28), T(16, 40), C, referral="self", booked_on=D(2026, 6, 1))
    b.move(sam, D(2026, 6, 30), T(16, 20), D(2026, 6, 25), by_youth=True)
    # 18 August
    b.visit("Cruz", D(2026, 8, 18), T(16, 0), C, referral="reentry")  # 6th session
    b.visit("Dani", D(2026, 8, 18), T(16, 20), C, referral="court", consent="confirmed")
    ivan = b.visit("Ivan", D(2026, 8, 18), T(16, 20), C, referral="self", booked_on=D(2026, 7, 20))
    b.visit(
        "Eli", D(2026, 8, 18), T(17, 0), C, referral="case_manager", walk_in=True, consent="exempt"
    )
    # 25 August: the admin cancelled the day on 10 August, and with it Pat's booking.
    pat = b.visit("Pat", D(2026, 8, 25), T(16, 0), X)
    b.cancel(pat, D(2026, 8, 10), by_staff=clinic.admin_id, action="schedule_cancel")
    # 22 September: nobody (Tess's booking was moved away from it).
    # 29 September (the 19:40 slot blocked)
    b.visit("Bea", D(2026, 9, 29), T(16, 0), C, referral="friend")  # 18 now: no consent needed
    gus = b.visit("Gus", D(2026, 9, 29), T(16, 20), C, referral="friend", booked_on=D(2026, 9, 27))
    b.visit("Oli", D(2026, 9, 29), T(16, 40), N)
    rae = b.visit("Rae", D(2026, 9, 29), T(17, 0), X)
    b.cancel(rae, D(2026, 9, 28), by_staff=None)
    tess = b.visit("Tess", D(2026, 9, 29), T(17, 20), C, referral="probation")
    b.move(tess, D(2026, 9, 22), T(17, 20), D(2026, 9, 15), by_youth=False)

    # --- The lists -----------------------------------------------------------------------
    program, standby = ListKind.PROGRAM, ListKind.STANDBY
    b.entry(
        "Zoe",
        program,
        utc(D(2026, 2, 10), 12),
        status=EntryStatus.REMOVED,
        closed_at=utc(D(2026, 5, 5), 12),
    )
    b.entry(
        "Ivan",
        program,
        utc(D(2026, 6, 20), 12),
        status=EntryStatus.BOOKED,
        closed_at=utc(D(2026, 7, 20), 12),
        seat=ivan,
    )
    # Joined late on 30 June in the clinic, already 1 July in UTC; removed late on
    # 30 September in the clinic, already 1 October in UTC.
    b.entry(
        "Lu",
        program,
        utc(D(2026, 6, 30), 22, 30),
        status=EntryStatus.REMOVED,
        closed_at=utc(D(2026, 9, 30), 20),
    )
    b.entry(
        "Kai",
        program,
        utc(D(2026, 7, 2), 12),
        status=EntryStatus.LEFT,
        closed_at=utc(D(2026, 8, 1), 12),
    )
    b.entry(
        "Hana",
        program,
        utc(D(2026, 7, 5), 12),
        status=EntryStatus.BOOKED,
        closed_at=utc(D(2026, 7, 15), 12),
        seat=hana,
    )
    b.entry("Jo", program, utc(D(2026, 9, 10), 12))
    b.entry(
        "Nia",
        standby,
        utc(D(2026, 6, 20), 12),
        day=D(2026, 6, 23),
        status=EntryStatus.CLOSED,
        closed_at=utc(D(2026, 6, 24), 2),
    )
    b.entry(
        "Mia",
        standby,
        utc(D(2026, 6, 30), 11),
        day=D(2026, 7, 21),
        status=EntryStatus.CLOSED,
        closed_at=utc(D(2026, 7, 22), 2),
    )
    b.entry(
        "Gus",
        standby,
        utc(D(2026, 9, 25), 12),
        day=D(2026, 9, 29),
        status=EntryStatus.BOOKED,
        closed_at=utc(D(2026, 9, 27), 12),
        seat=gus,
    )

    # Erased on request after Q3.
    b.erase("Dani", utc(D(2026, 10, 2), 10))
    b.erase("Xio", utc(D(2026, 10, 2), 10))
    db.session.commit()


@pytest.fixture
def small_clinic(app, make_staff) -> SmallClinic:
    """The small clinic of this module's docstring, committed."""
    admin = make_staff(StaffRole.ADMIN)
    desk = make_staff(StaffRole.FRONT_DESK)
    clinician = make_staff(StaffRole.CLINICIAN)
    clinic = SmallClinic(admin_id=admin.id, desk_id=desk.id, clinician_id=clinician.id)
    build(clinic)
    return clinic
