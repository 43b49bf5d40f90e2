"""The walk-in page as the desk meets it: today's seats before anything is typed, the few
answers that decide a seat first, somewhere to send the youth when the day is full, a
warning about records on file before saving, and a minor's consent always a choice."""

# ruff: noqa: F811 (the day's fixtures, shared with test_clinic_day, are parameters here)
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from clinic import booking, clinic_day, settings
from clinic.extensions import db
from clinic.models import Appointment, StaffRole, Youth
from tests.clinic_day.test_clinic_day import (  # noqa: F401 (fixtures)
    as_role,
    at,
    day,
    walk_in_data,
)

FIRST_STEP = ("first_name", "last_name", "date_of_birth", "phone")


def first_step(**overrides) -> dict:
    data = walk_in_data(**overrides)
    return {
        "step": "check",
        "submission_key": data["submission_key"],
        **{name: data[name] for name in FIRST_STEP if name in data},
    }


def walk_ins() -> int:
    return db.session.scalar(select(func.count()).where(Appointment.walk_in))


def test_the_page_shows_todays_seats_and_asks_the_deciding_answers_first(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    page = client.get("/staff/walk-in").get_data(as_text=True)
    seats = clinic_day.walk_in_seats(settings.current_rules(), at(16, 5))
    assert seats > 0
    assert f"{seats} seats left today." in page  # before anything is typed
    assert "First, who is at the desk" in page
    for name in FIRST_STEP:
        assert f'name="{name}' in page
    assert 'name="tattoo_count"' not in page and 'name="guardian_name"' not in page
    assert 'name="step" type="hidden" value="check"' in page


def test_an_adult_goes_on_to_the_rest_without_guardian_questions(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    response = client.post("/staff/walk-in", data=first_step())
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="tattoo_count"' in page and 'value="Destiny"' in page  # answers kept
    assert 'name="guardian_name"' not in page
    assert 'name="step" type="hidden" value="save"' in page


def test_a_minor_is_asked_for_the_guardian_and_consent(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    page = client.post("/staff/walk-in", data=first_step(date_of_birth="2011-06-01"))
    text = page.get_data(as_text=True)
    assert 'name="guardian_name"' in text and 'name="guardian_consent"' in text
    assert "a parent or guardian must agree" in text


@pytest.mark.parametrize(
    ("birth", "message"),
    [
        ("2014-01-01", "The clinic sees young people from age 13."),
        ("2000-11-24", "up to age 25 on the day of the appointment"),
    ],
)
def test_the_age_rule_answers_at_the_first_step(client, day, as_role, birth, message):
    as_role(StaffRole.FRONT_DESK, day)
    response = client.post("/staff/walk-in", data=first_step(date_of_birth=birth))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'name="tattoo_count"' not in page  # nothing more asked
    assert walk_ins() == 0


def test_a_first_step_with_gaps_is_explained_with_the_answers_kept(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    response = client.post("/staff/walk-in", data=first_step(first_name="", phone="12"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" in page and 'value="Brown"' in page
    assert 'name="tattoo_count"' not in page


def test_a_full_day_offers_the_standby_list_and_other_days_instead_of_the_form(
    client, day, as_role, app
):
    app.config["CLINIC_DAY_END"] = "16:20"  # one slot, booked full by the fixture
    as_role(StaffRole.FRONT_DESK, day)
    page = client.get("/staff/walk-in").get_data(as_text=True)
    assert "Every seat left today is taken." in page
    assert 'name="first_name"' not in page  # no form to fill in for nothing
    assert f'href="/staff/lists/{day_iso()}"' in page
    others = clinic_day.other_days(settings.current_rules(), at(16, 5))
    assert ("Book one of these days" in page) is bool(others)
    for open_day in others:
        assert f'datetime="{open_day.day.isoformat()}"' in page
    # A form sent anyway gets the same answer, and adds nobody.
    response = client.post("/staff/walk-in", data=walk_in_data())
    assert response.status_code == 422
    assert "Where the youth can go instead" in response.get_data(as_text=True)
    assert walk_ins() == 0


def day_iso() -> str:
    from tests.conftest import NEXT_DAY

    return NEXT_DAY.isoformat()


# --- Records on file -----------------------------------------------------------------------


@pytest.fixture
def on_file(app, day):
    """A youth on file with no appointment ahead: Desiree Brown, the walk-ins' phone."""
    request = booking.BookingRequest(
        day=at(16).date(),
        start=at(16).time(),
        submission_key="f" * 32,
        first_name="Desiree",
        last_name="Brown",
        date_of_birth=at(16).date().replace(year=2004, month=3, day=3),
        phone="+14155550177",
    )
    youth = booking.upsert_youth(request)
    db.session.commit()
    return youth.id


def test_a_look_alike_is_shown_before_saving_and_must_be_answered(client, day, as_role, on_file):
    as_role(StaffRole.FRONT_DESK, day)
    page = client.post("/staff/walk-in", data=first_step()).get_data(as_text=True)
    assert "Is this someone we already know?" in page
    assert f'value="{on_file}"' in page and "Use this youth:" in page
    assert "It is someone else" in page and "same phone" in page

    response = client.post("/staff/walk-in", data=walk_in_data())
    assert response.status_code == 422
    assert "Please say whether this is one of these youth, or someone else." in (
        response.get_data(as_text=True)
    )
    assert walk_ins() == 0


def test_use_this_youth_joins_the_visit_to_their_record(client, day, as_role, on_file):
    as_role(StaffRole.FRONT_DESK, day)
    youths = db.session.scalar(select(func.count()).select_from(Youth))
    response = client.post("/staff/walk-in", data=walk_in_data(same_youth=str(on_file)))
    assert response.status_code == 303
    walk_in = db.session.scalars(select(Appointment).where(Appointment.walk_in)).one()
    assert walk_in.youth_id == on_file
    assert db.session.scalar(select(func.count()).select_from(Youth)) == youths
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Walk-in added: Desiree B., ticket 1." in page  # the record's name


def test_someone_else_adds_a_new_record(client, day, as_role, on_file):
    as_role(StaffRole.FRONT_DESK, day)
    youths = db.session.scalar(select(func.count()).select_from(Youth))
    response = client.post("/staff/walk-in", data=walk_in_data(same_youth="new"))
    assert response.status_code == 303
    walk_in = db.session.scalars(select(Appointment).where(Appointment.walk_in)).one()
    assert walk_in.youth_id != on_file
    assert db.session.scalar(select(func.count()).select_from(Youth)) == youths + 1


def test_the_same_name_and_birth_date_is_already_on_file_without_asking(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    page = client.post(
        "/staff/walk-in",
        data=first_step(first_name="Ana", last_name="Flores", date_of_birth="2007-05-01"),
    ).get_data(as_text=True)
    assert "Already on file:" in page and "This visit joins their record." in page
    assert 'name="same_youth"' not in page


# --- A minor's consent ---------------------------------------------------------------------

GUARDIAN = {
    "date_of_birth": "2011-06-01",
    "guardian_name": "Rosa Brown",
    "guardian_relationship": "parent",
    "guardian_phone": "4155550199",
}


def test_a_minor_without_a_consent_choice_is_refused_with_the_answers_kept(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    response = client.post("/staff/walk-in", data=walk_in_data(**GUARDIAN))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Please choose what the guardian said: this youth is under 18." in page
    assert 'value="Rosa Brown"' in page
    assert walk_ins() == 0

    response = client.post(
        "/staff/walk-in", data=walk_in_data(**GUARDIAN, guardian_consent="missing")
    )
    assert response.status_code == 303  # "not confirmed yet" is a choice the desk made
    assert db.session.scalars(select(Appointment.consent).where(Appointment.walk_in)).one() == (
        "missing"
    )


def test_the_use_case_itself_refuses_a_minor_without_a_consent_choice(app, day, clock):
    clock.set(at(16, 5))
    desk = day["staff"][StaffRole.FRONT_DESK]
    request = booking.BookingRequest(
        day=at(16).date(),
        start=at(16).time(),
        submission_key="m" * 32,
        first_name="Lena",
        last_name="Ortiz",
        date_of_birth=at(16).date().replace(year=2011),
        phone="+14155550188",
        guardian_name="Rosa Ortiz",
        guardian_relationship="parent",
        guardian_phone="+14155550199",
    )
    with pytest.raises(clinic_day.ConsentNotChosen):
        clinic_day.walk_in(request, desk, at(16, 5), settings.current_rules())
    db.session.rollback()
    assert walk_ins() == 0


def test_a_birth_date_after_today_is_refused_in_words_not_a_500(client, day, as_role):
    """Found by the fuzz (1,000 examples): the age arithmetic raised on a future birth date."""
    as_role(StaffRole.FRONT_DESK, day)
    for step in ("check", "save"):
        answer = client.post(
            "/staff/walk-in", data={**first_step(date_of_birth="2030-01-01"), "step": step}
        )
        assert answer.status_code == 422, step
        assert "date_of_birth" in answer.get_data(as_text=True)
