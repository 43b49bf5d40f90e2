"""Forms for staff accounts and one's own password. They check the shape of each answer; the
rules (unique e-mail, the last admin, ...) live in ``clinic.accounts``."""

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from clinic.accounts import EMAIL_SHAPE, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from clinic.permissions import Role
from clinic.web.forms import CHOOSE, REQUIRED, TOO_LONG, ClinicForm

PASSWORD_LENGTH = _l("Please use at least %(min)d characters.", min=MIN_PASSWORD_LENGTH)


ROLE_LABELS = {
    Role.ADMIN: _l("Admin"),
    Role.FRONT_DESK: _l("Front desk"),
    Role.CLINICIAN: _l("Clinician"),
}


def _new_password(label) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(REQUIRED),
            Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH, message=PASSWORD_LENGTH),
        ],
        render_kw={"autocomplete": "new-password"},
    )


def _role_field() -> SelectField:
    return SelectField(
        _l("Role"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        coerce=str,
        validate_choice=True,
        validators=[DataRequired(CHOOSE)],
    )


class NewAccountForm(ClinicForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(REQUIRED), Length(max=100, message=TOO_LONG)],
        render_kw={"autocomplete": "off"},
    )
    email = StringField(
        _l("Email"),
        filters=[lambda value: value.strip() if value else value],
        validators=[
            DataRequired(REQUIRED),
            Length(max=254, message=TOO_LONG),
            # The shape only, as the command line checks it: a stricter validator refuses
            # domains like clinic.example that demo and test accounts use.
            Regexp(EMAIL_SHAPE, message=_l("Please check this email address.")),
        ],
        render_kw={"autocomplete": "off", "type": "email"},
    )
    role = _role_field()
    password = _new_password(_l("Temporary password"))


class RoleForm(ClinicForm):
    role = _role_field()


class ResetPasswordForm(ClinicForm):
    password = _new_password(_l("New temporary password"))


class TwoFactorCodeForm(ClinicForm):
    """Confirming one's own authenticator app: the code it shows."""

    code = StringField(
        _l("Code from the app"),
        filters=[lambda value: value.strip() if value else value],
        validators=[DataRequired(REQUIRED), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ConfirmPasswordForm(ClinicForm):
    """A change to one's own second factor (turning it off, new recovery codes) asks for the
    password, so that an unattended signed-in screen cannot make it."""

    current_password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(REQUIRED), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class OwnPasswordForm(ClinicForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(REQUIRED), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = _new_password(_l("New password"))
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(REQUIRED),
            EqualTo("new_password", message=_l("The two new passwords are not the same.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
