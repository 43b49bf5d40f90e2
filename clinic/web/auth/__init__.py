"""The staff sign-in blueprint: sign-in (throttled without locking the owner out: device
cookies, see ``views``) and sign-out.

May import ``clinic.accounts`` and the shared web modules; never another blueprint."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from clinic.web.auth import views  # noqa: E402,F401  (registers the routes on bp)
