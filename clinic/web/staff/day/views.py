"""The clinic day: the day sheet, the live queue and every move staff make on it.

Each POST calls one use case in ``clinic.visits`` and redirects back to the day (303), so a
reload never repeats a move; refusals come back as a flashed, translated explanation.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from clinic import accounts, audit, booking, clinic_day, records, vocab
from clinic.accounts import SignInLimits
from clinic.booking import list_reads
from clinic.extensions import db
from clinic.formats import long_day
from clinic.models import Appointment, Consent, Youth
from clinic.permissions import Action
from clinic.rules.calendar import day_stations
from clinic.rules.counts import NoShowPolicy
from clinic.rules.eligibility import age_on, needs_guardian, normalize_phone
from clinic.rules.visits import VisitStatus
from clinic.web import context
from clinic.web.converters import parse_day, row_ids
from clinic.web.refusals import explain_refusal
from clinic.web.staff import bp, requires
from clinic.web.staff.day.forms import TREATMENT_MISSING, TreatmentForm, WalkInForm

STATUS_LABELS = {
    VisitStatus.BOOKED: _l("Booked"),
    VisitStatus.CHECKED_IN: _l("Waiting"),
    VisitStatus.IN_TREATMENT: _l("In treatment"),
    VisitStatus.COMPLETED: _l("Done"),
    VisitStatus.NO_SHOW: _l("No-show"),
    VisitStatus.CANCELLED: _l("Cancelled"),
}

ACTION_LABELS = {
    "check_in": _l("check-in"),
    "call": _l("call"),
    "complete": _l("completion"),
    "no_show": _l("no-show"),
    "cancel": _l("cancellation"),
    "walk_in": _l("walk-in"),
    "schedule_cancel": _l("cancellation by a schedule change"),
}


def _explain(error: Exception) -> str:
    """A refused move, in words the front desk and clinicians use."""
    if isinstance(error, clinic_day.Refused):
        return _(
            "Not possible: this appointment is now “%(status)s”.",
            status=STATUS_LABELS[error.status],
        )
    messages = {
        clinic_day.NotFound: _l("That appointment does not exist."),
        clinic_day.WrongDay: _l("This can only be done on the day of the appointment."),
        clinic_day.NotYet: _l(
            "Too early: a no-show can be marked once the appointment time has come."
        ),
        clinic_day.ChangedMeanwhile: _l(
            "Someone else changed this appointment a moment ago. Here is the queue as it is now."
        ),
        clinic_day.ConsentNeeded: _l(
            "This youth is a minor: confirm a parent or guardian's consent before treatment."
        ),
        clinic_day.UnknownStation: _l("Please choose one of the stations."),
        clinic_day.NobodyWaiting: _l("Nobody in the queue can be called right now."),
        clinic_day.SeatTaken: _l(
            "Its seat has been given to someone else since. Add the youth as a walk-in if a "
            "seat is free."
        ),
        clinic_day.NothingToUndo: _l("There is nothing here to undo."),
        clinic_day.NoFreeSeat: _l(
            "Every seat left today is taken. A no-show or a cancellation frees one."
        ),
        clinic_day.NoClinicToday: _l("There is no clinic today."),
        clinic_day.ScheduleChanged: _l(
            "The schedule changed since (the day was closed, its hours changed or the time was "
            "blocked): this appointment cannot come back. Book a new time instead."
        ),
        clinic_day.OtherAppointment: _l(
            "This youth has booked another appointment since: cancel that one first."
        ),
        clinic_day.FormReused: _l(
            "This form was already used to add someone else. Please check the answers and "
            "press the button again."
        ),
    }
    if isinstance(error, clinic_day.StationBusy):
        return _("%(station)s is busy: complete its treatment first.", station=error.station)
    return str(messages.get(type(error), _l("That did not work. Please try again.")))


def _who(appointment_id: int) -> str:
    """The youth as a flash names them: first (or preferred) name and last initial, "Ana F."

    Enough for the desk to know whom a move touched, and no more: a flash travels in the
    (signed, not encrypted) session cookie, so never the full name, a birth date or a contact.
    """
    row = db.session.execute(
        select(Youth.first_name, Youth.preferred_name, Youth.last_name)
        .join(Appointment, Appointment.youth_id == Youth.id)
        .where(Appointment.id == appointment_id)
    ).one_or_none()
    if row is None:
        return "?"
    return Youth.short_name_of(row.first_name, row.preferred_name, row.last_name)


def _rules_and_now():
    rules = context.rules()
    return rules, context.now()


def _now():
    return context.now()


def _back_to_day(day: date | None = None):
    if day is None:
        try:
            day = parse_day(request.form.get("day", ""))
        except ValueError:
            return redirect(url_for("staff.index"), code=303)
    return redirect(url_for("staff.day", day=day) + "#live", code=303)


def _do(move, success, day_hint: date | None = None):
    """Run one move, flash its outcome, and go back to the day."""
    try:
        moved = move()
    except clinic_day.VisitError as error:
        flash(_explain(error), "error")
        return _back_to_day(day_hint)
    flash(success(moved), "success")
    return _back_to_day(moved.day)


# --- Pages -------------------------------------------------------------------------------


@bp.route("/")
@requires(Action.VIEW_DAY)
def index():
    """Today's clinic day, or the next one."""
    rules, now = context.rules(), context.now()
    day = booking.next_clinic_day(rules, now.date()) or now.date()
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


# The actions the sheet's rows offer, each shown only to roles allowed it.
_ROW_ACTIONS = ("CHECK_IN", "MARK_NO_SHOW", "TREAT", "CANCEL", "SEE_CONTACT", "MOVE_BOOKING")


def _sheet_context(day: date) -> dict:
    rules, now = context.rules(), context.now()
    clinical = current_user.can(Action.SEE_CLINICAL)
    config = current_app.config
    no_shows = NoShowPolicy(config["NO_SHOW_FLAG_COUNT"], config["NO_SHOW_RECENT_DAYS"])
    sheet = clinic_day.day_sheet(day, rules, now, clinical=clinical, no_shows=no_shows)
    today = now.date()
    # Who waits on standby, and the seats held for open offers (counted as taken in the
    # slots' seats): shown with the counts and beside each slot.
    lists = list_reads.day_lists(day)
    held: dict = {}
    for seat in lists.held:
        held.setdefault(seat.start, []).append(seat)
    # Asked once here rather than on every row of the sheet (each ``can()`` in a template
    # goes through ``current_user``, a proxy): the answers cannot change within a request.
    role = current_user.role
    may = SimpleNamespace(**{action: current_user.can(Action[action]) for action in _ROW_ACTIONS})
    return {
        "sheet": sheet,
        "lists": lists,
        "held": held,
        "today": today,
        "now": now,
        "is_today": day == today,
        # The day's stations: as many as clinicians rostered, or all of them without a roster.
        "stations": day_stations(rules.stations, sheet.plan) if sheet.plan else rules.stations,
        # Translated once here: a lazy string translates again each time a row shows it.
        "status_labels": {status: str(label) for status, label in STATUS_LABELS.items()},
        "action_labels": ACTION_LABELS,
        "undoable": lambda change: clinic_day.undoable(change, role, today, rules),
        "may": may,
        "walk_in_seats": sheet.walk_in_seats(now),
        "clinical": clinical,
        "flag_labels": dict(vocab.SCREENING_FLAGS),
        "refresh_seconds": current_app.config["QUEUE_REFRESH_SECONDS"],
        "grace_minutes": rules.no_show_grace.seconds // 60,
    }


@bp.route("/day/<isodate:day>")
@requires(Action.VIEW_DAY)
def day(day: date):
    # One event for the sheet (it shows many youth; the live refreshes are not recorded).
    audit.viewed("day", None, None, detail={"day": day.isoformat()})
    # A colleague locked out mid-clinic, shown to the admin where they work (not in the live
    # part: each account is a look-up in the sign-in counters).
    locked = []
    if current_user.can(Action.MANAGE_STAFF):
        locked = accounts.locked_out(current_user, SignInLimits.from_config(current_app.config))
    return render_template("staff/day/day.html", locked_out=locked, **_sheet_context(day))


@bp.route("/day/<isodate:day>/live")
@requires(Action.VIEW_DAY)
def queue_fragment(day: date):
    """The live part of the day page alone: what open screens fetch every few seconds."""
    return render_template("staff/day/_live.html", **_sheet_context(day))


# --- Moves -------------------------------------------------------------------------------


def _consent_choice() -> Consent | None:
    try:
        return Consent(request.form.get("consent", ""))
    except ValueError:
        return None


@bp.post("/appointments/<int:appointment_id>/check-in")
@requires(Action.CHECK_IN)
def check_in(appointment_id: int):
    rules, now = context.rules(), context.now()
    return _do(
        lambda: clinic_day.check_in(appointment_id, current_user, now, rules, _consent_choice()),
        lambda moved: _("Checked in: %(name)s.", name=_who(moved.appointment_id)),
    )


@bp.post("/appointments/<int:appointment_id>/consent")
@requires(Action.CHECK_IN)
def record_consent(appointment_id: int):
    now = context.now()
    consent = _consent_choice()
    if consent is None:
        flash(_("Please choose what the guardian said."), "error")
        return _back_to_day()
    return _do(
        lambda: clinic_day.record_consent(appointment_id, current_user, now, consent),
        lambda moved: _("Consent recorded for %(name)s.", name=_who(moved.appointment_id)),
    )


@bp.post("/appointments/<int:appointment_id>/call")
@requires(Action.TREAT)
def call(appointment_id: int):
    rules, now = context.rules(), context.now()
    # Not kept in the session: nothing reads it back, and a posted name of any length would
    # grow the cookie past what browsers keep.
    station = request.form.get("station", "")
    return _do(
        lambda: clinic_day.call(appointment_id, current_user, station, now, rules),
        lambda moved: _called(moved, station),
    )


def _called(moved: clinic_day.Moved, station: str) -> str:
    return _("%(name)s called to %(station)s.", name=_who(moved.appointment_id), station=station)


@bp.post("/day/<isodate:day>/call-next")
@requires(Action.TREAT)
def call_next(day: date):
    rules, now = context.rules(), context.now()
    station = request.form.get("station", "")
    return _do(
        lambda: clinic_day.call_next(day, current_user, station, now, rules),
        lambda moved: _called(moved, station),
        day_hint=day,
    )


@bp.post("/appointments/<int:appointment_id>/no-show")
@requires(Action.MARK_NO_SHOW)
def no_show(appointment_id: int):
    rules, now = context.rules(), context.now()
    return _do(
        lambda: clinic_day.mark_no_show(appointment_id, current_user, now, rules),
        lambda moved: _(
            "%(name)s marked as a no-show. The seat is free.", name=_who(moved.appointment_id)
        ),
    )


@bp.post("/day/<isodate:day>/no-shows")
@requires(Action.MARK_NO_SHOW)
def no_shows(day: date):
    """The grace-period offer: mark every late youth listed on the screen at once."""
    rules, now = context.rules(), context.now()
    ids = row_ids(request.form.getlist("appointment_id"))
    try:
        done = clinic_day.mark_no_shows(ids, current_user, now, rules)
    except clinic_day.VisitError as error:
        flash(_explain(error), "error")
        return _back_to_day(day)
    flash(
        ngettext("%(num)d marked as a no-show.", "%(num)d marked as no-shows.", len(done)),
        "success",
    )
    return _back_to_day(day)


@bp.post("/appointments/<int:appointment_id>/cancel")
@requires(Action.CANCEL)
def cancel_appointment(appointment_id: int):
    """Cancel a booking (the youth called to say they cannot come) or a youth who left the
    queue; the seat opens at once."""
    rules, now = context.rules(), context.now()
    return _do(
        lambda: clinic_day.cancel(appointment_id, current_user, now, rules),
        lambda moved: _(
            "Appointment of %(name)s cancelled. Its seat is free again.",
            name=_who(moved.appointment_id),
        ),
    )


@bp.post("/appointments/<int:appointment_id>/undo")
@requires(Action.VIEW_DAY)  # the use case checks the right to undo this particular move
def undo(appointment_id: int):
    rules, now = context.rules(), context.now()
    return _do(
        lambda: clinic_day.undo(appointment_id, current_user, now, rules),
        lambda moved: _(
            "Undone: %(name)s is “%(status)s” again.",
            name=_who(moved.appointment_id),
            status=STATUS_LABELS[moved.new],
        ),
    )


@bp.route("/appointments/<int:appointment_id>/complete", methods=["GET", "POST"])
@requires(Action.TREAT)
def complete(appointment_id: int):
    """Record the treatment just given; the station is free again."""
    appointment = db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .options(
            selectinload(Appointment.youth),
            selectinload(Appointment.intake),
            selectinload(Appointment.slot),
        )
    )
    if appointment is None:
        abort(404)
    if request.method == "GET":
        audit.viewed("appointment", appointment.id, appointment.youth_id)
    now = context.now()
    previous = clinic_day.sessions_before(appointment.youth_id, appointment.slot.day)
    form = TreatmentForm()
    if request.method == "GET":
        form.session_number.data = previous + 1
        form.areas.data = list(appointment.intake.tattoo_locations) if appointment.intake else []
    elif form.validate():
        record = clinic_day.TreatmentRecord(
            areas=form.areas.data,
            session_number=form.session_number.data,
            skin_type=form.skin_type.data or None,
            settings=form.text("settings"),
            notes=form.text("notes"),
        )
        try:
            clinic_day.complete(appointment_id, current_user, record, now)
        except clinic_day.TreatmentIncomplete as error:
            # The form checks the same; this is the use case's own word, kept with the values.
            for name in error.missing:
                getattr(form, name).errors = [str(TREATMENT_MISSING[name])]
        except clinic_day.VisitError as error:
            flash(_explain(error), "error")
            return _back_to_day(appointment.slot.day)
        else:
            flash(_("Treatment recorded for %(name)s.", name=_who(appointment_id)), "success")
            return _back_to_day(appointment.slot.day)
    status = 200 if request.method == "GET" else 422
    return (
        render_template(
            "staff/day/complete.html",
            form=form,
            appointment=appointment,
            age=age_on(appointment.youth.date_of_birth, appointment.slot.day),
            status_labels=STATUS_LABELS,
            flag_choices=vocab.SCREENING_FLAGS,
            suggested_session=previous + 1,
        ),
        status,
    )


# --- Walk-ins ----------------------------------------------------------------------------


def _minor_today(birth: date | None, today: date, rules) -> bool:
    """Whether the walk-in needs a guardian today; a birth date after today (a typo the form
    refuses) is no minor, and must not reach the age arithmetic."""
    return birth is not None and birth <= today and needs_guardian(birth, today, rules.ages)


@bp.route("/walk-in", methods=["GET", "POST"])
@requires(Action.CHECK_IN)
def walk_in():
    """A youth at the desk without an appointment. Today's seats left show first; then the
    few answers that decide a seat (names, birth date, phone: the age rule, a guardian, a
    record on file); then the rest of the intake, and straight into the queue. A full day
    offers the standby list and the next open days instead of the form."""
    rules, now = context.rules(), context.now()
    seats = clinic_day.walk_in_seats(rules, now)
    form = WalkInForm()
    form.date_of_birth.not_after = now.date()  # a birth date after today is refused, in words
    if request.method == "GET":
        form.submission_key.data = secrets.token_urlsafe(24)
        return _walk_in_page(form, seats, rules, now, step="check")
    if seats is None:
        form.form_errors.append(_("There is no clinic today."))
        return _walk_in_page(form, seats, rules, now, step="check"), 422
    if seats == 0:
        return _walk_in_page(form, seats, rules, now, step="check"), 422
    if form.step.data == "check":
        return _walk_in_first_step(form, seats, rules, now)
    return _walk_in_save(form, seats, rules, now)


def _walk_in_first_step(form: WalkInForm, seats: int, rules, now):
    today = now.date()
    if not form.validate_first_step():
        return _walk_in_page(form, seats, rules, now, step="check"), 422
    try:
        # The age bounds only: the guardian's details are asked next, if needed.
        booking.check_youth(form.date_of_birth.parsed, today, True, rules)
    except booking.BookingError as error:
        _explain_booking(form, error, today, rules)
        return _walk_in_page(form, seats, rules, now, step="check"), 422
    # The rest of the intake, with these answers kept; not an error, so a 200.
    form.step.data = "save"
    return _walk_in_page(form, seats, rules, now, step="save", duplicates=_look_alikes(form))


def _walk_in_save(form: WalkInForm, seats: int, rules, now):
    today = now.date()
    valid = form.validate()
    duplicates = _look_alikes(form)
    if valid:
        _check_walk_in_age(form, today, rules)
    youth_id = _chosen_youth(form, duplicates)
    birth = form.date_of_birth.parsed
    if _minor_today(birth, today, rules) and form.consent_choice() is None:
        form.guardian_consent.errors = [str(CONSENT_NOT_CHOSEN)]
    if not valid or any(f.errors for f in form) or form.form_errors:
        return _walk_in_page(form, seats, rules, now, step="save", duplicates=duplicates), 422
    try:
        appointment = clinic_day.walk_in(
            form.booking_request(today),
            current_user,
            now,
            rules,
            form.consent_choice(),
            youth_id=youth_id,
        )
    except clinic_day.NoFreeSeat:
        # Taken while the form was filled in: the same alternatives as a full day.
        return _walk_in_page(form, 0, rules, now, step="check"), 422
    except clinic_day.ConsentNotChosen:
        form.guardian_consent.errors = [str(CONSENT_NOT_CHOSEN)]
    except booking.TooSoon as error:
        form.form_errors.append(
            _(
                "Too soon after their last treatment: the skin needs time to heal. Their "
                "next session can be from %(date)s.",
                date=long_day(error.earliest),
            )
        )
    except clinic_day.FormReused as error:
        form.submission_key.data = secrets.token_urlsafe(24)
        form.form_errors.append(_explain(error))
    except booking.AlreadyBooked:
        form.form_errors.append(
            _(
                "This youth already has an upcoming appointment: find them on the day "
                "sheet (or their record) and check them in there."
            )
        )
    except booking.BookingError as error:
        _explain_booking(form, error, today, rules)
    except clinic_day.VisitError as error:
        form.form_errors.append(_explain(error))
    else:
        flash(
            _(
                "Walk-in added: %(name)s, ticket %(ticket)d.",
                name=_who(appointment.id),
                ticket=appointment.ticket or 0,
            ),
            "success",
        )
        return _back_to_day(today)
    return _walk_in_page(form, seats, rules, now, step="save", duplicates=duplicates), 422


CONSENT_NOT_CHOSEN = _l("Please choose what the guardian said: this youth is under 18.")
SAME_YOUTH_NOT_CHOSEN = _l("Please say whether this is one of these youth, or someone else.")


@dataclass(frozen=True)
class LookAlike:
    """A record on file that may be the youth at the desk."""

    youth: Youth
    same_birth_and_name: bool
    same_phone: bool
    identical: bool  # the same names and birth date: the very record the walk-in joins


def _look_alikes(form: WalkInForm) -> list[LookAlike]:
    """Records with the same birth date and a similar name, or the same phone."""
    first, last = form.text("first_name"), form.text("last_name")
    birth = form.date_of_birth.parsed
    if not (first and last and birth):
        return []
    key = Youth.make_identity_key(first, last, birth)
    return [
        LookAlike(
            match.youth,
            match.same_birth_and_name,
            match.same_phone,
            match.youth.identity_key == key,
        )
        for match in records.possible_duplicates(
            first, last, birth, phone=normalize_phone(form.phone.data)
        )
    ]


def _chosen_youth(form: WalkInForm, duplicates: list[LookAlike]) -> int | None:
    """The record the desk said this youth is, or None (someone new, or the identical record,
    which the walk-in joins by name and birth date anyway). A look-alike not answered for is
    an error on the form: the desk must say "use this youth" or "someone else"."""
    others = {str(d.youth.id): d.youth.id for d in duplicates if not d.identical}
    if not others or any(d.identical for d in duplicates):
        return None
    choice = form.same_youth.data
    if choice in others:
        return others[choice]
    if choice != "new":
        form.same_youth.errors = [str(SAME_YOUTH_NOT_CHOSEN)]
    return None


def _walk_in_page(form: WalkInForm, seats, rules, now, step: str, duplicates=()):
    today = now.date()
    birth = form.date_of_birth.parsed
    form.step.data = step
    full = seats is None or seats == 0
    return render_template(
        "staff/day/walk_in.html",
        form=form,
        seats=seats,
        today=today,
        step=step,
        duplicates=list(duplicates),
        minor=_minor_today(birth, today, rules),
        # Where a youth turned away today can go: only worked out when today is full.
        other_days=clinic_day.other_days(rules, now) if full else [],
    )


def _check_walk_in_age(form: WalkInForm, today: date, rules) -> None:
    birth = form.date_of_birth.parsed
    has_guardian = all(form.text(name) for name in WalkInForm.GUARDIAN_FIELDS)
    try:
        booking.check_youth(birth, today, has_guardian, rules)
    except booking.BookingError as error:
        _explain_booking(form, error, today, rules)


def _explain_booking(form: WalkInForm, error: booking.BookingError, today: date, rules) -> None:
    # The same words as online intake: the youth is standing at the desk and may read them.
    explain_refusal(form, error, today, rules)
