"""``flask privacy purge``: what it prints, a dry run, batches, a shorter cutoff for trials,
and a second run that finds nothing to do."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from clinic.extensions import db
from clinic.models import Youth
from tests.conftest import NEXT_DAY
from tests.records.test_privacy import PHONE, add_visit, add_youth, purge


def test_a_second_purge_does_nothing(app, runner):
    youth_id = add_youth()
    add_visit(youth_id, date(2021, 5, 25))
    assert purge().done.youth == 1
    second = purge()
    assert (second.due, second.done.youth) == (0, 0)
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "Nothing to purge" in result.output


def test_the_command_reports_what_it_did(app, runner):
    for _ in range(3):
        youth_id = add_youth()
        add_visit(youth_id, date(2021, 5, 25))
    add_visit(add_youth(), NEXT_DAY, "booked")

    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "3 youth records are due" in dry.output
    assert db.session.scalar(select(func.count()).where(Youth.purged_at.is_not(None))) == 0

    result = runner.invoke(args=["privacy", "purge", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "Purged 3 youth records" in result.output
    assert "3 appointments kept anonymous, 6 messages cleared, 3 links deleted" in result.output
    assert db.session.scalar(select(func.count()).where(Youth.purged_at.is_not(None))) == 3
    # Nothing personal in what it prints.
    assert "Flores" not in result.output and PHONE not in result.output

    # A shorter cutoff, for trials: the booked youth's record is recent, so none is due.
    shorter = runner.invoke(args=["privacy", "purge", "--older-than-days", "30"])
    assert "Nothing to purge" in shorter.output
