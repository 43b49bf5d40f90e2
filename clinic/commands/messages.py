"""``flask outbox run`` (once for cron, or ``--loop`` as a service) and ``flask reminders``."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime

import click

from clinic.messaging import outbox, transports, worker


@click.group("outbox")
def outbox_group() -> None:
    """Send the messages waiting in the outbox."""


@outbox_group.command("run")
@click.option("--loop", is_flag=True, help="Keep running (as a service) instead of once.")
def outbox_run(loop: bool) -> None:
    """Send every message that is due, once (for cron) or --loop as a service.

    Several can run at once, on one server or many: each claims different messages.
    """
    missing = {"email", "sms"} - set(transports.configured_channels())
    for channel in sorted(missing):
        click.echo(f"No {channel} provider configured: those messages stay queued.", err=True)
    if loop:
        stopping = threading.Event()

        def stop(_signal, _frame) -> None:
            # Finish the message in hand rather than leave it claimed until the claim expires.
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo("Outbox worker running; stop it with Ctrl-C or SIGTERM.")
        worker.run_forever(stopping)
        click.echo("Outbox worker stopped.")
        return
    report = worker.run_once()
    click.echo(
        f"{report.sent} sent, {report.retried} to retry, {report.dead} dead, "
        f"{report.skipped} no longer needed."
    )


@click.command("reminders")
def reminders() -> None:
    """Schedule the reminders of the coming days' appointments (safe to run repeatedly)."""
    added = outbox.schedule_reminders(datetime.now(UTC))
    click.echo(f"{added} reminders scheduled.")
