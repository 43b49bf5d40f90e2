"""The ``flask`` commands: ``create-staff`` (``staff``), ``seed-demo`` (``demo``), ``outbox run``
and ``reminders`` (``messages``), ``offers sweep`` (``offers``), ``backup`` and ``restore``
(``backup``), ``keys generate|rotate|reindex`` (``keys``), ``privacy purge`` (``privacy``).

Commands are an edge, like the web: they read their options, call the use cases with the rules
and the clock from ``clinic.settings``, and print the outcome. May import every capability;
never the web.
"""

from __future__ import annotations

from flask import Flask

from clinic.commands import backup, demo, keys, messages, offers, privacy, staff


def init_app(app: Flask) -> None:
    app.cli.add_command(staff.create_staff)
    app.cli.add_command(demo.seed_demo)
    app.cli.add_command(messages.outbox_group)
    app.cli.add_command(messages.reminders)
    app.cli.add_command(offers.offers_group)
    app.cli.add_command(backup.backup_command)
    app.cli.add_command(backup.restore_command)
    app.cli.add_command(keys.keys_group)
    app.cli.add_command(privacy.privacy_group)
