"""Forms of the desk's bookings: moving one booking, and booking for a youth who phones in.
They check shape only; the rules live in ``clinic.booking``."""

from __future__ import annotations

from datetime import date, time

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, Regexp

from clinic import booking, vocab
from clinic.web.forms import (
    CHOOSE,
    REQUIRED,
    TOO_LONG,
    BirthDateField,
    CheckboxesField,
    ClinicForm,
    ContactAndGuardian,
    guardian_fields,
    has_a_letter,
    options,
    phone_number,
    without_control_characters,
)

# "YYYY-MM-DDTHH:MM"; the choices, grouped by day, are set by the view.
SLOT_LABEL = _l("Date and time")
NOT_LISTED = _l("Please choose one of the times listed.")
SUBMISSION_KEY = r"^[A-Za-z0-9_-]{16,64}$"


def parse_slot(value: str | None) -> tuple[date, time] | None:
    """'2026-12-22T16:00' -> (day, start); None for anything else."""
    try:
        day_text, time_text = (value or "").split("T")
        return date.fromisoformat(day_text), time.fromisoformat(time_text)
    except ValueError:
        return None


class MoveForm(ClinicForm):
    """Choose the new time, then confirm it (``confirmed`` is set on the second step)."""

    slot = SelectField(
        _l("New date and time"),
        validators=[InputRequired(message=CHOOSE)],
        invalid_choice_message=NOT_LISTED,
    )
    confirmed = HiddenField()

    def chosen(self) -> tuple[date, time] | None:
        return parse_slot(self.slot.data)


def _text(label, max_length: int, *validators, **kwargs) -> StringField:
    return StringField(
        label,
        filters=[without_control_characters],
        validators=[*validators, Length(max=max_length, message=TOO_LONG)],
        render_kw={"maxlength": max_length, **kwargs.pop("render_kw", {})},
        **kwargs,
    )


class CallerForm(ContactAndGuardian, ClinicForm):
    """A youth who phones in, new to the clinic: the intake's essentials (who they are, how to
    reach them, their guardian when they will be a minor on the day), and a time. The tattoo
    and health questions are the clinician's at check-in."""

    slot = SelectField(
        SLOT_LABEL,
        validators=[InputRequired(message=CHOOSE)],
        invalid_choice_message=NOT_LISTED,
    )
    submission_key = HiddenField(
        validators=[Regexp(SUBMISSION_KEY, message=_l("Please reload the page."))]
    )
    # Set once the desk has seen the possible duplicates and books a new record anyway.
    duplicates_seen = HiddenField()

    first_name = _text(_l("First name"), 60, DataRequired(message=REQUIRED), has_a_letter)
    last_name = _text(_l("Last name"), 60, DataRequired(message=REQUIRED), has_a_letter)
    preferred_name = _text(_l("Name they go by (optional)"), 60, Optional(), has_a_letter)
    date_of_birth = BirthDateField(_l("Date of birth"), validators=[DataRequired(REQUIRED)])
    phone = _text(
        _l("Mobile phone"),
        20,
        Optional(),
        phone_number,
        render_kw={"type": "tel", "inputmode": "tel"},
    )
    email = _text(
        _l("Email (optional with a phone)"),
        254,
        Optional(),
        Email(message=_l("Please check this email address."), check_deliverability=False),
        render_kw={"type": "email"},
    )
    language = RadioField(
        _l("Language for texts and emails"),
        choices=options(vocab.LANGUAGES),
        validators=[InputRequired(message=CHOOSE)],
        default="en",
    )
    contact_by = RadioField(
        _l("Send the youth's confirmation and reminders by"),
        choices=options(vocab.CONTACT_CHANNELS),
        validators=[InputRequired(message=CHOOSE)],
        default="sms",
    )
    guardian_name, guardian_relationship, guardian_phone = guardian_fields(
        _l("Their relationship to the youth")
    )
    tattoo_locations = CheckboxesField(
        _l("Where are the tattoos? (optional)"),
        choices=options(vocab.TATTOO_LOCATIONS),
        validators=[Optional()],
    )
    referral_source = SelectField(
        _l("How did they hear about the clinic?"),
        choices=options(vocab.REFERRAL_SOURCES, blank=_l("Choose…")),
        validators=[DataRequired(message=CHOOSE)],
    )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        valid = (
            self.reachable(
                _l("Please give a phone number or an email: the confirmation goes there."),
                _l("Please give the email, or choose text messages."),
                _l("Please give the phone, or choose email."),
            )
            and valid
        )
        return self.one_guardian() and valid

    def chosen(self) -> tuple[date, time] | None:
        return parse_slot(self.slot.data)

    def booking_request(self, day: date, start: time) -> booking.BookingRequest:
        """The answers, cleaned, as the booking use case takes them."""
        return booking.BookingRequest(
            day=day,
            start=start,
            submission_key=self.submission_key.data,
            **self.who_and_how_to_reach(),
            tattoo_locations=list(self.tattoo_locations.data or []),
            referral_source=self.referral_source.data,
        )


class FindForm(ClinicForm):
    """The caller may be on file already: one search box, as the records' search."""

    q = StringField(
        _l("Name, phone or date of birth"),
        filters=[without_control_characters],
        validators=[DataRequired(message=REQUIRED), Length(max=100, message=TOO_LONG)],
        render_kw={"maxlength": 100, "autocomplete": "off", "spellcheck": "false"},
    )
