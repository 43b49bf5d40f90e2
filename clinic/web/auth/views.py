"""Staff sign-in and sign-out.

Sign-in is throttled so that guessing is slow and nobody can lock a staff member out: a
correct password is never refused because of someone else's failures. The design is OWASP's
device cookie (``clinic.web.auth.devices``): a browser where an account signed in before
carries a signed cookie for it. Only failures are counted (``LOGIN_FAILURES_*``), in the
limiter's store (Redis in production, shared by every worker and app server):

- A browser with the account's device cookie counts against that device only
  (``LOGIN_FAILURES_PER_DEVICE``). Nothing anyone else does, from any address, pauses it: the
  owner at their usual computer or phone always gets in with the right password.
- Any other browser counts against the account from its address
  (``LOGIN_FAILURES_PER_ACCOUNT_ADDRESS``) and against the account from every such browser
  together (``LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT``, a ladder: the more failures, the longer
  new devices wait, from a minute to a day). A stranger can pause sign-ins from new devices
  (which an admin can unlock on the account's page), never from known ones.

An attempt over any of its limits is answered 429 before its password is looked at, with the
sign-in page, the e-mail still typed and the time to try again; so guessing on while paused
learns nothing. Unknown e-mails are counted the same way, so the answers never tell whether an
account exists. The throttle never sleeps in a worker: waiting is the client's.

There is no limit per address over all accounts: behind the TLS proxy without
PROXY_FIX_X_FOR every visitor has the proxy's address, and such a limit would let one stranger
shut out the whole clinic. Spraying one password over many accounts meets each account's own
limits, and the clinic has few accounts.

The second step (TOTP, ``clinic.accounts``): an account with a second factor, or whose role
``TWO_FACTOR_ROLES`` requires one, is not signed in by its password. The password only earns
a short-lived pending marker in the signed session cookie (the account's id and an expiry,
``TWO_FACTOR_PENDING_SECONDS``); no staff session exists until the code from the app, or a
recovery code, is accepted at ``/auth/two-factor``. An account that must have one and has
none sets it up first at ``/auth/two-factor/setup`` (a QR code drawn here as SVG markup, the
secret as text, a code to confirm, then its recovery codes, shown once). Wrong codes count
against the same throttle as wrong passwords, so the second step is no easier to guess.

Each sign-in is a session of its own (``clinic.accounts.sign_in``), ended by signing out, by
``STAFF_SESSION_HOURS``, a password change, a second-factor reset or a deactivation. Sign-ins,
failures and sign-outs go to the audit trail (never the e-mail or the password typed).
"""

from __future__ import annotations

import functools
import math
import time
from datetime import UTC, datetime, timedelta

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from clinic import accounts, formats, settings
from clinic.extensions import db
from clinic.models import StaffUser, utcnow
from clinic.web import two_factor as two_factor_pages
from clinic.web.auth import bp, devices
from clinic.web.auth.forms import LoginForm, TwoFactorForm, TwoFactorSetupForm
from clinic.web.converters import safe_path


@functools.cache
def _dummy_hash(method: str) -> str:
    """Checked against when the email is unknown, so a wrong email takes as long as a wrong
    password: made with the method real passwords are hashed with."""
    return generate_password_hash("not-a-real-password", method=method)


def _when(moment: datetime) -> str:
    """A naive UTC instant on the clinic's clock ("4:37 PM"), with the day if not today. The
    real clock, as the throttle's windows run on it."""
    zone = settings.clinic_zone()
    if moment.replace(tzinfo=UTC).astimezone(zone).date() == datetime.now(zone).date():
        return formats.clock_at(moment)
    return formats.day_clock_at(moment)


def _pause_error(form, until: datetime) -> dict[str, str]:
    """Say on the form when to try again; the Retry-After header to answer with."""
    form.form_errors.append(
        _(
            "Too many tries for this account. Please try again at %(time)s, or ask an admin "
            "to unlock sign-in for it.",
            time=_when(until),
        )
    )
    seconds = max(1, math.ceil((until - utcnow()).total_seconds()))
    return {"Retry-After": str(seconds)}


def _paused(form, until: datetime, template: str = "auth/login.html"):
    """The sign-in page (or its second step) again, with what was typed, the time to try
    again and status 429."""
    headers = _pause_error(form, until)
    return render_template(template, form=form), 429, headers


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("staff.index"))
    form = LoginForm()
    if not form.validate_on_submit():  # a first look, or a field left empty: not counted
        status = 200 if request.method == "GET" else 401
        return render_template("auth/login.html", form=form), status

    limits = accounts.SignInLimits.from_config(current_app.config)
    email = accounts.normalize_email(form.email.data)
    account = accounts.sign_in_account(email)
    attempt = accounts.SignInAttempt(
        account=account, address=get_remote_address(), device=devices.device_for(account)
    )
    until = accounts.sign_in_paused_until(limits, attempt)
    if until is not None:
        return _paused(form, until)

    user = db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
    password_ok = check_password_hash(
        user.password_hash if user else _dummy_hash(settings.password_hash_method()),
        form.password.data,
    )
    target = safe_path(request.args.get("next")) or url_for("staff.index")
    if user is not None and password_ok and user.active:
        if user.totp_enabled_at is not None or two_factor_pages.required(user):
            return _second_step(user, target)
        return _signed_in(user.id, account, target)
    # Concurrent attempts may each pass the test above before either is counted: at most one
    # extra guess per worker at the same instant, which the password's length dwarfs.
    accounts.count_failed_sign_in(limits, attempt)
    accounts.record_failed_sign_in(user.id if user is not None else None, "password")
    form.form_errors.append(_("That email and password do not match an active account."))
    return render_template("auth/login.html", form=form), 401


def _fresh_session() -> None:
    """Empty the session (nothing from before sign-in, or of the person before, survives), but
    for the language chosen in this browser: a staff member who reads Spanish keeps reading it
    through sign-in, the second step and sign-out. It is a preference of the person at the
    screen, not a secret, and the session's other contents still go."""
    language = session.get("lang")
    session.clear()
    if language in current_app.config["LANGUAGES"]:
        session["lang"] = language


def _start_session(user_id: int) -> None:
    """The password, and the second step if any, passed: the session begins."""
    user = accounts.sign_in(user_id, timedelta(hours=current_app.config["STAFF_SESSION_HOURS"]))
    _fresh_session()  # a fresh session: nothing carried over from before sign-in
    login_user(user)


def _signed_in(user_id: int, account: str, target: str):
    _start_session(user_id)
    response = redirect(target, code=303)
    devices.remember(response, account)
    return response


# --- The second step ----------------------------------------------------------------------

PENDING_KEY = "two_factor_pending"


def _second_step(user: StaffUser, target: str):
    """The password was right: remember that for a few minutes (the account and where to go
    next, in the signed cookie; no session yet), and ask for the code, or for the set-up."""
    _fresh_session()
    session[PENDING_KEY] = {
        "staff": user.id,
        "until": int(time.time()) + current_app.config["TWO_FACTOR_PENDING_SECONDS"],
        "next": target,
    }
    if user.totp_enabled_at is None:
        accounts.pending_totp_secret(user.id)  # drawn now, or the one drawn before
        return redirect(url_for("auth.two_factor_setup"), code=303)
    return redirect(url_for("auth.two_factor"), code=303)


def _pending() -> tuple[StaffUser, str] | None:
    """The account whose password was right a moment ago in this browser, and where it goes
    next; None when there is none, it expired, or the account was deactivated since."""
    marker = session.get(PENDING_KEY)
    if not isinstance(marker, dict) or not isinstance(marker.get("staff"), int):
        return None
    if not isinstance(marker.get("until"), int) or marker["until"] < time.time():
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(StaffUser, marker["staff"])
    if user is None or not user.active:
        session.pop(PENDING_KEY, None)
        return None
    return user, safe_path(marker.get("next")) or url_for("staff.index")


def _start_again():
    flash(_("Please sign in again: the second step waits a few minutes only."))
    return redirect(url_for("auth.login"), code=303)


def _attempt(user: StaffUser) -> tuple[accounts.SignInLimits, accounts.SignInAttempt]:
    limits = accounts.SignInLimits.from_config(current_app.config)
    account = accounts.sign_in_account(user.email)
    return limits, accounts.SignInAttempt(
        account=account, address=get_remote_address(), device=devices.device_for(account)
    )


def _wrong_code(limits, attempt, user: StaffUser, form) -> None:
    accounts.count_failed_sign_in(limits, attempt)
    accounts.record_failed_sign_in(user.id, "two_factor")
    form.code.errors = [
        *form.code.errors,
        _("That code does not match. Codes change every 30 seconds, and each works once."),
    ]


@bp.route("/two-factor", methods=["GET", "POST"])
def two_factor():
    if current_user.is_authenticated:
        return redirect(url_for("staff.index"))
    pending = _pending()
    if pending is None:
        return _start_again()
    user, target = pending
    if user.totp_enabled_at is None:
        return redirect(url_for("auth.two_factor_setup"), code=303)
    form = TwoFactorForm()
    if not form.validate_on_submit():
        status = 200 if request.method == "GET" else 401
        return render_template("auth/two_factor.html", form=form), status
    limits, attempt = _attempt(user)
    until = accounts.sign_in_paused_until(limits, attempt)
    if until is not None:
        return _paused(form, until, "auth/two_factor.html")
    try:
        kind = accounts.check_second_factor(user.id, form.code.data)
    except (accounts.WrongCode, accounts.TwoFactorState):
        _wrong_code(limits, attempt, user, form)
        return render_template("auth/two_factor.html", form=form), 401
    response = _signed_in(user.id, attempt.account, target)
    if kind == "recovery":
        left = accounts.recovery_codes_left(user.id)
        flash(
            ngettext(
                "You used a recovery code: %(num)d is left. Make new ones under Two-step sign-in.",
                "You used a recovery code: %(num)d are left. Make new ones under Two-step "
                "sign-in if you are running out.",
                left,
            ),
            "success",
        )
    return response


@bp.route("/two-factor/setup", methods=["GET", "POST"])
def two_factor_setup():
    if current_user.is_authenticated:
        return redirect(url_for("staff.index"))
    pending = _pending()
    if pending is None:
        return _start_again()
    user, target = pending
    if user.totp_enabled_at is not None:
        return redirect(url_for("auth.two_factor"), code=303)
    if not user.totp_secret:  # reset by an admin since the password step
        return _start_again()
    form = TwoFactorSetupForm()
    if not form.validate_on_submit():
        return two_factor_pages.setup_page(
            user, form, status=200 if request.method == "GET" else 401
        )
    limits, attempt = _attempt(user)
    until = accounts.sign_in_paused_until(limits, attempt)
    if until is not None:
        headers = _pause_error(form, until)
        return two_factor_pages.setup_page(user, form, status=429)[0], 429, headers
    try:
        codes = accounts.confirm_two_factor(user.id, form.code.data)
    except (accounts.WrongCode, accounts.TwoFactorState):
        _wrong_code(limits, attempt, user, form)
        return two_factor_pages.setup_page(user, form, status=401)
    _start_session(user.id)
    # Shown once, in this answer only (staff pages are no-store): the database keeps hashes.
    response = make_response(render_template("auth/recovery_codes.html", codes=codes, next=target))
    response.headers["Cache-Control"] = "no-store"
    devices.remember(response, attempt.account)
    return response


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        # This sign-in's row goes: this cookie, and any copy of it, no longer signs anyone in.
        # The account's other devices stay signed in.
        accounts.sign_out(current_user.session_id, current_user.id)
    logout_user()
    _fresh_session()
    flash(_("You are signed out."), "success")
    return redirect(url_for("auth.login"), code=303)
