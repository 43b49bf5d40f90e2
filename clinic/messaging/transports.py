"""Sending one message: e-mail over SMTP (Flask-Mailman) and text messages through Twilio.

Each sender raises ``TemporaryFailure`` (try again later: the server is down, a timeout, a
4xx) or ``PermanentFailure`` (retrying cannot help: the address is refused, the number is not
a mobile). Their reasons are for staff and logs, so any address in a provider's error text
is scrubbed out first.

In development only, ``LETTERBOX_DIR`` (``instance/letterbox``) stands in for both: each
e-mail and text is written there as a text file, so whoever tries the app from a fresh clone
reads the messages and opens their links without a mail server or a Twilio account. The app
refuses to start in production with it set (it writes contacts and links to disk).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import smtplib
from datetime import UTC, datetime
from email.utils import make_msgid, parseaddr
from pathlib import Path

import requests
from flask import current_app
from flask_mailman import EmailMultiAlternatives
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from clinic.extensions import mail


class DeliveryFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:200]


class TemporaryFailure(DeliveryFailure):
    pass


class PermanentFailure(DeliveryFailure):
    pass


_EMAIL = re.compile(r"[^\s<>\"']+@[^\s<>\"']+")
# A run of digits and phone punctuation; it is a number if it holds ten digits or more (so
# status codes such as "550 5.1.1" or "400 (21211" stay readable).
_DIGITS = re.compile(r"\(?\+?\d[\d\s().-]{8,}\d")


def _phone_number(match: re.Match[str]) -> str:
    text = match.group()
    return "[number]" if sum(ch.isdigit() for ch in text) >= 10 else text


def scrub(text: str, *addresses: str | None) -> str:
    """``text`` with the given addresses, and anything that looks like an e-mail address or a
    phone number, replaced: provider errors often quote the recipient."""
    for address in addresses:
        if address:
            text = text.replace(address, "[recipient]")
    text = _EMAIL.sub("[address]", text)
    return _DIGITS.sub(_phone_number, text)


def letterbox() -> Path | None:
    """Where messages are written instead of sent (development), if anywhere."""
    folder = current_app.config.get("LETTERBOX_DIR")
    return Path(folder) if folder else None


def email_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER")) or letterbox() is not None


def sms_configured() -> bool:
    config = current_app.config
    twilio = all(
        config.get(key) for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
    )
    return twilio or letterbox() is not None


def configured_channels() -> tuple[str, ...]:
    """The channels that can send now; messages for the others wait in the outbox."""
    return tuple(
        channel
        for channel, ready in (("email", email_configured()), ("sms", sms_configured()))
        if ready
    )


# --- E-mail ------------------------------------------------------------------------------


def sender_address() -> str:
    """The From address without its display name: "clinic@example.org"."""
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


def sender_domain() -> str:
    """The domain of the From address ("Clinic <clinic@example.org>" -> "example.org"), for
    Message-IDs and calendar UIDs."""
    return sender_address().rpartition("@")[2] or "localhost"


def send_email(
    to: str,
    subject: str,
    text: str,
    html: str,
    attachment: tuple[str, bytes, str] | None = None,
) -> str:
    """Send one e-mail with a plain-text and an HTML body; returns its Message-ID."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    message_id = make_msgid(domain=sender_domain())
    folder = letterbox()
    if folder is not None:
        names = [attachment[0]] if attachment is not None else []
        return _post(folder, "email", to, subject=subject, body=text, attachments=names)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender, to=[to], headers={"Message-ID": message_id}
    )
    message.attach_alternative(html, "text/html")
    if attachment is not None:
        message.attach(*attachment)
    connection = mail.get_connection(fail_silently=False)
    try:
        connection.open()
        connection.send_messages([message])
    except smtplib.SMTPRecipientsRefused as error:
        codes = sorted({code for code, _ in error.recipients.values()})
        raise _by_code(codes[0] if codes else 550, "recipient refused") from None
    except smtplib.SMTPDataError as error:
        # The message itself refused for this recipient: 5xx for good, 4xx for now.
        raise _by_code(error.smtp_code, scrub(_text_of(error), to)) from None
    except smtplib.SMTPResponseException as error:
        # The clinic's side: a refused sign-in or sender, a server saying no at the door.
        # Retried (and shown to staff), never fatal to every message at once.
        reason = f"SMTP {error.smtp_code}: {scrub(_text_of(error), to)}"
        raise TemporaryFailure(reason) from None
    except (smtplib.SMTPException, OSError, ValueError) as error:
        # Refused connections, timeouts, a server that hung up, TLS and SSL both set.
        raise TemporaryFailure(f"SMTP: {type(error).__name__}") from None
    finally:
        # Closed (QUIT) whatever happened: Flask-Mailman closes only after a successful
        # send, and a worker running for days would leak a socket per refusal.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.close()
    return message_id


def _text_of(error: smtplib.SMTPResponseException) -> str:
    detail = error.smtp_error
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


def _by_code(code: int, detail: str) -> DeliveryFailure:
    reason = f"SMTP {code}: {detail}"
    return PermanentFailure(reason) if 500 <= code < 600 else TemporaryFailure(reason)


# --- Text messages -----------------------------------------------------------------------

# Twilio errors that mean this number will never take a text: not a valid number, not a
# mobile, unsubscribed (STOP), unreachable, a region not allowed.
RECIPIENT_REFUSED = frozenset(
    {21211, 21214, 21217, 21401, 21407, 21408, 21421, 21604, 21610, 21612, 21614}
)

# The Twilio client logs each request at INFO, with its parameters: never let it.
_quiet = logging.getLogger(f"{__name__}.twilio")
_quiet.setLevel(logging.WARNING)
_quiet.propagate = False


def _twilio() -> Client:
    config = current_app.config
    client = Client(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_AUTH_TOKEN"],
        http_client=TwilioHttpClient(timeout=config["TWILIO_TIMEOUT"], logger=_quiet),
    )
    client.api.base_url = config["TWILIO_API_URL"]
    return client


def send_sms(to: str, body: str) -> str:
    """Send one text message through Twilio's Messages API; returns Twilio's message SID."""
    # U+202F (Babel's space before AM/PM) would make it a costlier UCS-2 text.
    body = body.replace("\u202f", " ")
    folder = letterbox()
    if folder is not None:
        return _post(folder, "sms", to, body=body)
    sender = current_app.config["TWILIO_FROM"]
    origin = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
    try:
        sent = _twilio().messages.create(to=to, body=body, **origin)
    except TwilioRestException as error:
        reason = scrub(f"Twilio error {error.code} (HTTP {error.status}): {error.msg}", to)
        # Only a refusal of the number is for good; the clinic's side (a rotated token, a
        # suspended account, a bad sender) and Twilio's (429, 5xx) are retried.
        if error.code in RECIPIENT_REFUSED:
            raise PermanentFailure(reason) from None
        raise TemporaryFailure(reason) from None
    except (requests.RequestException, TwilioException, OSError) as error:
        raise TemporaryFailure(f"Twilio: {type(error).__name__}") from None
    return sent.sid or ""


# --- The development letterbox -------------------------------------------------------------


def _post(
    folder: Path,
    channel: str,
    to: str,
    *,
    body: str,
    subject: str | None = None,
    attachments: list[str] | None = None,
) -> str:
    """Write one message into the letterbox as a text file named by when it was sent;
    returns the file's name as the message's reference."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{channel}-{secrets.token_hex(3)}.txt"
    lines = [f"To: {to}"]
    if subject is not None:
        lines.append(f"Subject: {subject}")
    if attachments:
        lines.append(f"Attachments: {', '.join(attachments)}")
    content = "\n".join([*lines, "", body, ""])
    # Written aside, then renamed: whoever watches the folder never reads half a message.
    partial = folder / f".{name}.partial"
    partial.write_text(content, encoding="utf-8")
    os.replace(partial, folder / name)
    return name
