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

Each sign-in is a session of its own (``clinic.accounts.sign_in``), ended by signing out, by
``STAFF_SESSION_HOURS``, a password change or a deactivation.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, timedelta

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from clinic import accounts, formats, settings
from clinic.extensions import db
from clinic.models import StaffUser, utcnow
from clinic.web.auth import bp, devices
from clinic.web.auth.forms import LoginForm
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


def _paused(form: LoginForm, until: datetime):
    """The sign-in page again, with what was typed, the time to try again and status 429."""
    form.form_errors.append(
        _(
            "Too many tries for this account. Please try again at %(time)s, or ask an admin "
            "to unlock sign-in for it.",
            time=_when(until),
        )
    )
    seconds = max(1, math.ceil((until - utcnow()).total_seconds()))
    page = render_template("auth/login.html", form=form)
    return page, 429, {"Retry-After": str(seconds)}


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
    if user is not None and password_ok and user.active:
        user = accounts.sign_in(user.id, timedelta(hours=current_app.config["STAFF_SESSION_HOURS"]))
        session.clear()  # a fresh session: nothing carried over from before sign-in
        login_user(user)
        target = safe_path(request.args.get("next")) or url_for("staff.index")
        response = redirect(target, code=303)
        devices.remember(response, account)
        return response
    # Concurrent attempts may each pass the test above before either is counted: at most one
    # extra guess per worker at the same instant, which the password's length dwarfs.
    accounts.count_failed_sign_in(limits, attempt)
    form.form_errors.append(_("That email and password do not match an active account."))
    return render_template("auth/login.html", form=form), 401


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        # This sign-in's row goes: this cookie, and any copy of it, no longer signs anyone in.
        # The account's other devices stay signed in.
        accounts.sign_out(current_user.session_id)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "success")
    return redirect(url_for("auth.login"), code=303)
