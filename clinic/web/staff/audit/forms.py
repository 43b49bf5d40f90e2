"""The audit trail's filter: a GET form (nothing personal in it: ids and dates)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from clinic.web.forms import ClinicForm, NumberField

MAX_ID = 2**31 - 1


def _optional_id(value: object) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)  # type: ignore[arg-type]


class AuditFilterForm(ClinicForm):
    """By youth (their record's number), by staff member, by date (the clinic's dates)."""

    class Meta:
        csrf = False  # a search that changes nothing, sent by GET so it can be linked to

    # NumberField: IntegerField reads a thousand digits that NumberRange cannot compare (500).
    youth = NumberField(
        _l("Youth record number"),
        validators=[
            Optional(),
            NumberRange(min=1, max=MAX_ID, message=_l("Please enter a record number.")),
        ],
    )
    staff = SelectField(_l("Staff member"), coerce=_optional_id, validate_choice=True)
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])

    def validate_since(self, field: DateField) -> None:
        _within_years(field)

    def validate_until(self, field: DateField) -> None:
        _within_years(field)
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date must be on or after the start date."))


def _within_years(field: DateField) -> None:
    # Far dates would overflow the day-to-instant arithmetic; the clinic has none.
    if field.data and not 2000 <= field.data.year <= 9000:
        raise ValidationError(_l("Please enter a date between the years 2000 and 9000."))
