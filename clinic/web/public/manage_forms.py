"""The forms of a youth's own pages (their link): cancel, move, book the next session, and
"send my link again". They check shape only; the rules are in ``clinic.booking.manage``."""

from __future__ import annotations

from datetime import date, datetime, time

from flask import request
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, StringField
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from clinic import vocab
from clinic.booking.manage import ContactUpdate
from clinic.rules.eligibility import normalize_phone
from clinic.web.forms import (
    CHOOSE,
    REQUIRED,
    TOO_LONG,
    BirthDateField,
    ClinicForm,
    ContactAndGuardian,
    guardian_fields,
    options,
    phone_number,
    without_control_characters,
)

PICK_A_TIME = _l("Please choose one of the times listed.")


def slot_value(day: date, start: time) -> str:
    """A time offered on a form: '2026-12-22T16:00'."""
    return f"{day.isoformat()}T{start.strftime('%H:%M')}"


def parse_slot(value: str) -> tuple[date, time]:
    """The day and time of a ``slot_value`` (one the form listed, so it parses)."""
    moment = datetime.strptime(value, "%Y-%m-%dT%H:%M")
    return moment.date(), moment.time()


class AboutForm(ClinicForm):
    """A form on a link's page: it carries what the page was shown for (an appointment's
    code, a list entry), because the action applies to the link the browser holds when it is
    sent, and a second link opened in another tab meanwhile (a parent with two children)
    would otherwise receive the first page's "cancel" or "leave" (``shown_for`` tells)."""

    about = HiddenField()

    def shown_for(self, what: str) -> bool:
        """Whether the form was shown for ``what`` (the view sets it on a GET). A form
        without it was not sent from one of these pages, all of which carry it: the
        browser's link decides, as it would anyway."""
        return not self.about.data or self.about.data == what

    def check(self, what: str) -> bool:
        """On a GET, mark the form as shown for ``what``; on a POST, whether it was."""
        if request.method != "POST":
            self.about.data = what
            return True
        return self.shown_for(what)


class ConfirmForm(AboutForm):
    """A button that changes something: its CSRF token and its appointment are all it
    carries."""


class SlotForm(AboutForm):
    # One of the open times the view lists ("YYYY-MM-DDTHH:MM"); its choices are set there.
    slot = RadioField(
        _l("Day and time"),
        validators=[InputRequired(message=CHOOSE)],
        validate_choice=True,
        invalid_choice_message=PICK_A_TIME,
    )

    def chosen(self) -> tuple[date, time]:
        return parse_slot(self.slot.data)


def _text(label, max_length: int, *validators, **render_kw) -> StringField:
    return StringField(
        label,
        filters=[without_control_characters],
        validators=[*validators, Length(max=max_length, message=TOO_LONG)],
        render_kw={"maxlength": max_length, **render_kw},
    )


class NextSessionForm(ContactAndGuardian, SlotForm):
    """The next session: a time, and the contact details confirmed or updated (no intake)."""

    submission_key = HiddenField(
        validators=[Regexp(r"^[A-Za-z0-9_-]{16,64}$", message=_l("Please reload the page."))]
    )
    phone = _text(
        _l("Mobile phone"),
        20,
        Optional(),
        phone_number,
        type="tel",
        autocomplete="tel",
        inputmode="tel",
    )
    email = _text(
        _l("Email (optional if you give a phone)"),
        254,
        Optional(),
        Email(message=_l("Please check this email address."), check_deliverability=False),
        type="email",
        autocomplete="email",
    )
    contact_by = RadioField(
        _l("Send my confirmation and reminders by"),
        choices=options(vocab.CONTACT_CHANNELS),
        validators=[Optional()],
        default="sms",
    )
    language = RadioField(
        _l("Language for texts and emails"),
        choices=options(vocab.LANGUAGES),
        validators=[InputRequired(message=CHOOSE)],
        default="en",
    )
    # Shown for a youth under the guardian age only.
    guardian_name, guardian_relationship, guardian_phone = guardian_fields(
        _l("Their relationship to you")
    )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        return (
            self.reachable(
                _l("Please give a phone number or an email so we can reach you."),
                _l("Please give your email, or choose text messages."),
            )
            and valid
        )

    def contact(self) -> ContactUpdate:
        return ContactUpdate(
            phone=normalize_phone(self.phone.data),
            email=self.text("email"),
            language=self.language.data,
            contact_by=self.contact_by.data or None,
            guardian_name=self.text("guardian_name"),
            guardian_relationship=self.text("guardian_relationship"),
            guardian_phone=normalize_phone(self.guardian_phone.data),
        )


class LostLinkForm(ClinicForm):
    contact = StringField(
        _l("The mobile phone or email you booked with"),
        filters=[without_control_characters, lambda value: value.strip() if value else value],
        validators=[DataRequired(message=REQUIRED), Length(max=254, message=TOO_LONG)],
        # One field for either: autocomplete takes one kind only ("email tel" is invalid, axe).
        render_kw={"maxlength": 254, "autocomplete": "on", "spellcheck": "false"},
    )
    date_of_birth = BirthDateField(_l("Date of birth"), validators=[DataRequired(REQUIRED)])

    def validate_contact(self, field) -> None:
        if normalize_phone(field.data) is not None:
            return
        try:
            Email(check_deliverability=False)(self, field)
        except ValidationError:
            raise ValidationError(
                _l("Please enter a 10-digit US phone number or an email address.")
            ) from None

    def phone(self) -> str | None:
        return normalize_phone(self.contact.data)

    def email(self) -> str | None:
        return None if self.phone() else (self.contact.data or "").lower()
