"""What a view needs from the app besides the request: the clinic's rules and the current
clinic time, read once per request (kept on ``g``), so every use case a request calls sees
the same settings and the same instant."""

from __future__ import annotations

from datetime import datetime

from flask import g

from clinic import settings
from clinic.rules.policy import ClinicRules


def rules() -> ClinicRules:
    """The clinic's rules as configured, read once per request."""
    if "clinic_rules" not in g:
        g.clinic_rules = settings.current_rules()
    return g.clinic_rules


def now() -> datetime:
    """The current instant in the clinic's time zone, the same for the whole request."""
    if "clinic_now" not in g:
        g.clinic_now = settings.clinic_now(rules())
    return g.clinic_now
