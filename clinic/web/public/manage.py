"""A youth's own pages, opened from the link in their messages: the appointment (cancel, move,
add to calendar, book the next session), the landing that swaps the token for the session,
and "Lost your link?".

``/my/<token>`` checks the token and redirects to ``/my``, so the token leaves the address
bar (and any history or screenshot); ``/my`` shows what the session's link points to. Every
token that does not work (malformed, unknown, past its time) and a visit without one get the
same page with the same status. Changes are POSTs with a CSRF token, never GETs.
"""

from __future__ import annotations

import secrets
import time as time_module
from datetime import UTC, datetime

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from clinic import booking
from clinic.booking import lost, manage
from clinic.booking.errors import SameTime
from clinic.extensions import csrf
from clinic.formats import clock, long_day
from clinic.messaging import ics, links
from clinic.messaging.links import Held
from clinic.models import Appointment, AppointmentStatus
from clinic.rules.eligibility import Eligibility, age_on, needs_guardian, normalize_phone
from clinic.rules.policy import ClinicRules
from clinic.web import context, limits
from clinic.web.page_cache import shared_page
from clinic.web.public import bp, lists
from clinic.web.public.held import current_held, hold, other_page
from clinic.web.public.manage_forms import (
    ConfirmForm,
    LostLinkForm,
    NextSessionForm,
    SlotForm,
    slot_value,
)
from clinic.web.public.views import answer_no_sooner_than, current_language, private_page
from clinic.web.refusals import SLOT_MESSAGES

# The list pages read it from ``clinic.web.public.held``: this module shows their page at
# /my, so they import nothing from here.


# --- The landing and the dispatcher ---------------------------------------------------------


def _unknown() -> Response:
    """The one answer to every link that does not work, and to ``/my`` without one."""
    return private_page(render_template("public/my/unknown.html"), 404)


@bp.get("/my/<token>")
@limits.link_opens
def open_link(token: str):
    held = links.resolve(token, context.now(), context.rules())
    if held is None:
        return _unknown()
    hold(held.token_hash)
    return redirect(url_for("public.my"), code=303)


@bp.get("/my")
def my():
    held = current_held()
    if held is None:
        return _unknown()
    if held.entry is not None:  # a place on a standby or waiting list
        return lists.entry_page(held)
    return _appointment_page(held)


def _held_appointment() -> Appointment | None:
    """The appointment the session's link points to, with what its pages show."""
    held = current_held()
    if held is None or held.appointment is None:
        return None
    return manage.appointment_for_page(held.appointment.id)


def _state(appointment: Appointment, rules: ClinicRules, now: datetime) -> str:
    """What the page says about the visit: upcoming, today (under way), treated, cancelled
    or past (missed, or its time gone by without a check-in)."""
    status = AppointmentStatus(appointment.status)
    if status is AppointmentStatus.CANCELLED:
        return "cancelled"
    if status is AppointmentStatus.COMPLETED:
        return "treated"
    if status in (AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_TREATMENT):
        return "today"
    if status is AppointmentStatus.BOOKED and manage.is_ahead(appointment, rules, now):
        return "upcoming"
    return "past"


def _appointment_page(held: Held) -> Response:
    appointment = manage.appointment_for_page(held.appointment.id)
    rules, now = context.rules(), context.now()
    youth = appointment.youth
    state = _state(appointment, rules, now)
    plan = manage.next_session_plan(youth.id, rules, now) if state == "treated" else None
    return private_page(
        render_template(
            "public/my/appointment.html",
            appointment=appointment,
            slot=appointment.slot,
            name=youth.preferred_name or youth.first_name,
            state=state,
            move=manage.last_move(appointment),
            minor=needs_guardian(youth.date_of_birth, appointment.slot.day, rules.ages),
            plan=plan,
            tel=_tel(),
        )
    )


def _tel() -> str:
    """The clinic's phone for a ``tel:`` link: '+14155550134'."""
    phone = current_app.config["CLINIC_PHONE"]
    return normalize_phone(phone) or "".join(ch for ch in phone if ch.isdigit() or ch == "+")


# --- Cancel -----------------------------------------------------------------------------------


# The forms check their own CSRF token, so that a page left open too long is answered on the
# page ("press again") rather than with a bare 400.
@csrf.exempt
@bp.route("/my/cancel", methods=["GET", "POST"])
def cancel():
    appointment = _held_appointment()
    if appointment is None:
        return _unknown()
    rules, now = context.rules(), context.now()
    if _state(appointment, rules, now) != "upcoming":
        return redirect(url_for("public.my"), code=303)
    form = ConfirmForm()
    if not form.check(appointment.code):
        return other_page()
    if form.validate_on_submit():
        try:
            manage.cancel_by_youth(appointment.id, rules, now)
        except booking.BookingError:
            # Cancelled or started meanwhile: the page says which.
            flash(_("This appointment can no longer be cancelled online."), "error")
        else:
            flash(_("Your appointment is cancelled. Thank you for letting us know."), "ok")
        return redirect(url_for("public.my"), code=303)
    return private_page(
        render_template(
            "public/my/cancel.html", form=form, appointment=appointment, slot=appointment.slot
        ),
        422 if request.method == "POST" else 200,
    )


# --- Reschedule -------------------------------------------------------------------------------


@csrf.exempt
@bp.route("/my/reschedule", methods=["GET", "POST"])
def reschedule():
    appointment = _held_appointment()
    if appointment is None:
        return _unknown()
    rules, now = context.rules(), context.now()
    if _state(appointment, rules, now) != "upcoming":
        return redirect(url_for("public.my"), code=303)
    days = manage.move_options(appointment, rules, now)
    form = SlotForm()
    if not form.check(appointment.code):
        return other_page()
    form.slot.choices = _slot_choices(days, form.slot.data if request.method == "POST" else None)
    if form.validate_on_submit():
        day, start = form.chosen()
        try:
            manage.reschedule_by_youth(appointment.id, day, start, rules, now)
        except booking.BookingError as error:
            form.form_errors.append(_refusal(error, appointment, day, rules))
            days = manage.move_options(appointment, rules, now)
            form.slot.choices = _slot_choices(days, form.slot.data)
        else:
            flash(
                _(
                    "Done: your appointment is now on %(day)s at %(time)s.",
                    day=long_day(day),
                    time=clock(start),
                ),
                "ok",
            )
            return redirect(url_for("public.my"), code=303)
    return private_page(
        render_template(
            "public/my/reschedule.html",
            form=form,
            appointment=appointment,
            slot=appointment.slot,
            days=days,
        ),
        422 if request.method == "POST" else 200,
    )


def _slot_choices(days: list[booking.DayAvailability], posted: str | None) -> list[tuple]:
    """Every time listed, and the one posted (so a time that filled meanwhile is answered
    "just filled up" rather than "not one of the times")."""
    values = [slot_value(day.plan.day, s.plan.start) for day in days for s in day.slots]
    if posted and posted not in values and _parses(posted):
        values.append(posted)
    return [(value, value) for value in values]


def _parses(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M")
    except ValueError:
        return False
    return True


def _refusal(
    error: booking.BookingError,
    appointment: Appointment,
    day,
    rules: ClinicRules,
    *,
    guardian_asked: bool = False,
) -> str:
    """A refused change in words. The visitor holds the link, so the reason is said plainly.
    ``guardian_asked``: the form has the guardian's fields (the next session's does)."""
    birth = appointment.youth.date_of_birth
    phone = current_app.config["CLINIC_PHONE"]
    if isinstance(error, booking.SlotUnavailable):
        return str(SLOT_MESSAGES[error.reason])
    if isinstance(error, booking.NotEligible):
        if error.outcome is Eligibility.TOO_OLD:
            return _(
                "This free clinic is for young people up to age %(max)d on the day of the "
                "appointment, and you will be %(age)d on %(day)s. Please choose an earlier day.",
                max=rules.ages.maximum,
                age=age_on(birth, day),
                day=long_day(day),
            )
        return _("You cannot book this day. Please call us at %(phone)s.", phone=phone)
    if isinstance(error, booking.GuardianRequired) and guardian_asked:
        return _(
            "You will be under %(age)d on %(day)s, so a parent or guardian must agree. "
            "Please give their details.",
            age=rules.ages.adult,
            day=long_day(day),
        )
    if isinstance(error, booking.GuardianRequired):
        return _(
            "You will be under %(age)d on %(day)s, so a parent or guardian must agree. "
            "Please call us at %(phone)s to move your appointment.",
            age=rules.ages.adult,
            day=long_day(day),
            phone=phone,
        )
    if isinstance(error, booking.TooSoon):
        return _(
            "The skin needs at least %(weeks)d weeks to heal between sessions: the earliest "
            "day for your next session is %(date)s. Please choose that day or a later one.",
            weeks=rules.follow_up.days // 7,
            date=long_day(error.earliest),
        )
    if isinstance(error, booking.AlreadyBooked):
        return _(
            "You already have an appointment coming up. To change it, open the link in its "
            "confirmation, or call us at %(phone)s.",
            phone=phone,
        )
    if isinstance(error, SameTime):
        return _("This is already the time of your appointment. Please choose another time.")
    if isinstance(error, booking.SubmissionReused | booking.SubmissionCancelled):
        return _("Something went wrong with this form. Please reload the page.")
    # NotChangeable, NoNextSession: changed meanwhile (another tab, the clinic).
    return _(
        "This appointment can no longer be changed online: it was changed meanwhile. "
        "Please check it below, or call us at %(phone)s.",
        phone=phone,
    )


# --- Add to calendar --------------------------------------------------------------------------


@bp.get("/my/calendar.ics")
def calendar():
    appointment = _held_appointment()
    if appointment is None:
        return _unknown()
    if appointment.status != AppointmentStatus.BOOKED:
        return redirect(url_for("public.my"), code=303)
    # The same file the e-mails attach: its event, version and neutral title.
    content = ics.calendar_for(
        appointment, language=current_language(), now=context.now().astimezone(UTC)
    )
    response = private_page(content)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return response


# --- The next session -------------------------------------------------------------------------


@csrf.exempt
@bp.route("/my/next", methods=["GET", "POST"])
def next_session():
    appointment = _held_appointment()
    if appointment is None:
        return _unknown()
    rules, now = context.rules(), context.now()
    if appointment.status != AppointmentStatus.COMPLETED:
        return redirect(url_for("public.my"), code=303)
    youth = appointment.youth
    plan = manage.next_session_plan(youth.id, rules, now)
    form = NextSessionForm()
    if not form.check(appointment.code):
        return other_page()
    posted = form.slot.data if request.method == "POST" else None
    form.slot.choices = _slot_choices(plan.days, posted)
    if request.method == "GET":
        _fill_contact(form, appointment)
    elif form.validate_on_submit():
        day, start = form.chosen()
        try:
            booked = manage.book_next(
                appointment.id,
                day,
                start,
                form.contact(),
                rules,
                now,
                submission_key=form.submission_key.data,
            )
        except booking.BookingError as error:
            form.form_errors.append(_refusal(error, appointment, day, rules, guardian_asked=True))
            if isinstance(error, booking.SubmissionReused | booking.SubmissionCancelled):
                form.submission_key.data = secrets.token_urlsafe(24)
            plan = manage.next_session_plan(youth.id, rules, now)
            form.slot.choices = _slot_choices(plan.days, form.slot.data)
        else:
            hold(booked.link_hash)
            flash(
                _(
                    "Booked: your next session is on %(day)s at %(time)s. We are sending you "
                    "a confirmation.",
                    day=long_day(day),
                    time=clock(start),
                ),
                "ok",
            )
            return redirect(url_for("public.my"), code=303)
    ask_guardian = any(
        needs_guardian(youth.date_of_birth, day.plan.day, rules.ages) for day in plan.days
    )
    return private_page(
        render_template(
            "public/my/next.html",
            form=form,
            plan=plan,
            ask_guardian=ask_guardian,
            appointment=appointment,
        ),
        422 if request.method == "POST" else 200,
    )


def _fill_contact(form: NextSessionForm, appointment: Appointment) -> None:
    """The form as the last booking left the contact details, for the youth to confirm."""
    on_file = appointment.intake or appointment.youth
    form.submission_key.data = secrets.token_urlsafe(24)
    form.phone.data = on_file.phone
    form.email.data = on_file.email
    form.contact_by.data = on_file.contact_by or "sms"
    form.language.data = on_file.language or "en"
    form.guardian_name.data = on_file.guardian_name
    form.guardian_relationship.data = on_file.guardian_relationship or ""
    form.guardian_phone.data = on_file.guardian_phone


# --- Lost your link? --------------------------------------------------------------------------


def _too_many_lookups(limit) -> Response:
    """Over a limit: the form again with what was typed, and when to try again (429)."""
    form = LostLinkForm()
    form.form_errors.append(
        _(
            "We have received several requests like this already. Please try again later, "
            "or call us at %(phone)s.",
            phone=current_app.config["CLINIC_PHONE"],
        )
    )
    response = private_page(render_template("public/my/lost.html", form=form), 429)
    response.headers["Retry-After"] = str(max(1, limit.reset_at - int(time_module.time())))
    return response


@csrf.exempt
@bp.route("/my/lost", methods=["GET", "POST"])
@limits.lost_link_requests(on_breach=_too_many_lookups)
@shared_page
def lost_link():
    form = LostLinkForm()
    if form.validate_on_submit():
        began = time_module.monotonic()
        try:
            # Whether anything matched, the visitor cannot tell: not from the page, its
            # status, nor the time it took.
            lost.send_link_again(
                form.phone(),
                form.email(),
                form.date_of_birth.parsed,
                context.rules(),
                context.now(),
            )
        finally:
            answer_no_sooner_than(began, current_app.config["BOOKING_ANSWER_FLOOR_MS"])
        return redirect(url_for("public.lost_link_sent"), code=303)
    return private_page(
        render_template("public/my/lost.html", form=form),
        422 if request.method == "POST" else 200,
    )


@bp.get("/my/lost/sent")
def lost_link_sent():
    return private_page(render_template("public/my/lost_sent.html"))
