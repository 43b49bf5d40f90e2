"""Forms of the clinic day: recording a treatment, adding a walk-in."""

from __future__ import annotations

from datetime import date, time

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from clinic import booking, vocab
from clinic.models import Consent
from clinic.rules.visits import SKIN_TYPES
from clinic.web.forms import (
    TOO_LONG,
    CheckboxesField,
    ClinicForm,
    IntakeForm,
    NumberField,
    options,
    without_control_characters,
)

SKIN_TYPE_CHOICES = [(t, t) for t in SKIN_TYPES]

CONSENT_CHOICES = [
    (Consent.CONFIRMED.value, _l("Consent confirmed (signed form, guardian here or by phone)")),
    (Consent.EXEMPT.value, _l("Not needed: emancipated or consents alone (staff decision)")),
    (Consent.MISSING.value, _l("Not confirmed yet: flag it (cannot be treated until confirmed)")),
]


# What each required part of a treatment record says when it is missing (the form's own
# validators and the use case's ``TreatmentIncomplete`` say the same).
TREATMENT_MISSING = {
    "areas": _l("Please tick at least one place."),
    "skin_type": _l("Please choose the skin type."),
    "settings": _l("Please write the laser settings used."),
}


class TreatmentForm(ClinicForm):
    session_number = NumberField(
        _l("Session number"),
        validators=[
            InputRequired(message=_l("Please fill this in.")),
            NumberRange(min=1, max=40, message=_l("Please enter a number from 1 to 40.")),
        ],
        render_kw={"min": 1, "max": 40, "inputmode": "numeric"},
    )
    areas = CheckboxesField(
        _l("Area treated"),
        choices=options(vocab.TATTOO_LOCATIONS),
        validators=[DataRequired(message=TREATMENT_MISSING["areas"])],
    )
    # Required (as in ``clinic_day.complete``): the next session's clinician starts from them.
    skin_type = SelectField(
        _l("Skin type (Fitzpatrick)"),
        # A blank prompt first, so nothing is recorded by not touching the list.
        choices=options(SKIN_TYPE_CHOICES, blank=_l("Choose…")),
        validators=[DataRequired(message=TREATMENT_MISSING["skin_type"])],
    )
    settings = StringField(
        _l("Laser settings (wavelength, fluence, spot size)"),
        filters=[without_control_characters],
        validators=[
            DataRequired(message=TREATMENT_MISSING["settings"]),
            Length(max=200, message=TOO_LONG),
        ],
        render_kw={"maxlength": 200},
    )
    notes = TextAreaField(
        _l("Clinical notes"),
        filters=[without_control_characters],
        validators=[Optional(), Length(max=2000, message=TOO_LONG)],
        render_kw={"maxlength": 2000, "rows": 4},
    )

    def text(self, name: str) -> str | None:
        value = (getattr(self, name).data or "").strip()
        return value or None


class WalkInForm(IntakeForm):
    """The online intake, filled in at the desk; the time is the next free seat, so the form
    asks no time, and a minor's guardian consent is recorded at once.

    In two steps on one page: first the few answers that decide whether the youth can have a
    seat and whether they are on file already (``FIRST_STEP``: names, birth date, phone),
    then the rest. The answers travel in the form, as the online intake's do."""

    FIRST_STEP = ("first_name", "last_name", "date_of_birth", "phone")

    # "check": the first step was sent; "save" (or nothing: a whole intake sent at once, as
    # before the steps) the whole intake was.
    step = HiddenField(default="save")
    guardian_consent = RadioField(
        _l("Guardian consent (for a youth under 18)"),
        choices=options(CONSENT_CHOICES),
        validators=[Optional()],
    )
    # Which record on file this youth is, when the first step found look-alikes: a record's
    # id, or "new" (someone else). Its choices are the look-alikes found, set by the view.
    same_youth = RadioField(
        _l("Is this one of these youth?"),
        choices=[],
        validators=[Optional()],
        validate_choice=False,
    )

    def validate_first_step(self) -> bool:
        """Check only the first step's answers (the rest is not asked yet)."""
        return all(getattr(self, name).validate(self) for name in self.FIRST_STEP)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # No time to choose: the walk-in takes the next free seat.
        del self.slot_time
        # The desk fills it in about the youth, not about itself.
        self.contact_by.label.text = _l("Send the youth's reminders and aftercare by")

    def consent_choice(self) -> Consent | None:
        try:
            return Consent(self.guardian_consent.data or "")
        except ValueError:
            return None

    def booking_request(self, day: date, start: time = time(0)) -> booking.BookingRequest:
        # The seat, and so the time, is chosen by the walk-in use case.
        return super().booking_request(day, start)
