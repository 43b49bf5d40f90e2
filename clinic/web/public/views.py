"""Booking a clinic Tuesday: days -> times -> intake -> confirmation."""

from __future__ import annotations

import secrets
import time as time_module
from datetime import date, time

from flask import (
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from clinic import booking, clinic_day
from clinic.extensions import csrf
from clinic.formats import clock
from clinic.models import AppointmentStatus
from clinic.rules.eligibility import needs_guardian
from clinic.rules.messages import choose_channel
from clinic.rules.policy import ClinicRules
from clinic.web import context, limits
from clinic.web.converters import safe_path
from clinic.web.forms import IntakeForm, options
from clinic.web.page_cache import kept_read, per_visit, shared_page
from clinic.web.public import bp, steps
from clinic.web.refusals import explain_refusal

CONFIRMED_KEY = "confirmed_appointment"


@bp.route("/")
@shared_page
def home():
    return render_template("public/home.html")


@bp.post("/language")
def set_language():
    """Remember the chosen language in the session and go back to the same page."""
    lang = request.form.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    target = safe_path(request.form.get("next")) or url_for("public.home")
    return redirect(target, code=303)


@bp.route("/book")
@shared_page
def days():
    rules = context.rules()
    now = context.now()
    return render_template("public/days.html", days=booking.days_to_book(rules, now))


@bp.route("/book/<isodate:day>")
@shared_page
def times(day: date):
    rules = context.rules()
    availability = booking.day_availability(day, rules, context.now())
    if availability is None or not within_window(day, rules):
        abort(404)
    return render_template("public/times.html", day=availability)


def within_window(day: date, rules: ClinicRules) -> bool:
    today = context.now().date()
    return today <= day <= rules.window.last_day(today)


def _too_many_requests(limit) -> object:
    """A visitor over a booking limit gets the form back with everything they typed, and
    when they can try again (429)."""
    day = request.view_args["day"]
    start = request.view_args["start"]
    availability = booking.day_availability(day, context.rules(), context.now())
    form = IntakeForm()
    form.slot_time.choices = _time_choices(availability, start) if availability else []
    form.form_errors.append(
        _(
            "We have received several booking requests from here already. To keep seats "
            "for everyone, please call us at %(phone)s, or try again later. Everything you "
            "typed is still here.",
            phone=current_app.config["CLINIC_PHONE"],
        )
    )
    journey = booking_journey(form, day, context.rules())
    response = journey.render(steps.posted_step(), 429)
    response.headers["Retry-After"] = str(max(1, limit.reset_at - int(time_module.time())))
    return response


# The form carries its own CSRF token and its failure is shown next to the form with every
# answer kept, rather than as a bare 400 page.
@csrf.exempt
@bp.route("/book/<isodate:day>/<clock:start>", methods=["GET", "POST"])
@limits.booking_requests(on_breach=_too_many_requests, exempt_when=steps.only_moving)
@shared_page
def intake(day: date, start: time):
    rules = context.rules()
    now = context.now()
    if steps.posted_move() == "book":
        availability = booking.day_availability(day, rules, now)
    else:
        # Showing a step: the times to choose from, as every visitor sees them this moment.
        availability = kept_read(("day", day), lambda: booking.day_availability(day, rules, now))
    if not within_window(day, rules):
        availability = None
    if request.method == "GET" and (
        availability is None or all(s.plan.start != start for s in availability.slots)
    ):
        abort(404)

    form = IntakeForm()
    form.slot_time.choices = _time_choices(availability, start) if availability else []
    journey = booking_journey(form, day, rules)
    if request.method == "GET":
        form.slot_time.data = start.strftime("%H:%M")
        fresh_intake(form)
        return journey.render(steps.ABOUT)
    if journey.move() != "book":
        return journey.navigate()

    # A repeated submission (double tap, reload) is answered as the first one was.
    earlier = booking.find_by_submission(form.submission_key.data or "")
    if (
        earlier is not None
        and earlier.status == AppointmentStatus.BOOKED
        and _repeats(form, earlier, day)
    ):
        return _received(form, day, earlier.slot.start_time, rules)

    # Every answer again: the hidden ones came back from the browser, and may not be ours.
    valid = journey.check_everything()
    if availability is None:
        # The day was cancelled (or left the booking window) while the form was open.
        form.slot_time.errors = [_("This clinic day is no longer open. Please choose another day.")]
    else:
        check_age_and_guardian(form, day, rules)
    refused = journey.refused_by_age()
    if refused is not None:
        return refused
    if valid and not has_errors(form):
        start = time.fromisoformat(form.slot_time.data)
        began = time_module.monotonic()
        try:
            # Booked, or declined in a message to the youth: the visitor cannot tell which,
            # not from the page and not from the time it took.
            booking.request_online(form.booking_request(day, start), rules, now)
        except booking.BookingError as error:
            explain_refusal(form, error, day, rules)
        else:
            return _received(form, day, start, rules)
        finally:
            answer_no_sooner_than(began, current_app.config["BOOKING_ANSWER_FLOOR_MS"])
        refused = journey.refused_by_age()
        if refused is not None:
            return refused
    return journey.render_errors(422)


def booking_journey(form: IntakeForm, day: date, rules: ClinicRules) -> steps.Journey:
    return steps.Journey(
        form,
        day,
        rules,
        "public/intake.html",
        page={"day": day},
        today=context.now().date(),
    )


def answer_no_sooner_than(began: float, floor_ms: int) -> None:
    """Wait out what is left of ``floor_ms`` since ``began`` (a monotonic instant)."""
    left = floor_ms / 1000 - (time_module.monotonic() - began)
    if left > 0:
        time_module.sleep(left)


def private_page(body: str, status: int = 200):
    """A page with personal data: never kept in a shared device's cache."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _repeats(form: IntakeForm, appointment, day: date) -> bool:
    first, last, birth = form.text("first_name"), form.text("last_name"), form.date_of_birth.parsed
    if not (first and last and birth):
        return False
    return booking.is_repeat_of(appointment, first, last, birth, day)


def current_language() -> str:
    return str(get_locale())


def _time_choices(day: booking.DayAvailability, requested: time) -> list:
    choices = []
    for slot in day.slots:
        if slot.bookable or slot.plan.start == requested:
            value = slot.plan.start.strftime("%H:%M")
            if slot.bookable:
                label = _(
                    "%(time)s (%(seats)d left)", time=clock(slot.plan.start), seats=slot.seats_left
                )
            else:
                label = _("%(time)s (not available)", time=clock(slot.plan.start))
            choices.append((value, label))
    return options(choices)


def fresh_intake(form: IntakeForm) -> None:
    """A new intake form: in the visitor's language, with its own submission key (a repeat
    of the same submission books, or joins, once)."""
    form.language.data = str(session.get("lang") or current_language())
    form.submission_key.data = per_visit(_submission_key)


def _submission_key() -> str:
    return secrets.token_urlsafe(24)


def has_errors(form: IntakeForm) -> bool:
    return any(field.errors for field in form)


def check_age_and_guardian(form: IntakeForm, day: date, rules: ClinicRules) -> None:
    """Apply the age and consent rules as soon as the date of birth can be read, so the youth
    sees every problem at once."""
    birth = form.date_of_birth.parsed
    if birth is None or form.date_of_birth.errors:
        return
    has_guardian = all(form.text(name) for name in IntakeForm.GUARDIAN_FIELDS)
    try:
        booking.check_youth(birth, day, has_guardian, rules)
    except booking.BookingError as error:
        explain_refusal(form, error, day, rules)


# On a shared phone the next person must not find the previous youth's request.
CONFIRMATION_SHOWN_FOR = 30 * 60  # seconds


def _received(form: IntakeForm, day: date, start: time, rules: ClinicRules):
    """Answer a request from what the visitor typed alone, never from the database: the
    page is the same whether it was booked or declined in a message to the youth. It is
    found through the session, never through anything in the URL."""
    birth = form.date_of_birth.parsed
    session[CONFIRMED_KEY] = {
        "day": day.isoformat(),
        "start": start.strftime("%H:%M"),
        "name": form.text("preferred_name") or form.text("first_name"),
        "minor": bool(birth and needs_guardian(birth, day, rules.ages)),
        "channel": choose_channel(form.contact_by.data, form.text("phone"), form.text("email")),
        "since": int(time_module.time()),
    }
    return redirect(url_for("public.confirmed"), code=303)


@bp.route("/book/confirmed")
def confirmed():
    shown = session.get(CONFIRMED_KEY)
    fresh = (
        isinstance(shown, dict)
        and time_module.time() - shown.get("since", 0) < CONFIRMATION_SHOWN_FOR
    )
    if not fresh:
        session.pop(CONFIRMED_KEY, None)
        return redirect(url_for("public.days"))
    return private_page(
        render_template(
            "public/confirmed.html",
            day=date.fromisoformat(shown["day"]),
            start=time.fromisoformat(shown["start"]),
            name=shown["name"],
            minor=shown["minor"],
            channel=shown["channel"],
        )
    )


# --- The waiting room's screen ---------------------------------------------------------------


def _board_context() -> dict:
    rules = context.rules()
    # In call order, the one "Call next" follows: the screen never promises a turn.
    serving = clinic_day.waiting_room(context.now().date(), rules)
    # A waiting room holds both languages at once: every label is shown in each.
    labels = {}
    for lang in current_app.config["LANGUAGES"]:
        with force_locale(lang):
            labels[lang] = {
                "title": _("Now serving"),
                "free": _("Free"),
                "next": _("Next"),
                "none": _("Nobody waiting"),
                "order": _("In the order we will call them."),
            }
    return {"serving": serving, "labels": labels}


@bp.route("/now-serving")
def now_serving():
    """The waiting room's screen: ticket numbers at each station and the next ones. Only
    numbers, never names, so it can hang on a wall (and needs no sign-in)."""
    return render_template("public/now_serving.html", **_board_context())


@bp.route("/now-serving/board")
def now_serving_board():
    return render_template("public/_board.html", **_board_context())


@bp.route("/api/availability")
@limits.availability_api
@shared_page
def availability_api():
    """Open days and, per slot, its start time and seats left (read-only, no personal data)."""
    rules = context.rules()
    now = context.now()
    days = booking.upcoming_days(rules, now)
    return jsonify(
        {
            "timezone": current_app.config["CLINIC_TZ"],
            "generated_at": now.isoformat(timespec="seconds"),
            "days": [
                {
                    "date": day.plan.day.isoformat(),
                    "seats_left": day.seats_left,
                    "slots": [
                        {
                            "start": slot.plan.start.strftime("%H:%M"),
                            "end": slot.plan.end.strftime("%H:%M"),
                            "seats_left": slot.seats_left,
                            "bookable": slot.bookable,
                        }
                        for slot in day.slots
                    ],
                }
                for day in days
            ],
        }
    )
