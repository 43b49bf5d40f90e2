"""The link a visitor opened, kept in their session: the token itself is never in an address
after the landing (``/my/<token>`` redirects to ``/my``), and later requests carry only the
session cookie, which holds the token's hash.

Its own module so that the manage pages and the list pages both read it without importing
each other (``/my`` dispatches to the list pages)."""

from __future__ import annotations

from flask import session

from clinic.messaging import links
from clinic.messaging.links import Held
from clinic.web import context

SESSION_KEY = "my_link"


def hold(token_hash: str) -> None:
    """From now on this browser's ``/my`` pages are about the link with ``token_hash``."""
    session[SESSION_KEY] = token_hash


def current_held() -> Held | None:
    """What the link this browser opened points to now, or None (no link opened, or it no
    longer works)."""
    token_hash = session.get(SESSION_KEY)
    if not isinstance(token_hash, str):
        return None
    return links.resolve_hash(token_hash, context.now(), context.rules())
