"""The youth-facing blueprint: booking (days, times, intake, confirmation), the language
choice, the waiting room's screen and the availability API. No login, no account, nothing
personal in a URL.

May import the capabilities and the shared web modules (``clinic.web.forms``, ``refusals``,
``context``, ``converters``); never another blueprint."""

from flask import Blueprint

from clinic import audit

bp = Blueprint("public", __name__)


@bp.before_request
def youth_acts() -> None:
    # What changes here (a booking, a cancellation from a link) is the youth's doing; the
    # trail keeps no address for them.
    audit.act_as_youth()


# After ``bp``: each module registers its routes on it.
from clinic.web.public import (  # noqa: E402
    lists,  # noqa: F401  (standby and waiting list)
    manage,  # noqa: F401  (a youth's link: /my)
    views,  # noqa: F401  (booking)
)
