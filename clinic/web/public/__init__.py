"""The youth-facing pages: no login, no account, nothing personal in a URL."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from clinic.web.public import views  # noqa: E402,F401  (registers the routes on bp)
