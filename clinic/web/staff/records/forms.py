"""Forms of the youth records pages. They check shape only; the rules live in
``clinic.records`` and ``clinic.booking``."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)
from wtforms.widgets import HiddenInput

from clinic import vocab
from clinic.web.converters import MAX_ROW_ID
from clinic.web.forms import (
    CHOOSE,
    REQUIRED,
    TOO_LONG,
    ClinicForm,
    ContactAndGuardian,
    NumberField,
    guardian_fields,
    has_a_letter,
    options,
    phone_number,
    without_control_characters,
)


class SearchForm(ClinicForm):
    q = StringField(
        _l("Name, phone or date of birth"),
        filters=[without_control_characters],
        validators=[DataRequired(message=REQUIRED), Length(max=100, message=TOO_LONG)],
        render_kw={"maxlength": 100, "autocomplete": "off", "spellcheck": "false"},
    )


class FollowUpForm(ContactAndGuardian, ClinicForm):
    # "YYYY-MM-DDTHH:MM"; the choices, grouped by day, are set by the view.
    slot = SelectField(
        _l("Date and time"),
        validators=[InputRequired(message=CHOOSE)],
        invalid_choice_message=_l("Please choose one of the times listed."),
    )
    submission_key = HiddenField(
        validators=[Regexp(r"^[A-Za-z0-9_-]{16,64}$", message=_l("Please reload the page."))]
    )
    # Only for a minor with no guardian on file, and only for staff who see contact details.
    guardian_name, guardian_relationship, guardian_phone = guardian_fields(
        _l("Their relationship to the youth")
    )

    def guardian_given(self) -> bool:
        return any(self.text(name) for name in self.GUARDIAN_FIELDS)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        return self.one_guardian() and valid


class MergeForm(ClinicForm):
    # A row id: a larger number would overflow in the database driver, not match no row.
    other_id = NumberField(
        validators=[InputRequired(message=REQUIRED), NumberRange(min=1, max=MAX_ROW_ID)],
        widget=HiddenInput(),
    )


# The fingerprint of the details a form was drawn with (``clinic.records.edit``).
_DRAWN = [Regexp(r"^[0-9a-f]{32}$", message=_l("Please reload the page."))]


class EditYouthForm(ContactAndGuardian, ClinicForm):
    """A youth's editable details, checked as the intake checks them (the same validators,
    lengths and phone normalising), in staff wording."""

    preferred_name = StringField(
        _l("Goes by (optional)"),
        filters=[without_control_characters],
        validators=[Optional(), Length(max=60, message=TOO_LONG), has_a_letter],
        render_kw={"maxlength": 60, "autocomplete": "off"},
    )
    phone = StringField(
        _l("Mobile phone"),
        filters=[without_control_characters],
        validators=[Optional(), Length(max=20, message=TOO_LONG), phone_number],
        render_kw={"maxlength": 20, "type": "tel", "inputmode": "tel", "autocomplete": "off"},
    )
    email = StringField(
        _l("Email"),
        filters=[without_control_characters],
        validators=[
            Optional(),
            Length(max=254, message=TOO_LONG),
            Email(message=_l("Please check this email address."), check_deliverability=False),
        ],
        render_kw={"maxlength": 254, "type": "email", "autocomplete": "off"},
    )
    language = RadioField(
        _l("Language for texts and emails"),
        choices=options(vocab.LANGUAGES),
        validators=[InputRequired(message=CHOOSE)],
    )
    contact_by = RadioField(
        _l("Send confirmations and reminders by"),
        choices=options(vocab.CONTACT_CHANNELS),
        validators=[InputRequired(message=CHOOSE)],
    )
    guardian_name, guardian_relationship, guardian_phone = guardian_fields(
        _l("Their relationship to the youth"), autocomplete="off"
    )
    drawn = HiddenField(validators=_DRAWN)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        valid = (
            self.reachable(
                _l("Please give a phone number or an email, so the clinic can reach them."),
                _l("Please give their email, or choose text messages."),
            )
            and valid
        )
        return self.one_guardian() and valid


class UseNewDetailsForm(ClinicForm):
    """The record's one-tap "use the new details": which booking's details, and the record
    as it was shown (both checked again by the use case)."""

    intake_id = NumberField(
        validators=[InputRequired(message=REQUIRED), NumberRange(min=1, max=MAX_ROW_ID)],
        widget=HiddenInput(),
    )
    drawn = HiddenField(validators=_DRAWN)
