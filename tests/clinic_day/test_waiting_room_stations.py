"""The waiting-room screen shows the stations open that day: one per clinician rostered."""

from __future__ import annotations

from clinic.extensions import db
from clinic.models import RosterEntry, StaffRole
from tests.conftest import NEXT_DAY


def stations_on_the_board(client) -> list[str]:
    page = client.get("/now-serving/board", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    return [name for name in ("Laser 1", "Laser 2") if name in text]


def test_the_board_shows_one_station_per_clinician_rostered(app, client, clock, make_staff):
    clock.set(clock.now.replace(year=NEXT_DAY.year, month=NEXT_DAY.month, day=NEXT_DAY.day))
    assert stations_on_the_board(client) == ["Laser 1", "Laser 2"]  # no roster: every station
    clinician = make_staff(StaffRole.CLINICIAN)
    db.session.add(RosterEntry(day=NEXT_DAY, staff_id=clinician.id))
    db.session.commit()
    assert stations_on_the_board(client) == ["Laser 1"]
