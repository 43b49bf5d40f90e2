"""The clinic's rules as pure functions over plain values, by topic: ``calendar`` (clinic days
and slots), ``eligibility`` (the booking window, the age and guardian rules, phone numbers),
``visits`` (a visit's states and moves, the queue), ``schedule`` (bookings a change strands),
``messages`` (reminder timing, retry backoff, the channel) and ``policy`` (every setting
gathered in ``ClinicRules``).

May import: the standard library and dateutil only. No Flask, no SQLAlchemy, nothing else of
the app, and no clock: callers pass ``today`` / ``now`` and the settings, so every rule is
tested with a parametrized table and no app (``mypy --strict`` checks this folder).
"""
