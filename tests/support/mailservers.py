"""Real mail and SMS servers on loopback for the outbox tests.

``SmtpServer`` is an aiosmtpd server that keeps what it receives, can refuse recipients the
way a real server does, and can be stopped and started again on the same port ("the mail
server is down, then back"); ``Inbox`` is a bare handler that keeps each message's raw bytes,
for an aiosmtpd server set up another way (one that asks for a password). ``FakeTwilio`` is
an HTTP server that answers as Twilio's Messages API does (201 with the message resource, or
Twilio's JSON errors, or no answer at all), so the tests drive the real ``twilio`` client
over a real socket.

Both stand for machines outside the clinic: their own logs are not the app's, and they
never write to the ``werkzeug`` logger (which would add a handler to the process).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from clinic.extensions import mail
from tests.support.live import free_port

# The logger aiosmtpd writes every SMTP line to (addresses included): the "remote" server's.
SMTP_SERVER_LOGGER = "mail.log"


# --- SMTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message as the SMTP server took it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, _server, session, envelope, address, _rcpt_options):
        with self.server.lock:
            self.server.sessions_used.add(session)
        refusal = self.server.refuse_recipients.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server, _session, envelope):
        if self.server.refuse_data is not None:
            return self.server.refuse_data
        if self.server.delay:
            await asyncio.sleep(self.server.delay)  # a slower server: workers overlap longer
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.received.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), message)
            )
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, _server, session, _envelope):
        with self.server.lock:
            self.server.sessions_quit.add(session)
        return "221 Bye"


class SmtpServer:
    """An SMTP server on 127.0.0.1 that can go down and come back on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        # address (lower case) -> the reply to RCPT TO, e.g. "550 5.1.1 <a@b>: user unknown"
        self.refuse_recipients: dict[str, str] = {}
        # a reply to DATA instead of "250", e.g. "451 4.3.0 try again later"
        self.refuse_data: str | None = None
        self.delay = 0.0  # seconds before accepting each message
        # SMTP sessions that named a recipient, and those the client ended with QUIT.
        self.sessions_used: set = set()
        self.sessions_quit: set = set()
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpServer:
        if self._controller is None:
            # A new controller each time: the old one's loop and thread are gone.
            controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, address: str, reply: str) -> None:
        self.refuse_recipients[address.lower()] = reply

    def messages_to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]

    def sessions_left_open(self) -> int:
        """Sessions a client began (up to RCPT TO) and never ended with QUIT."""
        with self.lock:
            return len(self.sessions_used - self.sessions_quit)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()


@contextlib.contextmanager
def smtp_server(*, running: bool = True) -> Iterator[SmtpServer]:
    """An SMTP server for the block; ``running=False`` reserves its port but leaves it down."""
    server = SmtpServer()
    if running:
        server.start()
    try:
        yield server
    finally:
        server.stop()


def use_smtp(app: Flask, server: SmtpServer, *, timeout: int = 2) -> None:
    """Point the app's e-mail at ``server``: plain SMTP on loopback, no login."""
    use_smtp_port(app, server.port, MAIL_TIMEOUT=timeout)


def use_smtp_port(app: Flask, port: int, **settings) -> None:
    """Point the app's e-mail at ``port`` on loopback: plain SMTP, no login, unless
    ``settings`` (Flask-Mailman's) say otherwise."""
    app.config.update(
        {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_USE_TLS": False,
            "MAIL_USE_SSL": False,
            "MAIL_USERNAME": None,
            "MAIL_PASSWORD": None,
            "MAIL_TIMEOUT": 2,
            "MAIL_DEFAULT_SENDER": "clinic@clinic.test",
            **settings,
        }
    )
    # Flask-Mailman copies the settings when the app is made: copy them again.
    mail.init_app(app)


class Inbox:
    """An aiosmtpd handler keeping (envelope sender, recipients, raw message)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, _server, _session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[bytes]:
        return [raw for _sender, rcpts, raw in self.received if address in rcpts]


def smtp_environment(server: SmtpServer) -> dict[str, str]:
    """The same settings for a worker process, as environment variables."""
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(server.port),
        "MAIL_USE_TLS": "0",
        "MAIL_USE_SSL": "0",
        "MAIL_TIMEOUT": "5",
        "MAIL_DEFAULT_SENDER": "clinic@clinic.test",
    }


# --- Twilio's Messages API -------------------------------------------------------------------

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "f" * 8 + secrets.token_hex(12)
TWILIO_FROM = "+14155550100"
_MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


@dataclass(frozen=True)
class Reply:
    """How the fake answers one request."""

    status: int = 201
    error_code: int | None = None
    error_message: str | None = None  # may name the recipient: "{to}"
    stall: float = 0.0  # seconds before answering at all

    @classmethod
    def created(cls) -> Reply:
        return cls()

    @classmethod
    def error(cls, status: int, code: int, message: str) -> Reply:
        return cls(status, code, message)

    @classmethod
    def invalid_number(cls) -> Reply:
        return cls.error(400, 21211, "The 'To' number {to} is not a valid phone number.")

    @classmethod
    def server_error(cls) -> Reply:
        return cls.error(500, 20500, "Internal Server Error")

    @classmethod
    def too_many_requests(cls) -> Reply:
        return cls.error(429, 20429, "Too Many Requests")

    @classmethod
    def stalled(cls, seconds: float) -> Reply:
        return cls(stall=seconds)


@dataclass(frozen=True)
class SmsRequest:
    """One request as the fake received it."""

    method: str
    path: str
    form: dict[str, str]
    username: str | None
    password: str | None
    content_type: str


@dataclass
class FakeTwilio:
    """Answers ``POST /2010-04-01/Accounts/<sid>/Messages.json`` as Twilio does."""

    sid: str = TWILIO_SID
    token: str = TWILIO_TOKEN
    port: int = field(default_factory=free_port)
    requests: list[SmsRequest] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)  # the message resources it answered 201 with

    def __post_init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, *replies: Reply) -> None:
        """The next requests get these replies, in order; after them, 201 again."""
        with self._lock:
            self._replies.extend(replies)

    def start(self) -> FakeTwilio:
        self._release.clear()
        self._server = make_server(
            "127.0.0.1",
            self.port,
            self._wsgi,
            threaded=True,
            request_handler=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let stalled answers go, so no thread outlives the test for long
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    # The API ---------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        response = self._respond(request)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        form = {key: values[-1] for key, values in parse_qs(request.get_data(as_text=True)).items()}
        auth = request.authorization
        with self._lock:
            self.requests.append(
                SmsRequest(
                    request.method,
                    request.path,
                    form,
                    auth.username if auth else None,
                    auth.password if auth else None,
                    request.content_type or "",
                )
            )
            reply = self._replies.popleft() if self._replies else Reply.created()
        if reply.stall:
            self._release.wait(reply.stall)
        if not auth or (auth.username, auth.password) != (self.sid, self.token):
            return _error(401, 20003, "Authenticate")
        if request.method != "POST" or request.path != (
            f"/2010-04-01/Accounts/{self.sid}/Messages.json"
        ):
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        if not form.get("To"):
            return _error(400, 21604, "A 'To' phone number is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        if reply.error_code is not None:
            message = (reply.error_message or "").format(to=form["To"])
            return _error(reply.status, reply.error_code, message)
        resource = self._resource(form)
        with self._lock:
            self.sent.append(resource)
        return Response(json.dumps(resource), status=201, content_type="application/json")

    def _resource(self, form: dict[str, str]) -> dict:
        message_sid = "SM" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        uri = f"/2010-04-01/Accounts/{self.sid}/Messages/{message_sid}"
        return {
            "account_sid": self.sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(1 + len(form["Body"]) // 160),
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": form["To"],
            "uri": f"{uri}.json",
        }


def _error(status: int, code: int, message: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": _MORE_INFO.format(code=code),
        "status": status,
    }
    return Response(json.dumps(body), status=status, content_type="application/json")


class _QuietHandler(WSGIRequestHandler):
    def log(self, *_args) -> None:
        pass


@contextlib.contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    server = FakeTwilio().start()
    try:
        yield server
    finally:
        server.stop()


def use_twilio(app: Flask, server: FakeTwilio, *, timeout: int = 1) -> None:
    """Point the app's text messages at the fake Messages API."""
    app.config.update(
        TWILIO_ACCOUNT_SID=server.sid,
        TWILIO_AUTH_TOKEN=server.token,
        TWILIO_FROM=TWILIO_FROM,
        TWILIO_API_URL=server.url,
        TWILIO_TIMEOUT=timeout,
    )
