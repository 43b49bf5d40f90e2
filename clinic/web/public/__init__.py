"""The youth-facing blueprint: booking (days, times, intake, confirmation), the language
choice, the waiting room's screen and the availability API. No login, no account, nothing
personal in a URL.

May import the capabilities and the shared web modules (``clinic.web.forms``, ``refusals``,
``context``, ``converters``); never another blueprint."""

from flask import Blueprint

bp = Blueprint("public", __name__)

# After ``bp``: each module registers its routes on it.
from clinic.web.public import (  # noqa: E402
    lists,  # noqa: F401  (standby and waiting list)
    manage,  # noqa: F401  (a youth's link: /my)
    views,  # noqa: F401  (booking)
)
