"""Who may do what: one table for every staff role, read by the staff blueprint's single guard
and by the service layer, and walked by the role-matrix test.

Roles (DOMAIN.md): the admin shapes the schedule and manages accounts and settings; the front
desk checks youth in, adds walk-ins and keeps contact details; clinicians run the treatment
queue and are the only ones who see screening answers and clinical notes. Pure: no Flask.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Role(enum.StrEnum):
    ADMIN = "admin"
    FRONT_DESK = "front_desk"
    CLINICIAN = "clinician"


class Action(enum.StrEnum):
    # Seeing
    VIEW_DAY = "view_day"  # day sheet, queue, counts: names and ages, no contact, no health
    VIEW_RECORDS = "view_records"  # search youth and open a record (fields filtered below)
    SEE_CONTACT = "see_contact"  # phone, email, guardian's details
    SEE_CLINICAL = "see_clinical"  # screening answers, treatment notes, laser settings
    # The clinic day
    CHECK_IN = "check_in"  # also: confirm guardian consent, add a walk-in
    MARK_NO_SHOW = "mark_no_show"
    CANCEL = "cancel"
    TREAT = "treat"  # call a youth to a station, record the treatment
    # Records
    BOOK_FOLLOW_UP = "book_follow_up"
    BOOK_FOR_CALLER = "book_for_caller"  # a new or known youth who phones in, any open slot
    MOVE_BOOKING = "move_booking"  # one booking to another open time or day
    # Standby and waiting lists: reorder, remove, invite by hand (seeing them is VIEW_DAY)
    MANAGE_LISTS = "manage_lists"
    EDIT_CONTACT = "edit_contact"  # a youth's contact, names, language, channel, guardian
    MERGE_YOUTH = "merge_youth"
    # Messages to youth: what was sent to whom (contact details), and sending again
    VIEW_MESSAGES = "view_messages"
    RESEND_MESSAGE = "resend_message"
    # Running the clinic
    MANAGE_SCHEDULE = "manage_schedule"
    MANAGE_STAFF = "manage_staff"
    VIEW_SETTINGS = "view_settings"
    # Protecting the data: the audit trail, and one youth's data exported or erased on request
    VIEW_AUDIT = "view_audit"
    MANAGE_PRIVACY = "manage_privacy"
    # The funder's numbers: the reports page and its exports (de-identified; no names)
    VIEW_REPORTS = "view_reports"
    # Every signed-in account
    OWN_ACCOUNT = "own_account"


_EVERYONE = frozenset(Role)
_DESK = frozenset({Role.FRONT_DESK, Role.ADMIN})

ALLOWED: dict[Action, frozenset[Role]] = {
    Action.VIEW_DAY: _EVERYONE,
    Action.VIEW_RECORDS: _EVERYONE,
    Action.SEE_CONTACT: _DESK,
    Action.SEE_CLINICAL: frozenset({Role.CLINICIAN}),
    Action.CHECK_IN: _DESK,
    Action.MARK_NO_SHOW: _DESK,
    Action.CANCEL: _DESK,
    Action.TREAT: frozenset({Role.CLINICIAN}),
    Action.BOOK_FOLLOW_UP: _EVERYONE,
    # The desk takes the calls: it books for callers and moves bookings (with the contact
    # details the confirmation goes to, which clinicians do not see).
    Action.BOOK_FOR_CALLER: _DESK,
    Action.MOVE_BOOKING: _DESK,
    # Who gets a freed seat is booking work, done by the desk that takes the calls and keeps
    # contact details; clinicians see the lists (who may come) but do not change them.
    Action.MANAGE_LISTS: _DESK,
    Action.EDIT_CONTACT: _DESK,
    Action.MERGE_YOUTH: frozenset({Role.ADMIN}),
    Action.VIEW_MESSAGES: _DESK,
    Action.RESEND_MESSAGE: _DESK,
    Action.MANAGE_SCHEDULE: frozenset({Role.ADMIN}),
    Action.MANAGE_STAFF: frozenset({Role.ADMIN}),
    Action.VIEW_SETTINGS: frozenset({Role.ADMIN}),
    Action.VIEW_AUDIT: frozenset({Role.ADMIN}),
    Action.MANAGE_PRIVACY: frozenset({Role.ADMIN}),
    # The admin's by default; REPORTS_ROLES gives it to other roles too (``GRANTABLE``).
    Action.VIEW_REPORTS: frozenset({Role.ADMIN}),
    Action.OWN_ACCOUNT: _EVERYONE,
}


# Actions a clinic may also give to other roles by a setting (``grants``), beyond the table:
# a coordinator at the desk who compiles the funder's numbers, say. Nothing else is grantable.
GRANTABLE = frozenset({Action.VIEW_REPORTS})


def can(
    role: str | None,
    action: Action,
    grants: Mapping[Action, frozenset[str]] | None = None,
) -> bool:
    """Return whether a staff member with ``role`` may take ``action``.

    Rule: the table above, plus the roles ``grants`` adds to a ``GRANTABLE`` action (the
    clinic's settings), and nothing for an unknown role or action (fail closed).
    """
    if role is None:
        return False
    try:
        if Role(role) in ALLOWED.get(action, frozenset()):
            return True
    except ValueError:
        return False
    return action in GRANTABLE and role in (grants or {}).get(action, frozenset())


# Which action undoes require: undoing a move needs the right to make it.
UNDO_ACTION = {
    "check_in": Action.CHECK_IN,
    "no_show": Action.MARK_NO_SHOW,
    "cancel": Action.CANCEL,
    "call": Action.TREAT,
    "complete": Action.TREAT,
}


class NotAllowed(Exception):
    """The acting staff member's role does not allow this action."""

    def __init__(self, action: Action) -> None:
        super().__init__(action.value)
        self.action = action


def require(
    role: str | None, action: Action, grants: Mapping[Action, frozenset[str]] | None = None
) -> None:
    """Raise ``NotAllowed`` unless ``role`` may take ``action`` (for the service layer, which
    checks again what the blueprint's guard checked, since use cases are called from the
    command line and tests too)."""
    if not can(role, action, grants):
        raise NotAllowed(action)
