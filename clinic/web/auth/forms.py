"""The sign-in form. It checks the shape of each answer; the rules live in
``clinic.accounts``."""

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from clinic.accounts import MAX_PASSWORD_LENGTH
from clinic.web.forms import REQUIRED, ClinicForm


class LoginForm(ClinicForm):
    email = StringField(
        _l("Email"),
        validators=[DataRequired(REQUIRED), Length(max=254)],
        render_kw={"autocomplete": "username", "type": "email"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(REQUIRED), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
