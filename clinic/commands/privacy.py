"""``flask privacy purge``: erase the personal data of every youth past the retention period
(``RETENTION_YEARS`` without an appointment or a list place; ``clinic.records.privacy``),
keeping the anonymous facts the reports count. For cron, nightly (README, "Retention"):
batches commit one by one, so the clinic keeps booking while it runs, and a second run finds
nothing to do."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app

from clinic import settings
from clinic.records import privacy


@click.group("privacy")
def privacy_group() -> None:
    """Retention: erasing the personal data the clinic no longer needs."""


@privacy_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Count the youth due, erase nothing.")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    default=None,
    help="A cutoff this many days back instead of RETENTION_YEARS (for trials and measures).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1, max=10_000),
    default=privacy.PURGE_BATCH,
    show_default=True,
    help="Youth erased per transaction.",
)
def purge_command(dry_run: bool, older_than_days: int | None, batch_size: int) -> None:
    """Erase the personal data of the youth past the retention period."""
    rules = settings.current_rules()
    now = settings.clinic_now(rules)
    today = now.date()
    if older_than_days is None:
        years = current_app.config["RETENTION_YEARS"]
        cutoff = privacy.retention_cutoff(today, years)
        rule = f"no appointment or list place since {cutoff.isoformat()} ({years} years)"
    else:
        cutoff = today - timedelta(days=older_than_days)
        rule = f"no appointment or list place since {cutoff.isoformat()} ({older_than_days} days)"
    due = privacy.due_youth(cutoff)
    if not due:
        click.echo(f"Nothing to purge: no youth record is due ({rule}).")
        return
    if dry_run:
        click.echo(f"{len(due)} youth records are due ({rule}). Dry run: nothing erased.")
        return
    with click.progressbar(length=len(due), label="Erasing", show_pos=True) as bar:
        report = privacy.purge(cutoff, now, batch_size=batch_size, due=due, on_batch=bar.update)
    done = report.done
    click.echo(
        f"Purged {done.youth} youth records ({rule}) in {report.seconds:.1f} s: "
        f"{done.appointments} appointments kept anonymous, {done.messages} messages cleared, "
        f"{done.links} links deleted."
    )
    if done.youth < report.due:
        click.echo(f"{report.due - done.youth} became active meanwhile and were kept.")
