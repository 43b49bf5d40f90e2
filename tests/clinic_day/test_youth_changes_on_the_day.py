"""A youth's own change from their link, as the clinic day sees it: staff cannot "undo" it
(it was no mis-tap of theirs: if the youth wants the seat back, staff book them again)."""

from __future__ import annotations

import pytest

from clinic import clinic_day, settings
from clinic.booking import manage
from clinic.extensions import db
from clinic.models import Actor, Appointment, AppointmentStatus, StaffRole
from tests.conftest import NOW
from tests.support.youth_links import book


def test_staff_cannot_undo_a_youths_own_cancellation(app, staff):
    rules = settings.current_rules()
    appointment_id = book(1)
    manage.cancel_by_youth(appointment_id, rules, NOW)

    last = clinic_day.last_change(appointment_id)
    assert (last.action, last.actor, last.staff_id) == ("cancel", Actor.YOUTH, None)
    for role in (StaffRole.FRONT_DESK, StaffRole.ADMIN):
        assert not clinic_day.undoable(last, role, NOW.date(), rules)
        with pytest.raises(clinic_day.NothingToUndo):
            clinic_day.undo(appointment_id, staff[role], NOW, rules)
    db.session.expire_all()
    assert db.session.get(Appointment, appointment_id).status == AppointmentStatus.CANCELLED


def test_a_staff_cancellation_can_still_be_undone(app, staff):
    rules = settings.current_rules()
    appointment_id = book(2)
    clinic_day.cancel(appointment_id, staff[StaffRole.FRONT_DESK], NOW, rules)

    last = clinic_day.last_change(appointment_id)
    assert last.actor == Actor.STAFF
    assert clinic_day.undoable(last, StaffRole.FRONT_DESK, NOW.date(), rules)
    clinic_day.undo(appointment_id, staff[StaffRole.FRONT_DESK], NOW, rules)
    db.session.expire_all()
    assert db.session.get(Appointment, appointment_id).status == AppointmentStatus.BOOKED
