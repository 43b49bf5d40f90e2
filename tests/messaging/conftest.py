"""What the messaging tests share: servers on loopback for the worker to deliver to (an SMTP
server, one that keeps raw bytes, and a fake of Twilio's Messages API), and the settings of
the delivery tests (``messages_only``). The recording senders are the root ``sent`` fixture."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from tests.support.delivery import ADDRESS
from tests.support.live import free_port
from tests.support.mailservers import (
    Inbox,
    fake_twilio,
    smtp_server,
    use_smtp,
    use_smtp_port,
    use_twilio,
)


@pytest.fixture
def messages_only(app):
    """Only the confirmations the tests book, and a clinic number that is not the youth's
    (intake_data's phone is the default clinic number: a log check must tell them apart)."""
    app.config.update(
        REMINDER_EARLY_AT="",
        REMINDER_SAME_DAY_AT="",
        CLINIC_PHONE="(415) 555-0111",
        CLINIC_ADDRESS=ADDRESS,
        OUTBOX_RETRY_BASE_SECONDS=60,
        OUTBOX_RETRY_CAP_SECONDS=3600,
    )


@pytest.fixture
def smtp(app):
    with smtp_server() as server:
        use_smtp(app, server)
        yield server


@pytest.fixture
def smtp_down(app):
    """E-mail configured, but its server is not running (its port is kept for it)."""
    with smtp_server(running=False) as server:
        use_smtp(app, server)
        yield server


@pytest.fixture
def inbox(app):
    """E-mail to a bare SMTP server that keeps each message's raw bytes (``Inbox``)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    use_smtp_port(app, controller.port)
    yield inbox
    controller.stop()


@pytest.fixture
def twilio(app):
    with fake_twilio() as server:
        use_twilio(app, server)
        yield server
