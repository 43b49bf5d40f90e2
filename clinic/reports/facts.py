"""What the report's figures and the visit list read the same way, defined once: the order in
which a youth's sessions are counted, when a minor's consent counts as recorded, and how a
referral is named from its blind index."""

from __future__ import annotations

from typing import Any

from clinic import crypto, vocab
from clinic.models import Appointment, Consent, Slot

# A referral the vocabulary does not know, or a visit without an intake (a walk-in's).
NOT_RECORDED = "not_recorded"

# A guardian's consent recorded by the desk: confirmed, or not needed by a staff decision.
CONSENT_RECORDED = (Consent.CONFIRMED, Consent.EXEMPT)


def session_order() -> tuple[Any, ...]:
    """A youth's visits in the order their sessions are counted: by day, time, then booking
    (two visits on one day, a walk-in after a cancelled booking, stay in one order)."""
    return (Slot.day, Slot.start_time, Appointment.id)


def referral_codes() -> dict[str | None, str]:
    """Each referral code's blind index, mapped back to the code: the vocabulary's nine
    codes indexed with the app's key, so SQL groups by the index and Python names the
    groups."""
    return {crypto.referral_index(code): code for code, _label in vocab.REFERRAL_SOURCES}
