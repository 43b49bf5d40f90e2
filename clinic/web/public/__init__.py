"""The youth-facing blueprint: booking (days, times, intake, confirmation), the language
choice, the waiting room's screen and the availability API. No login, no account, nothing
personal in a URL.

May import the capabilities and the shared web modules (``clinic.web.forms``, ``refusals``,
``context``, ``converters``); never another blueprint."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from clinic.web.public import views  # noqa: E402,F401  (registers the routes on bp)
