"""The staff dashboard. Every route here requires a signed-in, active staff account: the guard
below applies to the whole blueprint, so no route can forget it."""

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

bp = Blueprint("staff", __name__)


@bp.before_request
def require_staff():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


@bp.after_request
def no_store(response):
    # Youth records must not linger in a shared tablet's cache or history.
    response.headers["Cache-Control"] = "no-store"
    return response


from clinic.staff import views  # noqa: E402,F401  (registers the routes on bp)
