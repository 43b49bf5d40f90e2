from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from clinic.auth import bp
from clinic.auth.forms import LoginForm
from clinic.extensions import db
from clinic.models import StaffUser
from clinic.urls import safe_path

# Checked against when the email is unknown, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("staff.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
        password_ok = check_password_hash(
            user.password_hash if user else _DUMMY_HASH, form.password.data
        )
        if user is not None and password_ok and user.active:
            session.clear()  # a fresh session: nothing carried over from before sign-in
            login_user(user)
            target = safe_path(request.args.get("next")) or url_for("staff.index")
            return redirect(target, code=303)
        form.form_errors.append(_("That email and password do not match an active account."))
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 401


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), code=303)
