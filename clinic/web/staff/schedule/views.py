"""Staff pages: the schedule (admin). The coming clinic days with their seats, one date's
editor (close, reopen, hours, slot length, seats, remove an extra day, block a time), and the
call list of the youth a schedule change cancelled.

A change that would strand bookings comes back (422) with the bookings it affects and the
choices the service offers; the admin's choice is posted with the same change and the ids of
the bookings they saw.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from clinic import schedule, vocab
from clinic.booking import list_reads, roster
from clinic.formats import clock
from clinic.permissions import Action
from clinic.rules.calendar import roster_seats
from clinic.schedule import Resolution
from clinic.web import context
from clinic.web.converters import row_ids
from clinic.web.staff import bp, requires
from clinic.web.staff.schedule.forms import CloseForm, ExtraDayForm, HoursForm, RosterForm

HOURS_PROBLEMS = {
    "end_before_start": _l("The closing time must be after the opening time."),
    "slot_minutes": _l(
        "Please enter a slot length from 1 to %(max)d minutes.", max=schedule.MAX_SLOT_MINUTES
    ),
    "seats": _l("Please enter from 0 to %(max)d seats.", max=schedule.MAX_SEATS),
    "no_slots": _l("These hours are too short for one appointment."),
}

DAY_PROBLEMS = {
    schedule.DayPassed: _l("This date has passed. Please choose today or a later date."),
    schedule.AlreadyAClinicDay: _l("The clinic already opens on this date."),
    schedule.ClosedDay: _l("This clinic day is closed. Open it from its page to reopen it."),
    schedule.TooFarAhead: _l("Please choose a date within the next six months."),
}

# Refusals of a change to one date, shown at the top of its page.
CHANGE_PROBLEMS = {
    schedule.DayPassed: _l("This day has passed. It can no longer be changed."),
    schedule.NotAClinicDay: _l(
        "The clinic does not open on this day, so there is nothing to change."
    ),
    schedule.NotClosed: _l("This day is not closed."),
    schedule.NotExtra: _l("Only an extra day can be removed. Close a regular day instead."),
    schedule.ChangedMeanwhile: _l(
        "A booking on this day changed a moment ago. Nothing was saved: please look again."
    ),
    schedule.NotAClinician: _l(
        "Only active clinicians can be on the roster, and one of them no longer is. Nothing "
        "was saved: please tick them again."
    ),
}


# --- Pages -------------------------------------------------------------------------------


@bp.route("/schedule", endpoint="schedule")
@requires(Action.MANAGE_SCHEDULE)
def schedule_overview():
    """The coming clinic days, closed and extra ones among them, with seats booked and left."""
    return _overview(ExtraDayForm(formdata=None))


@bp.post("/schedule/extra")
@requires(Action.MANAGE_SCHEDULE)
def schedule_add_extra():
    """Add an extra clinic day."""
    form = ExtraDayForm()
    if form.validate():
        rules = context.rules()
        try:
            done = schedule.add_extra_day(
                form.day.parsed, form.hours(), current_user, context.now(), rules
            )
        except schedule.InvalidHours as problem:
            _field_error(form, problem)
        except tuple(DAY_PROBLEMS) as problem:
            form.day.errors = [*form.day.errors, DAY_PROBLEMS[type(problem)]]
        else:
            flash(_("Extra clinic day added."), "success")
            return redirect(url_for("staff.schedule_day", day=done.day), code=303)
    return _overview(form, 422)


def _overview(form: ExtraDayForm, status: int = 200):
    rules = context.rules()
    today = context.now().date()
    until = schedule.horizon_end(today)
    return (
        render_template(
            "staff/schedule/index.html",
            days=schedule.overview(rules, today, context.now()),
            # Standby and held seats per day: a held seat counts as booked until it is taken.
            lists=list_reads.lists_by_day(today, until),
            form=form,
            defaults=rules.day,
            today=today,
            until=until,
        ),
        status,
    )


@bp.route("/schedule/<isodate:day>", methods=["GET", "POST"])
@requires(Action.MANAGE_SCHEDULE)
def schedule_day(day: date):
    """One date: close, reopen, change hours, slot length or seats, remove an extra day."""
    rules = context.rules()
    editor = schedule.day_editor(day, rules)
    if editor is None:
        abort(404)
    hours_form = _hours_form(editor)
    close_form = CloseForm(formdata=None)
    if request.method == "GET":
        return _editor(editor, hours_form, close_form)

    now = context.now()
    change = request.form.get("change")
    if change == "close":
        close_form = CloseForm()
        if not close_form.validate():
            return _editor(editor, hours_form, close_form, status=422)
        return _attempt(
            editor,
            hours_form,
            close_form,
            lambda resolution, seen: schedule.close_day(
                day, close_form.note.data, current_user, now, rules, resolution, seen
            ),
            _("The day is closed."),
        )
    if change == "reopen":
        return _attempt(
            editor,
            hours_form,
            close_form,
            lambda resolution, seen: schedule.reopen_day(day, current_user, now, rules),
            _("The day is open again."),
        )
    if change == "hours":
        hours_form = HoursForm()
        if not hours_form.validate():
            return _editor(editor, hours_form, close_form, status=422)
        try:
            schedule.check_hours(hours_form.hours(), rules.day)
        except schedule.InvalidHours as problem:
            _field_error(hours_form, problem)
            return _editor(editor, hours_form, close_form, status=422)
        return _attempt(
            editor,
            hours_form,
            close_form,
            lambda resolution, seen: schedule.change_hours(
                day, hours_form.hours(), current_user, now, rules, resolution, seen
            ),
            _("The day's hours are saved."),
        )
    if change == "roster":
        roster_form = RosterForm().offer(roster.clinicians())
        if not roster_form.validate():
            return _editor(editor, hours_form, close_form, roster_form=roster_form, status=422)
        return _attempt(
            editor,
            hours_form,
            close_form,
            lambda resolution, seen: schedule.set_roster(
                day, roster_form.clinicians.data or [], current_user, now, rules, resolution, seen
            ),
            _("The day's roster is saved."),
            roster_form=roster_form,
        )
    if change == "remove":
        return _attempt(
            editor,
            hours_form,
            close_form,
            lambda resolution, seen: schedule.remove_extra_day(
                day, current_user, now, rules, resolution, seen
            ),
            _("The extra day is removed."),
            after=url_for("staff.schedule"),
        )
    abort(400)


@bp.post("/schedule/<isodate:day>/slots/<clock:start>/block")
@requires(Action.MANAGE_SCHEDULE)
def schedule_block_slot(day: date, start: time):
    """Take one time out of the day: no booking or walk-in takes it."""
    rules = context.rules()
    editor = _editor_or_404(day, rules, start)
    now = context.now()
    return _attempt(
        editor,
        _hours_form(editor),
        CloseForm(formdata=None),
        lambda resolution, seen: schedule.block_slot(
            day, start, current_user, now, rules, resolution, seen
        ),
        _("%(time)s is blocked: it takes no more bookings.", time=clock(start)),
    )


@bp.post("/schedule/<isodate:day>/slots/<clock:start>/unblock")
@requires(Action.MANAGE_SCHEDULE)
def schedule_unblock_slot(day: date, start: time):
    """Offer a blocked time again."""
    rules = context.rules()
    editor = _editor_or_404(day, rules, start)
    now = context.now()
    return _attempt(
        editor,
        _hours_form(editor),
        CloseForm(formdata=None),
        lambda resolution, seen: schedule.unblock_slot(day, start, current_user, now, rules),
        _("%(time)s is open for booking again.", time=clock(start)),
    )


@bp.route("/schedule/<isodate:day>/cancelled")
@requires(Action.MANAGE_SCHEDULE)
def schedule_cancelled(day: date):
    """The youth whose appointments a schedule change cancelled: the admin's call list."""
    rules = context.rules()
    contacts = schedule.cancelled_by_schedule(day, rules)
    see_contact = current_user.can(Action.SEE_CONTACT)
    if not see_contact:
        contacts = [_without_contact(c) for c in contacts]
    return render_template(
        "staff/schedule/cancelled.html",
        day=day,
        contacts=contacts,
        see_contact=see_contact,
        languages=dict(vocab.LANGUAGES),
    )


# --- Helpers -----------------------------------------------------------------------------


def _editor_or_404(day: date, rules, start: time) -> schedule.DayEditor:
    editor = schedule.day_editor(day, rules)
    if editor is None or all(slot.start != start for slot in editor.slots):
        abort(404)
    return editor


def _hours_form(editor: schedule.DayEditor) -> HoursForm:
    form = HoursForm(formdata=None)
    hours = editor.hours
    form.start.data = hours.start.strftime("%H:%M") if hours.start else ""
    form.end.data = hours.end.strftime("%H:%M") if hours.end else ""
    form.slot_minutes.data = str(hours.slot_minutes) if hours.slot_minutes is not None else ""
    form.seats.data = str(hours.seats) if hours.seats is not None else ""
    return form


def _field_error(form: HoursForm, problem: schedule.InvalidHours) -> None:
    field = getattr(form, problem.field)
    field.errors = [*field.errors, HOURS_PROBLEMS[problem.reason]]


def _resolution() -> Resolution | None:
    try:
        return Resolution(request.form.get("resolution", ""))
    except ValueError:
        return None


def _seen() -> list[int]:
    return row_ids(request.form.getlist("seen"))


def _attempt(
    editor,
    hours_form,
    close_form,
    change,
    done_message: str,
    after: str | None = None,
    roster_form: RosterForm | None = None,
):
    """Run one change with the admin's choice (if any) and answer: redirect when it is done,
    or the day's page again (422) with what stands in the way."""
    try:
        outcome = change(_resolution(), _seen())
    except schedule.Stranding as stranding:
        return _editor(editor, hours_form, close_form, roster_form, stranding=stranding, status=422)
    except schedule.NotAClinician as problem:
        # The boxes as they are now: the one who is no longer a clinician is gone from them.
        return _editor(
            editor, hours_form, close_form, problem=CHANGE_PROBLEMS[type(problem)], status=422
        )
    except tuple(CHANGE_PROBLEMS) as problem:
        return _editor(
            editor,
            hours_form,
            close_form,
            roster_form,
            problem=CHANGE_PROBLEMS[type(problem)],
            status=422,
        )
    except schedule.NoSuchSlot:
        abort(404)
    if outcome.cancelled:
        flash(
            ngettext(
                "%(num)d appointment was cancelled. Please contact them: they are listed below.",
                "%(num)d appointments were cancelled. Please contact them: they are listed below.",
                len(outcome.cancelled),
            ),
            "success",
        )
        flash(done_message, "success")
        return redirect(url_for("staff.schedule_cancelled", day=outcome.day), code=303)
    flash(done_message, "success")
    if outcome.moved:
        # Codes and times only: flashed messages travel in the cookie.
        moves = ", ".join(
            _("%(code)s %(old)s → %(new)s", code=code, old=clock(old), new=clock(new))
            for code, old, new in outcome.moved
        )
        flash(
            ngettext(
                "%(num)d appointment moved to a new time; please let them know: %(moves)s.",
                "%(num)d appointments moved to new times; please let them know: %(moves)s.",
                len(outcome.moved),
                moves=moves,
            ),
            "success",
        )
    if outcome.kept:
        flash(
            ngettext(
                "%(num)d booking stays at its time: the day sheet still lists it.",
                "%(num)d bookings stay at their times: the day sheet still lists them.",
                outcome.kept,
            ),
            "success",
        )
    return redirect(after or url_for("staff.schedule_day", day=outcome.day), code=303)


def _roster_form(day: date, clinicians) -> RosterForm:
    """The day's roster as it stands: a box per active clinician, ticked when rostered."""
    form = RosterForm(formdata=None).offer(clinicians)
    form.clinicians.data = sorted(roster.rostered_ids(day))
    return form


def _editor(
    editor: schedule.DayEditor,
    hours_form: HoursForm,
    close_form: CloseForm,
    roster_form: RosterForm | None = None,
    stranding: schedule.Stranding | None = None,
    problem: str | None = None,
    status: int = 200,
):
    rules = context.rules()
    clinicians = roster.clinicians()
    if roster_form is None:
        roster_form = _roster_form(editor.day, clinicians)
    today = context.now().date()
    see_contact = current_user.can(Action.SEE_CONTACT)
    affected = []
    if stranding is not None:
        affected = stranding.affected
        if not see_contact:
            affected = [_without_contact(a) for a in affected]
    # The confirmation repeats the change as posted, with the admin's choice added to it.
    repeat = [
        (name, value)
        for name, values in request.form.lists()
        if name not in ("csrf_token", "resolution", "seen")
        for value in values
    ]
    return (
        render_template(
            "staff/schedule/day.html",
            editor=editor,
            hours_form=hours_form,
            close_form=close_form,
            roster_form=roster_form,
            clinicians=clinicians,
            stranding=stranding,
            move_refused=isinstance(stranding, schedule.CannotMove),
            affected=affected,
            repeat=repeat,
            problem=problem,
            defaults=rules.day,
            # What a blank "seats" gives on a rostered day.
            roster_seats=roster_seats(editor.plan.clinicians if editor.plan else 0, rules.day),
            past=editor.day < today,
            lists=list_reads.day_lists(editor.day),
            see_contact=see_contact,
            languages=dict(vocab.LANGUAGES),
        ),
        status,
    )


def _without_contact(item):
    """The same row without phone, e-mail or guardian (for a role that may not see them)."""
    return replace(item, phone=None, email=None, guardian_name=None, guardian_phone=None)
