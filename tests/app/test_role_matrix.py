"""The access matrix: every staff route, as each role and as an anonymous visitor.

The expected roles are written out here by hand, apart from the code that enforces them
(``clinic/permissions.py`` and the guard in ``clinic/web/staff/__init__.py``), so a route
given the wrong action, or a new route nobody placed in the matrix, fails this test.
"""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from clinic.extensions import db
from clinic.models import Appointment, ListEntry, ListKind, OutboxMessage, StaffRole, Youth
from tests.conftest import NEXT_DAY, PASSWORD, intake_data, intake_url
from tests.conftest import sign_in as form_sign_in

A, D, C = StaffRole.ADMIN, StaffRole.FRONT_DESK, StaffRole.CLINICIAN
EVERYONE = {A, D, C}
DESK = {A, D}

EXPECTED = {
    # The clinic day
    "staff.index": EVERYONE,
    "staff.day_picker": EVERYONE,
    "staff.day": EVERYONE,
    "staff.queue_fragment": EVERYONE,
    "staff.check_in": DESK,
    "staff.record_consent": DESK,
    "staff.walk_in": DESK,
    "staff.no_show": DESK,
    "staff.no_shows": DESK,
    "staff.cancel_appointment": DESK,
    "staff.call": {C},
    "staff.call_next": {C},
    "staff.complete": {C},
    "staff.undo": EVERYONE,  # the use case then asks for the right to the move undone
    # Youth records
    "staff.youth_search": EVERYONE,
    "staff.youth_record": EVERYONE,
    "staff.book_follow_up": EVERYONE,
    # The desk's tools for a youth's details and bookings (issue 16)
    "staff.edit_youth": DESK,
    "staff.use_new_details": DESK,
    "staff.move_booking": DESK,
    "staff.book_for_caller": DESK,
    "staff.find_caller": DESK,
    "staff.merge_youth": {A},
    "staff.merge_youth_confirm": {A},
    # The youth's rights: their data exported, or erased on request
    "staff.youth_export": {A},
    "staff.erase_youth_confirm": {A},
    "staff.erase_youth": {A},
    # Standby and waiting lists: everyone sees them, the desk changes them
    "staff.lists_overview": EVERYONE,
    "staff.standby_list": EVERYONE,
    "staff.program_list": EVERYONE,
    "staff.move_entry": DESK,
    "staff.remove_entry": DESK,
    "staff.invite_entry": DESK,
    # Messages to youth: where they went is contact detail
    "staff.messages": DESK,
    "staff.resend_message": DESK,
    # Running the clinic
    "staff.schedule": {A},
    "staff.schedule_day": {A},
    "staff.schedule_cancelled": {A},
    "staff.schedule_block_slot": {A},
    "staff.schedule_unblock_slot": {A},
    "staff.schedule_add_extra": {A},
    "staff.accounts": {A},
    "staff.new_account": {A},
    "staff.create_account": {A},
    "staff.account": {A},
    "staff.deactivate_account": {A},
    "staff.reactivate_account": {A},
    "staff.reset_password": {A},
    "staff.change_role": {A},
    "staff.unlock_sign_in": {A},
    "staff.reset_two_factor": {A},
    "staff.settings": {A},
    # The audit trail: read and exported by admins, written by nobody
    "staff.audit_trail": {A},
    "staff.audit_export": {A},
    # The funder's numbers: admins, unless REPORTS_ROLES gives them to another role
    "staff.reports": {A},
    "staff.report_download": {A},
    "staff.report_visits_csv": {A},
    "staff.report_visits_xlsx": {A},
    "staff.own_password": EVERYONE,
    "staff.own_two_factor": EVERYONE,
    "staff.own_two_factor_start": EVERYONE,
    "staff.own_two_factor_setup": EVERYONE,
    "staff.own_two_factor_off": EVERYONE,
    "staff.own_recovery_codes": EVERYONE,
}


@pytest.fixture
def world(app, client, make_staff):
    """A booking (two youth), a staff account to act on, and one signed-in client per role."""
    client.post(intake_url(), data=intake_data())
    client.post(
        intake_url(),
        data=intake_data(first_name="Ana María", submission_key="z" * 32, phone="4155550999"),
    )
    youth_ids = db.session.scalars(select(Youth.id).order_by(Youth.id)).all()
    # The second youth waits on the day's standby list too.
    entry = ListEntry(
        kind=ListKind.STANDBY, youth_id=youth_ids[1], day=NEXT_DAY, answers={}, language="en"
    )
    db.session.add(entry)
    db.session.commit()
    target = make_staff(StaffRole.FRONT_DESK, email="target@clinic.test")
    clients = {}
    for role in StaffRole:
        user = make_staff(role, email=f"acting-{role.value}@clinic.test")
        signed_in = app.test_client()
        response = form_sign_in(signed_in, user.email, PASSWORD)
        assert response.status_code == 303, role
        clients[role] = signed_in
    values = {
        "day": NEXT_DAY,
        "appointment_id": db.session.scalar(select(Appointment.id)),
        "youth_id": youth_ids[0],
        "other_id": youth_ids[1],
        "user_id": target.id,
        "start": time(16, 0),
        "message_id": db.session.scalar(select(OutboxMessage.id)),
        "entry_id": entry.id,
    }
    return clients, values


def staff_routes(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.")),
        key=lambda rule: (rule.endpoint, rule.rule),
    )


def test_every_staff_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in staff_routes(app)}
    assert endpoints == set(EXPECTED), endpoints ^ set(EXPECTED)


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(app, client, world):
    _clients, values = world
    for rule in staff_routes(app):
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code == 302, (rule.endpoint, method)
            assert response.headers["Location"].startswith("/auth/login"), rule.endpoint


@pytest.mark.parametrize("role", list(StaffRole))
def test_each_role_gets_exactly_its_routes(app, world, role):
    clients, values = world
    client = clients[role]
    checked = 0
    for rule in staff_routes(app):
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (
                rule.endpoint in ("staff.deactivate_account", "staff.change_role")
                and method == "POST"
            ):
                data = {"role": "clinician"}
            else:
                data = {}
            response = client.open(url, method=method, data=data)
            if role in EXPECTED[rule.endpoint]:
                # Allowed: served, redirected after a POST, or a form error (400 for a form
                # missing its hidden fields, as only a tampered one would), or 409 for a move
                # of the booking staff.cancel_appointment cancelled just before; never refused.
                assert response.status_code in (200, 302, 303, 400, 404, 409, 422), (
                    rule.endpoint,
                    method,
                    response.status_code,
                )
                if method == "GET" and rule.endpoint not in ("staff.index", "staff.day_picker"):
                    assert response.status_code == 200, (rule.endpoint, response.status_code)
            else:
                assert response.status_code == 403, (rule.endpoint, method, response.status_code)
                assert "Your account cannot open this page" in response.get_data(as_text=True)
            checked += 1
    assert checked >= len(EXPECTED)
