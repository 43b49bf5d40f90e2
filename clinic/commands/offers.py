"""``flask offers sweep``: lapse the seat offers past their deadline (each seat passed to the
next person), close the standby lists of days gone by, and offer the free seats of the
booking window to the people waiting. Once (for cron, every minute or so), or ``--loop`` as a
service. Safe to run in several places at once: each offer is made and lapsed once."""

from __future__ import annotations

import signal
import threading

import click

from clinic import settings
from clinic.booking import offers

# Offers are held for hours and lapse at a minute's precision at most: a minute is enough.
LOOP_SECONDS = 60


@click.group("offers")
def offers_group() -> None:
    """Seats offered to the standby and waiting lists."""


@offers_group.command("sweep")
@click.option("--loop", is_flag=True, help="Keep running (as a service) instead of once.")
@click.option(
    "--every", default=LOOP_SECONDS, show_default=True, help="Seconds between sweeps (--loop)."
)
def offers_sweep(loop: bool, every: int) -> None:
    """Lapse due offers, passing their seats on, then offer every free seat in the window."""
    if not loop:
        _sweep_once()
        return
    stopping = threading.Event()

    def stop(_signal, _frame) -> None:
        stopping.set()  # finish the sweep in hand: each step is its own transaction anyway

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo("Offer sweep running; stop it with Ctrl-C or SIGTERM.")
    while not stopping.is_set():
        _sweep_once()
        stopping.wait(max(1, every))
    click.echo("Offer sweep stopped.")


def _sweep_once() -> None:
    rules = settings.current_rules()
    swept = offers.sweep_counts(rules, settings.clinic_now(rules))
    click.echo(
        f"{swept.lapsed} offers lapsed, {swept.offered} seats offered, "
        f"{swept.closed} standby entries closed."
    )
