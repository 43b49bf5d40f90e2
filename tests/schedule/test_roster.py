"""The clinician roster (admin): which clinicians work a clinic day, the seats per slot and
the stations that follow from it, and a roster change under bookings going through the same
"stranded bookings" choice as any schedule change. Service and pages."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from clinic import accounts, schedule, settings
from clinic.booking import roster
from clinic.extensions import db
from clinic.models import AuditEvent, RosterEntry, Slot, StaffRole
from clinic.permissions import NotAllowed
from clinic.rules.calendar import day_stations
from clinic.schedule import Hours, Resolution
from tests.conftest import FIRST_SLOT, NEXT_DAY
from tests.schedule.test_schedule import (
    LATER_DAY,
    NOT_A_CLINIC_DAY,
    PAST_DAY,
    book,
    counters_hold,
    start_of,
    status_of,
)
from tests.support.querycount import count_statements

EN = {"Accept-Language": "en"}


@pytest.fixture
def admin(make_staff):
    return make_staff(StaffRole.ADMIN)


@pytest.fixture
def rules(app):
    return settings.current_rules()


@pytest.fixture
def youth_client(app):
    return app.test_client()


@pytest.fixture
def clinicians(make_staff):
    """Three clinicians: Ana, Ben and Cruz."""
    people = []
    for name in ("Ana", "Ben", "Cruz"):
        person = make_staff(StaffRole.CLINICIAN, email=f"{name.lower()}@clinic.test")
        person.name = name
        people.append(person)
    db.session.commit()
    return people


def plan_of(day, rules):
    return schedule.day_editor(day, rules).plan


def rows(day=NEXT_DAY) -> set[int]:
    return set(db.session.scalars(select(RosterEntry.staff_id).where(RosterEntry.day == day)))


# --- The service ---------------------------------------------------------------------------


def test_the_roster_sets_the_days_seats_and_stations(app, admin, clinicians, rules, clock):
    ana, ben, _cruz = clinicians
    assert (plan_of(NEXT_DAY, rules).seats, plan_of(NEXT_DAY, rules).clinicians) == (2, 0)

    schedule.set_roster(NEXT_DAY, [ana.id], admin, clock.now, rules)
    plan = plan_of(NEXT_DAY, rules)
    assert (plan.seats, plan.clinicians) == (1, 1)  # one volunteer: one seat per slot
    assert day_stations(rules.stations, plan) == rules.stations[:1]
    assert {slot.seats for slot in schedule.day_editor(NEXT_DAY, rules).slots} == {1}
    assert plan_of(LATER_DAY, rules).seats == 2  # other days keep the defaults

    schedule.set_roster(NEXT_DAY, [ana.id, ben.id], admin, clock.now, rules)
    assert plan_of(NEXT_DAY, rules).seats == 2
    assert rows() == {ana.id, ben.id}

    schedule.set_roster(NEXT_DAY, [], admin, clock.now, rules)  # nobody: the ordinary day
    assert (plan_of(NEXT_DAY, rules).seats, plan_of(NEXT_DAY, rules).clinicians) == (2, 0)
    assert rows() == set()


def test_seats_per_clinician_is_a_setting(app, admin, clinicians, clock):
    app.config["SEATS_PER_CLINICIAN"] = 2
    rules = settings.current_rules()
    schedule.set_roster(NEXT_DAY, [c.id for c in clinicians[:2]], admin, clock.now, rules)
    assert plan_of(NEXT_DAY, rules).seats == 4


def test_seats_set_for_the_date_win_over_the_roster(app, admin, clinicians, rules, clock):
    schedule.change_hours(NEXT_DAY, Hours(seats=5), admin, clock.now, rules)
    schedule.set_roster(NEXT_DAY, [clinicians[0].id], admin, clock.now, rules)
    plan = plan_of(NEXT_DAY, rules)
    assert (plan.seats, plan.clinicians) == (5, 1)
    # Back to blank seats: the roster decides again.
    schedule.change_hours(NEXT_DAY, Hours(), admin, clock.now, rules)
    assert plan_of(NEXT_DAY, rules).seats == 1


def test_only_active_clinicians_can_be_rostered(app, admin, make_staff, clinicians, rules, clock):
    desk = make_staff(StaffRole.FRONT_DESK)
    gone = make_staff(StaffRole.CLINICIAN, email="gone@clinic.test", active=False)
    for wrong in ([desk.id], [gone.id], [admin.id], [clinicians[0].id, 999_999]):
        with pytest.raises(schedule.NotAClinician):
            schedule.set_roster(NEXT_DAY, wrong, admin, clock.now, rules)
    assert rows() == set()


def test_a_clinician_deactivated_no_longer_counts(app, admin, clinicians, rules, clock):
    ana, ben, _cruz = clinicians
    schedule.set_roster(NEXT_DAY, [ana.id, ben.id], admin, clock.now, rules)
    accounts.set_active(admin, ben.id, False)
    assert plan_of(NEXT_DAY, rules).clinicians == 1
    assert roster.rostered_ids(NEXT_DAY) == {ana.id}
    # Saving the roster again drops the deactivated one's row.
    schedule.set_roster(NEXT_DAY, [ana.id], admin, clock.now, rules)
    assert rows() == {ana.id}


def test_fewer_seats_under_bookings_ask_first(app, admin, clinicians, rules, clock, youth_client):
    older = book(youth_client, 1)
    newer = book(youth_client, 2)
    with pytest.raises(schedule.Stranding) as asked:
        schedule.set_roster(NEXT_DAY, [clinicians[0].id], admin, clock.now, rules)
    assert [a.id for a in asked.value.affected] == [newer.id]
    assert asked.value.options == (Resolution.CANCEL, Resolution.MOVE, Resolution.KEEP)
    assert rows() == set()  # nothing saved before the admin chooses

    done = schedule.set_roster(
        NEXT_DAY, [clinicians[0].id], admin, clock.now, rules, Resolution.MOVE, [newer.id]
    )
    assert done.moved == [(newer.code, FIRST_SLOT, time(16, 20))]
    assert start_of(older.id) == FIRST_SLOT
    assert rows() == {clinicians[0].id}
    assert {s.capacity for s in db.session.scalars(select(Slot))} == {1}
    counters_hold()


def test_keeping_or_cancelling_under_a_smaller_roster(
    app, admin, clinicians, rules, clock, youth_client
):
    book(youth_client, 1)
    second = book(youth_client, 2)
    schedule.set_roster(
        NEXT_DAY, [clinicians[0].id], admin, clock.now, rules, Resolution.KEEP, [second.id]
    )
    slot = db.session.scalar(select(Slot).where(Slot.start_time == FIRST_SLOT))
    assert (slot.booked, slot.capacity) == (2, 2)  # kept; no seat to take
    schedule.set_roster(NEXT_DAY, [], admin, clock.now, rules)
    third = book(youth_client, 3, start=time(16, 20))
    fourth = book(youth_client, 4, start=time(16, 20))
    done = schedule.set_roster(
        NEXT_DAY,
        [clinicians[0].id],
        admin,
        clock.now,
        rules,
        Resolution.CANCEL,
        [second.id, fourth.id],
    )
    assert set(done.cancelled) == {second.code, fourth.code}
    assert status_of(fourth.id) == "cancelled" and status_of(third.id) == "booked"
    counters_hold()


def test_more_clinicians_add_seats_without_asking(app, admin, clinicians, rules, clock):
    schedule.set_roster(NEXT_DAY, [c.id for c in clinicians], admin, clock.now, rules)
    assert plan_of(NEXT_DAY, rules).seats == 3


@pytest.mark.parametrize(
    ("day", "refusal"),
    [
        (PAST_DAY, schedule.DayPassed),
        (NOT_A_CLINIC_DAY, schedule.NotAClinicDay),
    ],
)
def test_a_roster_needs_a_clinic_day_ahead(app, admin, clinicians, rules, clock, day, refusal):
    with pytest.raises(refusal):
        schedule.set_roster(day, [clinicians[0].id], admin, clock.now, rules)


def test_a_closed_day_takes_no_roster(app, admin, clinicians, rules, clock):
    schedule.close_day(LATER_DAY, None, admin, clock.now, rules)
    with pytest.raises(schedule.NotAClinicDay):
        schedule.set_roster(LATER_DAY, [clinicians[0].id], admin, clock.now, rules)


@pytest.mark.parametrize("role", [StaffRole.FRONT_DESK, StaffRole.CLINICIAN])
def test_only_the_admin_sets_the_roster(app, make_staff, clinicians, rules, clock, role):
    someone = make_staff(role, email=f"other-{role.value}@clinic.test")
    with pytest.raises(NotAllowed):
        schedule.set_roster(NEXT_DAY, [clinicians[0].id], someone, clock.now, rules)


def test_roster_changes_are_audited(app, admin, clinicians, rules, clock):
    ana, ben, _cruz = clinicians
    schedule.set_roster(NEXT_DAY, [ana.id, ben.id], admin, clock.now, rules)
    schedule.set_roster(NEXT_DAY, [ben.id], admin, clock.now, rules)
    events = db.session.execute(
        select(AuditEvent.action, AuditEvent.staff_id).where(
            AuditEvent.object_type == "roster_entry"
        )
    ).all()
    assert sorted(action for action, _ in events) == ["create", "create", "delete"]


def test_the_counts_cost_one_statement_whatever_the_days(app, admin, clinicians, rules, clock):
    for day in (NEXT_DAY, LATER_DAY):
        schedule.set_roster(day, [c.id for c in clinicians[:2]], admin, clock.now, rules)
    with count_statements() as seen:
        counts = roster.rostered_counts(NEXT_DAY, LATER_DAY)
    assert counts == {NEXT_DAY: 2, LATER_DAY: 2}
    assert len(seen) == 1


# --- The pages -----------------------------------------------------------------------------


def test_the_day_page_ticks_the_roster(client, admin, login, clinicians, rules, clock):
    ana, _ben, cruz = clinicians
    login(admin)
    url = f"/staff/schedule/{NEXT_DAY}"
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "Clinicians working this day" in page
    for person in clinicians:
        assert f'value="{person.id}"> <span>{person.name}</span>' in page

    response = client.post(url, data={"change": "roster", "clinicians": [ana.id, cruz.id]})
    assert response.status_code == 303 and response.headers["Location"] == url
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "The day&#39;s roster is saved." in page or "The day's roster is saved." in page
    assert "2 clinicians: 2 seats per slot" in page
    assert f'checked id="clinicians-0" name="clinicians" type="checkbox" value="{ana.id}"' in page
    assert rows() == {ana.id, cruz.id}


@pytest.mark.parametrize("value", ["abc", "99999", "", "٣"])
def test_a_bad_roster_is_explained_not_a_500(client, admin, login, clinicians, value):
    login(admin)
    response = client.post(
        f"/staff/schedule/{NEXT_DAY}",
        data={"change": "roster", "clinicians": [str(clinicians[0].id), value]},
        headers=EN,
    )
    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True)
    assert rows() == set()


def test_a_smaller_roster_asks_on_the_page(client, admin, login, clinicians, youth_client):
    book(youth_client, 1)
    newer = book(youth_client, 2)
    login(admin)
    url = f"/staff/schedule/{NEXT_DAY}"
    form = {"change": "roster", "clinicians": [str(clinicians[0].id)]}
    asked = client.post(url, data=form, headers=EN)
    assert asked.status_code == 422
    page = asked.get_data(as_text=True)
    for choice in ("Cancel them", "Move them to the nearest free time", "Keep them"):
        assert choice in page
    # The confirmation repeats the roster as posted.
    assert f'name="clinicians" value="{clinicians[0].id}"' in page
    assert rows() == set()
    kept = client.post(url, data={**form, "resolution": "keep", "seen": str(newer.id)})
    assert kept.status_code == 303
    assert rows() == {clinicians[0].id}


def test_a_roster_with_an_account_deactivated_meanwhile_is_refused(
    client, admin, login, clinicians
):
    login(admin)
    url = f"/staff/schedule/{NEXT_DAY}"
    clinicians[1].active = False
    db.session.commit()
    response = client.post(url, data={"change": "roster", "clinicians": [clinicians[1].id]})
    assert response.status_code == 422
    assert rows() == set()


def test_the_overview_row_says_clinicians_and_seats(client, admin, login, clinicians, rules, clock):
    schedule.set_roster(NEXT_DAY, [c.id for c in clinicians[:2]], admin, clock.now, rules)
    login(admin)
    page = client.get("/staff/schedule", headers=EN).get_data(as_text=True)
    assert "2 clinicians: 2 seats per slot" in page
