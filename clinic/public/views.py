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
from flask_babel import lazy_gettext as _l

from clinic import booking, clinic_day, settings
from clinic.extensions import csrf
from clinic.i18n import clock, long_day
from clinic.models import AppointmentStatus
from clinic.public import bp
from clinic.public.forms import IntakeForm, options
from clinic.rules.eligibility import Eligibility, age_on, birthday_at_age, needs_guardian
from clinic.rules.messages import choose_channel
from clinic.rules.policy import ClinicRules
from clinic.urls import safe_path

CONFIRMED_KEY = "confirmed_appointment"

SLOT_MESSAGES = {
    "full": _l("Sorry, this time just filled up. Please choose another time."),
    "closed": _l("Booking for this time has closed. Please choose a later time."),
    "too_far_ahead": _l("This time is not open for booking yet."),
    "not_offered": _l("Please choose one of the times listed."),
    "blocked": _l("This time is no longer offered. Please choose another time."),
}


@bp.route("/")
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
def days():
    rules = settings.current_rules()
    now = settings.clinic_now(rules)
    return render_template("public/days.html", days=booking.upcoming_days(rules, now))


@bp.route("/book/<isodate:day>")
def times(day: date):
    rules = settings.current_rules()
    availability = booking.day_availability(day, rules, settings.clinic_now(rules))
    if availability is None or not _within_window(day, rules):
        abort(404)
    return render_template("public/times.html", day=availability)


def _within_window(day: date, rules: ClinicRules) -> bool:
    today = settings.clinic_now(rules).date()
    return today <= day <= rules.window.last_day(today)


# The form carries its own CSRF token and its failure is shown next to the form with every
# answer kept, rather than as a bare 400 page.
@csrf.exempt
@bp.route("/book/<isodate:day>/<clock:start>", methods=["GET", "POST"])
def intake(day: date, start: time):
    rules = settings.current_rules()
    now = settings.clinic_now(rules)
    availability = booking.day_availability(day, rules, now)
    if not _within_window(day, rules):
        availability = None
    if request.method == "GET" and (
        availability is None or all(s.plan.start != start for s in availability.slots)
    ):
        abort(404)

    form = IntakeForm()
    form.slot_time.choices = _time_choices(availability, start) if availability else []
    if request.method == "GET":
        form.slot_time.data = start.strftime("%H:%M")
        form.language.data = str(session.get("lang") or _current_language())
        form.submission_key.data = secrets.token_urlsafe(24)
        return _private(render_template("public/intake.html", form=form, day=day))

    # A repeated submission (double tap, reload) goes to the booking it already made.
    earlier = booking.find_by_submission(form.submission_key.data or "")
    if (
        earlier is not None
        and earlier.status == AppointmentStatus.BOOKED
        and _repeats(form, earlier, day)
    ):
        return _confirmed(earlier)

    valid = form.validate()
    if availability is None:
        # The day was cancelled (or left the booking window) while the form was open.
        form.slot_time.errors = [_("This clinic day is no longer open. Please choose another day.")]
    else:
        _check_age_and_guardian(form, day, rules)
    if valid and not _has_errors(form):
        try:
            appointment = booking.book(
                form.booking_request(day, time.fromisoformat(form.slot_time.data)), rules, now
            )
        except booking.BookingError as error:
            explain_refusal(form, error, day, rules)
        else:
            return _confirmed(appointment)
    return _private(render_template("public/intake.html", form=form, day=day), 422)


def _private(body: str, status: int = 200):
    """A page with personal data: never kept in a shared device's cache."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _repeats(form: IntakeForm, appointment, day: date) -> bool:
    first, last, birth = form.text("first_name"), form.text("last_name"), form.date_of_birth.parsed
    if not (first and last and birth):
        return False
    return booking.is_repeat_of(appointment, first, last, birth, day)


def _current_language() -> str:
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


def _has_errors(form: IntakeForm) -> bool:
    return any(field.errors for field in form)


def _check_age_and_guardian(form: IntakeForm, day: date, rules: ClinicRules) -> None:
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


def explain_refusal(form: IntakeForm, error: booking.BookingError, day: date, rules) -> None:
    """Put a refused booking's reason next to the field it concerns."""
    if isinstance(error, booking.SlotUnavailable):
        form.slot_time.errors = [*form.slot_time.errors, SLOT_MESSAGES[error.reason]]
    elif isinstance(error, booking.NotEligible):
        message = _age_message(form, error, day, rules)
        form.date_of_birth.errors = [*form.date_of_birth.errors, message]
        form.age_refusal = error.outcome.value
    elif isinstance(error, booking.GuardianRequired):
        message = _(
            "You will be under %(age)d on %(day)s, so a parent or guardian must agree. "
            "Please give their details.",
            age=rules.ages.adult,
            day=long_day(day),
        )
        for name in IntakeForm.GUARDIAN_FIELDS:
            field = getattr(form, name)
            if not form.text(name) and not field.errors:
                field.errors = [*field.errors, message]
    elif isinstance(error, booking.SubmissionCancelled):
        form.submission_key.data = secrets.token_urlsafe(24)
        form.form_errors.append(
            _(
                "The booking made with this form was cancelled. To book again, check the "
                "time and press Book."
            )
        )
    elif isinstance(error, booking.SubmissionReused):
        form.submission_key.data = secrets.token_urlsafe(24)
        form.form_errors.append(
            _(
                "This form was already used to book for someone else. Please check the "
                "answers and press Book again."
            )
        )
    elif isinstance(error, booking.TooSoon):
        # Without the date: it would tell whoever knows a name and birth date when that youth
        # was last treated.
        form.form_errors.append(
            _(
                "The skin needs at least %(weeks)d weeks to heal between sessions, and this "
                "date is too soon after the last one. Please choose a later day, or call the "
                "clinic at %(phone)s.",
                weeks=rules.follow_up.days // 7,
                phone=current_app.config["CLINIC_PHONE"],
            )
        )
    elif isinstance(error, booking.AlreadyBooked):
        # Deliberately without the date: anyone who knows a youth's name and date of birth
        # must not learn when that youth will be at the clinic.
        form.form_errors.append(
            _(
                "There is already an upcoming appointment for this name and date of birth. "
                "To change it, please call the clinic at %(phone)s.",
                phone=current_app.config["CLINIC_PHONE"],
            )
        )


def _age_message(form: IntakeForm, error: booking.NotEligible, day: date, rules) -> str:
    birth = form.date_of_birth.parsed
    if error.outcome is Eligibility.NOT_BORN:
        return _("This date of birth is after the appointment. Please check the year.")
    if error.outcome is Eligibility.TOO_YOUNG:
        turns = birthday_at_age(birth, rules.ages.minimum)
        return _(
            "The clinic sees young people from age %(min)d. You turn %(min)d on %(date)s: "
            "you are welcome to book a clinic day from then on.",
            min=rules.ages.minimum,
            date=long_day(turns),
        )
    return _(
        "This free clinic is for young people up to age %(max)d on the day of the "
        "appointment, and you will be %(age)d on %(day)s.",
        max=rules.ages.maximum,
        age=age_on(birth, day),
        day=long_day(day),
    )


# On a shared phone the next person must not find the previous youth's booking.
CONFIRMATION_SHOWN_FOR = 30 * 60  # seconds


def _confirmed(appointment) -> object:
    # The confirmation is found through the session, never through an id in the URL.
    session[CONFIRMED_KEY] = [appointment.id, int(time_module.time())]
    return redirect(url_for("public.confirmed"), code=303)


@bp.route("/book/confirmed")
def confirmed():
    appointment_id, since = session.get(CONFIRMED_KEY) or (None, 0)
    fresh = time_module.time() - since < CONFIRMATION_SHOWN_FOR
    appointment = booking.confirmed_appointment(appointment_id) if appointment_id else None
    if appointment is None or not fresh:
        session.pop(CONFIRMED_KEY, None)
        return redirect(url_for("public.days"))
    rules = settings.current_rules()
    minor = needs_guardian(appointment.youth.date_of_birth, appointment.slot.day, rules.ages)
    intake = appointment.intake
    channel = choose_channel(intake.contact_by, intake.phone, intake.email) if intake else None
    return _private(
        render_template(
            "public/confirmed.html", appointment=appointment, minor=minor, channel=channel
        )
    )


# --- The waiting room's screen ---------------------------------------------------------------


def _board_context() -> dict:
    rules = settings.current_rules()
    serving = clinic_day.now_serving(settings.clinic_now(rules).date(), rules)
    # A waiting room holds both languages at once: every label is shown in each.
    labels = {}
    for lang in current_app.config["LANGUAGES"]:
        with force_locale(lang):
            labels[lang] = {
                "title": _("Now serving"),
                "free": _("Free"),
                "next": _("Next"),
                "none": _("Nobody waiting"),
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
def availability_api():
    """Open days and, per slot, its start time and seats left (read-only, no personal data)."""
    rules = settings.current_rules()
    now = settings.clinic_now(rules)
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
