"""The security headers every response carries, set by Flask-Talisman and one hook of ours.

The pages are plain HTML forms with one static script (``static/queue.js``) and one
stylesheet, all from this server, so the policy can be as strict as a policy gets: nothing
inline, nothing from elsewhere, no plug-ins, no framing, forms posted only here. A youth's
name on a page is then no foothold for an injected script, and no page can be framed to
trick a staff member into a click. ``tests/app/test_headers.py`` checks every route, and the
browser tests fail on any violation Chromium reports (``tests/support/browsers.py``).
"""

from __future__ import annotations

from flask import Flask, Response
from flask_talisman import DENY, Talisman

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


def init_app(app: Flask) -> None:
    """Attach the headers to ``app``: one Talisman per app (it keeps a reference to it)."""
    app.extensions["talisman"] = Talisman(
        app,
        content_security_policy=CONTENT_SECURITY_POLICY,
        permissions_policy=PERMISSIONS_POLICY,
        # For browsers older than frame-ancestors.
        frame_options=DENY,
        # Nothing may leak where a youth came from or went (a manage link will carry a token).
        referrer_policy="no-referrer",
        # TLS ends at the proxy, which redirects http itself: the app serves plain http behind
        # it (and to the tests), so a redirect here would loop.
        force_https=False,
        # HSTS is ours (below): Talisman sends it only on requests it sees as https.
        strict_transport_security=False,
        # The cookie flags stay the configuration's (config.py): Talisman would otherwise
        # mark the session cookie Secure in development and tests, which run over http.
        session_cookie_secure=False,
        session_cookie_http_only=app.config["SESSION_COOKIE_HTTPONLY"],
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )
    hsts = _hsts_value(app.config["HSTS_SECONDS"])

    @app.after_request
    def isolation_headers(response: Response) -> Response:
        # No other site's window keeps a handle on ours (an opener could otherwise send the
        # tab to a look-alike sign-in page), and no other site may load our responses as its
        # own images or scripts.
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if hsts:
            # On every response, not only those the app sees as https: behind the TLS proxy
            # it sees none as https. Browsers ignore the header on plain http (RFC 6797 8.1),
            # so it only ever takes effect on the real, https, site.
            response.headers["Strict-Transport-Security"] = hsts
        return response


def _hsts_value(seconds: int) -> str:
    return f"max-age={seconds}; includeSubDomains" if seconds > 0 else ""
