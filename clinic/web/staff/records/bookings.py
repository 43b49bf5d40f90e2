"""The desk's bookings (issue 16): moving one booking, and booking for a youth who phones in.

Thin views, as the records' others: read the form, call ``clinic.booking`` (the youth's own
move and the online booking's rules, one service each), then redirect (303) or show the form
again with 422, the choice kept and the refusal next to the field it concerns. What staff type
to find a caller is POSTed, never put in a URL.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from clinic import audit, booking, records
from clinic.extensions import db
from clinic.formats import clock, long_day
from clinic.models import Appointment, AppointmentStatus, Youth
from clinic.permissions import Action
from clinic.rules.eligibility import Eligibility, eligibility, needs_guardian
from clinic.rules.policy import ClinicRules
from clinic.web import context, limits
from clinic.web.staff import bp, requires
from clinic.web.staff.records.bookings_forms import CallerForm, FindForm, MoveForm
from clinic.web.staff.records.views import SLOT_MESSAGES, _age_message


def slot_value(day: date, start: time) -> str:
    return f"{day.isoformat()}T{start.strftime('%H:%M')}"


def slot_choices(
    days: list[booking.DayAvailability],
    window: list[booking.DayAvailability],
    posted: tuple[date, time] | None,
) -> list[SelectChoice]:
    """The bookable times grouped by day with the seats left, plus the one posted if it is a
    real clinic time no longer bookable: it stays chosen, and the refusal says why."""
    offered = [(d.plan.day, s.plan.start, s.seats_left) for d in days for s in d.slots]
    if posted is not None and all((d, s) != posted for d, s, _ in offered):
        offered += [
            (d.plan.day, s.plan.start, None)
            for d in window
            for s in d.slots
            if (d.plan.day, s.plan.start) == posted
        ]
    choices = [SelectChoice("", _("Choose…"))]
    for day, start, seats in sorted(offered, key=lambda o: (o[0], o[1])):
        if seats is None:
            label = _("%(time)s (not available)", time=clock(start))
        else:
            label = _("%(time)s (%(seats)d left)", time=clock(start), seats=seats)
        choices.append(SelectChoice(slot_value(day, start), label, optgroup=long_day(day)))
    return choices


def refusal(error: booking.BookingError, youth: Youth, day: date, rules: ClinicRules) -> str:
    """A refused move or booking in the desk's words."""
    if isinstance(error, booking.SlotUnavailable):
        return str(SLOT_MESSAGES.get(error.reason, SLOT_MESSAGES["not_offered"]))
    if isinstance(error, booking.NotEligible):
        return _age_message(error.outcome, youth.date_of_birth, day, rules)
    if isinstance(error, booking.GuardianRequired):
        return _(
            "The youth will be under %(age)d on %(day)s and no parent or guardian is on file. "
            "Please add one to the record first.",
            age=rules.ages.adult,
            day=long_day(day),
        )
    if isinstance(error, booking.TooSoon):
        return _(
            "Too soon after the last treatment: the skin needs time to heal. Please choose a "
            "date from %(date)s on.",
            date=long_day(error.earliest),
        )
    if isinstance(error, booking.SameTime):
        return _("This is already the time of the appointment. Please choose another time.")
    return _("This appointment can no longer be moved: it was cancelled, moved or has begun.")


# --- Move a booking ----------------------------------------------------------------------


@bp.route("/appointments/<int:appointment_id>/move", methods=["GET", "POST"])
@requires(Action.MOVE_BOOKING)
def move_booking(appointment_id: int):
    """Move one booking to another open time or day: choose, confirm, done. The youth is told
    as when they move it themselves."""
    rules, now = context.rules(), context.now()
    appointment = booking.appointment_to_move(appointment_id)
    if appointment is None:
        abort(404)
    youth = appointment.youth
    form = MoveForm()
    page = {"form": form, "appointment": appointment, "youth": youth, "confirm": None}
    if appointment.status != AppointmentStatus.BOOKED or not booking.is_ahead(
        appointment, rules, now
    ):
        page["movable"] = False
        return render_template("staff/records/move.html", **page), (
            200 if request.method == "GET" else 409
        )
    page["movable"] = True
    window = booking.upcoming_days(rules, now)
    days = booking.move_options(appointment, rules, now, window)
    page["last_day"] = rules.window.last_day(now.date())
    posted = form.chosen() if request.method == "POST" else None
    form.slot.choices = slot_choices(days, window, posted)
    if request.method == "GET":
        audit.viewed("youth", youth.id, youth.id)
        return render_template("staff/records/move.html", **page)

    if not form.validate():
        form.confirmed.data = ""
        return render_template("staff/records/move.html", **page), 422
    day, start = posted  # one of the listed choices: it parses
    if form.confirmed.data != "yes":
        # Second step: the old and the new time side by side, then Move.
        form.confirmed.data = "yes"
        page["confirm"] = (day, start)
        return render_template("staff/records/move.html", **page)
    try:
        booking.move_by_staff(appointment.id, day, start, current_user, rules, now)
    except booking.BookingError as error:
        form.confirmed.data = ""
        form.slot.errors = [*form.slot.errors, refusal(error, youth, day, rules)]
        fresh = booking.upcoming_days(rules, now)  # the seats as they are after the refusal
        form.slot.choices = slot_choices(
            booking.move_options(appointment, rules, now, fresh), fresh, posted
        )
        return render_template("staff/records/move.html", **page), 422
    flash(
        _(
            "Moved: %(name)s is now on %(day)s at %(time)s. They will get a message.",
            name=youth.short_name,
            day=long_day(day),
            time=clock(start),
        ),
        "success",
    )
    return redirect(url_for("staff.youth_record", youth_id=youth.id), code=303)


# --- Book for a caller -------------------------------------------------------------------


def _caller_choices(form: CallerForm, rules: ClinicRules, now: datetime) -> dict:
    """Every open time in the booking window, set as the form's choices (with the one posted
    kept); what the page shows of the window."""
    window = booking.upcoming_days(rules, now)
    days = [
        booking.DayAvailability(d.plan, [s for s in d.slots if s.bookable])
        for d in window
        if any(s.bookable for s in d.slots)
    ]
    posted = form.chosen() if request.method == "POST" and "slot" in request.form else None
    form.slot.choices = slot_choices(days, window, posted)
    return {"days": days, "last_day": rules.window.last_day(now.date())}


def _caller_page(form: CallerForm, find: FindForm, shown: dict, **extra):
    page = {"form": form, "find": find, "result": None, "duplicates": [], "upcoming": None}
    return render_template("staff/records/call.html", **{**page, **shown, **extra})


@bp.route("/call", methods=["GET", "POST"])
@requires(Action.BOOK_FOR_CALLER)
def book_for_caller():
    """A youth who phones in: find them on file (then book from their record), or book a new
    youth for any open time, after a warning about records that may be them."""
    rules, now = context.rules(), context.now()
    form = CallerForm()
    find = FindForm(formdata=None)
    form.date_of_birth.not_after = now.date()
    shown = _caller_choices(form, rules, now)
    if request.method == "GET":
        form.submission_key.data = secrets.token_urlsafe(24)
        return _caller_page(form, find, shown)

    valid = form.validate()
    chosen = form.chosen()
    birth = form.date_of_birth.parsed
    valid = valid and chosen is not None and birth is not None  # both parse once valid
    # A minor on the day (of an age the clinic sees: else the age is what to explain).
    if (
        valid
        and eligibility(birth, chosen[0], rules.ages) is Eligibility.ELIGIBLE
        and needs_guardian(birth, chosen[0], rules.ages)
    ):
        valid = form.require_guardian() and valid
    duplicates = []
    # Not for a repeated POST of a form that booked already (a double tap): it finds its booking.
    repeat = booking.find_by_submission(form.submission_key.data or "") is not None
    if valid and form.duplicates_seen.data != "yes" and not repeat:
        duplicates = records.possible_duplicates(
            form.text("first_name"), form.text("last_name"), birth, phone=form.phone.data
        )
        if duplicates:
            # Said once: pressing Book again books the new record (or the one on file, when
            # the names and birth date are exactly the same: the booking finds it).
            form.duplicates_seen.data = "yes"
            return _caller_page(form, find, shown, duplicates=duplicates), 422
    if not valid:
        return _caller_page(form, find, shown), 422

    day, start = chosen
    upcoming = None
    try:
        appointment = booking.book_for_caller(
            form.booking_request(day, start), current_user, rules, now
        )
    except booking.BookingError as error:
        upcoming = _explain_caller(form, error, day, rules)
        return _caller_page(form, find, shown, upcoming=upcoming), 422
    flash(
        _(
            "Booked: %(name)s on %(day)s at %(time)s (code %(code)s). The confirmation goes "
            "to the contact given, with their link.",
            name=db.session.get(Youth, appointment.youth_id).short_name,
            day=long_day(day),
            time=clock(start),
            code=appointment.code,
        ),
        "success",
    )
    return redirect(url_for("staff.youth_record", youth_id=appointment.youth_id), code=303)


def _explain_caller(
    form: CallerForm, error: booking.BookingError, day: date, rules: ClinicRules
) -> Appointment | None:
    """Put a refused caller's booking next to the field it concerns; the youth's upcoming
    appointment, when that is the reason (the page offers to move it instead)."""
    if isinstance(error, booking.NotEligible):
        message = _age_message(error.outcome, form.date_of_birth.parsed, day, rules)
        form.date_of_birth.errors = [*form.date_of_birth.errors, message]
    elif isinstance(error, booking.GuardianRequired):
        form.require_guardian()
    elif isinstance(error, booking.AlreadyBooked):
        upcoming = _upcoming(error.appointment_id)
        if upcoming is None:  # cancelled in the meantime: booking again will work
            form.form_errors.append(_("Something changed meanwhile. Please press Book again."))
            return None
        form.form_errors.append(
            _(
                "This youth already has an upcoming appointment: %(code)s on %(day)s at "
                "%(time)s. Move it instead, or cancel it first.",
                code=upcoming.code,
                day=long_day(upcoming.slot.day),
                time=clock(upcoming.slot.start_time),
            )
        )
        return upcoming
    elif isinstance(error, booking.SubmissionCancelled | booking.SubmissionReused):
        form.submission_key.data = secrets.token_urlsafe(24)
        form.form_errors.append(
            _("This form was already used for another booking. Please press Book again.")
        )
    else:
        form.slot.errors = [*form.slot.errors, _caller_slot_refusal(error)]
    return None


def _caller_slot_refusal(error: booking.BookingError) -> str:
    if isinstance(error, booking.TooSoon):
        return _(
            "Too soon after the last treatment: the skin needs time to heal. Please choose a "
            "date from %(date)s on.",
            date=long_day(error.earliest),
        )
    reason = getattr(error, "reason", "not_offered")
    return str(SLOT_MESSAGES.get(reason, SLOT_MESSAGES["not_offered"]))


def _upcoming(appointment_id: int | None) -> Appointment | None:
    if appointment_id is None:
        return None
    found = booking.appointment_to_move(appointment_id)
    if found is None or found.status != AppointmentStatus.BOOKED:
        return None
    return found


@bp.post("/call/find")
@limits.staff_record_reads()
@requires(Action.BOOK_FOR_CALLER)
def find_caller():
    """The caller may be on file: the records' search, each match with "Book a time"."""
    rules, now = context.rules(), context.now()
    find = FindForm()
    form = CallerForm(formdata=None)
    form.submission_key.data = secrets.token_urlsafe(24)
    shown = _caller_choices(form, rules, now)
    if not find.validate():
        return _caller_page(form, find, shown), 422
    query = records.parse_query(find.q.data)
    if query is None:
        find.q.errors.append(
            _("Please type a name, a phone number, or a date of birth as YYYY-MM-DD or MM/DD/YYYY.")
        )
        return _caller_page(form, find, shown), 422
    result = records.search(query, current_user, now.date())
    return _caller_page(form, find, shown, result=result)
