"""Staff pages for the standby and waiting lists: the coming days with who waits and the seats
held for offers, one day's standby list, the program's waiting list; moving a standby entry up
or down, removing an entry (after a confirmation), inviting someone from the waiting list by
hand.

Each POST calls one use case and redirects (303) back to the entry's list, so a reload never
repeats it; a refusal comes back as a flashed, translated explanation. Pages that show names
and contact details count against the staff record-reads limit, as the records pages do.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from clinic import audit, booking, vocab
from clinic.booking import list_reads, lists, offers
from clinic.booking.errors import NoSeatToOffer, NotOnList, OfferGone
from clinic.formats import clock, day_clock_at, short_day
from clinic.models import EntryStatus, ListKind, OfferStatus
from clinic.permissions import Action
from clinic.web import context, limits
from clinic.web.staff import bp, requires
from clinic.web.staff.lists.forms import ConfirmForm, MoveForm

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

LIST_KIND = {
    ListKind.STANDBY: _l("Standby"),
    ListKind.PROGRAM: _l("Program waiting list"),
}

# The program list's priority rules (the WAITLIST_PRIORITY setting), in staff's words.
PRIORITY_REASONS = {
    "visible": _l("Visible tattoo (face, neck or hands)"),
    "referral": _l("Referral (job, re-entry or probation program)"),
}


def _labels() -> dict:
    return {
        "entry": ENTRY_STATUS,
        "offer": OFFER_STATUS,
        "kind": LIST_KIND,
        "contact_by": {"sms": _("Text message"), "email": _("E-mail")},
        "language": dict(vocab.LANGUAGES),
    }


def priority_reason(priority: int) -> str:
    """Why an entry is where it is on the program list: the rule that placed it (the
    ``priority`` is the index of the first rule the youth met, 0 first), or none."""
    rules = context.rules().offers.priority_rules
    if 0 <= priority < len(rules):
        return str(PRIORITY_REASONS.get(rules[priority], rules[priority]))
    return _("None")


# --- Pages -------------------------------------------------------------------------------


@bp.route("/lists")
@requires(Action.VIEW_DAY)
def lists_overview():
    """The coming clinic days, each with who waits on standby and the seats held for offers,
    and how many wait on the program's list. Counts only: no names."""
    rules, now = context.rules(), context.now()
    today = now.date()
    last = rules.window.last_day(today)
    plans = booking.day_plans(today, last, rules)
    summary = list_reads.lists_by_day(today, last)
    # A closed day can still hold a list (until the lead's hooks close it): never hidden.
    days = sorted({plan.day for plan in plans} | set(summary))
    return render_template(
        "staff/lists/index.html",
        days=[summary.get(day, list_reads.DayLists(day)) for day in days],
        clinic_days={plan.day for plan in plans},
        program=list_reads.program_size(),
    )


@bp.route("/lists/<isodate:day>")
@limits.staff_record_reads()
@requires(Action.VIEW_DAY)
def standby_list(day: date):
    """One clinic day's standby list in order, the open offers and what became of the
    others."""
    audit.viewed("standby", None, None, detail={"day": day.isoformat()})
    return render_template(
        "staff/lists/standby.html",
        standby=list_reads.standby_list(day, current_user),
        move_form=MoveForm(formdata=None),
        labels=_labels(),
    )


@bp.route("/lists/program")
@limits.staff_record_reads()
@requires(Action.VIEW_DAY)
def program_list():
    """The program's waiting list in the order people are invited, with their invitations."""
    audit.viewed("program", None, None)
    return render_template(
        "staff/lists/program.html",
        program=list_reads.program_list(current_user),
        labels=_labels(),
        priority_reason=priority_reason,
    )


# --- Changes -----------------------------------------------------------------------------


def _entry_or_404(entry_id: int) -> list_reads.EntryView:
    entry = list_reads.entry_view(entry_id, current_user)
    if entry is None:
        abort(404)
    return entry


def _back_to(entry: list_reads.EntryView):
    """The list the entry is on."""
    if entry.kind == ListKind.STANDBY and entry.day is not None:
        return redirect(url_for("staff.standby_list", day=entry.day), code=303)
    return redirect(url_for("staff.program_list"), code=303)


REFUSALS = {
    NotOnList: _l("This person is no longer on the list."),
    NoSeatToOffer: _l(
        "There is no free seat to offer in the booking window (or the free ones start too "
        "soon to hold). The list offers the next seat that frees by itself."
    ),
    OfferGone: _l("That offer was answered or passed on meanwhile."),
}


def _explain(error: booking.BookingError) -> str:
    """A refused change to a list, in the desk's words."""
    message = REFUSALS.get(type(error))
    if message is None:
        return _("That did not work: the list changed meanwhile. Here it is as it is now.")
    return str(message)


@bp.post("/lists/entries/<int:entry_id>/move")
@requires(Action.MANAGE_LISTS)
def move_entry(entry_id: int):
    """One place up or down a day's standby list."""
    entry = _entry_or_404(entry_id)
    form = MoveForm()
    if not form.validate():
        flash(_("Please choose up or down."), "error")
        return _back_to(entry)
    if entry.kind != ListKind.STANDBY:
        # The waiting list's order is its priority rules' and the joining dates'.
        flash(_("Only a day's standby list is put in order by hand."), "error")
        return _back_to(entry)
    try:
        lists.move(entry_id, form.up, current_user)
    except booking.BookingError as error:
        flash(_explain(error), "error")
    else:
        flash(_("Moved up.") if form.up else _("Moved down."), "success")
    return _back_to(entry)


@bp.route("/lists/entries/<int:entry_id>/remove", methods=["GET", "POST"])
@limits.staff_record_reads(methods=["GET"])
@requires(Action.MANAGE_LISTS)
def remove_entry(entry_id: int):
    """Take someone off a list, after a confirmation: an open offer of theirs is withdrawn
    and its seat passed on."""
    entry = _entry_or_404(entry_id)
    form = ConfirmForm()
    if request.method == "GET":
        audit.viewed("list_entry", entry.id, entry.youth_id)
    if request.method == "GET" or not form.validate():
        page = render_template("staff/lists/remove.html", entry=entry, form=form, labels=_labels())
        return page, (200 if request.method == "GET" else 422)
    try:
        lists.remove(entry_id, current_user, context.rules(), context.now())
    except booking.BookingError as error:
        flash(_explain(error), "error")
    else:
        flash(_("Removed from the list. Any seat held for them is passed on."), "success")
    return _back_to(entry)


@bp.post("/lists/entries/<int:entry_id>/invite")
@requires(Action.MANAGE_LISTS)
def invite_entry(entry_id: int):
    """Invite someone from the waiting list now: the earliest free seat that fits is held for
    them, and the outbox sends them its claim link."""
    entry = _entry_or_404(entry_id)
    form = ConfirmForm()
    if not form.validate():
        flash(_("Please reload the page and try again."), "error")
        return _back_to(entry)
    try:
        offer_id = offers.invite(entry_id, current_user, context.rules(), context.now()).id
    except booking.BookingError as error:
        flash(_explain(error), "error")
        return _back_to(entry)
    offer = list_reads.offer_view(offer_id)
    if offer is not None:
        # The time, never the name: flashed messages travel in the cookie.
        flash(
            _(
                "Invitation sent: a seat on %(day)s at %(time)s, held until %(until)s.",
                day=short_day(offer.day),
                time=clock(offer.start),
                until=day_clock_at(offer.expires_at),
            ),
            "success",
        )
    return _back_to(entry)
