from datetime import date, timedelta

from flask import redirect, render_template, request, url_for

from clinic import booking, scheduling
from clinic.staff import bp
from clinic.urls import parse_day


@bp.route("/")
def index():
    """Today's clinic day, or the next one."""
    rules = booking.current_rules()
    today = booking.clinic_now(rules).date()
    day = booking.next_clinic_day(rules, today) or today
    return redirect(url_for("staff.day", day=day))


@bp.route("/day")
def day_picker():
    """The date picker's GET target: ?day=YYYY-MM-DD."""
    try:
        chosen = parse_day(request.args.get("day", ""))
    except ValueError:
        return redirect(url_for("staff.index"))
    return redirect(url_for("staff.day", day=chosen))


@bp.route("/day/<isodate:day>")
def day(day: date):
    rules = booking.current_rules()
    sheet = booking.staff_day(day, rules)
    nearby = booking.day_plans(day - timedelta(days=62), day + timedelta(days=62), rules)
    previous_day = next((p.day for p in reversed(nearby) if p.day < day), None)
    following_day = next((p.day for p in nearby if p.day > day), None)
    return render_template(
        "staff/day.html",
        sheet=sheet,
        previous_day=previous_day,
        following_day=following_day,
        age_on=scheduling.age_on,
        needs_guardian=lambda youth: scheduling.needs_guardian(
            youth.date_of_birth, day, rules.ages
        ),
    )
