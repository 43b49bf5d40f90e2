"""Trying the app from a fresh clone: in development the outbox writes each e-mail and text
into a letterbox folder (``LETTERBOX_DIR``), which production refuses; ``make run``'s worker
loop also sweeps the seat offers before each look at the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from clinic import create_app
from clinic.commands import messages as messages_command
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import outbox, transports, worker
from clinic.models import (
    Appointment,
    ListEntry,
    ListKind,
    OfferStatus,
    OutboxMessage,
    SeatOffer,
    Slot,
    naive_utc,
)
from clinic.rules.messages import Kind
from config import INSTANCE_DIR, DevelopmentConfig, ProductionConfig, TestingConfig
from tests.conftest import NEXT_DAY, NOW
from tests.support.outbox import book_at, run_at


def test_only_development_has_a_letterbox_and_production_refuses_one(monkeypatch):
    assert str(INSTANCE_DIR / "letterbox") == DevelopmentConfig.LETTERBOX_DIR
    assert not getattr(TestingConfig, "LETTERBOX_DIR", None)
    assert not getattr(ProductionConfig, "LETTERBOX_DIR", None)
    monkeypatch.setenv("CLINIC_ENV", "production")
    for name, value in {
        "SECRET_KEY": "a production key",
        "DATA_KEYS": TestingConfig.DATA_KEYS,
        "BLIND_INDEX_KEY": TestingConfig.BLIND_INDEX_KEY,
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "RATELIMIT_SINGLE_PROCESS": True,  # not the point here
    }.items():
        monkeypatch.setattr(ProductionConfig, name, value)
    assert create_app().config["CLINIC_ENV"] == "production"
    monkeypatch.setattr(ProductionConfig, "LETTERBOX_DIR", "/tmp/letters", raising=False)
    with pytest.raises(RuntimeError, match="LETTERBOX_DIR is for development only"):
        create_app()


def test_a_letterbox_stands_in_for_both_providers(app, tmp_path):
    assert transports.configured_channels() == ()  # the tests' configuration has none
    app.config["LETTERBOX_DIR"] = str(tmp_path / "letterbox")
    assert transports.configured_channels() == ("email", "sms")
    # A mail server set up on the laptop is not used while the letterbox is on.
    app.config["MAIL_SERVER"] = "127.0.0.1"
    app.config["MAIL_PORT"] = 9  # nothing listens there
    book_at(0, email="ana@example.org", contact_by="email")
    book_at(1)
    assert run_at(NOW).sent == 2
    files = sorted((tmp_path / "letterbox").iterdir())
    assert [f.suffix for f in files] == [".txt", ".txt"]  # and no half-written file left
    texts = {f.name.split("-")[2]: f.read_text(encoding="utf-8") for f in files}
    email, sms = texts["email"], texts["sms"]
    assert email.startswith(
        "To: ana@example.org\nSubject: You are booked: Tue, Nov 24, 4:00\u202fPM\n"
        "Attachments: appointment.ics\n\nHi Youtha,\n"
    )
    assert "Change or cancel: http://127.0.0.1:5000/my/" in email
    assert sms.startswith("To: +14155550001\n\nMission Youth Clinic: you are booked for ")
    assert "Change or cancel: http://127.0.0.1:5000/my/" in sms and "\u202f" not in sms


def test_the_worker_loop_runs_its_hook_before_each_look_at_the_outbox(app, sent, monkeypatch):
    app.config["OUTBOX_POLL_SECONDS"] = 0
    monkeypatch.setattr(outbox, "schedule_reminders", lambda now: 0)
    appointment = db.session.get(Appointment, book_at(0))
    entry = ListEntry(youth_id=appointment.youth_id, kind=ListKind.PROGRAM, phone="+14155550199")
    db.session.add(entry)
    db.session.commit()
    run_at(NOW)  # the booking's confirmation
    del sent[:]
    stopping = worker.threading.Event()
    seen = []

    def before_each_poll(now: datetime) -> None:
        # What the hook queues (as a sweep's offer would) goes out in the same turn.
        seen.append((now.tzinfo, len(sent)))
        if len(seen) == 1:
            with write_transaction():
                outbox.joined_list(entry.id, now)
        else:
            stopping.set()

    worker.run_forever(stopping, before_each_poll=before_each_poll)
    assert seen == [(UTC, 0), (UTC, 1)]


def _due_offer(n: int) -> int:
    """Youth ``n`` on standby, holding a seat (counted in the slot, as an offer holds one)
    offered to them until an hour ago."""
    appointment = db.session.get(Appointment, book_at(n))
    entry = ListEntry(
        youth_id=appointment.youth_id,
        kind=ListKind.STANDBY,
        day=NEXT_DAY,
        phone=f"+1415555019{n}",
        language="en",
    )
    db.session.add(entry)
    db.session.flush()
    db.session.execute(
        update(Slot).where(Slot.id == appointment.slot_id).values(booked=Slot.booked + 1)
    )
    offer = SeatOffer(
        entry_id=entry.id,
        slot_id=appointment.slot_id,
        expires_at=naive_utc(NOW - timedelta(hours=1)),
    )
    db.session.add(offer)
    db.session.commit()
    return offer.id


def test_the_outbox_command_sweeps_the_offers_at_most_every_half_minute(app, monkeypatch):
    """The command's hook is the offers' own sweep: a due offer lapses and its youth hears of
    it. A second call within ``SWEEP_SECONDS`` does nothing."""
    offer = _due_offer(0)
    clock = [1000.0]
    monkeypatch.setattr(messages_command.time, "monotonic", lambda: clock[0])
    sweep = messages_command._offer_sweeper()
    sweep(NOW.astimezone(UTC))
    db.session.rollback()
    assert db.session.get(SeatOffer, offer).status == OfferStatus.LAPSED
    told = db.session.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.entry_id.is_not(None))
    ).all()
    assert Kind.OFFER_LAPSED in told
    # Another offer falls due; within half a minute, the hook leaves it for the next sweep.
    later = _due_offer(2)  # at 16:20: the 16:00 slot is full
    clock[0] += messages_command.SWEEP_SECONDS - 1
    sweep(NOW.astimezone(UTC))
    db.session.rollback()
    assert db.session.get(SeatOffer, later).status == OfferStatus.OPEN
    clock[0] += 1
    sweep(NOW.astimezone(UTC))
    db.session.rollback()
    assert db.session.get(SeatOffer, later).status == OfferStatus.LAPSED
