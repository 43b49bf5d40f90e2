"""``flask outbox run`` (once for cron, or ``--loop`` as a service) and ``flask reminders``."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import click

from clinic import settings
from clinic.booking import offers
from clinic.messaging import outbox, transports, worker

# How often the loop also sweeps the seat offers (lapses them, offers free seats): offers are
# held for hours, so half a minute late is nothing, and the sweep's reads and writes are not
# repeated at every poll of the outbox.
SWEEP_SECONDS = 30


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
        worker.run_forever(stopping, before_each_poll=_offer_sweeper())
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


def _offer_sweeper() -> Callable[[datetime], None]:
    """What the loop runs before each look at the outbox: the seat offers' sweep, at most
    every ``SWEEP_SECONDS`` (a lapsed offer passes its seat on, and the messages that causes
    go in the same loop), so that ``make run``, or a clinic running only this service, needs
    no second one (``flask offers sweep --loop`` does the same, and both may run)."""
    next_sweep = 0.0

    def sweep(now: datetime) -> None:
        nonlocal next_sweep
        if time.monotonic() < next_sweep:
            return
        next_sweep = time.monotonic() + SWEEP_SECONDS
        rules = settings.current_rules()
        offers.sweep(rules, now.astimezone(rules.zone))

    return sweep
