"""Joining the standby and waiting lists (``clinic.booking.lists``) and their public pages:
when each list can be joined, the same intake and age rule as booking, the same answer
whatever the database holds about the name typed, a repeated or second join finding the
first entry; the link's page (the place, an offer to take or refuse, leaving), which shows
nothing about anyone else."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from clinic.booking import errors, lists, offers
from clinic.database import write_transaction
from clinic.extensions import db
from clinic.messaging import links
from clinic.models import (
    Appointment,
    EntryStatus,
    ListEntry,
    OfferStatus,
    SeatOffer,
    StaffRole,
    naive_utc,
)
from tests.conftest import LA, NEXT_DAY, NOW, intake_data
from tests.support.lists import (
    LATER_DAYS,
    book,
    cancel,
    entry,
    fill,
    join_program,
    join_standby,
    messages,
    offers_of,
    only_next_day,
    open_offer,
    reopen,
    rules,
    seats_hold,
)
from tests.support.querycount import count_statements

EN = {"Accept-Language": "en"}
STANDBY_URL = f"/book/{NEXT_DAY.isoformat()}/standby"


def entries() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(ListEntry))


@pytest.fixture
def full_day(app):
    """The next clinic day has two seats, both booked; the later days are closed."""
    only_next_day()
    return fill(NOW)


# --- Who can join which list -----------------------------------------------------------------


def test_joining_a_full_day_s_standby_list_keeps_the_intake(full_day):
    first = join_standby(1, NOW, tattoo_locations=["hands"], guardian_name=None)
    second = join_standby(2, NOW, earliest=time(16, 20), latest=time(16, 20))
    joined = entry(first)
    assert (joined.kind, joined.day, joined.status) == ("standby", NEXT_DAY, EntryStatus.WAITING)
    assert joined.answers["tattoo_locations"] == ["hands"]
    assert joined.answers["screening"] == ["tan"] and joined.answers["tattoo_count"] == 1
    assert joined.phone == "+14155550001" and joined.language == "en"
    assert joined.joined_at == naive_utc(NOW)
    assert (entry(first).rank, entry(second).rank) == (1, 2)
    assert (entry(second).earliest, entry(second).latest) == (time(16, 20), time(16, 20))
    assert messages("list_joined", first) == messages("list_joined", second) == 1


def test_standby_is_for_a_full_day_or_a_full_time_range(app):
    only_next_day()
    book(900, NOW, NEXT_DAY, time(16, 0))  # 16:00 full, 16:20 free
    with pytest.raises(errors.ListNotOpen) as refused:
        join_standby(1, NOW)
    assert refused.value.reason == "open_times"
    with pytest.raises(errors.ListNotOpen):
        join_standby(1, NOW, latest=time(16, 20))
    # The full time alone can be waited for.
    assert join_standby(1, NOW, earliest=time(16, 0), latest=time(16, 0)) is not None


@pytest.mark.parametrize(
    ("day", "when"),
    [
        (date(2026, 11, 25), NOW),  # not a clinic day
        (LATER_DAYS[0], NOW),  # closed by staff
        (NEXT_DAY, datetime(2026, 11, 24, 15, 0, tzinfo=LA)),  # booking for it has closed
    ],
)
def test_no_standby_list_where_nothing_can_be_waited_for(full_day, day, when):
    with pytest.raises(errors.ListNotOpen) as refused:
        join_standby(1, when, day)
    assert refused.value.reason == "not_offered"
    assert entries() == 0


def test_the_waiting_list_is_for_when_every_day_is_full(app):
    only_next_day()
    book(900, NOW)
    with pytest.raises(errors.ListNotOpen) as refused:
        join_program(1, NOW)
    assert refused.value.reason == "open_times"
    book(901, NOW, start=time(16, 20))
    first = join_program(1, NOW, tattoo_locations=["face_neck"])
    second = join_program(2, NOW, referral_source="reentry")
    third = join_program(3, NOW)
    assert [entry(e).priority for e in (first, second, third)] == [0, 1, 2]
    assert [entry(e).rank for e in (first, second, third)] == [1, 2, 3]
    assert entry(first).day is None


def test_the_age_rule_is_the_booking_s(full_day):
    with pytest.raises(errors.NotEligible):
        join_standby(1, NOW, date_of_birth=date(2014, 1, 1))
    with pytest.raises(errors.GuardianRequired):
        join_standby(1, NOW, date_of_birth=date(2010, 1, 1))
    assert join_standby(1, NOW, date_of_birth=date(2010, 1, 1), **GUARDIAN) is not None


GUARDIAN = {
    "guardian_name": "Rosa Reyes",
    "guardian_relationship": "parent",
    "guardian_phone": "+14155550199",
}


def test_a_youth_with_an_appointment_ahead_is_put_on_no_list(full_day):
    """They are told at the contact on file (the appointment's), never the one typed."""
    assert join_standby(900, NOW, phone="+14155559999") is None
    assert entries() == 0
    assert messages("already_booked") == 1


def test_a_repeated_submission_finds_the_first_entry(full_day):
    first = join_standby(1, NOW)
    again = join_standby(1, NOW)
    assert again == first and entries() == 1
    assert messages("list_joined") == 1 and messages("link_again") == 0


def test_joining_again_finds_the_place_and_sends_the_link_again(full_day):
    first = join_standby(1, NOW)
    second_form = join_standby(1, NOW, submission_key="another-form-kkkkkkkkkk")
    assert second_form is None and entries() == 1
    assert entry(first).rank == 1
    assert messages("link_again", first) == 1


def test_a_form_used_for_someone_else_is_refused(full_day):
    join_standby(1, NOW)
    with pytest.raises(errors.SubmissionReused):
        join_standby(2, NOW, submission_key="standby-0001-kkkkkkkkkkkk")


# --- Staff reorder a day's list -----------------------------------------------------------


def test_staff_move_an_entry_up_or_down(full_day, make_staff):
    desk = make_staff(StaffRole.FRONT_DESK)
    ids = [join_standby(n, NOW) for n in (1, 2, 3)]

    def order():
        db.session.rollback()
        return list(
            db.session.scalars(
                select(ListEntry.id)
                .where(ListEntry.status == EntryStatus.WAITING)
                .order_by(ListEntry.rank, ListEntry.id)
            )
        )

    lists.move(ids[2], True, desk)
    assert order() == [ids[0], ids[2], ids[1]]
    lists.move(ids[0], False, desk)
    assert order() == [ids[2], ids[0], ids[1]]
    lists.move(ids[2], True, desk)  # first already: stays
    assert order() == [ids[2], ids[0], ids[1]]
    # The next freed seat follows the new order.
    cancel(full_day[0], NOW)
    assert open_offer(ids[2]) is not None


# --- The public pages: joining -----------------------------------------------------------------


def _join(app, url: str, **answers):
    client = app.test_client()
    data = intake_data(language="en", contact_by="sms", **answers)
    data.pop("slot_time")
    return client, client.post(url, data=data, headers=EN)


CSRF = re.compile(r'name="csrf_token"( type="hidden")? value="[^"]*"')


def test_a_full_day_offers_its_standby_list(full_day, client):
    days = client.get("/book", headers=EN).get_data(as_text=True)
    assert STANDBY_URL in days
    assert "/waiting-list" in days  # every day in the window is full
    times = client.get(f"/book/{NEXT_DAY.isoformat()}", headers=EN).get_data(as_text=True)
    assert "This day is full." in times and STANDBY_URL in times
    page = client.get(STANDBY_URL, headers=EN)
    assert page.status_code == 200
    assert 'name="first_name"' in page.get_data(as_text=True)
    assert client.get("/book/2026-11-25/standby").status_code == 404


def test_an_open_day_offers_no_waiting_list(app, client):
    days = client.get("/book", headers=EN).get_data(as_text=True)
    assert "/waiting-list" not in days
    page = client.get("/waiting-list", headers=EN).get_data(as_text=True)
    assert "There are open times in the coming weeks" in page
    _, response = _join(app, "/waiting-list")
    assert response.status_code == 422
    assert "There are open times" in response.get_data(as_text=True)
    assert entries() == 0


def test_joining_from_the_page_ends_on_the_same_page_whoever_it_was(full_day, app):
    """A youth already booked and a new one: same status, same redirect, same page."""
    # Youth900 holds the 16:00 seat (``fill``); the visitor types their name and birth date.
    visitor, as_client = _join(
        app,
        STANDBY_URL,
        first_name="Youth900",
        last_name="Waiting",
        date_of_birth="2004-04-04",
        preferred_name="Sam",
        submission_key="c" * 32,
    )
    stranger, as_stranger = _join(
        app, STANDBY_URL, first_name="Ana", preferred_name="Sam", submission_key="s" * 32
    )
    assert as_client.status_code == as_stranger.status_code == 303
    assert as_client.headers["Location"] == as_stranger.headers["Location"]
    first = visitor.get(as_client.headers["Location"], headers=EN).get_data(as_text=True)
    second = stranger.get(as_stranger.headers["Location"], headers=EN).get_data(as_text=True)
    first, second = CSRF.sub("", first), CSRF.sub("", second)
    assert first == second
    assert "You are on standby for Tuesday, November 24, 2026." in first
    assert entries() == 1 and messages("already_booked") == 1


def test_the_standby_form_takes_a_time_range(full_day, app):
    _, response = _join(app, STANDBY_URL, earliest="16:20", latest="16:00")
    assert response.status_code == 422
    assert "Please choose a time after the first one." in response.get_data(as_text=True)
    _, response = _join(app, STANDBY_URL, earliest="16:20", latest="16:20")
    assert response.status_code == 303
    db.session.rollback()
    joined = db.session.scalars(select(ListEntry)).one()
    assert (joined.earliest, joined.latest) == (time(16, 20), time(16, 20))


def test_joining_the_waiting_list_from_the_page(full_day, app):
    visitor, response = _join(app, "/waiting-list", referral_source="court")
    assert response.status_code == 303
    page = visitor.get("/waiting-list/joined", headers=EN).get_data(as_text=True)
    assert "You are on the clinic&#39;s waiting list." in page
    db.session.rollback()
    joined = db.session.scalars(select(ListEntry)).one()
    assert joined.kind == "program" and joined.priority == 0  # hands and face: visible


# --- The link's page ---------------------------------------------------------------------------


def _open(client, entry_id: int) -> None:
    with write_transaction():
        token = links.mint(entry_id=entry_id)
    assert client.get(f"/my/{token}").status_code == 303


def _page(client) -> str:
    response = client.get("/my", headers=EN)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_standby_page_shows_the_place_and_nothing_else(full_day, client):
    join_standby(1, NOW)
    second = join_standby(2, NOW, earliest=time(16, 0), latest=time(16, 20))
    _open(client, second)
    page = _page(client)
    assert "You are on standby for Tuesday, November 24, 2026, between 4:00" in page
    assert "You are number 2 on this list." in page
    assert "Youth1" not in page and "5550001" not in page
    assert "Take this seat" not in page


def test_an_offer_is_taken_from_the_page(full_day, client):
    first = join_standby(1, NOW)
    cancel(full_day[0], NOW)
    _open(client, first)
    page = _page(client)
    assert "A seat is free for you" in page and "Take this seat" in page
    assert "It is held for you until Fri, Nov 20, 9:00\u202fPM." in page  # 12 hours
    offer = open_offer(first)
    response = client.post(
        "/my/list/offer", data={"offer_id": str(offer.id), "answer": "take"}, headers=EN
    )
    assert response.status_code == 303 and response.headers["Location"] == "/my"
    assert entry(first).status == EntryStatus.BOOKED
    # The browser's page is now the appointment's.
    page = _page(client)
    assert "The seat is yours" in page
    seats_hold()
    # The entry's own link now says what became of it.
    _open(client, first)
    page = _page(client)
    assert "You took a seat" in page and "Tuesday, November 24, 2026" in page


def test_no_thanks_from_the_page_keeps_the_place(full_day, client):
    first = join_standby(1, NOW)
    cancel(full_day[0], NOW)
    offer = open_offer(first)
    _open(client, first)
    response = client.post(
        "/my/list/offer", data={"offer_id": str(offer.id), "answer": "decline"}, headers=EN
    )
    assert response.status_code == 303
    assert offers_of(first)[0].status == OfferStatus.DECLINED
    page = _page(client)
    assert "You said no to this seat. You are still on the list." in page
    assert "You are number 1 on this list." in page and "Take this seat" not in page


def test_a_refused_claim_says_why(full_day, client):
    """The visitor holds the youth's link: the reason is theirs to know."""
    only_later = LATER_DAYS[0]
    reopen(only_later, slots=1)
    first = join_standby(1, NOW)
    cancel(full_day[0], NOW)
    offer = open_offer(first)
    book(1, NOW, only_later)
    _open(client, first)
    client.post("/my/list/offer", data={"offer_id": str(offer.id), "answer": "take"})
    page = _page(client)
    assert "you already have an appointment with us" in page
    assert offers_of(first)[0].status == OfferStatus.DECLINED
    # Answering again: the offer has ended.
    client.post("/my/list/offer", data={"offer_id": str(offer.id), "answer": "take"})
    assert "This offer has ended" in _page(client)
    seats_hold()


def test_another_entry_s_offer_cannot_be_answered(full_day, client):
    first = join_standby(1, NOW)
    second = join_standby(2, NOW)
    cancel(full_day[0], NOW)
    _open(client, second)
    client.post("/my/list/offer", data={"offer_id": str(open_offer(first).id), "answer": "take"})
    assert open_offer(first) is not None and entry(second).status == EntryStatus.WAITING
    # Without a link opened, nothing at all.
    stranger = client.application.test_client()
    response = stranger.post("/my/list/offer", data={"offer_id": "1", "answer": "take"})
    assert response.status_code == 303 and response.headers["Location"] == "/my"
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 2


def test_leaving_from_the_page_asks_first(full_day, client):
    first = join_standby(1, NOW)
    _open(client, first)
    confirm = client.get("/my/list/leave", headers=EN)
    assert confirm.status_code == 200 and "Leave the list?" in confirm.get_data(as_text=True)
    assert entry(first).status == EntryStatus.WAITING
    response = client.post("/my/list/leave", headers=EN)
    assert response.status_code == 303
    assert entry(first).status == EntryStatus.LEFT
    assert "You left this list" in _page(client)
    assert client.post("/my/list/leave").status_code == 303  # again: nothing more


def test_a_leave_page_left_open_in_another_tab_leaves_nothing(full_day, client):
    """Two children on the list; the parent opens one's "leave" page, then the other's link
    in a second tab, then confirms in the first: neither leaves."""
    first, second = join_standby(1, NOW), join_standby(2, NOW)
    _open(client, first)
    page = client.get("/my/list/leave", headers=EN).get_data(as_text=True)
    shown = re.search(r'name="about"( type="hidden")? value="([^"]*)"', page).group(2)
    _open(client, second)
    response = client.post("/my/list/leave", data={"about": shown}, headers=EN)
    assert response.status_code == 303
    assert "nothing was changed" in _page(client)
    assert entry(first).status == entry(second).status == EntryStatus.WAITING


def test_the_waiting_list_page_says_the_place_and_the_wait(full_day, client):
    ids = [join_program(n, NOW) for n in (1, 2, 3, 4)]
    _open(client, ids[3])
    page = _page(client)
    assert "You are number 4 on this list." in page
    assert "We cannot estimate the wait yet" in page

    # Three invited from the list in the last eight weeks: the first took a seat, the second
    # said no to the other, which went to the third.
    cancel(full_day[0], NOW)
    cancel(full_day[1], NOW)
    offers.claim(open_offer(ids[0]).id, ids[0], rules(), NOW)
    offers.decline(open_offer(ids[1]).id, ids[1], rules(), NOW)
    page = _page(client)
    assert "You are number 3 on this list." in page
    assert open_offer(ids[2]) is not None
    assert "We expect to invite you in about 8 weeks." in page  # 3 ahead or here, 3 in 8 weeks

    # Eight weeks on, nobody invited since: no estimate again.
    with write_transaction():
        db.session.execute(
            SeatOffer.__table__.update().values(
                offered_at=naive_utc(NOW - timedelta(weeks=8, seconds=1))
            )
        )
    assert "We cannot estimate the wait yet" in _page(client)


def test_an_offer_past_its_deadline_is_not_shown(full_day, client, clock):
    first = join_standby(1, NOW)
    cancel(full_day[0], NOW)
    _open(client, first)
    assert "Take this seat" in _page(client)
    clock.set(datetime(2026, 11, 20, 21, 0, tzinfo=LA))  # the deadline; not swept yet
    page = _page(client)
    assert "Take this seat" not in page and "You are number 1 on this list." in page


def test_the_link_s_page_costs_the_same_however_long_the_list(full_day, client):
    first = join_program(1, NOW)
    _open(client, first)
    _page(client)
    with count_statements() as short:
        _page(client)
    for n in range(2, 30):
        join_program(n, NOW)
    last = join_program(30, NOW)
    _open(client, last)
    _page(client)
    with count_statements() as long:
        assert "You are number 30 on this list." in _page(client)
    # The link with its entry (read afresh), the place, the pace of invitations, the offer.
    assert len(long) == len(short) == 4, long


def test_joins_are_limited_like_booking_requests(full_day, app):
    """The booking's limits (counted for each form): a script cannot fill the lists with
    invented people."""
    app.config["BOOKING_LIMIT_PER_ADDRESS"] = "2 per hour"
    client = app.test_client()

    def join(n: int, url: str = STANDBY_URL, **answers):
        data = intake_data(
            first_name=f"Invented{n}", phone=f"415 555 {n:04d}", submission_key=f"{n}" * 32
        )
        data.pop("slot_time")
        data.update(answers)
        return client.post(url, data=data, headers=EN, environ_base={"REMOTE_ADDR": "10.9.9.9"})

    assert join(1).status_code == 303
    assert join(2).status_code == 303
    refused = join(3, tattoo_notes="a small rose")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Invented3" in page and "a small rose" in page
    assert "We have received several requests from here already" in page
    assert refused.headers["Cache-Control"] == "no-store"
    assert entries() == 2
    for n in (4, 5):
        assert join(n, "/waiting-list").status_code == 303
    assert join(6, "/waiting-list").status_code == 429
    assert entries() == 4
