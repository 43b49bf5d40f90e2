"""What each message to a youth says, in the youth's language: subject, e-mail, text message.

A message is written when it is sent (``clinic.messaging.worker``), in the language the youth
chose on their intake, whoever caused it (a staff member working in English cancels in Spanish
for a youth who chose Spanish). Every string goes through the app's Flask-Babel catalogues. Times
are the clinic's wall-clock times, always with the day of the week.

Texts stay neutral on purpose: a phone's lock screen or a shared inbox shows them, so they
name the clinic and the time but never the treatment or the youth's full name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from flask import render_template
from flask_babel import force_locale, gettext

from clinic import settings
from clinic.formats import clock, long_day, short_day
from clinic.rules.messages import Kind
from clinic.settings import ClinicInfo


@dataclass(frozen=True)
class Facts:
    """What a message is about, loaded by the outbox when it is sent."""

    code: str
    day: date
    start: time
    name: str  # the name the youth goes by
    minor: bool
    old_start: time | None = None  # a moved appointment's earlier time
    next_session_from: date | None = None  # after a treatment: the earliest next session
    requested: datetime | None = None  # a declined request's day and time (clinic time)


@dataclass(frozen=True)
class Letter:
    """One message, written in one language."""

    subject: str
    greeting: str
    paragraphs: list[str]
    sms: str
    bring: list[str] = field(default_factory=list)
    aftercare: list[str] = field(default_factory=list)
    calendar: bool = False  # attach the appointment as an .ics file
    cancelled: bool = False  # the .ics, if any, cancels the event


@dataclass(frozen=True)
class Written:
    """A letter with its e-mail bodies rendered, ready to send."""

    letter: Letter
    text: str
    html: str
    calendar_title: str


def compose(kind: Kind, facts: Facts, language: str) -> Written:
    """The message ``kind`` about ``facts``, written in ``language``."""
    with force_locale(language):
        letter = _WRITERS[kind](facts, settings.clinic_info())
        return Written(
            letter,
            text=render_template("messages/email.txt", letter=letter),
            html=render_template("messages/email.html", letter=letter, language=language),
            # Neutral: a calendar is seen by others.
            calendar_title=gettext("Clinic appointment (%(code)s)", code=facts.code),
        )


def _when(facts: Facts) -> str:
    """'Tuesday, November 24, 2026 at 4:20 PM' / 'martes, 24 de noviembre de 2026 a las 16:20'."""
    return gettext("%(day)s at %(time)s", day=long_day(facts.day), time=clock(facts.start))


def _when_short(facts: Facts) -> str:
    """'Tue, Nov 24, 4:20 PM': short enough for a text, still with the weekday."""
    return f"{short_day(facts.day)}, {clock(facts.start)}"


def _sms_fields(facts: Facts, clinic: ClinicInfo) -> dict[str, str]:
    """What texts fill in: signed with the neutral name, the short time, the code, the phone
    (a text uses those it names)."""
    return {
        "clinic": clinic.sms_name,
        "when": _when_short(facts),
        "code": facts.code,
        "phone": clinic.phone,
    }


def _greeting(facts: Facts) -> str:
    return gettext("Hi %(name)s,", name=facts.name)


def _bring(facts: Facts) -> list[str]:
    items = [
        gettext("Your confirmation code."),
        gettext(
            "A photo ID if you have one (a school ID is fine). We never ask about "
            "immigration status."
        ),
    ]
    if facts.minor:
        items.append(
            gettext(
                "Your parent or guardian, or their phone number so we can reach them: they "
                "must agree before your treatment."
            )
        )
    items.append(
        gettext(
            "Clean skin over the tattoo: no lotion, and no tanning or sunburn for two weeks before."
        )
    )
    return items


def _where(clinic: ClinicInfo) -> str:
    return gettext("Where: %(name)s, %(address)s.", name=clinic.name, address=clinic.address)


def _call_us(clinic: ClinicInfo) -> str:
    return gettext(
        "If you cannot come, call us at %(phone)s so someone else can have your seat.",
        phone=clinic.phone,
    )


def _confirmation(facts: Facts, clinic: ClinicInfo) -> Letter:
    return Letter(
        subject=gettext("You are booked: %(when)s", when=_when_short(facts)),
        greeting=_greeting(facts),
        paragraphs=[
            gettext("You are booked for %(when)s.", when=_when(facts)),
            gettext("Your confirmation code is %(code)s.", code=facts.code),
            _where(clinic),
            gettext("Please come 10 minutes early."),
            _call_us(clinic),
        ],
        bring=_bring(facts),
        calendar=True,
        sms=gettext(
            "%(clinic)s: you are booked for %(when)s. Code %(code)s. Bring an ID. "
            "Can't come? Call %(phone)s.",
            **_sms_fields(facts, clinic),
        ),
    )


def _restored(facts: Facts, clinic: ClinicInfo) -> Letter:
    letter = _confirmation(facts, clinic)
    return Letter(
        subject=gettext("Your appointment is back on: %(when)s", when=_when_short(facts)),
        greeting=letter.greeting,
        paragraphs=[
            gettext(
                "We cancelled your appointment by mistake, sorry. It is booked again for %(when)s.",
                when=_when(facts),
            ),
            *letter.paragraphs[1:],
        ],
        bring=letter.bring,
        calendar=True,
        sms=gettext(
            "%(clinic)s: sorry, we cancelled by mistake. You are booked again for %(when)s. "
            "Code %(code)s.",
            **_sms_fields(facts, clinic),
        ),
    )


def _cancelled(facts: Facts, clinic: ClinicInfo, by_clinic: bool) -> Letter:
    if by_clinic:
        subject = gettext("We had to cancel your appointment: %(when)s", when=_when_short(facts))
        lead = gettext(
            "We are sorry: the clinic cannot open as planned, so your appointment for "
            "%(when)s (code %(code)s) is cancelled.",
            when=_when(facts),
            code=facts.code,
        )
        sms = gettext(
            "%(clinic)s: sorry, we had to cancel your appointment for %(when)s (code "
            "%(code)s). Book again online or call %(phone)s.",
            **_sms_fields(facts, clinic),
        )
    else:
        subject = gettext("Your appointment is cancelled: %(when)s", when=_when_short(facts))
        lead = gettext(
            "Your appointment for %(when)s (code %(code)s) is cancelled.",
            when=_when(facts),
            code=facts.code,
        )
        sms = gettext(
            "%(clinic)s: your appointment for %(when)s (code %(code)s) is cancelled. "
            "Book again online or call %(phone)s.",
            **_sms_fields(facts, clinic),
        )
    return Letter(
        subject=subject,
        greeting=_greeting(facts),
        paragraphs=[
            lead,
            gettext(
                "You are welcome to book another day online, or call us at %(phone)s.",
                phone=clinic.phone,
            ),
        ],
        calendar=True,
        cancelled=True,
        sms=sms,
    )


def _moved(facts: Facts, clinic: ClinicInfo) -> Letter:
    old = clock(facts.old_start) if facts.old_start else ""
    return Letter(
        subject=gettext("New time for your appointment: %(when)s", when=_when_short(facts)),
        greeting=_greeting(facts),
        paragraphs=[
            gettext(
                "We had to change the clinic's hours. Your appointment (code %(code)s) is "
                "now %(when)s instead of %(old)s.",
                code=facts.code,
                when=_when(facts),
                old=old,
            ),
            _where(clinic),
            _call_us(clinic),
        ],
        bring=_bring(facts),
        calendar=True,
        sms=gettext(
            "%(clinic)s: new time for your appointment: %(when)s (was %(old)s). Code "
            "%(code)s. Can't come? Call %(phone)s.",
            old=old,
            **_sms_fields(facts, clinic),
        ),
    )


def _reminder(facts: Facts, clinic: ClinicInfo, today: bool) -> Letter:
    if today:
        subject = gettext("Today at %(time)s: your appointment", time=clock(facts.start))
        lead = gettext("See you today, %(when)s.", when=_when(facts))
        sms = gettext(
            "%(clinic)s: see you today, %(when)s. Code %(code)s. %(address)s. Can't come? "
            "Call %(phone)s.",
            address=clinic.address,
            **_sms_fields(facts, clinic),
        )
    else:
        subject = gettext("Reminder: your appointment %(when)s", when=_when_short(facts))
        lead = gettext("A reminder: your appointment is %(when)s.", when=_when(facts))
        sms = gettext(
            "%(clinic)s reminder: %(when)s. Code %(code)s. Bring an ID. Can't come? Call "
            "%(phone)s.",
            **_sms_fields(facts, clinic),
        )
    return Letter(
        subject=subject,
        greeting=_greeting(facts),
        paragraphs=[
            lead,
            gettext("Your confirmation code is %(code)s.", code=facts.code),
            _where(clinic),
            _call_us(clinic),
        ],
        bring=_bring(facts),
        sms=sms,
    )


def _aftercare(facts: Facts, clinic: ClinicInfo) -> Letter:
    paragraphs = [gettext("Thank you for coming today. Here is how to look after your skin.")]
    if facts.next_session_from is not None:
        paragraphs.append(
            gettext(
                "Your skin needs time to heal: you can book your next session for "
                "%(day)s or later.",
                day=long_day(facts.next_session_from),
            )
        )
    paragraphs.append(
        gettext(
            "Call us at %(phone)s if the area gets very painful, hot or swollen, oozes pus, "
            "or you get a fever.",
            phone=clinic.phone,
        )
    )
    return Letter(
        subject=gettext("Looking after your skin after today's session"),
        greeting=_greeting(facts),
        paragraphs=paragraphs,
        aftercare=[
            gettext("Keep the area clean and dry for the first day."),
            gettext(
                "After that, wash it gently with mild soap and water and pat it dry; put on a "
                "thin layer of healing ointment and a clean bandage for a few days."
            ),
            gettext(
                "Redness, swelling and blisters are normal and heal in one to two weeks. "
                "Do not pop blisters or pick scabs."
            ),
            gettext(
                "Keep it out of the sun, pools and hot tubs until it has healed, and use "
                "sunscreen on it after that."
            ),
        ],
        sms=gettext(
            "%(clinic)s: thanks for coming. Keep the area clean, don't pick or pop "
            "blisters, stay out of the sun. Problems? Call %(phone)s.",
            **_sms_fields(facts, clinic),
        ),
    )


def _asked_for(facts: Facts) -> str:
    """The day and time a declined request asked for."""
    asked = facts.requested or datetime.combine(facts.day, facts.start)
    return gettext("%(day)s at %(time)s", day=long_day(asked.date()), time=clock(asked.time()))


def _not_you(clinic: ClinicInfo) -> str:
    return gettext(
        "If it was not you, you do not need to do anything: nothing was booked, and nobody "
        "was told about your appointments. Questions? Call us at %(phone)s.",
        phone=clinic.phone,
    )


def _already_booked(facts: Facts, clinic: ClinicInfo) -> Letter:
    """Someone asked online for a visit in the youth's name; they already have one."""
    return Letter(
        subject=gettext("You already have an appointment: %(when)s", when=_when_short(facts)),
        greeting=_greeting(facts),
        paragraphs=[
            gettext(
                "We received a request to book %(asked)s with your name and date of birth. "
                "We did not book it, because you already have an appointment: %(when)s "
                "(code %(code)s). You can have one appointment ahead at a time.",
                asked=_asked_for(facts),
                when=_when(facts),
                code=facts.code,
            ),
            gettext(
                "To change your appointment to another time, call us at %(phone)s.",
                phone=clinic.phone,
            ),
            _not_you(clinic),
        ],
        sms=gettext(
            "%(clinic)s: a request to book in your name was not booked: you already have "
            "%(when)s, code %(code)s. To change it call %(phone)s.",
            **_sms_fields(facts, clinic),
        ),
    )


def _too_soon(facts: Facts, clinic: ClinicInfo) -> Letter:
    """Someone asked online for a visit too soon after the youth's last treatment."""
    earliest = long_day(facts.next_session_from) if facts.next_session_from else ""
    return Letter(
        subject=gettext("About your request for %(asked)s", asked=_asked_for(facts)),
        greeting=_greeting(facts),
        paragraphs=[
            gettext(
                "We received a request to book %(asked)s with your name and date of birth. "
                "We did not book it: your skin needs time to heal between sessions, so your "
                "next session can be on %(day)s or later.",
                asked=_asked_for(facts),
                day=earliest,
            ),
            gettext("Please book a clinic day from %(day)s on.", day=earliest),
            _not_you(clinic),
        ],
        sms=gettext(
            "%(clinic)s: a request to book in your name was not booked: your skin needs "
            "time to heal. Book a day from %(day)s on. Questions? Call %(phone)s.",
            day=earliest,
            **_sms_fields(facts, clinic),
        ),
    )


_WRITERS = {
    Kind.CONFIRMATION: _confirmation,
    Kind.RESTORED: _restored,
    Kind.CANCELLED: lambda facts, clinic: _cancelled(facts, clinic, by_clinic=False),
    Kind.CLINIC_CANCELLED: lambda facts, clinic: _cancelled(facts, clinic, by_clinic=True),
    Kind.MOVED: _moved,
    Kind.REMINDER_EARLY: lambda facts, clinic: _reminder(facts, clinic, today=False),
    Kind.REMINDER_SAME_DAY: lambda facts, clinic: _reminder(facts, clinic, today=True),
    Kind.AFTERCARE: _aftercare,
    Kind.ALREADY_BOOKED: _already_booked,
    Kind.TOO_SOON: _too_soon,
}
