"""Forms of the clinic day: recording a treatment, adding a walk-in."""

from __future__ import annotations

from datetime import date, time

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from clinic import booking, vocab
from clinic.models import Consent
from clinic.web.forms import (
    TOO_LONG,
    CheckboxesField,
    ClinicForm,
    IntakeForm,
    NumberField,
    options,
    without_control_characters,
)

SKIN_TYPES = [("", _l("Not recorded"))] + [(t, t) for t in ("I", "II", "III", "IV", "V", "VI")]

CONSENT_CHOICES = [
    (Consent.CONFIRMED.value, _l("Consent confirmed (signed form, guardian here or by phone)")),
    (Consent.EXEMPT.value, _l("Not needed: emancipated or consents alone (staff decision)")),
    (Consent.MISSING.value, _l("Not confirmed yet: flag it (cannot be treated until confirmed)")),
]


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
        validators=[DataRequired(message=_l("Please tick at least one place."))],
    )
    skin_type = SelectField(
        _l("Skin type (Fitzpatrick)"), choices=options(SKIN_TYPES), validators=[Optional()]
    )
    settings = StringField(
        _l("Laser settings (wavelength, fluence, spot size)"),
        filters=[without_control_characters],
        validators=[Optional(), Length(max=200, message=TOO_LONG)],
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
    asks no time, and a minor's guardian consent is recorded at once."""

    guardian_consent = RadioField(
        _l("Guardian consent (for a youth under 18)"),
        choices=options(CONSENT_CHOICES),
        validators=[Optional()],
    )

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
