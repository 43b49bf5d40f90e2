"""Where the rules and the clock come from: the app's configuration, read into plain values.

Use cases never read ``current_app.config``: they take a ``ClinicRules`` (and a ``now``) from
their caller, which gets them here; the web layer once per request (``clinic.web.context``),
the worker and the commands once per run. Tests freeze the clock by replacing ``clinic_now``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from clinic.permissions import Action
from clinic.rules.calendar import DayDefaults
from clinic.rules.eligibility import AgeLimits, BookingWindow
from clinic.rules.messages import ReminderPolicy
from clinic.rules.policy import ClinicRules
from clinic.rules.selfservice import LinkPolicy, OfferPolicy


def _config(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return config if config is not None else current_app.config


def clinic_zone(config: Mapping[str, Any] | None = None) -> ZoneInfo:
    """The clinic's time zone: appointment times are its wall clock."""
    return ZoneInfo(_config(config)["CLINIC_TZ"])


# Every setting ``current_rules`` reads. The rules are read anew only when one of these
# changed: building them (times parsed, a dozen dataclasses) took a tenth of a millisecond
# on every request, the health check's whole time.
_RULE_SETTINGS = (
    "CLINIC_TZ",
    "CLINIC_DAY_START",
    "CLINIC_DAY_END",
    "SLOT_MINUTES",
    "SEATS_PER_SLOT",
    "SEATS_PER_CLINICIAN",
    "BOOKING_HORIZON_DAYS",
    "BOOKING_CUTOFF_HOURS",
    "MIN_AGE",
    "MAX_AGE",
    "GUARDIAN_AGE",
    "FOLLOW_UP_MIN_WEEKS",
    "STATIONS",
    "NO_SHOW_GRACE_MINUTES",
    "REMINDER_DAYS_BEFORE",
    "REMINDER_EARLY_AT",
    "REMINDER_SAME_DAY_AT",
    "LINK_DAYS_AFTER_TREATMENT",
    "LINK_DAYS_AFTER_LIST",
    "OFFER_HOLD_HOURS",
    "OFFER_HOLD_HOURS_CLOSE",
    "OFFER_LEAST_MINUTES",
    "WAITLIST_PRIORITY",
    "WAITLIST_RATE_WEEKS",
)
_read_rules: dict[tuple[Any, ...], ClinicRules] = {}


def permission_grants(config: Mapping[str, Any] | None = None) -> dict[Action, frozenset[str]]:
    """The roles the clinic gave a grantable action beyond the permissions table
    (REPORTS_ROLES: who besides the admin sees the reports)."""
    config = _config(config)
    return {Action.VIEW_REPORTS: frozenset(config.get("REPORTS_ROLES", ()))}


def course_sessions(config: Mapping[str, Any] | None = None) -> int:
    """Completed sessions after which the reports count a youth's course as finished."""
    return int(_config(config)["COURSE_SESSIONS"])


def current_rules(config: Mapping[str, Any] | None = None) -> ClinicRules:
    """The clinic's rules as configured for this app (read once for each set of values)."""
    config = _config(config)
    try:
        values = tuple(config[name] for name in _RULE_SETTINGS)
        return _read_rules[values]
    except TypeError:  # a value that cannot be a key (a list set by hand): read it each time
        return _rules(config)
    except KeyError:
        rules = _rules(config)
        if len(_read_rules) < 256:  # the test suite's variations; an app has one
            _read_rules[values] = rules
        return rules


def _rules(config: Mapping[str, Any]) -> ClinicRules:
    return ClinicRules(
        zone=clinic_zone(config),
        day=DayDefaults(
            start=time.fromisoformat(config["CLINIC_DAY_START"]),
            end=time.fromisoformat(config["CLINIC_DAY_END"]),
            slot_minutes=config["SLOT_MINUTES"],
            seats=config["SEATS_PER_SLOT"],
            seats_per_clinician=config["SEATS_PER_CLINICIAN"],
        ),
        window=BookingWindow(
            horizon_days=config["BOOKING_HORIZON_DAYS"],
            cutoff=timedelta(hours=config["BOOKING_CUTOFF_HOURS"]),
        ),
        ages=AgeLimits(
            minimum=config["MIN_AGE"], maximum=config["MAX_AGE"], adult=config["GUARDIAN_AGE"]
        ),
        follow_up=timedelta(weeks=config["FOLLOW_UP_MIN_WEEKS"]),
        stations=tuple(config["STATIONS"]),
        no_show_grace=timedelta(minutes=config["NO_SHOW_GRACE_MINUTES"]),
        reminders=reminder_policy(config),
        links=LinkPolicy(
            days_after_treatment=config["LINK_DAYS_AFTER_TREATMENT"],
            days_after_list=config["LINK_DAYS_AFTER_LIST"],
        ),
        offers=OfferPolicy(
            hold=timedelta(hours=config["OFFER_HOLD_HOURS"]),
            hold_close=timedelta(hours=config["OFFER_HOLD_HOURS_CLOSE"]),
            least=timedelta(minutes=config["OFFER_LEAST_MINUTES"]),
            priority_rules=tuple(
                rule.strip() for rule in config["WAITLIST_PRIORITY"].split(",") if rule.strip()
            ),
            rate_weeks=config["WAITLIST_RATE_WEEKS"],
        ),
    )


def keyed_hash(purpose: str, value: str, config: Mapping[str, Any] | None = None) -> str:
    """A stable, secret-keyed digest of ``value`` for ``purpose``: what a rate limit counts
    a phone number or an e-mail address under, so that neither the shared store nor its logs
    ever hold the contact itself, and nobody without the app's secret can test a guess."""
    secret = str(_config(config)["SECRET_KEY"]).encode()
    message = f"{purpose}:{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def public_url(path: str, config: Mapping[str, Any] | None = None) -> str:
    """An absolute address on the public site, for links in messages (written outside any
    request): ``PUBLIC_BASE_URL`` + ``path``."""
    return f"{_config(config)['PUBLIC_BASE_URL']}{path}"


def clinic_now(rules: ClinicRules) -> datetime:
    """The current instant, aware, in the clinic's time zone."""
    return datetime.now(rules.zone)


def reminder_policy(config: Mapping[str, Any] | None = None) -> ReminderPolicy:
    """The reminder settings, read; the app factory calls it once, so that a time that
    cannot be read stops the app at start rather than failing every booking."""
    config = _config(config)

    def at(name: str) -> time | None:
        text = config[name].strip()
        try:
            return time.fromisoformat(text) if text else None
        except ValueError:
            raise RuntimeError(
                f"{name} must be a time like 10:00 (or empty), not {text!r}"
            ) from None

    return ReminderPolicy(
        days_before=config["REMINDER_DAYS_BEFORE"],
        early_at=at("REMINDER_EARLY_AT"),
        same_day_at=at("REMINDER_SAME_DAY_AT"),
    )


@dataclass(frozen=True)
class OutboxSettings:
    """How the outbox worker sends: tries, backoff, claims and batches."""

    max_attempts: int
    retry_base: timedelta
    retry_cap: timedelta
    claim: timedelta  # how long a worker's claim on a message lasts
    batch_size: int
    poll_seconds: float
    per_destination: str = "8 per day"  # messages one phone or address may get (Flask-Limiter)


def outbox_settings(config: Mapping[str, Any] | None = None) -> OutboxSettings:
    config = _config(config)
    return OutboxSettings(
        max_attempts=config["OUTBOX_MAX_ATTEMPTS"],
        retry_base=timedelta(seconds=config["OUTBOX_RETRY_BASE_SECONDS"]),
        retry_cap=timedelta(seconds=config["OUTBOX_RETRY_CAP_SECONDS"]),
        claim=timedelta(seconds=config["OUTBOX_CLAIM_SECONDS"]),
        batch_size=config["OUTBOX_BATCH_SIZE"],
        poll_seconds=config["OUTBOX_POLL_SECONDS"],
        per_destination=config["MESSAGES_PER_DESTINATION"],
    )


@dataclass(frozen=True)
class ClinicInfo:
    """How the clinic presents itself to youth: on pages, in messages and calendar files."""

    name: str
    address: str
    phone: str
    sms_name: str  # neutral: texts and calendars show on lock screens and to family


def clinic_info(config: Mapping[str, Any] | None = None) -> ClinicInfo:
    config = _config(config)
    return ClinicInfo(
        name=config["CLINIC_NAME"],
        address=config["CLINIC_ADDRESS"],
        phone=config["CLINIC_PHONE"],
        sms_name=config["CLINIC_SMS_NAME"],
    )


def password_hash_method(config: Mapping[str, Any] | None = None) -> str:
    """werkzeug's method for hashing staff passwords (cheap in the test configuration only)."""
    return str(_config(config)["PASSWORD_HASH_METHOD"])
