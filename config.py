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

    # Security headers (clinic/web/headers.py; the Content-Security-Policy is fixed there).
    # HSTS: after one visit over https, browsers use only https for this long (seconds) on
    # this host and its subdomains; 0: not sent. Production sends it (below); development and
    # tests run over plain http.
    HSTS_SECONDS = 0

    # The clinic
    CLINIC_NAME = os.environ.get("CLINIC_NAME", "Mission Youth Tattoo Removal Clinic")
    # Who runs the clinic, named in every page's footer: a youth (and a parent) should know
    # whom they are trusting with their skin and their details.
    CLINIC_ORGANISATION = os.environ.get("CLINIC_ORGANISATION", "Mission Community Youth Services")
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

    # A valid online request is answered no sooner than this (milliseconds) after it came in,
    # whether it was booked or declined in a message to the youth: booking writes more rows
    # than declining, and the difference must not tell a visitor that a name is a client's.
    BOOKING_ANSWER_FLOOR_MS = _int("BOOKING_ANSWER_FLOOR_MS", 120)

    # The public pages that read the same for every visitor (home, the days and times with
    # seats left, each booking step's empty form, the lists' and "Lost your link?" forms) are
    # kept this many seconds per worker, per address and language (clinic/web/page_cache.py):
    # when a month's days open and many youth arrive at once, one render serves them all.
    # A seat count shown may be this much older; booking itself is always decided by the
    # database. 0: every page rendered afresh.
    PUBLIC_PAGE_CACHE_SECONDS = float(os.environ.get("PUBLIC_PAGE_CACHE_SECONDS", "2"))

    # No-show history: a youth with this many no-shows within the last NO_SHOW_RECENT_DAYS
    # is marked on the day sheet, so the desk can call them the day before.
    NO_SHOW_FLAG_COUNT = _int("NO_SHOW_FLAG_COUNT", 2)
    NO_SHOW_RECENT_DAYS = _int("NO_SHOW_RECENT_DAYS", 365)
    # Reports: a youth's course counts as finished at this many completed sessions (DOMAIN.md:
    # usually 6 to 10; amateur tattoos about 5). Roles besides the admin that see the reports
    # and their exports (comma-separated: front_desk, clinician); none by default.
    COURSE_SESSIONS = _int("COURSE_SESSIONS", 6)
    REPORTS_ROLES = tuple(
        role.strip() for role in os.environ.get("REPORTS_ROLES", "").split(",") if role.strip()
    )

    # The clinician roster: each clinician rostered on a day opens this many seats per slot
    # (and one station); a day without a roster keeps SEATS_PER_SLOT and STATIONS.
    SEATS_PER_CLINICIAN = _int("SEATS_PER_CLINICIAN", 1)

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

    # --- Staff sign-in and sessions (clinic/web/auth/views.py explains the design) ---
    # Staff sessions: signed out after this long without a request...
    STAFF_IDLE_MINUTES = _int("STAFF_IDLE_MINUTES", 30)
    # ...and this long after signing in, however active (each sign-in is its own session).
    STAFF_SESSION_HOURS = _int("STAFF_SESSION_HOURS", 12)
    # Failed sign-ins allowed, in Flask-Limiter's syntax; several limits joined by ";" all
    # apply. A browser where the account signed in before carries a device cookie for it, and
    # only its own failures count against it (PER_DEVICE). Any other browser counts against
    # the account from its address (PER_ACCOUNT_ADDRESS) and against the account from every
    # such browser together (UNTRUSTED_PER_ACCOUNT): 5 failures pause new devices for a
    # minute, 10 for five, 20 for fifteen, 50 for a day. An admin can unlock the account.
    LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = os.environ.get(
        "LOGIN_FAILURES_PER_ACCOUNT_ADDRESS", "5 per 15 minutes"
    )
    LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT = os.environ.get(
        "LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT",
        "5 per minute; 10 per 5 minutes; 20 per 15 minutes; 50 per day",
    )
    LOGIN_FAILURES_PER_DEVICE = os.environ.get(
        "LOGIN_FAILURES_PER_DEVICE", "10 per 15 minutes; 50 per day"
    )
    # How long a device cookie (HttpOnly, SameSite=Strict, signed with SECRET_KEY) lasts after
    # the last sign-in on that browser. It is Secure and named __Host-device whenever the
    # session cookie is Secure (production), plain "device" otherwise.
    DEVICE_COOKIE_DAYS = _int("DEVICE_COOKIE_DAYS", 180)
    # Two-step sign-in (TOTP, clinic/accounts.py): the roles that must have it, "admin" or
    # "all" (or roles separated by commas; admins always must). Everyone else may turn it on
    # from their own account page. Tests keep "admin": they prove admins need it.
    TWO_FACTOR_ROLES = os.environ.get("TWO_FACTOR_ROLES", "admin")
    # How long the second step waits after a right password (seconds): the password's
    # success is kept that long in the signed session cookie, and no session exists before.
    TWO_FACTOR_PENDING_SECONDS = _int("TWO_FACTOR_PENDING_SECONDS", 300)
    # --- end of staff sign-in ---
    # Where the limits are counted: memory:// is per process; several workers or app servers
    # must share redis://host:6379.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Keeps this app's counts apart in a Redis that other apps (or test runs) share.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "clinic")
    # Off only where limits are not the point (the load tests' servers): never in production.
    RATELIMIT_ENABLED = _flag("RATELIMIT_ENABLED", True)
    # Production refuses memory:// (each worker would count apart) unless this says the app
    # really runs as a single process.
    RATELIMIT_SINGLE_PROCESS = _flag("RATELIMIT_SINGLE_PROCESS", False)
    # If the shared store is down, serve without limits rather than refuse every booking
    # (the failure is logged).
    RATELIMIT_SWALLOW_ERRORS = _flag("RATELIMIT_SWALLOW_ERRORS", True)
    # Limits on what an outsider can repeat (Flask-Limiter syntax; see clinic/web/limits.py).
    # Online booking requests that got as far as "request received", per address and per
    # contact (phone or e-mail) typed; behind a proxy, PROXY_FIX_X_FOR must be set or every
    # visitor counts as the proxy's one address.
    BOOKING_LIMIT_PER_ADDRESS = os.environ.get("BOOKING_LIMIT_PER_ADDRESS", "5 per hour;10 per day")
    BOOKING_LIMIT_PER_CONTACT = os.environ.get("BOOKING_LIMIT_PER_CONTACT", "3 per day")
    AVAILABILITY_LIMIT_PER_ADDRESS = os.environ.get(
        "AVAILABILITY_LIMIT_PER_ADDRESS", "60 per minute"
    )
    # Staff pages that show youth records (searches, records), per account.
    STAFF_RECORD_READS_PER_ACCOUNT = os.environ.get(
        "STAFF_RECORD_READS_PER_ACCOUNT", "60 per minute;600 per hour"
    )
    # "Lost your link?" look-ups (a contact and a date of birth), per address and per contact.
    LOST_LINK_LIMIT_PER_ADDRESS = os.environ.get(
        "LOST_LINK_LIMIT_PER_ADDRESS", "5 per hour;20 per day"
    )
    LOST_LINK_LIMIT_PER_CONTACT = os.environ.get("LOST_LINK_LIMIT_PER_CONTACT", "3 per day")
    # Opening a youth's link (/my/<token>), and what is done from it, per address: a token is
    # 256 bits and cannot be guessed, but nobody gets to try millions.
    LINK_LIMIT_PER_ADDRESS = os.environ.get("LINK_LIMIT_PER_ADDRESS", "60 per hour")
    # Messages the worker sends to one phone number or e-mail address; more wait a day.
    MESSAGES_PER_DESTINATION = os.environ.get("MESSAGES_PER_DESTINATION", "8 per day")
    RATELIMIT_HEADERS_ENABLED = False
    # A moving window: no burst of twice the limit across a window's edge.
    RATELIMIT_STRATEGY = "moving-window"
    # Behind a TLS proxy every request comes from the proxy: trust this many proxies'
    # X-Forwarded-For, so the per-address sign-in limit counts real addresses (0: none; staff
    # who signed in on a browser before are never locked out by that address's failures).
    PROXY_FIX_X_FOR = _int("PROXY_FIX_X_FOR", 0)

    # --- Self-service (clinic/booking/links.py, lists.py, offers.py) ---
    # Links in messages start with this (the worker writes them outside any request).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    # A visit's link works until the end of its day; after a treatment, this many days more
    # (to book the next session); a list entry's, this many days after it closed.
    LINK_DAYS_AFTER_TREATMENT = _int("LINK_DAYS_AFTER_TREATMENT", 120)
    LINK_DAYS_AFTER_LIST = _int("LINK_DAYS_AFTER_LIST", 14)
    # An offered seat (standby or waiting list) is held this many hours for its claim, this
    # many when its day is tomorrow or today, and is not offered with less than
    # OFFER_LEAST_MINUTES to answer before booking closes for it.
    OFFER_HOLD_HOURS = _int("OFFER_HOLD_HOURS", 12)
    OFFER_HOLD_HOURS_CLOSE = _int("OFFER_HOLD_HOURS_CLOSE", 2)
    OFFER_LEAST_MINUTES = _int("OFFER_LEAST_MINUTES", 30)
    # The program waiting list's order: these rules first, in this order, then joining date.
    # "visible": a tattoo on the face, neck or hands; "referral": sent by a job or re-entry
    # program. Empty: joining date only.
    WAITLIST_PRIORITY = os.environ.get("WAITLIST_PRIORITY", "visible,referral")
    # "About 5 weeks" is estimated from the invitations of this many recent weeks.
    WAITLIST_RATE_WEEKS = _int("WAITLIST_RATE_WEEKS", 8)
    # --- end of self-service ---

    # Retention (clinic/records/privacy.py, `flask privacy purge`): a youth with no appointment
    # and no waiting-list place for this many years has their personal data erased; the
    # anonymous facts the reports count stay.
    RETENTION_YEARS = _int("RETENTION_YEARS", 3)

    # Encryption at rest (clinic/crypto.py; README "Data at rest"). DATA_KEYS: Fernet keys
    # separated by commas, the first encrypts, all decrypt (`flask keys generate` makes one;
    # to rotate, put the new key first, run `flask keys rotate`, then drop the old one).
    # BLIND_INDEX_KEY: a separate secret for the keyed hashes that let staff search by phone
    # and e-mail. Both required in production; development generates them into the instance
    # folder once.
    DATA_KEYS = os.environ.get("DATA_KEYS", "")
    BLIND_INDEX_KEY = os.environ.get("BLIND_INDEX_KEY", "")

    LANGUAGES = ("en", "es")
    BABEL_DEFAULT_LOCALE = "en"
    # Dates and times follow the conventions of the clinic's country, in the page's language
    # (clinic/formats.py): Spanish in San Francisco is es_US, "4:20 p.m.", not Spain's "16:20".
    LOCALE_TERRITORY = os.environ.get("LOCALE_TERRITORY", "US")

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
    # Messages to youth are written here as text files instead of sent (clinic/messaging/
    # transports.py), so a fresh clone can read them and open their links; "" sends them
    # through MAIL_SERVER and Twilio as configured. Never in production (create_app refuses).
    LETTERBOX_DIR = os.environ.get("LETTERBOX_DIR", str(INSTANCE_DIR / "letterbox"))


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-only-not-secret"  # the test configuration only  # nosec B105
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    # The suite signs in hundreds of times: one round of PBKDF2 instead of scrypt's 0.1 s.
    # Never outside tests: create_app refuses a weak method in any other configuration.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"  # a method name, tests only  # nosec B105
    # Fixed keys, so a test's database reads back the same everywhere: tests only.
    DATA_KEYS = "1XI7OKgoO9UFkLJ-STwnUJ-hb3UVuLX1ZEbo_DC9Jxg="  # tests only  # nosec B105
    BLIND_INDEX_KEY = "test-only-blind-index-key"  # tests only  # nosec B105
    # Hundreds of bookings: the timing test sets the production floor itself.
    BOOKING_ANSWER_FLOOR_MS = 0
    # Tests book and look again at once: the page cache's own tests turn it on.
    PUBLIC_PAGE_CACHE_SECONDS = 0.0
    # Tests book and read from one address and one phone far more than a person would: the
    # limits' own tests (tests/booking/test_limits.py) set the ones they try.
    BOOKING_LIMIT_PER_ADDRESS = BOOKING_LIMIT_PER_CONTACT = "10000 per hour"
    AVAILABILITY_LIMIT_PER_ADDRESS = STAFF_RECORD_READS_PER_ACCOUNT = "10000 per minute"
    MESSAGES_PER_DESTINATION = "10000 per day"
    LOST_LINK_LIMIT_PER_ADDRESS = LOST_LINK_LIMIT_PER_CONTACT = "10000 per hour"
    LINK_LIMIT_PER_ADDRESS = "10000 per hour"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    # __Host-: browsers accept the cookie only if it is Secure, for Path=/ and without a
    # Domain, so neither a subdomain nor a plain-http page can plant or overwrite it.
    SESSION_COOKIE_NAME = "__Host-session"
    # The same for Flask-Login's remember-me cookie, should sign-in ever offer it.
    REMEMBER_COOKIE_NAME = "__Host-remember_token"
    REMEMBER_COOKIE_SECURE = True
    HSTS_SECONDS = _int("HSTS_SECONDS", 365 * 24 * 3600)  # one year


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
