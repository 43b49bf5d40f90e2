"""What each message to a youth says, in the youth's language: subject, e-mail, text message.

A message is written when it is sent (``clinic.messaging.worker``), in the language the youth
chose on their intake, whoever caused it (a staff member working in English cancels in Spanish
for a youth who chose Spanish). Every string goes through the app's Flask-Babel catalogues. Times
are the clinic's wall-clock times, always with the day of the week.

Texts stay neutral on purpose: a phone's lock screen or a shared inbox shows them, so they
name the clinic and the time but never the treatment or the youth's full name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time

from flask import render_template
from flask_babel import force_locale, gettext
from markupsafe import Markup, escape

from clinic import settings
from clinic.formats import clock, long_day, merge_periods, short_day
from clinic.rules.eligibility import normalize_phone
from clinic.rules.messages import Kind
from clinic.settings import ClinicInfo


@dataclass(frozen=True)
class Facts:
    """What a message is about, loaded by the outbox when it is sent."""

    code: str  # an appointment's confirmation code ("" for a list entry)
    day: date | None  # the visit's or the seat's day; a standby list's day; None: waiting list
    start: time | None  # None: a standby list's day, or the waiting list
    name: str  # the name the youth goes by
    minor: bool
    old_start: time | None = None  # a moved appointment's earlier time
    next_session_from: date | None = None  # after a treatment: the earliest next session
    requested: datetime | None = None  # a declined request's day and time (clinic time)
    joining: str | None = None  # a declined request to join a list: "standby" or "program"
    # The youth's own link, minted for this message (every message carries one).
    link: str = ""
    old_day: date | None = None  # a rescheduled appointment's earlier day (with old_start)
    treated: bool = False  # the visit is done: its link books the next session
    deadline: datetime | None = None  # an offered seat is held until then (aware)
    earliest: time | None = None  # a standby entry's time range, if it gave one
    latest: time | None = None


@dataclass(frozen=True)
class Rich:
    """A paragraph with a link or a phone number in it: plain in the text body, a tappable
    ``<a>`` in the HTML one. ``str()`` gives the plain text."""

    text: str
    html: Markup

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Letter:
    """One message, written in one language. A paragraph is plain text, or ``Rich`` when it
    holds a link or the phone number."""

    subject: str
    greeting: str
    paragraphs: list[str | Rich]
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
        letter = _merge_periods(_WRITERS[kind](facts, settings.clinic_info()))
        return Written(
            letter,
            text=render_template("messages/email.txt", letter=letter),
            html=render_template(
                "messages/email.html",
                letter=letter,
                language=language,
                phone=_phone(settings.clinic_info()),
            ),
            calendar_title=calendar_title(facts.code),
        )


def _merge_periods(letter: Letter) -> Letter:
    """Every line with one period where a time ends its sentence ('4:20 p.m.', never
    '4:20 p.m..'): the catalogue's sentences end with their own period, written for '4:20 PM'."""

    def tidy(paragraph: str | Rich) -> str | Rich:
        if isinstance(paragraph, Rich):
            # Safe already; merge_periods only drops a period, so it stays safe.
            html = Markup(merge_periods(str(paragraph.html)))  # nosec B704
            return Rich(merge_periods(paragraph.text), html)
        return merge_periods(paragraph)

    return replace(
        letter,
        subject=merge_periods(letter.subject),
        greeting=merge_periods(letter.greeting),
        paragraphs=[tidy(paragraph) for paragraph in letter.paragraphs],
        sms=merge_periods(letter.sms),
        bring=[merge_periods(line) for line in letter.bring],
        aftercare=[merge_periods(line) for line in letter.aftercare],
    )


def calendar_title(code: str) -> str:
    """The calendar event's title, in the current language. Neutral: a calendar is seen by
    others."""
    return gettext("Clinic appointment (%(code)s)", code=code)


def _when(facts: Facts) -> str:
    """'Tuesday, November 24, 2026 at 4:20 PM' / 'martes, 24 de noviembre de 2026 a las 16:20'."""
    if facts.day is None:
        return ""
    if facts.start is None:
        return long_day(facts.day)
    return gettext("%(day)s at %(time)s", day=long_day(facts.day), time=clock(facts.start))


def _when_short(facts: Facts) -> str:
    """'Tue, Nov 24, 4:20 PM': short enough for a text, still with the weekday."""
    if facts.day is None:
        return ""
    if facts.start is None:
        return short_day(facts.day)
    return f"{short_day(facts.day)}, {clock(facts.start)}"


def _short(day: date, at: time) -> str:
    return f"{short_day(day)}, {clock(at)}"


def _sms_fields(facts: Facts, clinic: ClinicInfo) -> dict[str, str]:
    """What texts fill in: signed with the neutral name, the short time, the code, the phone
    and the link (a text uses those it names; the link goes last, so that no punctuation
    sticks to it)."""
    return {
        "clinic": clinic.sms_name,
        "when": _when_short(facts),
        "code": facts.code,
        "phone": clinic.phone,
        "link": facts.link,
    }


# --- Links and the phone: tappable in HTML ------------------------------------------------


@dataclass(frozen=True)
class _Anchor:
    label: str  # what the HTML shows
    href: str
    text: str  # what the plain text shows


def _phone(clinic: ClinicInfo) -> _Anchor:
    """The clinic's number, a tap-to-call ``tel:`` link in HTML."""
    number = normalize_phone(clinic.phone) or "".join(
        ch for ch in clinic.phone if ch.isdigit() or ch == "+"
    )
    return _Anchor(label=clinic.phone, href=f"tel:{number}", text=clinic.phone)


def _rich(template: str, **values: str | _Anchor) -> Rich:
    """``template`` (already translated, with ``%(name)s`` fields) filled in twice: as plain
    text, and as HTML where every ``_Anchor`` is a link and everything else is escaped."""
    text = template % {
        key: value.text if isinstance(value, _Anchor) else value for key, value in values.items()
    }
    # escape() makes the template Markup, whose % escapes every value that is not Markup.
    html = escape(template) % {
        key: Markup('<a href="{}">{}</a>').format(value.href, value.label)
        if isinstance(value, _Anchor)
        else value
        for key, value in values.items()
    }
    return Rich(text, html)


def _link(label: str, facts: Facts, note: str = "") -> Rich:
    """The youth's link on a line of its own, after what it does: 'Change or cancel: <url>'
    (in HTML, the words are the link). ``note`` follows it: '(held until ...)'."""
    text = f"{label}: {facts.link}" + (f" {note}" if note else "")
    html = Markup('<a href="{}"><strong>{}</strong></a>').format(facts.link, label)
    if note:
        html += Markup(" ") + note  # escaped: it is not Markup
    return Rich(text, html)


def _manage(facts: Facts) -> Rich:
    return _link(gettext("Change or cancel"), facts)


def _please_cancel(clinic: ClinicInfo) -> Rich:
    """Link first, phone second."""
    return _rich(
        gettext(
            "If you cannot come, please cancel (with the link above, or call us at "
            "%(phone)s) so someone else can have your seat."
        ),
        phone=_phone(clinic),
    )


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


def _confirmation(facts: Facts, clinic: ClinicInfo) -> Letter:
    return Letter(
        subject=gettext("You are booked: %(when)s", when=_when_short(facts)),
        greeting=_greeting(facts),
        paragraphs=[
            gettext("You are booked for %(when)s.", when=_when(facts)),
            gettext("Your confirmation code is %(code)s.", code=facts.code),
            _where(clinic),
            gettext("Please come 10 minutes early."),
            _manage(facts),
            _please_cancel(clinic),
        ],
        bring=_bring(facts),
        calendar=True,
        sms=gettext(
            "%(clinic)s: you are booked for %(when)s. Code %(code)s. Bring an ID. Change or "
            "cancel: %(link)s or call %(phone)s",
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
            "Code %(code)s. Change or cancel: %(link)s",
            **_sms_fields(facts, clinic),
        ),
    )


def _cancelled(facts: Facts, clinic: ClinicInfo, by: str) -> Letter:
    """A cancellation, ``by`` the clinic (it could not open), the youth (from their link) or
    staff (the youth asked)."""
    if by == "clinic":
        subject = gettext("We had to cancel your appointment: %(when)s", when=_when_short(facts))
        lead = gettext(
            "We are sorry: the clinic cannot open as planned, so your appointment for "
            "%(when)s (code %(code)s) is cancelled.",
            when=_when(facts),
            code=facts.code,
        )
        sms = gettext(
            "%(clinic)s: sorry, we had to cancel your appointment for %(when)s (code "
            "%(code)s). Book again online or call %(phone)s. Details: %(link)s",
            **_sms_fields(facts, clinic),
        )
    elif by == "youth":
        subject = gettext("You cancelled your appointment: %(when)s", when=_when_short(facts))
        lead = gettext(
            "You cancelled your appointment for %(when)s (code %(code)s). Thank you for "
            "letting us know: someone else can have your seat.",
            when=_when(facts),
            code=facts.code,
        )
        sms = gettext(
            "%(clinic)s: you cancelled your appointment for %(when)s (code %(code)s). Book "
            "again online or call %(phone)s. Details: %(link)s",
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
            "Book again online or call %(phone)s. Details: %(link)s",
            **_sms_fields(facts, clinic),
        )
    return Letter(
        subject=subject,
        greeting=_greeting(facts),
        paragraphs=[
            lead,
            _link(gettext("Your appointment"), facts),
            _rich(
                gettext("You are welcome to book another day online, or call us at %(phone)s."),
                phone=_phone(clinic),
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
            _manage(facts),
            _please_cancel(clinic),
        ],
        bring=_bring(facts),
        calendar=True,
        sms=gettext(
            "%(clinic)s: new time for your appointment: %(when)s (was %(old)s). Code "
            "%(code)s. Change or cancel: %(link)s or call %(phone)s",
            old=old,
            **_sms_fields(facts, clinic),
        ),
    )


def _rescheduled(facts: Facts, clinic: ClinicInfo) -> Letter:
    """The youth moved their appointment themselves, maybe to another day."""
    old_day = facts.old_day or facts.day
    was = _short(old_day, facts.old_start) if old_day and facts.old_start else ""
    return Letter(
        subject=gettext("Your new appointment time: %(when)s", when=_when_short(facts)),
        greeting=_greeting(facts),
        paragraphs=[
            gettext(
                "Your appointment (code %(code)s) is now %(when)s. It was %(old)s.",
                code=facts.code,
                when=_when(facts),
                old=was,
            ),
            _where(clinic),
            gettext("Please come 10 minutes early."),
            _manage(facts),
            _please_cancel(clinic),
        ],
        bring=_bring(facts),
        calendar=True,
        sms=gettext(
            "%(clinic)s: your appointment is now %(when)s (was %(old)s). Code %(code)s. "
            "Change or cancel: %(link)s",
            old=was,
            **_sms_fields(facts, clinic),
        ),
    )


def _reminder(facts: Facts, clinic: ClinicInfo, today: bool) -> Letter:
    if today:
        subject = gettext("Today at %(time)s: your appointment", time=clock(facts.start))
        lead = gettext("See you today, %(when)s.", when=_when(facts))
        sms = gettext(
            "%(clinic)s: see you today, %(when)s. Code %(code)s. %(address)s. Can't come? "
            "Cancel: %(link)s or call %(phone)s",
            address=clinic.address,
            **_sms_fields(facts, clinic),
        )
    else:
        subject = gettext("Reminder: your appointment %(when)s", when=_when_short(facts))
        lead = gettext("A reminder: your appointment is %(when)s.", when=_when(facts))
        sms = gettext(
            "%(clinic)s reminder: %(when)s. Code %(code)s. Bring an ID. Change or cancel: "
            "%(link)s or call %(phone)s",
            **_sms_fields(facts, clinic),
        )
    return Letter(
        subject=subject,
        greeting=_greeting(facts),
        paragraphs=[
            lead,
            gettext("Your confirmation code is %(code)s.", code=facts.code),
            _where(clinic),
            _manage(facts),
            _please_cancel(clinic),
        ],
        bring=_bring(facts),
        sms=sms,
    )


def _aftercare(facts: Facts, clinic: ClinicInfo) -> Letter:
    paragraphs: list[str | Rich] = [
        gettext("Thank you for coming today. Here is how to look after your skin.")
    ]
    if facts.next_session_from is not None:
        paragraphs.append(
            gettext(
                "Your skin needs time to heal: you can book your next session for "
                "%(day)s or later.",
                day=long_day(facts.next_session_from),
            )
        )
    paragraphs.append(_link(gettext("Book your next session"), facts))
    paragraphs.append(
        _rich(
            gettext(
                "Call us at %(phone)s if the area gets very painful, hot or swollen, oozes "
                "pus, or you get a fever."
            ),
            phone=_phone(clinic),
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
            "blisters, stay out of the sun. Problems? Call %(phone)s. Book your next "
            "session: %(link)s",
            **_sms_fields(facts, clinic),
        ),
    )


def _asked_for(facts: Facts) -> str:
    """The day and time a declined request asked for."""
    asked = facts.requested or datetime.combine(facts.day, facts.start)
    # A request to join a list asked for no time: "to book a place on the ... list".
    if facts.joining == "program":
        return gettext("a place on the clinic's waiting list")
    if facts.joining == "standby":
        return gettext("a place on the standby list for %(day)s", day=long_day(asked.date()))
    return gettext("%(day)s at %(time)s", day=long_day(asked.date()), time=clock(asked.time()))


def _not_you(clinic: ClinicInfo) -> Rich:
    return _rich(
        gettext(
            "If it was not you, you do not need to do anything: nothing was booked, and nobody "
            "was told about your appointments. Questions? Call us at %(phone)s."
        ),
        phone=_phone(clinic),
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
            gettext("To move your appointment to another time, or cancel it, use this link:"),
            _manage(facts),
            _not_you(clinic),
        ],
        sms=gettext(
            "%(clinic)s: a request to book in your name was not booked: you already have "
            "%(when)s, code %(code)s. Change or cancel it: %(link)s",
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
            _link(gettext("Book your next session"), facts),
            _not_you(clinic),
        ],
        sms=gettext(
            "%(clinic)s: a request to book in your name was not booked: your skin needs "
            "time to heal. Book a day from %(day)s on: %(link)s",
            day=short_day(facts.next_session_from) if facts.next_session_from else "",
            **_sms_fields(facts, clinic),
        ),
    )


def _link_again(facts: Facts, clinic: ClinicInfo) -> Letter:
    """The youth asked for their link again ("lost your link?"): to their appointment, or
    to their place on a list (``facts.code`` empty)."""
    if not facts.code:
        lead = gettext("Here is the link to your place on the list.")
        link = _link(gettext("Your place on the list"), facts)
        sms = gettext("%(clinic)s: here is the link to your place on the list: %(link)s")
    elif facts.treated:
        lead = gettext(
            "Here is the link to your visit of %(day)s (code %(code)s).",
            day=long_day(facts.day) if facts.day else "",
            code=facts.code,
        )
        link = _link(gettext("Book your next session"), facts)
        sms = gettext("%(clinic)s: here is your link to book your next session: %(link)s")
    else:
        lead = gettext(
            "Here is the link to your appointment: %(when)s (code %(code)s).",
            when=_when(facts),
            code=facts.code,
        )
        link = _manage(facts)
        sms = gettext("%(clinic)s: here is your link for %(when)s (code %(code)s): %(link)s")
    return Letter(
        subject=gettext("Your link"),
        greeting=_greeting(facts),
        paragraphs=[
            lead,
            link,
            _rich(
                gettext(
                    "Someone asked for it on our website with your phone number or e-mail "
                    "address. If it was not you, you do not need to do anything. Questions? "
                    "Call us at %(phone)s."
                ),
                phone=_phone(clinic),
            ),
        ],
        sms=sms % _sms_fields(facts, clinic),
    )


def _standby_when(facts: Facts) -> str:
    """The standby list's day, and its time range if the youth gave one."""
    if facts.day is None:
        return ""
    if facts.earliest and facts.latest:
        return gettext(
            "%(day)s, between %(earliest)s and %(latest)s",
            day=long_day(facts.day),
            earliest=clock(facts.earliest),
            latest=clock(facts.latest),
        )
    if facts.earliest:
        return gettext(
            "%(day)s, from %(earliest)s", day=long_day(facts.day), earliest=clock(facts.earliest)
        )
    if facts.latest:
        return gettext(
            "%(day)s, until %(latest)s", day=long_day(facts.day), latest=clock(facts.latest)
        )
    return long_day(facts.day)


def _list_joined(facts: Facts, clinic: ClinicInfo) -> Letter:
    """On a day's standby list (``facts.day``), or on the program's waiting list."""
    if facts.day is not None:
        subject = gettext("You are on the standby list for %(day)s", day=short_day(facts.day))
        lead = gettext(
            "You are on the standby list for %(when)s. If a seat frees up, we will send you "
            "a message with a link to take it.",
            when=_standby_when(facts),
        )
        sms = gettext(
            "%(clinic)s: you are on the standby list for %(day)s. We will message you if a "
            "seat frees up. Your place: %(link)s",
            day=short_day(facts.day),
            **_sms_fields(facts, clinic),
        )
    else:
        subject = gettext("You are on the waiting list")
        lead = gettext(
            "You are on the clinic's waiting list. When a seat opens for you, we will send "
            "you a message with a link to take it."
        )
        sms = gettext(
            "%(clinic)s: you are on the waiting list. We will message you when a seat opens "
            "for you. Your place: %(link)s",
            **_sms_fields(facts, clinic),
        )
    return Letter(
        subject=subject,
        greeting=_greeting(facts),
        paragraphs=[
            lead,
            gettext(
                "An offered seat is held for you for a short time only, so please read our "
                "messages when they come."
            ),
            gettext("Your link shows your place on the list, and lets you leave it:"),
            _link(gettext("Your place on the list"), facts),
            _rich(gettext("Questions? Call us at %(phone)s."), phone=_phone(clinic)),
        ],
        sms=sms,
    )


def _deadline(facts: Facts) -> str:
    """When an offer ends, in the clinic's time, with the weekday: 'Mon, Nov 23, 9:00 PM'."""
    if facts.deadline is None:
        return ""
    local = facts.deadline.astimezone(settings.clinic_zone())
    return _short(local.date(), local.time())


def _seat_offered(facts: Facts, clinic: ClinicInfo) -> Letter:
    deadline = _deadline(facts)
    return Letter(
        subject=gettext("A seat for you: %(when)s", when=_when_short(facts)),
        greeting=_greeting(facts),
        paragraphs=[
            gettext("A seat has opened for you: %(when)s.", when=_when(facts)),
            gettext(
                "We hold it for you until %(deadline)s. After that, it goes to the next "
                "person on the list.",
                deadline=deadline,
            ),
            _link(
                gettext("Take this seat"),
                facts,
                gettext("(held until %(deadline)s)", deadline=deadline),
            ),
            _where(clinic),
            gettext("If this time does not suit you, you can say so with the same link."),
            _rich(gettext("Questions? Call us at %(phone)s."), phone=_phone(clinic)),
        ],
        sms=gettext(
            "%(clinic)s: a seat opened for you: %(when)s. Take this seat: %(link)s (held "
            "until %(deadline)s)",
            deadline=deadline,
            **_sms_fields(facts, clinic),
        ),
    )


def _offer_lapsed(facts: Facts, clinic: ClinicInfo) -> Letter:
    return Letter(
        subject=gettext("The seat we held for you has gone to the next person"),
        greeting=_greeting(facts),
        paragraphs=[
            gettext(
                "The seat we held for you (%(when)s) was not taken in time, so it went to the "
                "next person on the list.",
                when=_when(facts),
            ),
            gettext(
                "You are still on the list, and we will send you a message when another seat opens."
            ),
            _link(gettext("Your place on the list"), facts),
            _rich(gettext("Questions? Call us at %(phone)s."), phone=_phone(clinic)),
        ],
        sms=gettext(
            "%(clinic)s: the seat for %(when)s went to the next person. You are still on the "
            "list. Your place: %(link)s",
            **_sms_fields(facts, clinic),
        ),
    )


_WRITERS = {
    Kind.CONFIRMATION: _confirmation,
    Kind.RESTORED: _restored,
    Kind.CANCELLED: lambda facts, clinic: _cancelled(facts, clinic, by="staff"),
    Kind.CLINIC_CANCELLED: lambda facts, clinic: _cancelled(facts, clinic, by="clinic"),
    Kind.YOUTH_CANCELLED: lambda facts, clinic: _cancelled(facts, clinic, by="youth"),
    Kind.MOVED: _moved,
    Kind.RESCHEDULED: _rescheduled,
    Kind.REMINDER_EARLY: lambda facts, clinic: _reminder(facts, clinic, today=False),
    Kind.REMINDER_SAME_DAY: lambda facts, clinic: _reminder(facts, clinic, today=True),
    Kind.AFTERCARE: _aftercare,
    Kind.ALREADY_BOOKED: _already_booked,
    Kind.TOO_SOON: _too_soon,
    Kind.LINK_AGAIN: _link_again,
    Kind.LIST_JOINED: _list_joined,
    Kind.SEAT_OFFERED: _seat_offered,
    Kind.OFFER_LAPSED: _offer_lapsed,
}
