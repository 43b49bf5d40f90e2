"""A treatment is recorded whole (area, skin type, laser settings), the waiting room's screen
lists the next tickets in the order "Call next" follows, and the day's flashes name the youth
as the desk knows them."""

# ruff: noqa: F811 (the day's fixtures, shared with test_clinic_day, are parameters here)
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from clinic import clinic_day, settings
from clinic.extensions import db
from clinic.models import Appointment, StaffRole, Treatment
from tests.clinic_day.test_clinic_day import (  # noqa: F401 (fixtures)
    DAY,
    TREATED,
    as_role,
    at,
    day,
    post,
    status_of,
)


def _in_treatment(client, day, as_role, station="Laser 1"):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    post(client, f"/staff/appointments/{day['adult']}/call", station=station)


# --- Treatments recorded whole -------------------------------------------------------------


def test_an_empty_treatment_is_refused_with_every_value_kept(client, day, as_role):
    _in_treatment(client, day, as_role)
    response = client.post(
        f"/staff/appointments/{day['adult']}/complete",
        data={"session_number": "3", "areas": ["arms"], "notes": "Mild redness, keep me"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Please choose the skin type." in page
    assert "Please write the laser settings used." in page
    assert "Please tick at least one place." not in page  # the area was given
    assert 'value="3"' in page  # the session number as typed
    assert 'checked id="areas-' in page or "checked" in page.split('value="arms"')[0][-200:]
    assert "Mild redness, keep me" in page
    assert status_of(day["adult"]) == "in_treatment"
    assert db.session.scalar(select(func.count()).select_from(Treatment)) == 0


def test_the_form_suggests_the_next_session_number_and_marks_notes_optional(client, day, as_role):
    _in_treatment(client, day, as_role)
    page = client.get(f"/staff/appointments/{day['adult']}/complete").get_data(as_text=True)
    assert 'value="1"' in page
    assert "Suggested: 1, one more than the sessions recorded before." in page
    assert "Optional. Seen only by clinicians." in page
    assert "Choose…" in page  # no skin type recorded by leaving the list alone


def test_a_whole_treatment_is_recorded_and_the_flash_names_the_youth(client, day, as_role):
    _in_treatment(client, day, as_role)
    response = client.post(
        f"/staff/appointments/{day['adult']}/complete",
        data={"session_number": "1", **TREATED, "notes": ""},
    )
    assert response.status_code == 303
    treatment = db.session.scalars(select(Treatment)).one()
    assert (treatment.skin_type, treatment.settings, treatment.notes) == (
        "IV",
        TREATED["settings"],
        None,
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Treatment recorded for Ana F." in page


@pytest.mark.parametrize(
    ("record", "missing"),
    [
        (clinic_day.TreatmentRecord(areas=["hands"]), ("skin_type", "settings")),
        (clinic_day.TreatmentRecord(areas=[], skin_type="II", settings="x"), ("areas",)),
        (
            clinic_day.TreatmentRecord(areas=["hands"], skin_type="II", settings="  "),
            ("settings",),
        ),
    ],
)
def test_the_use_case_itself_refuses_an_incomplete_treatment(client, day, as_role, record, missing):
    _in_treatment(client, day, as_role)
    clinician = day["staff"][StaffRole.CLINICIAN]
    with pytest.raises(clinic_day.TreatmentIncomplete) as refused:
        clinic_day.complete(day["adult"], clinician, record, at(16, 10))
    assert refused.value.missing == missing
    assert status_of(day["adult"]) == "in_treatment"
    assert db.session.scalar(select(func.count()).select_from(Treatment)) == 0


# --- The waiting room's screen -------------------------------------------------------------


def _next_on_board(client) -> list[int]:
    board = client.get("/now-serving/board").get_data(as_text=True)
    line = board.split('<p class="next">')[1].split("</p>")[0]
    return [int(part.split("</strong>")[0]) for part in line.split("<strong>")[1:]]


def test_the_board_lists_the_next_tickets_in_call_order_without_minors_awaiting_consent(
    client, day, as_role, clock
):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['later']}/check-in")  # ticket 1: 17:00, came first
    post(client, f"/staff/appointments/{day['minor']}/check-in", consent="missing")  # 2
    clock.set(at(16, 10))
    post(client, f"/staff/appointments/{day['adult']}/check-in")  # ticket 3: 16:00
    # The 16:00 adult before the 17:00 youth who came first; the minor cannot be called yet.
    assert _next_on_board(client) == [3, 1]

    post(client, f"/staff/appointments/{day['minor']}/consent", consent="confirmed")
    assert _next_on_board(client) == [2, 3, 1]  # the 16:00 minor came before the adult

    # "Call next" takes exactly the tickets the board promised, in its order.
    as_role(StaffRole.CLINICIAN, day)
    promised = _next_on_board(client)
    called = []
    for station in ("Laser 1", "Laser 2", "Laser 3"):
        if station not in settings.current_rules().stations:
            break
        post(client, f"/staff/day/{DAY}/call-next", station=station)
        called.append(
            db.session.scalar(select(Appointment.ticket).where(Appointment.station == station))
        )
    assert called == promised[: len(called)]


def test_the_board_says_in_both_languages_that_it_is_the_call_order(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    client.post("/auth/logout")
    screen = client.get("/now-serving").get_data(as_text=True)
    assert "In the order we will call them." in screen
    for name in ("Ana", "Flores", "Luis", "Reyes", "Maya", "Chen"):
        assert name not in screen


def test_call_flash_names_the_youth_never_the_code_alone(client, day, as_role):
    as_role(StaffRole.FRONT_DESK, day)
    post(client, f"/staff/appointments/{day['adult']}/check-in")
    as_role(StaffRole.CLINICIAN, day)
    page = post(client, f"/staff/appointments/{day['adult']}/call", station="Laser 2")
    flash = page.split('class="flash')[1].split("</p>")[0]
    assert "Ana F. called to Laser 2." in flash
    code = db.session.get(Appointment, day["adult"]).code
    assert code not in flash and "Flores" not in flash
