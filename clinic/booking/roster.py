"""Reading the clinician roster: how many clinicians work each clinic day, which sets the day's
seats per slot and its stations (``clinic.rules.calendar.plan_days``, ``day_stations``). Here,
below the schedule, because every reader of a day's plan (booking, the day sheet, the
schedule) needs it; the admin changes it through ``clinic.schedule``. Reads only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from clinic.extensions import db
from clinic.models import RosterEntry, StaffUser
from clinic.permissions import Role


def _working():
    """Roster rows that count: an active account that is a clinician now (a rostered
    clinician deactivated or moved to the desk no longer opens seats)."""
    return (
        select(RosterEntry.day, RosterEntry.staff_id)
        .join(StaffUser, StaffUser.id == RosterEntry.staff_id)
        .where(StaffUser.active.is_(True), StaffUser.role == Role.CLINICIAN)
    )


def rostered_counts(start: date, end: date) -> dict[date, int]:
    """The clinicians rostered on each day from ``start`` to ``end`` (inclusive), for
    ``plan_days(..., rostered=...)``; a day without a roster is absent. One statement."""
    rows = _working().where(RosterEntry.day.between(start, end)).subquery()
    return {
        day: count
        for day, count in db.session.execute(select(rows.c.day, func.count()).group_by(rows.c.day))
    }


def rostered_ids(day: date) -> frozenset[int]:
    """The ids of the clinicians who count on ``day``'s roster."""
    rows = _working().where(RosterEntry.day == day).subquery()
    return frozenset(db.session.scalars(select(rows.c.staff_id)))


def clinicians() -> list[StaffUser]:
    """Every active clinician, by name: whom the admin can roster."""
    return list(
        db.session.scalars(
            select(StaffUser)
            .where(StaffUser.active.is_(True), StaffUser.role == Role.CLINICIAN)
            .order_by(func.lower(StaffUser.name), StaffUser.id)
        )
    )
