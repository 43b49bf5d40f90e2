"""The wording of a refused booking, next to the field it concerns: one place for the online
intake and the desk's walk-in form (the youth may be reading either), so the two never say
different things."""

from __future__ import annotations

import secrets
from datetime import date

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from clinic import booking
from clinic.formats import long_day
from clinic.rules.eligibility import Eligibility, age_on, birthday_at_age
from clinic.web.forms import CHOOSE, REQUIRED, IntakeForm

SLOT_MESSAGES = {
    "full": _l("Sorry, this time just filled up. Please choose another time."),
    "closed": _l("Booking for this time has closed. Please choose a later time."),
    "too_far_ahead": _l("This time is not open for booking yet."),
    "not_offered": _l("Please choose one of the times listed."),
    "blocked": _l("This time is no longer offered. Please choose another time."),
}


def explain_refusal(form: IntakeForm, error: booking.BookingError, day: date, rules) -> None:
    """Put a refused booking's reason next to the field it concerns."""
    if isinstance(error, booking.SlotUnavailable):
        form.slot_time.errors = [*form.slot_time.errors, SLOT_MESSAGES[error.reason]]
    elif isinstance(error, booking.NotEligible):
        message = age_message(form, error, day, rules)
        form.date_of_birth.errors = [*form.date_of_birth.errors, message]
        form.age_refusal = error.outcome.value
        form.age_message = message
    elif isinstance(error, booking.GuardianRequired):
        message = _(
            "You will be under %(age)d on %(day)s, so a parent or guardian must agree. "
            "Please give their details.",
            age=rules.ages.adult,
            day=long_day(day),
        )
        # Said once, at the first missing answer; the others just ask for theirs.
        said = False
        for name in IntakeForm.GUARDIAN_FIELDS:
            field = getattr(form, name)
            if not form.text(name) and not field.errors:
                short = CHOOSE if name == "guardian_relationship" else REQUIRED
                field.errors = [*field.errors, short if said else message]
                said = True
    elif isinstance(error, booking.SubmissionCancelled):
        form.submission_key.data = secrets.token_urlsafe(24)
        form.form_errors.append(
            _(
                "The booking made with this form was cancelled. To book again, check the "
                "time and press Book."
            )
        )
    elif isinstance(error, booking.SubmissionReused):
        form.submission_key.data = secrets.token_urlsafe(24)
        form.form_errors.append(
            _(
                "This form was already used to book for someone else. Please check the "
                "answers and press Book again."
            )
        )
    elif isinstance(error, booking.TooSoon):
        # Without the date: it would tell whoever knows a name and birth date when that youth
        # was last treated.
        form.form_errors.append(
            _(
                "The skin needs at least %(weeks)d weeks to heal between sessions, and this "
                "date is too soon after the last one. Please choose a later day, or call the "
                "clinic at %(phone)s.",
                weeks=rules.follow_up.days // 7,
                phone=current_app.config["CLINIC_PHONE"],
            )
        )
    elif isinstance(error, booking.AlreadyBooked):
        # Deliberately without the date: anyone who knows a youth's name and date of birth
        # must not learn when that youth will be at the clinic.
        form.form_errors.append(
            _(
                "There is already an upcoming appointment for this name and date of birth. "
                "To change it, please call the clinic at %(phone)s.",
                phone=current_app.config["CLINIC_PHONE"],
            )
        )


def age_message(form: IntakeForm, error: booking.NotEligible, day: date, rules) -> str:
    birth = form.date_of_birth.parsed
    if error.outcome is Eligibility.NOT_BORN:
        return _("This date of birth is after the appointment. Please check the year.")
    if error.outcome is Eligibility.TOO_YOUNG:
        turns = birthday_at_age(birth, rules.ages.minimum)
        return _(
            "The clinic sees young people from age %(min)d. You turn %(min)d on %(date)s: "
            "you are welcome to book a clinic day from then on.",
            min=rules.ages.minimum,
            date=long_day(turns),
        )
    return _(
        "This free clinic is for young people up to age %(max)d on the day of the "
        "appointment, and you will be %(age)d on %(day)s.",
        max=rules.ages.maximum,
        age=age_on(birth, day),
        day=long_day(day),
    )
