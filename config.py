"""Configuration classes, read from environment variables.

Every clinic rule that DOMAIN.md describes is a setting here, with the documented default.
"""

import os
from pathlib import Path
from typing import ClassVar

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _flag(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").strip().lower() in ("1", "true", "yes")


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'clinic.sqlite3'}"
    )
    # Pre-ping: after a database restart, a worker's pooled connections are found dead and
    # replaced on the next request instead of failing it.
    # hide_parameters: a failed statement's error (and so the log) never shows the values,
    # which may be a youth's name or birth date.
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {"pool_pre_ping": True, "hide_parameters": True}
    # SQLite only: how long a writer waits for another process's write to finish.
    SQLITE_BUSY_TIMEOUT_MS = _int("SQLITE_BUSY_TIMEOUT_MS", 10_000)

    # Session cookies: the app holds no personal data in them, but keep them out of scripts.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = 4 * 3600  # a youth may take a while to fill the form on a phone

    # The clinic
    CLINIC_NAME = os.environ.get("CLINIC_NAME", "Mission Youth Tattoo Removal Clinic")
    CLINIC_ADDRESS = os.environ.get("CLINIC_ADDRESS", "2500 Mission Street, San Francisco, CA")
    CLINIC_PHONE = os.environ.get("CLINIC_PHONE", "(415) 555-0134")
    # How text messages sign: a lock screen shows them, so no word of the treatment.
    CLINIC_SMS_NAME = os.environ.get("CLINIC_SMS_NAME", "Mission Youth Clinic")
    CLINIC_TZ = os.environ.get("CLINIC_TZ", "America/Los_Angeles")

    # The schedule: an ordinary clinic day
    CLINIC_DAY_START = os.environ.get("CLINIC_DAY_START", "16:00")
    CLINIC_DAY_END = os.environ.get("CLINIC_DAY_END", "20:00")
    SLOT_MINUTES = _int("SLOT_MINUTES", 20)
    SEATS_PER_SLOT = _int("SEATS_PER_SLOT", 2)

    # The booking window
    BOOKING_HORIZON_DAYS = _int("BOOKING_HORIZON_DAYS", 60)
    BOOKING_CUTOFF_HOURS = _int("BOOKING_CUTOFF_HOURS", 2)

    # The age rule: eligible from MIN_AGE to MAX_AGE on the appointment date;
    # under GUARDIAN_AGE a parent or guardian must consent.
    MIN_AGE = _int("MIN_AGE", 13)
    MAX_AGE = _int("MAX_AGE", 25)
    GUARDIAN_AGE = _int("GUARDIAN_AGE", 18)

    # The clinic day
    # Treatment stations (lasers with a clinician), by the names staff use.
    STATIONS = tuple(
        name.strip()
        for name in os.environ.get("STATIONS", "Laser 1,Laser 2").split(",")
        if name.strip()
    )
    # Booked youth not here this long after their slot starts are offered as no-shows.
    NO_SHOW_GRACE_MINUTES = _int("NO_SHOW_GRACE_MINUTES", 15)
    # The skin heals between sessions: the next one no sooner than this after the last.
    FOLLOW_UP_MIN_WEEKS = _int("FOLLOW_UP_MIN_WEEKS", 6)
    # How often open staff screens fetch the queue (seconds).
    QUEUE_REFRESH_SECONDS = _int("QUEUE_REFRESH_SECONDS", 5)

    # How staff passwords are hashed (werkzeug's method string). scrypt is werkzeug's default
    # and costs about 0.1 s a hash on purpose; only the test configuration makes it cheap.
    PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")

    # Staff sessions: signed out after this long without a request.
    STAFF_IDLE_MINUTES = _int("STAFF_IDLE_MINUTES", 30)
    # Failed sign-ins allowed (Flask-Limiter syntax): for one account from one address, from
    # one address over all accounts, and for one account from anywhere.
    LOGIN_LIMIT_PER_ACCOUNT_ADDRESS = os.environ.get(
        "LOGIN_LIMIT_PER_ACCOUNT_ADDRESS", "5 per 15 minutes"
    )
    LOGIN_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "20 per 15 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "50 per hour")
    # Where the limits are counted: memory:// is per process; several workers or app servers
    # must share redis://host:6379.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = False
    # A moving window: no burst of twice the limit across a window's edge.
    RATELIMIT_STRATEGY = "moving-window"
    # Behind a TLS proxy every request comes from the proxy: trust this many proxies'
    # X-Forwarded-For, so the per-address sign-in limit counts real addresses (0: none).
    PROXY_FIX_X_FOR = _int("PROXY_FIX_X_FOR", 0)

    LANGUAGES = ("en", "es")
    BABEL_DEFAULT_LOCALE = "en"

    # Messages to youth (clinic.outbox). Reminders go out this many days before at
    # REMINDER_EARLY_AT, and on the day at REMINDER_SAME_DAY_AT, clinic time ("" or 0: off).
    REMINDER_DAYS_BEFORE = _int("REMINDER_DAYS_BEFORE", 2)
    REMINDER_EARLY_AT = os.environ.get("REMINDER_EARLY_AT", "10:00")
    REMINDER_SAME_DAY_AT = os.environ.get("REMINDER_SAME_DAY_AT", "09:00")
    # The worker: tries per message before it is dead, the backoff between tries (doubling
    # from the base up to the cap, with +-20% jitter), how long a claim lasts before another
    # worker may take the message over, and how often `--loop` looks for due messages.
    OUTBOX_MAX_ATTEMPTS = _int("OUTBOX_MAX_ATTEMPTS", 10)
    OUTBOX_RETRY_BASE_SECONDS = _int("OUTBOX_RETRY_BASE_SECONDS", 60)
    OUTBOX_RETRY_CAP_SECONDS = _int("OUTBOX_RETRY_CAP_SECONDS", 3600)
    OUTBOX_CLAIM_SECONDS = _int("OUTBOX_CLAIM_SECONDS", 300)
    OUTBOX_BATCH_SIZE = _int("OUTBOX_BATCH_SIZE", 20)
    OUTBOX_POLL_SECONDS = _int("OUTBOX_POLL_SECONDS", 2)
    # E-mail over SMTP (Flask-Mailman). No MAIL_SERVER: e-mails wait in the outbox.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = _int("MAIL_PORT", 587)
    MAIL_USE_TLS = _flag("MAIL_USE_TLS", True)  # STARTTLS
    MAIL_USE_SSL = _flag("MAIL_USE_SSL", False)  # TLS from the first byte (port 465)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "clinic@localhost")
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 15)
    MAIL_BACKEND = "smtp"
    # Text messages through Twilio. No account: texts wait in the outbox.
    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
    TWILIO_FROM = os.environ.get("TWILIO_FROM", "")  # a number, or a Messaging Service SID
    TWILIO_TIMEOUT = _int("TWILIO_TIMEOUT", 15)
    # Only for tests and staging: where the Messages API is (a local fake answers there).
    TWILIO_API_URL = os.environ.get("TWILIO_API_URL", "https://api.twilio.com")


class DevelopmentConfig(Config):
    # A fixed key is fine on a developer's laptop and nowhere else.
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-only-not-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    # The suite signs in hundreds of times: one round of PBKDF2 instead of scrypt's 0.1 s.
    # Never outside tests: create_app refuses a weak method in any other configuration.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
