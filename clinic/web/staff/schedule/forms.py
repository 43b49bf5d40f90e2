"""Forms of the schedule screens: dates, times and numbers typed by the admin, kept as typed
when they cannot be read. They check shape only; the rules live in ``clinic.schedule``."""

from __future__ import annotations

from datetime import date, time

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from clinic import schedule
from clinic.web.converters import parse_day, parse_row_id
from clinic.web.forms import (
    REQUIRED,
    TOO_LONG,
    CheckboxesField,
    ClinicForm,
    without_control_characters,
)


class _ParsedField(StringField):
    """Text read into a value; what was typed is kept when it cannot be read."""

    message = _l("Please check this.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parsed = None

    def parse(self, text: str):
        raise NotImplementedError

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.parsed = None
        text = (self.data or "").strip()
        if text:
            try:
                self.parsed = self.parse(text)
            except ValueError:
                self.parsed = None

    def pre_validate(self, form):
        if (self.data or "").strip() and self.parsed is None:
            raise ValidationError(self.message)


class DateText(_ParsedField):
    message = _l("Please enter a date as year-month-day, like 2026-12-15.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("render_kw", {"type": "date"})
        super().__init__(*args, **kwargs)

    def parse(self, text: str) -> date:
        return parse_day(text)


class ClockText(_ParsedField):
    message = _l("Please enter a time like 16:00.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("render_kw", {"type": "time"})
        super().__init__(*args, **kwargs)

    def parse(self, text: str) -> time:
        return time.fromisoformat(text).replace(second=0, microsecond=0, tzinfo=None)


class WholeNumber(_ParsedField):
    message = _l("Please enter a whole number.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("render_kw", {"type": "number", "inputmode": "numeric"})
        super().__init__(*args, **kwargs)

    def parse(self, text: str) -> int:
        # ASCII digits only: str.isdigit() also says yes to '²' and '٣'.
        if not (text.isascii() and text.isdigit()) or len(text) > 4:
            raise ValueError(text)
        return int(text)


class HoursForm(ClinicForm):
    start = ClockText(_l("Opens at"))
    end = ClockText(_l("Closes at"))
    slot_minutes = WholeNumber(_l("Slot length in minutes"))
    seats = WholeNumber(_l("Seats per slot"))

    def hours(self) -> schedule.Hours:
        return schedule.Hours(
            self.start.parsed, self.end.parsed, self.slot_minutes.parsed, self.seats.parsed
        )


class ExtraDayForm(HoursForm):
    day = DateText(_l("Date"), validators=[DataRequired(REQUIRED)])


class CloseForm(ClinicForm):
    note = StringField(
        # Public: the booking page shows it beside the closed day (clinic/booking/availability.py).
        _l("Why it is closed (youth see this on the booking page)"),
        validators=[Optional(), Length(max=schedule.NOTE_LENGTH, message=TOO_LONG)],
        filters=[without_control_characters, lambda v: v.strip() if v else v],
    )


def _account_id(value) -> int:
    """A ticked box's account id: ASCII digits only (``int`` also reads '٣' as 3)."""
    if isinstance(value, int):
        return value
    parsed = parse_row_id(str(value))
    if parsed is None:
        raise ValueError(value)
    return parsed


class RosterForm(ClinicForm):
    """The clinicians who work a day: a box per active clinician (ids, set by the view)."""

    clinicians = CheckboxesField(_l("Clinicians working this day"), coerce=_account_id)

    def offer(self, clinicians) -> RosterForm:
        self.clinicians.choices = [(person.id, person.name) for person in clinicians]
        return self
