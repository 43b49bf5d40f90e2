"""Messages about what youth do themselves and about the lists, as the outbox writes them and
the worker sends them: every message carries a fresh link that opens what it is about; a
youth's own cancel and move (reminders follow a move to another day, none is sent twice);
"here is your link" once a day; standby and waiting-list messages to the contact given with
the entry; an offered seat's message that goes only while the offer is open, and the lapse
that follows it.

The worker runs in this process at an explicit instant and writes into the development
letterbox (``LETTERBOX_DIR``, a temporary folder here), so each test reads the messages as a
developer would: addressee, subject and text body."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from clinic import settings
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import history, links, outbox
from clinic.models import (
    Appointment,
    AppointmentStatus,
    EntryStatus,
    ListEntry,
    ListKind,
    MessageStatus,
    OfferStatus,
    OutboxMessage,
    SeatOffer,
    Slot,
    StaffRole,
    naive_utc,
)
from clinic.rules.messages import Kind
from tests.conftest import LA, NEXT_DAY, NOW
from tests.support.outbox import EARLY_AT, book_at, messages, run_at

DECEMBER_DAY = date(2026, 12, 22)  # the next clinic day after NEXT_DAY
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=LA)
TOKEN = re.compile(r"/my/([A-Za-z0-9_-]{43})")


@dataclass
class Letter:
    to: str
    subject: str
    attachments: str
    body: str

    @property
    def token(self) -> str:
        (token,) = TOKEN.findall(self.body)
        return token


@pytest.fixture
def letterbox(app, tmp_path) -> Path:
    folder = tmp_path / "letterbox"
    app.config["LETTERBOX_DIR"] = str(folder)
    return folder


def letters(folder: Path) -> list[Letter]:
    """What the worker wrote into the letterbox, oldest first."""
    found = []
    for path in sorted(folder.glob("*.txt"), key=lambda p: p.stat().st_mtime_ns):
        head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
        fields = dict(line.split(": ", 1) for line in head.splitlines())
        found.append(
            Letter(
                to=fields["To"],
                subject=fields.get("Subject", "").replace("\u202f", " "),
                attachments=fields.get("Attachments", ""),
                body=body.replace("\u202f", " "),
            )
        )
    return found


def opens(token: str, now: datetime = NOW) -> links.Held | None:
    db.session.rollback()
    return links.resolve(token, now, settings.current_rules())


def move(appointment_id: int, day: date, start: time, now: datetime = NOW) -> None:
    """As the youth's reschedule does: the booking takes a seat on ``day`` at ``start``, then
    the outbox hears of it, in one transaction."""
    with write_transaction():
        old_day, old_start = db.session.execute(
            select(Slot.day, Slot.start_time)
            .join(Appointment, Appointment.slot_id == Slot.id)
            .where(Appointment.id == appointment_id)
        ).one()
        slot = db.session.scalars(
            select(Slot).where(Slot.day == day, Slot.start_time == start)
        ).one_or_none()
        if slot is None:
            end = (datetime.combine(day, start) + timedelta(minutes=20)).time()
            slot = Slot(day=day, start_time=start, end_time=end, capacity=2, booked=0)
            db.session.add(slot)
            db.session.flush()
        db.session.execute(
            update(Appointment).where(Appointment.id == appointment_id).values(slot_id=slot.id)
        )
        outbox.rescheduled(appointment_id, old_day, old_start, now)


def youth_of(appointment_id: int) -> int:
    return db.session.scalar(select(Appointment.youth_id).where(Appointment.id == appointment_id))


def new_entry(youth_id: int, **values) -> int:
    """A list entry with its own contact (not the one the youth booked with)."""
    values = {
        "kind": ListKind.STANDBY,
        "day": NEXT_DAY,
        "phone": "+14155550199",
        "language": "en",
        **values,
    }
    entry = ListEntry(youth_id=youth_id, **values)
    db.session.add(entry)
    db.session.commit()
    return entry.id


def new_offer(entry_id: int, appointment_id: int, expires_at: datetime) -> int:
    """A seat offered to the entry: the slot of ``appointment_id``, held until
    ``expires_at``."""
    slot_id = db.session.scalar(select(Appointment.slot_id).where(Appointment.id == appointment_id))
    offer = SeatOffer(entry_id=entry_id, slot_id=slot_id, expires_at=naive_utc(expires_at))
    db.session.add(offer)
    db.session.commit()
    return offer.id


def entry_messages(entry_id: int) -> list[OutboxMessage]:
    return [m for m in messages() if m.entry_id == entry_id]


def queue(work) -> None:
    with write_transaction():
        work()


# --- Every message carries a link that opens what it is about ------------------------------


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_confirmation_carries_a_link_to_its_appointment_by_email_and_by_text(
    app, letterbox, language
):
    by_email = book_at(0, email="ana@example.org", contact_by="email", language=language)
    by_text = book_at(1, language=language)
    assert run_at(NOW).sent == 2
    email, text = sorted(letters(letterbox), key=lambda letter: "@" not in letter.to)
    assert email.to == "ana@example.org" and email.attachments == "appointment.ics"
    assert text.to == "+14155550001" and not text.subject
    change = {"en": "Change or cancel: ", "es": "Cambiar o cancelar: "}[language]
    for letter, appointment_id in ((email, by_email), (text, by_text)):
        assert change + "http://127.0.0.1:5000/my/" + letter.token in letter.body
        held = opens(letter.token)
        assert held is not None and held.appointment.id == appointment_id
    assert email.token != text.token
    assert not opens(email.token, datetime(2026, 11, 25, 0, 1, tzinfo=LA))  # the day is over


def test_each_message_and_each_try_gets_a_fresh_link_and_all_stay_valid(app, letterbox):
    appointment = book_at(0)
    run_at(NOW)  # the confirmation
    run_at(EARLY_AT + timedelta(minutes=1))  # Sunday's reminder
    first, second = letters(letterbox)
    assert first.token != second.token
    assert opens(first.token).appointment.id == opens(second.token).appointment.id == appointment


# --- What the youth does from their link ----------------------------------------------------


def test_a_youth_who_cancels_is_told_they_did_with_a_calendar_cancellation(app, letterbox):
    appointment = book_at(0, email="ana@example.org", contact_by="email")
    run_at(NOW)

    def cancel() -> None:
        db.session.execute(
            update(Appointment)
            .where(Appointment.id == appointment)
            .values(status=AppointmentStatus.CANCELLED)
        )
        outbox.cancelled(appointment, NOW, kind=Kind.YOUTH_CANCELLED)

    queue(cancel)
    rows = messages(appointment)
    assert {m.status for m in rows if Kind(m.kind).is_reminder} == {MessageStatus.CANCELLED}
    assert rows[-1].kind == Kind.YOUTH_CANCELLED
    run_at(NOW + timedelta(minutes=1))
    notice = letters(letterbox)[-1]
    assert notice.subject == "You cancelled your appointment: Tue, Nov 24, 4:00 PM"
    assert "You cancelled your appointment for Tuesday, November 24" in notice.body
    assert opens(notice.token).appointment.id == appointment  # its page says so plainly


def test_a_cancellation_notice_of_a_kind_that_is_no_cancellation_is_refused(app):
    appointment = book_at(0)
    with pytest.raises(ValueError):
        outbox.cancelled(appointment, NOW, kind=Kind.CONFIRMATION)


def test_a_youth_who_moves_to_another_day_gets_the_new_time_and_a_newer_calendar(app, sent):
    appointment = book_at(0, email="ana@example.org", contact_by="email")
    run_at(NOW)
    move(appointment, DECEMBER_DAY, time(16, 20))
    notice = messages(appointment)[-1]
    assert (notice.kind, notice.context) == (Kind.RESCHEDULED, {"old": "2026-11-24T16:00"})
    assert notice.expires_at == naive_utc(datetime(2026, 12, 22, 16, 20, tzinfo=LA))
    run_at(NOW + timedelta(minutes=1))
    assert sent[-1][2] == "Your new appointment time: Tue, Dec 22, 4:20\u202fPM"
    old_file, new_file = (Calendar.from_ical(a[1]) for a in sent.attachments)
    (old_event,) = old_file.walk("VEVENT")
    (new_event,) = new_file.walk("VEVENT")
    assert new_event["UID"] == old_event["UID"]
    assert new_event["SEQUENCE"] > old_event["SEQUENCE"]
    assert new_event.decoded("DTSTART") == datetime(2026, 12, 22, 16, 20, tzinfo=LA)


def test_the_text_of_a_move_says_the_time_it_was(app, letterbox):
    appointment = book_at(0)
    run_at(NOW)
    move(appointment, DECEMBER_DAY, time(16, 20))
    run_at(NOW + timedelta(minutes=1))
    text = letters(letterbox)[-1]
    assert "your appointment is now Tue, Dec 22, 4:20 PM (was Tue, Nov 24, 4:00 PM)" in text.body
    assert opens(text.token).appointment.id == appointment


def test_the_reminders_follow_a_move_to_another_day(app, sent):
    appointment = book_at(0)
    run_at(NOW)
    move(appointment, DECEMBER_DAY, time(16, 20))
    reminders = {m.kind: m for m in messages(appointment) if Kind(m.kind).is_reminder}
    assert {m.context["starts"] for m in reminders.values()} == {"2026-12-22T16:20"}
    assert reminders[Kind.REMINDER_EARLY].send_after == naive_utc(
        datetime(2026, 12, 20, 10, tzinfo=LA)
    )
    del sent[:]
    run_at(EARLY_AT + timedelta(minutes=1))  # the old early reminder's time: nothing
    assert [body for _c, _to, body in sent if "reminder" in body] == []
    run_at(datetime(2026, 12, 20, 10, 1, tzinfo=LA))
    assert len(sent.texts("reminder: Tue, Dec 22, 4:20")) == 1


def test_a_reminder_sent_before_a_move_is_not_sent_again(app, sent):
    appointment = book_at(0)
    run_at(NOW)
    run_at(EARLY_AT + timedelta(minutes=1))  # Sunday's reminder, for Nov 24
    move(appointment, DECEMBER_DAY, time(16, 20), now=MONDAY)
    del sent[:]
    run_at(datetime(2026, 12, 20, 10, 1, tzinfo=LA))
    assert sent.texts("reminder") == []
    run_at(datetime(2026, 12, 22, 9, 1, tzinfo=LA))
    assert len(sent.texts("see you today, Tue, Dec 22, 4:20")) == 1


def test_moved_twice_before_the_notice_went_gives_one_notice_from_the_visit_known(app, sent):
    appointment = book_at(0)
    run_at(NOW)  # the youth knows Nov 24, 16:00
    move(appointment, DECEMBER_DAY, time(16, 20))
    move(appointment, DECEMBER_DAY, time(17, 0))
    waiting = [
        m.context
        for m in messages(appointment)
        if m.kind == Kind.RESCHEDULED and m.status == MessageStatus.QUEUED
    ]
    assert waiting == [{"old": "2026-11-24T16:00"}]
    move(appointment, NEXT_DAY, time(16, 0))  # back to what they know: nothing to say
    assert not [
        m for m in messages(appointment) if m.kind == Kind.RESCHEDULED and m.status == "queued"
    ]


def test_a_move_before_the_confirmation_went_needs_no_notice(app, sent):
    appointment = book_at(0)
    move(appointment, DECEMBER_DAY, time(16, 20))
    assert Kind.RESCHEDULED not in [m.kind for m in messages(appointment)]
    run_at(NOW)
    assert [body for _c, _to, body in sent] == sent.texts("booked for Tue, Dec 22, 4:20")


def test_a_clinic_move_while_a_youths_move_is_unsent_keeps_one_notice(app, sent):
    appointment = book_at(0)
    run_at(NOW)
    move(appointment, DECEMBER_DAY, time(16, 20))
    queue(lambda: outbox.moved(appointment, time(16, 20), NOW))
    waiting = [(m.kind, m.context) for m in messages(appointment) if m.status == "queued"]
    assert [w for w in waiting if w[0] in (Kind.MOVED, Kind.RESCHEDULED)] == [
        (Kind.RESCHEDULED, {"old": "2026-11-24T16:00"})
    ]


# --- "Lost your link?" -------------------------------------------------------------------


def test_the_link_is_sent_again_at_most_once_a_day_per_appointment(app, letterbox):
    appointment = book_at(0)
    for _ in range(3):
        queue(lambda: outbox.link_again(NOW, appointment_id=appointment))
    assert [m.kind for m in messages(appointment)].count(Kind.LINK_AGAIN) == 1
    tomorrow = NOW + timedelta(days=1)
    queue(lambda: outbox.link_again(tomorrow, appointment_id=appointment))
    assert [m.kind for m in messages(appointment)].count(Kind.LINK_AGAIN) == 2
    run_at(tomorrow)
    sent = [letter for letter in letters(letterbox) if "here is your link" in letter.body]
    assert len(sent) == 2
    assert all(opens(letter.token).appointment.id == appointment for letter in sent)


def test_the_link_goes_to_the_contact_typed_if_the_booking_has_it(app, letterbox):
    appointment = book_at(0, email="ana@example.org", contact_by="sms")
    queue(lambda: outbox.link_again(NOW, appointment_id=appointment, channel="email"))
    assert messages(appointment)[-1].channel == "email"
    other = book_at(1, contact_by="sms")  # no e-mail: the way they chose
    queue(lambda: outbox.link_again(NOW, appointment_id=other, channel="email"))
    assert messages(other)[-1].channel == "sms"


def test_a_link_to_a_list_entry_is_sent_again_to_the_entrys_contact(app, letterbox):
    entry = new_entry(youth_of(book_at(0)), email="luis@example.org")
    for _ in range(2):
        queue(lambda: outbox.link_again(NOW, entry_id=entry))
    assert [m.kind for m in entry_messages(entry)] == [Kind.LINK_AGAIN]
    run_at(NOW)
    (letter,) = [x for x in letters(letterbox) if x.to == "luis@example.org"]
    assert "Your place on the list: " in letter.body
    assert opens(letter.token).entry.id == entry


# --- Standby and the waiting list --------------------------------------------------------


def test_joining_a_standby_list_is_confirmed_to_the_entrys_own_contact(app, letterbox):
    appointment = book_at(0)  # booked with +14155550000
    entry = new_entry(youth_of(appointment), earliest=time(16), latest=time(18))
    queue(lambda: outbox.joined_list(entry, NOW))
    queue(lambda: outbox.joined_list(entry, NOW))  # joined again in their name: one message
    assert [m.kind for m in entry_messages(entry)] == [Kind.LIST_JOINED]
    run_at(NOW)
    (letter,) = [x for x in letters(letterbox) if x.to == "+14155550199"]
    assert "you are on the standby list for Tue, Nov 24" in letter.body
    assert opens(letter.token).entry.id == entry


def test_joining_the_waiting_list_in_spanish_by_email(app, letterbox):
    youth = youth_of(book_at(0))
    entry = new_entry(
        youth,
        kind=ListKind.PROGRAM,
        day=None,
        email="luis@example.org",
        contact_by="email",
        language="es",
    )
    queue(lambda: outbox.joined_list(entry, NOW))
    run_at(NOW)
    (letter,) = [x for x in letters(letterbox) if x.to == "luis@example.org"]
    assert letter.subject == "Estás en la lista de espera"
    assert "Tu lugar en la lista: http://127.0.0.1:5000/my/" in letter.body
    assert opens(letter.token).entry.id == entry


def test_no_news_of_a_place_on_a_list_the_youth_has_left(app, letterbox):
    entry = new_entry(youth_of(book_at(0)))
    queue(lambda: outbox.joined_list(entry, NOW))
    db.session.execute(
        update(ListEntry).where(ListEntry.id == entry).values(status=EntryStatus.LEFT)
    )
    db.session.commit()
    run_at(NOW)
    (message,) = entry_messages(entry)
    assert message.status == MessageStatus.CANCELLED
    assert [x for x in letters(letterbox) if x.to == "+14155550199"] == []


# --- Offered seats -----------------------------------------------------------------------


def test_an_offered_seat_comes_with_its_claim_link_and_deadline(app, letterbox):
    appointment = book_at(0)
    entry = new_entry(youth_of(appointment), language="es")
    deadline = datetime(2026, 11, 20, 21, 0, tzinfo=LA)
    offer = new_offer(entry, appointment, deadline)
    queue(lambda: outbox.seat_offered(offer, NOW))
    (message,) = entry_messages(entry)
    assert message.expires_at == naive_utc(deadline)
    run_at(NOW)
    (letter,) = [x for x in letters(letterbox) if x.to == "+14155550199"]
    # es_US: 12-hour times, and the sentence's period merged into "p.m."'s.
    assert "se abrió un lugar para ti: mar, 24 de nov, 4:00 p.m. Tomar" in letter.body
    assert f"Tomar este lugar: http://127.0.0.1:5000/my/{letter.token} (guardado hasta el " in (
        letter.body
    )
    assert "vie, 20 de nov, 9:00 p.m." in letter.body
    assert opens(letter.token).entry.id == entry


@pytest.mark.parametrize("answer", [OfferStatus.CLAIMED, OfferStatus.WITHDRAWN])
def test_an_offer_no_longer_open_when_its_turn_comes_is_not_sent(app, letterbox, answer):
    appointment = book_at(0)
    entry = new_entry(youth_of(appointment))
    offer = new_offer(entry, appointment, NOW + timedelta(hours=12))
    queue(lambda: outbox.seat_offered(offer, NOW))
    db.session.execute(update(SeatOffer).where(SeatOffer.id == offer).values(status=answer))
    db.session.commit()
    report = run_at(NOW)
    assert report.skipped == 1
    assert [m.status for m in entry_messages(entry)] == [MessageStatus.CANCELLED]
    assert [x for x in letters(letterbox) if x.to == "+14155550199"] == []


def test_an_offer_message_expires_with_its_offer(app, letterbox):
    appointment = book_at(0)
    entry = new_entry(youth_of(appointment))
    offer = new_offer(entry, appointment, NOW + timedelta(hours=2))
    queue(lambda: outbox.seat_offered(offer, NOW))
    run_at(NOW + timedelta(hours=2))  # the worker was down until the deadline
    assert [m.status for m in entry_messages(entry)] == [MessageStatus.EXPIRED]


def test_a_lapsed_offer_withdraws_its_unsent_message_and_says_still_on_the_list(app, letterbox):
    appointment = book_at(0)
    entry = new_entry(youth_of(appointment))
    offer = new_offer(entry, appointment, NOW + timedelta(hours=2))
    queue(lambda: outbox.seat_offered(offer, NOW))
    db.session.execute(
        update(SeatOffer).where(SeatOffer.id == offer).values(status=OfferStatus.LAPSED)
    )
    db.session.commit()
    queue(lambda: outbox.offer_lapsed(offer, NOW + timedelta(hours=2)))
    assert [(m.kind, m.status) for m in entry_messages(entry)] == [
        (Kind.SEAT_OFFERED, MessageStatus.CANCELLED),
        (Kind.OFFER_LAPSED, MessageStatus.QUEUED),
    ]
    run_at(NOW + timedelta(hours=2))
    (letter,) = [x for x in letters(letterbox) if x.to == "+14155550199"]
    assert "the seat for Tue, Nov 24, 4:00 PM went to the next person" in letter.body
    assert "You are still on the list. Your place: " in letter.body
    assert opens(letter.token).entry.id == entry


def test_a_message_about_an_entry_sent_again_goes_to_the_entrys_contact(app, letterbox, staff):
    # The waiting list: its messages do not end with a standby day.
    entry = new_entry(
        youth_of(book_at(0)), kind=ListKind.PROGRAM, day=None, email="luis@example.org"
    )
    queue(lambda: outbox.joined_list(entry, NOW))
    run_at(NOW)
    (first,) = entry_messages(entry)
    history.resend(first.id, staff[StaffRole.FRONT_DESK].id)
    run_at(datetime.now(UTC) + timedelta(minutes=1))  # a resend is queued on the real clock
    mine = [x for x in letters(letterbox) if x.to == "luis@example.org"]
    assert len(mine) == 2 and mine[0].token != mine[1].token
    assert entry_messages(entry)[-1].entry_id == entry
    assert opens(mine[1].token).entry.id == entry


def test_the_messages_page_lists_entry_messages_without_lazy_loads(app):
    """The staff page reads ``history.recent``: an entry's youth comes loaded with it."""
    entry = new_entry(youth_of(book_at(0)))
    queue(lambda: outbox.joined_list(entry, NOW))
    db.session.expunge_all()
    rows = history.recent(None, 10)
    (row,) = [r for r in rows if r.entry_id == entry]
    assert row.entry.youth.first_name == "Youtha"


def test_the_worker_loads_an_offer_message_without_lazy_loads(app, letterbox):
    """Eager loads only: a lazy load would raise in tests (tests/conftest.py)."""
    appointment = book_at(0)
    entry = new_entry(youth_of(appointment))
    offer = new_offer(entry, appointment, NOW + timedelta(hours=12))
    queue(lambda: outbox.seat_offered(offer, NOW))
    assert run_at(NOW).sent == 2  # the booking's confirmation and the offer


def test_a_deadline_is_shown_in_the_clinics_time(app, letterbox):
    """Stored as naive UTC, shown on the clinic's clock: 05:00 UTC is 9 PM the day before."""
    appointment = book_at(0)
    entry = new_entry(youth_of(appointment))
    deadline_utc = datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
    offer = new_offer(entry, appointment, deadline_utc)
    queue(lambda: outbox.seat_offered(offer, NOW))
    run_at(NOW)
    (letter,) = [x for x in letters(letterbox) if x.to == "+14155550199"]
    assert "(held until Fri, Nov 20, 9:00 PM)" in letter.body
