"""A few seconds' memory of the public pages that read the same for every visitor.

When a month's clinic days open, many youth arrive within minutes and ask for the same few
pages: the days, a day's times, a time's first booking step. Each render reads the seats left
and builds a form of some sixty inputs, the same bytes for everyone asking in the same
language. ``@shared_page`` keeps a rendered page for ``PUBLIC_PAGE_CACHE_SECONDS`` in the
worker's memory, per address and language, and serves it again in that time.

What stays each visitor's own, every time:

- the CSRF token: Flask-WTF's token for this visitor's session is put where the kept page had
  the first visitor's (the session cookie is then set as on any render);
- any value a view makes with :func:`per_visit` (a booking form's submission key): made again
  for each visitor and put in the same way. A view that makes a random or personal value any
  other way must not be marked ``@shared_page``;
- a visitor with something of their own in the session (a message to show after a redirect, a
  staff sign-in) is never served a kept page, and nothing rendered for them is kept.

Only GETs answered 200 are kept; rate limits and every other hook run before the view as
always. A seat count on a kept page may be ``PUBLIC_PAGE_CACHE_SECONDS`` older than the
database: display only, since a booking is decided by the database when it is made.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g, make_response, request, session
from flask.globals import request_ctx
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

# Keys a public page may find in the session without reading differently: the chosen
# language (part of the key below) and the CSRF secret (replaced on every serve).
_NEUTRAL_SESSION_KEYS = frozenset({"lang", "csrf_token"})
# Headers a kept page carries again; the session cookie and Vary are set for each visitor.
_NOT_KEPT = frozenset({"set-cookie", "vary", "content-length"})
_MOST_PAGES = 512  # addresses x languages: a few days' times and steps; a bound never reached


@dataclass(frozen=True)
class _Kept:
    expires: float
    status: int
    headers: tuple[tuple[str, str], ...]
    body: str
    # Each value that was the first visitor's own, and how to make it for the next one.
    own: tuple[tuple[str, Callable[[], str]], ...]

    def serve(self) -> Response:
        body = self.body
        for value, make in self.own:
            body = body.replace(value, make())
        return Response(body, self.status, list(self.headers))


_pages: dict[tuple[str, str], _Kept] = {}
_reads: dict[Hashable, tuple[float, Any]] = {}
T = TypeVar("T")


def per_visit(make: Callable[[], str]) -> str:
    """``make()``, made again for each visitor served a kept copy of this page."""
    value = make()
    made = g.setdefault("page_cache_per_visit", [])
    made.append((value, make))
    return value


def shared_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """Serve ``view``'s GET page from the worker's memory for a few seconds (above)."""

    @functools.wraps(view)
    def served(*args: Any, **kwargs: Any) -> Any:
        seconds = current_app.config["PUBLIC_PAGE_CACHE_SECONDS"]
        if request.method != "GET" or seconds <= 0 or not _neutral_session():
            return view(*args, **kwargs)
        key = (request.full_path, str(get_locale()))
        now = time.monotonic()
        kept = _pages.get(key)
        if kept is not None and kept.expires > now:
            return kept.serve()
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200 and _neutral_session() and not response.is_streamed:
            _keep(key, now + seconds, response)
        return response

    return served


def kept_read(key: Hashable, read: Callable[[], T]) -> T:
    """``read()``, kept ``PUBLIC_PAGE_CACHE_SECONDS`` per worker under ``key``: for a read
    model the same for every visitor (a day's times and seats), shown while moving between
    steps; never for what decides a booking. The value must be immutable (it is shared)."""
    seconds = current_app.config["PUBLIC_PAGE_CACHE_SECONDS"]
    if seconds <= 0:
        return read()
    now = time.monotonic()
    kept = _reads.get(key)
    if kept is not None and kept[0] > now:
        return kept[1]
    value = read()
    if len(_reads) >= _MOST_PAGES:
        _reads.clear()  # a bound never reached in use: a few days' reads are a few dozen
    _reads[key] = (now + seconds, value)
    return value


def forget_all() -> None:
    """Drop every kept page and read (tests; a deploy starts with none anyway)."""
    _pages.clear()
    _reads.clear()


def _neutral_session() -> bool:
    # The context's own attribute: the ``session`` proxy would mark the session as read, and
    # every response as varying by cookie.
    opened = getattr(request_ctx, "_session", None)
    if opened is None:
        return not session.keys() - _NEUTRAL_SESSION_KEYS
    return not opened.keys() - _NEUTRAL_SESSION_KEYS


def _keep(key: tuple[str, str], expires: float, response: Response) -> None:
    own = list(g.get("page_cache_per_visit", ()))
    token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    if token:
        own.append((token, generate_csrf))
    body = response.get_data(as_text=True)
    # A value the page does not show (a step that carries it later) has nothing to replace.
    own = [(value, make) for value, make in own if value in body]
    if len(_pages) >= _MOST_PAGES:
        _drop_expired_or_oldest(time.monotonic())
    _pages[key] = _Kept(
        expires=expires,
        status=response.status_code,
        headers=tuple((n, v) for n, v in response.headers if n.lower() not in _NOT_KEPT),
        body=body,
        own=tuple(own),
    )


def _drop_expired_or_oldest(now: float) -> None:
    for key in [key for key, kept in _pages.items() if kept.expires <= now]:
        del _pages[key]
    while len(_pages) >= _MOST_PAGES:
        del _pages[next(iter(_pages))]  # dicts keep insertion order: the oldest first
