"""Youth records: search, the record page, booking a follow-up and merging duplicates, each as
every staff role, with the role's field visibility, bad input, refusals and query budgets."""

from __future__ import annotations

import itertools
import re
import threading
from datetime import date, datetime, time, timedelta
from time import sleep
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from clinic import records
from clinic.extensions import db
from clinic.models import (
    Appointment,
    Intake,
    OutboxMessage,
    Slot,
    StaffRole,
    Treatment,
    Youth,
)
from clinic.permissions import NotAllowed
from clinic.rules.visits import SEAT_HOLDING
from clinic.settings import current_rules
from tests.conftest import NEXT_DAY, PASSWORD, intake_data, intake_url
from tests.conftest import sign_in as form_sign_in
from tests.support.querycount import count_statements

EN = {"Accept-Language": "en"}
PHONE = "+14155550199"  # not the clinic's own number, which every page's footer shows
PHONE_SHOWN = "(415) 555-0199"
GUARDIAN_PHONE = "+14155550177"
LAST_TREATMENT = date(2026, 11, 10)  # + 6 weeks = Tue 22 Dec 2026, a clinic day
EARLIEST = date(2026, 12, 22)
KEY = "f" * 32
_codes = itertools.count(1)


# --- Helpers -----------------------------------------------------------------------------


class _Staff(dict):
    """One account per role, made when first asked for (hashing a password takes a while)."""

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, role: StaffRole):
        self[role] = self.make(role)
        return self[role]


@pytest.fixture
def users(make_staff):
    return _Staff(make_staff)


@pytest.fixture
def as_role(app, users):
    """A test client signed in with the given role (each its own cookie jar)."""

    def sign_in(role: StaffRole):
        client = app.test_client()
        response = form_sign_in(client, users[role].email, PASSWORD)
        assert response.status_code == 303
        return client

    return sign_in


def add_youth(
    first="Ana",
    last="Flores",
    dob=date(2007, 5, 1),
    *,
    preferred=None,
    phone=PHONE,
    email=None,
    language="en",
    guardian=None,
    merged_into=None,
) -> int:
    youth = Youth(
        identity_key=Youth.make_identity_key(first, last, dob),
        first_name=first,
        last_name=last,
        preferred_name=preferred,
        date_of_birth=dob,
        search_name=Youth.make_search_name(first, last, preferred),
        phone=phone,
        email=email,
        language=language,
        merged_into_id=merged_into,
    )
    if guardian:
        youth.guardian_name, youth.guardian_relationship, youth.guardian_phone = guardian
    db.session.add(youth)
    db.session.commit()
    return youth.id


def intake_row(**overrides) -> Intake:
    values = {
        "phone": PHONE,
        "language": "en",
        "tattoo_count": 2,
        "tattoo_locations": ["hands", "arms"],
        "tattoo_size": "medium",
        "tattoo_colors": "some_color",
        "tattoo_kind": "professional",
        "tattoo_age_years": 4,
        "previous_removal": False,
        "screening": ["pregnant", "keloids"],
        "referral_source": "court",
    }
    values.update(overrides)
    return Intake(**values)


def add_visit(
    youth_id: int,
    day: date,
    start: time = time(16, 0),
    status: str = "completed",
    *,
    intake: dict | None = None,
    walk_in: bool = False,
    ticket: int | None = None,
    capacity: int = 2,
) -> int:
    """An appointment (with its slot row and, if given, an intake), committed; its id."""
    slot = db.session.scalar(select(Slot).where(Slot.day == day, Slot.start_time == start))
    if slot is None:
        end = (datetime.combine(day, start) + timedelta(minutes=20)).time()
        slot = Slot(day=day, start_time=start, end_time=end, capacity=capacity, booked=0)
        db.session.add(slot)
        db.session.flush()
    if status in SEAT_HOLDING:
        slot.booked += 1
    appointment = Appointment(
        code=f"T{next(_codes):05d}",
        youth_id=youth_id,
        slot_id=slot.id,
        status=status,
        walk_in=walk_in,
        ticket=ticket,
    )
    if intake is not None:
        appointment.intake = intake_row(**intake)
    db.session.add(appointment)
    db.session.commit()
    return appointment.id


def add_treatment(youth_id: int, clinician_id: int, day: date, session: int, **values) -> int:
    """A completed visit on ``day`` and the treatment recorded for it."""
    appointment_id = add_visit(youth_id, day, intake={})
    treatment = Treatment(
        appointment_id=appointment_id,
        youth_id=youth_id,
        day=day,
        session_number=session,
        areas=values.pop("areas", ["hands"]),
        clinician_id=clinician_id,
        notes=values.pop("notes", "Mild redness, tolerated well"),
        skin_type=values.pop("skin_type", "IV"),
        settings=values.pop("settings", "1064 nm, 3.5 J/cm2"),
    )
    db.session.add(treatment)
    db.session.commit()
    return treatment.id


def page(response) -> str:
    return response.get_data(as_text=True)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def search(client, q: str):
    return client.post("/staff/youth", data={"q": q}, headers=EN)


def follow_up(client, youth_id: int, slot: str, key: str = KEY, **extra):
    return client.post(
        f"/staff/youth/{youth_id}/book",
        data={"slot": slot, "submission_key": key, **extra},
        headers=EN,
    )


@pytest.fixture
def ana(users) -> int:
    """A returning youth: one treatment on 10 Nov (the next may be booked from 22 Dec), a
    guardian-free adult with a phone, screening answers on her latest booking."""
    youth_id = add_youth(preferred="Annie")
    add_treatment(youth_id, users[StaffRole.CLINICIAN].id, LAST_TREATMENT, 1)
    add_visit(youth_id, LAST_TREATMENT, time(17, 0), "cancelled", intake={})
    return youth_id


# --- Who may open what -------------------------------------------------------------------

ALL = {StaffRole.ADMIN, StaffRole.FRONT_DESK, StaffRole.CLINICIAN}
ADMIN = {StaffRole.ADMIN}


def routes(youth_id: int, other_id: int):
    """(method, url, form data, who is allowed, status when allowed)."""
    return [
        ("GET", "/staff/youth", None, ALL, 200),
        ("POST", "/staff/youth", {"q": "flores"}, ALL, 200),
        ("GET", f"/staff/youth/{youth_id}", None, ALL, 200),
        ("GET", f"/staff/youth/{youth_id}/book", None, ALL, 200),
        ("POST", f"/staff/youth/{youth_id}/book", {"slot": f"{EARLIEST}T16:00"}, ALL, 422),
        ("GET", f"/staff/youth/{youth_id}/merge/{other_id}", None, ADMIN, 200),
        ("POST", f"/staff/youth/{youth_id}/merge", {"other_id": str(other_id)}, ADMIN, 303),
    ]


@pytest.mark.parametrize("role", list(StaffRole))
def test_each_route_as_each_role(as_role, ana, role):
    other = add_youth("Ana", "Flores-Diaz", date(2007, 5, 1), phone=None)
    client = as_role(role)
    for method, url, data, allowed, status in routes(ana, other):
        response = client.open(url, method=method, data=data, headers=EN)
        expected = status if role in allowed else 403
        assert response.status_code == expected, (method, url)
        assert response.headers["Cache-Control"] == "no-store"


def test_anonymous_is_sent_to_sign_in(client, ana):
    for method, url, data, _allowed, _status in routes(ana, ana):
        response = client.open(url, method=method, data=data)
        assert response.status_code == 302, (method, url)
        assert "/auth/login" in response.headers["Location"]


def test_unknown_records_are_404(as_role, ana):
    admin = as_role(StaffRole.ADMIN)
    assert admin.get("/staff/youth/999").status_code == 404
    assert admin.get("/staff/youth/999/book").status_code == 404
    assert follow_up(admin, 999, f"{EARLIEST}T16:00").status_code == 404
    assert admin.get(f"/staff/youth/999/merge/{ana}").status_code == 404
    assert admin.get(f"/staff/youth/{ana}/merge/999").status_code == 404
    assert admin.post("/staff/youth/999/merge", data={"other_id": str(ana)}).status_code == 404
    assert admin.post(f"/staff/youth/{ana}/merge", data={"other_id": "999"}).status_code == 404
    assert count(Appointment) == 2


def test_the_staff_menu_leads_to_the_search(as_role):
    assert 'href="/staff/youth"' in page(as_role(StaffRole.CLINICIAN).get("/staff/youth"))


# --- Search ------------------------------------------------------------------------------


def test_search_is_posted_so_the_query_never_reaches_a_url(as_role, ana):
    client = as_role(StaffRole.FRONT_DESK)
    form = page(client.get("/staff/youth", headers=EN))
    assert re.search(r'<form method="post" action="/staff/youth"', form)
    # A query in the URL is not read: the page stays an empty form.
    assert "Ana Flores" not in page(client.get("/staff/youth?q=flores"))


@pytest.mark.parametrize(
    "query",
    ["flores", "FLORES", "ana flores", "Flores Ana", "flo", "annie", "  ana   FLO  "],
)
def test_search_by_any_part_of_the_name(as_role, ana, query):
    add_youth("Bea", "Martinez", date(2008, 1, 2), phone=None)
    body = page(search(as_role(StaffRole.CLINICIAN), query))
    assert f'href="/staff/youth/{ana}"' in body
    assert "Martinez" not in body


def test_search_folds_accents_and_case(as_role):
    youth_id = add_youth("José", "Núñez", date(2006, 3, 4), phone=None)
    client = as_role(StaffRole.ADMIN)
    for query in ("jose nunez", "NÚÑEZ", "Jose", "núnez"):
        assert f'href="/staff/youth/{youth_id}"' in page(search(client, query))


def test_search_treats_like_wildcards_as_text(as_role, ana):
    client = as_role(StaffRole.ADMIN)
    assert "No youth found" in page(search(client, "a%"))
    assert "No youth found" in page(search(client, "a_a"))


@pytest.mark.parametrize(
    "query", ["(415) 555-0199", "415.555.0199", "4155550199", "+1 415 555 0199", "1-415-555-0199"]
)
def test_search_by_phone_in_any_format(as_role, ana, query):
    assert f'href="/staff/youth/{ana}"' in page(search(as_role(StaffRole.FRONT_DESK), query))


def test_search_by_a_phone_given_only_on_a_later_booking(as_role):
    youth_id = add_youth("Luis", "Reyes", date(2005, 2, 2), phone=None)
    add_visit(youth_id, date(2026, 10, 27), intake={"phone": "+14155550155"})
    body = page(search(as_role(StaffRole.FRONT_DESK), "415 555 0155"))
    assert f'href="/staff/youth/{youth_id}"' in body


def test_clinicians_cannot_look_up_whose_phone_it_is(as_role, ana):
    response = search(as_role(StaffRole.CLINICIAN), "(415) 555-0199")
    assert response.status_code == 422
    body = page(response)
    assert "Searching by phone is for the front desk" in body
    assert f"/staff/youth/{ana}" not in body


@pytest.mark.parametrize("query", ["2007-05-01", "05/01/2007", "5/1/2007"])
def test_search_by_date_of_birth(as_role, ana, query):
    add_youth("Bea", "Martinez", date(2007, 5, 2), phone=None)
    body = page(search(as_role(StaffRole.CLINICIAN), query))
    assert f'href="/staff/youth/{ana}"' in body
    assert "Martinez" not in body


def test_search_results_show_age_last_visit_and_sessions(as_role, ana):
    body = page(search(as_role(StaffRole.FRONT_DESK), "flores"))
    assert "May 1, 2007" in body
    assert "<td>19</td>" in body  # age today, 20 Nov 2026
    assert "Tuesday, November 10, 2026" in body  # the last visit: the treatment, not the cancel
    assert "<td>1</td>" in body  # sessions so far
    assert PHONE_SHOWN in body


def test_search_shows_phones_only_to_staff_who_see_contact(as_role, ana):
    for role in (StaffRole.FRONT_DESK, StaffRole.ADMIN):
        assert PHONE_SHOWN in page(search(as_role(role), "flores"))
    body = page(search(as_role(StaffRole.CLINICIAN), "flores"))
    assert "555-0199" not in body and "Phone" not in body


def test_search_does_not_list_merged_records(as_role, ana):
    merged = add_youth("Anna", "Flores", date(2007, 5, 1), phone=None, merged_into=ana)
    body = page(search(as_role(StaffRole.ADMIN), "flores"))
    assert f'href="/staff/youth/{ana}"' in body
    assert f'href="/staff/youth/{merged}"' not in body


@pytest.mark.parametrize("query", ["", "   ", "12", "#!?", "x" * 101])
def test_search_explains_what_it_cannot_read(as_role, query):
    response = search(as_role(StaffRole.FRONT_DESK), query)
    assert response.status_code == 422
    assert 'class="error"' in page(response)


def test_search_lists_at_most_fifty_and_says_so(as_role):
    db.session.add_all(
        Youth(
            identity_key=Youth.make_identity_key("Kid", f"Garcia {n}", date(2006, 1, 1)),
            first_name="Kid",
            last_name=f"Garcia {n:02d}",
            date_of_birth=date(2006, 1, 1),
            search_name=Youth.make_search_name("Kid", f"Garcia {n:02d}", None),
        )
        for n in range(51)
    )
    db.session.commit()
    body = page(search(as_role(StaffRole.FRONT_DESK), "garcia"))
    assert body.count('href="/staff/youth/') == 50
    assert "More than 50 youth match" in body


def fill_people(clinician_id: int, numbers: range) -> None:
    """Youth named Flores, each with a visit and a treatment."""
    for n in numbers:
        youth_id = add_youth("Kid", f"Flores {n}", date(2006, 1, 1) + timedelta(days=n), phone=None)
        add_treatment(youth_id, clinician_id, date(2026, 1, 6) + timedelta(days=n), 1)


def test_search_runs_the_same_statements_for_one_or_thirty_results(as_role, users):
    client = as_role(StaffRole.FRONT_DESK)
    fill_people(users[StaffRole.CLINICIAN].id, range(1))
    with count_statements() as one:
        assert search(client, "flores").status_code == 200
    fill_people(users[StaffRole.CLINICIAN].id, range(1, 30))
    with count_statements() as thirty:
        body = page(search(client, "flores"))
    assert body.count('href="/staff/youth/') == 30
    print("\nsearch statements:", len(thirty))
    assert len(one) == len(thirty) <= 2  # the signed-in user, then the search itself


# --- The record page ---------------------------------------------------------------------


@pytest.fixture
def full_record(users):
    """A minor's record with a guardian, two treatments, a new phone and guardian given on the
    latest booking, and an upcoming appointment."""
    youth_id = add_youth(
        "Luis",
        "Reyes",
        date(2010, 1, 10),
        preferred="Lu",
        language="es",
        email="luis@example.org",
        guardian=("Marta Reyes", "parent", GUARDIAN_PHONE),
    )
    clinician = users[StaffRole.CLINICIAN].id
    add_treatment(youth_id, clinician, date(2026, 8, 25), 1, notes="First pass, faded edges")
    add_treatment(youth_id, clinician, date(2026, 10, 27), 2, notes="SECRET-NOTE blistering")
    add_visit(
        youth_id,
        date(2026, 12, 22),
        status="booked",
        intake={
            "phone": "+14155550166",
            "guardian_name": "Rosa Reyes",
            "guardian_relationship": "legal_guardian",
            "guardian_phone": "+14155550188",
        },
    )
    add_visit(youth_id, date(2026, 9, 22), status="no_show", walk_in=True, ticket=7)
    return youth_id


def test_record_shows_history_to_everyone(as_role, full_record):
    body = page(as_role(StaffRole.FRONT_DESK).get(f"/staff/youth/{full_record}", headers=EN))
    assert "Luis Reyes" in body and "Lu" in body
    assert "January 10, 2010" in body and "16 today" in body
    assert "Español" in body
    assert "Sessions so far</dt><dd>2</dd>" in body
    # Last treatment 27 Oct + 6 weeks.
    assert "Tuesday, December 8, 2026" in body
    assert "Upcoming appointment" in body and "Tuesday, December 22, 2026" in body
    assert "Book a follow-up" not in body  # one upcoming appointment at a time
    for label in ("Booked", "No-show", "walk-in", "Completed"):
        assert label in body
    assert "<td>7</td>" in body  # the walk-in's ticket
    assert "Test clinician" in body and "Hands or fingers" in body
    # Newest first: the booked December visit before the August treatment.
    assert body.index("December 22, 2026</time></a>") < body.index("August 25, 2026</time></a>")


def test_front_desk_sees_contact_but_no_clinical_details(as_role, full_record):
    body = page(as_role(StaffRole.FRONT_DESK).get(f"/staff/youth/{full_record}", headers=EN))
    assert PHONE_SHOWN in body and "luis@example.org" in body
    assert "Marta Reyes" in body and "(415) 555-0177" in body and "Parent" in body
    # The latest booking gave another phone and guardian: shown, flagged.
    assert "Given on the latest booking" in body
    assert "(415) 555-0166" in body and "Rosa Reyes" in body and "Legal guardian" in body
    assert "SECRET-NOTE" not in body and "1064 nm" not in body and "Skin type" not in body
    assert "Screening" not in body and "pregnant" not in body and "keloids" not in body


def test_clinicians_see_clinical_details_but_no_contact(as_role, full_record):
    body = page(as_role(StaffRole.CLINICIAN).get(f"/staff/youth/{full_record}", headers=EN))
    assert "SECRET-NOTE blistering" in body and "1064 nm, 3.5 J/cm2" in body and "IV" in body
    assert "Screening answers" in body
    assert "I am pregnant or breastfeeding" in body and "keloids" in body
    for phone in ("555-0199", "555-0177", "555-0166", "555-0188"):
        assert phone not in body
    assert "luis@example.org" not in body and "Marta Reyes" not in body
    assert "Rosa Reyes" not in body


def test_admin_sees_contact_but_not_notes(as_role, full_record):
    body = page(as_role(StaffRole.ADMIN).get(f"/staff/youth/{full_record}", headers=EN))
    assert PHONE_SHOWN in body and "Marta Reyes" in body
    assert "SECRET-NOTE" not in body and "pregnant" not in body


def test_the_service_filters_by_role_too(users, full_record):
    today = NEXT_DAY
    six = timedelta(weeks=6)
    desk = records.youth_record(full_record, users[StaffRole.FRONT_DESK], today, six)
    assert desk.contact is not None and desk.screening is None
    assert all(t.clinical is None for t in desk.treatments)
    clinician = records.youth_record(full_record, users[StaffRole.CLINICIAN], today, six)
    assert clinician.contact is None and clinician.latest_contact is None
    assert clinician.screening == ["pregnant", "keloids"]
    assert clinician.treatments[0].clinical.notes == "SECRET-NOTE blistering"


def test_a_record_without_treatment_can_be_followed_up_any_day(as_role):
    youth_id = add_youth(phone=None)
    body = page(as_role(StaffRole.FRONT_DESK).get(f"/staff/youth/{youth_id}", headers=EN))
    assert "Any open day: no treatment yet" in body and "None on file" in body
    assert "Book a follow-up" in body


def test_a_birth_date_typed_in_the_future_is_explained_not_a_crash(as_role):
    youth_id = add_youth("Typo", "Year", date(2070, 1, 1), phone=None)
    client = as_role(StaffRole.FRONT_DESK)
    assert client.get(f"/staff/youth/{youth_id}").status_code == 200
    assert client.get(f"/staff/youth/{youth_id}/book").status_code == 200
    response = follow_up(client, youth_id, f"{NEXT_DAY}T16:00")
    assert response.status_code == 422
    assert "The date of birth on file is after this date" in page(response)


def test_a_merged_record_opens_its_survivor(as_role, ana):
    merged = add_youth("Anna", "Flores", date(2007, 5, 1), merged_into=ana)
    client = as_role(StaffRole.CLINICIAN)
    response = client.get(f"/staff/youth/{merged}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/staff/youth/{ana}"
    assert (
        client.get(f"/staff/youth/{merged}/book")
        .headers["Location"]
        .endswith(f"/staff/youth/{ana}/book")
    )


def fill_history(youth_id: int, clinician_id: int, visits: int) -> None:
    """``visits`` past visits, each with an intake and a treatment."""
    for n in range(visits):
        add_treatment(youth_id, clinician_id, date(2024, 1, 2) + timedelta(weeks=n), n + 1)


@pytest.mark.parametrize("role", [StaffRole.CLINICIAN, StaffRole.FRONT_DESK])
def test_record_runs_the_same_statements_for_one_or_thirty_visits(as_role, users, role):
    client = as_role(role)
    clinician = users[StaffRole.CLINICIAN].id
    short = add_youth("Short", "History", date(2005, 1, 1))
    fill_history(short, clinician, 1)
    add_youth("Short", "Historia", date(2005, 1, 1), phone=None)  # a possible duplicate
    long = add_youth("Long", "History", date(2005, 2, 2), phone=None)
    fill_history(long, clinician, 30)
    with count_statements() as one:
        assert client.get(f"/staff/youth/{short}").status_code == 200
    with count_statements() as thirty:
        body = page(client.get(f"/staff/youth/{long}"))
    assert body.count("<code>T") == 30
    print("\nrecord statements:", len(thirty))
    # The user; the youth; appointments with slots; each one's history with its staff;
    # treatments with clinicians; the latest intake; possible duplicates; list entries; the
    # view written to the audit trail (one INSERT).
    assert len(one) == len(thirty) <= 9


# --- Possible duplicates -----------------------------------------------------------------


def test_possible_duplicates_by_birth_date_and_a_name_or_by_phone(app, ana):
    same_last = add_youth("Anita", "FLÓRES", date(2007, 5, 1), phone=None)
    same_first = add_youth("ana", "Flores Diaz", date(2007, 5, 1), phone=None)
    same_phone = add_youth("Bea", "Martinez", date(2001, 1, 1), phone=PHONE)
    add_youth("Bea", "Flores", date(2007, 5, 2), phone=None)  # another birth date
    add_youth("Carla", "Soto", date(2007, 5, 1), phone=None)  # same birth date, other names
    add_youth("Ana", "Flores", date(2009, 5, 1), phone=None, merged_into=ana)  # merged
    with count_statements() as statements:
        found = records.possible_duplicates("Ana", "Flores", date(2007, 5, 1), "(415) 555-0199")
    assert len(statements) == 1
    by_id = {d.youth.id: d for d in found}
    assert set(by_id) == {ana, same_last, same_first, same_phone}
    assert by_id[same_phone].same_phone and not by_id[same_phone].same_birth_and_name
    assert by_id[same_last].same_birth_and_name and not by_id[same_last].same_phone
    assert by_id[ana].same_birth_and_name and by_id[ana].same_phone

    others = records.possible_duplicates("Ana", "Flores", date(2007, 5, 1), exclude_id=ana)
    assert {d.youth.id for d in others} == {same_last, same_first}
    assert records.possible_duplicates("Zoe", "Quinn", date(1999, 1, 1), "not a phone") == []


def test_record_lists_possible_duplicates_and_only_admins_may_merge(as_role, ana):
    twin = add_youth("Anna", "Flores", date(2007, 5, 1), phone=None)
    for role in StaffRole:
        body = page(as_role(role).get(f"/staff/youth/{ana}", headers=EN))
        assert "Possibly the same youth" in body
        assert f'href="/staff/youth/{twin}"' in body
        merge_link = f"/staff/youth/{ana}/merge/{twin}"
        assert (merge_link in body) is (role is StaffRole.ADMIN)


# --- Booking a follow-up -----------------------------------------------------------------


def test_follow_up_form_offers_times_from_the_earliest_date(as_role, ana):
    body = page(as_role(StaffRole.CLINICIAN).get(f"/staff/youth/{ana}/book", headers=EN))
    assert "the next session may be booked from Tuesday, December 22, 2026" in body
    assert f'value="{EARLIEST}T16:00"' in body and 'value="2027-01-19T19:40"' in body
    assert f"{NEXT_DAY}T" not in body  # 24 Nov is open, but too soon
    assert "(2 left)" in body
    assert re.search(r'name="submission_key" type="hidden" value="[\w-]{32}"', body)


def test_front_desk_books_a_follow_up(as_role, ana):
    client = as_role(StaffRole.FRONT_DESK)
    response = follow_up(client, ana, f"{EARLIEST}T16:20")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/youth/{ana}"
    appointment = db.session.scalars(
        select(Appointment).where(Appointment.status == "booked")
    ).one()
    code = appointment.code
    assert appointment.youth_id == ana and appointment.submission_key == KEY
    intake = db.session.scalars(select(Intake).where(Intake.appointment_id == appointment.id)).one()
    # Copied from the latest booking, for the clinician to re-check.
    assert intake.tattoo_locations == ["hands", "arms"] and intake.tattoo_kind == "professional"
    assert intake.screening == ["pregnant", "keloids"] and intake.referral_source == "court"
    assert intake.phone == PHONE
    assert db.session.scalar(select(Slot.booked).where(Slot.day == EARLIEST)) == 1

    body = page(client.get(response.headers["Location"], headers=EN))
    flash = re.search(r'class="flash flash-success"[^>]*>([^<]*)<', body).group(1)
    assert code in flash and "Tuesday, December 22, 2026" in flash and "4:20" in flash
    assert "Ana" not in flash and "Flores" not in flash


def test_a_double_submitted_follow_up_books_once(as_role, ana):
    client = as_role(StaffRole.FRONT_DESK)
    first = follow_up(client, ana, f"{EARLIEST}T16:20")
    again = follow_up(client, ana, f"{EARLIEST}T16:20")
    assert first.status_code == again.status_code == 303
    booked = db.session.scalars(select(Appointment).where(Appointment.status == "booked")).all()
    assert len(booked) == 1
    assert db.session.scalar(select(Slot.booked).where(Slot.day == EARLIEST)) == 1


def test_the_service_refuses_roles_without_the_right(users, ana):
    rules = current_rules()
    now = datetime(2026, 11, 20, 9, 0, tzinfo=rules.zone)
    guardian = records.Guardian("Marta Reyes", "parent", GUARDIAN_PHONE)
    with pytest.raises(NotAllowed):
        records.book_follow_up(
            ana,
            EARLIEST,
            time(16),
            KEY,
            users[StaffRole.CLINICIAN],
            rules,
            now,
            guardian=guardian,
        )
    with pytest.raises(NotAllowed):
        records.merge(ana, ana, users[StaffRole.FRONT_DESK], NEXT_DAY)
    assert count(Appointment) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"slot": ""}, "Please choose one."),
        ({"slot": "garbage"}, "Please choose one of the times listed."),
        ({"slot": f"{EARLIEST}T16:05"}, "Please choose one of the times listed."),
        ({"slot": "2026-12-23T16:00"}, "Please choose one of the times listed."),
        ({"slot": f"{EARLIEST}T16:00", "submission_key": "short"}, "Please reload the page."),
    ],
)
def test_follow_up_bad_input_is_explained_and_nothing_is_written(as_role, ana, data, message):
    client = as_role(StaffRole.FRONT_DESK)
    response = client.post(
        f"/staff/youth/{ana}/book", data={"submission_key": KEY, **data}, headers=EN
    )
    assert response.status_code == 422
    assert message in page(response)
    assert count(Appointment) == 2 and count(Intake) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"guardian_name": "Marta"}, "Please fill this in."),
        ({"guardian_relationship": "aunt"}, "Not a valid choice."),
        (
            {
                "guardian_name": "Marta",
                "guardian_relationship": "parent",
                "guardian_phone": "12",
            },
            "Please enter a 10-digit US phone number",
        ),
    ],
)
def test_follow_up_bad_guardian_is_explained_and_nothing_is_written(as_role, data, message):
    youth_id = add_youth("Luis", "Reyes", date(2010, 1, 10))
    response = follow_up(as_role(StaffRole.FRONT_DESK), youth_id, f"{NEXT_DAY}T16:00", **data)
    assert response.status_code == 422
    assert message in page(response)
    assert count(Appointment) == 0


def test_follow_up_too_soon_says_from_when(as_role, ana):
    response = follow_up(as_role(StaffRole.FRONT_DESK), ana, f"{NEXT_DAY}T16:00")
    assert response.status_code == 422
    body = page(response)
    assert "Too soon after the last treatment" in body
    assert "Please choose a date from Tuesday, December 22, 2026 on." in body
    assert f'<option selected value="{NEXT_DAY}T16:00">' in body  # the choice is kept
    assert count(Appointment) == 2


def test_follow_up_in_a_full_time_is_refused(as_role, ana):
    other = add_youth("Bea", "Martinez", date(2001, 1, 1), phone=None)
    for _ in range(2):
        add_visit(other, EARLIEST, time(16), status="booked")
    client = as_role(StaffRole.FRONT_DESK)
    assert f'value="{EARLIEST}T16:00"' not in page(client.get(f"/staff/youth/{ana}/book"))
    response = follow_up(client, ana, f"{EARLIEST}T16:00")
    assert response.status_code == 422
    body = page(response)
    assert "This time just filled up" in body
    assert f'<option selected value="{EARLIEST}T16:00">' in body
    assert db.session.scalar(select(func.count()).where(Appointment.youth_id == ana)) == 2


def test_follow_up_for_someone_who_ages_out_is_refused(as_role):
    youth_id = add_youth("Old", "Timer", date(2000, 12, 1), phone=None)  # 26 on 1 Dec 2026
    response = follow_up(as_role(StaffRole.FRONT_DESK), youth_id, f"{EARLIEST}T16:00")
    assert response.status_code == 422
    assert "The youth will be 26 on Tuesday, December 22, 2026" in page(response)
    assert count(Appointment) == 0


def test_follow_up_for_someone_too_young_on_the_date_is_refused(as_role):
    youth_id = add_youth(
        "Young", "One", date(2013, 12, 10), guardian=("Marta Reyes", "parent", GUARDIAN_PHONE)
    )
    client = as_role(StaffRole.FRONT_DESK)
    response = follow_up(client, youth_id, f"{NEXT_DAY}T16:00")
    assert response.status_code == 422
    assert "The youth turns 13 on Thursday, December 10, 2026" in page(response)
    assert count(Appointment) == 0
    assert follow_up(client, youth_id, f"{EARLIEST}T16:00").status_code == 303


def test_a_minor_without_guardian_gets_one_entered_by_the_front_desk(as_role):
    youth_id = add_youth("Luis", "Reyes", date(2010, 1, 10))
    client = as_role(StaffRole.FRONT_DESK)
    form = page(client.get(f"/staff/youth/{youth_id}/book", headers=EN))
    assert 'name="guardian_name"' in form
    response = follow_up(client, youth_id, f"{NEXT_DAY}T16:00")
    assert response.status_code == 422
    assert "no parent or guardian is on file. Please enter their details" in page(response)
    assert count(Appointment) == 0

    response = follow_up(
        client,
        youth_id,
        f"{NEXT_DAY}T16:00",
        guardian_name="Marta Reyes",
        guardian_relationship="parent",
        guardian_phone="(415) 555-0177",
    )
    assert response.status_code == 303
    intake = db.session.scalars(select(Intake)).one()
    assert (intake.guardian_name, intake.guardian_relationship, intake.guardian_phone) == (
        "Marta Reyes",
        "parent",
        GUARDIAN_PHONE,
    )
    assert intake.referral_source == "other"  # nothing on file to copy


def test_clinicians_are_sent_to_the_front_desk_for_a_guardian(as_role):
    youth_id = add_youth("Luis", "Reyes", date(2010, 1, 10))
    client = as_role(StaffRole.CLINICIAN)
    form = page(client.get(f"/staff/youth/{youth_id}/book", headers=EN))
    assert 'name="guardian_name"' not in form
    assert "Please ask the front desk to add one" in form
    response = follow_up(
        client,
        youth_id,
        f"{NEXT_DAY}T16:00",
        guardian_name="Marta Reyes",
        guardian_relationship="parent",
        guardian_phone="(415) 555-0177",
    )
    assert response.status_code == 422  # the typed guardian is not taken from a clinician
    assert "Please ask the front desk to add one and book this session" in page(response)
    assert count(Appointment) == 0


def test_a_guardian_given_on_an_earlier_booking_counts_as_on_file(as_role):
    youth_id = add_youth("Luis", "Reyes", date(2010, 1, 10))
    add_visit(
        youth_id,
        date(2026, 8, 25),
        intake={
            "guardian_name": "Marta Reyes",
            "guardian_relationship": "parent",
            "guardian_phone": GUARDIAN_PHONE,
        },
    )
    response = follow_up(as_role(StaffRole.CLINICIAN), youth_id, f"{NEXT_DAY}T16:00")
    assert response.status_code == 303
    newest = db.session.scalars(select(Intake).order_by(Intake.id.desc())).first()
    assert newest.guardian_name == "Marta Reyes"


def test_follow_up_when_already_booked_shows_that_appointment(as_role, ana):
    booked = add_visit(ana, date(2026, 12, 29), time(17, 0), status="booked")
    code = db.session.get(Appointment, booked).code
    client = as_role(StaffRole.CLINICIAN)
    notice = page(client.get(f"/staff/youth/{ana}/book", headers=EN))
    assert f"already has an upcoming appointment: {code} on Tuesday, December 29, 2026" in notice
    response = follow_up(client, ana, f"{EARLIEST}T16:00")
    assert response.status_code == 422
    assert f"{code} on Tuesday, December 29, 2026 at 5:00" in page(response)
    assert db.session.scalar(select(func.count()).where(Appointment.youth_id == ana)) == 3


# --- Merging -----------------------------------------------------------------------------


@pytest.fixture
def twins(users):
    """Two records of one youth: the kept one with a phone and a treatment, the other (a
    spelling variant) with an email, a guardian, two visits and a treatment."""
    clinician = users[StaffRole.CLINICIAN].id
    kept = add_youth("Ana", "Flores", date(2007, 5, 1))
    add_treatment(kept, clinician, date(2026, 8, 25), 1)
    other = add_youth(
        "Anna",
        "Flores",
        date(2007, 5, 1),
        preferred="Annie",
        phone="+14155550111",
        email="anna@example.org",
        guardian=("Marta Flores", "parent", GUARDIAN_PHONE),
    )
    add_treatment(other, clinician, date(2026, 10, 27), 1)
    add_visit(other, date(2026, 9, 22), status="no_show")
    return kept, other


def test_merge_confirmation_shows_both_records(as_role, twins):
    kept, other = twins
    body = page(as_role(StaffRole.ADMIN).get(f"/staff/youth/{kept}/merge/{other}", headers=EN))
    assert "Keep this record" in body and "Merge this record into it" in body
    assert "Ana Flores" in body and "Anna Flores" in body
    assert PHONE_SHOWN in body and "anna@example.org" in body
    assert f'action="/staff/youth/{kept}/merge"' in body
    assert f'name="other_id" type="hidden" value="{other}"' in body
    assert f"/staff/youth/{other}/merge/{kept}" in body  # keep the other one instead


def test_admin_merges_two_records(as_role, twins):
    kept, other = twins
    client = as_role(StaffRole.ADMIN)
    response = client.post(f"/staff/youth/{kept}/merge", data={"other_id": str(other)})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/youth/{kept}"

    assert db.session.scalar(select(func.count()).where(Appointment.youth_id == other)) == 0
    assert db.session.scalar(select(func.count()).where(Treatment.youth_id == other)) == 0
    survivor, merged = db.session.get(Youth, kept), db.session.get(Youth, other)
    assert merged.merged_into_id == kept
    # The kept record's own phone stays; what it lacked comes from the other.
    assert survivor.phone == PHONE
    assert survivor.email == "anna@example.org" and survivor.preferred_name == "Annie"
    assert (survivor.guardian_name, survivor.guardian_phone) == ("Marta Flores", GUARDIAN_PHONE)

    body = page(client.get(f"/staff/youth/{kept}", headers=EN))
    assert "Records merged" in body
    assert "Sessions so far</dt><dd>2</dd>" in body
    assert "Possibly the same youth" not in body
    # The other spelling still finds the survivor, and only it.
    found = page(search(client, "anna"))
    assert f'href="/staff/youth/{kept}"' in found and f'href="/staff/youth/{other}"' not in found


def outbox_kinds() -> list[str]:
    """The notices written for online requests that were not booked, oldest first."""
    db.session.rollback()
    declined = OutboxMessage.kind.in_(("already_booked", "too_soon"))
    return list(db.session.scalars(select(OutboxMessage.kind).where(declined)))


def test_after_a_merge_online_bookings_under_the_old_name_land_on_the_survivor(app, as_role, twins):
    kept, other = twins
    as_role(StaffRole.ADMIN).post(f"/staff/youth/{kept}/merge", data={"other_id": str(other)})
    youth_client = app.test_client()
    # The merged record's treatment on 27 October counts: 24 November is too soon.
    too_soon = youth_client.post(
        intake_url(),
        data=intake_data(first_name="Anna", last_name="Flores", date_of_birth="2007-05-01"),
        headers=EN,
    )
    # Online, the answer is the same as anyone's; the youth hears why at the contact on file.
    assert too_soon.status_code == 303
    assert outbox_kinds() == ["too_soon"]
    response = youth_client.post(
        intake_url(day=date(2026, 12, 22)),
        data=intake_data(
            first_name="Anna",
            last_name="Flores",
            date_of_birth="2007-05-01",
            submission_key="y" * 32,
        ),
    )
    assert response.status_code == 303
    booked = db.session.scalars(select(Appointment).where(Appointment.status == "booked")).one()
    assert booked.youth_id == kept
    assert count(Youth) == 2  # no third record

    # The survivor now holds an upcoming appointment: the old name cannot book a second one.
    again = app.test_client().post(
        intake_url(day=date(2026, 12, 29)),
        data=intake_data(
            first_name="Anna",
            last_name="Flores",
            date_of_birth="2007-05-01",
            submission_key="z" * 32,
        ),
        headers=EN,
    )
    assert again.status_code == 303
    assert outbox_kinds().count("already_booked") == 1
    assert db.session.scalar(select(func.count()).where(Appointment.status == "booked")) == 1


def test_merging_a_record_into_itself_is_refused(as_role, ana):
    client = as_role(StaffRole.ADMIN)
    body = page(client.get(f"/staff/youth/{ana}/merge/{ana}", headers=EN))
    assert "cannot be merged into itself" in body and "Merge into the record" not in body
    response = client.post(f"/staff/youth/{ana}/merge", data={"other_id": str(ana)}, headers=EN)
    assert response.status_code == 422
    assert "cannot be merged into itself" in page(response)
    assert db.session.get(Youth, ana).merged_into_id is None


def test_merging_into_or_from_a_merged_record_is_refused(as_role, twins):
    kept, other = twins
    third = add_youth("Ana", "Flores Soto", date(2007, 5, 1), phone=None, merged_into=kept)
    client = as_role(StaffRole.ADMIN)
    response = client.post(f"/staff/youth/{third}/merge", data={"other_id": str(other)}, headers=EN)
    assert response.status_code == 422
    assert "This record was merged into another one" in page(response)
    response = client.post(f"/staff/youth/{other}/merge", data={"other_id": str(third)}, headers=EN)
    assert response.status_code == 422
    assert "The other record was already merged" in page(response)
    assert db.session.get(Youth, other).merged_into_id is None
    assert db.session.scalar(select(func.count()).where(Appointment.youth_id == other)) == 2


def test_merging_two_records_that_both_hold_an_upcoming_appointment_is_refused(as_role, twins):
    kept, other = twins
    first = add_visit(kept, NEXT_DAY, status="booked")
    second = add_visit(other, date(2026, 12, 22), status="booked")
    codes = db.session.get(Appointment, first).code, db.session.get(Appointment, second).code
    client = as_role(StaffRole.ADMIN)
    notice = page(client.get(f"/staff/youth/{kept}/merge/{other}", headers=EN))
    assert "Both records have an upcoming appointment" in notice
    assert "Merge into the record" not in notice
    response = client.post(f"/staff/youth/{kept}/merge", data={"other_id": str(other)}, headers=EN)
    assert response.status_code == 422
    body = page(response)
    assert f"{codes[0]} on Tuesday, November 24, 2026 on the record to keep" in body
    assert f"{codes[1]} on Tuesday, December 22, 2026 on the other one" in body
    assert db.session.get(Youth, other).merged_into_id is None
    assert db.session.scalar(select(func.count()).where(Appointment.youth_id == other)) == 3


def test_an_upcoming_appointment_on_one_side_moves_with_the_merge(as_role, twins):
    kept, other = twins
    upcoming = add_visit(other, NEXT_DAY, status="booked")
    response = as_role(StaffRole.ADMIN).post(
        f"/staff/youth/{kept}/merge", data={"other_id": str(other)}
    )
    assert response.status_code == 303
    assert db.session.get(Appointment, upcoming).youth_id == kept


@pytest.mark.parametrize("data", [{}, {"other_id": ""}, {"other_id": "abc"}])
def test_merge_without_a_readable_other_record_is_explained(as_role, ana, data):
    response = as_role(StaffRole.ADMIN).post(f"/staff/youth/{ana}/merge", data=data, headers=EN)
    assert response.status_code == 422
    assert "Nothing was merged" in page(response)


def test_records_merged_into_a_merged_record_follow_it(users, twins):
    kept, other = twins
    older = add_youth("Ana", "Florez", date(2007, 5, 1), phone=None)
    admin = users[StaffRole.ADMIN]
    records.merge(other, older, admin, NEXT_DAY)
    records.merge(kept, other, admin, NEXT_DAY)
    # Always one step to the survivor, which is what booking follows.
    assert db.session.get(Youth, older).merged_into_id == kept
    assert db.session.get(Youth, other).merged_into_id == kept


STAGGER = (0, 0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)  # seconds


def test_a_merge_racing_a_booking_never_leaves_two_upcoming_appointments(app):
    """An admin merges "Anna" into "Ana" (who holds an upcoming appointment) while Anna books
    online, at the same moment: either the booking lands first and the merge is refused, or
    the merge does and the booking is refused as already booked. Never both."""
    admin = SimpleNamespace(role="admin")  # the use case reads only the role
    birth = date(2007, 5, 1)
    seen = []
    for trial in range(len(STAGGER)):
        last = f"Race {trial}"
        kept = add_youth("Ana", last, birth, phone=None)
        at = time(16 + trial // 3, trial % 3 * 20)  # a time of its own: seats never run out
        add_visit(kept, EARLIEST, at, status="booked")
        other = add_youth("Anna", last, birth, phone=None)
        start = threading.Barrier(2)
        outcome = {}

        def merge(kept=kept, other=other, start=start, outcome=outcome, trial=trial):
            with app.app_context():
                start.wait()
                # Staggered, so that across the trials each side also gets to go first.
                sleep(STAGGER[trial])
                try:
                    records.merge(kept, other, admin, NEXT_DAY)
                    outcome["merge"] = "merged"
                except records.MergeRefused as refusal:
                    outcome["merge"] = refusal.reason
                finally:
                    db.session.remove()

        def book(last=last, trial=trial, at=at, start=start, outcome=outcome):
            client = app.test_client()
            start.wait()
            response = client.post(
                intake_url(start=at),
                data=intake_data(
                    slot_time=at.strftime("%H:%M"),
                    first_name="Anna",
                    last_name=last,
                    date_of_birth=birth.isoformat(),
                    submission_key=f"race-{trial}-" + "r" * 20,
                ),
            )
            outcome["book"] = response.status_code

        threads = [threading.Thread(target=merge), threading.Thread(target=book)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        db.session.rollback()  # read what the threads wrote (SQLite reads one snapshot)
        # Online, a declined request answers like a booked one (the youth is written to).
        assert outcome["book"] == 303 and outcome["merge"] in ("both_upcoming", "merged")
        seen.append(outcome["merge"])
        upcoming = db.session.scalar(
            select(func.count())
            .select_from(Appointment)
            .join(Youth)
            .where(Appointment.status == "booked", Youth.last_name == last)
        )
        assert upcoming == (2 if outcome["merge"] == "both_upcoming" else 1)
        survivor_upcoming = db.session.scalar(
            select(func.count()).where(Appointment.youth_id == kept, Appointment.status == "booked")
        )
        assert survivor_upcoming == 1
    print("\nmerge racing a booking, merge outcomes:", seen)


@pytest.mark.parametrize("other", ["99999999999999999999", str(2**31), "-3", "0", "²"])
def test_merging_with_an_id_beyond_any_row_is_refused_not_a_crash(as_role, ana, other):
    """Regression: a 20-digit other_id went to the database, which cannot hold it (500)."""
    response = as_role(StaffRole.ADMIN).post(f"/staff/youth/{ana}/merge", data={"other_id": other})
    assert response.status_code == 422
    assert db.session.get(Youth, ana).merged_into_id is None


def test_a_record_has_one_address_in_ascii_digits(as_role, ana):
    """``\\d`` matched other scripts' digits, and int() reads '٣' as 3: the record answered
    under a second address. Zero is no row id either."""
    admin = as_role(StaffRole.ADMIN)
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in str(ana))
    assert admin.get(f"/staff/youth/{ana}").status_code == 200
    assert admin.get(f"/staff/youth/{arabic_indic}").status_code == 404
    assert admin.get("/staff/youth/0").status_code == 404
    assert admin.get(f"/staff/youth/{'9' * 20}").status_code == 404
