"""Staff sign-in and sign-out."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from clinic.web.auth import views  # noqa: E402,F401  (registers the routes on bp)
