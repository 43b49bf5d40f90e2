"""Merging two records of one youth carries their standby and waiting-list places along,
without ever giving the kept record two places on one list."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from clinic import records
from clinic.extensions import db
from clinic.models import EntryStatus, ListEntry, ListKind, StaffRole, Youth
from tests.conftest import NEXT_DAY, NOW

LATER_DAY = date(2026, 12, 22)


def _youth(first: str) -> int:
    youth = Youth(
        identity_key=Youth.make_identity_key(first, "Merge", date(2004, 4, 4)),
        first_name=first,
        last_name="Merge",
        search_name=Youth.make_search_name(first, "Merge", None),
        date_of_birth=date(2004, 4, 4),
        phone="+14155550199",
    )
    db.session.add(youth)
    db.session.flush()
    return youth.id


def _entry(youth_id: int, kind: ListKind, day: date | None = None, status=EntryStatus.WAITING):
    entry = ListEntry(
        kind=kind, youth_id=youth_id, day=day, status=status, phone="+14155550199", answers={}
    )
    db.session.add(entry)
    db.session.flush()
    return entry.id


def test_merging_moves_list_places_but_never_two_on_one_list(app, staff):
    kept, other = _youth("Kept"), _youth("Other")
    kept_standby = _entry(kept, ListKind.STANDBY, NEXT_DAY)
    # The other record waits on the same day's list (kept has it), another day's, and the
    # program list; and once left a list.
    same_day = _entry(other, ListKind.STANDBY, NEXT_DAY)
    other_day = _entry(other, ListKind.STANDBY, LATER_DAY)
    program = _entry(other, ListKind.PROGRAM)
    left = _entry(other, ListKind.STANDBY, NEXT_DAY, status=EntryStatus.LEFT)
    db.session.commit()

    records.merge(kept, other, staff[StaffRole.ADMIN], NOW.date())

    db.session.expire_all()
    owner = dict(db.session.execute(select(ListEntry.id, ListEntry.youth_id)).all())
    assert owner[kept_standby] == kept
    assert owner[other_day] == owner[program] == owner[left] == kept
    # One waiting place per list: the duplicate stays on the merged record, which books the
    # kept one if its offer ever comes.
    assert owner[same_day] == other
    assert db.session.get(Youth, other).merged_into_id == kept
