"""Standby and the waiting list, as a youth sees them: joining a full day's standby list or
the program's waiting list (the booking's intake form), and the page their link opens (their
place, a seat offered to take or refuse, leaving the list).

Joining ends on one page whatever happened (on the list, already on it, already booked:
``booking.lists``), made from what the visitor typed and kept in the session, never from the
database. The link's page shows the holder their own entry only; a place is a number.
"""

from __future__ import annotations

import time as time_module
from datetime import date, time

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField
from wtforms.validators import Optional

from clinic import booking
from clinic.booking import lists as booking_lists
from clinic.booking import offers, places
from clinic.booking.errors import ListNotOpen, NotOnList, OfferGone
from clinic.extensions import csrf
from clinic.formats import clock, long_day
from clinic.messaging.links import Held, hash_token
from clinic.models import EntryStatus, ListEntry, ListKind
from clinic.rules.messages import choose_channel
from clinic.rules.selfservice import weeks_to_say
from clinic.web import context, limits
from clinic.web.converters import parse_row_id
from clinic.web.forms import ClinicForm, IntakeForm, options
from clinic.web.page_cache import shared_page
from clinic.web.public import bp, steps
from clinic.web.public.held import current_held, hold, other_page
from clinic.web.public.manage_forms import AboutForm
from clinic.web.public.views import (
    answer_no_sooner_than,
    check_age_and_guardian,
    fresh_intake,
    has_errors,
    private_page,
    within_window,
)
from clinic.web.refusals import explain_refusal

JOINED_KEY = "joined_list"
# On a shared phone the next person must not find the previous youth's answer.
JOINED_SHOWN_FOR = 30 * 60  # seconds


class ListForm(IntakeForm):
    """The booking's intake, without a time: the program's waiting list."""

    slot_time = None


class StandbyForm(ListForm):
    """The intake, and the times of the day that would suit (slot start times; the view sets
    the choices)."""

    earliest = SelectField(_l("From"), validators=[Optional()])
    latest = SelectField(_l("To"), validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        earliest, latest = self.times()
        if earliest and latest and latest < earliest:
            self.latest.errors = [
                *self.latest.errors,
                _l("Please choose a time after the first one."),
            ]
            valid = False
        return valid

    def times(self) -> tuple[time | None, time | None]:
        """The chosen range, each end None when not chosen."""

        def read(field: SelectField) -> time | None:
            try:
                return time.fromisoformat(field.data) if field.data else None
            except (TypeError, ValueError):
                return None

        return read(self.earliest), read(self.latest)


class OfferForm(ClinicForm):
    """Take or refuse the seat offered (the CSRF token and which offer)."""

    offer_id = HiddenField()


# --- Joining ---------------------------------------------------------------------------------


def _standby_choices(availability: booking.DayAvailability) -> list:
    return options(
        [(s.plan.start.strftime("%H:%M"), clock(s.plan.start)) for s in availability.slots],
        blank=_l("Any time"),
    )


def _standby_day(day: date):
    """The day's availability if its standby list could be asked for at all (a clinic day
    in the booking window), else 404."""
    rules = context.rules()
    availability = booking.day_availability(day, rules, context.now())
    if availability is None or not within_window(day, rules):
        abort(404)
    return availability


def _too_many_joins(limit) -> object:
    """Over a request limit (the booking's, shared): the form back with everything typed."""
    day = (request.view_args or {}).get("day")
    rules = context.rules()
    if day is not None:
        availability = booking.day_availability(day, rules, context.now())
        form = StandbyForm()
        choices = _standby_choices(availability) if availability else options([])
        form.earliest.choices = form.latest.choices = choices
        journey = _standby_journey(form, day, rules)
    else:
        form = ListForm()
        journey = _program_journey(form, rules)
    form.form_errors.append(
        _(
            "We have received several requests from here already. To keep the lists fair, "
            "please call us at %(phone)s, or try again later. Everything you typed is still "
            "here.",
            phone=current_app.config["CLINIC_PHONE"],
        )
    )
    response = journey.render(steps.posted_step(), 429)
    response.headers["Retry-After"] = str(max(1, limit.reset_at - int(time_module.time())))
    return response


# As the booking form: the form carries its own CSRF token, and its failure is shown next to
# the form with every answer kept.
@csrf.exempt
@bp.route("/book/<isodate:day>/standby", methods=["GET", "POST"])
@limits.booking_requests(on_breach=_too_many_joins, exempt_when=steps.only_moving)
@shared_page
def join_standby(day: date):
    rules = context.rules()
    now = context.now()
    availability = _standby_day(day)
    form = StandbyForm()
    form.earliest.choices = form.latest.choices = _standby_choices(availability)
    journey = _standby_journey(form, day, rules)
    if request.method == "GET":
        fresh_intake(form)
        return journey.render(steps.ABOUT)
    if journey.move() != "book":
        return journey.navigate()

    valid = journey.check_everything()
    check_age_and_guardian(form, day, rules)
    refused = journey.refused_by_age()
    if refused is not None:
        return refused
    if valid and not has_errors(form):
        earliest, latest = form.times()
        start = earliest or availability.plan.start
        began = time_module.monotonic()
        try:
            booking_lists.join_standby(
                form.booking_request(day, start), earliest, latest, rules, now
            )
        except ListNotOpen as refused:
            form.form_errors.append(_not_open(refused, day))
        except booking.BookingError as error:
            explain_refusal(form, error, day, rules)
        else:
            return _joined(form, ListKind.STANDBY, day, earliest, latest)
        finally:
            answer_no_sooner_than(began, current_app.config["BOOKING_ANSWER_FLOOR_MS"])
    return journey.render_errors(422)


def _standby_journey(form: StandbyForm, day: date, rules) -> steps.Journey:
    return steps.Journey(
        form,
        day,
        rules,
        "public/lists/standby.html",
        page={"day": day},
        with_time=False,
        finish_label=_("Join the list"),
        check_title=_("Check and join"),
        today=context.now().date(),
    )


def _program_journey(form: ListForm, rules, full: bool = True) -> steps.Journey:
    today = context.now().date()
    # The age rule for today: each seat offered later is checked for its own day.
    return steps.Journey(
        form,
        today,
        rules,
        "public/lists/program.html",
        page={"full": full},
        with_time=False,
        finish_label=_("Join the list"),
        check_title=_("Check and join"),
        today=today,
    )


@csrf.exempt
@bp.route("/waiting-list", methods=["GET", "POST"])
@limits.booking_requests(on_breach=_too_many_joins, exempt_when=steps.only_moving)
@shared_page
def join_program():
    rules = context.rules()
    now = context.now()
    today = now.date()
    form = ListForm()
    if request.method == "GET":
        fresh_intake(form)
        full = not any(day.bookable for day in booking.upcoming_days(rules, now))
        return _program_journey(form, rules, full).render(steps.ABOUT)
    journey = _program_journey(form, rules)
    if journey.move() != "book":
        return journey.navigate()

    valid = journey.check_everything()
    check_age_and_guardian(form, today, rules)
    refused = journey.refused_by_age()
    if refused is not None:
        return refused
    if valid and not has_errors(form):
        began = time_module.monotonic()
        try:
            # The age rule for today: each seat offered later is checked for its own day.
            booking_lists.join_program(form.booking_request(today, time(0)), rules, now)
        except ListNotOpen as refused:
            form.form_errors.append(_not_open(refused, None))
        except booking.BookingError as error:
            explain_refusal(form, error, today, rules)
        else:
            return _joined(form, ListKind.PROGRAM, None, None, None)
        finally:
            answer_no_sooner_than(began, current_app.config["BOOKING_ANSWER_FLOOR_MS"])
    return journey.render_errors(422)


def _not_open(refused: ListNotOpen, day: date | None) -> str:
    if refused.reason == "open_times":
        if day is not None:
            return _("There are open times on this day: please book one instead.")
        return _("There are open times in the coming weeks: please book one instead.")
    return _("This day has no standby list: it is not open for booking, or booking has closed.")


def _joined(form: IntakeForm, kind: ListKind, day, earliest, latest):
    """Answer from what the visitor typed alone (see the module's docstring), through the
    session, never anything in the URL."""
    session[JOINED_KEY] = {
        "kind": kind.value,
        "day": day.isoformat() if day else None,
        "earliest": earliest.strftime("%H:%M") if earliest else None,
        "latest": latest.strftime("%H:%M") if latest else None,
        "name": form.text("preferred_name") or form.text("first_name"),
        "channel": choose_channel(form.contact_by.data, form.text("phone"), form.text("email")),
        "since": int(time_module.time()),
    }
    return redirect(url_for("public.list_joined"), code=303)


@bp.route("/waiting-list/joined")
def list_joined():
    shown = session.get(JOINED_KEY)
    if (
        not isinstance(shown, dict)
        or time_module.time() - shown.get("since", 0) >= JOINED_SHOWN_FOR
    ):
        session.pop(JOINED_KEY, None)
        return redirect(url_for("public.days"))

    def at(text):
        return time.fromisoformat(text) if text else None

    day = date.fromisoformat(shown["day"]) if shown["day"] else None
    return private_page(
        render_template(
            "public/lists/joined.html",
            kind=shown["kind"],
            describe=describe(shown["kind"], day, at(shown["earliest"]), at(shown["latest"])),
            name=shown["name"],
            channel=shown["channel"],
        )
    )


# --- The link's page -------------------------------------------------------------------------


def entry_page(held: Held):
    """The page a link to a list entry opens (``held.entry``): where the youth stands, the
    seat offered to them if any (take it or not), leaving the list; or what became of the
    entry. Only this entry's own facts; a place is a number."""
    rules = context.rules()
    now = context.now()
    entry = held.entry
    place = offer = appointment = None
    if entry.status == EntryStatus.WAITING:
        place = places.place(entry, rules, now)
        offer = places.open_offer(entry.id, now)
    elif entry.status == EntryStatus.BOOKED:
        appointment = places.booked_appointment(entry)
    return private_page(
        render_template(
            "public/lists/entry.html",
            entry=entry,
            place=place,
            weeks=weeks_to_say(place.wait) if place and place.wait else None,
            offer=offer,
            appointment=appointment,
            form=OfferForm(offer_id=str(offer.id) if offer else ""),
            describe=describe(entry.kind, entry.day, entry.earliest, entry.latest),
        )
    )


def _held_entry() -> ListEntry:
    """The entry the browser's link opens, or the same "link does not work" answer as any
    wrong link (the manage pages' own: through ``/my``)."""
    held = current_held()
    if held is None or held.entry is None:
        abort(_redirect_to_my())
    return held.entry


def _redirect_to_my():
    return redirect(url_for("public.my"), code=303)


@bp.post("/my/list/offer")
def answer_offer():
    """Take this seat, or no thanks: the two buttons under an offer."""
    entry = _held_entry()
    form = OfferForm()
    offer_id = parse_row_id(form.offer_id.data)
    answer = request.form.get("answer")
    if offer_id is None or answer not in ("take", "decline") or not form.validate():
        return _redirect_to_my()
    taking = answer == "take"
    rules, now = context.rules(), context.now()
    try:
        if taking:
            claimed = offers.claim_with_link(offer_id, entry.id, rules, now)
        else:
            offers.decline(offer_id, entry.id, rules, now)
    except booking.BookingError as refusal:
        flash(_claim_refused(refusal, rules), "error")
        return _redirect_to_my()
    if not taking:
        flash(_("You said no to this seat. You are still on the list."), "success")
        return _redirect_to_my()
    # From now on this browser's page is the appointment's (change, cancel, add to calendar).
    hold(hash_token(claimed.token))
    flash(_("The seat is yours: you are booked."), "success")
    return _redirect_to_my()


def _claim_refused(refusal: booking.BookingError, rules) -> str:
    """Why a seat could not be taken, said plainly: the visitor holds the youth's link."""
    phone = current_app.config["CLINIC_PHONE"]
    if isinstance(refusal, OfferGone):
        return _(
            "This offer has ended: it was answered already, or its time ran out and the seat "
            "went to the next person."
        )
    if isinstance(refusal, booking.NotEligible):
        return _(
            "This seat could not be booked for you: the clinic sees young people aged %(min)d "
            "to %(max)d on the day of the visit. We offered it to the next person.",
            min=rules.ages.minimum,
            max=rules.ages.maximum,
        )
    if isinstance(refusal, booking.GuardianRequired):
        return _(
            "This seat could not be booked for you: you will be under %(age)d that day, and "
            "we have no parent or guardian's details for you. Please call us at %(phone)s.",
            age=rules.ages.adult,
            phone=phone,
        )
    if isinstance(refusal, booking.TooSoon):
        return _(
            "This seat could not be booked for you: that day is too soon after your last "
            "session (the skin needs at least %(weeks)d weeks to heal). You are still on the "
            "list.",
            weeks=rules.follow_up.days // 7,
        )
    if isinstance(refusal, booking.AlreadyBooked):
        return _(
            "This seat could not be booked for you: you already have an appointment with us, "
            "and we book one at a time. The link in your confirmation message opens it."
        )
    return _("This seat could not be booked for you. Please call us at %(phone)s.", phone=phone)


@bp.route("/my/list/leave", methods=["GET", "POST"])
def leave_list():
    """Leave the list: a confirmation step, then off the list (an offer out is refused)."""
    entry = _held_entry()
    form = AboutForm()
    if not form.check(f"list-{entry.id}"):
        return other_page()
    if request.method == "GET" or not form.validate():
        if entry.status != EntryStatus.WAITING:
            return _redirect_to_my()
        return private_page(render_template("public/lists/leave.html", entry=entry, form=form))
    try:
        booking_lists.leave(entry.id, context.rules(), context.now())
    except NotOnList:
        pass  # left already (a second tap): the page says so
    else:
        flash(_("You left the list. You can join again at any time."), "success")
    return _redirect_to_my()


def describe(kind: str, day: date | None, earliest: time | None, latest: time | None) -> str:
    """ "You are on standby for Tuesday, ... (between ...)" / "You are on the waiting list"."""
    if kind != ListKind.STANDBY or day is None:
        return _("You are on the clinic's waiting list.")
    when = long_day(day)
    if earliest and latest:
        return _(
            "You are on standby for %(day)s, between %(earliest)s and %(latest)s.",
            day=when,
            earliest=clock(earliest),
            latest=clock(latest),
        )
    if earliest:
        return _(
            "You are on standby for %(day)s, from %(earliest)s on.",
            day=when,
            earliest=clock(earliest),
        )
    if latest:
        return _(
            "You are on standby for %(day)s, until %(latest)s.", day=when, latest=clock(latest)
        )
    return _("You are on standby for %(day)s.", day=when)
