"""The security headers (clinic/web/headers.py): a strict Content-Security-Policy and the rest
on every route, for every audience; HSTS and __Host- cookies in production only; and no
template served to a browser that the policy would break.

The expected policy is written out here by hand, apart from the code that sets it, so a
loosened directive fails. The browser tests check the same policy from Chromium's side: they
fail on any violation it reports (tests/support/browsers.py).
"""

from __future__ import annotations

import re
import secrets
from datetime import time
from pathlib import Path

import pytest
from flask import Response
from flask_login import UserMixin, login_user
from sqlalchemy import select

from clinic import create_app
from clinic.extensions import db
from clinic.models import Appointment, StaffRole, Youth
from tests.conftest import NEXT_DAY, PASSWORD, intake_data, intake_url
from tests.conftest import sign_in as form_sign_in

ROOT = Path(__file__).resolve().parents[2]

CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
DENIED_FEATURES = (
    "camera",
    "microphone",
    "geolocation",
    "payment",
    "usb",
    "browsing-topics",
    "interest-cohort",
)
ONE_YEAR = 365 * 24 * 3600


def policy(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} twice"
        directives[name] = sources
    return directives


def assert_strict_headers(response, where: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert policy(csp) == CSP, where
    assert "unsafe" not in csp, where  # no 'unsafe-inline', 'unsafe-eval', 'unsafe-hashes'
    assert "Content-Security-Policy-Report-Only" not in headers, where  # enforced, not reported
    permissions = dict(
        feature.strip().split("=", 1) for feature in headers["Permissions-Policy"].split(",")
    )
    for feature in DENIED_FEATURES:
        assert permissions.get(feature) == "()", (where, feature)
    assert headers["X-Frame-Options"] == "DENY", where
    assert headers["X-Content-Type-Options"] == "nosniff", where
    assert headers["Referrer-Policy"] == "no-referrer", where
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin", where
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin", where


# --- Every GET route, for every audience --------------------------------------------------


@pytest.fixture
def world(app, client, make_staff):
    """A booked youth, and one signed-in client per role beside the anonymous one."""
    assert client.post(intake_url(), data=intake_data()).status_code == 303
    clients = {"anonymous": app.test_client()}
    for role in StaffRole:
        user = make_staff(role)
        signed_in = app.test_client()
        response = form_sign_in(signed_in, user.email, PASSWORD)
        assert response.status_code == 303, role
        clients[role.value] = signed_in
    youth_id = db.session.scalar(select(Youth.id))
    values = {
        "day": NEXT_DAY,
        "start": time(16, 0),
        "appointment_id": db.session.scalar(select(Appointment.id)),
        "youth_id": youth_id,
        "other_id": youth_id,
        "user_id": user.id,
        "filename": "clinic.css",
        "entry_id": 1,  # a list entry (none here: a 404 carries the headers too)
        "token": "A" * 43,  # a youth's link (one that does not work: the same headers)
    }
    return clients, values


@pytest.mark.parametrize("audience", ["anonymous", *(role.value for role in StaffRole)])
def test_every_get_route_carries_the_headers(app, world, audience):
    clients, values = world
    client = clients[audience]
    rules = [rule for rule in app.url_map.iter_rules() if "GET" in rule.methods]
    answered = set()
    for rule in rules:
        url = rule.build(values, append_unknown=False)[1]
        with client.get(url) as response:  # closed: a static file's response holds it open
            assert response.status_code < 500, (url, response.status_code)
            assert_strict_headers(response, url)
            if response.status_code == 200:
                answered.add(rule.endpoint)
    # Each audience saw real pages, not only redirects to sign in.
    assert {"public.home", "public.availability_api", "healthz", "static"} <= answered
    if audience != "anonymous":
        assert {"staff.day", "staff.youth_record", "staff.own_password"} <= answered
    # Errors and sign-in pages too.
    assert_strict_headers(client.get("/no-such-page"), "404")
    assert_strict_headers(clients["anonymous"].get("/auth/login"), "login")


@pytest.mark.parametrize(
    "url",
    ["/", "/book", "/api/availability", "/healthz", "/auth/login", "/now-serving", intake_url()],
)
def test_public_pages_carry_the_headers(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    assert_strict_headers(response, url)


def test_a_signed_in_staff_page_carries_the_headers(client, staff, login):
    login(staff[StaffRole.FRONT_DESK])
    response = client.get(f"/staff/day/{NEXT_DAY.isoformat()}")
    assert response.status_code == 200
    assert_strict_headers(response, "day page")


# --- Development, tests and production ----------------------------------------------------


@pytest.fixture
def production(monkeypatch):
    """An app under the production configuration (no database needed for these pages)."""
    from config import ProductionConfig, TestingConfig

    monkeypatch.setenv("CLINIC_ENV", "production")
    for name, value in {
        "SECRET_KEY": "a production key",
        "DATA_KEYS": TestingConfig.DATA_KEYS,
        "BLIND_INDEX_KEY": TestingConfig.BLIND_INDEX_KEY,
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        # Shared counts, as production must have them; nothing here signs in.
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15",
        "RATELIMIT_KEY_PREFIX": f"headers-{secrets.token_hex(4)}",
    }.items():
        monkeypatch.setattr(ProductionConfig, name, value, raising=False)
    return create_app()


@pytest.fixture
def development(monkeypatch):
    from config import DevelopmentConfig

    monkeypatch.setenv("CLINIC_ENV", "development")
    monkeypatch.setattr(DevelopmentConfig, "SQLALCHEMY_DATABASE_URI", "sqlite://")
    return create_app()


def cookies(response) -> dict[str, list[str]]:
    """The cookies a response sets: each name, and its attributes."""
    found = {}
    for cookie in response.headers.getlist("Set-Cookie"):
        name, _, rest = cookie.partition("=")
        found[name] = [attribute.strip() for attribute in rest.split(";")[1:]]
    return found


def test_production_sends_hsts_for_a_year(production):
    assert production.config["CLINIC_ENV"] == "production"
    for url in ("/healthz", "/auth/login"):
        response = production.test_client().get(url)
        assert_strict_headers(response, url)
        # Behind the TLS proxy the app sees plain http; the header goes out all the same.
        assert response.headers["Strict-Transport-Security"] == (
            f"max-age={ONE_YEAR}; includeSubDomains"
        )


def test_development_and_tests_send_no_hsts(development, client):
    for app_client in (development.test_client(), client):
        response = app_client.get("/auth/login")
        assert_strict_headers(response, "login")
        assert "Strict-Transport-Security" not in response.headers


def test_production_session_cookie_is_host_prefixed_and_secure(production):
    # The sign-in form's CSRF token is the first thing kept in the session.
    set_here = cookies(production.test_client().get("/auth/login"))
    assert "session" not in set_here
    attributes = set_here["__Host-session"]
    assert "Secure" in attributes and "HttpOnly" in attributes and "SameSite=Lax" in attributes
    assert "Path=/" in attributes
    assert not any(attribute.lower().startswith("domain") for attribute in attributes)


def test_production_remember_cookie_would_be_host_prefixed_too(production):
    """Sign-in offers no "remember me" today; should it ever, its cookie is __Host- too."""

    class User(UserMixin):
        id = "a-session-token"

    with production.test_request_context("/auth/login", method="POST"):
        login_user(User(), remember=True)
        response = production.process_response(Response())
    set_here = cookies(response)
    remember = set_here["__Host-remember_token"]
    assert "Secure" in remember and "HttpOnly" in remember and "Path=/" in remember
    assert not any(attribute.lower().startswith("domain") for attribute in remember)
    assert "remember_token" not in set_here and "__Host-session" in set_here


def test_development_and_test_cookies_work_over_plain_http(development, client):
    """Only production marks the session cookie Secure: over plain http it must not be."""
    for app in (development, client.application):
        attributes = cookies(app.test_client().get("/auth/login"))["session"]
        assert "Secure" not in attributes
        assert "HttpOnly" in attributes and "SameSite=Lax" in attributes


def test_no_redirect_to_https(production):
    """TLS ends at the proxy: the app itself answers plain http, never a redirect to https."""
    response = production.test_client().get("/auth/login")
    assert response.status_code == 200


# --- Templates and static files within the policy -----------------------------------------

TEMPLATES = ROOT / "templates"
# E-mail bodies are read in mail clients, never served by the app.
NOT_SERVED = TEMPLATES / "messages"

FORBIDDEN_IN_TEMPLATES = {
    "an inline script": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "a <style> block": re.compile(r"<style[\s>]", re.I),
    "a style attribute": re.compile(r"\sstyle\s*=", re.I),
    "an event handler attribute": re.compile(r"\son[a-z]+\s*=\s*[\"'{]", re.I),
    "a javascript: URL": re.compile(r"=\s*[\"']?\s*javascript:", re.I),
    "another origin": re.compile(r"(src|href|action)\s*=\s*[\"']?(https?:)?//", re.I),
}


def served_templates() -> list[Path]:
    return sorted(
        path
        for path in TEMPLATES.rglob("*.html")
        if not path.is_relative_to(NOT_SERVED) and path.is_file()
    )


def test_the_scan_finds_what_it_looks_for():
    offenders = {
        "an inline script": "<script>alert(1)</script>",
        "a <style> block": "<style>p {}</style>",
        "a style attribute": '<p style="color: red">',
        "an event handler attribute": '<button onclick="go()">',
        "a javascript: URL": '<a href="javascript:go()">',
        "another origin": '<img src="https://example.com/x.png">',
    }
    for what, html in offenders.items():
        assert FORBIDDEN_IN_TEMPLATES[what].search(html), what
    fine = '<script src="/static/queue.js" defer></script><p class="on-time" data-print>'
    assert not any(pattern.search(fine) for pattern in FORBIDDEN_IN_TEMPLATES.values())


def test_served_templates_stay_within_the_policy():
    templates = served_templates()
    assert len(templates) > 20  # the walk found them
    found = [
        f"{path.relative_to(ROOT)}: {what}: {match.group(0)!r}"
        for path in templates
        for what, pattern in FORBIDDEN_IN_TEMPLATES.items()
        for match in pattern.finditer(path.read_text())
    ]
    assert found == []


FORBIDDEN_IN_SCRIPTS = {
    "eval": re.compile(r"\beval\s*\("),
    "new Function": re.compile(r"\bnew\s+Function\b"),
    "code as a string to a timer": re.compile(r"\bset(Timeout|Interval)\s*\(\s*[\"'`]"),
    "an inline style set as an attribute": re.compile(r"setAttribute\s*\(\s*[\"']style"),
    "another origin": re.compile(r"[\"'`](https?:)?//"),
}


def test_static_files_stay_within_the_policy():
    static = ROOT / "clinic" / "static"
    found = [
        f"{path.name}: {what}"
        for path in sorted(static.glob("*.js"))
        for what, pattern in FORBIDDEN_IN_SCRIPTS.items()
        if pattern.search(path.read_text())
    ]
    css = (static / "clinic.css").read_text()
    # Fonts, images and imports only from here (font-src, img-src, style-src 'self').
    found += [f"clinic.css: {url}" for url in re.findall(r"url\(\s*[\"']?[^)]*:", css)]
    found += ["clinic.css: @import"] if "@import" in css else []
    assert found == []
