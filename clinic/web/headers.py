"""The security headers every response carries, added by one small WSGI middleware of ours.

The pages are plain HTML forms with one static script (``static/queue.js``) and one
stylesheet, all from this server, so the policy can be as strict as a policy gets: nothing
inline, nothing from elsewhere, no plug-ins, no framing, forms posted only here. A youth's
name on a page is then no foothold for an injected script, and no page can be framed to
trick a staff member into a click. ``tests/app/test_headers.py`` checks every route, and the
browser tests fail on any violation Chromium reports (``tests/support/browsers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SELF = "'self'"
NONE = "'none'"

# Each directive named, so that none falls back to a looser default. No 'unsafe-inline',
# no 'unsafe-eval', no data: or blob: sources: nothing the app serves needs them.
CONTENT_SECURITY_POLICY = {
    "default-src": SELF,
    "script-src": SELF,
    "style-src": SELF,
    "img-src": SELF,
    "font-src": SELF,
    "connect-src": SELF,  # queue.js fetches the live part of the day page from here
    "object-src": NONE,
    "base-uri": NONE,
    "frame-ancestors": NONE,
    "form-action": SELF,
}

# Powerful features the clinic never uses, off for this origin and anything it could embed:
# a page that someone manages to inject into still cannot reach the camera, the microphone,
# the location or a payment sheet. browsing-topics and interest-cohort keep the site's visits
# out of interest-based advertising (the Topics API, and FLoC before it). Every name here is
# one Chromium knows: an unknown one is a console warning on every page, which the browser
# tests count as a failure.
PERMISSIONS_POLICY = {
    feature: "()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "interest-cohort",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}


def _policy(directives: dict[str, str], joiner: str, separator: str) -> str:
    return separator.join(f"{name}{joiner}{value}" for name, value in directives.items())


# Every header, written out once: the same on every response, so nothing is built per request
# (Flask-Talisman, used here before, parsed both policies again on every response: a tenth of
# a bare request's time).
_ALWAYS = (
    ("Permissions-Policy", _policy(PERMISSIONS_POLICY, "=", ", ")),
    # For browsers older than frame-ancestors.
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", _policy(CONTENT_SECURITY_POLICY, " ", "; ")),
    # Nothing may leak where a youth came from or went (a manage link carries a token).
    ("Referrer-Policy", "no-referrer"),
)
# No other site's window keeps a handle on ours (an opener could otherwise send the tab to a
# look-alike sign-in page), and no other site may load our responses as its own images or
# scripts. A response that sets its own keeps it.
_UNLESS_SET = (
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)


def init_app(app: Flask) -> None:
    """Attach the headers to every response ``app`` sends.

    TLS ends at the proxy, which redirects http itself: the app serves plain http behind it
    (and to the tests), so it never redirects to https. The session cookie's flags are the
    configuration's (config.py).
    """
    hsts = _hsts_value(app.config["HSTS_SECONDS"])
    # On every response, not only those the app sees as https: behind the TLS proxy it sees
    # none as https. Browsers ignore the header on plain http (RFC 6797 8.1), so it only ever
    # takes effect on the real, https, site.
    always = (*_ALWAYS, ("Strict-Transport-Security", hsts)) if hsts else _ALWAYS
    app.wsgi_app = SecurityHeaders(app.wsgi_app, always)  # type: ignore[method-assign]


class SecurityHeaders:
    """WSGI middleware adding the headers to the status line's header list as gunicorn gets it.

    Below Flask rather than in an ``after_request`` hook: every response passes here (error
    pages, static files, a redirect raised anywhere), and the fixed tuples are appended as
    they are, where werkzeug's ``Headers`` would check and copy each value of each header on
    every response (a quarter of a bare request's time in Flask, measured with /healthz).
    """

    def __init__(self, wsgi_app: WSGIApplication, always: tuple[tuple[str, str], ...]) -> None:
        self.wsgi_app = wsgi_app
        self.always = list(always)
        self.ours = {name.lower() for name, _ in always}
        self.unless_set = list(_UNLESS_SET)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def with_headers(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            present = {name.lower() for name, _ in headers}
            if present & self.ours:  # ours replace a view's own
                headers = [(n, v) for n, v in headers if n.lower() not in self.ours]
            # A response that sets its own cross-origin policies keeps them.
            extra = [header for header in self.unless_set if header[0].lower() not in present]
            return start_response(status, headers + extra + self.always, exc_info)

        return self.wsgi_app(environ, with_headers)


def _hsts_value(seconds: int) -> str:
    return f"max-age={seconds}; includeSubDomains" if seconds > 0 else ""
