"""The app under gunicorn, as production runs it, and browsers that talk to it over HTTP.

Used by the race, crash and backup tests: real worker processes, real sockets, the
production configuration (CSRF on, secure cookies), a real database.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

from tests.conftest import intake_data

ROOT = Path(__file__).resolve().parent.parent
# Shared by every server of a test, as app servers behind one load balancer share theirs.
SECRET_KEY = "live-test-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One gunicorn master with sync workers, serving ``wsgi:app`` on ``database_url``."""

    def __init__(self, database_url: str, log_dir: Path, workers: int = 4, **settings: str):
        self.port = free_port()
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        self.env = {
            **os.environ,
            "CLINIC_ENV": "production",
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": database_url,
            **settings,
        }
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the handle
            self.process = self._spawn(log)
        self.wait_until_ready()
        return self

    def _spawn(self, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_until_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log_path}\n{self.log()}")
            if len(self.worker_pids()) == self.workers:
                try:
                    if Browser(self).get("/healthz").status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer in {timeout}s:\n{self.log()}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def kill_a_worker(self, pid: int) -> None:
        """SIGKILL: no cleanup, no rollback from the worker itself, as in an OOM kill."""
        with contextlib.suppress(ProcessLookupError):  # it died already
            os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Browser:
    """One person's browser: its own cookies, one request at a time (or many, when a test
    double-clicks on purpose)."""

    server: Server
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict | None = None) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        headers = {"Accept-Language": "en", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            response = Response(
                raw.status,
                {k.lower(): v for k, v in raw.getheaders()},
                raw.read().decode("utf-8", "replace"),
            )
        finally:
            connection.close()
        for header, value in raw.getheaders():
            # The cookies are marked Secure (production) but this is plain HTTP on loopback.
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict) -> Response:
        return self.request("POST", path, form)


def hidden_value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', page
    )
    if match is None:
        raise AssertionError(f"no hidden {name} in the page")
    return match.group(1)


@dataclass
class Youth:
    """Someone about to book: their browser holds the intake form, filled in."""

    browser: Browser
    path: str
    form: dict

    def submit(self) -> Response:
        return self.browser.post(self.path, self.form)


def open_intake(server: Server, day: str, start: str, n: int) -> Youth:
    """A youth opens the intake form for ``day`` at ``start`` and fills it in as youth ``n``."""
    browser = Browser(server)
    path = f"/book/{day}/{start}"
    page = browser.get(path)
    assert page.status == 200, (page.status, page.body[:500])
    form = intake_data(
        csrf_token=hidden_value(page.body, "csrf_token"),
        submission_key=hidden_value(page.body, "submission_key"),
        slot_time=start,
        first_name=f"Racer{n}",
        last_name="Live",
        date_of_birth=f"{2004 + n % 4}-0{1 + n % 9}-1{n % 10}",
        phone=f"415555{n % 10000:04d}",
        language="en",
    )
    return Youth(browser, path, form)


FILLED_UP = "this time just filled up"
ALREADY_BOOKED = "already an upcoming appointment for this name and date of birth"


def outcome(response: Response) -> str:
    """'booked', 'full', 'already booked', or what else happened."""
    if response.status == 303 and response.location.endswith("/book/confirmed"):
        return "booked"
    if response.status == 422 and FILLED_UP in response.body:
        return "full"
    if response.status == 422 and ALREADY_BOOKED in response.body:
        return "already booked"
    return f"unexpected {response.status}: {response.body[:300]!r}"


def confirmation_code(browser: Browser) -> str:
    page = browser.get("/book/confirmed")
    assert page.status == 200, page.status
    return re.search(r'<p class="code"[^>]*>(\w+)</p>', page.body).group(1)


def _open_days(server: Server) -> list[dict]:
    """The server's bookable days (real clock), except today: a trial must not straddle a
    slot's booking cutoff on a clinic Tuesday."""
    availability = json.loads(Browser(server).get("/api/availability").body)
    today = availability["generated_at"][:10]
    return [day for day in availability["days"] if day["date"] != today]


def bookable_slots(server: Server) -> tuple[str, list[str]]:
    """The first clinic day with bookable times, and all of them."""
    for day in _open_days(server):
        starts = [slot["start"] for slot in day["slots"] if slot["bookable"]]
        if starts:
            return day["date"], starts
    raise AssertionError("no bookable slot in the booking window")


def bookable_pairs(server: Server) -> list[tuple[str, str]]:
    """Every (day, start) the server offers for booking now."""
    days = _open_days(server)
    return [(d["date"], s["start"]) for d in days for s in d["slots"] if s["bookable"]]


def wipe_bookings(database_url: str) -> None:
    """Remove every booking (not staff, not the schema) between trials."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        for table in ("intake", "appointment", "youth", "slot"):
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
