"""Seats offered from the standby and waiting lists (``clinic.booking.offers``), with the
clock passed in: who is offered a freed seat, how long it is held, claiming, saying no,
lapsing and passing on, staff invitations, the sweep. After every step a slot's counter is its
booked appointments plus its open offers, within capacity (``seats_hold``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from clinic import booking, schedule
from clinic.booking import errors, lists, offers
from clinic.extensions import db
from clinic.models import (
    Appointment,
    ClinicDay,
    EntryStatus,
    Intake,
    OfferStatus,
    SeatOffer,
    Slot,
    StaffRole,
    naive_utc,
)
from tests.conftest import LA, NEXT_DAY, NOW
from tests.support.lists import (
    LATER_DAYS,
    book,
    cancel,
    counter,
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
from tests.support.youth_links import treat

FOUR = time(16, 0)
FOUR_20 = time(16, 20)


@pytest.fixture
def full_day(app):
    """The next clinic day has two seats (16:00 and 16:20), both booked; the later days are
    closed. Returns the two appointments' ids."""
    only_next_day()
    return fill(NOW)


# --- Who is offered a freed seat -------------------------------------------------------------


def test_a_freed_seat_is_held_for_the_first_on_standby(full_day):
    first = join_standby(1, NOW)
    second = join_standby(2, NOW)
    seats_hold()

    assert cancel(full_day[0], NOW) == 1
    offer = open_offer(first)
    assert offer is not None and open_offer(second) is None
    # Four days ahead: held 12 hours, until Friday 21:00 in the clinic.
    assert offer.expires_at == naive_utc(datetime(2026, 11, 20, 21, 0, tzinfo=LA))
    assert offer.offered_by_id is None
    # The offer holds the seat: the counter did not move, and nobody can book it.
    assert counter(NEXT_DAY, FOUR) == 1
    seats_hold()
    with pytest.raises(booking.SlotUnavailable):
        book(50, NOW, NEXT_DAY, FOUR)
    assert messages("seat_offered", first) == 1 and messages("seat_offered", second) == 0


def test_a_time_range_that_does_not_hold_the_seat_is_passed_over(full_day):
    later = join_standby(1, NOW, earliest=FOUR_20, latest=FOUR_20)
    any_time = join_standby(2, NOW)

    cancel(full_day[0], NOW)  # the 16:00 seat
    assert open_offer(later) is None
    assert open_offer(any_time).slot.start_time == FOUR

    cancel(full_day[1], NOW)  # the 16:20 seat: theirs
    assert open_offer(later).slot.start_time == FOUR_20
    seats_hold()


def test_standby_comes_before_the_waiting_list(full_day):
    waiting = join_program(1, NOW)
    standby = join_standby(2, NOW)
    cancel(full_day[0], NOW)
    assert open_offer(standby) is not None and open_offer(waiting) is None
    cancel(full_day[1], NOW)
    assert open_offer(waiting) is not None
    seats_hold()


def test_nobody_holds_two_offers_at_once(full_day):
    """On standby and on the waiting list too: one seat at a time for each youth."""
    join_standby(1, NOW)
    program = join_program(1, NOW)
    cancel(full_day[0], NOW)
    cancel(full_day[1], NOW)
    assert open_offer(program) is None
    assert counter(NEXT_DAY, FOUR_20) == 0  # nobody else waits: the seat is free
    seats_hold()


def test_no_offer_when_too_little_time_is_left_to_answer(full_day, clock):
    join_standby(1, NOW)
    # Tuesday 13:31: booking for 16:00 closes at 14:00, 29 minutes away.
    clock.set(datetime(2026, 11, 24, 13, 31, tzinfo=LA))
    assert cancel(full_day[0], clock.now) == 0
    assert counter(NEXT_DAY, FOUR) == 0
    seats_hold()


def test_the_day_before_the_hold_is_short(full_day, clock):
    first = join_standby(1, NOW)
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=LA))
    cancel(full_day[0], clock.now)
    assert open_offer(first).expires_at == naive_utc(datetime(2026, 11, 23, 12, 0, tzinfo=LA))


def test_someone_the_rules_refuse_that_day_is_passed_over(full_day):
    """Too soon after their last treatment, or already booked another day: the next one."""
    db.session.add(ClinicDay(day=date(2026, 11, 17), extra=True, seats=2))
    db.session.commit()
    earlier = book(1, NOW - timedelta(days=5), date(2026, 11, 17), FOUR)
    treat(earlier)
    too_soon = join_program(1, NOW)  # treated on 17 November: healed from 29 December
    next_one = join_program(2, NOW)
    cancel(full_day[0], NOW)
    assert open_offer(too_soon) is None and open_offer(next_one) is not None
    seats_hold()


# --- Claiming --------------------------------------------------------------------------------


def test_claiming_books_the_held_seat_from_the_entry_s_answers(full_day):
    first = join_standby(1, NOW, tattoo_locations=["hands"], referral_source="court")
    cancel(full_day[0], NOW)
    offer = open_offer(first)

    appointment = offers.claim(offer.id, first, rules(), NOW + timedelta(hours=1))
    db.session.rollback()
    intake = db.session.scalar(select(Intake).where(Intake.appointment_id == appointment.id))
    assert intake.tattoo_locations == ["hands"] and intake.referral_source == "court"
    assert intake.phone == "+14155550001" and intake.screening == ["tan"]
    booked = db.session.get(Appointment, appointment.id)
    assert booked.status == "booked" and booked.slot_id == offer.slot_id
    assert counter(NEXT_DAY, FOUR) == 1  # the hold became the booking
    claimed = entry(first)
    assert claimed.status == EntryStatus.BOOKED and claimed.appointment_id == appointment.id
    assert offers_of(first)[0].status == OfferStatus.CLAIMED
    assert offers_of(first)[0].appointment_id == appointment.id
    assert messages("confirmation") == 3  # the two bookings that filled the day, and this one
    seats_hold()


def test_an_offer_is_claimed_once(full_day):
    first = join_standby(1, NOW)
    cancel(full_day[0], NOW)
    offer = open_offer(first)
    offers.claim(offer.id, first, rules(), NOW)
    with pytest.raises(errors.OfferGone):
        offers.claim(offer.id, first, rules(), NOW)
    with pytest.raises(errors.OfferGone):
        offers.decline(offer.id, first, rules(), NOW)
    assert db.session.query(Appointment).count() == 3
    seats_hold()


def test_only_the_entry_offered_the_seat_can_claim_it(full_day):
    first = join_standby(1, NOW)
    second = join_standby(2, NOW)
    cancel(full_day[0], NOW)
    with pytest.raises(errors.OfferGone):
        offers.claim(open_offer(first).id, second, rules(), NOW)
    assert open_offer(first) is not None
    seats_hold()


def test_a_claim_at_the_deadline_loses_and_the_sweep_passes_the_seat_on(full_day):
    first = join_standby(1, NOW)
    second = join_standby(2, NOW)
    cancel(full_day[0], NOW)
    offer = open_offer(first)
    deadline = offer.expires_at.replace(tzinfo=UTC)

    with pytest.raises(errors.OfferGone):
        offers.claim(offer.id, first, rules(), deadline)
    assert open_offer(first) is not None  # not lapsed yet: the sweep does that

    swept = offers.sweep_counts(rules(), deadline)
    assert (swept.lapsed, swept.offered) == (1, 1)
    assert offers_of(first)[0].status == OfferStatus.LAPSED
    assert entry(first).status == EntryStatus.WAITING  # still on the list
    assert open_offer(second).slot_id == offer.slot_id
    assert messages("offer_lapsed", first) == 1
    assert counter(NEXT_DAY, FOUR) == 1
    seats_hold()


def test_a_claim_a_second_before_the_deadline_wins(full_day):
    first = join_standby(1, NOW)
    cancel(full_day[0], NOW)
    offer = open_offer(first)
    deadline = offer.expires_at.replace(tzinfo=UTC)
    offers.claim(offer.id, first, rules(), deadline - timedelta(seconds=1))
    assert offers.sweep(rules(), deadline) == 0
    assert entry(first).status == EntryStatus.BOOKED
    seats_hold()


def test_a_claim_the_rules_refuse_passes_the_seat_on(full_day):
    """Booked another day since the offer: the offer is declined, the next person gets it."""
    reopen(LATER_DAYS[0], slots=1)
    first = join_standby(1, NOW)
    second = join_standby(2, NOW)
    cancel(full_day[0], NOW)
    offer = open_offer(first)
    book(1, NOW, LATER_DAYS[0], FOUR)

    with pytest.raises(booking.AlreadyBooked):
        offers.claim(offer.id, first, rules(), NOW)
    assert offers_of(first)[0].status == OfferStatus.DECLINED
    assert entry(first).status == EntryStatus.WAITING
    assert open_offer(second).slot_id == offer.slot_id
    seats_hold()


def test_a_claim_closes_the_youth_s_other_places(full_day):
    standby = join_standby(1, NOW)
    waiting = join_program(1, NOW)
    cancel(full_day[0], NOW)
    offers.claim(open_offer(standby).id, standby, rules(), NOW)
    assert entry(waiting).status == EntryStatus.CLOSED
    seats_hold()


# --- Saying no, lapsing, passing on ----------------------------------------------------------


def test_no_thanks_passes_the_seat_on_and_is_not_asked_again_that_day(full_day):
    first = join_standby(1, NOW)
    second = join_standby(2, NOW)
    cancel(full_day[0], NOW)
    offers.decline(open_offer(first).id, first, rules(), NOW)
    assert offers_of(first)[0].status == OfferStatus.DECLINED
    assert open_offer(second) is not None
    assert entry(first).status == EntryStatus.WAITING

    # The second says no too; another seat frees: the first is not asked again that day.
    offers.decline(open_offer(second).id, second, rules(), NOW)
    cancel(full_day[1], NOW)
    assert open_offer(first) is None and open_offer(second) is None
    assert counter(NEXT_DAY, FOUR) == 0 and counter(NEXT_DAY, FOUR_20) == 0
    assert offers.sweep(rules(), NOW) == 0
    seats_hold()


def test_a_lapse_on_one_day_leaves_the_waiting_list_s_other_days(full_day, clock):
    waiting = join_program(1, NOW)
    cancel(full_day[0], NOW)
    offer = open_offer(waiting)
    clock.set(offer.expires_at.replace(tzinfo=UTC))
    offers.sweep(rules(), clock.now)
    assert open_offer(waiting) is None  # not that day again

    # A later day opens with a free seat: theirs.
    reopen(LATER_DAYS[0])
    assert offers.sweep(rules(), clock.now) == 1
    assert open_offer(waiting).slot.day == LATER_DAYS[0]
    seats_hold()


def test_leaving_withdraws_the_offer_and_passes_the_seat_on(full_day):
    first = join_standby(1, NOW)
    second = join_standby(2, NOW)
    cancel(full_day[0], NOW)
    lists.leave(first, rules(), NOW)
    assert entry(first).status == EntryStatus.LEFT
    assert offers_of(first)[0].status == OfferStatus.WITHDRAWN
    assert open_offer(second) is not None
    with pytest.raises(errors.NotOnList):
        lists.leave(first, rules(), NOW)
    seats_hold()


def test_staff_removing_an_entry_gives_its_seat_back(full_day, make_staff):
    desk = make_staff(StaffRole.FRONT_DESK)
    first = join_standby(1, NOW)
    cancel(full_day[0], NOW)
    lists.remove(first, desk, rules(), NOW)
    removed = entry(first)
    assert removed.status == EntryStatus.REMOVED and removed.closed_by_id == desk.id
    assert counter(NEXT_DAY, FOUR) == 0  # nobody else waits
    seats_hold()


# --- Seats appearing, the sweep ----------------------------------------------------------------


def test_seats_added_invite_the_top_of_the_waiting_list(app, clock):
    """Order: the priority rules (visible tattoos, then referrals), then joining order."""
    only_next_day()
    fill(NOW)
    plain = join_program(1, NOW)
    referred = join_program(2, NOW, referral_source="job_program")
    visible = join_program(3, NOW, tattoo_locations=["face_neck"])
    referred_later = join_program(4, NOW, referral_source="reentry")
    assert [entry(e).priority for e in (plain, referred, visible)] == [2, 1, 0]

    # Staff add a seat to each slot: two seats for the top two.
    db.session.execute(
        ClinicDay.__table__.update().where(ClinicDay.day == NEXT_DAY).values(seats=2)
    )
    db.session.commit()
    assert offers.sweep(rules(), NOW) == 2
    assert open_offer(visible) is not None and open_offer(referred) is not None
    assert open_offer(referred_later) is None and open_offer(plain) is None
    seats_hold()


def test_without_priority_rules_the_list_is_in_joining_order(app):
    app.config["WAITLIST_PRIORITY"] = ""
    only_next_day()
    fill(NOW)
    plain = join_program(1, NOW)
    visible = join_program(2, NOW, tattoo_locations=["face_neck"], referral_source="court")
    assert entry(plain).priority == entry(visible).priority == 0
    # The day gets a third time (16:40): one seat, for the first to join.
    db.session.execute(
        ClinicDay.__table__.update().where(ClinicDay.day == NEXT_DAY).values(end_time=time(17, 0))
    )
    db.session.commit()
    assert offers.sweep(rules(), NOW) == 1
    assert open_offer(plain).slot.start_time == time(16, 40) and open_offer(visible) is None
    seats_hold()


def test_a_time_unblocked_is_offered_by_the_sweep(full_day):
    first = join_standby(1, NOW)
    db.session.execute(Slot.__table__.update().where(Slot.start_time == FOUR).values(blocked=True))
    db.session.commit()
    assert cancel(full_day[0], NOW) == 0  # blocked: nothing to offer
    assert open_offer(first) is None
    db.session.execute(Slot.__table__.update().values(blocked=False))
    db.session.commit()
    assert offers.sweep(rules(), NOW) == 1
    assert open_offer(first).slot.start_time == FOUR
    seats_hold()


def test_sweeping_again_offers_nothing_twice(full_day):
    first = join_standby(1, NOW)
    join_standby(2, NOW)
    cancel(full_day[0], NOW)
    assert offers.sweep(rules(), NOW) == 0
    assert offers.sweep(rules(), NOW) == 0
    assert len(offers_of(first)) == 1
    assert messages("seat_offered") == 1
    seats_hold()


@pytest.mark.parametrize("change", ["block", "close"])
def test_an_offer_on_a_seat_taken_out_of_the_schedule_is_withdrawn(full_day, change):
    first = join_standby(1, NOW)
    cancel(full_day[0], NOW)
    assert counter(NEXT_DAY, FOUR) == 1
    if change == "block":
        db.session.execute(
            Slot.__table__.update().where(Slot.start_time == FOUR).values(blocked=True)
        )
    else:
        db.session.execute(
            ClinicDay.__table__.update().where(ClinicDay.day == NEXT_DAY).values(closed=True)
        )
    db.session.commit()
    assert offers.sweep(rules(), NOW) == 0
    assert offers_of(first)[0].status == OfferStatus.WITHDRAWN
    assert counter(NEXT_DAY, FOUR) == 0
    seats_hold()


@pytest.mark.parametrize("change", ["block", "close"])
def test_an_offer_claimed_after_its_seat_left_the_schedule_books_nothing(full_day, change):
    """Claimed before any sweep could withdraw it: the claim sees the change itself."""
    first = join_standby(1, NOW)
    cancel(full_day[0], NOW)
    offer = open_offer(first)
    if change == "block":
        db.session.execute(
            Slot.__table__.update().where(Slot.start_time == FOUR).values(blocked=True)
        )
    else:
        db.session.execute(
            ClinicDay.__table__.update().where(ClinicDay.day == NEXT_DAY).values(closed=True)
        )
    db.session.commit()
    with pytest.raises(errors.OfferGone):
        offers.claim(offer.id, first, rules(), NOW)
    assert offers_of(first)[0].status == OfferStatus.WITHDRAWN
    assert entry(first).status == EntryStatus.WAITING
    assert counter(NEXT_DAY, FOUR) == 0
    seats_hold()


def test_the_sweep_closes_standby_lists_of_days_gone_by(full_day, clock):
    first = join_standby(1, NOW)
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=LA))
    assert offers.sweep_counts(rules(), clock.now).closed == 1
    assert entry(first).status == EntryStatus.CLOSED


# --- Staff invite by hand ----------------------------------------------------------------------


def test_staff_invite_offers_the_earliest_free_seat(app, make_staff):
    desk = make_staff(StaffRole.FRONT_DESK)
    only_next_day()
    fill(NOW)
    waiting = join_program(1, NOW)
    with pytest.raises(errors.NoSeatToOffer):
        offers.invite(waiting, desk, rules(), NOW)
    # A later day opens (the sweep has not run yet).
    reopen(LATER_DAYS[1])
    offer = offers.invite(waiting, desk, rules(), NOW)
    db.session.rollback()
    offer = db.session.get(SeatOffer, offer.id)
    assert offer.offered_by_id == desk.id and offer.status == OfferStatus.OPEN
    assert offer.slot_id is not None and open_offer(waiting).id == offer.id
    with pytest.raises(errors.NotOnList):  # an offer is out already
        offers.invite(waiting, desk, rules(), NOW)
    seats_hold()


def test_staff_cannot_invite_someone_who_holds_an_offer_from_another_list(app, make_staff):
    """On a day's standby list with a seat held for them, and on the waiting list: an invite
    from the waiting list would hold them a second seat."""
    desk = make_staff(StaffRole.FRONT_DESK)
    only_next_day()
    booked = fill(NOW)
    standby = join_standby(1, NOW)
    program = join_program(1, NOW, submission_key="program-0001-second-kkkk")
    cancel(booked[0], NOW)
    assert open_offer(standby) is not None
    reopen(LATER_DAYS[1])
    with pytest.raises(errors.NotOnList):
        offers.invite(program, desk, rules(), NOW)
    assert open_offer(program) is None
    seats_hold()


def test_the_sweep_command(full_day, runner, clock):
    first = join_standby(1, NOW)
    db.session.execute(Slot.__table__.update().where(Slot.start_time == FOUR).values(booked=0))
    db.session.execute(
        Appointment.__table__.update()
        .where(Appointment.id == full_day[0])
        .values(status="cancelled")
    )
    db.session.commit()  # a seat freed by a change that offered it to nobody
    result = runner.invoke(args=["offers", "sweep"])
    assert result.exit_code == 0, result.output
    assert result.output == "0 offers lapsed, 1 seats offered, 0 standby entries closed.\n"
    assert open_offer(first) is not None
    seats_hold()


@pytest.mark.parametrize("change", ["hours", "remove"])
def test_a_schedule_change_takes_back_an_offered_seat_it_removes(app, make_staff, change):
    """An extra day's seat offered to the waiting list, then the day's hours cut (or the day
    removed): the offer is withdrawn in the same change, the seat given back, and the change
    goes through (no foreign key left pointing at a removed time)."""
    admin = make_staff(StaffRole.ADMIN)
    only_next_day()
    fill(NOW)
    waiting = join_program(1, NOW)
    extra = date(2026, 12, 3)
    hours = schedule.Hours(start=time(16, 0), end=time(16, 40), seats=1)
    schedule.add_extra_day(extra, hours, admin, NOW, rules())
    offer = open_offer(waiting)
    assert offer.slot.day == extra and offer.slot.start_time == FOUR
    if change == "hours":
        later = schedule.Hours(start=time(16, 20), end=time(16, 40), seats=1)
        schedule.change_hours(extra, later, admin, NOW, rules())
    else:
        schedule.remove_extra_day(extra, admin, NOW, rules())
    statuses = [o.status for o in offers_of(waiting)]
    assert statuses[0] == OfferStatus.WITHDRAWN
    assert entry(waiting).status == EntryStatus.WAITING
    if change == "hours":
        # The time left on the day goes to them instead, at once.
        assert open_offer(waiting).slot.start_time == time(16, 20)
    seats_hold()
