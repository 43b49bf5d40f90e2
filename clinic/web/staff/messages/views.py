"""Staff page: messages to youth (admin and front desk). What was sent to whom and when, what
is waiting and why, what failed and why, and a button to send one again.

Only staff who may see contact details get here: the page shows where each message went.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from clinic import audit
from clinic.messaging import history
from clinic.models import MessageStatus
from clinic.permissions import Action
from clinic.rules.messages import Kind
from clinic.web import context
from clinic.web.staff import bp, requires

PAGE_SIZE = 50
MAX_PAGE = 10_000  # half a million messages back; beyond, an offset overflows

KIND_LABELS = {
    Kind.CONFIRMATION: _l("Confirmation"),
    Kind.RESTORED: _l("Booked again"),
    Kind.CANCELLED: _l("Cancellation"),
    Kind.CLINIC_CANCELLED: _l("Cancelled by the clinic"),
    Kind.MOVED: _l("New time"),
    Kind.REMINDER_EARLY: _l("Reminder (days before)"),
    Kind.REMINDER_SAME_DAY: _l("Reminder (on the day)"),
    Kind.AFTERCARE: _l("Aftercare"),
    Kind.ALREADY_BOOKED: _l("Online request not booked: already booked"),
    Kind.TOO_SOON: _l("Online request not booked: too soon to heal"),
    Kind.YOUTH_CANCELLED: _l("Cancelled by the youth"),
    Kind.RESCHEDULED: _l("Moved to another day or time"),
    Kind.LINK_AGAIN: _l("Link sent again (lost link)"),
    Kind.LIST_JOINED: _l("Joined a list"),
    Kind.SEAT_OFFERED: _l("Seat offered"),
    Kind.OFFER_LAPSED: _l("Offer passed on"),
}
STATUS_LABELS = {
    MessageStatus.QUEUED: _l("Waiting"),
    MessageStatus.SENDING: _l("Sending"),
    MessageStatus.SENT: _l("Sent"),
    MessageStatus.DEAD: _l("Failed"),
    MessageStatus.CANCELLED: _l("Not needed"),
    MessageStatus.EXPIRED: _l("Too late"),
}
CHANNEL_LABELS = {"email": _l("Email"), "sms": _l("Text")}
FILTERS = [
    ("", _l("All")),
    (MessageStatus.QUEUED, _l("Waiting")),
    (MessageStatus.DEAD, _l("Failed")),
    (MessageStatus.SENT, _l("Sent")),
]


@bp.route("/messages")
@requires(Action.VIEW_MESSAGES)
def messages():
    status = request.args.get("status", "")
    if status not in {code for code, _label in FILTERS}:
        status = ""
    page = request.args.get("page", 1, type=int) or 1
    if not 1 <= page <= MAX_PAGE:
        abort(404)
    rows = history.recent(status or None, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    # The page shows many youth's contacts: one event for the page.
    audit.viewed("messages", None, None, detail={"page": str(page)})
    return render_template(
        "staff/messages/list.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        status=status,
        filters=FILTERS,
        waiting=history.waiting_without_provider(context.now()),
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        channel_labels=CHANNEL_LABELS,
        resendable={MessageStatus.SENT, MessageStatus.DEAD},
        can_resend=current_user.can(Action.RESEND_MESSAGE),
        form=FlaskForm(),
    )


@bp.post("/messages/<int:message_id>/resend")
@requires(Action.RESEND_MESSAGE)
def resend_message(message_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        history.resend(message_id, current_user.id)
    except history.AlreadyResent:
        flash(_("A copy of this message is already waiting to be sent."), "error")
    except history.NotResendable:
        flash(_("Only a message that was sent or failed can be sent again."), "error")
    else:
        flash(_("The message will be sent again in a moment."), "success")
    return redirect(url_for("staff.messages"), code=303)
