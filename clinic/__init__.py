"""The clinic's Flask application factory: configuration, extensions, blueprints, error pages
and commands, each registered by its own helper.

The package's layers, top to bottom (checked by ``make lint``, see pyproject.toml): the edges
(``web``, ``commands``); the capabilities that use others (``records``, ``schedule``,
``clinic_day``); ``booking``; ``messaging`` and ``accounts``; ``formats``, ``models`` and
``database``; ``settings``, ``extensions`` and ``vocab``; the pure ``permissions`` and
``rules``. A module imports only from layers below its own.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import traceback
from collections.abc import Mapping
from typing import Any

from flask import Flask, render_template, request
from flask.globals import request_ctx
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from clinic.web.converters import ClockConverter, IsoDateConverter, RowIdConverter
from config import CONFIGS


class _Clinic(Flask):
    """Flask, less two questions it asks again on every request with the same answer."""

    _KNOWN_SYNC_LIMIT = 4096  # hooks and views are a few hundred; a bound never reached

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known_sync: set[Any] = set()
        self.session_interface = _SessionCookies()

    def ensure_sync(self, func: Any) -> Any:
        # Flask asks for each hook and view, on each request, whether it is a coroutine
        # function (inspect, a dozen times a request): the answer never changes.
        try:
            if func in self._known_sync:
                return func
        except TypeError:  # unhashable: ask as Flask does
            return super().ensure_sync(func)
        found = super().ensure_sync(func)
        if found is func and len(self._known_sync) < self._KNOWN_SYNC_LIMIT:
            self._known_sync.add(func)
        return found


class _SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, with its signer built once per secret key rather than
    on every request (twice: to open the session and to save it)."""

    _signer: tuple[Any, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._signer is None or self._signer[0] != keys:
            self._signer = (keys, super().get_signing_serializer(app))
        return self._signer[1]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``CLINIC_ENV`` picks the configuration; tests pass ``test_config``."""
    app = _Clinic(__name__, template_folder="../templates")
    # Production unless told otherwise: a forgotten variable must never mean a public key.
    env = "testing" if test_config is not None else os.environ.get("CLINIC_ENV", "production")
    app.config.from_object(CONFIGS[env])
    app.config["CLINIC_ENV"] = env
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set outside development and tests")
    if env == "production" and app.config.get("LETTERBOX_DIR"):
        # It writes every message, with the youth's contact and link, to a file.
        raise RuntimeError("LETTERBOX_DIR is for development only: unset it in production")
    from clinic.accounts import strong_hash_method

    if env != "testing" and not strong_hash_method(app.config["PASSWORD_HASH_METHOD"]):
        # Only the test configuration may hash cheaply: it signs in hundreds of times.
        raise RuntimeError("PASSWORD_HASH_METHOD is too weak for staff passwords")
    _refuse_per_process_limits(app)
    from clinic.settings import reminder_policy

    reminder_policy(app.config)  # REMINDER_*_AT: a typo stops the app here, not every booking
    from clinic import crypto

    crypto.init_app(app)  # DATA_KEYS and BLIND_INDEX_KEY: required, or generated in development
    # The instance folder 0700, an SQLite file (and so its -wal and -shm) 0600.
    crypto.protect_files(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)

    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"])

    app.url_map.converters["isodate"] = IsoDateConverter
    app.url_map.converters["clock"] = ClockConverter
    app.url_map.converters["int"] = RowIdConverter

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)

    @app.get("/healthz")
    def healthz():
        # For the load balancer and the benchmark's baseline: answers without the database.
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    return app


def _refuse_per_process_limits(app: Flask) -> None:
    """In production several workers and app servers serve the clinic: a ``memory://`` store
    would give each its own count, so every limit would allow that many times more. Only an
    explicit single-process setting may keep it."""
    per_process = app.config["RATELIMIT_STORAGE_URI"].startswith("memory://")
    single = app.config["RATELIMIT_SINGLE_PROCESS"] or not app.config["RATELIMIT_ENABLED"]
    if app.config["CLINIC_ENV"] == "production" and per_process and not single:
        raise RuntimeError(
            "RATELIMIT_STORAGE_URI is memory://, which counts each worker apart: set it "
            "to the shared Redis (redis://host:6379/0), or set RATELIMIT_SINGLE_PROCESS=1 "
            "if this app really runs as one process"
        )


def register_extensions(app: Flask) -> None:
    from clinic import audit, database, models
    from clinic.extensions import babel, csrf, db, limiter, login_manager, mail, migrate
    from clinic.web import context, headers, i18n, limits

    db.init_app(app)
    database.init_app(app)
    audit.init_app(app)  # the trail's actor per request; its flush listener loads with it
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    _csrf_check_only_where_it_applies(app)
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_timezone=app.config["CLINIC_TZ"],
    )
    i18n.init_app(app)
    app.context_processor(context.template_translations)  # one catalogue look-up per page
    limiter.init_app(app)
    limits.init_app(app)  # its per-request check only when a limit needs it
    mail.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    _remember_cookie_only_with_a_session(app)
    _current_user_in_templates_when_used(app)

    @login_manager.user_loader
    def load_user(session_token: str) -> models.StaffUser | None:
        # The session holds its sign-in's token, not the account's id: signing out, a password
        # change, a deactivation or STAFF_SESSION_HOURS deletes or expires that sign-in's row,
        # and every copy of the cookie stops working (clinic.accounts.signed_in_user).
        from clinic import accounts

        return accounts.signed_in_user(session_token, app.config["TWO_FACTOR_ROLES"])

    # Content-Security-Policy, Referrer-Policy, HSTS and the rest (clinic/web/headers.py).
    headers.init_app(app)


def _csrf_check_only_where_it_applies(app: Flask) -> None:
    """Flask-WTF's check before every request looks up the view's exemptions before it looks
    at the method, so every GET pays for the look-up only to be let through. A method outside
    ``WTF_CSRF_METHODS`` is let through here at once; every other request is checked exactly
    as before."""
    hooks = app.before_request_funcs[None]
    checks = [hook for hook in hooks if getattr(hook, "__name__", "") == "csrf_protect"]
    if len(checks) != 1:  # Flask-WTF changed how it hooks in: leave it as it is
        return
    check = checks[0]

    def csrf_protect() -> Any:
        if request.method not in app.config["WTF_CSRF_METHODS"]:
            return None
        return check()

    hooks[hooks.index(check)] = csrf_protect


def _remember_cookie_only_with_a_session(app: Flask) -> None:
    """Flask-Login looks into the session after every request for a "remember me" mark.
    Looking marks the session as read, so every response, the health check's included, went
    out with ``Vary: Cookie`` and the session's save step. An empty session (no cookie came
    in and nothing was stored) holds no mark: the hook is skipped then, and runs as before
    whenever the session holds anything."""
    hooks = app.after_request_funcs[None]
    found = [hook for hook in hooks if getattr(hook, "__name__", "") == "_update_remember_cookie"]
    if len(found) != 1 or app.config.get("REMEMBER_COOKIE_REFRESH_EACH_REQUEST"):
        return  # Flask-Login changed how it hooks in, or would add the mark itself: leave it
    update = found[0]

    def _update_remember_cookie(response: Any) -> Any:
        # The context's own attribute: the ``session`` proxy would mark the session as read.
        opened = getattr(request_ctx, "_session", True)
        return update(response) if opened else response

    hooks[hooks.index(update)] = _update_remember_cookie


def _current_user_in_templates_when_used(app: Flask) -> None:
    """Flask-Login gives every template ``current_user`` by loading the user before rendering,
    whether the template looks or not. On a public page that is a session check for nothing
    (and, for a visitor whose session holds only a CSRF secret, a "session protection" reset
    that sent a cookie deletion with every page). Templates get the lazy proxy instead: the
    user is loaded the first time a template reads it, as views already do."""
    processors = app.template_context_processors[None]
    found = [p for p in processors if getattr(p, "__name__", "") == "_user_context_processor"]
    if len(found) != 1:  # Flask-Login changed how it hooks in: leave it
        return

    def _user_context_processor() -> dict[str, Any]:
        return {"current_user": current_user}

    processors[processors.index(found[0])] = _user_context_processor


def register_blueprints(app: Flask) -> None:
    from clinic import web

    web.register_blueprints(app)


class _NoRowValues(logging.Filter):
    """PostgreSQL explains a failed constraint with the row's values ("DETAIL: Failing row
    contains (..., 'Ana', ...)"), which ends up in an error's traceback. Keep it out of logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], DBAPIError):
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = "\n".join(
                line for line in text.rstrip().splitlines() if "DETAIL:" not in line
            )
        return True


def register_errorhandlers(app: Flask) -> None:
    from clinic.database import describe, discard_transaction

    app.logger.addFilter(_NoRowValues())

    def render_error(error):
        code = getattr(error, "code", 500) or 500
        return render_template(f"errors/{code}.html"), code

    for code in (400, 403, 404, 405):
        app.register_error_handler(code, render_error)

    @app.errorhandler(429)
    def too_many_requests(error):
        # A limit's own answer (the booking form, with what was typed) comes as the response.
        if getattr(error, "response", None) is not None:
            return error.response
        limit = getattr(error, "limit", None)
        retry = {"Retry-After": str(limit.limit.get_expiry())} if limit is not None else {}
        if request.path.startswith("/api/"):
            return {"error": "too_many_requests"}, 429, retry
        return render_template("errors/429.html"), 429, retry

    @app.errorhandler(500)
    def internal_error(error):
        discard_transaction()  # never leave a half-written booking behind
        return render_template("errors/500.html"), 500

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        discard_transaction()
        if not _is_transient(error):
            # A missing table or column is a bug or a missed migration, not a hiccup.
            app.logger.error("database error: %s", describe(error))
            return render_template("errors/500.html"), 500
        # Restarting, unreachable, busy: the pool reconnects by itself (pre-ping).
        app.logger.warning("database unavailable: %s", describe(error))
        return render_template("errors/503.html"), 503, {"Retry-After": "30"}


def _is_transient(error: OperationalError) -> bool:
    """Whether trying again in a moment can succeed. On PostgreSQL an OperationalError is a
    lost connection, a shutdown, a deadlock or resource trouble; on SQLite it may also be a
    missing table, so only a busy or locked database counts there."""
    if error.connection_invalidated:
        return True
    if isinstance(error.orig, sqlite3.Error):
        message = str(error.orig).lower()
        return "locked" in message or "busy" in message
    return True


def register_commands(app: Flask) -> None:
    from clinic import commands

    commands.init_app(app)
