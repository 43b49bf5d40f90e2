"""Limits on what an outsider can repeat: booking requests per address and per contact, the
availability API, messages per destination; and production refuses per-process counters.
(Several gunicorn workers sharing real Redis: tests/concurrency/test_limits_across_workers.py.)
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from clinic import create_app
from clinic.extensions import db
from clinic.models import Appointment, MessageStatus, OutboxMessage, Youth
from config import ProductionConfig, TestingConfig
from tests.conftest import intake_data, intake_url
from tests.support.outbox import run_at

LATER_DAY = date(2026, 12, 22)
EN = {"Accept-Language": "en"}


def post(client, n: int, address: str = "10.1.1.1", day=LATER_DAY, lang="en", **answers):
    """Person ``n`` (an invented name, their own phone) asks for 16:00 from ``address``."""
    minutes = 16 * 60 + 20 * ((n - 1) // 2 % 12)  # two people to each slot's two seats
    start = f"{minutes // 60:02d}:{minutes % 60:02d}"
    data = intake_data(
        **{
            "first_name": f"Invented{n}",
            "last_name": "Person",
            "phone": f"415 555 {n:04d}",
            "submission_key": f"key-{n}-" + "x" * 24,
            "language": "en",
            "slot_time": start,
            **answers,
        }
    )
    return client.post(
        f"/book/{day.isoformat()}/{start}",
        data=data,
        headers={"Accept-Language": lang},
        environ_base={"REMOTE_ADDR": address},
    )


def booked() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Appointment))


def test_a_script_booking_invented_people_is_stopped_after_a_few(app, client):
    app.config["BOOKING_LIMIT_PER_ADDRESS"] = "5 per hour;10 per day"
    statuses = [post(client, n).status_code for n in range(1, 9)]
    assert statuses == [303] * 5 + [429] * 3
    assert booked() == 5
    assert db.session.scalar(select(func.count()).select_from(Youth)) == 5  # nothing half written


def test_the_limited_visitor_keeps_what_they_typed_and_hears_when_to_come_back(app, client):
    app.config["BOOKING_LIMIT_PER_ADDRESS"] = "1 per hour"
    assert post(client, 1).status_code == 303
    refused = post(client, 2, lang="es", tattoo_notes="una rosa pequeña")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Invented2" in page and "415 555 0002" in page and "una rosa pequeña" in page
    assert "Ya recibimos varias solicitudes de cita desde aquí" in page  # in Spanish
    assert 1 <= int(refused.headers["Retry-After"]) <= 3601
    assert refused.headers["Cache-Control"] == "no-store"


def test_corrections_do_not_count_only_requests_received(app, client):
    app.config["BOOKING_LIMIT_PER_ADDRESS"] = "2 per hour"
    for _ in range(5):  # a youth fixing a wrong birth date, again and again
        assert post(client, 1, date_of_birth="2030-01-01").status_code == 422
    assert post(client, 1).status_code == 303
    assert post(client, 2).status_code == 303
    assert post(client, 3).status_code == 429


def test_one_contact_is_limited_from_any_address(app, client):
    app.config["BOOKING_LIMIT_PER_CONTACT"] = "2 per day"
    same_phone = {"phone": "(415) 555-7777"}
    assert post(client, 1, "10.0.0.1", **same_phone).status_code == 303
    assert post(client, 2, "10.0.0.2", **same_phone).status_code == 303
    assert post(client, 3, "10.0.0.3", phone="415.555.7777").status_code == 429  # same number
    assert post(client, 4, "10.0.0.4").status_code == 303  # another number


def test_the_availability_api_is_limited_per_address(app, client):
    app.config["AVAILABILITY_LIMIT_PER_ADDRESS"] = "3 per minute"
    get = lambda address: client.get(  # noqa: E731
        "/api/availability", environ_base={"REMOTE_ADDR": address}
    )
    assert [get("10.2.2.2").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = get("10.2.2.2")
    assert limited.is_json and limited.get_json() == {"error": "too_many_requests"}
    assert int(limited.headers["Retry-After"]) == 60
    assert get("10.3.3.3").status_code == 200  # someone else


def test_messages_to_one_destination_wait_once_it_had_its_share(app, client, sent, clock):
    app.config["MESSAGES_PER_DESTINATION"] = "2 per day"
    for n in range(1, 4):  # three people typing the same stranger's number
        assert post(client, n, f"10.0.0.{n}", phone="(415) 555-4242").status_code == 303
    report = run_at(clock.now)
    assert len(sent) == 2 and report.held == 1
    db.session.rollback()
    held = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "confirmation")
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert held.status == MessageStatus.QUEUED and held.attempts == 0
    assert held.last_error is None
    # Held for the rest of the window, not dropped: it waits its turn.
    report = run_at(clock.now)
    assert len(sent) == 2


def test_production_refuses_counters_kept_in_each_process(monkeypatch):
    monkeypatch.setenv("CLINIC_ENV", "production")
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "a production key")
    monkeypatch.setattr(ProductionConfig, "DATA_KEYS", TestingConfig.DATA_KEYS)
    monkeypatch.setattr(ProductionConfig, "BLIND_INDEX_KEY", TestingConfig.BLIND_INDEX_KEY)
    monkeypatch.setattr(ProductionConfig, "SQLALCHEMY_DATABASE_URI", "sqlite://")
    monkeypatch.setattr(ProductionConfig, "RATELIMIT_STORAGE_URI", "memory://")
    with pytest.raises(RuntimeError, match="RATELIMIT_STORAGE_URI is memory://"):
        create_app()
    # Said out loud, a single process may keep them; and the shared store is always fine.
    monkeypatch.setattr(ProductionConfig, "RATELIMIT_SINGLE_PROCESS", True)
    assert create_app().config["CLINIC_ENV"] == "production"
    monkeypatch.setattr(ProductionConfig, "RATELIMIT_SINGLE_PROCESS", False)
    monkeypatch.setattr(ProductionConfig, "RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/15")
    assert create_app().config["CLINIC_ENV"] == "production"


def test_the_intake_form_itself_is_never_limited(app, client):
    app.config["BOOKING_LIMIT_PER_ADDRESS"] = "1 per hour"
    assert post(client, 1).status_code == 303
    assert post(client, 2).status_code == 429
    assert client.get(intake_url(), environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 200


def test_moving_between_steps_is_never_limited_only_booking_is(app, client):
    app.config["BOOKING_LIMIT_PER_ADDRESS"] = "1 per hour"
    assert post(client, 1).status_code == 303
    # Over the limit, the next youth on the same wifi still goes through the steps...
    for step, go in (("about", "next"), ("tattoo", "next"), ("check", "back")):
        moved = post(client, 2, step=step, go=go, health_any="yes")
        assert moved.status_code == 200, step
        assert "Invented2" in moved.get_data(as_text=True)
    # ... and hears about the limit where it applies: when asking to book.
    assert post(client, 2, step="check", go="book").status_code == 429
    assert booked() == 1
