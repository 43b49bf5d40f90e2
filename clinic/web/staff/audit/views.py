"""Staff page: the audit trail (admin). Newest first, 100 a page, filtered by youth, staff
member and dates; the same range as a CSV file. Every view and change of a youth's data is
here (``clinic.audit``); nothing on this screen can change or remove an event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from flask import abort, render_template, request
from flask_babel import lazy_gettext as _l

from clinic import audit
from clinic.models import naive_utc
from clinic.permissions import Action
from clinic.web import context
from clinic.web.downloads import csv_response, stream_csv
from clinic.web.staff import bp, requires
from clinic.web.staff.audit.forms import AuditFilterForm

PAGE_SIZE = 100

ACTION_LABELS = {
    audit.VIEW: _l("Viewed"),
    audit.CREATE: _l("Created"),
    audit.UPDATE: _l("Changed"),
    audit.DELETE: _l("Deleted"),
    audit.SIGN_IN: _l("Signed in"),
    audit.SIGN_IN_FAILED: _l("Sign-in failed"),
    audit.SIGN_OUT: _l("Signed out"),
    audit.ACCOUNT_CHANGE: _l("Account changed"),
    audit.EXPORT: _l("Exported"),
    audit.PURGE: _l("Purged"),
    audit.ERASE: _l("Erased"),
}

OBJECT_LABELS = {
    "youth": _l("Youth record"),
    "appointment": _l("Appointment"),
    "intake": _l("Intake"),
    "treatment": _l("Treatment"),
    "list_entry": _l("List entry"),
    "seat_offer": _l("Seat offer"),
    "clinic_day": _l("Schedule change"),
    "slot": _l("Time slot"),
    "roster_entry": _l("Clinician roster"),
    "status_change": _l("Appointment history"),
    "staff_user": _l("Staff account"),
    "day": _l("Day sheet"),
    "standby": _l("Standby list"),
    "program": _l("Program waiting list"),
    "messages": _l("Messages"),
    "visit_list": _l("Visit list"),
    "report": _l("Report"),
    "audit": _l("Audit trail"),
}

ACTOR_LABELS = {
    audit.YOUTH: _l("The youth"),
    audit.SYSTEM: _l("The system"),
}

CSV_HEADER = (
    "id",
    "at_utc",
    "actor",
    "staff_id",
    "staff_name",
    "action",
    "object_type",
    "object_id",
    "youth_id",
    "fields",
    "address",
)


def _form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    form.staff.choices = [(None, _l("Anyone")), *audit.staff_members()]
    return form


def _instant(day: date) -> datetime:
    """The start of a clinic date, as the trail stores instants (naive UTC)."""
    return naive_utc(datetime.combine(day, time(0), tzinfo=context.rules().zone))


def _chosen(form: AuditFilterForm) -> audit.Filter:
    return audit.Filter(
        youth_id=form.youth.data,
        staff_id=form.staff.data,
        since=_instant(form.since.data) if form.since.data else None,
        until=_instant(form.until.data + timedelta(days=1)) if form.until.data else None,
    )


def _filter_args(form: AuditFilterForm) -> dict[str, str]:
    """The filter as query arguments, for the next page and the CSV link."""
    values = {
        "youth": form.youth.data,
        "staff": form.staff.data,
        "since": form.since.data,
        "until": form.until.data,
    }
    return {name: str(value) for name, value in values.items() if value is not None}


@bp.route("/audit")
@requires(Action.VIEW_AUDIT)
def audit_trail():
    form = _form()
    valid = form.validate()
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before <= 2**63 - 1:
        abort(404)
    rows = audit.events(_chosen(form), PAGE_SIZE + 1, before) if valid else []
    return render_template(
        "staff/audit/list.html",
        form=form,
        rows=rows[:PAGE_SIZE],
        older=rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None,
        paged=before is not None,
        args=_filter_args(form) if valid else {},
        action_labels=ACTION_LABELS,
        object_labels=OBJECT_LABELS,
        actor_labels=ACTOR_LABELS,
    ), (200 if valid else 422)


@bp.route("/audit.csv")
@requires(Action.VIEW_AUDIT)
def audit_export():
    form = _form()
    if not form.validate():
        abort(400)
    chosen = _chosen(form)
    # The export itself is in the trail, with what it covered (ids and dates only).
    audit.exported(
        "audit",
        youth_id=chosen.youth_id,
        detail={name: value for name, value in _filter_args(form).items()},
    )
    # Streamed as it is read. No byte-order mark: its columns are named for tools
    # ("at_utc", "object_type"), which take the file as it always was.
    return csv_response(stream_csv(CSV_HEADER, _csv_rows(chosen)), "audit-trail.csv")


def _csv_rows(chosen: audit.Filter) -> Iterator[tuple[object, ...]]:
    for row in audit.export_rows(chosen):
        at = row[1].isoformat(timespec="seconds")
        yield (row[0], at, *row[2:9], " ".join(row[9] or ()), row[10])
