"""The link a visitor opened, kept in their session: the token itself is never in an address
after the landing (``/my/<token>`` redirects to ``/my``), and later requests carry only the
session cookie, which holds the token's hash.

Its own module so that the manage pages and the list pages both read it without importing
each other (``/my`` dispatches to the list pages)."""

from __future__ import annotations

from flask import Response, flash, redirect, session, url_for
from flask_babel import gettext as _

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


def other_page() -> Response:
    """A form sent from a page about another link than the one this browser opened last (two
    links, two tabs): nothing is changed, and the page of the open link says so."""
    flash(
        _(
            "That page was about another link than the one you opened last, so nothing was "
            "changed. This is the page of your last link."
        ),
        "error",
    )
    return redirect(url_for("public.my"), code=303)
