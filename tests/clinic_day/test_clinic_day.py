"""Running a clinic day from the dashboard: check-in, the queue, treatment, no-shows, cancel,
undo and walk-ins, through the Flask test client as each role would."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time

import pytest
from sqlalchemy import func, select

from clinic import clinic_day, settings
from clinic.extensions import db
from clinic.models import Appointment, Slot, StaffRole, StatusChange, Treatment
from tests.conftest import LA, NEXT_DAY, PASSWORD, intake_data, intake_url
from tests.conftest import sign_in as form_sign_in

DAY = NEXT_DAY.isoformat()


def at(hour: int, minute: int = 0, day: date = NEXT_DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), LA)


def book(client, start="16:00", **overrides) -> Appointment:
    """A youth books online (before the day), in English."""
    n = db.session.scalar(select(func.count()).select_from(Appointment))
    data = intake_data(slot_time=start, submission_key=f"key{n:03d}" + "k" * 26, **overrides)
    response = client.post(intake_url(start=time.fromisoformat(start)), data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return db.session.scalars(select(Appointment).order_by(Appointment.id.desc())).first()


# What every treatment must record, besides its session number.
TREATED = {"areas": ["hands"], "skin_type": "IV", "settings": "1064 nm, 3.5 J/cm2, 4 mm"}

MINOR = {
    "first_name": "Luis",
    "last_name": "Reyes",
    "date_of_birth": "2010-01-10",
    "guardian_name": "Marta Reyes",
    "guardian_relationship": "parent",
    "guardian_phone": "4155550111",
}


@pytest.fixture
def day(app, client, clock, make_staff):
    """Three bookings on the next clinic day, then the clock moves to its 16:05."""
    client.post("/language", data={"lang": "en", "next": "/"})
    adult = book(client)
    minor = book(client, **MINOR)
    later = book(client, start="17:00", first_name="Maya", last_name="Chen")
    clock.set(at(16, 5))
    staff = {role: make_staff(role) for role in StaffRole}
    return {"adult": adult.id, "minor": minor.id, "later": later.id, "staff": staff}


@pytest.fixture
def as_role(app, client):
    """Sign the test client in as the day's staff member of ``role``."""

    def sign_in(role: StaffRole, day_fixture) -> None:
        client.post("/auth/logout")
        user = day_fixture["staff"][role]
        response = form_sign_in(client, user.email, PASSWORD)
        assert response.status_code == 303
        client.post("/language", data={"lang": "en", "next": "/"})

    return sign_in


def status_of(appointment_id: int) -> str:
    return db.session.scalar(select(Appointment.status).where(Appointment.id == appointment_id))


def post(client, url, **form):
    response = client.post(url, data={"day": DAY, **form})
    assert response.status_code in (303, 302), (url, response.status_code)
    return client.get(response.headers["Location"]).get_data(as_text=True)


# --- Check-in -----------------------------------------------------------------------------


def test_front_desk_checks_in_an_adult_with_a_ticket(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    page = post(client, f"/staff/appointments/{day['adult']}/check-in")
    appointment = db.session.get(Appointment, day["adult"])
    assert appointment.status == "checked_in"
    assert appointment.ticket == 1
    assert appointment.arrived_at is not None
    assert appointment.consent is None  # an adult needs no guardian
    flash = page.split('class="flash')[1].split("</")[0]
    assert "Checked in: Ana F." in flash  # the youth, as the desk knows them
    assert "Flores" not in flash and appointment.code not in flash  # no full name, no code
    assert 'data-ticket="1"' in page  # in the waiting list
    change = db.session.scalars(select(StatusChange)).one()
    assert (change.action, change.from_status, change.to_status) == (
        "check_in",
        "booked",
        "checked_in",
    )
    assert change.staff_id == day["staff"][StaffRole.FRONT_DESK].id


def test_tickets_count_up_through_the_day(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['later']}/check-in")
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    assert db.session.get(Appointment, day["later"]).ticket == 1
    assert db.session.get(Appointment, day["adult"]).ticket == 2


def test_a_minor_checked_in_without_consent_cannot_be_called(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['minor']}/check-in", consent="missing")
    assert db.session.get(Appointment, day["minor"]).consent == "missing"

    as_role(StaffRole.CLINICIAN, day)
    page = post(client, f"/staff/appointments/{day['minor']}/call", station="Laser 1")
    assert "consent before treatment" in page
    assert status_of(day["minor"]) == "checked_in"
    page = post(client, f"/staff/day/{DAY}/call-next", station="Laser 1")
    assert "Nobody in the queue can be called right now." in page

    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['minor']}/consent", consent="confirmed")
    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/day/{DAY}/call-next", station="Laser 1")
    assert status_of(day["minor"]) == "in_treatment"


def test_checking_in_twice_or_on_another_day_is_refused(client, day, as_role, clock):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    page = post(client, f"/staff/appointments/{day['adult']}/check-in")
    assert "this appointment is now “Waiting”" in page
    assert db.session.get(Appointment, day["adult"]).ticket == 1

    clock.set(at(9, 0, date(2026, 11, 23)))  # the day before
    page = post(client, f"/staff/appointments/{day['later']}/check-in")
    assert "only be done on the day of the appointment" in page
    assert status_of(day["later"]) == "booked"


def test_a_cancelled_appointment_cannot_be_checked_in(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/cancel")
    page = post(client, f"/staff/appointments/{day['adult']}/check-in")
    assert "this appointment is now “Cancelled”" in page
    assert status_of(day["adult"]) == "cancelled"


# --- The queue and treatment --------------------------------------------------------------


def test_call_next_follows_appointment_time_then_arrival(client, day, as_role, clock):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['later']}/check-in")  # 17:00, arrives first
    clock.set(at(16, 10))
    post(client, f"/staff/appointments/{day['minor']}/check-in", consent="confirmed")
    post(client, f"/staff/appointments/{day['adult']}/check-in")  # 16:00, arrives last

    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/day/{DAY}/call-next", station="Laser 1")
    post(client, f"/staff/day/{DAY}/call-next", station="Laser 2")
    called = {
        a.id: a.station for a in db.session.scalars(select(Appointment)) if a.station is not None
    }
    # Both 16:00 youth before the 17:00 one who came earlier; among them, arrival order.
    assert called == {day["minor"]: "Laser 1", day["adult"]: "Laser 2"}
    assert status_of(day["later"]) == "checked_in"


def test_a_station_treats_one_youth_at_a_time(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    post(client, f"/staff/appointments/{day['later']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 1")
    page = post(client, f"/staff/appointments/{day['later']}/call", station="Laser 1")
    assert "Laser 1 is busy" in page
    assert status_of(day["later"]) == "checked_in"
    page = post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 2")
    assert "this appointment is now “In treatment”" in page
    page = post(client, f"/staff/appointments/{day['later']}/call", station="Laser 9")
    assert "Please choose one of the stations." in page


def test_clinician_completes_a_treatment_and_records_it(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 2")
    form_page = client.get(f"/staff/appointments/{day['adult']}/complete").get_data(True)
    assert 'value="1"' in form_page  # first session suggested
    assert "The tattooed skin is tanned or sunburned right now" in form_page  # the flag

    response = client.post(
        f"/staff/appointments/{day['adult']}/complete",
        data={
            "session_number": "1",
            "areas": ["hands"],
            "skin_type": "IV",
            "settings": "1064 nm, 3.5 J/cm2, 4 mm",
            "notes": "Mild frosting; aftercare explained.",
        },
    )
    assert response.status_code == 303
    treatment = db.session.scalars(select(Treatment)).one()
    assert (treatment.session_number, treatment.areas, treatment.station) == (
        1,
        ["hands"],
        "Laser 2",
    )
    assert treatment.clinician_id == day["staff"][StaffRole.CLINICIAN].id
    assert status_of(day["adult"]) == "completed"
    page = client.get(f"/staff/day/{DAY}").get_data(as_text=True)
    assert "Call next to Laser 2" in page or "Free" in page


def test_a_treatment_form_with_bad_input_is_explained_and_nothing_is_written(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 1")
    response = client.post(
        f"/staff/appointments/{day['adult']}/complete",
        data={"session_number": "0", "areas": [], "notes": "x" * 3000},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Please enter a number from 1 to 40." in page
    assert "Please tick at least one place." in page
    assert status_of(day["adult"]) == "in_treatment"
    assert db.session.scalar(select(func.count()).select_from(Treatment)) == 0


def test_completing_a_no_show_is_refused(client, day, as_role, clock):
    clock.set(at(16, 30))
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/no-show")
    as_role(StaffRole.CLINICIAN, day)
    response = client.post(
        f"/staff/appointments/{day['adult']}/complete",
        data={"session_number": "1", **TREATED},
        follow_redirects=True,
    )
    assert "this appointment is now “No-show”" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Treatment)) == 0


def test_session_numbers_continue_across_visits(app, client, day, as_role):
    earlier = clinic_day.TreatmentRecord(areas=["arms"])
    # Two earlier sessions of the same youth, recorded on earlier days.
    adult = db.session.get(Appointment, day["adult"])
    for n, when in enumerate((date(2026, 8, 25), date(2026, 10, 27)), start=1):
        db.session.add(
            Treatment(
                appointment_id=None or _past_appointment(adult.youth_id, when, n),
                youth_id=adult.youth_id,
                day=when,
                session_number=n,
                areas=earlier.areas,
                clinician_id=day["staff"][StaffRole.CLINICIAN].id,
            )
        )
    db.session.commit()
    as_role(StaffRole.CLINICIAN, day)
    page = client.get(f"/staff/day/{DAY}").get_data(as_text=True)
    assert "Session 3" in page and "First visit" in page


def _past_appointment(youth_id: int, when: date, n: int) -> int:
    slot = Slot(day=when, start_time=time(16), end_time=time(16, 20), capacity=2, booked=1)
    appointment = Appointment(code=f"PAST{n:02d}", youth_id=youth_id, slot=slot, status="completed")
    db.session.add(appointment)
    db.session.flush()
    return appointment.id


# --- No-shows and cancel -----------------------------------------------------------------


def test_no_shows_are_offered_after_the_grace_period(client, day, as_role, clock):
    as_role(StaffRole.FRONT_DESK, day)
    clock.set(at(16, 14))
    page = client.get(f"/staff/day/{DAY}").get_data(as_text=True)
    assert "Mark them as no-shows" not in page
    clock.set(at(16, 16))
    page = client.get(f"/staff/day/{DAY}").get_data(as_text=True)
    assert "2 booked youth have not arrived 15 minutes after their time" in page
    page = post(
        client,
        f"/staff/day/{DAY}/no-shows",
        appointment_id=[str(day["adult"]), str(day["minor"]), str(day["later"])],
    )
    assert "2 marked as no-shows." in page
    assert status_of(day["adult"]) == status_of(day["minor"]) == "no_show"
    assert status_of(day["later"]) == "booked"  # 17:00 is not late yet
    slot = db.session.scalar(select(Slot).where(Slot.start_time == time(16)))
    assert slot.booked == 0  # both seats free for walk-ins


def test_a_no_show_before_the_appointment_time_is_refused(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    page = post(client, f"/staff/appointments/{day['later']}/no-show")
    assert "Too early" in page
    assert status_of(day["later"]) == "booked"


def test_a_youth_who_leaves_the_queue_is_cancelled_and_frees_the_seat(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    post(client, f"/staff/appointments/{day['adult']}/cancel")
    assert status_of(day["adult"]) == "cancelled"
    assert db.session.scalar(select(Slot.booked).where(Slot.start_time == time(16))) == 1


# --- Undo --------------------------------------------------------------------------------


def test_undo_reverts_the_last_change_once(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    page = post(client, f"/staff/appointments/{day['adult']}/undo")
    assert "is “Booked” again" in page
    appointment = db.session.get(Appointment, day["adult"])
    assert (appointment.status, appointment.ticket, appointment.arrived_at) == (
        "booked",
        None,
        None,
    )
    page = post(client, f"/staff/appointments/{day['adult']}/undo")
    assert "There is nothing here to undo." in page


def test_undo_of_a_completion_removes_its_treatment(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 1")
    client.post(
        f"/staff/appointments/{day['adult']}/complete",
        data={"session_number": "1", **TREATED},
    )
    post(client, f"/staff/appointments/{day['adult']}/undo")
    assert status_of(day["adult"]) == "in_treatment"
    assert db.session.scalar(select(func.count()).select_from(Treatment)) == 0


def test_undo_needs_the_right_to_make_the_move(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    assert (
        client.post(f"/staff/appointments/{day['adult']}/undo", data={"day": DAY}).status_code
        == 403
    )
    assert status_of(day["adult"]) == "checked_in"
    post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 1")
    as_role(StaffRole.FRONT_DESK, day)
    assert (
        client.post(f"/staff/appointments/{day['adult']}/undo", data={"day": DAY}).status_code
        == 403
    )
    assert status_of(day["adult"]) == "in_treatment"


def test_undoing_a_no_show_takes_the_seat_back_only_if_free(client, day, as_role, clock):
    clock.set(at(16, 30))
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/no-show")
    post(client, f"/staff/appointments/{day['adult']}/undo")
    assert status_of(day["adult"]) == "booked"
    assert db.session.scalar(select(Slot.booked).where(Slot.start_time == time(16))) == 2

    post(client, f"/staff/appointments/{day['adult']}/no-show")
    clock.set(at(16, 10))  # a walk-in takes the freed 16:00 seat
    assert client.post("/staff/walk-in", data=walk_in_data()).status_code == 303
    clock.set(at(16, 30))
    page = post(client, f"/staff/appointments/{day['adult']}/undo")
    assert "Its seat has been given to someone else since." in page
    assert status_of(day["adult"]) == "no_show"


# --- Walk-ins ----------------------------------------------------------------------------


def walk_in_data(**overrides) -> dict:
    fields = {
        "first_name": "Destiny",
        "last_name": "Brown",
        "date_of_birth": "2004-03-03",
        # Not the booked youth's phone: a shared phone asks "is this the same youth?" first.
        "phone": "4155550177",
        "submission_key": "w" * 32,
        **overrides,
    }
    data = intake_data(**fields)
    data.pop("slot_time")
    return data


def test_a_walk_in_takes_the_next_free_seat_and_joins_the_queue(client, day, as_role, clock):
    clock.set(at(16, 25))  # the 16:00 slot is full and over; 16:20 is the current slot
    as_role(StaffRole.FRONT_DESK, day)
    form = client.get("/staff/walk-in").get_data(as_text=True)
    assert "seats left today" in form
    response = client.post("/staff/walk-in", data=walk_in_data())
    assert response.status_code == 303
    walk_in = db.session.scalars(select(Appointment).where(Appointment.walk_in)).one()
    assert walk_in.status == "checked_in" and walk_in.ticket == 1
    assert db.session.get(Slot, walk_in.slot_id).start_time == time(16, 20)
    # The same form sent again (a double tap) adds nobody.
    assert client.post("/staff/walk-in", data=walk_in_data()).status_code == 303
    assert db.session.scalar(select(func.count()).where(Appointment.walk_in)) == 1


@pytest.mark.parametrize(
    ("birth", "message"),
    [
        ("2014-01-01", "The clinic sees young people from age 13."),  # 12 on the day
        ("2000-11-24", "up to age 25 on the day of the appointment"),  # turns 26 today
    ],
)
def test_walk_ins_follow_the_age_rule(client, day, as_role, birth, message):
    as_role(StaffRole.FRONT_DESK, day)
    response = client.post("/staff/walk-in", data=walk_in_data(date_of_birth=birth))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).where(Appointment.walk_in)) == 0


def test_a_minor_walk_in_needs_a_guardian_and_records_consent(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    response = client.post("/staff/walk-in", data=walk_in_data(date_of_birth="2011-06-01"))
    assert response.status_code == 422
    assert "a parent or guardian must agree" in response.get_data(as_text=True)
    response = client.post(
        "/staff/walk-in",
        data=walk_in_data(
            date_of_birth="2011-06-01",
            guardian_name="Rosa Brown",
            guardian_relationship="parent",
            guardian_phone="4155550199",
            guardian_consent="confirmed",
        ),
    )
    assert response.status_code == 303
    walk_in = db.session.scalars(select(Appointment).where(Appointment.walk_in)).one()
    assert walk_in.consent == "confirmed"


def test_walk_ins_stop_when_every_seat_is_taken(client, day, as_role, clock, app):
    app.config["CLINIC_DAY_END"] = "16:40"  # two slots of two seats; 16:00 is fully booked
    clock.set(at(16, 5))
    as_role(StaffRole.FRONT_DESK, day)
    for n, name in enumerate(["Destiny", "Oscar"]):
        # Same birth date and last name: twins, the desk says, not one youth.
        data = walk_in_data(first_name=name, submission_key=f"{n}" * 32, same_youth="new")
        assert client.post("/staff/walk-in", data=data).status_code == 303
    response = client.post(
        "/staff/walk-in",
        data=walk_in_data(first_name="Iris", submission_key="v" * 32, same_youth="new"),
    )
    assert response.status_code == 422
    assert "Every seat left today is taken." in response.get_data(as_text=True)


def test_no_walk_ins_on_a_day_without_clinic(client, day, as_role, clock):
    clock.set(at(12, 0, date(2026, 11, 25)))
    as_role(StaffRole.FRONT_DESK, day)
    assert "There is no clinic today." in client.get("/staff/walk-in").get_data(as_text=True)
    response = client.post("/staff/walk-in", data=walk_in_data())
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).where(Appointment.walk_in)) == 0


def test_a_youth_with_a_booking_is_sent_to_check_in_instead(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    response = client.post(
        "/staff/walk-in",
        data=walk_in_data(first_name="Ana", last_name="Flores", date_of_birth="2007-05-01"),
    )
    assert response.status_code == 422
    assert "already has an upcoming appointment" in response.get_data(as_text=True)


# --- What each role sees -----------------------------------------------------------------


def test_screening_flags_are_for_clinicians_only(client, day, as_role):
    for role, sees in [
        (StaffRole.FRONT_DESK, False),
        (StaffRole.ADMIN, False),
        (StaffRole.CLINICIAN, True),
    ]:
        as_role(role, day)
        page = client.get(f"/staff/day/{DAY}").get_data(as_text=True)
        assert ("The tattooed skin is tanned or sunburned right now" in page) is sees, role
        assert ("Marta Reyes" in page) is (not sees), role  # the guardian: contact details


def test_the_queue_fragment_is_the_live_part_only(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    fragment = client.get(f"/staff/day/{DAY}/live")
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and 'data-ticket="1"' in body
    assert fragment.headers["Cache-Control"] == "no-store"


def test_the_waiting_room_screen_shows_numbers_never_names(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    post(client, f"/staff/appointments/{day['later']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 2")
    client.post("/auth/logout")
    screen = client.get("/now-serving").get_data(as_text=True)
    assert "Now serving" in screen and "Atendiendo" in screen
    assert "Laser 2" in screen
    board = client.get("/now-serving/board").get_data(as_text=True)
    assert '<span class="number">1</span>' in board  # at Laser 2
    assert "<strong>2</strong>" in board  # next
    for name in ("Ana", "Flores", "Maya", "Chen", "Luis"):
        assert name not in screen and name not in board


def test_the_service_refuses_roles_that_may_not_move(app, day):
    desk = day["staff"][StaffRole.FRONT_DESK]
    rules = settings.current_rules()
    from clinic.permissions import NotAllowed

    with pytest.raises(NotAllowed):
        clinic_day.call(day["adult"], desk, "Laser 1", at(16, 5), rules)
    with pytest.raises(NotAllowed):
        clinic_day.check_in(day["adult"], day["staff"][StaffRole.CLINICIAN], at(16, 5), rules)


# --- What undo, late completions and walk-ins may not do ----------------------------------


def test_undo_cannot_bring_a_booking_back_onto_a_closed_day(client, day, as_role, clock):
    from clinic.models import ClinicDay

    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['later']}/cancel")
    db.session.add(ClinicDay(day=NEXT_DAY, closed=True, note="Laser broken"))
    db.session.commit()
    page = post(client, f"/staff/appointments/{day['later']}/undo")
    assert "The schedule changed since" in page
    assert status_of(day["later"]) == "cancelled"


def test_undo_cannot_bring_a_no_show_back_into_a_blocked_time(client, day, as_role, clock):
    clock.set(at(16, 30))
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/no-show")
    db.session.execute(
        Slot.__table__.update().where(Slot.start_time == time(16)).values(blocked=True)
    )
    db.session.commit()
    page = post(client, f"/staff/appointments/{day['adult']}/undo")
    assert "Its seat has been given to someone else since." in page
    assert status_of(day["adult"]) == "no_show"


def test_undo_never_gives_a_youth_two_upcoming_appointments(client, day, as_role, clock):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['later']}/cancel")
    clock.set(at(9, 0, date(2026, 11, 20)))  # Maya books again online for December
    client.post("/auth/logout")
    response = client.post(
        intake_url(day=date(2026, 12, 22)),
        data=intake_data(first_name="Maya", last_name="Chen", submission_key="m" * 32),
    )
    assert response.status_code == 303
    clock.set(at(16, 10))
    as_role(StaffRole.FRONT_DESK, day)
    page = post(client, f"/staff/appointments/{day['later']}/undo")
    assert "has booked another appointment since" in page
    assert status_of(day["later"]) == "cancelled"


def test_a_forgotten_completion_can_be_recorded_the_next_day(client, day, as_role, clock):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    post(client, f"/staff/appointments/{day['later']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 1")
    clock.set(at(9, 0, date(2026, 11, 25)))
    response = client.post(
        f"/staff/appointments/{day['adult']}/complete",
        data={"session_number": "1", **TREATED},
    )
    assert response.status_code == 303
    assert status_of(day["adult"]) == "completed"
    assert db.session.scalar(select(Treatment.day)) == NEXT_DAY
    as_role(StaffRole.FRONT_DESK, day)  # and a youth who left unseen is closed, not stuck
    post(client, f"/staff/appointments/{day['later']}/cancel")
    assert status_of(day["later"]) == "cancelled"


def test_a_batch_of_no_shows_skips_one_who_arrives_meanwhile(app, day, monkeypatch, clock):
    clock.set(at(16, 30))
    desk = day["staff"][StaffRole.FRONT_DESK]
    real_move = clinic_day.moves.make_move

    def arrives_at_that_moment(current, action, actor, now, **values):
        if current.id == day["adult"]:
            raise clinic_day.ChangedMeanwhile()
        return real_move(current, action, actor, now, **values)

    monkeypatch.setattr(clinic_day.moves, "make_move", arrives_at_that_moment)
    done = clinic_day.mark_no_shows(
        [day["adult"], day["minor"]], desk, at(16, 30), settings.current_rules()
    )
    assert [moved.appointment_id for moved in done] == [day["minor"]]
    assert status_of(day["minor"]) == "no_show"
    assert status_of(day["adult"]) == "booked"


def test_a_youth_treated_today_cannot_come_back_as_a_walk_in(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 1")
    client.post(
        f"/staff/appointments/{day['adult']}/complete",
        data={"session_number": "1", **TREATED},
    )
    as_role(StaffRole.FRONT_DESK, day)
    response = client.post(
        "/staff/walk-in",
        data=walk_in_data(first_name="Ana", last_name="Flores", date_of_birth="2007-05-01"),
    )
    assert response.status_code == 422
    assert "Too soon after their last treatment" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).where(Appointment.walk_in)) == 0


def test_a_walk_in_form_reused_for_someone_else_is_refused(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    assert client.post("/staff/walk-in", data=walk_in_data()).status_code == 303
    response = client.post(
        "/staff/walk-in", data=walk_in_data(first_name="Oscar", same_youth="new")
    )
    assert response.status_code == 422
    assert "already used to add someone else" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).where(Appointment.walk_in)) == 1


@pytest.mark.parametrize("bad", ["²", "٣", "99999999999999999999", str(2**31), "-1", "0", " 1"])
def test_no_shows_ignore_ids_that_are_not_row_ids(client, day, as_role, clock, bad):
    """Regression: '²' passed str.isdigit() and then failed int(); a 20-digit id overflowed
    the database driver. Both answered 500; now they are ignored with the valid ones kept."""
    as_role(StaffRole.FRONT_DESK, day)
    clock.set(at(16, 16))
    response = client.post(
        f"/staff/day/{DAY}/no-shows", data={"appointment_id": [bad, str(day["adult"])]}
    )
    assert response.status_code == 303
    assert status_of(day["adult"]) == "no_show"
    assert status_of(day["minor"]) == "booked"


HUGE = "9" * 400  # beyond what a float holds: NumberRange compared it as one (OverflowError)


@pytest.mark.parametrize(
    "field", [{"tattoo_count": HUGE}, {"tattoo_age_years": HUGE}, {"tattoo_count": "٣"}]
)
def test_a_walk_in_with_an_impossible_number_is_explained(client, day, as_role, clock, field):
    """Regression (found by tests/app/test_fuzz.py): a 400-digit number of tattoos was a 500."""
    clock.set(at(16, 25))
    as_role(StaffRole.FRONT_DESK, day)
    count = db.session.scalar(select(func.count()).select_from(Appointment))
    response = client.post("/staff/walk-in", data=walk_in_data(**field))
    assert response.status_code == 422
    assert "Not a valid integer value." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == count


def test_a_treatment_with_an_impossible_session_number_is_explained(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    client.post(f"/staff/appointments/{day['adult']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    client.post(f"/staff/appointments/{day['adult']}/call", data={"station": "Laser 1"})
    response = client.post(
        f"/staff/appointments/{day['adult']}/complete",
        data={"session_number": HUGE, "areas": ["hands"]},
    )
    assert response.status_code == 422
    assert status_of(day["adult"]) == "in_treatment"


@pytest.mark.parametrize("move", ["call", "call-next"])
def test_a_station_name_of_any_length_is_refused_and_kept_out_of_the_cookie(
    client, day, as_role, move
):
    """Regression (found by tests/app/test_fuzz.py): the posted station was kept in the
    session, so 4,000 random characters made a cookie larger than browsers keep (werkzeug
    warns, and the tests turn the warning into an error)."""
    as_role(StaffRole.FRONT_DESK, day)
    client.post(f"/staff/appointments/{day['adult']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    url = (
        f"/staff/appointments/{day['adult']}/call"
        if move == "call"
        else f"/staff/day/{DAY}/call-next"
    )
    page = post(client, url, station=secrets.token_urlsafe(3000))
    assert "Please choose one of the stations." in page
    assert status_of(day["adult"]) == "checked_in"


def test_an_impossible_number_is_explained_in_spanish_too(client, day, as_role, clock):
    clock.set(at(16, 25))
    as_role(StaffRole.FRONT_DESK, day)
    client.post("/language", data={"lang": "es", "next": "/"})
    response = client.post("/staff/walk-in", data=walk_in_data(tattoo_count=HUGE))
    assert response.status_code == 422
    assert "No es un valor entero válido." in response.get_data(as_text=True)
