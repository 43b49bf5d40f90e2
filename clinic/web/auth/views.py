"""Staff sign-in and sign-out.

Sign-in is throttled against guessing three ways: per account from one address (strict: the
ordinary guesser), per address (one machine trying many accounts; looser, because the whole
clinic may share one public address) and per account from anywhere (loose: many machines
trying one account). A strict limit per account alone would let anyone lock any staff member,
the only admin included, out for good with five wrong passwords every fifteen minutes; here a
stranger must fail far more often, from many addresses, to shut an account. Only failed
attempts count, and a throttled attempt is refused before its password is looked at.
"""

import functools
import hashlib

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from clinic import accounts, settings
from clinic.extensions import db, limiter
from clinic.models import StaffUser, utcnow
from clinic.web.auth import bp
from clinic.web.auth.forms import LoginForm
from clinic.web.converters import safe_path


@functools.cache
def _dummy_hash(method: str) -> str:
    """Checked against when the email is unknown, so a wrong email takes as long as a wrong
    password: made with the method real passwords are hashed with."""
    return generate_password_hash("not-a-real-password", method=method)


def _address_key() -> str:
    return "login-address:" + get_remote_address()


def _account_key() -> str:
    # A hash, not the address itself: the key shows up in the limiter's log lines and in the
    # shared store, and neither should hold a staff member's e-mail.
    email = accounts.normalize_email(request.form.get("email", ""))
    return "login-account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def _account_address_key() -> str:
    return _account_key() + ":" + get_remote_address()


def _failed(response) -> bool:
    # Only a successful sign-in redirects with 303. Flask-Limiter then tests the limit before
    # the view and counts after it, so requests in flight at the same moment can each pass the
    # test: at most one extra guess per concurrent worker, which the password length dwarfs.
    return response.status_code != 303


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    key_func=_address_key,
    methods=["POST"],
    deduct_when=_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT_ADDRESS"],
    key_func=_account_address_key,
    methods=["POST"],
    deduct_when=_failed,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("staff.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = accounts.normalize_email(form.email.data)
        user = db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
        password_ok = check_password_hash(
            user.password_hash if user else _dummy_hash(settings.password_hash_method()),
            form.password.data,
        )
        if user is not None and password_ok and user.active:
            accounts.record_sign_in(user.id, utcnow())
            session.clear()  # a fresh session: nothing carried over from before sign-in
            login_user(user)
            target = safe_path(request.args.get("next")) or url_for("staff.index")
            return redirect(target, code=303)
        form.form_errors.append(_("That email and password do not match an active account."))
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 401


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        # A new session token: this cookie, and any copy of it, no longer signs anyone in.
        accounts.sign_out(current_user.id)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "success")
    return redirect(url_for("auth.login"), code=303)
