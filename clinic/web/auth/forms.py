"""The sign-in forms: the password, then the second step. They check the shape of each
answer; the rules live in ``clinic.accounts``."""

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


class TwoFactorForm(ClinicForm):
    """The second step: six digits from the app, or a recovery code."""

    code = StringField(
        _l("Code"),
        filters=[lambda value: value.strip() if value else value],
        validators=[DataRequired(REQUIRED), Length(max=40)],
        render_kw={
            "autocomplete": "one-time-code",
            "autocapitalize": "off",
            "spellcheck": "false",
            "autofocus": True,
        },
    )


class TwoFactorSetupForm(ClinicForm):
    """Setting the app up: the six digits it shows, proving it read the secret."""

    code = StringField(
        _l("Code from the app"),
        filters=[lambda value: value.strip() if value else value],
        validators=[DataRequired(REQUIRED), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
