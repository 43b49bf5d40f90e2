"""The staff blueprint. Every route here requires a signed-in, active staff account whose role
allows the route's action: the guard below applies to the whole blueprint, and a route that
declares no action is refused to everyone, so no route can forget its check. A use case that
refuses the actor (``NotAllowed``) answers 403 through one error handler.

One sub-package per screen, each with its views and its forms: ``day``, ``records``,
``lists``, ``schedule``, ``accounts``, ``messages``, ``audit``. Their views register their
routes on this blueprint (``clinic.web.register_blueprints`` loads them), and import nothing
but this module of it.

May import the capabilities and the shared web modules; never the public or auth blueprint."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

# Not ``from clinic import audit``: the screen ``clinic.web.staff.audit`` takes that name here.
from clinic.audit import act_as_staff
from clinic.permissions import Action, NotAllowed

bp = Blueprint("staff", __name__)

View = TypeVar("View", bound=Callable)
SEEN_KEY = "staff_seen"


def requires(action: Action) -> Callable[[View], View]:
    """Declare the action a route performs; ``require_staff`` enforces it."""

    def mark(view: View) -> View:
        view.required_action = action  # type: ignore[attr-defined]
        return view

    return mark


def required_action(endpoint: str | None) -> Action | None:
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, "required_action", None)


@bp.before_request
def require_staff():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=_here()))
    now = int(time.time())
    seen = session.get(SEEN_KEY, now)
    if now - seen > current_app.config["STAFF_IDLE_MINUTES"] * 60:
        # The signed cookie carries the last request's time, so an old copy is idle too.
        logout_user()
        session.clear()
        flash(_("You were signed out after a while without activity. Please sign in again."))
        return redirect(url_for("auth.login", next=_here() if request.method == "GET" else None))
    # The queue's own refreshes are not activity: an unattended screen still times out.
    if request.endpoint not in IDLE_ENDPOINTS:
        session[SEEN_KEY] = now
    action = required_action(request.endpoint)
    if action is None or not current_user.can(action):
        abort(403)
    # Who the audit trail names for this request's views and changes, and from where (the
    # client's address as the rate limits see it, after ProxyFix).
    act_as_staff(current_user.id, request.remote_addr)
    return None


@bp.errorhandler(NotAllowed)
def not_allowed(_error: NotAllowed):
    """A use case re-checks the actor's role inside its transaction (another admin may have
    changed it since this request began): refused as the guard would have refused it."""
    return render_template("errors/403.html"), 403


# Endpoints a screen polls by itself; they do not keep a session alive.
IDLE_ENDPOINTS = {"staff.queue_fragment"}


def _here() -> str:
    return request.full_path.rstrip("?")


@bp.after_request
def no_store(response):
    # Youth records must not linger in a shared tablet's cache or history.
    response.headers["Cache-Control"] = "no-store"
    return response


# The staff menu: (endpoint, label, action). Each entry shows only to roles allowed it.
MENU = [
    ("staff.index", _l("Clinic day"), Action.VIEW_DAY),
    ("staff.youth_search", _l("Youth records"), Action.VIEW_RECORDS),
    ("staff.book_for_caller", _l("Book for a caller"), Action.BOOK_FOR_CALLER),
    ("staff.lists_overview", _l("Waiting lists"), Action.VIEW_DAY),
    ("staff.messages", _l("Messages"), Action.VIEW_MESSAGES),
    ("staff.schedule", _l("Schedule"), Action.MANAGE_SCHEDULE),
    ("staff.accounts", _l("Staff accounts"), Action.MANAGE_STAFF),
    ("staff.reports", _l("Reports"), Action.VIEW_REPORTS),
    ("staff.settings", _l("Settings"), Action.VIEW_SETTINGS),
    ("staff.audit_trail", _l("Audit trail"), Action.VIEW_AUDIT),
    ("staff.own_password", _l("My password"), Action.OWN_ACCOUNT),
]


@bp.app_context_processor
def staff_helpers():
    def can(action: Action) -> bool:
        return bool(current_user.is_authenticated and current_user.can(action))

    def staff_menu() -> list[tuple[str, str]]:
        return [
            (endpoint, str(label))
            for endpoint, label, action in MENU
            if endpoint in current_app.view_functions and can(action)
        ]

    return {"can": can, "Action": Action, "staff_menu": staff_menu}
