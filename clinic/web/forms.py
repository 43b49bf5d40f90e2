"""The base of every form (``ClinicForm``: no control character reaches the database), the
fields forms share, and the intake form. Forms check the shape of each answer; the rules live
in the capabilities."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time
from functools import lru_cache
from typing import Any

from babel.dates import format_date, get_month_names
from babel.support import Translations
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    Field,
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
from wtforms.i18n import messages_path
from wtforms.utils import unset_value
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import (
    CheckboxInput,
    Input,
    ListWidget,
    PasswordInput,
    RadioInput,
    Select,
    TextArea,
)
from wtforms.widgets.core import clean_key

from clinic import booking, vocab
from clinic.rules.eligibility import normalize_phone

REQUIRED = _l("Please fill this in.")
CHOOSE = _l("Please choose one.")
TOO_LONG = _l("Please keep this under %(max)d characters.")


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes whose ticked values arrive as a list."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


BIRTH_PARTS = ("day", "month", "year")


@lru_cache(maxsize=8)
def month_names(locale: str) -> tuple[tuple[str, str], ...]:
    """The twelve months as (number, name) in ``locale``, for the birth date's month list:
    computed once per language, not on every page."""
    names = get_month_names("wide", context="stand-alone", locale=locale)
    return tuple((str(n), names[n][:1].upper() + names[n][1:]) for n in range(1, 13))


@lru_cache(maxsize=8)
def birth_example(locale: str) -> str:
    """A date of birth in words for the hint ("March 15, 2008"), once per language."""
    return format_date(date(2008, 3, 15), "long", locale=locale)


@lru_cache(maxsize=128)
def month_options(locale: str, selected: str) -> Markup:
    """The month list's ``<option>`` elements, ``selected`` marked: made once per language and
    month rather than twelve template loops on every page."""
    return Markup(  # nosec B704: the names and values are escaped here
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == selected else ""}>'
            f"{escape(name)}</option>"
            for value, name in month_names(locale)
        )
    )


def birth_parts_order(locale: str) -> tuple[str, ...]:
    """The order a birth date is written in: day first in Spanish, month first in US
    English, as each reader expects."""
    return ("day", "month", "year") if locale.startswith("es") else ("month", "day", "year")


class BirthDateField(Field):
    """A date of birth as three labelled inputs named ``<name>-day``, ``<name>-month`` (a
    list of month names) and ``<name>-year``: a named month cannot be swapped with the day,
    as a typed "15032011" could in a browser's date field. One ISO ``<name>=YYYY-MM-DD`` is
    read too (scripts, tests, the race harness).

    ``parsed`` is the date, or None; ``parts`` keeps what was typed, to show it again.
    ``not_after`` (set by a view that knows today) refuses a date in the future."""

    ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parsed: date | None = None
        self.parts: dict[str, str] = dict.fromkeys(BIRTH_PARTS, "")
        self.problem: str | None = None
        self.not_after: date | None = None

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.process_errors = []
        self.raw_data = None
        self.problem = None
        self.parsed = data if isinstance(data, date) else None
        if formdata is not None:
            typed = {key: formdata.get(f"{self.name}-{key}") for key in BIRTH_PARTS}
            iso = formdata.getlist(self.name)
            if any(value is not None for value in typed.values()):
                # Capped: only echoed back into the page, never stored as typed.
                self.parts = {key: (value or "").strip()[:8] for key, value in typed.items()}
                self.raw_data = list(self.parts.values())
                self._read_parts()
            elif iso:
                self.raw_data = iso
                self._read_iso(str(iso[0]).strip())
        if self.parsed is not None and not any(self.parts.values()):
            self.parts = {
                "day": str(self.parsed.day),
                "month": str(self.parsed.month),
                "year": str(self.parsed.year),
            }
        self.object_data = data
        self.data = self.parsed

    def _read_iso(self, text: str) -> None:
        if not text:
            return
        if not self.ISO.fullmatch(text):
            self.problem = "unreadable"
            return
        year, month, day = (int(part) for part in text.split("-"))
        self.parts = {"day": str(day), "month": str(month), "year": str(year)}
        self._make(year, month, day)

    def _read_parts(self) -> None:
        day, month, year = (self.parts[key] for key in BIRTH_PARTS)
        if not (day or month or year):
            return
        if not (day and month and year):
            self.problem = "incomplete"
            return
        if not all(part.isascii() and part.isdigit() for part in (day, month, year)):
            self.problem = "unreadable"
            return
        if len(year) != 4:
            self.problem = "year"
            return
        self._make(int(year), int(month), int(day))

    def _make(self, year: int, month: int, day: int) -> None:
        if year < 1900:
            self.problem = "year"
            return
        try:
            self.parsed = date(year, month, day)
        except ValueError:
            self.problem = "no_such_day"
        else:
            self.parts = {"day": str(day), "month": str(month), "year": str(year)}

    def pre_validate(self, form):
        problem = self.problem
        if problem is None and self.parsed and self.not_after and self.parsed > self.not_after:
            problem = "future"
        if problem is not None:
            raise StopValidation(BIRTH_PROBLEMS[problem])

    def order(self) -> tuple[str, ...]:
        """The three inputs in the order the page's language writes a date."""
        return birth_parts_order(str(get_locale()))

    def example(self) -> str:
        return birth_example(str(get_locale()))

    def months(self) -> tuple[tuple[str, str], ...]:
        return month_names(str(get_locale()))

    def month_options(self) -> Markup:
        return month_options(str(get_locale()), self.parts["month"])

    def first_input_id(self) -> str:
        """Where the error summary's link lands: the first of the three inputs."""
        return f"{self.id}-{self.order()[0]}"


BIRTH_PROBLEMS = {
    "incomplete": _l("Please give the day, the month and the year you were born."),
    "unreadable": _l("Please write the day and the year in numbers."),
    "year": _l("Please check the year: 4 numbers, like 2008."),
    "no_such_day": _l("This date does not exist. Please check the day and the month."),
    "future": _l("This date is in the future. Please check the year."),
}


@lru_cache(maxsize=8)
def _wtforms_catalogue(locale: str) -> Translations:
    return Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsMessages:
    """WTForms' built-in messages ("Not a valid integer value.") in the page's language, each
    language's catalogue loaded once per process."""

    def gettext(self, string: str) -> str:
        return _wtforms_catalogue(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalogue(str(get_locale())).ungettext(singular, plural, n)


_WTFORMS_MESSAGES = _WTFormsMessages()


def attributes(params: dict) -> str:
    """``html_params`` of WTForms, the same bytes: sorted by name, ``True`` a bare name,
    ``False`` left out, every value escaped. Without its ``Markup.format`` per attribute,
    which was a third of a booking step's time."""
    out = []
    for key, value in sorted(params.items()):
        if value is True:
            out.append(key)
        elif value is not False:
            out.append(f'{key}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return " ".join(out)


# The widgets ``render_field`` draws itself, as each widget's ``__call__`` would: the plain
# inputs (and checkbox, radio, password), the text area and a select without groups. Any other
# (or one with an overridden ``__call__``) is left to WTForms.
_INPUT_CALLS = {
    Input.__call__,
    CheckboxInput.__call__,
    RadioInput.__call__,
    PasswordInput.__call__,
}


def _render_input(widget: Input, field: Field, params: dict) -> Markup:
    if isinstance(widget, CheckboxInput):
        if getattr(field, "checked", field.data):
            params.setdefault("checked", True)
    elif isinstance(widget, RadioInput):
        if field.checked:
            params.setdefault("checked", True)
    elif isinstance(widget, PasswordInput) and widget.hide_value:
        params["value"] = ""
    params.setdefault("id", field.id)
    params.setdefault("type", widget.input_type)
    if "value" not in params:
        params["value"] = field._value()
    for key, value in vars(field.flags).items():
        if key in widget.validation_attrs and key not in params:
            params[key] = value() if callable(value) else value
    params["name"] = field.name
    return Markup(f"<input {attributes(params)}>")  # nosec B704: attributes() escapes each value


def _render_textarea(widget: TextArea, field: Field, params: dict) -> Markup:
    params.setdefault("id", field.id)
    for key, value in vars(field.flags).items():
        if key in widget.validation_attrs and key not in params:
            params[key] = value
    params["name"] = field.name
    text = escape(field._value())
    return Markup(f"<textarea {attributes(params)}>\r\n{text}</textarea>")  # nosec B704: escaped


def _render_select(widget: Select, field: Field, params: dict) -> Markup:
    params.setdefault("id", field.id)
    if widget.multiple:
        params["multiple"] = True
    for key, value in vars(field.flags).items():
        if key in widget.validation_attrs and key not in params:
            params[key] = value
    params["name"] = field.name
    html = [f"<select {attributes(params)}>"]
    for choice in field._iter_choices_normalized():
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        option = {"value": value, **(choice.render_kw or {})}
        if choice.selected:
            option["selected"] = True
        html.append(f"<option {attributes(option)}>{escape(choice.label or choice.value)}</option>")
    html.append("</select>")
    return Markup("".join(html))  # nosec B704: attributes() and escape() above


def _plain_options(kind: type) -> bool:
    # A classmethod: each look-up makes a new bound method, so compare the functions.
    return getattr(kind.render_option, "__func__", None) is Select.render_option.__func__


def render_quickly(field: Field, params: dict) -> Markup | None:
    """The field's widget drawn as WTForms draws it, or None for a widget it cannot draw."""
    widget = field.widget
    kind = type(widget)
    if isinstance(widget, Input):
        plain = kind.__call__ in _INPUT_CALLS and widget.html_params is Input.html_params
        if plain and getattr(field, "_datalist", None) is None:
            return _render_input(widget, field, params)
    elif kind.__call__ is TextArea.__call__:
        return _render_textarea(widget, field, params)
    elif kind.__call__ is Select.__call__ and _plain_options(kind):
        return None if field.has_groups() else _render_select(widget, field, params)
    return None


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
YES_NO = [("yes", _l("Yes")), ("no", _l("No"))]


class ClinicForm(FlaskForm):
    """The base of every form in the app: no control character (NUL and friends) reaches the
    database, where PostgreSQL refuses NUL in text (a 500), nor a password hash.

    Every text field drops them as its answer is read, before any view looks at it (as
    ``without_control_characters`` does); a field whose answer must stay exactly as typed (a
    password) is refused instead, with a translated explanation. Choices and numbers holding
    one are refused by their own validation already.
    """

    class Meta:
        def get_translations(self, form):
            # Flask-WTF reads WTForms' own catalogue from disk again for every request that
            # builds a form (a tenth of a short form page's time): it never changes.
            return _WTFORMS_MESSAGES

        def bind_field(self, form, unbound_field, options):
            field_class = unbound_field.field_class
            if issubclass(field_class, StringField) and not issubclass(field_class, PasswordField):
                filters = tuple(unbound_field.kwargs.get("filters", ()))
                if without_control_characters not in filters:
                    options = {**options, "filters": (without_control_characters, *filters)}
            return super().bind_field(form, unbound_field, options)

        def render_field(self, field, render_kw):
            # As WTForms' own, with the common widgets drawn without its slow ``html_params``.
            params = {clean_key(k): v for k, v in render_kw.items()}
            if field.render_kw:
                params = {**{clean_key(k): v for k, v in field.render_kw.items()}, **params}
            drawn = render_quickly(field, params)
            return drawn if drawn is not None else field.widget(field, **params)

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


GUARDIAN_FIELDS = ("guardian_name", "guardian_relationship", "guardian_phone")


def guardian_fields(relationship: str, **render_kw: str) -> tuple[Field, Field, Field]:
    """A parent or guardian's name, relationship and phone, as every form that asks for them
    asks (the intake in the youth's words, the desk's forms in staff wording)."""
    return (
        _text(_l("Parent or guardian's full name"), 120, Optional(), render_kw=dict(render_kw)),
        SelectField(
            relationship,
            choices=options(vocab.GUARDIAN_RELATIONSHIPS, blank=_l("Choose…")),
            validators=[Optional()],
        ),
        _text(
            _l("Parent or guardian's phone"),
            20,
            Optional(),
            phone_number,
            render_kw={"type": "tel", "inputmode": "tel", **render_kw},
        ),
    )


class ContactAndGuardian:
    """The checks every form that takes a youth's contact and guardian makes alike."""

    GUARDIAN_FIELDS = GUARDIAN_FIELDS

    def text(self, name: str) -> str | None:
        """A text answer stripped of surrounding space, or None if left empty."""
        value = (getattr(self, name).data or "").strip()
        return value or None

    def require_guardian(self) -> bool:
        """Each of the guardian's details required (a minor on the day): one short message
        each, the reason said once elsewhere on the page."""
        valid = True
        for name in self.GUARDIAN_FIELDS:
            field = getattr(self, name)
            if not field.errors and not self.text(name):
                message = CHOOSE if name == "guardian_relationship" else REQUIRED
                field.errors = [*field.errors, message]
                valid = False
        self._errors = None  # WTForms' cached ``errors`` would miss these
        return valid

    def who_and_how_to_reach(self) -> dict[str, Any]:
        """The youth, their contact and their guardian, cleaned, as ``BookingRequest`` takes
        them (the online intake and the desk's caller form alike)."""
        text = self.text
        return {
            "first_name": text("first_name"),
            "last_name": text("last_name"),
            "preferred_name": text("preferred_name"),
            "date_of_birth": self.date_of_birth.parsed,
            "phone": normalize_phone(self.phone.data),
            "email": text("email"),
            "language": self.language.data,
            "contact_by": self.contact_by.data or None,
            "guardian_name": text("guardian_name"),
            "guardian_relationship": text("guardian_relationship"),
            "guardian_phone": normalize_phone(self.guardian_phone.data),
        }

    def one_guardian(self) -> bool:
        """A guardian is one person: all three details, or none."""
        if any(self.text(name) for name in self.GUARDIAN_FIELDS):
            return self.require_guardian()
        return True

    def reachable(self, none_given: str, no_email: str, no_phone: str | None = None) -> bool:
        """A phone or an e-mail, and the one the chosen channel needs (``no_phone`` only
        where a text needs the phone said so)."""
        if self.phone.errors or self.email.errors:
            return True  # their own message says what is wrong
        phone, email, channel = self.text("phone"), self.text("email"), self.contact_by.data
        problem = None
        if not phone and not email:
            field, problem = self.phone, none_given
        elif channel == "email" and not email:
            field, problem = self.email, no_email
        elif channel == "sms" and not phone and no_phone is not None:
            field, problem = self.phone, no_phone
        if problem is None:
            return True
        field.errors = [*field.errors, problem]
        return False


class IntakeForm(ContactAndGuardian, ClinicForm):
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

    guardian_name, guardian_relationship, guardian_phone = guardian_fields(
        _l("Their relationship to you")
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

    # One question first; the list only when the answer is yes (see the intake's template).
    health_any = RadioField(
        _l("Does any of these apply to you?"),
        choices=options(YES_NO),
        validators=[Optional()],
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

    # Set by a view asking the questions in steps, where the yes/no comes first; a form sent
    # in one go (scripts, the desk) may leave it out and its ticks speak for themselves.
    health_answer_required = False

    def validate(self, extra_validators=None) -> bool:
        self._ignore_ticks_after_no()
        valid = super().validate(extra_validators)
        return self.cross_checks(tuple(self._fields)) and valid

    def validate_only(self, names) -> bool:
        """Check these fields alone (one step of the booking), as ``validate`` would."""
        self._ignore_ticks_after_no()
        self._errors = None
        valid = True
        for name in names:
            field = self[name]
            inline = getattr(self.__class__, f"validate_{name}", None)
            if not field.validate(self, [inline] if inline else []):
                valid = False
            if not field.errors and _holds_control_characters(field.data):
                field.errors = [*field.errors, INVISIBLE]
                valid = False
        return self.cross_checks(names) and valid

    def _ignore_ticks_after_no(self) -> None:
        # "No" wins over ticks left behind by a "yes" changed to "no" (the list was hidden).
        if self.health_any.data == "no":
            self.screening.data = []

    def cross_checks(self, names) -> bool:
        """The checks that read several answers, for the fields in ``names``."""
        valid = True
        if "phone" in names and "email" in names and not self.phone.errors:
            if not (self.phone.data or "").strip() and not (self.email.data or "").strip():
                self.phone.errors = [
                    *self.phone.errors,
                    _l("Please give a phone number or an email so we can reach you."),
                ]
                valid = False
            elif self.contact_by.data == "email" and not (self.email.data or "").strip():
                self.email.errors = [
                    *self.email.errors,
                    _l("Please give your email, or choose text messages."),
                ]
                valid = False
        if "screening" in names and "health_any" in names and not self.health_any.errors:
            answer = self.health_any.data
            if answer not in ("yes", "no") and self.health_answer_required:
                self.health_any.errors = [*self.health_any.errors, CHOOSE]
                valid = False
            elif answer == "yes" and not self.screening.data and not self.screening.errors:
                self.screening.errors = [
                    *self.screening.errors,
                    _l("Please tick at least one, or answer No above."),
                ]
                valid = False
        return valid

    def booking_request(self, day: date, start: time) -> booking.BookingRequest:
        """The answers, cleaned, as the booking use case takes them."""
        text = self.text
        return booking.BookingRequest(
            day=day,
            start=start,
            submission_key=self.submission_key.data,
            **self.who_and_how_to_reach(),
            tattoo_count=self.tattoo_count.data,
            tattoo_locations=self.tattoo_locations.data,
            tattoo_size=self.tattoo_size.data,
            tattoo_colors=self.tattoo_colors.data,
            tattoo_kind=self.tattoo_kind.data,
            tattoo_age_years=self.tattoo_age_years.data,
            previous_removal=self.previous_removal.data,
            tattoo_notes=text("tattoo_notes"),
            screening=[] if self.health_any.data == "no" else (self.screening.data or []),
            referral_source=self.referral_source.data,
        )
