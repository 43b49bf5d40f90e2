"""Which period a report covers: a GET form (nothing personal in it, only dates), so a report
is a link that can be kept and sent. A month, a quarter or a year from a list of recent whole
ones, or two dates of the viewer's choosing."""

from __future__ import annotations

from datetime import date

from babel.dates import format_skeleton
from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import DateField, RadioField, SelectField
from wtforms.validators import DataRequired, ValidationError

from clinic.formats import display_locale
from clinic.rules.reports import Period, RangeKind, last_complete
from clinic.web.forms import ClinicForm, options

# How far back each list goes: two years of months, of quarters, six years.
RECENT = {RangeKind.MONTH: 24, RangeKind.QUARTER: 8, RangeKind.YEAR: 6}
# A custom range at most this long (a longer one is not a report anyone reads, and its
# previous period would reach back twenty years); and no date before the clinic's records.
LONGEST = relativedelta(years=10)
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999

CHOOSE_ONE = _l("Please choose one of the periods listed.")
KINDS = (
    (RangeKind.MONTH.value, _l("A month")),
    (RangeKind.QUARTER.value, _l("A quarter")),
    (RangeKind.YEAR.value, _l("A year")),
    (RangeKind.CUSTOM.value, _l("Dates of my choosing")),
)


def period_value(period: Period) -> str:
    """How a period is written in the page's address: "2026-10", "2026-Q3", "2026"."""
    if period.kind is RangeKind.MONTH:
        return f"{period.start.year}-{period.start.month:02d}"
    if period.kind is RangeKind.QUARTER:
        return f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}"
    return str(period.start.year)


def period_label(period: Period) -> str:
    """ "October 2026", "Q3 2026 (Jul – Sep)", "2026", in the viewer's language."""
    locale = display_locale()
    if period.kind is RangeKind.MONTH:
        return format_skeleton("yMMMM", period.start, locale=locale)
    if period.kind is RangeKind.QUARTER:
        quarter = format_skeleton("yQQQ", period.start, locale=locale)
        first = format_skeleton("MMM", period.start, locale=locale)
        last = format_skeleton("MMM", period.end, locale=locale)
        return f"{quarter} ({first} – {last})"
    return str(period.start.year)


def recent(kind: RangeKind, today: date) -> list[Period]:
    """The last whole months, quarters or years before ``today``, the latest first."""
    periods = [last_complete(kind, today)]
    for _ in range(RECENT[kind] - 1):
        periods.append(last_complete(kind, periods[-1].start))
    return periods


def _in_years(field: DateField) -> None:
    if field.data and not EARLIEST_YEAR <= field.data.year <= LATEST_YEAR:
        raise ValidationError(
            _l(
                "Please enter a date between the years %(first)d and %(last)d.",
                first=EARLIEST_YEAR,
                last=LATEST_YEAR,
            )
        )


class PeriodForm(ClinicForm):
    """The period: its kind, then the month, quarter or year chosen, or the two dates."""

    class Meta:
        csrf = False  # a GET that changes nothing, so a report can be linked to

    kind = RadioField(
        _l("Report on"),
        choices=options(KINDS),
        validators=[DataRequired(message=_l("Please choose one."))],
        default=RangeKind.QUARTER.value,
    )
    month = SelectField(_l("Month"), validate_choice=True, invalid_choice_message=CHOOSE_ONE)
    quarter = SelectField(_l("Quarter"), validate_choice=True, invalid_choice_message=CHOOSE_ONE)
    year = SelectField(_l("Year"), validate_choice=True, invalid_choice_message=CHOOSE_ONE)
    start = DateField(_l("First day"))
    end = DateField(_l("Last day"))

    # The periods offered, by kind and value: set by ``report_form``.
    offered: dict[RangeKind, dict[str, Period]]

    def chosen_kind(self) -> RangeKind | None:
        try:
            return RangeKind(self.kind.data)
        except ValueError:
            return None

    def validate(self, extra_validators=None) -> bool:
        """The kind, and then only the fields that kind reads: the others' values come with
        every sent form (they are on the page) and mean nothing here."""
        self._errors = None
        if not self.kind.validate(self):
            return False
        kind = self.chosen_kind()
        if kind is None:
            self.kind.errors = [*self.kind.errors, _l("Please choose one.")]
            return False
        if kind is not RangeKind.CUSTOM:
            return self[kind.value].validate(self)
        return self._validate_dates()

    def _validate_dates(self) -> bool:
        valid = True
        for field, missing in (
            (self.start, _l("Please enter the first day of the report.")),
            (self.end, _l("Please enter the last day of the report.")),
        ):
            if not "".join(field.raw_data or ()).strip():
                field.errors = [missing]
                valid = False
            elif not field.validate(self):
                valid = False
            else:
                try:
                    _in_years(field)
                except ValidationError as problem:
                    field.errors = [*field.errors, str(problem)]
                    valid = False
        if not valid:
            return False
        start, end = self.start.data, self.end.data
        if end < start:
            self.end.errors = [_l("The last day must be on or after the first day.")]
            return False
        if end >= start + LONGEST:
            self.end.errors = [
                _l("A report covers at most 10 years. Please choose a shorter range.")
            ]
            return False
        return True

    def period(self) -> Period:
        """The period chosen; call after ``validate`` said yes."""
        kind = self.chosen_kind()
        if kind is None:
            raise ValueError("no period chosen")
        if kind is RangeKind.CUSTOM:
            return Period(self.start.data, self.end.data, RangeKind.CUSTOM)
        return self.offered[kind][self[kind.value].data]

    def period_args(self) -> dict[str, str]:
        """The chosen period as the page's query arguments (for the download links)."""
        period = self.period()
        if period.kind is RangeKind.CUSTOM:
            return {
                "kind": period.kind.value,
                "start": period.start.isoformat(),
                "end": period.end.isoformat(),
            }
        return {"kind": period.kind.value, period.kind.value: period_value(period)}


def report_form(args: MultiDict, today: date) -> PeriodForm:
    """The form read from the page's query arguments, with the periods offered as of
    ``today``; anything not given is the default: last quarter."""
    offered = {
        kind: {period_value(period): period for period in recent(kind, today)} for kind in RECENT
    }
    defaults = {kind.value: next(iter(periods)) for kind, periods in offered.items()}
    form = PeriodForm(args, data=defaults)
    form.offered = offered
    for kind, periods in offered.items():
        form[kind.value].choices = options((value, period_label(p)) for value, p in periods.items())
    return form
