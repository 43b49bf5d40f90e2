"""The base of every form (``ClinicForm``: no control character reaches the database), the
fields forms share, and the intake form. Forms check the shape of each answer; the rules live
in the capabilities."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from clinic import booking, vocab
from clinic.rules.eligibility import normalize_phone

REQUIRED = _l("Please fill this in.")
CHOOSE = _l("Please choose one.")
TOO_LONG = _l("Please keep this under %(max)d characters.")


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes whose ticked values arrive as a list."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class BirthDateField(StringField):
    """A date of birth from ``<input type="date">`` (YYYY-MM-DD), or typed by hand where a
    browser has no date picker: MM/DD/YYYY in English, DD/MM/YYYY in Spanish. Keeps what was
    typed when it cannot be read."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("render_kw", {"type": "date", "autocomplete": "bday"})
        super().__init__(*args, **kwargs)
        self.parsed: date | None = None

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.parsed = None
        text = (self.data or "").strip()
        typed = "%d/%m/%Y" if str(get_locale()) == "es" else "%m/%d/%Y"
        for fmt in ("%Y-%m-%d", typed):
            try:
                self.parsed = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue

    def pre_validate(self, form):
        if not (self.data or "").strip():
            return  # DataRequired says so
        if self.parsed is None or self.parsed.year < 1900:
            raise ValidationError(_l("Please enter your date of birth as month, day and year."))


def _is_control(ch: str) -> bool:
    return ch not in "\n\t" and unicodedata.category(ch) == "Cc"


def without_control_characters(value: str | None) -> str | None:
    """Drop control characters (NUL and friends): PostgreSQL refuses NUL in text, and none of
    them belong in a name or a note. Line breaks stay, for notes."""
    if value is None:
        return None
    return "".join(ch for ch in value if not _is_control(ch))


def _holds_control_characters(data: object) -> bool:
    values = data if isinstance(data, list | tuple) else [data]
    return any(isinstance(value, str) and any(map(_is_control, value)) for value in values)


INVISIBLE = _l("Please remove the invisible characters from this.")


class ClinicForm(FlaskForm):
    """The base of every form in the app: no control character (NUL and friends) reaches the
    database, where PostgreSQL refuses NUL in text (a 500), nor a password hash.

    Every text field drops them as its answer is read, before any view looks at it (as
    ``without_control_characters`` does); a field whose answer must stay exactly as typed (a
    password) is refused instead, with a translated explanation. Choices and numbers holding
    one are refused by their own validation already.
    """

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field_class = unbound_field.field_class
            if issubclass(field_class, StringField) and not issubclass(field_class, PasswordField):
                filters = tuple(unbound_field.kwargs.get("filters", ()))
                if without_control_characters not in filters:
                    options = {**options, "filters": (without_control_characters, *filters)}
            return super().bind_field(form, unbound_field, options)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if not field.errors and _holds_control_characters(field.data):
                field.errors = [*field.errors, INVISIBLE]
                valid = False
        return valid


class NumberField(IntegerField):
    """A whole number typed in a form: an optional minus sign and ASCII digits, at most
    ``MAX_DIGITS`` of them. ``int()`` alone reads '٣' as 3, and takes a thousand digits that
    ``NumberRange`` then cannot compare (it converts to float: OverflowError, a 500); either
    is "Not a valid integer value." here, and ``NumberRange`` bounds the rest."""

    # Beyond any bound a form sets, and well inside what a float holds.
    MAX_DIGITS = 18
    # IntegerField's own message, which WTForms' catalogue translates (not the app's).
    NOT_AN_INTEGER = "Not a valid integer value."

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = valuelist[0].strip()
        digits = text.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > self.MAX_DIGITS:
            self.data = None
            raise ValueError(self.invalid_value_message or self.gettext(self.NOT_AN_INTEGER))
        self.data = int(text)


def has_a_letter(form, field) -> None:
    if field.data and not any(ch.isalpha() for ch in field.data):
        raise ValidationError(_l("Please write your name with letters."))


def phone_number(form, field) -> None:
    if field.data and normalize_phone(field.data) is None:
        raise ValidationError(_l("Please enter a 10-digit US phone number, like 415 555 0134."))


def options(pairs, blank=None) -> list[SelectChoice]:
    """WTForms choices from (code, label) pairs, optionally after a blank "Choose…" entry."""
    head = [SelectChoice("", blank)] if blank is not None else []
    return head + [SelectChoice(value, label) for value, label in pairs]


def _text(label, max_length: int, *validators, **kwargs) -> StringField:
    return StringField(
        label,
        filters=[without_control_characters],
        validators=[*validators, Length(max=max_length, message=TOO_LONG)],
        render_kw={"maxlength": max_length, **kwargs.pop("render_kw", {})},
        **kwargs,
    )


class IntakeForm(ClinicForm):
    # The time within the chosen day; its choices are set by the view.
    slot_time = SelectField(
        _l("Time"),
        validators=[InputRequired(message=CHOOSE)],
        validate_choice=True,
        invalid_choice_message=_l("Please choose one of the times listed."),
    )
    submission_key = HiddenField(
        validators=[Regexp(r"^[A-Za-z0-9_-]{16,64}$", message=_l("Please reload the page."))]
    )

    first_name = _text(
        _l("First name"),
        60,
        DataRequired(message=REQUIRED),
        has_a_letter,
        render_kw={"autocomplete": "given-name"},
    )
    last_name = _text(
        _l("Last name"),
        60,
        DataRequired(message=REQUIRED),
        has_a_letter,
        render_kw={"autocomplete": "family-name"},
    )
    preferred_name = _text(
        _l("Name you go by (optional)"),
        60,
        Optional(),
        has_a_letter,
        render_kw={"autocomplete": "nickname"},
    )
    date_of_birth = BirthDateField(_l("Date of birth"), validators=[DataRequired(REQUIRED)])
    phone = _text(
        _l("Mobile phone"),
        20,
        Optional(),
        phone_number,
        render_kw={"type": "tel", "autocomplete": "tel", "inputmode": "tel"},
    )
    email = _text(
        _l("Email (optional if you give a phone)"),
        254,
        Optional(),
        Email(message=_l("Please check this email address."), check_deliverability=False),
        render_kw={"type": "email", "autocomplete": "email"},
    )
    language = RadioField(
        _l("Language for texts and emails"),
        choices=options(vocab.LANGUAGES),
        validators=[InputRequired(message=CHOOSE)],
        default="en",
    )

    contact_by = RadioField(
        _l("Send my confirmation and reminders by"),
        choices=options(vocab.CONTACT_CHANNELS),
        validators=[Optional()],
        default="sms",
    )

    guardian_name = _text(_l("Parent or guardian's full name"), 120, Optional())
    guardian_relationship = SelectField(
        _l("Their relationship to you"),
        choices=options(vocab.GUARDIAN_RELATIONSHIPS, blank=_l("Choose…")),
        validators=[Optional()],
    )
    guardian_phone = _text(
        _l("Parent or guardian's phone"),
        20,
        Optional(),
        phone_number,
        render_kw={"type": "tel", "inputmode": "tel"},
    )

    tattoo_count = NumberField(
        _l("How many tattoos do you want removed?"),
        default=1,
        validators=[
            InputRequired(message=REQUIRED),
            NumberRange(min=1, max=30, message=_l("Please enter a number from 1 to 30.")),
        ],
        render_kw={"min": 1, "max": 30, "inputmode": "numeric"},
    )
    tattoo_locations = CheckboxesField(
        _l("Where are they?"),
        choices=options(vocab.TATTOO_LOCATIONS),
        validators=[DataRequired(message=_l("Please tick at least one place."))],
    )
    tattoo_size = RadioField(
        _l("How big is the largest one?"),
        choices=options(vocab.TATTOO_SIZES),
        validators=[InputRequired(message=CHOOSE)],
    )
    tattoo_colors = RadioField(
        _l("Colours"),
        choices=options(vocab.TATTOO_COLORS),
        validators=[InputRequired(message=CHOOSE)],
    )
    tattoo_kind = RadioField(
        _l("Who did it?"),
        choices=options(vocab.TATTOO_KINDS),
        validators=[InputRequired(message=CHOOSE)],
    )
    tattoo_age_years = NumberField(
        _l("About how many years old is it? (optional)"),
        validators=[
            Optional(),
            NumberRange(min=0, max=30, message=_l("Please enter a number from 0 to 30.")),
        ],
        render_kw={"min": 0, "max": 30, "inputmode": "numeric"},
    )
    previous_removal = BooleanField(_l("I have had laser removal on it before"))
    tattoo_notes = TextAreaField(
        _l("Anything else we should know about the tattoo? (optional)"),
        filters=[without_control_characters],
        validators=[Optional(), Length(max=500, message=TOO_LONG)],
        render_kw={"maxlength": 500, "rows": 3},
    )

    screening = CheckboxesField(
        _l("Tick any that are true for you"),
        choices=options(vocab.SCREENING_FLAGS),
        validators=[Optional()],
    )
    referral_source = SelectField(
        _l("How did you hear about the clinic?"),
        choices=options(vocab.REFERRAL_SOURCES, blank=_l("Choose…")),
        validators=[DataRequired(message=CHOOSE)],
    )
    consent = BooleanField(
        _l(
            "I agree that the clinic keeps these answers to schedule and treat me, "
            "and shares them with no one else."
        ),
        validators=[DataRequired(message=_l("Please tick this box to book."))],
    )

    GUARDIAN_FIELDS = ("guardian_name", "guardian_relationship", "guardian_phone")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.phone.data or "").strip() and not (self.email.data or "").strip():
            self.phone.errors.append(
                _l("Please give a phone number or an email so we can reach you.")
            )
            valid = False
        elif self.contact_by.data == "email" and not (self.email.data or "").strip():
            self.email.errors.append(_l("Please give your email, or choose text messages."))
            valid = False
        return valid

    def text(self, name: str) -> str | None:
        """A text answer stripped of surrounding space, or None if left empty."""
        value = (getattr(self, name).data or "").strip()
        return value or None

    def booking_request(self, day: date, start: time) -> booking.BookingRequest:
        """The answers, cleaned, as the booking use case takes them."""
        text = self.text
        return booking.BookingRequest(
            day=day,
            start=start,
            submission_key=self.submission_key.data,
            first_name=text("first_name"),
            last_name=text("last_name"),
            preferred_name=text("preferred_name"),
            date_of_birth=self.date_of_birth.parsed,
            phone=normalize_phone(self.phone.data),
            email=text("email"),
            language=self.language.data,
            contact_by=self.contact_by.data or None,
            guardian_name=text("guardian_name"),
            guardian_relationship=text("guardian_relationship"),
            guardian_phone=normalize_phone(self.guardian_phone.data),
            tattoo_count=self.tattoo_count.data,
            tattoo_locations=self.tattoo_locations.data,
            tattoo_size=self.tattoo_size.data,
            tattoo_colors=self.tattoo_colors.data,
            tattoo_kind=self.tattoo_kind.data,
            tattoo_age_years=self.tattoo_age_years.data,
            previous_removal=self.previous_removal.data,
            tattoo_notes=text("tattoo_notes"),
            screening=self.screening.data or [],
            referral_source=self.referral_source.data,
        )
