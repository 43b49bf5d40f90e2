"""What an outsider can repeat, limited (Flask-Limiter; the limits are settings, see config.py
and the README). Counted in ``RATELIMIT_STORAGE_URI``: Redis in production, so that every
worker and app server shares one count (``create_app`` refuses ``memory://`` there).

- Online booking requests, per address and per contact (the phone or e-mail typed, counted
  under a keyed hash): only requests that got as far as "request received" count, so a youth
  correcting a typo is never held back; a script booking invented people is.
- The availability API, per address.
- A youth's link opened, per address; "send my link again", per address and per contact.
- Staff search and record pages, per account: a stolen session cannot copy out the records.

The sign-in has its own, owner-proof limits (``clinic.web.auth``); messages per destination
are limited where they are sent (``clinic.messaging.worker``).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, request
from flask.globals import request_ctx
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user

from clinic import settings
from clinic.extensions import limiter
from clinic.rules.eligibility import normalize_phone


def setting(name: str) -> Callable[[], str]:
    """A limit read from the app's configuration when a request is checked."""
    return lambda: current_app.config[name]


def _received(response) -> bool:
    """A booking request counts once it reached "request received" (a 303)."""
    return response.status_code == 303


def _contact_key() -> str:
    """The contact a booking request gave: its phone when it has one, else its e-mail."""
    phone = normalize_phone(request.form.get("phone") or "")
    email = (request.form.get("email") or "").strip().lower()
    contact = phone or email or "-"
    return "booking-contact:" + settings.keyed_hash("booking-contact", contact)


def _address_key() -> str:
    return "booking-address:" + get_remote_address()


def booking_requests(
    on_breach: Callable[[RequestLimit], object], exempt_when: Callable[[], bool] | None = None
):
    """The limits on online booking requests (POST only), answered by ``on_breach``; not
    looked at when ``exempt_when()`` (a POST that cannot book)."""

    def decorate(view):
        for name, key in (
            ("BOOKING_LIMIT_PER_ADDRESS", _address_key),
            ("BOOKING_LIMIT_PER_CONTACT", _contact_key),
        ):
            view = limiter.limit(
                setting(name),
                key_func=key,
                methods=["POST"],
                deduct_when=_received,
                on_breach=on_breach,
                exempt_when=exempt_when,
            )(view)
        return view

    return decorate


def _lost_link_contact_key() -> str:
    """The contact a lost-link request gave, as the form reads it (a phone, else an e-mail)."""
    typed = request.form.get("contact") or ""
    contact = normalize_phone(typed) or typed.strip().lower() or "-"
    return "lost-link-contact:" + settings.keyed_hash("lost-link-contact", contact)


def lost_link_requests(on_breach: Callable[[RequestLimit], object]):
    """The limits on "send my link again" (POST only), per address and per contact, answered
    by ``on_breach``. Only a look-up that was made counts (its answer is a 303): a youth
    correcting a typo is not held back."""

    def decorate(view):
        for name, key in (
            ("LOST_LINK_LIMIT_PER_ADDRESS", lambda: "lost-link-address:" + get_remote_address()),
            ("LOST_LINK_LIMIT_PER_CONTACT", _lost_link_contact_key),
        ):
            view = limiter.limit(
                setting(name),
                key_func=key,
                methods=["POST"],
                deduct_when=_received,
                on_breach=on_breach,
            )(view)
        return view

    return decorate


# Opening a youth's link, per address: nobody can try tokens at speed (they are 256-bit, so
# guessing is hopeless anyway; this keeps the look-ups from becoming a load).
link_opens = limiter.limit(
    setting("LINK_LIMIT_PER_ADDRESS"),
    key_func=lambda: "link-address:" + get_remote_address(),
)

availability_api = limiter.limit(
    setting("AVAILABILITY_LIMIT_PER_ADDRESS"),
    key_func=lambda: "availability:" + get_remote_address(),
)


def _account_key() -> str:
    return f"staff-reads:{current_user.id}"


def staff_record_reads(methods: list[str] | None = None):
    """One count per staff account over every page that shows youth records (a search, a
    record, two records side by side), whichever it is."""
    return limiter.shared_limit(
        setting("STAFF_RECORD_READS_PER_ACCOUNT"),
        scope="staff-record-reads",
        key_func=_account_key,
        methods=methods,
    )


def init_app(app: Flask) -> None:
    """Let Flask-Limiter's check before every request run only when it has work to do.

    That check is for limits on the whole app, on a blueprint, on other limits (meta), and
    for the in-memory fallback after the store failed; each limit above sits on its own view
    and is checked by its decorator. With none of those, the check resolves an empty list of
    limits on every request, the health check included (a tenth of its time): it is skipped
    then, and runs as before as soon as any such limit, or a failed store, exists.
    """
    check = limiter._check_request_limit
    hooks = app.before_request_funcs[None]
    if check not in hooks:  # Flask-Limiter changed how it hooks in: leave it as it is
        return
    manager = limiter.limit_manager

    def check_app_wide_limits() -> None:
        if (
            manager._application_limits
            or manager._default_limits
            or manager._blueprint_limits
            or limiter._meta_limits
            or limiter._storage_dead
        ):
            check()

    hooks[hooks.index(check)] = check_app_wide_limits

    # After the response and at teardown, Flask-Limiter reads (and so first creates) its state
    # for the request, to deduct conditional limits and to clear it: a request that no limit
    # looked at has none, and nothing to deduct or clear.
    def looked_at() -> bool:
        return hasattr(request_ctx, "_limiter_request_context")

    after = app.after_request_funcs[None]
    for index, hook in enumerate(after):
        if getattr(hook, "func", None) is getattr(Limiter, "_Limiter__inject_headers", False):
            after[index] = _only_if(looked_at, hook, passes_through=True)
    release = getattr(limiter, "_Limiter__release_context", None)
    teardown = app.teardown_request_funcs[None]
    if release in teardown:
        teardown[teardown.index(release)] = _only_if(looked_at, release)


def _only_if(condition: Callable[[], bool], hook: Callable, *, passes_through: bool = False):
    """``hook``, called only when ``condition()``; otherwise its argument comes back unchanged
    (an after-request hook) or nothing happens (a teardown)."""

    def guarded(argument):
        if condition():
            return hook(argument)
        return argument if passes_through else None

    return guarded
