"""Forms of the lists screens: moving a standby entry, and the buttons that only confirm
(remove, invite). They check shape only; the rules live in ``clinic.booking``."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField
from wtforms.validators import InputRequired

from clinic.web.forms import CHOOSE, ClinicForm, options


class MoveForm(ClinicForm):
    direction = RadioField(
        _l("Move"),
        choices=options([("up", _l("Up")), ("down", _l("Down"))]),
        validators=[InputRequired(message=CHOOSE)],
    )

    @property
    def up(self) -> bool:
        return self.direction.data == "up"


class ConfirmForm(ClinicForm):
    """A button that asks nothing more (its CSRF token, when the app checks them)."""
