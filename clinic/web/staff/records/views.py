"""Staff pages for youth records: search, a record, booking a follow-up, merging duplicates.

Thin views: read the form, call ``clinic.records``, then redirect (303) or show the form again
with 422 and the reason next to the field. Search queries are POSTed, so names, phones and
birth dates never land in URLs, logs or browser history.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice

from clinic import audit, booking, records, vocab
from clinic.extensions import db
from clinic.formats import clock, long_day
from clinic.models import EntryStatus, OfferStatus, Youth
from clinic.permissions import Action
from clinic.rules.eligibility import (
    Eligibility,
    age_on,
    birthday_at_age,
    needs_guardian,
    normalize_phone,
)
from clinic.rules.policy import ClinicRules
from clinic.rules.visits import VisitStatus
from clinic.web import context, limits
from clinic.web.staff import bp, requires
from clinic.web.staff.records.forms import FollowUpForm, MergeForm, SearchForm

STATUS_LABELS = {
    VisitStatus.BOOKED: _l("Booked"),
    VisitStatus.CHECKED_IN: _l("Checked in"),
    VisitStatus.IN_TREATMENT: _l("In treatment"),
    VisitStatus.COMPLETED: _l("Completed"),
    VisitStatus.NO_SHOW: _l("No-show"),
    VisitStatus.CANCELLED: _l("Cancelled"),
}

# Each move in an appointment's history, as "<what> by <who>".
CHANGE_LABELS = {
    "check_in": _l("Checked in"),
    "call": _l("Called to a station"),
    "complete": _l("Treatment recorded"),
    "no_show": _l("Marked as a no-show"),
    "cancel": _l("Cancelled"),
    "walk_in": _l("Added as a walk-in"),
    "schedule_cancel": _l("Cancelled by a schedule change"),
    "reschedule": _l("Moved to another time"),
}

ENTRY_STATUS = {
    EntryStatus.WAITING: _l("Waiting"),
    EntryStatus.BOOKED: _l("Took a seat"),
    EntryStatus.LEFT: _l("Left the list"),
    EntryStatus.REMOVED: _l("Removed by staff"),
    EntryStatus.CLOSED: _l("Closed"),
}

OFFER_STATUS = {
    OfferStatus.OPEN: _l("Seat held"),
    OfferStatus.CLAIMED: _l("Taken"),
    OfferStatus.DECLINED: _l("Said no"),
    OfferStatus.LAPSED: _l("Not answered in time"),
    OfferStatus.WITHDRAWN: _l("Withdrawn"),
}

SLOT_MESSAGES = {
    "full": _l("This time just filled up. Please choose another time."),
    "closed": _l("Booking for this time has closed. Please choose a later time."),
    "too_far_ahead": _l("This time is not open for booking yet."),
    "not_offered": _l("Please choose one of the times listed."),
    "blocked": _l("This time is blocked. Please choose another time."),
}

MERGE_MESSAGES = {
    records.MergeRefused.SAME: _l("A record cannot be merged into itself."),
    records.MergeRefused.KEPT_MERGED: _l(
        "This record was merged into another one. Open that record to merge into it."
    ),
    records.MergeRefused.OTHER_MERGED: _l("The other record was already merged."),
}


def show_phone(phone: str | None) -> str | None:
    """'+14155550134' -> '(415) 555-0134'; anything else as stored."""
    if phone and len(phone) == 12 and phone.startswith("+1") and phone[2:].isdigit():
        return f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    return phone


@bp.context_processor
def records_helpers():
    return {"show_phone": show_phone}


def _labels():
    """Codes stored in the database, and the words staff read for them."""
    return {
        "status": STATUS_LABELS,
        "area": dict(vocab.TATTOO_LOCATIONS),
        "screening": dict(vocab.SCREENING_FLAGS),
        "relationship": dict(vocab.GUARDIAN_RELATIONSHIPS),
        "language": dict(vocab.LANGUAGES),
        "change": CHANGE_LABELS,
        "entry": ENTRY_STATUS,
        "offer": OFFER_STATUS,
    }


def _now() -> tuple[ClinicRules, datetime]:
    rules = context.rules()
    return rules, context.now()


# --- Search ------------------------------------------------------------------------------


@bp.route("/youth", methods=["GET", "POST"])
@limits.staff_record_reads(methods=["POST"])
@requires(Action.VIEW_RECORDS)
def youth_search():
    """The search box (GET); the query is POSTed to the same URL and answered with the list."""
    form = SearchForm()
    if request.method == "GET":
        return render_template("staff/records/search.html", form=form, result=None)
    if not form.validate():
        return render_template("staff/records/search.html", form=form, result=None), 422
    query = records.parse_query(form.q.data)
    if query is None:
        form.q.errors.append(
            _("Please type a name, a phone number, or a date of birth as YYYY-MM-DD or MM/DD/YYYY.")
        )
        return render_template("staff/records/search.html", form=form, result=None), 422
    if query.kind is records.QueryKind.PHONE and not current_user.can(Action.SEE_CONTACT):
        form.q.errors.append(
            _("Searching by phone is for the front desk. Please search by name or date of birth.")
        )
        return render_template("staff/records/search.html", form=form, result=None), 422
    now = context.now()
    result = records.search(query, current_user, now.date())
    return render_template(
        "staff/records/search.html", form=form, result=result, limit=records.SEARCH_LIMIT
    )


# --- One record --------------------------------------------------------------------------

ACCESS_HISTORY = 20  # the latest events about the youth shown on their record

# The audit trail's actions, as the record's access history says them.
ACCESS_LABELS = {
    audit.VIEW: _l("Viewed"),
    audit.CREATE: _l("Created"),
    audit.UPDATE: _l("Changed"),
    audit.DELETE: _l("Deleted"),
    audit.EXPORT: _l("Exported"),
    audit.PURGE: _l("Purged"),
    audit.ERASE: _l("Erased"),
}
ACCESS_OBJECTS = {
    "appointment": _l("Appointment"),
    "intake": _l("Intake"),
    "treatment": _l("Treatment"),
    "list_entry": _l("List entry"),
    "seat_offer": _l("Seat offer"),
}


@bp.route("/youth/<int:youth_id>")
@limits.staff_record_reads()
@requires(Action.VIEW_RECORDS)
def youth_record(youth_id: int):
    now = context.now()
    record = records.youth_record(
        youth_id,
        current_user,
        now.date(),
        context.rules().follow_up,
        no_show_days=current_app.config["NO_SHOW_RECENT_DAYS"],
    )
    if record is None:
        abort(404)
    if isinstance(record, records.Merged):
        return redirect(url_for("staff.youth_record", youth_id=record.into_id))
    audit.viewed("youth", record.id, record.id)
    # Its own access history, for those who may read the trail (this view included).
    access = (
        audit.events(audit.Filter(youth_id=record.id), ACCESS_HISTORY)
        if current_user.can(Action.VIEW_AUDIT)
        else None
    )
    return render_template(
        "staff/records/record.html",
        record=record,
        access=access,
        access_labels=ACCESS_LABELS,
        access_objects=ACCESS_OBJECTS,
        today=now.date(),
        labels=_labels(),
        weeks=current_app.config["FOLLOW_UP_MIN_WEEKS"],
    )


# --- Booking a follow-up -----------------------------------------------------------------


def _slot_value(day: date, start: time) -> str:
    return f"{day.isoformat()}T{start.strftime('%H:%M')}"


def _parse_slot(value: str | None) -> tuple[date, time] | None:
    try:
        day_text, time_text = (value or "").split("T")
        return date.fromisoformat(day_text), time.fromisoformat(time_text)
    except ValueError:
        return None


def _slot_choices(plan: records.FollowUpPlan, requested: str | None) -> list[SelectChoice]:
    """The bookable times grouped by day, plus the one posted if it is a real clinic time
    that is no longer bookable: it stays chosen, and the refusal says why."""
    offered = [
        (day.plan.day, slot.plan.start, slot.seats_left) for day in plan.days for slot in day.slots
    ]
    wanted = _parse_slot(requested)
    if wanted is not None and all((d, s) != wanted for d, s, _ in offered):
        for day in plan.window:
            for slot in day.slots:
                if (day.plan.day, slot.plan.start) == wanted:
                    offered.append((day.plan.day, slot.plan.start, None))
    choices = [SelectChoice("", _("Choose…"))]
    for day, start, seats in sorted(offered, key=lambda o: (o[0], o[1])):
        if seats is None:
            label = _("%(time)s (not available)", time=clock(start))
        else:
            label = _("%(time)s (%(seats)d left)", time=clock(start), seats=seats)
        choices.append(SelectChoice(_slot_value(day, start), label, optgroup=long_day(day)))
    return choices


@bp.route("/youth/<int:youth_id>/book", methods=["GET", "POST"])
@requires(Action.BOOK_FOLLOW_UP)
def book_follow_up(youth_id: int):
    """Book the youth's next session from their record, from the earliest date the skin has
    healed; every refusal is explained on the form, with the choice kept."""
    rules, now = context.rules(), context.now()
    plan = records.follow_up_plan(youth_id, current_user, rules, now, context.rules().follow_up)
    if plan is None:
        abort(404)
    if isinstance(plan, records.Merged):
        return redirect(url_for("staff.book_follow_up", youth_id=plan.into_id), code=303)
    sees_contact = current_user.can(Action.SEE_CONTACT)
    form = FollowUpForm()
    form.slot.choices = _slot_choices(plan, form.slot.data if request.method == "POST" else None)
    birth = plan.youth.date_of_birth
    # A birth date after the first day offered is a typing mistake; booking explains it.
    minor = birth <= plan.first_day and needs_guardian(birth, plan.first_day, rules.ages)
    page = {
        "form": form,
        "plan": plan,
        "youth": plan.youth,
        "weeks": current_app.config["FOLLOW_UP_MIN_WEEKS"],
        "last_day": rules.window.last_day(now.date()),
        "sees_contact": sees_contact,
        "ask_guardian": sees_contact and minor and not plan.guardian_on_file,
        "guardian_missing": minor and not plan.guardian_on_file,
    }
    if request.method == "GET":
        form.submission_key.data = secrets.token_urlsafe(24)
        audit.viewed("youth", youth_id, youth_id)
        return render_template("staff/records/book.html", **page)

    if not page["ask_guardian"]:
        # Taken only where the form asks for them: the guardian's details are contact
        # details, never taken from staff who cannot see them.
        for name in FollowUpForm.GUARDIAN_FIELDS:
            getattr(form, name).data = None
    if form.validate():
        day, start = _parse_slot(form.slot.data)  # one of the listed choices: it parses
        guardian = None
        if page["ask_guardian"] and form.guardian_given():
            guardian = records.Guardian(
                name=form.text("guardian_name"),
                relationship=form.text("guardian_relationship"),
                phone=normalize_phone(form.guardian_phone.data),
            )
        try:
            appointment = records.book_follow_up(
                plan.youth.id,
                day,
                start,
                form.submission_key.data,
                current_user,
                rules,
                now,
                guardian=guardian,
            )
        except booking.BookingError as error:
            _explain(form, error, day, rules, now, plan, page)
        else:
            # The code and the date, never the name: flashed messages travel in the cookie.
            flash(
                _(
                    "Follow-up booked: %(code)s on %(day)s at %(time)s.",
                    code=appointment.code,
                    day=long_day(day),
                    time=clock(start),
                ),
                "success",
            )
            return redirect(url_for("staff.youth_record", youth_id=plan.youth.id), code=303)
    return render_template("staff/records/book.html", **page), 422


def _explain(form, error, day, rules, now, plan, page) -> None:
    """Put a refused booking's reason next to the time chosen (or the guardian's fields)."""
    youth = plan.youth
    if isinstance(error, booking.SlotUnavailable):
        message = SLOT_MESSAGES.get(error.reason, SLOT_MESSAGES["not_offered"])
    elif isinstance(error, booking.TooSoon):
        message = _(
            "Too soon after the last treatment: the skin needs %(weeks)d weeks to heal. "
            "Please choose a date from %(date)s on.",
            weeks=page["weeks"],
            date=long_day(error.earliest),
        )
    elif isinstance(error, booking.NotEligible):
        message = _age_message(error.outcome, youth.date_of_birth, day, rules)
    elif isinstance(error, booking.GuardianRequired):
        page["guardian_missing"] = True
        if page["sees_contact"]:
            page["ask_guardian"] = True
            message = _(
                "The youth will be under %(age)d on %(day)s and no parent or guardian is on "
                "file. Please enter their details below.",
                age=rules.ages.adult,
                day=long_day(day),
            )
            for name in FollowUpForm.GUARDIAN_FIELDS:
                field = getattr(form, name)
                if not form.text(name) and not field.errors:
                    field.errors = [*field.errors, _("Please fill this in.")]
        else:
            message = _(
                "The youth will be under %(age)d on %(day)s and no parent or guardian is on "
                "file. Please ask the front desk to add one and book this session.",
                age=rules.ages.adult,
                day=long_day(day),
            )
    elif isinstance(error, booking.AlreadyBooked):
        upcoming = booking.upcoming_appointment(youth.id, now.date())
        if upcoming is None:  # cancelled in the meantime: booking again will work
            message = _("Something changed meanwhile. Please press Book again.")
        else:
            message = _(
                "This youth already has an upcoming appointment: %(code)s on %(day)s at "
                "%(time)s. To book another time, cancel it first from that day's page.",
                code=upcoming.code,
                day=long_day(upcoming.slot.day),
                time=clock(upcoming.slot.start_time),
            )
    elif isinstance(error, booking.SubmissionCancelled):
        form.submission_key.data = secrets.token_urlsafe(24)
        message = _("The booking made with this form was cancelled. To book again, press Book.")
    else:  # SubmissionReused: this form's key booked another day
        form.submission_key.data = secrets.token_urlsafe(24)
        message = _("This form was already used for another booking. Please press Book again.")
    form.slot.errors = [*form.slot.errors, message]


def _age_message(outcome: Eligibility, birth: date, day: date, rules) -> str:
    if outcome is Eligibility.TOO_YOUNG:
        return _(
            "The youth turns %(min)d on %(date)s, and the clinic sees young people from age "
            "%(min)d. Please choose a date from then on.",
            min=rules.ages.minimum,
            date=long_day(birthday_at_age(birth, rules.ages.minimum)),
        )
    if outcome is Eligibility.TOO_OLD:
        return _(
            "The youth will be %(age)d on %(day)s: the clinic sees young people up to age "
            "%(max)d on the day of the appointment.",
            age=age_on(birth, day),
            day=long_day(day),
            max=rules.ages.maximum,
        )
    return _("The date of birth on file is after this date. Please check the record.")


# --- Merging duplicates ------------------------------------------------------------------


def _merge_page(
    preview: records.MergePreview,
    form: MergeForm,
    refusal: records.MergeRefused | None,
    status: int = 200,
):
    return (
        render_template(
            "staff/records/merge.html",
            preview=preview,
            form=form,
            refusal=_refusal_message(refusal),
            labels=_labels(),
        ),
        status,
    )


def _refusal_message(refusal: records.MergeRefused | None) -> str | None:
    if refusal is None:
        return None
    if refusal.reason == records.MergeRefused.BOTH_UPCOMING:
        kept, other = refusal.kept_upcoming, refusal.other_upcoming
        return _(
            "Both records have an upcoming appointment: %(kept_code)s on %(kept_day)s on the "
            "record to keep, and %(other_code)s on %(other_day)s on the other one. A youth "
            "holds one upcoming appointment at a time: please cancel one of them first.",
            kept_code=kept.code,
            kept_day=long_day(kept.day),
            other_code=other.code,
            other_day=long_day(other.day),
        )
    return str(MERGE_MESSAGES[refusal.reason])


@bp.route("/youth/<int:youth_id>/merge/<int:other_id>")
@limits.staff_record_reads()
@requires(Action.MERGE_YOUTH)
def merge_youth_confirm(youth_id: int, other_id: int):
    """Both records side by side, before the admin merges ``other_id`` into ``youth_id``."""
    now = context.now()
    preview = records.merge_preview(
        youth_id, other_id, current_user, now.date(), context.rules().follow_up
    )
    if preview is None:
        abort(404)
    audit.viewed("youth", youth_id, youth_id)
    audit.viewed("youth", other_id, other_id)
    form = MergeForm()
    form.other_id.data = other_id
    return _merge_page(preview, form, preview.refusal)


@bp.post("/youth/<int:youth_id>/merge")
@requires(Action.MERGE_YOUTH)
def merge_youth(youth_id: int):
    """Merge the posted record into this one, then show this one."""
    if db.session.get(Youth, youth_id) is None:
        abort(404)
    form = MergeForm()
    if not form.validate():
        return render_template("staff/records/merge_invalid.html", youth_id=youth_id), 422
    other_id = form.other_id.data
    if db.session.get(Youth, other_id) is None:
        abort(404)
    now = context.now()
    try:
        records.merge(youth_id, other_id, current_user, now.date())
    except LookupError:
        abort(404)
    except records.MergeRefused as refusal:
        preview = records.merge_preview(
            youth_id, other_id, current_user, now.date(), context.rules().follow_up
        )
        if preview is None:
            abort(404)
        return _merge_page(preview, form, refusal, 422)
    flash(
        _("Records merged: this record now holds the other one's appointments and treatments."),
        "success",
    )
    return redirect(url_for("staff.youth_record", youth_id=youth_id), code=303)
