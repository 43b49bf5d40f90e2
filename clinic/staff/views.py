from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from clinic import booking, scheduling
from clinic.permissions import Action
from clinic.staff import bp, requires
from clinic.urls import parse_day


@bp.route("/")
@requires(Action.VIEW_DAY)
def index():
    """Today's clinic day, or the next one."""
    rules = booking.current_rules()
    today = booking.clinic_now(rules).date()
    day = booking.next_clinic_day(rules, today) or today
    return redirect(url_for("staff.day", day=day))


@bp.route("/day")
@requires(Action.VIEW_DAY)
def day_picker():
    """The date picker's GET target: ?day=YYYY-MM-DD."""
    try:
        chosen = parse_day(request.args.get("day", ""))
    except ValueError:
        return redirect(url_for("staff.index"))
    return redirect(url_for("staff.day", day=chosen))


@bp.route("/day/<isodate:day>")
@requires(Action.VIEW_DAY)
def day(day: date):
    rules = booking.current_rules()
    sheet = booking.staff_day(day, rules)
    return render_template(
        "staff/day.html",
        sheet=sheet,
        today=booking.clinic_now(rules).date(),
        age_on=scheduling.age_on,
        needs_guardian=lambda youth: scheduling.needs_guardian(
            youth.date_of_birth, day, rules.ages
        ),
    )


@bp.post("/appointments/<int:appointment_id>/cancel")
@requires(Action.CANCEL)
def cancel_appointment(appointment_id: int):
    """Cancel a booking (the youth called to say they cannot come); the seat opens at once."""
    rules = booking.current_rules()
    try:
        done = booking.cancel(appointment_id, current_user.id, booking.clinic_now(rules))
    except booking.NotCancellable:
        flash(_("That appointment was already cancelled or is in the past."), "error")
        return redirect(_back_to_day())
    # The code, never the name: flashed messages travel in the (signed, not secret) cookie.
    flash(_("Appointment %(code)s cancelled. Its seat is free again.", code=done.code), "success")
    return redirect(url_for("staff.day", day=done.day))


def _back_to_day() -> str:
    try:
        return url_for("staff.day", day=parse_day(request.form.get("day", "")))
    except ValueError:
        return url_for("staff.index")
