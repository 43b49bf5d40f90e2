"""The booking's intake in short steps (about you, a parent or guardian for a minor, the tattoo
and health, check and book), for a seat and for the standby and waiting lists alike.

Stateless: the answers of the other steps travel in the POST body as hidden inputs, never in
the URL nor in the session cookie (health answers must not sit in a readable cookie) nor on
the server. Each POST names the step it showed (``step``) and where to go (``go``: ``next``,
``back``, a step to change, or ``book``). Going forward checks that step's answers alone;
going back checks nothing and loses nothing; the last step checks everything again (the
server is the truth) and the view books in one call. A POST without ``step`` is the whole
form at once (scripts, tests, the race harness) and is booked the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from flask import make_response, render_template, request
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectMultipleField
from wtforms.csrf.core import CSRFTokenField

from clinic import booking
from clinic.rules.eligibility import Eligibility, age_on, needs_guardian
from clinic.rules.policy import ClinicRules
from clinic.web.forms import BirthDateField, IntakeForm
from clinic.web.refusals import age_message

ABOUT, GUARDIAN, TATTOO, CHECK = "about", "guardian", "tattoo", "check"
STEPS = (ABOUT, GUARDIAN, TATTOO, CHECK)
FIELDS = {
    ABOUT: (
        "first_name",
        "last_name",
        "preferred_name",
        "date_of_birth",
        "phone",
        "email",
        "language",
        "contact_by",
    ),
    GUARDIAN: IntakeForm.GUARDIAN_FIELDS,
    TATTOO: (
        "tattoo_count",
        "tattoo_locations",
        "tattoo_size",
        "tattoo_colors",
        "tattoo_kind",
        "tattoo_age_years",
        "previous_removal",
        "tattoo_notes",
        "health_any",
        "screening",
    ),
}
# The last step: the time (or the times that suit, for standby) where the form has them.
CHECK_FIELDS = ("slot_time", "earliest", "latest", "referral_source", "consent")
TITLES = {
    "time": _l("Time"),
    ABOUT: _l("About you"),
    GUARDIAN: _l("Parent or guardian"),
    TATTOO: _l("Your tattoo and health"),
    CHECK: _l("Check and book"),
}
REFUSED_AGES = (Eligibility.TOO_YOUNG, Eligibility.TOO_OLD)


def posted_move() -> str:
    """What the POST asks for: ``book``, ``next``, ``back`` or the step to change. A POST
    without a step is the whole form at once, and books."""
    if not (request.method == "POST" and request.form.get("step") in STEPS):
        return "book"
    go = request.form.get("go") or "next"
    if request.form.get("step") == CHECK and go not in ("back", *STEPS):
        return "book"
    return go if go in ("next", "back", "book", *STEPS) else "next"


def only_moving() -> bool:
    """A POST that goes from step to step without booking: it books nothing, so the booking
    limits neither count it nor look it up (each look-up a round trip to the shared store)."""
    return request.method == "POST" and posted_move() != "book"


@dataclass
class Journey:
    """One visitor's way through the steps: the form, the day the age rule is applied to,
    and the page template. ``with_time``: the seat's time was chosen on the page before
    (step 1 of the indicator)."""

    form: IntakeForm
    day: date
    rules: ClinicRules
    template: str
    page: dict = field(default_factory=dict)
    with_time: bool = True
    finish_label: str = ""
    check_title: str = ""
    today: date | None = None
    step: str = ABOUT
    returning: bool = False
    refusal: str | None = None
    refusal_message: str | None = None

    def __post_init__(self) -> None:
        self.form.health_answer_required = self.stepped
        self.form.date_of_birth.not_after = self.today

    # --- What was posted

    @property
    def stepped(self) -> bool:
        """Whether the POST came from a step page (else: the whole form at once)."""
        return request.method == "POST" and request.form.get("step") in STEPS

    def move(self) -> str:
        """``book``, ``next``, ``back`` or the step to change."""
        return posted_move()

    # --- The steps

    def minor(self) -> bool:
        birth = self.form.date_of_birth.parsed
        if birth is None or birth > self.day or self.form.date_of_birth.problem:
            return False
        return needs_guardian(birth, self.day, self.rules.ages)

    def order(self) -> tuple[str, ...]:
        return tuple(s for s in STEPS if s != GUARDIAN or self.minor())

    def fields(self, step: str) -> tuple[str, ...]:
        names = CHECK_FIELDS if step == CHECK else FIELDS[step]
        return tuple(name for name in names if name in self.form)

    def navigate(self):
        """A step's Continue, Back or Change: the next page, or this one with its errors."""
        here = request.form.get("step")
        go = self.move()
        order = self.order()
        if here not in order:
            here = ABOUT
        returning = request.form.get("return_to") == CHECK
        if go == "back":
            at = order.index(here)
            return self.render(order[max(at - 1, 0)], returning=returning)
        if go in STEPS:
            # "Change" on the check page: that step, then straight back to the check page.
            return self.render(go if go in order else ABOUT, returning=here == CHECK)
        # Continue: this step's answers alone (and the form's token, on every step).
        token = ("csrf_token",) if "csrf_token" in self.form else ()
        valid = self.form.validate_only(self.fields(here) + token)
        if here == GUARDIAN:
            valid = self.form.require_guardian() and valid
        if not valid:
            return self.render(here, 422, returning=returning)
        if here == ABOUT:
            refused = self.check_age()
            if refused is not None:
                return refused
            if not self.form.date_of_birth.errors and not self.minor():
                self.forget_guardian()
            order = self.order()
        if returning:
            # Back to the check page, through the guardian's step if it is now needed.
            if here == ABOUT and self.minor() and not all(map(self.form.text, GUARDIAN_NAMES)):
                return self.render(GUARDIAN, returning=True)
            return self.render(CHECK)
        return self.render(order[order.index(here) + 1])

    def check_age(self):
        """The age rule, as soon as the date of birth is known: a refusal is its own page;
        a date of birth after the day is a typing mistake, shown on the field."""
        birth = self.form.date_of_birth.parsed
        if birth is None or self.form.date_of_birth.errors:
            return None
        try:
            booking.check_youth(birth, self.day, True, self.rules)
        except booking.NotEligible as error:
            message = age_message(self.form, error, self.day, self.rules)
            if error.outcome in REFUSED_AGES:
                return self.refuse(error.outcome, message)
            self.form.date_of_birth.errors = [*self.form.date_of_birth.errors, message]
            return self.render(ABOUT, 422)
        return None

    def forget_guardian(self) -> None:
        """An adult's form carries no parent's details left from a mistyped birth date."""
        for name in GUARDIAN_NAMES:
            self.form[name].data = ""
            self.form[name].raw_data = [""]

    # --- The final check

    def check_everything(self) -> bool:
        """Every answer again, before booking. Fills in the errors; True when none."""
        valid = self.form.validate()
        if self.minor() and not self.form.date_of_birth.errors:
            valid = self.form.require_guardian() and valid
        return valid

    def first_step_with_errors(self) -> str:
        for step in self.order():
            if step != CHECK and any(self.form[n].errors for n in self.fields(step)):
                return step
        return CHECK

    def refuse(self, outcome: Eligibility, message: str):
        self.refusal, self.refusal_message = outcome.value, message
        return self.render(ABOUT, 422)

    def refused_by_age(self):
        """The refusal page, if the final check found the age rule refused the youth."""
        outcome = getattr(self.form, "age_refusal", None)
        if outcome in ("too_young", "too_old"):
            return self.refuse(Eligibility(outcome), self.form.age_message)
        return None

    def render_errors(self, status: int = 422):
        return self.render(self.first_step_with_errors(), status)

    # --- The page

    def render(self, step: str, status: int = 200, returning: bool = False):
        self.step, self.returning = step, returning and step != CHECK
        body = render_template(self.template, form=self.form, journey=self, **self.page)
        # Personal answers: never kept in a shared device's cache.
        response = make_response(body, status)
        response.headers["Cache-Control"] = "no-store"
        return response

    def indicator(self) -> list[tuple[str, str, bool, bool]]:
        """The step indicator: (key, title, done, current). The guardian's step is part of
        "About you" in it, so the count does not change under the youth's feet."""
        keys = (["time"] if self.with_time else []) + [ABOUT, TATTOO, CHECK]
        shown = ABOUT if self.step == GUARDIAN else self.step
        at = keys.index(shown)
        titles = {**TITLES, CHECK: self.check_title or TITLES[CHECK]}
        return [(key, titles[key], n < at, n == at) for n, key in enumerate(keys)]

    def number(self) -> tuple[int, int]:
        items = self.indicator()
        return next(n for n, item in enumerate(items, 1) if item[3]), len(items)

    def title(self) -> str:
        if self.step == CHECK:
            return str(self.check_title or TITLES[CHECK])
        return str(TITLES[self.step])

    def hidden(self) -> Iterator[tuple[str, str]]:
        """The answers of the other steps, as (name, value) hidden inputs."""
        shown = set(self.fields(self.step)) if not self.refusal else set()
        for f in self.form:
            if f.name in shown or isinstance(f, HiddenField | CSRFTokenField):
                continue
            if isinstance(f, BirthDateField):
                for part, value in f.parts.items():
                    yield f"{f.name}-{part}", value
            elif isinstance(f, BooleanField):
                if f.data:
                    yield f.name, "y"
            elif isinstance(f, SelectMultipleField):
                for value in f.data or ():
                    yield f.name, str(value)
            elif f.raw_data:
                yield f.name, str(f.raw_data[0])
            elif f.data is not None:
                yield f.name, str(f.data)

    def birth_in_words(self) -> str:
        """ "15 March 2011 - you will be 15 on the day", in the page's language."""
        birth = self.form.date_of_birth.parsed
        if birth is None or birth > self.day:
            return ""
        words = format_date(birth, "long")
        age = age_on(birth, self.day)
        if self.today is not None and self.day == self.today:
            return _("%(date)s – you are %(age)d", date=words, age=age)
        return _("%(date)s – you will be %(age)d on the day", date=words, age=age)

    def readback(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """The check page's sections: (step to change, title, [(question, answer)])."""
        f = self.form
        name = " ".join(filter(None, (f.text("first_name"), f.text("last_name"))))
        about = [
            (_("Name"), name),
            (str(f.preferred_name.label.text), f.text("preferred_name") or "–"),
            (_("Date of birth"), self.birth_in_words()),
            (str(f.phone.label.text), f.text("phone") or "–"),
            (_("Email"), f.text("email") or "–"),
            (str(f.language.label.text), chosen(f.language)),
            (str(f.contact_by.label.text), chosen(f.contact_by)),
        ]
        sections = [(ABOUT, str(TITLES[ABOUT]), about)]
        if self.minor():
            sections.append(
                (
                    GUARDIAN,
                    str(TITLES[GUARDIAN]),
                    [(str(f[n].label.text), chosen(f[n])) for n in GUARDIAN_NAMES],
                )
            )
        health = (
            _("None") if f.health_any.data == "no" or not f.screening.data else chosen(f.screening)
        )
        tattoo = [
            (str(f.tattoo_count.label.text), str(f.tattoo_count.data or "")),
            (str(f.tattoo_locations.label.text), chosen(f.tattoo_locations)),
            (str(f.tattoo_size.label.text), chosen(f.tattoo_size)),
            (str(f.tattoo_colors.label.text), chosen(f.tattoo_colors)),
            (str(f.tattoo_kind.label.text), chosen(f.tattoo_kind)),
            (_("How many years old"), str(f.tattoo_age_years.data or "–")),
            (_("Laser removal before"), _("Yes") if f.previous_removal.data else _("No")),
            (_("Anything else"), f.text("tattoo_notes") or "–"),
            (_("Health questions"), health),
        ]
        sections.append((TATTOO, str(TITLES[TATTOO]), tattoo))
        return sections

    def guardian_reason(self) -> str:
        return _(
            "You will be under %(age)d on the day of your visit, so a parent or guardian must "
            "agree to the treatment, and come with you or be reachable by phone.",
            age=self.rules.ages.adult,
        )

    def locale(self) -> str:
        return str(get_locale())


GUARDIAN_NAMES = IntakeForm.GUARDIAN_FIELDS


def posted_step() -> str:
    """The step the visitor was on (the check page for a form sent in one go)."""
    step = request.form.get("step")
    return step if step in STEPS else CHECK


def chosen(f) -> str:
    """A choice's answer as its label (several joined), or the text typed."""
    labels = (
        {str(value): str(label) for value, label, *_ in f.iter_choices()}
        if hasattr(f, "iter_choices")
        else {}
    )
    if isinstance(f.data, list | tuple):
        return ", ".join(labels.get(str(v), str(v)) for v in f.data) or "–"
    if f.data in (None, ""):
        return "–"
    return labels.get(str(f.data), str(f.data))
