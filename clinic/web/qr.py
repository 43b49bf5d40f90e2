"""QR codes for setting up an authenticator app, drawn on the server as inline SVG markup:
no image request, no ``data:`` URL (the Content-Security-Policy allows neither), no script and
nothing third-party. Shared by the sign-in's set-up step and each person's own account page."""

from __future__ import annotations

import segno
from flask_babel import gettext as _
from markupsafe import Markup


def qr_code_svg(text: str) -> Markup:
    """``text`` (an ``otpauth://`` address) as an SVG QR code, black on white whatever the
    page's colours (apps read it more easily), with a title for screen readers."""
    svg = segno.make(text, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", title=_("QR code for your authenticator app")
    )
    # segno's own markup, made of path data only: the address is in the pixels, not the text.
    return Markup(svg)  # nosec B704


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type by hand ("ABCD EFGH ...")."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
