"""The device cookie: the accounts that signed in on this browser before.

OWASP's answer to lockout ("Slow down online guessing attacks with device cookies"): a browser
where an account signed in successfully is known to the throttle, and only its own failures
ever pause it. The cookie is signed with the app's SECRET_KEY (itsdangerous), so nobody can
make one up for an account they never signed in to; it holds, for up to ``MAX_ACCOUNTS``
accounts (a shared front-desk computer), the keyed hash the throttle counts the account
under, a random nonce (its own failure count's key) and when it was issued. No name, no
e-mail, no session: it signs nobody in.

HttpOnly, SameSite=Strict (only the sign-in form, on this site, needs it), and, wherever the
session cookie is Secure (production), Secure and named ``__Host-device``: browsers then take
it only over https, for the whole host (``Path=/``, which the prefix requires) and never from
a subdomain, so no other site can plant one or push the real one out.
"""

from __future__ import annotations

import secrets
import time

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

SALT = "clinic.device-cookie"
MAX_ACCOUNTS = 10
Entry = tuple[str, str, int]  # (account key, nonce, issued at: Unix time)


def cookie_name() -> str:
    return "__Host-device" if current_app.config.get("SESSION_COOKIE_SECURE") else "device"


def _lifetime() -> int:
    return current_app.config["DEVICE_COOKIE_DAYS"] * 24 * 3600


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def _entries() -> list[Entry]:
    """This browser's valid entries, newest first (none if the cookie is missing, altered,
    signed with another key, or of another shape)."""
    raw = request.cookies.get(cookie_name())
    if not raw:
        return []
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return []
    if not isinstance(data, list):
        return []
    oldest = time.time() - _lifetime()
    entries = []
    for entry in data[:MAX_ACCOUNTS]:
        if (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], str)
            and isinstance(entry[1], str)
            and isinstance(entry[2], int)
            and entry[2] > oldest
        ):
            entries.append((entry[0], entry[1], entry[2]))
    return entries


def device_for(account: str) -> str | None:
    """The nonce this browser holds for ``account`` (``accounts.sign_in_account``), if any."""
    return next((nonce for key, nonce, _issued in _entries() if key == account), None)


def remember(response: Response, account: str) -> None:
    """After a successful sign-in: this browser is known for ``account`` for another
    DEVICE_COOKIE_DAYS, under a fresh nonce (so its failure count starts afresh too). The
    oldest account drops out past ``MAX_ACCOUNTS``."""
    others = [entry for entry in _entries() if entry[0] != account]
    entries = [(account, secrets.token_urlsafe(16), int(time.time())), *others][:MAX_ACCOUNTS]
    response.set_cookie(
        cookie_name(),
        _serializer().dumps([list(entry) for entry in entries]),
        max_age=_lifetime(),
        path="/",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Strict",
    )
